//! No update lost, no run stopped by one CRM: changes
//! committed while a sync runs, whole-second timestamps, run errors in the
//! batch path, outages longer than the retries, sync state written per CRM
//! request.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use etlify::adapters::{AdapterError, AdapterErrorKind};
use etlify::{
    BatchSyncOptions, Binding, Config, Crm, ErrorKind, Etlify, LoadedPayloads, Model,
    PayloadSource, ResourceId, SqlPayload, Store, SyncDispatch, SyncOutcome,
};

use crate::support::adapter::{BatchRecordingAdapter, RecordingAdapter};
use crate::support::{builder, company_model, engine, hubspot_users, user_model, TestDb, TestPool};

fn transient() -> AdapterError {
    AdapterError::new(AdapterErrorKind::Transient, "503 Service Unavailable").status(503)
}

/// The full names the adapter was sent, in order.
fn names_sent(adapter: &RecordingAdapter) -> Vec<String> {
    adapter
        .upserts()
        .iter()
        .map(|call| call.payload["full_name"].as_str().unwrap_or("").to_owned())
        .collect()
}

async fn name(db: &TestDb, user: i64, full_name: &str) {
    db.exec(&format!(
        "UPDATE users SET full_name = '{full_name}' WHERE id = {user}"
    ))
    .await;
}

/// A payload source that, right after reading, lets the application commit
/// a change: "now" must have been taken before the read, not after it.
#[derive(Debug)]
struct ChangedRightAfterRead {
    inner: SqlPayload,
    store: Store,
    touch: String,
}

#[async_trait]
impl PayloadSource for ChangedRightAfterRead {
    async fn load(&self, store: &Store, ids: &[ResourceId]) -> etlify::Result<LoadedPayloads> {
        let loaded = self.inner.load(store, ids).await?;
        if let Some(pool) = self.store.sqlite_pool() {
            // The application's clock, at Rails' microsecond precision, or
            // at JavaScript's milliseconds (`{now_ms}`).
            let now = chrono::Utc::now();
            let touch = self
                .touch
                .replace(
                    "{now}",
                    &format!("'{}'", now.format(etlify::SQLITE_TIMESTAMP_FORMAT)),
                )
                .replace(
                    "{now_ms}",
                    &format!("'{}'", now.format("%Y-%m-%d %H:%M:%S%.3f")),
                );
            sqlx::query(sqlx::AssertSqlSafe(touch))
                .execute(pool)
                .await?;
        } else if let Some(pool) = self.store.postgres_pool() {
            let touch = self
                .touch
                .replace("{now}", "(clock_timestamp() AT TIME ZONE 'UTC')")
                .replace(
                    "{now_ms}",
                    "date_trunc('milliseconds', clock_timestamp() AT TIME ZONE 'UTC')",
                );
            sqlx::query(sqlx::AssertSqlSafe(touch))
                .execute(pool)
                .await?;
        } else if let Some(pool) = self.store.mysql_pool() {
            let touch = self
                .touch
                .replace("{now}", "UTC_TIMESTAMP(6)")
                .replace("{now_ms}", "UTC_TIMESTAMP(3)");
            sqlx::query(sqlx::AssertSqlSafe(touch))
                .execute(pool)
                .await?;
        }
        Ok(loaded)
    }

    fn key_column(&self) -> &str {
        "id"
    }
}

/// An engine whose payload source lets the application rename `user`
/// right after each read, stamping it with `clock` (`{now}`: the database
/// clock to the microsecond, `{now_ms}`: to the millisecond).
async fn engine_renaming_right_after_read(db: &TestDb, user: i64, clock: &str) -> Etlify {
    let source = ChangedRightAfterRead {
        inner: SqlPayload::new("SELECT id, email, full_name FROM users"),
        store: db.store.clone(),
        touch: format!(
            "UPDATE users SET full_name = 'Later', updated_at = {clock} WHERE id = {user}"
        ),
    };
    let model = Model::new("User", "users")
        .bind("hubspot", Binding::new("contacts", "email").payload(source));
    engine(
        db,
        vec![Crm::new("hubspot", RecordingAdapter::new())],
        vec![model],
    )
    .await
}

// The database tests, compiled once per backend: `lost_updates::sqlite::…`,
// `lost_updates::postgres::…` and `lost_updates::mysql::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
