//! Rows of `etlify_runs`: one per batch run of a CRM, inserted when the
//! run starts (status `running`, no end) and completed when it ends; what
//! a row says is decided in `runs/history.rs`.
//!
//! Retention: every insert deletes the rows older than the kept age, and
//! the CRM's rows past the kept count (both through the `started_at`
//! indexes, so pruning costs a few index seeks however long the history).

use std::time::Duration;

use sea_query::{Expr, ExprTrait, Iden, Order, Query, SelectStatement};

use super::{Store, Timestamp};
use crate::error::Result;

#[derive(Iden, Clone, Copy)]
enum EtlifyRuns {
    Table,
    Id,
    CrmName,
    TriggeredBy,
    Runner,
    Status,
    StartedAt,
    FinishedAt,
    Records,
    Errors,
    PerModel,
    Interruption,
}

use EtlifyRuns as Runs;

/// A row of the table, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct RunRow {
    pub(crate) id: i64,
    pub(crate) crm_name: String,
    pub(crate) triggered_by: String,
    pub(crate) runner: String,
    pub(crate) status: String,
    pub(crate) started_at: Timestamp,
    pub(crate) finished_at: Option<Timestamp>,
    pub(crate) records: i64,
    pub(crate) errors: i64,
    pub(crate) per_model: Option<String>,
    pub(crate) interruption: Option<String>,
}

/// What a run's row says once it ended.
#[derive(Debug, Clone)]
pub(crate) struct Ended {
    pub(crate) status: &'static str,
    pub(crate) records: i64,
    pub(crate) errors: i64,
    /// Outcome counts per model, as JSON.
    pub(crate) per_model: String,
    pub(crate) interruption: Option<String>,
}

/// Inserts the row of a run of `crm_name` starting now (by the database's
/// clock), status `status`; returns its id.
pub(crate) async fn insert_started(
    store: &Store,
    crm_name: &str,
    triggered_by: &str,
    runner: &str,
    status: &str,
) -> Result<i64> {
    let mut insert = Query::insert();
    insert
        .into_table(Runs::Table)
        .columns([
            Runs::CrmName,
            Runs::TriggeredBy,
            Runs::Runner,
            Runs::Status,
            Runs::StartedAt,
        ])
        .values([
            Expr::val(crm_name),
            Expr::val(triggered_by),
            Expr::val(runner),
            Expr::val(status),
            store.dialect().now(),
        ])
        // Internal invariant: five values for five columns.
        .expect("values match the column list")
        .returning_col(Runs::Id);
    let (sql, values) = store.build(&insert);
    let rows: Vec<(i64,)> = store.fetch_all(sql, values).await?;
    Ok(rows.first().map_or(0, |(id,)| *id))
}

/// Completes the row `id`: ended now, with `ended`'s counts and status.
pub(crate) async fn finish(store: &Store, id: i64, ended: &Ended) -> Result<()> {
    let mut update = Query::update();
    update
        .table(Runs::Table)
        .value(Runs::Status, ended.status)
        .value(Runs::FinishedAt, store.dialect().now())
        .value(Runs::Records, ended.records)
        .value(Runs::Errors, ended.errors)
        .value(Runs::PerModel, ended.per_model.as_str())
        .value(Runs::Interruption, ended.interruption.as_deref())
        .and_where(Expr::col(Runs::Id).eq(id));
    let (sql, values) = store.build(&update);
    store.execute(sql, values).await?;
    Ok(())
}

/// Deletes the runs started more than `keep` ago, and `crm_name`'s runs
/// past its `keep_per_crm` newest.
pub(crate) async fn prune(
    store: &Store,
    crm_name: &str,
    keep: Duration,
    keep_per_crm: u32,
) -> Result<u64> {
    let mut by_age = Query::delete();
    by_age
        .from_table(Runs::Table)
        .and_where(Expr::col(Runs::StartedAt).lt(store.dialect().now_minus(keep)));
    let (sql, values) = store.build(&by_age);
    let mut deleted = store.execute(sql, values).await?;
    // The start of the oldest run kept (none when fewer are kept).
    let mut oldest_kept = Query::select();
    oldest_kept
        .column(Runs::StartedAt)
        .from(Runs::Table)
        .and_where(Expr::col(Runs::CrmName).eq(crm_name))
        .order_by(Runs::StartedAt, Order::Desc)
        .limit(1)
        .offset(u64::from(keep_per_crm.saturating_sub(1)));
    let mut by_count = Query::delete();
    by_count
        .from_table(Runs::Table)
        .and_where(Expr::col(Runs::CrmName).eq(crm_name))
        .and_where(Expr::col(Runs::StartedAt).lt(oldest_kept.take()));
    let (sql, values) = store.build(&by_count);
    deleted += store.execute(sql, values).await?;
    Ok(deleted)
}

/// A select of every column a [`RunRow`] reads, from the runs table.
fn select_run_rows() -> SelectStatement {
    let mut select = Query::select();
    select
        .columns([
            Runs::Id,
            Runs::CrmName,
            Runs::TriggeredBy,
            Runs::Runner,
            Runs::Status,
            Runs::StartedAt,
            Runs::FinishedAt,
            Runs::Records,
            Runs::Errors,
            Runs::PerModel,
            Runs::Interruption,
        ])
        .from(Runs::Table);
    select
}

/// The newest `limit` runs, of `crm_name` and with `status` only if
/// given, newest first.
pub(crate) async fn load(
    store: &Store,
    crm_name: Option<&str>,
    status: Option<&str>,
    limit: u64,
) -> Result<Vec<RunRow>> {
    let mut select = select_run_rows();
    select
        .order_by(Runs::StartedAt, Order::Desc)
        .order_by(Runs::Id, Order::Desc)
        .limit(limit);
    if let Some(crm_name) = crm_name {
        select.and_where(Expr::col(Runs::CrmName).eq(crm_name));
    }
    if let Some(status) = status {
        select.and_where(Expr::col(Runs::Status).eq(status));
    }
    let (sql, values) = store.build(&select);
    store.fetch_all(sql, values).await
}

/// Whether a run of `crm_name` started after the run `id` (whose row,
/// if still `running`, then belongs to a run that died).
pub(crate) async fn has_later_run(store: &Store, crm_name: &str, id: i64) -> Result<bool> {
    let mut select = Query::select();
    select
        .expr(Expr::val(1))
        .from(Runs::Table)
        .and_where(Expr::col(Runs::CrmName).eq(crm_name))
        .and_where(Expr::col(Runs::Id).gt(id))
        .limit(1);
    let (sql, values) = store.build(&select);
    let rows: Vec<(i32,)> = store.fetch_all(sql, values).await?;
    Ok(!rows.is_empty())
}

/// The newest run of `crm_name` that ended with one of `statuses`, if any.
pub(crate) async fn latest_ended(
    store: &Store,
    crm_name: &str,
    statuses: &[&str],
) -> Result<Option<RunRow>> {
    let mut select = select_run_rows();
    select
        .and_where(Expr::col(Runs::CrmName).eq(crm_name))
        .and_where(Expr::col(Runs::FinishedAt).is_not_null())
        .and_where(Expr::col(Runs::Status).is_in(statuses.iter().copied()))
        .order_by(Runs::StartedAt, Order::Desc)
        .order_by(Runs::Id, Order::Desc)
        .limit(1);
    let (sql, values) = store.build(&select);
    Ok(store.fetch_all(sql, values).await?.into_iter().next())
}
