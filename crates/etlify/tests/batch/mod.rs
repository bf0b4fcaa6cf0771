//! The batch synchronizer (G-5, G-11, X-4, X-5, X-8, X-12).

use std::time::Duration;

use etlify::adapters::{AdapterError, AdapterErrorKind};
use etlify::{BatchStats, Binding, Crm, Model, ResourceId, SqlPayload, SyncIf};

use crate::support::adapter::{BatchRecordingAdapter, RecordingAdapter};
use crate::support::{engine, hubspot_users, user_model, TestDb};

/// Batch counts: zero but for what `set` sets.
fn counts(set: impl FnOnce(&mut BatchStats)) -> BatchStats {
    let mut stats = BatchStats::default();
    set(&mut stats);
    stats
}

fn ids(ids: &[i64]) -> Vec<ResourceId> {
    ids.iter().copied().map(ResourceId::new).collect()
}

async fn users(db: &TestDb, emails: &[&str]) -> Vec<i64> {
    let mut ids = Vec::new();
    for email in emails {
        ids.push(db.insert_user(email, None).await);
    }
    ids
}

// The database tests, compiled once per backend: `batch::sqlite::…` and
// `batch::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
