//! `plan --diff` from the library: for a sample of stale records, what a
//! sync would send and which fields changed since the last sync; reads
//! only.

use std::sync::Arc;

use etlify::adapters::NullAdapter;
use etlify::{BatchSyncOptions, PayloadChange};

use crate::support::{hubspot_users, TestDb};

/// Every sync row's time and field digests, as one text.
async fn rows(db: &TestDb) -> Option<String> {
    let sql = if db.is_postgres() {
        "SELECT string_agg(last_synced_at::text || COALESCE(field_digests, '-'), ',' ORDER BY id) FROM crm_synchronisations"
    } else if db.is_mysql() {
        "SELECT GROUP_CONCAT(CONCAT(last_synced_at, COALESCE(field_digests, '-')) ORDER BY id SEPARATOR ',') FROM crm_synchronisations"
    } else {
        "SELECT group_concat(r, ',') FROM (SELECT last_synced_at || COALESCE(field_digests, '-') AS r FROM crm_synchronisations ORDER BY id)"
    };
    db.scalar_text(sql).await
}

// The database tests, compiled once per backend: `diff::sqlite::…`,
// `diff::postgres::…` and `diff::mysql::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
