//! One batch run per CRM (G-10): a named lease in `etlify_leases`, taken
//! without waiting by whoever starts a CRM's batch run (an inline
//! `batch_sync`, a batch job, `forget` of a whole CRM).
//!
//! A row's name is a JSON array such as `["batch","hubspot"]`, unambiguous
//! whatever the CRM name. Several names are taken with one statement per
//! chunk, which each backend feeds its fastest way
//! (`BulkWrites::take_leases`).

use std::time::Duration;

use sea_query::{Expr, ExprTrait, Iden, InsertStatement, OnConflict, Query};

use super::{new_owner, Lease, LeaseTable};
use crate::error::Result;
use crate::store::backend::Dialect;
use crate::store::{Store, Timestamp};

/// Names per statement.
const CHUNK: usize = 500;

#[derive(Iden, Clone, Copy)]
pub(crate) enum EtlifyLeases {
    Table,
    Name,
    Owner,
    ExpiresAt,
}

use EtlifyLeases as Leases;

/// The lease name of a CRM's batch run (one at a time per CRM, G-10).
pub(crate) fn batch_run_name(crm_name: &str) -> String {
    serde_json::json!(["batch", crm_name]).to_string()
}

impl Lease {
    /// Takes every free (or expired) lease among `names` without waiting;
    /// returns the lease and, per name, whether it was taken.
    pub(crate) async fn try_acquire(
        store: &Store,
        names: Vec<String>,
    ) -> Result<(Self, Vec<bool>)> {
        let owner = new_owner(store);
        let taken_at = std::time::Instant::now();
        let mut taken = std::collections::HashSet::new();
        for chunk in names.chunks(CHUNK) {
            taken.extend(try_take(store, &owner, chunk).await?);
        }
        let acquired: Vec<bool> = names.iter().map(|n| taken.contains(n)).collect();
        let rows = taken.len() as u64;
        let lease = Self::held(store, owner, LeaseTable::Named, rows, taken_at);
        Ok((lease, acquired))
    }
}

/// How long the lease `name` has left by the database's clock (zero once
/// expired), or `None` when no one holds it: how long a run that found its
/// CRM held waits before it looks again, so that a dead holder's CRM is
/// taken over as soon as its lease ends.
pub(crate) async fn time_left(store: &Store, name: &str) -> Result<Option<Duration>> {
    let mut select = Query::select();
    select
        .column(Leases::ExpiresAt)
        .expr(store.dialect().now())
        .from(Leases::Table)
        .and_where(Expr::col(Leases::Name).eq(name));
    let (sql, values) = store.build(&select);
    let rows: Vec<(Timestamp, Timestamp)> = store.fetch_all(sql, values).await?;
    Ok(rows
        .first()
        .map(|(expires_at, now)| (*expires_at - *now).to_std().unwrap_or(Duration::ZERO)))
}

/// `INSERT INTO etlify_leases (name, owner, expires_at) … ON CONFLICT (name)
/// DO UPDATE … WHERE expired RETURNING name`, without its rows: the backend
/// feeds them (`VALUES` on SQLite, arrays on PostgreSQL).
pub(crate) fn take_statement(dialect: &dyn Dialect) -> InsertStatement {
    let mut insert = Query::insert();
    insert
        .into_table(Leases::Table)
        .columns([Leases::Name, Leases::Owner, Leases::ExpiresAt])
        .on_conflict(
            OnConflict::column(Leases::Name)
                .update_columns([Leases::Owner, Leases::ExpiresAt])
                .action_and_where(Expr::col((Leases::Table, Leases::ExpiresAt)).lt(dialect.now()))
                .to_owned(),
        )
        .returning_col(Leases::Name);
    insert
}

/// The names among `names` that `owner` took.
async fn try_take(store: &Store, owner: &str, names: &[String]) -> Result<Vec<String>> {
    store
        .backend()
        .take_leases(owner, names, store.lease_ttl())
        .await
}
