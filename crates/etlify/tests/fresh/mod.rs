//! Changes within seconds: a worker whose interval is an hour still sends
//! a change committed by the application within seconds, through
//! PostgreSQL's change triggers (`etlify migrate --triggers`) or by
//! polling (`ChangeWatch::Poll`); bursts are coalesced; the triggers go
//! away with a revert; a lost listener connection is opened again.

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::{HubSpotAdapter, HubSpotConfig};
use etlify::jobs::{JobQueue, QueueOptions};
use etlify::{ChangeWatch, ChangeWatchCounts, Crm, Etlify, WorkerOptions};
use etlify_sandbox::{RunningSandbox, Sandbox, SandboxConfig, DEFAULT_HUBSPOT_TOKEN};

use crate::support::adapter::RecordingAdapter;
use crate::support::worker::{engine_with_queue, eventually, start_worker};
use crate::support::{user_model, TestDb};

/// How often a test checks what it waits for.
const POLL: Duration = Duration::from_millis(20);

/// Far longer than any test: what the worker sends within a test, it
/// sent because it learned of a change, not because its interval came.
const AN_HOUR: Duration = Duration::from_secs(3600);

/// How long a change may take to reach the CRM in a test (a loaded
/// machine), still far below the interval.
const WITHIN: Duration = Duration::from_secs(30);

fn fast_queue() -> QueueOptions {
    QueueOptions::new()
        .poll_interval(Duration::from_millis(50))
        .heartbeat(Duration::from_secs(1))
}

async fn sandbox() -> RunningSandbox {
    let mut config = SandboxConfig::default();
    config.hubspot.rate_limits.enabled = false;
    Sandbox::start(config).await.expect("sandbox starts")
}

fn hubspot(sandbox: &RunningSandbox) -> Crm {
    Crm::new(
        "hubspot",
        Arc::new(
            HubSpotAdapter::new(
                HubSpotConfig::new(DEFAULT_HUBSPOT_TOKEN)
                    .base_url(sandbox.hubspot_base_url())
                    .search_requests_per_second(1_000),
            )
            .unwrap(),
        ),
    )
}

/// The full name the sandbox holds for the contact `email`.
fn full_name_in_sandbox(sandbox: &RunningSandbox, email: &str) -> Option<String> {
    sandbox
        .admin()
        .hubspot_objects("contacts")
        .unwrap_or_default()
        .into_iter()
        .find(|contact| contact.properties.get("email").map(String::as_str) == Some(email))
        .and_then(|contact| contact.properties.get("full_name").cloned())
}

async fn stale_users(db: &TestDb) -> i64 {
    db.scalar_i64(
        "SELECT COUNT(*) FROM users u LEFT JOIN crm_synchronisations s \
         ON s.resource_id = u.id AND s.resource_type = 'User' AND s.crm_name = 'hubspot' \
         WHERE s.id IS NULL OR s.last_synced_at IS NULL OR s.last_synced_at < u.updated_at",
    )
    .await
}

/// Tasks apalis holds for `queue` (done ones included): batch jobs run.
async fn queue_tasks(db: &TestDb, queue: &JobQueue) -> i64 {
    let table = if db.is_postgres() {
        "apalis.jobs"
    } else if db.is_mysql() {
        "etlify_queue_jobs"
    } else {
        "Jobs"
    };
    db.scalar_i64(&format!(
        "SELECT COUNT(*) FROM {table} WHERE job_type = '{}'",
        queue.options().get_name()
    ))
    .await
}

/// The worker's queue is idle: no job queued or running.
async fn queue_idle(etlify: &Etlify) -> bool {
    let counts = etlify.job_counts().await.unwrap();
    counts.queued == 0 && counts.running == 0
}

/// An engine syncing the users to a recording adapter, without a queue.
async fn users_engine(db: &TestDb) -> Etlify {
    crate::support::engine(
        db,
        vec![Crm::new("hubspot", RecordingAdapter::new())],
        vec![user_model(&["hubspot"])],
    )
    .await
}

/// Triggers calling the function, and functions of that name, in the
/// test's schema.
async fn triggers_and_functions(db: &TestDb) -> (i64, i64) {
    let triggers = db
        .scalar_i64(
            "SELECT COUNT(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             WHERE c.relnamespace = current_schema()::regnamespace AND t.tgname = 'etlify_changes'",
        )
        .await;
    let functions = db
        .scalar_i64(
            "SELECT COUNT(*) FROM pg_proc WHERE proname = 'etlify_notify_change' \
             AND pronamespace = current_schema()::regnamespace",
        )
        .await;
    (triggers, functions)
}

/// What [`ada_sent_and_watched`] set up.
struct AdaWatched {
    user: i64,
    installed: etlify::TriggerChanges,
    worker: crate::support::worker::RunningWorker,
}

/// Ada in the users, an engine sending them to `sandbox` through a
/// queue, its change triggers installed, and a worker whose interval is
/// an hour watching as `watch` says, once it sent Ada (its loop's first
/// request) and watches.
async fn ada_sent_and_watched(
    db: &TestDb,
    sandbox: &RunningSandbox,
    watch: ChangeWatch,
) -> AdaWatched {
    let user = db.insert_user("ada@example.com", None).await;
    let queue = db.job_queue(fast_queue()).await;
    let etlify = engine_with_queue(db, &queue, hubspot(sandbox)).await;
    let installed = etlify.install_change_triggers().await.unwrap();
    let worker = start_worker(
        &etlify,
        &queue,
        WorkerOptions::new().interval(Some(AN_HOUR)).watch(watch),
    );
    eventually(WITHIN, POLL, "the user is in the sandbox", || async {
        full_name_in_sandbox(sandbox, "ada@example.com").is_some()
    })
    .await;
    eventually(WITHIN, POLL, "the worker watches", || async {
        worker.health.change_watch().connections >= 1
    })
    .await;
    AdaWatched {
        user,
        installed,
        worker,
    }
}

/// The acceptance test: a change committed on PostgreSQL reaches the
/// sandbox while the worker's interval is an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_postgres_a_committed_change_reaches_the_sandbox_without_waiting_for_the_interval() {
    let db = TestDb::postgres().await.with_app_schema().await;
    let sandbox = sandbox().await;
    let AdaWatched {
        user,
        installed,
        worker,
    } = ada_sent_and_watched(&db, &sandbox, ChangeWatch::Auto).await;
    assert_eq!(
        installed.added.len(),
        2,
        "users and companies: {installed:?}"
    );

    rename_ada_from_another_connection(&db, &sandbox, user).await;
    assert!(
        worker.health.change_watch().notifications >= 1,
        "{:?}",
        worker.health.change_watch()
    );
    worker.stop().await;
}

/// An engine sending the users to `adapter` through `queue`, its change
/// triggers installed, and a worker whose interval is an hour watching as
/// `watch` says, once its first run synced every user and it watches.
async fn synced_and_watching(
    db: &TestDb,
    queue: &JobQueue,
    adapter: &Arc<RecordingAdapter>,
    watch: ChangeWatch,
) -> (Etlify, crate::support::worker::RunningWorker) {
    let etlify = engine_with_queue(db, queue, Crm::new("hubspot", adapter.clone())).await;
    etlify.install_change_triggers().await.unwrap();
    let worker = start_worker(
        &etlify,
        queue,
        WorkerOptions::new().interval(Some(AN_HOUR)).watch(watch),
    );
    eventually(WITHIN, POLL, "the first run synced every user", || async {
        stale_users(db).await == 0 && queue_idle(&etlify).await
    })
    .await;
    eventually(WITHIN, POLL, "the worker watches", || async {
        worker.health.change_watch().connections >= 1
    })
    .await;
    (etlify, worker)
}

/// A 5,000-row UPDATE in one statement notifies once, is requested once,
/// and runs one batch job (at most one more after one under way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_postgres_a_5000_row_update_notifies_once_and_runs_a_bounded_number_of_batch_jobs() {
    let db = TestDb::postgres().await.with_app_schema().await;
    db.exec(&format!(
        "INSERT INTO users (email, full_name, created_at, updated_at) \
         SELECT 'u' || i || '@x.io', 'User ' || i, {now}, {now} FROM generate_series(1, 5000) AS i",
        now = db.now_sql()
    ))
    .await;
    let queue = db.job_queue(fast_queue()).await;
    let adapter = RecordingAdapter::new();
    let (etlify, worker) = synced_and_watching(&db, &queue, &adapter, ChangeWatch::Auto).await;
    let before = worker.health.change_watch();
    let tasks_before = queue_tasks(&db, &queue).await;

    db.exec(&format!(
        "UPDATE users SET full_name = full_name || '!', updated_at = {}",
        db.now_sql()
    ))
    .await;
    eventually(WITHIN, POLL, "the update is synced", || async {
        stale_users(&db).await == 0 && queue_idle(&etlify).await
    })
    .await;
    let after = worker.health.change_watch();
    assert_eq!(
        after.notifications - before.notifications,
        1,
        "one statement, one notification: {after:?}"
    );
    assert_eq!(after.requests - before.requests, 1, "{after:?}");
    let runs = queue_tasks(&db, &queue).await - tasks_before;
    assert!((1..=2).contains(&runs), "{runs} batch jobs ran");
    assert_eq!(adapter.upserts().len(), 10_000, "every user sent twice");
    worker.stop().await;
}

/// A second install keeps every trigger and has nothing left to run;
/// `installed` are the tables that have one.
async fn assert_installing_again_changes_nothing(
    etlify: &Etlify,
    db: &TestDb,
    installed: Vec<String>,
) {
    let again = etlify.install_change_triggers().await.unwrap();
    assert!(
        again.added.is_empty() && again.removed.is_empty(),
        "{again:?}"
    );
    assert_eq!(again.kept.len(), installed.len());
    assert!(etlify.change_trigger_statements().await.unwrap().is_empty());
    assert_eq!(
        etlify::change_trigger_tables(&db.store).await.unwrap(),
        installed
    );
}

/// Removing the two tables' triggers, or reverting the migration, leaves
/// `left` (what remains of them) at nothing.
async fn assert_removal_and_revert_leave_nothing(
    etlify: &Etlify,
    db: &TestDb,
    left: impl AsyncFn() -> (i64, i64),
) {
    let removed = etlify::remove_change_triggers(&db.store).await.unwrap();
    assert_eq!(removed.len(), 2);
    assert_eq!(left().await, (0, 0));

    etlify.install_change_triggers().await.unwrap();
    etlify::revert_migration(&db.store).await.unwrap();
    assert_eq!(
        left().await,
        (0, 0),
        "reverting the migration removes the triggers too"
    );
}

/// `install_change_triggers` is idempotent, and removing them (or
/// reverting the migration) leaves no trigger and no function.
#[tokio::test]
async fn fresh_postgres_triggers_install_idempotently_and_revert_leaves_nothing() {
    let db = TestDb::postgres().await.with_app_schema().await;
    let etlify = users_engine(&db).await;
    assert_eq!(triggers_and_functions(&db).await, (0, 0));
    let statements = etlify.change_trigger_statements().await.unwrap();
    assert_eq!(statements.len(), 3, "{statements:?}");
    let first = etlify.install_change_triggers().await.unwrap();
    let schema = db.scalar_text("SELECT current_schema()").await.unwrap();
    assert_eq!(
        first.added,
        vec![format!("{schema}.users"), format!("{schema}.companies")]
    );
    assert_eq!(triggers_and_functions(&db).await, (2, 1));
    assert_installing_again_changes_nothing(
        &etlify,
        &db,
        vec![format!("{schema}.companies"), format!("{schema}.users")],
    )
    .await;

    assert_removal_and_revert_leave_nothing(&etlify, &db, async || {
        triggers_and_functions(&db).await
    })
    .await;
}

/// The listener's connection killed by the server: the worker opens it
/// again, and a later change still arrives without the interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_postgres_the_listener_reconnects_after_its_connection_is_killed() {
    let db = TestDb::postgres().await.with_app_schema().await;
    db.insert_user("first@x.io", None).await;
    let queue = db.job_queue(fast_queue()).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine_with_queue(&db, &queue, Crm::new("hubspot", adapter.clone())).await;
    etlify.install_change_triggers().await.unwrap();
    let name = format!("fresh-reconnect-{}", std::process::id());
    let worker = start_worker(
        &etlify,
        &queue,
        WorkerOptions::new().interval(Some(AN_HOUR)).name(&name),
    );
    adapter.upserts_reaching(1).await;
    eventually(WITHIN, POLL, "the worker listens", || async {
        worker.health.change_watch().connections >= 1
    })
    .await;

    let killed = db
        .scalar_i64(&format!(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = 'etlify-changes {name}'"
        ))
        .await;
    assert_eq!(killed, 1, "the listener's session");
    eventually(WITHIN, POLL, "the listener is back", || async {
        worker.health.change_watch().connections >= 2
    })
    .await;
    db.insert_user("later@x.io", None).await;
    eventually(WITHIN, POLL, "the later change is sent", || async {
        adapter
            .upserts()
            .iter()
            .any(|call| call.payload["email"] == "later@x.io")
    })
    .await;
    worker.stop().await;
    // The listener's connection ends with the worker.
    eventually(WITHIN, POLL, "the listener's session is gone", || async {
        db.scalar_i64(&format!(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = 'etlify-changes {name}'"
        ))
        .await
            == 0
    })
    .await;
}

/// Another connection renames Ada; returns once the sandbox has the new
/// name (within [`WITHIN`], far less than the workers' hour).
async fn rename_ada_from_another_connection(db: &TestDb, sandbox: &RunningSandbox, user: i64) {
    let other = db.another_store(1).await;
    let rename = sqlx::AssertSqlSafe(format!(
        "UPDATE users SET full_name = 'Ada Lovelace', updated_at = {} WHERE id = {user}",
        db.now_sql()
    ));
    if let Some(pool) = other.sqlite_pool() {
        sqlx::raw_sql(rename).execute(pool).await.unwrap();
    } else if let Some(pool) = other.postgres_pool() {
        sqlx::raw_sql(rename).execute(pool).await.unwrap();
    } else {
        panic!("the watch tests run on SQLite and PostgreSQL");
    }
    eventually(WITHIN, POLL, "the change is in the sandbox", || async {
        full_name_in_sandbox(sandbox, "ada@example.com").as_deref() == Some("Ada Lovelace")
    })
    .await;
}

/// SQLite's change triggers and their counter table (`etlify_changes`).
async fn sqlite_triggers_and_counter_table(db: &TestDb) -> (i64, i64) {
    let triggers = db
        .scalar_i64(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'etlify_changes%'",
        )
        .await;
    let tables = db
        .scalar_i64(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'etlify_changes'",
        )
        .await;
    (triggers, tables)
}

/// The acceptance test on SQLite: with `etlify migrate --triggers`, a
/// change another connection commits reaches the sandbox while the
/// worker's interval is an hour, seen in the triggers' counters (no
/// finder probe, no `data_version`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_sqlite_triggers_a_committed_change_reaches_the_sandbox_without_waiting_for_the_interval(
) {
    let db = TestDb::sqlite().await.with_app_schema().await;
    let sandbox = sandbox().await;
    let AdaWatched {
        user,
        installed,
        worker,
    } = ada_sent_and_watched(&db, &sandbox, ChangeWatch::Auto).await;
    assert_eq!(
        installed.added,
        vec!["users", "companies", "Jobs"],
        "the models' tables and the queue's: {installed:?}"
    );

    rename_ada_from_another_connection(&db, &sandbox, user).await;
    let watch = worker.health.change_watch();
    assert!(watch.notifications >= 1, "{watch:?}");
    assert_eq!(
        (watch.polls, watch.probes),
        (0, 0),
        "counters, not data_version and the finder: {watch:?}"
    );
    worker.stop().await;
}

/// With the triggers on the queue's table, a job another process queues
/// wakes the worker's fetch: its own poll and its heartbeats (an hour
/// here) never come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_sqlite_triggers_a_job_queued_by_another_process_wakes_the_workers_fetch() {
    let db = TestDb::sqlite().await.with_app_schema().await;
    db.insert_user("first@x.io", None).await;
    let queue = db
        .job_queue(
            // apalis fetches after each heartbeat too: neither comes.
            QueueOptions::new()
                .poll_interval(AN_HOUR)
                .heartbeat(AN_HOUR),
        )
        .await;
    let adapter = RecordingAdapter::new();
    let etlify = engine_with_queue(&db, &queue, Crm::new("hubspot", adapter.clone())).await;
    etlify.install_change_triggers().await.unwrap();
    // No interval loop: the worker runs only what it fetches.
    let worker = start_worker(&etlify, &queue, WorkerOptions::new().interval(None));
    let other_queue = db.another_handle_of(&queue).await;
    let other = crate::support::builder(
        db.another_store(1).await,
        vec![Crm::new("hubspot", RecordingAdapter::new())],
        vec![user_model(&["hubspot"])],
    )
    .queue(other_queue)
    .build()
    .await
    .unwrap();
    let request_from_the_other_process = async || {
        other
            .batch_sync_async(&etlify::BatchSyncOptions::new())
            .await
            .unwrap();
    };
    // The first job may meet the worker's first fetch, at its start.
    request_from_the_other_process().await;
    adapter.upserts_reaching(1).await;
    eventually(WITHIN, POLL, "the first job is done", || async {
        done_tasks(&db, &queue).await == 1 && queue_idle(&etlify).await
    })
    .await;
    let before = worker.health.change_watch();

    // The second only through a wake: nothing else fetches any more.
    request_from_the_other_process().await;
    eventually(WITHIN, POLL, "the second job is done", || async {
        done_tasks(&db, &queue).await == 2
    })
    .await;
    let after = worker.health.change_watch();
    assert!(after.queue_wakes > before.queue_wakes, "{after:?}");
    worker.stop().await;
}

/// SQLite's counters read because the database's files changed: a change
/// another connection commits reaches the sandbox although the worker's
/// safety poll (its `ChangeWatch::Poll` period here) is an hour, like its
/// interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_sqlite_triggers_a_change_reaches_the_sandbox_without_waiting_for_the_safety_poll() {
    let db = TestDb::sqlite().await.with_app_schema().await;
    let sandbox = sandbox().await;
    let AdaWatched { user, worker, .. } =
        ada_sent_and_watched(&db, &sandbox, ChangeWatch::Poll(AN_HOUR)).await;

    rename_ada_from_another_connection(&db, &sandbox, user).await;
    let watch = worker.health.change_watch();
    assert!(watch.notifications >= 1, "{watch:?}");
    assert!(watch.file_wakes >= 1, "{watch:?}");
    worker.stop().await;
}

/// The queue's heartbeats write to the database's files and wake the
/// counters' reader, but move no counter of a table the models read: no
/// batch job is requested or run for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_sqlite_triggers_the_workers_own_heartbeats_start_no_run() {
    let db = TestDb::sqlite().await.with_app_schema().await;
    db.insert_user("first@x.io", None).await;
    // A heartbeat every second: several within the test.
    let queue = db.job_queue(fast_queue()).await;
    let adapter = RecordingAdapter::new();
    let (_engine, worker) =
        synced_and_watching(&db, &queue, &adapter, ChangeWatch::Poll(AN_HOUR)).await;
    let before = worker.health.change_watch();
    let tasks_before = queue_tasks(&db, &queue).await;
    let upserts_before = adapter.upserts().len();

    eventually(WITHIN, POLL, "three heartbeats woke the reader", || async {
        worker.health.change_watch().file_wakes >= before.file_wakes + 3
    })
    .await;
    let after = worker.health.change_watch();
    assert_eq!(
        (after.notifications, after.requests),
        (before.notifications, before.requests),
        "{after:?}"
    );
    assert_eq!(queue_tasks(&db, &queue).await, tasks_before, "no batch job");
    assert_eq!(adapter.upserts().len(), upserts_before);
    worker.stop().await;
}

/// Tasks apalis ended for `queue` (SQLite's `Jobs`).
async fn done_tasks(db: &TestDb, queue: &JobQueue) -> i64 {
    db.scalar_i64(&format!(
        "SELECT COUNT(*) FROM Jobs WHERE job_type = '{}' AND done_at IS NOT NULL",
        queue.options().get_name()
    ))
    .await
}

/// `install_change_triggers` on SQLite is idempotent, and removing them
/// (or reverting the migration) leaves no trigger and no counter table.
#[tokio::test]
async fn fresh_sqlite_triggers_install_idempotently_and_revert_leaves_nothing() {
    let db = TestDb::sqlite().await.with_app_schema().await;
    let etlify = users_engine(&db).await;
    assert_eq!(sqlite_triggers_and_counter_table(&db).await, (0, 0));
    let first = etlify.install_change_triggers().await.unwrap();
    assert_eq!(first.added, vec!["users", "companies"]);
    // INSERT, UPDATE and DELETE on each table.
    assert_eq!(sqlite_triggers_and_counter_table(&db).await, (6, 1));
    assert_installing_again_changes_nothing(
        &etlify,
        &db,
        vec!["companies".to_owned(), "users".to_owned()],
    )
    .await;
    // A write to a watched table moves its counter, in the same
    // transaction.
    db.insert_user("counted@x.io", None).await;
    assert_eq!(
        db.scalar_i64("SELECT changes FROM etlify_changes WHERE table_name = 'users'")
            .await,
        1
    );

    assert_removal_and_revert_leave_nothing(&etlify, &db, async || {
        sqlite_triggers_and_counter_table(&db).await
    })
    .await;
}

// The database tests, compiled once per backend: `fresh::sqlite::…` and
// `fresh::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
