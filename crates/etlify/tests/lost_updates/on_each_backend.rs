//! The tests of `lost_updates` that run on each backend. This file is compiled
//! twice, as `lost_updates::sqlite` and `lost_updates::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

/// An application transaction changes the record (stamping it before the
/// sync reads) and commits while the sync runs. Whatever the sync sent, the
/// next batch run must send the committed value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x1_a_transaction_open_across_the_sync_read_is_not_lost() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    name(&db, user, "First").await;
    db.touch("users", user).await;
    let adapter = RecordingAdapter::new();
    // The default commit margin on every database: MySQL's (200 ms) is
    // what covers InnoDB's list of open transactions being a cache.
    let etlify = hubspot_users(&db, adapter.clone()).await;

    let stamp = if db.is_postgres() {
        "(clock_timestamp() AT TIME ZONE 'UTC')".to_owned()
    } else {
        format!(
            "'{}'",
            chrono::Utc::now().format(etlify::SQLITE_TIMESTAMP_FORMAT)
        )
    };
    let change = format!(
        "UPDATE users SET full_name = 'Committed later', updated_at = {stamp} WHERE id = {user}"
    );
    let sync = {
        let etlify = etlify.clone();
        async move { etlify.sync("hubspot", "User", user).await.unwrap() }
    };
    let outcome = match &db.pool {
        TestPool::Postgres(pool) => {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(change))
                .execute(&mut *tx)
                .await
                .unwrap();
            // The sync reads while the transaction is open, then it commits.
            let outcome = sync.await;
            tx.commit().await.unwrap();
            outcome
        }
        TestPool::Mysql(pool) => {
            // Reading InnoDB's list of open transactions refreshes the
            // server's cache of it, which then stays as it is for 100 ms:
            // the sync below reads a list without the transaction, the
            // case a margin under 100 ms loses.
            db.scalar_i64("SELECT COUNT(*) FROM information_schema.innodb_trx")
                .await;
            let mut tx = pool.begin().await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(change))
                .execute(&mut *tx)
                .await
                .unwrap();
            // The case under test is a change older than the sync's read
            // by more than a 1 ms margin (and younger than the cache's
            // 100 ms): the database's clock passes its stamp by 2 ms.
            let stamped: chrono::NaiveDateTime = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT updated_at FROM users WHERE id = {user}"
            )))
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            db.clock_past(stamped, chrono::TimeDelta::milliseconds(2))
                .await;
            // The sync reads while the transaction is open, then it commits.
            let outcome = sync.await;
            tx.commit().await.unwrap();
            outcome
        }
        TestPool::Sqlite(pool) => {
            let mut tx = pool.begin().await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(change))
                .execute(&mut *tx)
                .await
                .unwrap();
            let running = tokio::spawn(sync);
            // Time for the sync to reach the write lock the transaction
            // holds: nothing outside the engine sees it waiting there. A
            // sync slower than this reads after the commit, a case the
            // test then checks too, so it cannot fail for being late.
            tokio::time::sleep(Duration::from_millis(300)).await;
            tx.commit().await.unwrap();
            running.await.unwrap()
        }
    };
    assert_eq!(outcome, SyncDispatch::Completed(SyncOutcome::Synced));

    assert!(etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .is_complete());
    assert_eq!(
        names_sent(&adapter).last().map(String::as_str),
        Some("Committed later"),
        "the committed change reached the CRM: {:?}",
        names_sent(&adapter)
    );
    // Whether the row now counts as in sync depends on the transactions
    // other tests hold open on a shared server (X-1 stamps a sync as of
    // before the oldest one); what must hold is that nothing is sent again.
    let sent = names_sent(&adapter).len();
    let again = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(again.is_complete());
    assert_eq!(again.outcomes.synced, 0, "{again:?}");
    assert_eq!(names_sent(&adapter).len(), sent, "nothing sent again");
}

/// A writer that stores whole seconds (SQLite `CURRENT_TIMESTAMP`,
/// `date_trunc('second', …)`) changes the record in the second the sync
/// read it: with a one-second commit margin the change is found by the
/// next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x1_a_whole_second_timestamp_written_after_the_read_is_not_lost() {
    let db = TestDb::new(BACKEND).await;
    let db = Arc::new(db.with_app_schema().await);
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = builder(
        db.store.clone(),
        vec![Crm::new("hubspot", adapter.clone())],
        vec![user_model(&["hubspot"])],
    )
    .config(Config::default().commit_margin(Duration::from_secs(1)))
    .build()
    .await
    .unwrap();
    let whole_second = if db.is_postgres() {
        "date_trunc('second', clock_timestamp() AT TIME ZONE 'UTC')"
    } else {
        "strftime('%Y-%m-%d %H:%M:%S', 'now')"
    };
    let writer = db.clone();
    adapter.on_upsert(move |_| {
        let writer = writer.clone();
        Box::pin(async move {
            writer
                .exec(&format!(
                    "UPDATE users SET full_name = 'Changed', updated_at = {whole_second} WHERE id = {user}"
                ))
                .await;
        })
    });
    // Read and write fall in one second (the case that was lost): past
    // the middle of a second, wait for the next one (the clock is what is
    // under test here, not an order of events).
    let millis = chrono::Utc::now().timestamp_subsec_millis();
    if millis > 500 {
        tokio::time::sleep(Duration::from_millis(u64::from(1_010 - millis))).await;
    }
    etlify.sync("hubspot", "User", user).await.unwrap();
    assert!(
        db.user_is_stale("hubspot", user).await,
        "the change stamped with a whole second must be found again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x1_the_sync_time_is_taken_before_the_payload_is_read() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let etlify = engine_renaming_right_after_read(&db, user, "{now}").await;
    etlify.sync("hubspot", "User", user).await.unwrap();
    assert!(
        db.user_is_stale("hubspot", user).await,
        "a change committed right after the read must leave the record stale"
    );
}

/// A writer that stores milliseconds (JavaScript's `Date`, SQLite's
/// `strftime('%f')`) changes the record right after the sync read it, in
/// the same millisecond: its stamp is before the read's time, yet the
/// default commit margin of 1 ms leaves the record stale. (With no margin
/// the change looked older than the sync and was never sent.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x1_a_millisecond_timestamp_written_right_after_the_read_is_not_lost_by_default() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let etlify = engine_renaming_right_after_read(&db, user, "{now_ms}").await;
    // The read and the change fall in one millisecond (the case that was
    // lost): start just after a millisecond begins.
    while chrono::Utc::now().timestamp_subsec_micros() % 1_000 > 100 {
        tokio::task::yield_now().await;
    }
    etlify.sync("hubspot", "User", user).await.unwrap();
    assert!(
        db.user_is_stale("hubspot", user).await,
        "the change stamped in milliseconds must leave the record stale"
    );
}

/// a throttled batch request is a run error: no record's error budget
/// is touched, and the run reports the CRM interrupted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x3_a_rate_limited_batch_request_is_not_a_record_error() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    for i in 0..3 {
        db.insert_user(&format!("u{i}@x.io"), None).await;
    }
    let adapter = BatchRecordingAdapter::new(10);
    *adapter.fail_next.lock().unwrap() =
        Some(AdapterError::new(AdapterErrorKind::RateLimited, "429 Too Many Requests").status(429));
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.errors, 0, "no record error");
    assert_eq!(stats.interrupted.len(), 1);
    assert_eq!(stats.interrupted[0].crm, "hubspot");
    assert_eq!(stats.interrupted[0].kind, ErrorKind::Adapter);
    assert!(stats.interrupted[0].retriable);
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM crm_synchronisations WHERE error_count > 0 OR last_error IS NOT NULL")
            .await,
        0
    );
    // The next run resumes and sends everything.
    let again = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((again.outcomes.synced, again.errors), (3, 0));
    assert!(again.is_complete());
}

/// A run error says which CRM it came from (several CRMs run in one
/// process): throttled after the retries, the per-record sync and the batch
/// run both name `hubspot`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x3_a_throttled_run_error_names_its_crm() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let throttled =
        || AdapterError::new(AdapterErrorKind::RateLimited, "429 Too Many Requests").status(429);
    adapter.fail_next_upsert(throttled());
    adapter.fail_next_upsert(throttled());
    let etlify = hubspot_users(&db, adapter).await;
    let error = etlify.sync("hubspot", "User", user).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Adapter);
    assert!(
        error.to_string().starts_with("hubspot: rate limited"),
        "{error}"
    );
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(
        stats.interrupted[0].message.starts_with("hubspot: "),
        "{:?}",
        stats.interrupted
    );
}

/// `last_error` is bounded on both backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x6_a_long_error_message_is_truncated_in_last_error() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    adapter.fail_next_upsert(
        AdapterError::new(AdapterErrorKind::ValidationFailed, "é".repeat(5_000)).status(400),
    );
    let etlify = hubspot_users(&db, adapter).await;
    etlify.sync("hubspot", "User", user).await.unwrap();
    let row = etlify
        .sync_row("hubspot", "User", user)
        .await
        .unwrap()
        .unwrap();
    let kept = row.last_error.unwrap().chars().count();
    assert!(kept <= 2_001, "last_error kept {kept} characters");
    assert!(kept > 1_000);
}

/// a CRM down for longer than its retries interrupts only itself: the
/// other CRM is synced, the failing CRM's other models are not attempted,
/// and the next run resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x3_an_outage_longer_than_the_retries_interrupts_only_that_crm() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let company = db.insert_company("acme").await;
    for i in 0..3 {
        db.insert_user(&format!("u{i}@x.io"), Some(company)).await;
    }
    let hubspot = RecordingAdapter::new();
    hubspot.fail_next_upsert(transient());
    let airtable = RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![
            Crm::new("hubspot", hubspot.clone()),
            Crm::new("airtable", airtable.clone()),
        ],
        vec![
            user_model(&["hubspot", "airtable"]),
            company_model(&["hubspot"]),
        ],
    )
    .await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(!stats.is_complete());
    let where_it_stopped: Vec<(&str, &str)> = stats
        .interrupted
        .iter()
        .map(|i| (i.crm.as_str(), i.model.as_str()))
        .collect();
    assert_eq!(
        where_it_stopped,
        [("hubspot", "User"), ("hubspot", "Company")]
    );
    assert!(stats.interrupted.iter().all(|i| i.retriable));
    assert_eq!(airtable.upserts().len(), 3, "the other CRM was synced");
    assert_eq!(stats.errors, 0);

    // Requests already in flight when the outage hit were answered and
    // kept; the next run sends the rest, each record once.
    let before = stats.per_crm.get("hubspot").map_or(0, |s| s.synced);
    let again = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(again.is_complete());
    assert_eq!(
        before + again.per_crm["hubspot"].synced,
        4,
        "3 users and the company, each synced once over both runs"
    );
    assert_eq!(
        hubspot.upserts().len(),
        5,
        "4 records, plus the failed request"
    );
}

/// Sync state is written after each CRM request, not after each page: with
/// one request in flight, while the second request of a page waits on the
/// CRM, the first request's records get their rows (the page's end would
/// come only after it answers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x4_sync_state_is_written_after_each_crm_request() {
    let db = TestDb::new(BACKEND).await;
    let db = Arc::new(db.with_app_schema().await);
    for i in 0..25 {
        db.insert_user(&format!("u{i}@x.io"), None).await;
    }
    let adapter = BatchRecordingAdapter::new(10);
    let rows_seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let (db, rows_seen) = (db.clone(), rows_seen.clone());
        *adapter.during_batch.lock().unwrap() = Some(Arc::new(move || {
            let (db, rows_seen) = (db.clone(), rows_seen.clone());
            Box::pin(async move {
                let earlier_requests = rows_seen.lock().unwrap().len() as i64;
                let rows = db.sync_rows_reaching(10 * earlier_requests).await;
                rows_seen.lock().unwrap().push(rows);
            })
        }));
    }
    let etlify = crate::support::engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone()).max_in_flight(1)],
        vec![user_model(&["hubspot"])],
    )
    .await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.outcomes.synced, 25);
    assert_eq!(*rows_seen.lock().unwrap(), [0, 10, 20]);
}
