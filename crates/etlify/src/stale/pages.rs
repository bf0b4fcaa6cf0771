//! Running the finder page by page: the paging state machine.
//!
//! Pages are ascending by primary key across the whole run, as the gem's
//! `find_in_batches` returns them, whatever the plan: the changed-since plan
//! reads two ascending runs (changed records with a sync row, records
//! without one) and merges them. Memory is bounded by twice the page size.

use std::collections::VecDeque;

use sea_query::SelectStatement;

use super::finder::{FinderPlan, FinderSql, Selection};
use crate::context::Context;
use crate::error::{ConfigError, Result};
use crate::id::ResourceId;
use crate::store::{Store, Timestamp};

/// Default page size, as the gem's `DEFAULT_BATCH_SIZE`.
pub const DEFAULT_BATCH_SIZE: usize = 1_000;

/// Stale (or, for a full reconcile, all) ids of one (model, CRM), page by
/// page in ascending order; memory is bounded by the page size.
#[derive(Debug)]
pub struct StaleIds<'a> {
    store: &'a Store,
    finder: FinderSql<'a>,
    plan: FinderPlan,
    selection: Selection,
    page_size: u64,
    state: State,
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
        watermark: Option<Timestamp>,
        changed: Run,
        unsynced: Run,
    },
    Done,
}

/// One ascending run of ids, read a page at a time.
#[derive(Debug, Default)]
struct Run {
    buffer: VecDeque<ResourceId>,
    cursor: Option<ResourceId>,
    exhausted: bool,
}

impl<'a> StaleIds<'a> {
    /// The stale ids of `resource_type` for `crm_name`; unknown names are
    /// configuration errors.
    pub(crate) fn new(
        ctx: &'a Context,
        crm_name: &str,
        resource_type: &str,
        selection: Selection,
    ) -> Result<Self> {
        let catalog = ctx.catalog();
        let crm = catalog.crm(crm_name)?;
        let (resolved, _) = catalog.binding(crm_name, resource_type)?;
        let finder = FinderSql::new(
            ctx.store().dialect(),
            resolved,
            crm.get_name(),
            catalog.max_sync_errors(crm_name),
        )
        .ok_or_else(|| {
            ConfigError::new(
                format!("models.{resource_type}.crms"),
                crm_name,
                "is not a CRM this model is bound to",
            )
        })?;
        Ok(Self {
            store: ctx.store(),
            finder,
            plan: FinderPlan::default(),
            selection,
            page_size: DEFAULT_BATCH_SIZE as u64,
            state: State::Start,
        })
    }

    /// Records per page (default 1,000; at least 1).
    pub fn page_size(mut self, page_size: usize) -> Self {
        self.page_size = page_size.max(1) as u64;
        self
    }

    /// The finder plan (benchmarks and checks; results are identical).
    #[doc(hidden)]
    pub fn plan(mut self, plan: FinderPlan) -> Self {
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
                (Selection::Stale, FinderPlan::ChangedSince) => {
                    let rows: Vec<(Option<Timestamp>,)> =
                        self.fetch(&self.finder.watermark()).await?;
                    State::Merging {
                        watermark: rows.into_iter().next().and_then(|(w,)| w),
                        changed: Run::default(),
                        unsynced: Run::default(),
                    }
                }
            };
        }
        let page = match &mut self.state {
            State::Start | State::Done => None,
            State::Reference { cursor } => {
                let statement = self
                    .finder
                    .reference_page(self.selection, *cursor, self.page_size);
                let ids = ids(fetch(self.store, &statement).await?);
                *cursor = ids.last().copied();
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
                watermark,
                changed,
                unsynced,
            } => {
                let watermark = *watermark;
                let mut page = Vec::new();
                while (page.len() as u64) < self.page_size {
                    fill_changed(self.store, &self.finder, watermark, changed, self.page_size)
                        .await?;
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

    async fn fetch<T: crate::store::FromAnyRow>(
        &self,
        statement: &SelectStatement,
    ) -> Result<Vec<T>> {
        fetch(self.store, statement).await
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

fn ids(rows: Vec<(i64,)>) -> Vec<ResourceId> {
    rows.into_iter().map(|(id,)| ResourceId::new(id)).collect()
}

/// Refills the run of changed records until it holds a stale id or ends:
/// a page of candidates, then the exact predicate on that page alone.
async fn fill_changed(
    store: &Store,
    finder: &FinderSql<'_>,
    watermark: Option<Timestamp>,
    run: &mut Run,
    page_size: u64,
) -> Result<()> {
    while run.buffer.is_empty() && !run.exhausted {
        let candidates = ids(fetch(
            store,
            &finder.changed_page(watermark, run.cursor, page_size),
        )
        .await?);
        run.exhausted = (candidates.len() as u64) < page_size;
        let Some(last) = candidates.last() else {
            break;
        };
        run.cursor = Some(*last);
        let flagged: Vec<(i64, i64)> = fetch(store, &finder.exact_page(&candidates)).await?;
        run.buffer.extend(
            flagged
                .into_iter()
                .filter(|(_, stale)| *stale == 1)
                .map(|(id, _)| ResourceId::new(id)),
        );
    }
    Ok(())
}

/// Refills the run of records without a sync row, a page at a time.
async fn fill_unsynced(
    store: &Store,
    finder: &FinderSql<'_>,
    run: &mut Run,
    page_size: u64,
) -> Result<()> {
    if run.buffer.is_empty() && !run.exhausted {
        let page = ids(fetch(store, &finder.unsynced_page(run.cursor, page_size)).await?);
        run.exhausted = (page.len() as u64) < page_size;
        run.cursor = page.last().copied().or(run.cursor);
        run.buffer.extend(page);
    }
    Ok(())
}
