//! Inline batch sync over stale records (G-6, G-7, G-13, G-16, G-17,
//! G-22, X-18).

use std::sync::Arc;

use etlify::adapters::NullAdapter;
use etlify::{BatchSyncOptions, Crm, ErrorKind, Model};

use crate::support::adapter::{BatchRecordingAdapter, RecordingAdapter};
use crate::support::{company_model, engine, hubspot_users_on, user_model, TestDb};

async fn seed(db: &TestDb, users: usize) -> (i64, Vec<i64>) {
    let company = db.insert_company("acme").await;
    let mut ids = Vec::new();
    for i in 0..users {
        ids.push(db.insert_user(&format!("u{i}@x.io"), Some(company)).await);
    }
    (company, ids)
}

// The database tests, compiled once per backend: `batch_sync::sqlite::…` and
// `batch_sync::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
