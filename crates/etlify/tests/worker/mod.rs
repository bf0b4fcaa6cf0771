//! The worker on the built-in queue (apalis on the test's database): it
//! runs the jobs the application enqueues, follows the database on its
//! own with the continuous loop, and shuts down gracefully (in-flight
//! requests finish, the rest goes back to the queue, locks are released).
//! Multi-process runs are in `crates/etlify-cli/tests/scaleout.rs`.

use std::sync::Arc;
use std::time::Duration;

use etlify::jobs::{Enqueued, JobQueue, QueueOptions};
use etlify::{Crm, Etlify, SyncDispatch, WorkerOptions};

use crate::support::adapter::{BatchRecordingAdapter, RecordingAdapter};
use crate::support::worker::{engine_with_queue, eventually, start_worker, RunningWorker};
use crate::support::{engine, user_model, TestDb};

/// How often a test checks what it waits for.
const POLL: Duration = Duration::from_millis(100);

async fn stale_users(db: &TestDb) -> i64 {
    db.scalar_i64(
        "SELECT COUNT(*) FROM users u LEFT JOIN crm_synchronisations s \
         ON s.resource_id = u.id AND s.resource_type = 'User' AND s.crm_name = 'hubspot' \
         WHERE s.id IS NULL OR s.last_synced_at IS NULL OR s.last_synced_at < u.updated_at",
    )
    .await
}

/// Waits until `adapter` has received an upsert (a sync is under way).
async fn upserting(adapter: &RecordingAdapter, within: Duration, what: &str) {
    tokio::time::timeout(within, adapter.upserts_reaching(1))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting until {what}"));
}

/// A worker running `queue`'s batch job of the CRM `hubspot` (batches of
/// 100, each answered after `answer_after`), once its first requests are
/// in flight.
async fn batch_job_under_way(
    db: &TestDb,
    queue: &JobQueue,
    answer_after: Duration,
) -> (Etlify, Arc<BatchRecordingAdapter>, RunningWorker) {
    let adapter = BatchRecordingAdapter::new(100);
    adapter.delay_batches(answer_after);
    let etlify = engine_with_queue(db, queue, Crm::new("hubspot", adapter.clone())).await;
    etlify
        .batch_sync_async(&etlify::BatchSyncOptions::new())
        .await
        .unwrap();
    let worker = start_worker(&etlify, queue, WorkerOptions::new().interval(None));
    // The batch job's first requests are in flight.
    adapter.batch_calls_reaching(1).await;
    (etlify, adapter, worker)
}

/// An inline sync of `user` with the CRM `other` (not the worker's), in a
/// task of this process, holding its record lock for `lasting`.
async fn other_sync_under_way(
    db: &TestDb,
    user: i64,
    lasting: Duration,
) -> tokio::task::JoinHandle<etlify::Result<etlify::SyncOutcome>> {
    let slow = RecordingAdapter::new();
    slow.delay_upserts(lasting);
    let inline = engine(
        db,
        vec![Crm::new("other", slow.clone())],
        vec![user_model(&["other"])],
    )
    .await;
    let running =
        tokio::spawn(async move { inline.synchronizer().call("other", "User", user).await });
    upserting(
        &slow,
        Duration::from_secs(10),
        "the other sync is under way",
    )
    .await;
    running
}

/// The queue's table of tasks: `Jobs` on SQLite, `apalis.jobs` on
/// PostgreSQL, `etlify_queue_jobs` on MySQL.
fn apalis_jobs_table(db: &TestDb) -> &'static str {
    match db.pool {
        crate::support::TestPool::Sqlite(_) => "Jobs",
        crate::support::TestPool::Postgres(_) => "apalis.jobs",
        crate::support::TestPool::Mysql(_) => "etlify_queue_jobs",
    }
}

/// Tasks apalis holds for `queue`: those with `status` (`Some("Failed")`:
/// deliveries it recorded as failed), or all of them.
async fn queue_tasks(db: &TestDb, queue: &JobQueue, status: Option<&str>) -> i64 {
    let table = apalis_jobs_table(db);
    let status = status.map_or(String::new(), |s| format!(" AND status = '{s}'"));
    db.scalar_i64(&format!(
        "SELECT COUNT(*) FROM {table} WHERE job_type = '{}'{status}",
        queue.options().get_name()
    ))
    .await
}

/// A queue whose workers would poll it only once an hour (apalis also
/// fetches after each heartbeat): what starts a job sooner is a wake-up.
fn idle_for_an_hour() -> QueueOptions {
    QueueOptions::new()
        .poll_interval(Duration::from_secs(3600))
        .heartbeat(Duration::from_secs(3600))
}

/// PostgreSQL: a job another process queues wakes the worker through
/// apalis's insert notification: with a poll interval of an hour, it runs
/// at once. (On SQLite another process's job waits for the poll: the
/// default period is a second.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_fresh_a_job_another_process_enqueues_starts_without_waiting_for_the_poll_interval(
) {
    let db = TestDb::postgres().await.with_app_schema().await;
    let queue = db.job_queue(idle_for_an_hour()).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine_with_queue(&db, &queue, Crm::new("hubspot", adapter.clone())).await;
    let worker = start_worker(&etlify, &queue, WorkerOptions::new().interval(None));
    let other_process = engine_with_queue(
        &db,
        &db.another_handle_of(&queue).await,
        Crm::new("hubspot", adapter.clone()),
    )
    .await;
    // The worker's first fetches are done: it waits.
    let first = db.insert_user("first@x.io", None).await;
    etlify.sync("hubspot", "User", first).await.unwrap();
    eventually(
        Duration::from_secs(20),
        POLL,
        "the first user is synced",
        || async { !db.user_is_stale("hubspot", first).await },
    )
    .await;

    let user = db.insert_user("other@x.io", None).await;
    let dispatch = other_process.sync("hubspot", "User", user).await.unwrap();
    assert!(
        matches!(dispatch, SyncDispatch::Enqueued(_)),
        "{dispatch:?}"
    );
    eventually(
        Duration::from_secs(20),
        POLL,
        "the user the other process enqueued is synced",
        || async { !db.user_is_stale("hubspot", user).await },
    )
    .await;
    worker.stop().await;
}

fn fast_queue() -> QueueOptions {
    QueueOptions::new()
        .poll_interval(Duration::from_millis(50))
        .heartbeat(Duration::from_secs(1))
}

/// SQLite: a stop while apalis's fetch waits on the database's write lock
/// (another writer holds it) still lets the running page be recorded at
/// once. apalis, once stopping, leaves a fetch it had under way undriven;
/// that fetch's transaction, once it got the lock, kept it against the
/// page's writes until their busy timeout failed them. The worker now
/// tells apalis only when its jobs have ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_worker_stop_while_a_queue_fetch_waits_on_the_write_lock_records_the_page() {
    let db = TestDb::sqlite().await.with_app_schema().await;
    for i in 0..300 {
        db.insert_user(&format!("u{i}@x.io"), None).await;
    }
    let queue = db
        .job_queue(
            QueueOptions::new()
                .poll_interval(Duration::from_millis(10))
                .heartbeat(Duration::from_secs(5)),
        )
        .await;
    let (_etlify, adapter, worker) =
        batch_job_under_way(&db, &queue, Duration::from_millis(1500)).await;

    // Another writer holds the lock: the queue's next fetch waits on it.
    let crate::support::TestPool::Sqlite(pool) = &db.pool else {
        unreachable!("a SQLite test database")
    };
    let mut writer = pool.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *writer)
        .await
        .unwrap();
    // Time for the queue's fetch to reach the lock, then for the stop to
    // reach the worker: apalis shows neither waiting. Were either later,
    // the stop would come before the fetch waits, a case the test then
    // checks too.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped = tokio::spawn(worker.stop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    sqlx::query("ROLLBACK").execute(&mut *writer).await.unwrap();
    drop(writer);

    let took = stopped.await.unwrap();
    assert!(took < Duration::from_secs(8), "stopped in {took:?}");
    let sent: usize = adapter.batch_calls().iter().map(Vec::len).sum();
    assert_eq!(sent, 300, "the page was under way");
    assert_eq!(
        stale_users(&db).await,
        0,
        "what the CRM answered is recorded"
    );
}

// The database tests, compiled once per backend: `worker::sqlite::…` and
// `worker::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
