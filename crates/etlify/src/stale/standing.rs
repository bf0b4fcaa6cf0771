//! Where the records of one (model, CRM) stand with the CRM, as
//! `Etlify::status` counts them: every record in scope in exactly one
//! class, so the counts add up to the records in scope. Stale is the
//! finder's own condition (`finder.rs`, [`FinderSql::standing`]), not a
//! second copy of it.
//!
//! [`count`] classes every record: its cost grows with the table (5.6 s
//! at 1M users on SQLite). [`count_since_checkpoint`], for the metrics,
//! classes by the same query only the records a batch run from the last
//! checkpoint would look at, and counts the rest as in sync, as that run
//! does.

use super::candidates::Candidates;
use super::finder::{FinderSql, Reach};
use crate::context::Context;
use crate::error::{ConfigError, Result};
use crate::store::checkpoint::{self, one_id};
use crate::store::Timestamp;

/// The classes of [`FinderSql::standing`], in the order they are tried:
/// a record is in the first that holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// Its errors reached the CRM's error budget (`error_count >=
    /// max_sync_errors`): left alone until they are reset (G-16).
    OverBudget = 0,
    /// Its last sync failed, under the budget (`error_count > 0`).
    Failing = 1,
    /// Waiting for a sync dependency to reach the CRM (G-18).
    Waiting = 2,
    /// No sync row for the CRM.
    NeverSynced = 3,
    /// A sync row without errors, changed since its last sync (the
    /// finder's condition).
    Stale = 4,
    /// A sync row without errors, unchanged since its last sync.
    InSync = 5,
}

impl Standing {
    const ALL: [Standing; 6] = [
        Standing::OverBudget,
        Standing::Failing,
        Standing::Waiting,
        Standing::NeverSynced,
        Standing::Stale,
        Standing::InSync,
    ];

    /// The class whose code (its discriminant) the query gave.
    fn of_code(code: i64) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|standing| *standing as i64 == code)
    }
}

/// Ids classed per statement by [`count_since_checkpoint`]. PostgreSQL
/// estimates each id at the cost of its dependency subqueries: a page of
/// 1,000 ids (three dependencies) was estimated above the default
/// `jit_above_cost`, and compiling it took 98 ms of the 150 ms it ran
/// (`EXPLAIN ANALYZE` at 100k users); 500 ran in 7 to 11 ms.
const IDS_PER_STATEMENT: usize = 250;

/// How many records of one (model, CRM) stand where.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StandingCounts {
    pub in_sync: u64,
    pub stale: u64,
    pub never_synced: u64,
    pub failing: u64,
    pub over_budget: u64,
    pub waiting: u64,
    /// The newest `last_synced_at` among the records in scope.
    pub last_synced_at: Option<Timestamp>,
}

/// The finder queries of `model` with `crm`.
fn finder<'a>(ctx: &'a Context, crm: &'a str, model: &str) -> Result<FinderSql<'a>> {
    let catalog = ctx.catalog();
    let (resolved, _) = catalog.binding(crm, model)?;
    FinderSql::new(
        ctx.store().dialect(),
        resolved,
        crm,
        catalog.max_sync_errors(crm),
    )
    .ok_or_else(|| {
        ConfigError::new(
            format!("models.{model}.crms"),
            crm,
            "is not a CRM this model is bound to",
        )
        .into()
    })
}

/// Counts where the records of `model` stand with `crm`, in one statement.
pub(crate) async fn count(ctx: &Context, crm: &str, model: &str) -> Result<StandingCounts> {
    let finder = finder(ctx, crm, model)?;
    let mut counts = StandingCounts::default();
    add(ctx, &finder.standing(), &mut counts).await?;
    Ok(counts)
}

/// Counts where the records of `model` stand with `crm` from the last
/// batch run's checkpoint, when one applies (`Checkpoint::applies`, as a
/// run decides): the records a run from it would look at — changed since
/// it, failing or over the budget, waiting, above its highest id — are
/// classed by [`FinderSql::standing`]'s query, a page of ids at a time,
/// and every other record in scope is in sync, as such a run takes it to
/// be. Its cost is what changed since the checkpoint plus one count of
/// the table in scope; `last_synced_at` is the newest among the records
/// classed only. `None` without a checkpoint that applies (or with an
/// error budget of zero).
pub(crate) async fn count_since_checkpoint(
    ctx: &Context,
    crm: &str,
    model: &str,
) -> Result<Option<StandingCounts>> {
    // With a budget of zero, every record with a sync row is over it,
    // error or not: no index finds them, so the whole table is classed.
    if ctx.catalog().max_sync_errors(crm) == 0 {
        return Ok(None);
    }
    let store = ctx.store();
    let finder = finder(ctx, crm, model)?;
    let Some(checkpoint) = checkpoint::load(store, crm, model).await? else {
        return Ok(None);
    };
    let lowest_synced_now = one_id(store, &finder.lowest_synced_id()).await?;
    let interval = ctx.catalog().settings().complete_check_interval;
    if !checkpoint.applies(
        &finder.fingerprint(),
        store.now().await?,
        interval,
        &lowest_synced_now,
    ) {
        return Ok(None);
    }
    let looked_at = finder.changed_candidates(
        Reach::SinceCheckpoint,
        Some(checkpoint.changes_through),
        false,
    );
    let mut candidates = Candidates::read(store, &looked_at).await?;
    let mut counts = StandingCounts::default();
    loop {
        let page = candidates.take_lowest(IDS_PER_STATEMENT);
        if page.is_empty() {
            break;
        }
        let statement = finder.standing_of(&page, checkpoint.ids_through.clone());
        add(ctx, &statement, &mut counts).await?;
    }
    add(
        ctx,
        &finder.standing_above(checkpoint.ids_through),
        &mut counts,
    )
    .await?;
    let (sql, values) = store.build(&finder.in_scope_count());
    let rows: Vec<(i64,)> = store.fetch_all(sql, values).await?;
    let in_scope = rows
        .first()
        .map_or(0, |(records,)| u64::try_from(*records).unwrap_or(0));
    let classed =
        counts.stale + counts.never_synced + counts.failing + counts.over_budget + counts.waiting;
    counts.in_sync = in_scope.saturating_sub(classed);
    Ok(Some(counts))
}

/// Adds the rows of a [`FinderSql::standing`] query to `counts`.
async fn add(
    ctx: &Context,
    statement: &sea_query::SelectStatement,
    counts: &mut StandingCounts,
) -> Result<()> {
    let (sql, values) = ctx.store().build(statement);
    let rows: Vec<(i64, i64, Option<Timestamp>)> = ctx.store().fetch_all(sql, values).await?;
    for (standing, records, last_synced_at) in rows {
        let records = u64::try_from(records).unwrap_or(0);
        let class = match Standing::of_code(standing) {
            Some(Standing::OverBudget) => &mut counts.over_budget,
            Some(Standing::Failing) => &mut counts.failing,
            Some(Standing::Waiting) => &mut counts.waiting,
            Some(Standing::NeverSynced) => &mut counts.never_synced,
            Some(Standing::Stale) => &mut counts.stale,
            Some(Standing::InSync) => &mut counts.in_sync,
            // Broken invariant: the query's CASE yields only these codes.
            None => unreachable!("standing code {standing} from the standing query"),
        };
        *class += records;
        counts.last_synced_at = counts.last_synced_at.max(last_synced_at);
    }
    Ok(())
}
