//! The tests of `concurrency` that run on each backend. This file is compiled
//! twice, as `concurrency::sqlite` and `concurrency::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

/// A per-record sync holds no pooled connection while it waits on the CRM:
/// 4× as many concurrent syncs as connections all complete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_syncs_complete_with_four_times_the_pool_size() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 12).await;
    let adapter = RecordingAdapter::new();
    adapter.delay_upserts(Duration::from_millis(300));
    let etlify = hubspot_users_on(db.another_store(3).await, adapter.clone()).await;

    let mut tasks = Vec::new();
    for id in ids {
        let etlify = etlify.clone();
        tasks.push(tokio::spawn(async move {
            etlify.sync("hubspot", "User", id).await
        }));
    }
    for task in tasks {
        assert_eq!(
            task.await.unwrap().unwrap(),
            SyncDispatch::Completed(SyncOutcome::Synced)
        );
    }
    assert_eq!(adapter.upserts().len(), 12);
}

/// Two engines with their own pools on one database (as two processes
/// would be) sync the same records at once: each record is sent once, the
/// other engine finds it in sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_two_engines_on_one_database_send_each_record_once() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 40).await;
    let adapter = RecordingAdapter::new();
    adapter.delay_upserts(Duration::from_millis(20));
    let first = hubspot_users_on(db.another_store(4).await, adapter.clone()).await;
    let second = hubspot_users_on(db.another_store(4).await, adapter.clone()).await;

    let mut tasks = Vec::new();
    for engine in [first, second] {
        let ids = ids.clone();
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for id in ids {
                outcomes.push(engine.sync("hubspot", "User", id).await.unwrap());
            }
            outcomes
        }));
    }
    let mut synced = 0;
    let mut not_modified = 0;
    for task in tasks {
        for outcome in task.await.unwrap() {
            match outcome {
                SyncDispatch::Completed(SyncOutcome::Synced) => synced += 1,
                SyncDispatch::Completed(SyncOutcome::NotModified) => not_modified += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!((synced, not_modified), (40, 40));
    let sends = sends(&adapter);
    assert_eq!(sends.len(), 40);
    assert!(
        sends.values().all(|n| *n == 1),
        "a record was sent twice: {sends:?}"
    );
}

/// A second batch run of a CRM while one runs (another engine on the same
/// database) returns at once with the CRM marked busy; the first sends
/// everything, nothing is sent twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g10_a_second_batch_run_of_a_crm_finds_it_busy_and_returns_at_once() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    users(&db, 30).await;
    let adapter = BatchRecordingAdapter::new(10);
    let answer = adapter.hold_batches();
    let first = hubspot_users(&db, adapter.clone()).await;
    let second = hubspot_users_on(db.another_store(4).await, adapter.clone()).await;

    let running = tokio::spawn(async move { first.batch_sync(&BatchSyncOptions::new()).await });
    adapter.batch_calls_reaching(1).await;
    let started = std::time::Instant::now();
    let busy = second.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "the second run waited"
    );
    assert_eq!(busy.busy, ["hubspot"]);
    assert_eq!(busy.total, 0);
    assert!(!busy.is_complete());

    answer.open();
    let done = running.await.unwrap().unwrap();
    assert_eq!((done.total, done.outcomes.synced), (30, 30));
    assert!(done.is_complete());
    let sent: usize = adapter.batch_calls().iter().map(Vec::len).sum();
    assert_eq!(sent, 30, "each record sent once");

    // Once the first run is over the CRM is free again.
    let again = second.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(again.busy.is_empty());
}

/// a lease left by a holder that died (expired row) does not block;
/// a live one does, until it is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x10_an_expired_lease_is_taken_over_and_a_live_one_waited_for() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let (past, future) = past_and_future(&db);
    lease_users(&db, user, user, "dead-worker", past).await;
    let outcome =
        tokio::time::timeout(Duration::from_secs(5), etlify.sync("hubspot", "User", user))
            .await
            .expect("an expired lease does not block")
            .unwrap();
    assert_eq!(outcome, SyncDispatch::Completed(SyncOutcome::Synced));

    db.exec(&format!(
        "UPDATE users SET email = 'b@x.io' WHERE id = {user}"
    ))
    .await;
    lease_users(&db, user, user, "live-worker", future).await;
    let waiting = {
        let etlify = etlify.clone();
        tokio::spawn(async move { etlify.sync("hubspot", "User", user).await })
    };
    // What is checked is that nothing happens: for this long, the sync
    // stays waiting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a live lease is waited for");
    assert_eq!(adapter.upserts().len(), 1);
    db.exec("DELETE FROM etlify_record_leases WHERE owner = 'live-worker'")
        .await;
    let outcome = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("released lease is taken")
        .unwrap()
        .unwrap();
    assert_eq!(outcome, SyncDispatch::Completed(SyncOutcome::Synced));
    assert_eq!(adapter.upserts().len(), 2);
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM etlify_record_leases")
            .await,
        0,
        "the lease is released after the sync"
    );
}

/// a per-record sync of a record inside a live batch page's range
/// waits for the page to end; a page's range does not cover ids outside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x8_a_per_record_sync_waits_for_a_page_covering_its_record() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 3).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let (_, future) = past_and_future(&db);
    lease_users(&db, ids[0], ids[1], "another-page", future).await;

    let outside = tokio::time::timeout(
        Duration::from_secs(5),
        etlify.sync("hubspot", "User", ids[2]),
    )
    .await
    .expect("a record outside the page's range does not wait")
    .unwrap();
    assert_eq!(outside, SyncDispatch::Completed(SyncOutcome::Synced));

    let waiting = {
        let etlify = etlify.clone();
        let id = ids[1];
        tokio::spawn(async move { etlify.sync("hubspot", "User", id).await })
    };
    // What is checked is that nothing happens: for this long, the sync
    // stays waiting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "a record in the page's range waits");
    assert_eq!(adapter.upserts().len(), 1);
    db.exec("DELETE FROM etlify_record_leases WHERE owner = 'another-page'")
        .await;
    let outcome = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("synced once the page is over")
        .unwrap()
        .unwrap();
    assert_eq!(outcome, SyncDispatch::Completed(SyncOutcome::Synced));
    assert_eq!(adapter.upserts().len(), 2);
}

/// a batch page leaves a record a live per-record sync holds to the
/// end, sends the others at once, and syncs that record once it is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x8_a_batch_page_syncs_a_record_held_elsewhere_after_its_holder() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 3).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let (_, future) = past_and_future(&db);
    lease_users(&db, ids[1], ids[1], "a-per-record-sync", future).await;

    let run = {
        let etlify = etlify.clone();
        tokio::spawn(async move { etlify.batch_sync(&BatchSyncOptions::new()).await })
    };
    // The free records are sent; then what is checked is that nothing
    // happens: for this long, the run stays waiting for the held one.
    adapter.upserts_reaching(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!run.is_finished(), "the held record is waited for");
    let mut sent: Vec<String> = sends(&adapter).into_keys().collect();
    sent.sort();
    assert_eq!(sent, ["u0@x.io", "u2@x.io"], "the free records went first");
    db.exec("DELETE FROM etlify_record_leases WHERE owner = 'a-per-record-sync'")
        .await;
    let stats = tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("the run ends once the record is free")
        .unwrap()
        .unwrap();
    assert_eq!(stats.outcomes.synced, 3);
    assert_eq!(sends(&adapter).values().sum::<usize>(), 3, "each sent once");
}

/// rows left by a dead page (expired) block nothing and are deleted
/// by the next page that meets them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x10_an_expired_page_lease_blocks_nothing_and_is_cleared() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 3).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let (past, _) = past_and_future(&db);
    lease_users(&db, ids[0], ids[2], "dead-page", past).await;

    let stats = tokio::time::timeout(
        Duration::from_secs(5),
        etlify.batch_sync(&BatchSyncOptions::new()),
    )
    .await
    .expect("an expired page lease does not block")
    .unwrap();
    assert_eq!(stats.outcomes.synced, 3);
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM etlify_record_leases")
            .await,
        0,
        "the dead page's row is gone, the run's own released"
    );
}
