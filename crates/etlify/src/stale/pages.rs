//! Running the finder page by page: the paging state machine.
//!
//! Pages are ascending by primary key across the whole run, as the gem's
//! `find_in_batches` returns them, whatever the plan: the changed-since plan
//! reads two ascending runs (changed records with a sync row, records
//! without one) and merges them. Memory: the ids of two pages, and the
//! changed records' candidates in a compressed set (`candidates.rs`: two
//! bytes per candidate, or one bit per id of their range where they are
//! dense).
//!
//! Given a checkpoint ([`StaleIds::since`]), the changed-since plan looks
//! only at what changed after it ([`Reach::SinceCheckpoint`]); without one
//! it reads the whole table ([`Reach::Complete`]).

use std::collections::VecDeque;

use sea_query::SelectStatement;

use super::candidates::Candidates;
use super::finder::{FinderPlan, FinderSql, Reach, Selection};
use crate::context::Context;
use crate::error::{ConfigError, Result};
use crate::id::ResourceId;
use crate::store::{Store, Timestamp};

/// Default page size, as the gem's `DEFAULT_BATCH_SIZE`.
pub const DEFAULT_BATCH_SIZE: usize = 1_000;

/// Stale (or, for a full reconcile, all) ids of one (model, CRM), page by
/// page in ascending order; memory: two pages of ids, and the
/// changed-since plan's candidates in a compressed set.
#[derive(Debug)]
pub struct StaleIds<'a> {
    store: &'a Store,
    finder: FinderSql<'a>,
    plan: FinderPlan,
    selection: Selection,
    page_size: u64,
    since: Option<Since>,
    /// A complete run with candidates for more than half the sync rows
    /// reads by the reference plan ([`most_candidates_looked_at`]).
    reference_for_many_candidates: bool,
    state: State,
}

/// A checkpoint's bounds: changes stamped after `changes_through`, and
/// records without a sync row above `ids_through`, are looked at.
#[derive(Debug, Clone)]
struct Since {
    changes_through: Timestamp,
    ids_through: Option<ResourceId>,
}

#[derive(Debug)]
enum State {
    Start,
    /// One query per page (the reference plan, or every record).
    Reference {
        cursor: Option<ResourceId>,
    },
    /// The changed-since plan: two ascending runs merged.
    Merging {
        reach: Reach,
        changed: ChangedRun,
        unsynced: UnsyncedRun,
    },
    Done,
}

/// The ascending run of changed records found stale.
#[derive(Debug)]
struct ChangedRun {
    /// Ids ready to be paged out.
    buffer: VecDeque<ResourceId>,
    /// Candidates not yet checked by the exact predicate (all above the
    /// buffer's ids), all read when the run starts.
    unchecked: Candidates,
}

impl ChangedRun {
    fn of(unchecked: Candidates) -> Self {
        Self {
            buffer: VecDeque::new(),
            unchecked,
        }
    }
}

/// The ascending run of records without a sync row, read a page at a time.
#[derive(Debug, Default)]
struct UnsyncedRun {
    /// Ids ready to be paged out.
    buffer: VecDeque<ResourceId>,
    cursor: Option<ResourceId>,
    /// No more ids to read from the database.
    exhausted: bool,
}

impl<'a> StaleIds<'a> {
    /// The stale ids of `model` for `crm`; unknown names are
    /// configuration errors.
    pub(crate) fn new(
        ctx: &'a Context,
        crm: &str,
        model: &str,
        selection: Selection,
    ) -> Result<Self> {
        let catalog = ctx.catalog();
        let resolved_crm = catalog.crm(crm)?;
        let (resolved, _) = catalog.binding(crm, model)?;
        let finder = FinderSql::new(
            ctx.store().dialect(),
            resolved,
            &resolved_crm.name,
            catalog.max_sync_errors(crm),
        )
        .ok_or_else(|| {
            ConfigError::new(
                format!("models.{model}.crms"),
                crm,
                "is not a CRM this model is bound to",
            )
        })?;
        Ok(Self {
            store: ctx.store(),
            finder,
            plan: FinderPlan::default(),
            selection,
            page_size: DEFAULT_BATCH_SIZE as u64,
            since: None,
            reference_for_many_candidates: true,
            state: State::Start,
        })
    }

    /// Records per page (default 1,000; at least 1).
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1) as u64;
        self
    }

    /// Looks only at what changed since a checkpoint: records stamped (or
    /// with a dependency stamped) after `changes_through`, records without
    /// a sync row above `ids_through`, failing rows and records waiting for
    /// a dependency (`Reach::SinceCheckpoint`). Only the changed-since plan
    /// of stale records uses it. Batch runs take it from their checkpoint
    /// (`store/checkpoint.rs`). Public with the `bench` feature (the
    /// property test starts from a checkpoint of its own).
    #[cfg(feature = "bench")]
    pub fn since(self, changes_through: Timestamp, ids_through: Option<ResourceId>) -> Self {
        self.since_checkpoint(changes_through, ids_through)
    }

    /// [`StaleIds::since`], for batch runs.
    pub(crate) fn since_checkpoint(
        mut self,
        changes_through: Timestamp,
        ids_through: Option<ResourceId>,
    ) -> Self {
        self.since = Some(Since {
            changes_through,
            ids_through,
        });
        self
    }

    /// The queries these pages run.
    pub(crate) fn finder(&self) -> &FinderSql<'a> {
        &self.finder
    }

    /// Whether [`StaleIds::since`] applies: stale records, by the
    /// changed-since plan.
    pub(crate) fn can_start_since(&self) -> bool {
        self.selection == Selection::Stale && self.plan == FinderPlan::ChangedSince
    }

    /// A complete run of the changed-since plan looks at each candidate
    /// in turn however many they are, never switching to the reference
    /// plan (the property test compares both ways with the definition).
    #[cfg(feature = "bench")]
    pub fn look_at_every_candidate(mut self) -> Self {
        self.reference_for_many_candidates = false;
        self
    }

    /// The finder plan (benchmarks and checks, with the `bench` feature;
    /// results are identical).
    #[cfg(feature = "bench")]
    pub fn plan(self, plan: FinderPlan) -> Self {
        self.with_plan(plan)
    }

    /// [`StaleIds::plan`], for batch runs.
    pub(crate) fn with_plan(mut self, plan: FinderPlan) -> Self {
        self.plan = plan;
        self
    }

    /// The next page of ids, or `None` when there are no more.
    pub async fn next_page(&mut self) -> Result<Option<Vec<ResourceId>>> {
        if let State::Start = self.state {
            self.state = match (self.selection, self.plan) {
                (Selection::All, _) | (_, FinderPlan::Reference) => {
                    State::Reference { cursor: None }
                }
                (Selection::Stale, FinderPlan::ChangedSince) => match self.since.clone() {
                    // The watermark reads every sync row of the model
                    // (`last_synced_at` is not indexed: every sync
                    // rewrites it), so only a complete run pays for it.
                    None => self.complete_start().await?,
                    // Exact by the checkpoint's definition: what changed
                    // after `changes_through`.
                    Some(since) => {
                        let candidates = self.finder.changed_candidates(
                            Reach::SinceCheckpoint,
                            Some(since.changes_through),
                            false,
                        );
                        State::Merging {
                            reach: Reach::SinceCheckpoint,
                            changed: ChangedRun::of(
                                Candidates::read(self.store, &candidates).await?,
                            ),
                            unsynced: UnsyncedRun {
                                cursor: since.ids_through,
                                ..UnsyncedRun::default()
                            },
                        }
                    }
                },
            };
        }
        let page = match &mut self.state {
            State::Start | State::Done => None,
            State::Reference { cursor } => {
                let statement =
                    self.finder
                        .reference_page(self.selection, cursor.clone(), self.page_size);
                let ids = ids(fetch(self.store, &statement).await?);
                *cursor = ids.last().cloned();
                let last = (ids.len() as u64) < self.page_size;
                match (ids.is_empty(), last) {
                    (true, _) => None,
                    (false, true) => {
                        self.state = State::Done;
                        Some(ids)
                    }
                    (false, false) => Some(ids),
                }
            }
            State::Merging {
                reach,
                changed,
                unsynced,
            } => {
                let reach = *reach;
                let mut page = Vec::new();
                while (page.len() as u64) < self.page_size {
                    fill_changed(self.store, &self.finder, reach, changed, self.page_size).await?;
                    fill_unsynced(self.store, &self.finder, unsynced, self.page_size).await?;
                    let next = match (changed.buffer.front(), unsynced.buffer.front()) {
                        (None, None) => break,
                        (Some(_), None) => changed.buffer.pop_front(),
                        (None, Some(_)) => unsynced.buffer.pop_front(),
                        (Some(c), Some(u)) if c < u => changed.buffer.pop_front(),
                        (Some(c), Some(u)) if u < c => unsynced.buffer.pop_front(),
                        // Both runs saw the record (a row appeared between
                        // their reads): once is enough.
                        (Some(_), Some(_)) => {
                            unsynced.buffer.pop_front();
                            changed.buffer.pop_front()
                        }
                    };
                    page.extend(next);
                }
                (!page.is_empty()).then_some(page)
            }
        };
        if page.is_none() {
            self.state = State::Done;
        }
        Ok(page)
    }

    /// Where a complete run of the changed-since plan starts: its
    /// candidates, all read, merged with the records without a row; or,
    /// when they are more than [`most_candidates_looked_at`], the table
    /// read by the reference plan.
    async fn complete_start(&self) -> Result<State> {
        let rows: Vec<(Option<Timestamp>, i64, i64)> =
            fetch(self.store, &self.finder.watermark()).await?;
        let (watermark, sync_rows, never_stamped) = rows.into_iter().next().unwrap_or((None, 0, 0));
        let most = if self.reference_for_many_candidates {
            most_candidates_looked_at(sync_rows)
        } else {
            u64::MAX
        };
        let (candidates, all_read) = Candidates::read_at_most(
            self.store,
            &self
                .finder
                .changed_candidates(Reach::Complete, watermark, never_stamped > 0),
            most,
        )
        .await?;
        Ok(if all_read {
            State::Merging {
                reach: Reach::Complete,
                changed: ChangedRun::of(candidates),
                unsynced: UnsyncedRun::default(),
            }
        } else {
            State::Reference { cursor: None }
        })
    }

    /// Every remaining id (tests and small tables; prefer pages).
    pub async fn collect_all(mut self) -> Result<Vec<ResourceId>> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }
}

async fn fetch<T: crate::store::FromAnyRow>(
    store: &Store,
    statement: &SelectStatement,
) -> Result<Vec<T>> {
    let (sql, values) = store.build(statement);
    store.fetch_all(sql, values).await
}

fn ids(rows: Vec<(ResourceId,)>) -> Vec<ResourceId> {
    rows.into_iter().map(|(id,)| id).collect()
}

/// Candidates a complete run looks at in turn, at most: half the model's
/// `sync_rows`. With more, it reads the table by the definition (the
/// reference plan), which costs less per record than looking at each
/// candidate (at 1M users, every one a candidate: 5.3 s against 2.2 s for
/// the reference plan on SQLite; docs/BENCHMARKS.md). A record that never
/// changes keeps the watermark at its sync, so in time most records are
/// candidates of a complete run.
fn most_candidates_looked_at(sync_rows: i64) -> u64 {
    u64::try_from(sync_rows).unwrap_or(0) / 2
}

/// Refills the run of changed records until it holds a stale id or ends:
/// the exact predicate on the next page of candidates. A page of
/// candidates is checked only when the run needs it, so the pages before
/// it are already being synced.
async fn fill_changed(
    store: &Store,
    finder: &FinderSql<'_>,
    reach: Reach,
    run: &mut ChangedRun,
    page_size: u64,
) -> Result<()> {
    while run.buffer.is_empty() {
        let page = run
            .unchecked
            .take_lowest(usize::try_from(page_size).unwrap_or(usize::MAX));
        if page.is_empty() {
            break;
        }
        let flagged: Vec<(ResourceId, i64)> =
            fetch(store, &finder.exact_page(reach, &page)).await?;
        run.buffer.extend(
            flagged
                .into_iter()
                .filter(|(_, stale)| *stale == 1)
                .map(|(id, _)| id),
        );
    }
    Ok(())
}

/// Refills the run of records without a sync row, a page at a time.
async fn fill_unsynced(
    store: &Store,
    finder: &FinderSql<'_>,
    run: &mut UnsyncedRun,
    page_size: u64,
) -> Result<()> {
    if run.buffer.is_empty() && !run.exhausted {
        let page = ids(fetch(store, &finder.unsynced_page(run.cursor.clone(), page_size)).await?);
        run.exhausted = (page.len() as u64) < page_size;
        run.cursor = page.last().cloned().or(run.cursor.take());
        run.buffer.extend(page);
    }
    Ok(())
}
