//! The tests of `leases` that run on each backend. This file is compiled
//! twice, as `leases::sqlite` and `leases::postgres` (`mod.rs`); `BACKEND`
//! is this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

/// The shortest time to live a store accepts.
const SHORT_TTL: Duration = Duration::from_secs(3);

/// Issue 26, item 3: with the default settings a batch run's locks (the
/// CRM's lease, its page's) would end within 15 s if its process died now:
/// no lock outlives its holder by more, so a killed worker's CRM is taken
/// over within 20 s (a waiting batch job comes back when the lease ends).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_a_batch_runs_locks_outlive_its_death_by_at_most_15_s_by_default() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    users(&db, 30).await;
    let adapter = BatchRecordingAdapter::new(10);
    let answer = adapter.hold_batches();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let run = tokio::spawn(async move { etlify.batch_sync(&BatchSyncOptions::new()).await });
    adapter.batch_calls_reaching(1).await;

    assert_eq!(live_leases(&db).await, 2, "the CRM's lease and the page's");
    assert_eq!(
        leases_expiring_after(&db, 15).await,
        0,
        "no lock outlives its holder by more than 15 s"
    );

    answer.open();
    let done = run.await.unwrap().unwrap();
    assert!(done.is_complete());
    assert_eq!(done.outcomes.synced, 30);
}

/// Issue 26, item 3: a live holder whose CRM request outlasts the lease's
/// time to live keeps its CRM and its page: the locks are renewed beside
/// the request, not between requests, so another engine cannot take them
/// meanwhile; every record is sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_a_slow_live_holder_keeps_its_crm_through_a_request_longer_than_the_ttl() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    users(&db, 30).await;
    let adapter = BatchRecordingAdapter::new(10);
    let answer = adapter.hold_batches();
    let store = db.another_store(4).await.with_lease_ttl(SHORT_TTL);
    let holder = hubspot_users_on(store, adapter.clone()).await;
    let other_adapter = BatchRecordingAdapter::new(10);
    let store = db.another_store(4).await.with_lease_ttl(SHORT_TTL);
    let other = hubspot_users_on(store, other_adapter.clone()).await;

    let run = tokio::spawn(async move { holder.batch_sync(&BatchSyncOptions::new()).await });
    adapter.batch_calls_reaching(1).await;
    // The request waits until the leases taken before it would have
    // expired without renewal (by the database's clock).
    mark_expiry_times(&db, "probe_first_expiry").await;
    assert_eq!(marks_in_the_future(&db, "probe_first_expiry").await, 2);
    until_marks_passed(&db, "probe_first_expiry").await;
    assert!(!run.is_finished(), "the request still waits on the CRM");

    assert_eq!(live_leases(&db).await, 2, "both locks renewed meanwhile");
    let refused = other.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(refused.busy, ["hubspot"]);
    assert_eq!(records_sent(&other_adapter), 0);

    answer.open();
    let done = run.await.unwrap().unwrap();
    assert!(done.is_complete());
    assert_eq!(done.outcomes.synced, 30);
    assert_eq!(records_sent(&adapter), 30, "each record sent once");
    let after = other.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(after.busy.is_empty());
    assert_eq!(after.total, 0, "nothing left to send");
}

/// Issue 26, item 3: a holder killed in the middle of a request (its
/// process gone: no renewal, no release) keeps its CRM only until its
/// time to live has passed, by the database's clock; then another engine
/// takes the CRM over and sends every record once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_a_killed_holders_crm_is_taken_over_once_its_ttl_passed() {
    let ttl = Duration::from_secs(6);
    let db = TestDb::new(BACKEND).await;
    let db = Arc::new(db.with_app_schema().await);
    users(&db, 30).await;
    let doomed = BatchRecordingAdapter::new(10);
    let _never_answered = doomed.hold_batches();
    let holder = RunInAnotherProcess::start(db.clone(), doomed.clone(), ttl);
    let adapter = BatchRecordingAdapter::new(10);
    let survivor = hubspot_users(&db, adapter.clone()).await;
    doomed.batch_calls_reaching(1).await;

    holder.kill().await;
    assert_eq!(
        leases_expiring_after(&db, ttl.as_secs()).await,
        0,
        "the dead holder's locks end within its time to live"
    );
    mark_expiry_times(&db, "probe_dead_expiry").await;
    let right_after = survivor.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(right_after.busy, ["hubspot"], "not before its time to live");

    // Runs until one takes the CRM and finds no record held (the dead
    // holder's page may expire a moment after its CRM's lease).
    let deadline = Instant::now() + EXPECTED_WITHIN;
    let mut synced = 0;
    let done = loop {
        let stats = survivor.batch_sync(&BatchSyncOptions::new()).await.unwrap();
        synced += stats.outcomes.synced;
        if stats.busy.is_empty() && stats.deferred == 0 {
            break stats;
        }
        assert!(
            Instant::now() < deadline,
            "the dead holder's CRM was not taken over within {EXPECTED_WITHIN:?}: {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        marks_in_the_future(&db, "probe_dead_expiry").await,
        0,
        "taken over once the dead holder's locks had expired"
    );
    assert!(done.is_complete());
    assert_eq!(synced, 30);
    assert_eq!(records_sent(&adapter), 30, "each record sent once");
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM crm_synchronisations WHERE crm_id IS NOT NULL")
            .await,
        30
    );
}

/// Issue 26, item 3: a holder whose page lock was taken over by another
/// process (its renewal found the row gone; a process paused longer than
/// the time to live meets the same) sends nothing more under it: the
/// request under way finishes and is recorded, the next one is not sent,
/// and the run ends with an error of kind `Incomplete`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_a_holder_whose_page_lock_was_taken_over_sends_nothing_more() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    users(&db, 30).await;
    let adapter = BatchRecordingAdapter::new(10);
    let answer = adapter.hold_batches();
    let store = db.another_store(4).await.with_lease_ttl(SHORT_TTL);
    let crm = etlify::Crm::new("hubspot", adapter.clone()).max_in_flight(1);
    let holder = engine_on(store, vec![crm], vec![user_model(&["hubspot"])]).await;
    let run = tokio::spawn(async move { holder.batch_sync(&BatchSyncOptions::new()).await });
    adapter.batch_calls_reaching(1).await;

    // Another process takes the page's range over, then a whole time to
    // live passes (by the database's clock): no renewal can have kept it.
    db.exec("UPDATE etlify_record_leases SET owner = 'another-process'")
        .await;
    db.exec(&format!(
        "CREATE TABLE probe_taken_over AS SELECT {} AS expires_at",
        now_plus(&db, SHORT_TTL.as_secs())
    ))
    .await;
    until_marks_passed(&db, "probe_taken_over").await;

    answer.open();
    let ended = run.await.unwrap().unwrap_err();
    assert_eq!(ended.kind(), etlify::ErrorKind::Incomplete, "{ended}");
    assert_eq!(records_sent(&adapter), 10, "only the request under way");
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM crm_synchronisations WHERE crm_id IS NOT NULL")
            .await,
        10,
        "its answer recorded"
    );
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM etlify_record_leases WHERE owner = 'another-process'")
            .await,
        1,
        "the other process's lock left alone"
    );
}

/// Issue 26, item 3 (G-10): a run whose CRM lease was taken over by
/// another run starts no new page (the page it prepared ahead may still
/// go, under its own lock); it ends with an error of kind `Incomplete`,
/// and the other run's lease is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_a_run_whose_crm_lease_was_taken_over_starts_no_new_page() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    users(&db, 50).await;
    let adapter = BatchRecordingAdapter::new(10);
    let answer = adapter.hold_batches();
    let store = db.another_store(4).await.with_lease_ttl(SHORT_TTL);
    let crm = etlify::Crm::new("hubspot", adapter.clone()).max_in_flight(1);
    let holder = engine_on(store, vec![crm], vec![user_model(&["hubspot"])]).await;
    let run = tokio::spawn(async move {
        holder
            .batch_sync(&BatchSyncOptions::new().batch_size(10))
            .await
    });
    adapter.batch_calls_reaching(1).await;

    db.exec("UPDATE etlify_leases SET owner = 'another-run'")
        .await;
    db.exec(&format!(
        "CREATE TABLE probe_taken_over AS SELECT {} AS expires_at",
        now_plus(&db, SHORT_TTL.as_secs())
    ))
    .await;
    until_marks_passed(&db, "probe_taken_over").await;

    answer.open();
    let ended = run.await.unwrap().unwrap_err();
    assert_eq!(ended.kind(), etlify::ErrorKind::Incomplete, "{ended}");
    let sent = records_sent(&adapter);
    assert!(
        (10..=20).contains(&sent),
        "the page under way and at most the one prepared ahead: {sent}"
    );
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM etlify_leases WHERE owner = 'another-run'")
            .await,
        1
    );
}
