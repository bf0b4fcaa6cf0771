//! Rows of `etlify_job_requests`: which sync jobs are queued or running,
//! so that a job is enqueued once per record (or per CRM's batch run) while
//! queued, and a request made while it runs is never lost (unlike the gem,
//! whose enqueue locks dropped it; G-9, G-10, X-1, X-10).
//!
//! A row exists from the request until the job ends:
//! - [`request`] inserts it and answers [`Requested::New`]: the caller
//!   enqueues the job. A row already there answers [`Requested::Queued`]
//!   (the queued job will read the record's latest data) or, when its job
//!   runs, marks it `again` and answers [`Requested::AfterRunning`];
//! - [`start`] marks it running (and clears `again`: what the job reads
//!   from now on covers the earlier requests);
//! - [`finish`] deletes it, unless a request came while the job ran: then
//!   the row is queued again and the caller enqueues a new job.
//!
//! Every step is one statement, so two processes requesting and finishing
//! at once cannot lose a request: a request that finds no row inserts one.
//! A row older than [`STALE_AFTER`] is taken over by the next request (its
//! job was lost: a crash between the insert and the enqueue, a job deleted
//! from the queue); a duplicate job is harmless, as the record lock and
//! the digest keep a second sync from sending anything again.

use std::time::Duration;

use sea_query::{Expr, ExprTrait, Iden, OnConflict, Query};

use super::Store;
use crate::error::Result;
use crate::id::ResourceId;

/// How long a row may stay without its job starting or ending before the
/// next request enqueues a new job (the gem's enqueue lock lived 15 min).
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(15 * 60);

#[derive(Iden, Clone, Copy)]
enum EtlifyJobRequests {
    Table,
    Kind,
    CrmName,
    ResourceType,
    ResourceId,
    Running,
    Again,
    RequestedAt,
}

use EtlifyJobRequests as Jr;

/// What a job is for: one record of one CRM, or one CRM's batch run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum JobKey {
    /// A per-record sync job.
    Record {
        crm_name: String,
        resource_type: String,
        id: ResourceId,
    },
    /// A CRM's batch sync job.
    Batch { crm_name: String },
}

impl JobKey {
    fn columns(&self) -> (&'static str, &str, &str, sea_query::Value) {
        match self {
            JobKey::Record {
                crm_name,
                resource_type,
                id,
            } => ("record", crm_name, resource_type, id.value()),
            JobKey::Batch { crm_name } => ("batch", crm_name, "", 0_i64.into()),
        }
    }

    fn matches(&self) -> Expr {
        let (kind, crm_name, resource_type, id) = self.columns();
        Expr::col(Jr::Kind)
            .eq(kind)
            .and(Expr::col(Jr::CrmName).eq(crm_name))
            .and(Expr::col(Jr::ResourceType).eq(resource_type))
            .and(Expr::col(Jr::ResourceId).eq(id))
    }
}

/// What [`request`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Requested {
    /// No job was queued or running: enqueue one.
    New,
    /// A job is queued and not started: it covers this request.
    Queued,
    /// A job is running: another runs after it.
    AfterRunning,
}

/// Records a request for the job `key` (see the module documentation).
pub(crate) async fn request(store: &Store, key: &JobKey) -> Result<Requested> {
    loop {
        if insert(store, key).await? {
            return Ok(Requested::New);
        }
        if take_over_stale(store, key).await? {
            return Ok(Requested::New);
        }
        let mut again = Query::update();
        again
            .table(Jr::Table)
            .value(Jr::Again, true)
            .and_where(key.matches())
            .and_where(Expr::col(Jr::Running).eq(true));
        let (sql, values) = store.build(&again);
        if store.execute(sql, values).await? > 0 {
            return Ok(Requested::AfterRunning);
        }
        let mut queued = Query::select();
        queued
            .expr(Expr::val(1))
            .from(Jr::Table)
            .and_where(key.matches());
        let (sql, values) = store.build(&queued);
        let rows: Vec<(i32,)> = store.fetch_all(sql, values).await?;
        if !rows.is_empty() {
            return Ok(Requested::Queued);
        }
        // The row was deleted (its job ended) between two statements: the
        // next insert takes the request.
    }
}

/// Inserts the row of `key` if there is none; whether it did.
async fn insert(store: &Store, key: &JobKey) -> Result<bool> {
    let (kind, crm_name, resource_type, id) = key.columns();
    let mut insert = Query::insert();
    insert
        .into_table(Jr::Table)
        .columns([
            Jr::Kind,
            Jr::CrmName,
            Jr::ResourceType,
            Jr::ResourceId,
            Jr::Running,
            Jr::Again,
            Jr::RequestedAt,
        ])
        .values([
            Expr::val(kind),
            Expr::val(crm_name),
            Expr::val(resource_type),
            Expr::val(id),
            Expr::val(false),
            Expr::val(false),
            store.dialect().now(),
        ])
        // Internal invariant: seven values for seven columns.
        .expect("values match the column list")
        .on_conflict(
            OnConflict::columns([Jr::Kind, Jr::CrmName, Jr::ResourceType, Jr::ResourceId])
                .do_nothing()
                .to_owned(),
        );
    let (sql, values) = store.build(&insert);
    Ok(store.execute(sql, values).await? > 0)
}

/// Resets the row of `key` to queued when nothing touched it for
/// [`STALE_AFTER`]; whether it did.
async fn take_over_stale(store: &Store, key: &JobKey) -> Result<bool> {
    let stale = Expr::col(Jr::RequestedAt).lt(store.dialect().now_minus(STALE_AFTER));
    mark_queued(store, key, Some(stale)).await
}

/// Sets the row of `key` queued, not running, requested now (where
/// `only_if` holds); whether a row was changed.
async fn mark_queued(store: &Store, key: &JobKey, only_if: Option<Expr>) -> Result<bool> {
    let mut update = Query::update();
    update
        .table(Jr::Table)
        .value(Jr::Running, false)
        .value(Jr::Again, false)
        .value(Jr::RequestedAt, store.dialect().now())
        .and_where(key.matches());
    if let Some(condition) = only_if {
        update.and_where(condition);
    }
    let (sql, values) = store.build(&update);
    Ok(store.execute(sql, values).await? > 0)
}

/// Marks the job of `key` running (inserting its row if a stale-row
/// take-over or a hand-made enqueue left none).
pub(crate) async fn start(store: &Store, key: &JobKey) -> Result<()> {
    let dialect = store.dialect();
    let mut update = Query::update();
    update
        .table(Jr::Table)
        .value(Jr::Running, true)
        .value(Jr::Again, false)
        .value(Jr::RequestedAt, dialect.now())
        .and_where(key.matches());
    let (sql, values) = store.build(&update);
    if store.execute(sql, values).await? == 0 && insert(store, key).await? {
        let (sql, values) = store.build(&update);
        store.execute(sql, values).await?;
    }
    Ok(())
}

/// Marks the running job of `key` alive, so that a long run (a batch job
/// over a large table) is not taken for a lost one after [`STALE_AFTER`].
pub(crate) async fn keep_alive(store: &Store, key: &JobKey) -> Result<()> {
    let mut update = Query::update();
    update
        .table(Jr::Table)
        .value(Jr::RequestedAt, store.dialect().now())
        .and_where(key.matches())
        .and_where(Expr::col(Jr::Running).eq(true));
    let (sql, values) = store.build(&update);
    store.execute(sql, values).await?;
    Ok(())
}

/// Whether another job of `key` must be enqueued now that this one ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finished {
    /// Nothing was requested while it ran: the row is gone.
    Done,
    /// A request came while it ran: the row is queued again; enqueue a job.
    RunAgain,
}

/// Ends the job of `key` (see the module documentation).
pub(crate) async fn finish(store: &Store, key: &JobKey) -> Result<Finished> {
    let mut delete = Query::delete();
    delete
        .from_table(Jr::Table)
        .and_where(key.matches())
        .and_where(Expr::col(Jr::Again).eq(false));
    let (sql, values) = store.build(&delete);
    if store.execute(sql, values).await? > 0 {
        return Ok(Finished::Done);
    }
    // Only a request sets `again`, and only this job deletes the row: the
    // row is there with `again` set, or was never there.
    if requeue(store, key).await? {
        Ok(Finished::RunAgain)
    } else {
        Ok(Finished::Done)
    }
}

/// Marks the row of `key` queued, not running (the job rescheduled
/// itself, or runs again); whether the row exists.
pub(crate) async fn requeue(store: &Store, key: &JobKey) -> Result<bool> {
    mark_queued(store, key, None).await
}

/// Deletes the row of `key` whatever its state (its job could not be
/// enqueued, or gave up).
pub(crate) async fn forget(store: &Store, key: &JobKey) -> Result<()> {
    let mut delete = Query::delete();
    delete.from_table(Jr::Table).and_where(key.matches());
    let (sql, values) = store.build(&delete);
    store.execute(sql, values).await?;
    Ok(())
}

/// When the oldest job queued and not started was queued (none queued:
/// `None`), for the metrics.
pub(crate) async fn oldest_queued(store: &Store) -> Result<Option<super::Timestamp>> {
    let mut select = Query::select();
    select
        .expr(Expr::col(Jr::RequestedAt).min())
        .from(Jr::Table)
        .and_where(Expr::col(Jr::Running).eq(false));
    let (sql, values) = store.build(&select);
    let rows: Vec<(Option<super::Timestamp>,)> = store.fetch_all(sql, values).await?;
    Ok(rows.into_iter().next().and_then(|(oldest,)| oldest))
}

/// Jobs queued and running, for status reports: `(queued, running)`.
pub(crate) async fn counts(store: &Store) -> Result<(u64, u64)> {
    let mut select = Query::select();
    select
        .column(Jr::Running)
        .expr(Expr::col(Jr::Kind).count())
        .from(Jr::Table)
        .group_by_col(Jr::Running);
    let (sql, values) = store.build(&select);
    let rows: Vec<(bool, i64)> = store.fetch_all(sql, values).await?;
    let mut counts = (0, 0);
    for (running, n) in rows {
        if running {
            counts.1 += n as u64;
        } else {
            counts.0 += n as u64;
        }
    }
    Ok(counts)
}
