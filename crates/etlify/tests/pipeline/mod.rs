//! The pipelined batch path: bounded requests in flight, state written as
//! each request answers, and nothing lost or wrongly written when a
//! request fails in the middle (throughput issue, X-4).

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::{AdapterError, AdapterErrorKind};
use etlify::{BatchSyncOptions, Crm, Etlify};

use crate::support::adapter::BatchRecordingAdapter;
use crate::support::{engine, user_model, TestDb};

async fn users(db: &TestDb, n: usize) {
    for i in 0..n {
        db.insert_user(&format!("u{i:03}@x.io"), None).await;
    }
}

/// The record locks held, once there are `at_least` of them or after 5 s
/// (then fewer): a page's lock is taken when it is prepared.
async fn record_locks_reaching(db: &TestDb, at_least: i64) -> i64 {
    db.count_reaching("SELECT COUNT(*) FROM etlify_record_leases", at_least)
        .await
}

async fn engine_with(db: &TestDb, adapter: Arc<BatchRecordingAdapter>, in_flight: usize) -> Etlify {
    engine(
        db,
        vec![Crm::new("hubspot", adapter).max_in_flight(in_flight)],
        vec![user_model(&["hubspot"])],
    )
    .await
}

/// A batch run in pages of `size` that returns no run error.
async fn run_in_pages_of(etlify: &Etlify, size: usize) -> etlify::RunStats {
    etlify
        .batch_sync(&BatchSyncOptions::new().batch_size(size))
        .await
        .unwrap()
}

/// Sync-row writes made slow (a trigger doing work for every row written),
/// so that the CRM's answers come faster than their rows are written.
async fn slow_sync_row_writes(db: &TestDb) {
    if db.is_postgres() {
        db.exec(
            "CREATE FUNCTION slow_sync_row_write() RETURNS trigger AS $$ \
             BEGIN PERFORM pg_sleep(0.005); RETURN NEW; END $$ LANGUAGE plpgsql",
        )
        .await;
        db.exec(
            "CREATE TRIGGER slow_sync_row_writes BEFORE INSERT ON crm_synchronisations \
             FOR EACH ROW EXECUTE FUNCTION slow_sync_row_write()",
        )
        .await;
        // Statements counted (SQLite has no statement triggers; there, the
        // rows of one statement share their `updated_at`).
        db.exec("CREATE TABLE sync_row_writes (statements integer)")
            .await;
        db.exec(
            "CREATE FUNCTION count_sync_row_write() RETURNS trigger AS $$ \
             BEGIN INSERT INTO sync_row_writes VALUES (1); RETURN NULL; END $$ LANGUAGE plpgsql",
        )
        .await;
        db.exec(
            "CREATE TRIGGER count_sync_row_writes AFTER INSERT ON crm_synchronisations \
             FOR EACH STATEMENT EXECUTE FUNCTION count_sync_row_write()",
        )
        .await;
    } else if db.is_mysql() {
        // MySQL has no statement triggers either; `UTC_TIMESTAMP(6)` is
        // the statement's time, so there too the rows of one statement
        // share their `updated_at`.
        db.exec(
            "CREATE TRIGGER slow_sync_row_writes BEFORE INSERT ON crm_synchronisations \
             FOR EACH ROW DO SLEEP(0.005)",
        )
        .await;
    } else {
        db.exec(
            "CREATE TRIGGER slow_sync_row_writes BEFORE INSERT ON crm_synchronisations BEGIN \
             SELECT COUNT(*) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 \
             FROM c WHERE x < 20000) SELECT x FROM c); END",
        )
        .await;
    }
}

/// A CRM answering at once and sync-row writes lagging behind: 100
/// records in pages of `page_size`, requests of ten, one in flight.
/// Returns the record locks (open pages) seen as each request started.
async fn run_with_writes_behind_answers(db: &Arc<TestDb>, page_size: usize) -> Vec<i64> {
    users(db, 100).await;
    slow_sync_row_writes(db).await;
    let adapter = BatchRecordingAdapter::new(10);
    let locks_seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let (db, locks_seen) = (db.clone(), locks_seen.clone());
        *adapter.during_batch.lock().unwrap() = Some(Arc::new(move || {
            let (db, locks_seen) = (db.clone(), locks_seen.clone());
            Box::pin(async move {
                let locks = db
                    .scalar_i64("SELECT COUNT(*) FROM etlify_record_leases")
                    .await;
                locks_seen.lock().unwrap().push(locks);
            })
        }));
    }
    let etlify = engine_with(db, adapter.clone(), 1).await;
    let stats = run_in_pages_of(&etlify, page_size).await;
    assert_eq!(stats.outcomes.synced, 100);
    assert_eq!(db.sync_row_count().await, 100);
    assert_eq!(adapter.batch_calls().len(), 10);
    let seen = locks_seen.lock().unwrap().clone();
    seen
}

// The database tests, compiled once per backend: `pipeline::sqlite::…` and
// `pipeline::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
