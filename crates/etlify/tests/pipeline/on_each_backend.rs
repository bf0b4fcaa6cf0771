//! The tests of `pipeline` that run on each backend. This file is compiled
//! twice, as `pipeline::sqlite` and `pipeline::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

/// Requests wait on the CRM side by side, never more than the CRM's
/// `max_in_flight`, across page boundaries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_requests_in_flight_reach_but_never_exceed_the_setting() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    users(&db, 120).await;
    let adapter = BatchRecordingAdapter::new(10);
    adapter.delay_batches(Duration::from_millis(40));
    let etlify = engine_with(&db, adapter.clone(), 3).await;
    let stats = run_in_pages_of(&etlify, 25).await;
    assert_eq!(stats.outcomes.synced, 120);
    assert_eq!(
        adapter.batch_calls().len(),
        14,
        "pages of 25, 25, 25, 25, 20"
    );
    assert_eq!(adapter.max_in_flight(), 3);
}

/// Each request's rows are written as it answers, while later requests of
/// the same page wait on the CRM (not once the page is done): with 2 in
/// flight, when request k starts, k - 1 earlier requests have answered,
/// and their rows come while request k is still waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_each_request_is_written_when_it_answers() {
    let db = TestDb::new(BACKEND).await;
    let db = Arc::new(db.with_app_schema().await);
    users(&db, 60).await;
    let adapter = BatchRecordingAdapter::new(10);
    let rows_seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let started = Arc::new(std::sync::atomic::AtomicI64::new(0));
    {
        let (db, rows_seen) = (db.clone(), rows_seen.clone());
        *adapter.during_batch.lock().unwrap() = Some(Arc::new(move || {
            let (db, rows_seen, started) = (db.clone(), rows_seen.clone(), started.clone());
            Box::pin(async move {
                let k = started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let rows = db.sync_rows_reaching(10 * (k - 1)).await;
                rows_seen.lock().unwrap().push((k, rows));
            })
        }));
    }
    let etlify = engine_with(&db, adapter.clone(), 2).await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.outcomes.synced, 60);
    let seen = rows_seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 6, "one page of six requests: {seen:?}");
    for (k, rows) in &seen {
        assert!(
            *rows >= 10 * (k - 1),
            "request {k} waited in vain for the rows of the {} before it: {seen:?}",
            k - 1
        );
    }
}

/// Answers that come while a write is under way are written together by
/// the next one: with pages of three requests, the first request's write
/// is under way when the two others answer, so a page takes two writes at
/// most (of one page's requests: on SQLite, the next page's lock, a write
/// too, waits for the write under way). Rows written by one statement
/// share their `updated_at` on SQLite; PostgreSQL counts statements.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_answers_arriving_during_a_write_share_the_next_one() {
    let db = TestDb::new(BACKEND).await;
    let db = Arc::new(db.with_app_schema().await);
    run_with_writes_behind_answers(&db, 30).await;
    let writes = db
        .scalar_i64(if db.is_postgres() {
            "SELECT COUNT(*) FROM sync_row_writes"
        } else {
            "SELECT COUNT(DISTINCT updated_at) FROM crm_synchronisations"
        })
        .await;
    assert!(
        (2..=8).contains(&writes),
        "ten requests in four pages written by {writes} statements"
    );
}

/// While writes lag behind the CRM's answers, pages are not prepared ahead
/// without end: at most `max_in_flight + 2` pages are open (locked) at
/// once, so memory and the records answered but not yet written stay
/// bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_pages_open_stay_bounded_while_writes_lag_behind_answers() {
    let db = TestDb::new(BACKEND).await;
    let db = Arc::new(db.with_app_schema().await);
    let seen = run_with_writes_behind_answers(&db, 10).await;
    assert!(
        seen.iter().all(|&locks| locks <= 3),
        "at most three pages open at once: {seen:?}"
    );
    assert!(
        seen.iter().any(|&locks| locks >= 2),
        "pages are still prepared ahead: {seen:?}"
    );
}

/// A request failing with a run error in the middle of the pipeline: the
/// requests in flight beside it are answered and written, nothing more is
/// sent, the failed request's records have no row (still stale), every
/// lock is released, and the next run sends exactly the records left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_a_failure_mid_pipeline_loses_nothing_and_writes_no_wrong_row() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    users(&db, 100).await;
    let adapter = BatchRecordingAdapter::new(10);
    adapter.delay_batches(Duration::from_millis(20));
    *adapter.fail_call.lock().unwrap() = Some((
        4,
        AdapterError::new(AdapterErrorKind::Transient, "503 after retries").status(503),
    ));
    let etlify = engine_with(&db, adapter.clone(), 3).await;
    let stats = run_in_pages_of(&etlify, 50).await;
    assert_eq!(stats.interrupted.len(), 1, "{stats:?}");
    assert_eq!(
        stats.outcomes.synced as i64,
        db.sync_row_count().await,
        "records answered before the stop are counted"
    );
    let calls = adapter.batch_calls();
    assert!(
        calls.len() <= 6,
        "at most the in-flight requests after the failure: {} calls",
        calls.len()
    );
    let failed: Vec<String> = calls[3]
        .iter()
        .map(|(p, _)| p["email"].as_str().unwrap().to_owned())
        .collect();
    let answered: usize = calls.len() * 10 - failed.len();
    assert_eq!(db.sync_row_count().await, answered as i64);
    for email in &failed {
        let rows = db
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM crm_synchronisations s JOIN users u ON u.id = s.resource_id \
                 WHERE u.email = '{email}'"
            ))
            .await;
        assert_eq!(rows, 0, "{email} was in the failed request: no row");
    }
    let wrong = db
        .scalar_i64(
            "SELECT COUNT(*) FROM crm_synchronisations s JOIN users u ON u.id = s.resource_id \
             WHERE s.crm_id <> 'crm-' || u.email OR s.last_digest IS NULL",
        )
        .await;
    assert_eq!(wrong, 0, "every written row has its own CRM id and digest");
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM etlify_record_leases")
            .await,
        0,
        "no lock left behind"
    );

    let again = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(again.is_complete());
    assert_eq!(again.outcomes.synced, 100 - answered);
    assert_eq!(db.sync_row_count().await, 100);
}

/// Two CRMs of one run go side by side (their rate limits are
/// independent): with one request in flight each, requests of both are
/// seen waiting at once; each CRM gets every record once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_two_crms_run_side_by_side() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    users(&db, 30).await;
    let waiting = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let adapter = || {
        let adapter = BatchRecordingAdapter::new(10);
        let (waiting, most) = (waiting.clone(), most.clone());
        *adapter.during_batch.lock().unwrap() = Some(Arc::new(move || {
            let (waiting, most) = (waiting.clone(), most.clone());
            Box::pin(async move {
                let now = waiting.fetch_add(1, SeqCst) + 1;
                most.fetch_max(now, SeqCst);
                // A CRM slow to answer: the latency is the condition under
                // which requests of both CRMs can be seen waiting at once.
                tokio::time::sleep(Duration::from_millis(50)).await;
                waiting.fetch_sub(1, SeqCst);
            })
        }));
        adapter
    };
    let (hubspot, airtable) = (adapter(), adapter());
    let etlify = engine(
        &db,
        vec![
            Crm::new("hubspot", hubspot.clone()).max_in_flight(1),
            Crm::new("airtable", airtable.clone()).max_in_flight(1),
        ],
        vec![user_model(&["hubspot", "airtable"])],
    )
    .await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.per_crm["hubspot"].synced, 30);
    assert_eq!(stats.per_crm["airtable"].synced, 30);
    assert_eq!(stats.total, 60);
    assert_eq!(hubspot.batch_calls().len(), 3);
    assert_eq!(airtable.batch_calls().len(), 3);
    assert_eq!(
        most.load(SeqCst),
        2,
        "both CRMs had a request waiting at once"
    );
}

/// The page of a run that died holding it (a SIGKILLed worker): a batch
/// run does not send its records one request each while their lock lives;
/// it leaves them stale and no checkpoint, and the run after the lock
/// expired sends them in batches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_a_dead_runs_page_is_left_for_the_next_run() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    users(&db, 60).await;
    // A lease on users 1..=45 of a process that no longer renews it.
    db.exec(
        "INSERT INTO etlify_record_leases (crm_name, resource_type, first_id, last_id, owner, expires_at) \
         VALUES ('hubspot', 'User', 1, 45, 'a-dead-worker', '2999-01-01 00:00:00')",
    )
    .await;
    let adapter = BatchRecordingAdapter::new(100);
    let etlify = engine_with(&db, adapter.clone(), 2).await;
    let stats = run_in_pages_of(&etlify, 30).await;
    assert_eq!(stats.deferred, 45, "30 of the first page, 15 of the second");
    assert!(!stats.is_complete());
    assert!(
        adapter.single.upserts().is_empty(),
        "no record of the dead pages sent alone"
    );
    let stale = db
        .scalar_i64(
            "SELECT COUNT(*) FROM users u LEFT JOIN crm_synchronisations s \
             ON s.resource_id = u.id AND s.resource_type = 'User' AND s.crm_name = 'hubspot' \
             WHERE s.id IS NULL",
        )
        .await;
    assert_eq!(stale, 45, "users 1..=45 left stale, the rest synced");
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM etlify_sync_checkpoints")
            .await,
        0,
        "no checkpoint past records left behind"
    );

    // The dead run's lock expires: the next run sends them in batches.
    db.exec("DELETE FROM etlify_record_leases WHERE owner = 'a-dead-worker'")
        .await;
    let singles_before = adapter.single.upserts().len();
    let stats = run_in_pages_of(&etlify, 30).await;
    assert_eq!((stats.outcomes.synced, stats.deferred), (45, 0));
    assert!(stats.is_complete());
    assert_eq!(adapter.single.upserts().len(), singles_before, "in batches");
}

/// The next page is locked and read while the page before it still has
/// requests waiting for a slot (its reads overlap the earlier page's
/// requests and writes), and no further: with one request in flight and
/// two requests a page, at most three pages are open at once (the one in
/// flight, one waiting, one being prepared).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_the_next_page_is_prepared_while_requests_wait_for_a_slot() {
    let db = TestDb::new(BACKEND).await;
    let db = Arc::new(db.with_app_schema().await);
    users(&db, 100).await;
    let adapter = BatchRecordingAdapter::new(10);
    let locks_seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let (db, locks_seen) = (db.clone(), locks_seen.clone());
        *adapter.during_batch.lock().unwrap() = Some(Arc::new(move || {
            let (db, locks_seen) = (db.clone(), locks_seen.clone());
            Box::pin(async move {
                // The first request waits for the second page's lock: it
                // comes only if that page is prepared meanwhile.
                let first_call = locks_seen.lock().unwrap().is_empty();
                let locks = record_locks_reaching(&db, if first_call { 2 } else { 0 }).await;
                locks_seen.lock().unwrap().push(locks);
            })
        }));
    }
    let etlify = engine_with(&db, adapter.clone(), 1).await;
    let stats = run_in_pages_of(&etlify, 20).await;
    assert_eq!(stats.outcomes.synced, 100);
    let seen = locks_seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 10, "two requests a page: {seen:?}");
    assert_eq!(
        seen[0], 2,
        "page 2 is locked while page 1's first request is under way: {seen:?}"
    );
    assert!(
        seen.iter().all(|&locks| locks <= 3),
        "at most three pages open at once: {seen:?}"
    );
}

/// A run asked to stop prepares no page it had found ahead: the page in
/// flight and the one already prepared go through, the one found after
/// them is left with the rest (stale, no checkpoint past it), and the
/// next run sends exactly what was left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipeline_a_stop_leaves_the_page_found_ahead_unprepared() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    let db = TestDb::new(BACKEND).await;
    let db = Arc::new(db.with_app_schema().await);
    users(&db, 100).await;
    let adapter = BatchRecordingAdapter::new(10);
    let stop = Arc::new(AtomicBool::new(false));
    let armed = Arc::new(AtomicBool::new(true));
    {
        let (db, stop) = (db.clone(), stop.clone());
        *adapter.during_batch.lock().unwrap() = Some(Arc::new(move || {
            let (db, stop, armed) = (db.clone(), stop.clone(), armed.clone());
            Box::pin(async move {
                if !armed.swap(false, SeqCst) {
                    return;
                }
                // Page 2 locked (prepared), and time for page 3 to be found:
                // the finder's read is seen by nothing outside the engine.
                // Were it later than this, the run would stop before finding
                // page 3, which the test then checks too.
                record_locks_reaching(&db, 2).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                stop.store(true, SeqCst);
            })
        }));
    }
    let etlify = engine_with(&db, adapter.clone(), 1).await;
    let options = || BatchSyncOptions::new().batch_size(20);
    let stats = etlify
        .batch_sync(&options().stop_when(stop.clone()))
        .await
        .unwrap();
    assert!(stats.stopped, "{stats:?}");
    assert_eq!(
        stats.outcomes.synced, 40,
        "pages 1 (in flight) and 2 (prepared) only: {stats:?}"
    );
    assert_eq!(db.sync_row_count().await, 40);
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM etlify_sync_checkpoints")
            .await,
        0,
        "no checkpoint past records not looked at"
    );
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM etlify_record_leases")
            .await,
        0,
        "no lock left behind"
    );

    let again = etlify.batch_sync(&options()).await.unwrap();
    assert!(again.is_complete(), "{again:?}");
    assert_eq!(again.outcomes.synced, 60);
}
