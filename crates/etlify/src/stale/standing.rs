//! Where the records of one (model, CRM) stand with the CRM, as
//! `Etlify::status` counts them: every record in scope in exactly one
//! class, so the counts add up to the records in scope. Stale is the
//! finder's own condition (`finder.rs`, [`FinderSql::standing`]), not a
//! second copy of it.

use super::finder::FinderSql;
use crate::context::Context;
use crate::error::{ConfigError, Result};
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

/// Counts where the records of `model` stand with `crm`, in one statement.
pub(crate) async fn count(ctx: &Context, crm: &str, model: &str) -> Result<StandingCounts> {
    let catalog = ctx.catalog();
    let (resolved, _) = catalog.binding(crm, model)?;
    let finder = FinderSql::new(
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
    })?;
    let (sql, values) = ctx.store().build(&finder.standing());
    let rows: Vec<(i64, i64, Option<Timestamp>)> = ctx.store().fetch_all(sql, values).await?;
    let mut counts = StandingCounts::default();
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
    Ok(counts)
}
