//! Rows of `etlify_alert_incidents`: one per incident key (a kind of
//! trouble, its CRM, its model or worker), open until resolved; and what
//! the alerts look at besides the run history (rows over the error budget,
//! the workers' heartbeat leases).
//!
//! Opening and resolving are each one conditional statement that changes
//! the row only if it is not already in that state, and says whether it
//! did: of N workers seeing the same trouble, exactly one opens the
//! incident, and only that one sends the alert (likewise for the
//! recovery). A database where these statements do not hold has its own
//! (`backend/incidents.rs`: MySQL's).

use std::time::Duration;

use sea_query::{Expr, ExprTrait, Func, Iden, OnConflict, Query};

use super::backend::IncidentIdentity;
use super::leases::batch_run::EtlifyLeases;
use super::{Store, Timestamp};
use crate::error::Result;

#[derive(Iden, Clone, Copy)]
enum EtlifyAlertIncidents {
    Table,
    Kind,
    CrmName,
    Subject,
    OpenedAt,
    ResolvedAt,
    NotifiedAt,
    Summary,
}

use EtlifyAlertIncidents as Incidents;

/// What identifies an incident: one per kind, CRM and model or worker
/// (`""` where none applies).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct IncidentKey {
    pub(crate) kind: String,
    pub(crate) crm: String,
    pub(crate) subject: String,
}

impl IncidentKey {
    fn identity(&self) -> IncidentIdentity<'_> {
        IncidentIdentity {
            kind: &self.kind,
            crm: &self.crm,
            subject: &self.subject,
        }
    }

    fn matches(&self) -> Expr {
        Expr::col(Incidents::Kind)
            .eq(self.kind.as_str())
            .and(Expr::col(Incidents::CrmName).eq(self.crm.as_str()))
            .and(Expr::col(Incidents::Subject).eq(self.subject.as_str()))
    }
}

/// Opens the incident `key` now unless it is open; returns when it was
/// opened if this call opened it (then this process sends the alert).
pub(crate) async fn open(
    store: &Store,
    key: &IncidentKey,
    summary: &str,
) -> Result<Option<Timestamp>> {
    if let Some(writes) = store.backend().incident_writes() {
        return writes.open_incident(key.identity(), summary).await;
    }
    let mut insert = Query::insert();
    insert
        .into_table(Incidents::Table)
        .columns([
            Incidents::Kind,
            Incidents::CrmName,
            Incidents::Subject,
            Incidents::OpenedAt,
            Incidents::Summary,
        ])
        .values([
            Expr::val(key.kind.as_str()),
            Expr::val(key.crm.as_str()),
            Expr::val(key.subject.as_str()),
            store.dialect().now(),
            Expr::val(summary),
        ])
        // Internal invariant: five values for five columns.
        .expect("values match the column list")
        .on_conflict(
            OnConflict::columns([Incidents::Kind, Incidents::CrmName, Incidents::Subject])
                .update_columns([Incidents::OpenedAt, Incidents::Summary])
                .value(
                    Incidents::ResolvedAt,
                    Expr::val(store.dialect().null_timestamp()),
                )
                .value(
                    Incidents::NotifiedAt,
                    Expr::val(store.dialect().null_timestamp()),
                )
                .action_and_where(
                    Expr::col((Incidents::Table, Incidents::ResolvedAt)).is_not_null(),
                )
                .to_owned(),
        )
        .returning_col(Incidents::OpenedAt);
    let (sql, values) = store.build(&insert);
    let rows: Vec<(Timestamp,)> = store.fetch_all(sql, values).await?;
    Ok(rows.first().map(|(at,)| *at))
}

/// Resolves the incident `key` now if it is open; returns when it was
/// opened if this call resolved it (then this process sends the recovery).
pub(crate) async fn resolve(store: &Store, key: &IncidentKey) -> Result<Option<Timestamp>> {
    if let Some(writes) = store.backend().incident_writes() {
        return writes.resolve_incident(key.identity()).await;
    }
    let mut update = Query::update();
    update
        .table(Incidents::Table)
        .value(Incidents::ResolvedAt, store.dialect().now())
        .and_where(key.matches())
        .and_where(Expr::col(Incidents::ResolvedAt).is_null())
        .returning_col(Incidents::OpenedAt);
    let (sql, values) = store.build(&update);
    let rows: Vec<(Timestamp,)> = store.fetch_all(sql, values).await?;
    Ok(rows.first().map(|(at,)| *at))
}

/// Records that the alert of `key` was delivered.
pub(crate) async fn mark_notified(store: &Store, key: &IncidentKey) -> Result<()> {
    let mut update = Query::update();
    update
        .table(Incidents::Table)
        .value(Incidents::NotifiedAt, store.dialect().now())
        .and_where(key.matches());
    let (sql, values) = store.build(&update);
    store.execute(sql, values).await?;
    Ok(())
}

/// The keys of every open incident.
pub(crate) async fn open_keys(store: &Store) -> Result<Vec<IncidentKey>> {
    let mut select = Query::select();
    select
        .columns([Incidents::Kind, Incidents::CrmName, Incidents::Subject])
        .from(Incidents::Table)
        .and_where(Expr::col(Incidents::ResolvedAt).is_null());
    let (sql, values) = store.build(&select);
    let rows: Vec<(String, String, String)> = store.fetch_all(sql, values).await?;
    Ok(rows
        .into_iter()
        .map(|(kind, crm, subject)| IncidentKey { kind, crm, subject })
        .collect())
}

/// Sync rows of `(crm_name, resource_type)` at or over the error budget
/// (through the partial index of failing rows).
pub(crate) async fn over_budget(
    store: &Store,
    crm_name: &str,
    resource_type: &str,
    budget: u32,
) -> Result<i64> {
    let mut select = Query::select();
    select
        .expr(Func::count(Expr::val(1)))
        .from(sea_query::Alias::new(super::schema::SYNC_TABLE))
        .and_where(Expr::col(sea_query::Alias::new("crm_name")).eq(crm_name))
        .and_where(Expr::col(sea_query::Alias::new("resource_type")).eq(resource_type))
        .and_where(Expr::col(sea_query::Alias::new("error_count")).gt(0))
        .and_where(Expr::col(sea_query::Alias::new("error_count")).gte(i64::from(budget)));
    let (sql, values) = store.build(&select);
    let rows: Vec<(i64,)> = store.fetch_all(sql, values).await?;
    Ok(rows.first().map_or(0, |(n,)| *n))
}

/// The name of a worker's heartbeat lease in `etlify_leases`: held and
/// renewed while it runs, released when it stops gracefully, left to
/// expire when it dies.
pub(crate) fn worker_lease_name(worker: &str) -> String {
    serde_json::json!(["worker", worker]).to_string()
}

/// The workers that beat through a heartbeat lease: each one's name,
/// how long since its last heartbeat (its lease's last renewal, by the
/// database's clock) and whether its lease is live. A worker that stopped
/// gracefully released its lease and is not listed.
pub(crate) async fn workers(store: &Store) -> Result<Vec<(String, Duration, bool)>> {
    let mut select = Query::select();
    select
        .columns([EtlifyLeases::Name, EtlifyLeases::ExpiresAt])
        .expr(store.dialect().now())
        .from(EtlifyLeases::Table)
        .and_where(Expr::col(EtlifyLeases::Name).like(r#"["worker",%"#));
    let (sql, values) = store.build(&select);
    let rows: Vec<(String, Timestamp, Timestamp)> = store.fetch_all(sql, values).await?;
    let ttl = chrono::Duration::from_std(store.lease_ttl()).unwrap_or_default();
    let mut workers = Vec::new();
    for (name, expires_at, now) in rows {
        let Ok(serde_json::Value::Array(parts)) = serde_json::from_str(&name) else {
            continue;
        };
        let Some(worker) = parts.get(1).and_then(serde_json::Value::as_str) else {
            continue;
        };
        let since_beat = (now - (expires_at - ttl)).to_std().unwrap_or_default();
        workers.push((worker.to_owned(), since_beat, expires_at > now));
    }
    Ok(workers)
}
