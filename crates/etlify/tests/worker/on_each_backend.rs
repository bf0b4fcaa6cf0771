//! The tests of `worker` that run on each backend. This file is compiled
//! twice, as `worker::sqlite` and `worker::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

/// The worker's loop syncs what the application writes without anything
/// enqueued; `Etlify::sync` enqueues and the worker runs the job; health
/// reports the jobs done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_follows_the_database_and_runs_enqueued_jobs() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    for i in 0..5 {
        db.insert_user(&format!("u{i}@x.io"), None).await;
    }
    let queue = db.job_queue(fast_queue()).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine_with_queue(&db, &queue, Crm::new("hubspot", adapter.clone())).await;
    let worker = start_worker(
        &etlify,
        &queue,
        WorkerOptions::new()
            .concurrency(2)
            .interval(Some(Duration::from_millis(300))),
    );

    eventually(
        Duration::from_secs(30),
        POLL,
        "the loop synced every user",
        || async { stale_users(&db).await == 0 },
    )
    .await;
    assert_eq!(adapter.upserts().len(), 5);

    // A new row is followed without being enqueued.
    db.insert_user("late@x.io", None).await;
    eventually(
        Duration::from_secs(30),
        POLL,
        "the loop synced the new user",
        || async { stale_users(&db).await == 0 },
    )
    .await;

    // An enqueued sync runs on the worker.
    let user = db.insert_user("asked@x.io", None).await;
    let dispatch = etlify.sync("hubspot", "User", user).await.unwrap();
    assert!(
        matches!(
            dispatch,
            SyncDispatch::Enqueued(Enqueued::New | Enqueued::AlreadyQueued)
        ),
        "{dispatch:?}"
    );
    eventually(
        Duration::from_secs(30),
        POLL,
        "the enqueued user is synced",
        || async { !db.user_is_stale("hubspot", user).await },
    )
    .await;
    let health = worker.health.snapshot();
    assert!(health.is_healthy(), "{health:?}");
    assert!(health.done >= 2, "{health:?}");
    assert!(health.last_loop_at.is_some());
    let sent: std::collections::HashSet<_> = adapter
        .upserts()
        .iter()
        .map(|c| c.payload["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sent.len(), 7, "every user sent");

    // A sync of the same process, not the worker's, under way at its stop:
    // a worker that drained its jobs leaves that sync's lock alone.
    let running = other_sync_under_way(&db, user, Duration::from_secs(2)).await;
    worker.stop().await;
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM etlify_record_leases WHERE crm_name = 'other'")
            .await,
        1,
        "the other sync's lock is kept"
    );
    assert_eq!(running.await.unwrap().unwrap(), etlify::SyncOutcome::Synced);
}

/// SIGTERM's path: a stopping worker takes no new page of its batch job,
/// records what its requests in flight answered, and queues the rest; a
/// second worker finishes it. Every record is sent exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_shutdown_finishes_in_flight_requests_and_hands_the_rest_on() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let values: Vec<String> = (0..3000)
        .map(|i| {
            format!(
                "('u{i}@x.io', 'User {i}', {now}, {now})",
                now = db.setup_stamp_sql()
            )
        })
        .collect();
    db.exec(&format!(
        "INSERT INTO users (email, full_name, created_at, updated_at) VALUES {}",
        values.join(", ")
    ))
    .await;
    let queue = db.job_queue(fast_queue()).await;
    let (etlify, adapter, first) =
        batch_job_under_way(&db, &queue, Duration::from_millis(150)).await;
    let took = first.stop().await;
    assert!(took < Duration::from_secs(20), "stopped in {took:?}");
    let sent_by_first: usize = adapter.batch_calls().iter().map(Vec::len).sum();
    assert!(
        (100..3000).contains(&sent_by_first),
        "stopped mid-run: {sent_by_first} sent"
    );
    assert_eq!(
        stale_users(&db).await as usize,
        3000 - sent_by_first,
        "what was answered is recorded, nothing else"
    );
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM etlify_record_leases")
            .await
            + db.scalar_i64("SELECT COUNT(*) FROM etlify_leases").await,
        0,
        "every lock released"
    );
    assert_eq!(
        etlify.job_counts().await.unwrap().queued,
        1,
        "the rest is queued"
    );

    let second = start_worker(&etlify, &queue, WorkerOptions::new().interval(None));
    eventually(
        Duration::from_secs(60),
        POLL,
        "the second worker finished",
        || async { stale_users(&db).await == 0 },
    )
    .await;
    second.stop().await;
    let mut emails: Vec<String> = adapter
        .batch_calls()
        .iter()
        .flatten()
        .map(|(payload, _)| payload["email"].as_str().unwrap().to_owned())
        .collect();
    let total = emails.len();
    emails.sort();
    emails.dedup();
    assert_eq!((total, emails.len()), (3000, 3000), "each record sent once");
}

/// A sync still running at the shutdown deadline is cut off, and the
/// worker deletes its locks at once instead of leaving them to expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_deadline_releases_the_locks_of_syncs_cut_off() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("slow@x.io", None).await;
    let queue = db.job_queue(fast_queue()).await;
    let adapter = RecordingAdapter::new();
    adapter.delay_upserts(Duration::from_secs(120));
    let etlify = engine_with_queue(&db, &queue, Crm::new("hubspot", adapter.clone())).await;
    etlify.sync("hubspot", "User", user).await.unwrap();
    let worker = start_worker(
        &etlify,
        &queue,
        WorkerOptions::new()
            .interval(None)
            .shutdown_timeout(Duration::from_secs(1)),
    );
    let health = worker.health.clone();
    upserting(&adapter, Duration::from_secs(30), "the sync is under way").await;
    assert_eq!(health.snapshot().running, 1);
    // A sync of the same process, not the worker's, under way too.
    let other = other_sync_under_way(&db, user, Duration::from_secs(120)).await;
    let leases = |crm: &'static str| {
        let db = &db;
        async move {
            db.scalar_i64(&format!(
                "SELECT COUNT(*) FROM etlify_record_leases WHERE crm_name = '{crm}'"
            ))
            .await
        }
    };
    assert_eq!((leases("hubspot").await, leases("other").await), (1, 1));
    let took = worker.stop().await;
    assert!(
        took < Duration::from_secs(10),
        "gave up after its deadline: {took:?}"
    );
    assert!(health.snapshot().stopping);
    assert_eq!(
        leases("hubspot").await,
        0,
        "the cut-off sync's lock is released"
    );
    assert_eq!(
        leases("other").await,
        1,
        "the process's other sync keeps its lock"
    );
    assert!(db.user_is_stale("hubspot", user).await, "nothing recorded");
    other.abort();
    let _ = Arc::strong_count(&adapter);
}

/// Jobs the queue delivers while the worker drains are not run (no CRM
/// call, nothing recorded) but queued again for another worker, using
/// none of their deliveries; the draining worker takes no more of them
/// than it has free slots. One delivery may race the close (the running
/// job's slot frees as the drain ends, and apalis polls before it sees
/// the stop): that one is failed back to apalis unrun, using one of its
/// attempts (`JobRunner::requeue_unrun`); every job still runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_drain_hands_back_jobs_delivered_while_stopping() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let first = db.insert_user("first@x.io", None).await;
    let mut later = Vec::new();
    for i in 0..5 {
        later.push(db.insert_user(&format!("later{i}@x.io"), None).await);
    }
    let queue = db.job_queue(fast_queue()).await;
    let adapter = RecordingAdapter::new();
    adapter.delay_upserts(Duration::from_millis(1500));
    let etlify = engine_with_queue(&db, &queue, Crm::new("hubspot", adapter.clone())).await;
    let emails = |adapter: &RecordingAdapter| -> Vec<String> {
        let mut sent: Vec<String> = adapter
            .upserts()
            .iter()
            .map(|c| c.payload["email"].as_str().unwrap().to_owned())
            .collect();
        sent.sort();
        sent
    };
    etlify.sync("hubspot", "User", first).await.unwrap();
    let worker = start_worker(
        &etlify,
        &queue,
        WorkerOptions::new().interval(None).concurrency(2),
    );
    let health = worker.health.clone();
    upserting(
        &adapter,
        Duration::from_secs(30),
        "the first sync is under way",
    )
    .await;
    let stopping = tokio::spawn(worker.stop());
    eventually(
        Duration::from_secs(10),
        POLL,
        "the worker is stopping",
        || {
            let health = health.clone();
            async move { health.snapshot().stopping }
        },
    )
    .await;
    for &user in &later {
        let asked = etlify.sync("hubspot", "User", user).await.unwrap();
        assert!(
            matches!(asked, SyncDispatch::Enqueued(Enqueued::New)),
            "{asked:?}"
        );
    }
    // Polled every 50 ms: delivered to the draining worker meanwhile
    // (the queue's deliveries are not signalled; this is time for ten).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let took = stopping.await.unwrap();
    assert!(took < Duration::from_secs(8), "stopped in {took:?}");
    assert!(
        db.user_recorded_synced("hubspot", first).await,
        "the running job finished"
    );
    for &user in &later {
        assert!(db.user_is_stale("hubspot", user).await, "not run");
    }
    assert_eq!(emails(&adapter), vec!["first@x.io".to_owned()]);
    assert_eq!(health.snapshot().done, 1);
    assert_eq!(etlify.job_counts().await.unwrap().queued, 5, "still queued");
    assert!(
        queue_tasks(&db, &queue, Some("Failed")).await <= 1,
        "handed back as copies, none of their deliveries used but one racing the close: {} failed",
        queue_tasks(&db, &queue, Some("Failed")).await
    );
    assert!(
        queue_tasks(&db, &queue, None).await <= 1 + 5 + 2,
        "at most one job handed back per slot (2), {} tasks",
        queue_tasks(&db, &queue, None).await
    );

    let next = start_worker(&etlify, &queue, WorkerOptions::new().interval(None));
    eventually(
        Duration::from_secs(30),
        POLL,
        "another worker ran them",
        || async {
            let mut stale = 0;
            for &user in &later {
                stale += usize::from(db.user_is_stale("hubspot", user).await);
            }
            stale == 0
        },
    )
    .await;
    next.stop().await;
    let mut expected = vec!["first@x.io".to_owned()];
    expected.extend((0..5).map(|i| format!("later{i}@x.io")));
    expected.sort();
    assert_eq!(emails(&adapter), expected, "each sent once");
}

/// A job this process pushes wakes its worker's fetch: with a poll
/// interval of an hour, each enqueued sync still runs at once (the second
/// is pushed while the worker waits, its first fetches done).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_a_job_this_process_enqueues_starts_without_waiting_for_the_poll_interval() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let queue = db.job_queue(idle_for_an_hour()).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine_with_queue(&db, &queue, Crm::new("hubspot", adapter.clone())).await;
    let worker = start_worker(&etlify, &queue, WorkerOptions::new().interval(None));
    for email in ["first@x.io", "second@x.io"] {
        let user = db.insert_user(email, None).await;
        let dispatch = etlify.sync("hubspot", "User", user).await.unwrap();
        assert!(
            matches!(dispatch, SyncDispatch::Enqueued(_)),
            "{dispatch:?}"
        );
        // Sent is what shows the job ran: whether the row then counts as
        // in sync depends on MySQL's cached list of open transactions
        // (X-1 dates a sync before the ones it lists).
        eventually(
            Duration::from_secs(20),
            POLL,
            "the enqueued user is sent",
            || async {
                adapter
                    .upserts()
                    .iter()
                    .any(|call| call.payload["email"] == email)
            },
        )
        .await;
    }
    assert_eq!(adapter.upserts().len(), 2);
    worker.stop().await;
}
