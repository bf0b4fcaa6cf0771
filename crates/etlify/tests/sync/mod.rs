//! The per-record synchronizer and the per-record sync API.

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::{AdapterError, AdapterErrorKind};
use etlify::stable_sha256;
use etlify::{
    Binding, Crm, ErrorKind, Model, Payload, RecordErrorKind, RowPayload, SqlPayload, SyncDispatch,
    SyncIf, SyncOutcome,
};
use serde_json::{json, Value};

use crate::support::adapter::RecordingAdapter;
use crate::support::{
    company_model, dispatch_error, engine, hubspot_users, record_error, user_model,
    user_with_company_dependency, TestDb,
};

fn payload(value: Value) -> Payload {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn validation(message: &str) -> AdapterError {
    AdapterError::new(AdapterErrorKind::ValidationFailed, message).status(400)
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    email: String,
    full_name: String,
}

async fn pending_count(db: &TestDb) -> i64 {
    db.scalar_i64("SELECT COUNT(*) FROM etlify_pending_syncs")
        .await
}

// The database tests, compiled once per backend: `sync::sqlite::…` and
// `sync::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
