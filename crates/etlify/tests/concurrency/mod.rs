//! Many syncs at once: pools smaller than the number of syncs, several
//! engines on one database, concurrent batch runs of one CRM, leases of
//! dead holders (X-8, X-10, G-10).

use std::collections::HashMap;
use std::time::Duration;

use etlify::{BatchSyncOptions, SyncDispatch, SyncOutcome};

use crate::support::adapter::{BatchRecordingAdapter, RecordingAdapter};
use crate::support::{hubspot_users, hubspot_users_on, TestDb};

async fn users(db: &TestDb, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(db.insert_user(&format!("u{i}@x.io"), None).await);
    }
    ids
}

/// Upserts per email.
fn sends(adapter: &RecordingAdapter) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for call in adapter.upserts() {
        let email = call.payload["email"].as_str().unwrap().to_owned();
        *counts.entry(email).or_insert(0) += 1;
    }
    counts
}

/// SQL for "a minute ago" and "in a minute", in lease-expiry format.
fn past_and_future(db: &TestDb) -> (&'static str, &'static str) {
    if db.is_postgres() {
        (
            "(now() AT TIME ZONE 'UTC') - interval '1 minute'",
            "(now() AT TIME ZONE 'UTC') + interval '1 minute'",
        )
    } else {
        (
            "strftime('%Y-%m-%d %H:%M:%f', 'now', '-60 seconds')",
            "strftime('%Y-%m-%d %H:%M:%f', 'now', '+60 seconds')",
        )
    }
}

/// A lease row on users `first..=last` in HubSpot, as another holder
/// (a per-record sync when `first == last`, a batch page otherwise).
async fn lease_users(db: &TestDb, first: i64, last: i64, owner: &str, expires_at: &str) {
    db.exec(&format!(
        "INSERT INTO etlify_record_leases (crm_name, resource_type, first_id, last_id, owner, expires_at) \
         VALUES ('hubspot', 'User', {first}, {last}, '{owner}', {expires_at})"
    ))
    .await;
}

// The database tests, compiled once per backend: `concurrency::sqlite::…` and
// `concurrency::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
