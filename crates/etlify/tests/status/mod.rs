//! `Etlify::status`: where the records of each (model, CRM) stand, each
//! record counted once, so the counts add up to the records in scope
//! (issue 26, item 11).

use std::sync::Arc;

use etlify::adapters::{AdapterError, AdapterErrorKind, NullAdapter};
use etlify::{BatchSyncOptions, Binding, Crm, Dependency, Model, SqlPayload, StatusEntry};

use crate::support::adapter::RecordingAdapter;
use crate::support::{engine, TestDb, USER_PAYLOAD_SQL};

/// `User` on `hubspot`, stale when its company changes, and only the
/// active users in scope.
fn active_users() -> Model {
    Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new(USER_PAYLOAD_SQL))
            .dependency(Dependency::belongs_to("companies", "company_id"))
            .stale_scope("users.active"),
    )
}

/// Stamps every row of `table` at `at`: the tests set the times they
/// compare, as the time a sync records may lie before the sync (before the
/// oldest transaction running on the shared test database, X-1).
async fn stamp(db: &TestDb, table: &str, condition: &str, at: &str) {
    db.exec(&format!(
        "UPDATE {table} SET {column} = '{at}' WHERE {condition}",
        column = match table {
            "crm_synchronisations" => "last_synced_at",
            _ => "updated_at",
        }
    ))
    .await;
}

/// The six counts of `entry`, in the order `status` prints them, and
/// whether they add up to its records.
fn columns(entry: &StatusEntry) -> [u64; 6] {
    let counts = [
        entry.in_sync,
        entry.stale,
        entry.never_synced,
        entry.failing,
        entry.over_budget,
        entry.waiting,
    ];
    assert_eq!(
        counts.iter().sum::<u64>(),
        entry.records,
        "the columns add up to the records in scope: {entry:?}"
    );
    counts
}

#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
