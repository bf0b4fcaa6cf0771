//! Where a batch run of one (model, CRM) starts looking, and the
//! checkpoint it leaves when it goes to the end (`store/checkpoint.rs`).
//!
//! Before anything is read, the run takes the time through which every
//! change is visible (`Store::changes_visible_through`, with the commit
//! margin, as `last_synced_at` is taken: X-1) and the table's highest
//! id. With a checkpoint of the same finder queries and a complete run
//! less than `Config::complete_check_interval` ago, and the same lowest id
//! with a sync row as when it was saved (sync rows deleted wholesale read
//! the whole table again), it looks only at what changed since
//! (`Reach::SinceCheckpoint`); otherwise it reads the whole table
//! (`Reach::Complete`). Either way, a run that went to the end
//! saves those two values as the next run's checkpoint. A run cut short,
//! or one that left records (held by another sync, or in doubt: a lost
//! create, with no sync state written) saves nothing: the next one starts
//! from the same place.

use sea_query::SelectStatement;

use crate::context::Context;
use crate::error::Result;
use crate::stale::pages::StaleIds;
use crate::store::checkpoint::{self, one_id, Checkpoint};
use crate::store::Timestamp;

/// A started run: the checkpoint it leaves if it goes to the end.
#[derive(Debug)]
pub(crate) struct Started {
    /// The checkpoint's time the run looks at changes since; `None` when
    /// it reads the whole table (a complete check).
    since: Option<Timestamp>,
    /// Whether the binding had no synced record when the run began.
    first_sync: bool,
    crm: String,
    model: String,
    lowest_synced_id: SelectStatement,
    next: Checkpoint,
}

/// Decides how far back `pages` looks and returns them with the run's
/// checkpoint-to-be. `complete` asks for a complete run whatever the
/// checkpoint.
pub(crate) async fn start<'a>(
    ctx: &'a Context,
    pages: StaleIds<'a>,
    crm: &str,
    model: &str,
    complete: bool,
) -> Result<(StaleIds<'a>, Started)> {
    let store = ctx.store();
    let settings = ctx.catalog().settings();
    let at = store
        .changes_visible_through(settings.commit_margin)
        .await?;
    let ids_through = one_id(store, &pages.finder().highest_id()).await?;
    let lowest_synced_id = pages.finder().lowest_synced_id();
    let finder = pages.finder().fingerprint();
    let previous = checkpoint::load(store, crm, model).await?;
    let lowest_synced_now = one_id(store, &lowest_synced_id).await?;
    let usable = match previous {
        Some(previous)
            if !complete
                && pages.can_start_since()
                && previous.applies(
                    &finder,
                    at,
                    settings.complete_check_interval,
                    &lowest_synced_now,
                ) =>
        {
            Some(previous)
        }
        _ => None,
    };
    let since = usable.as_ref().map(|previous| previous.changes_through);
    let (pages, complete_at) = match usable {
        Some(previous) => {
            tracing::debug!(
                message = "Looking at what changed since the last run.",
                crm,
                model,
                changes_through = %previous.changes_through,
            );
            (
                pages.since_checkpoint(previous.changes_through, previous.ids_through),
                previous.complete_at,
            )
        }
        None => (pages, at),
    };
    let started = Started {
        since,
        first_sync: lowest_synced_now.is_none(),
        crm: crm.to_owned(),
        model: model.to_owned(),
        lowest_synced_id,
        next: Checkpoint {
            finder,
            changes_through: at,
            ids_through,
            lowest_synced_id: None,
            complete_at,
        },
    };
    Ok((pages, started))
}

impl Started {
    /// The time the run looks at changes since (its checkpoint's), or
    /// `None` for a complete check, which reads the whole table (and looks
    /// for rows deleted from it).
    pub(crate) fn since(&self) -> Option<Timestamp> {
        self.since
    }

    /// Whether the binding had no synced record when the run began (its
    /// first sync): no object of its can have left the application yet.
    pub(crate) fn is_first_sync(&self) -> bool {
        self.first_sync
    }

    /// Saves the checkpoint: call once the run went to the end.
    pub(crate) async fn finish(mut self, ctx: &Context) -> Result<()> {
        let store = ctx.store();
        self.next.lowest_synced_id = one_id(store, &self.lowest_synced_id).await?;
        checkpoint::save(store, &self.crm, &self.model, &self.next).await
    }
}
