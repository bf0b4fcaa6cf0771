//! The tests of `batch` that run on each backend. This file is compiled
//! twice, as `batch::sqlite` and `batch::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g5_disabled_crm_skips_every_record_without_a_call() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let u = users(&db, &["a@x.io", "b@x.io"]).await;
    let adapter = BatchRecordingAdapter::new(10);
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone()).enabled(false)],
        vec![user_model(&["hubspot"])],
    )
    .await;
    let stats = etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    assert_eq!(
        stats,
        counts(|s| {
            s.skipped = 2;
            s.disabled = true;
        })
    );
    assert!(adapter.batch_calls().is_empty());
    assert_eq!(db.sync_row_count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g11_batch_upsert_is_used_in_chunks_of_the_crm_batch_size() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let u = users(&db, &["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io"]).await;
    let adapter = BatchRecordingAdapter::new(2);
    let etlify = hubspot_users(&db, adapter.clone()).await;

    let stats = etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    assert_eq!(
        stats,
        counts(|s| {
            s.synced = 5;
        })
    );
    let sizes: Vec<usize> = adapter.batch_calls().iter().map(Vec::len).collect();
    assert_eq!(sizes, [2, 2, 1]);
    assert!(adapter.single.upserts().is_empty(), "no per-record upsert");
    let row = etlify
        .sync_row("hubspot", "User", u[2])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.crm_id.as_deref(), Some("crm-c@x.io"));

    // Unchanged: nothing sent again.
    let stats = etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    assert_eq!(
        stats,
        counts(|s| {
            s.not_modified = 5;
        })
    );
    assert_eq!(adapter.batch_calls().len(), 3);

    // A changed record is sent with its known CRM id.
    db.exec(&format!(
        "UPDATE users SET full_name = 'New' WHERE id = {}",
        u[0]
    ))
    .await;
    etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    let last = adapter.batch_calls().pop().unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].1.as_deref(), Some("crm-a@x.io"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g11_without_a_batch_endpoint_records_are_upserted_one_by_one() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let u = users(&db, &["a@x.io", "b@x.io"]).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let stats = etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    assert_eq!(stats.synced, 2);
    assert_eq!(adapter.upserts().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x4_a_record_missing_from_the_batch_response_is_an_error() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let u = users(&db, &["a@x.io", "lost@x.io"]).await;
    let adapter = BatchRecordingAdapter::new(10);
    adapter.set(&adapter.drop_marker, "lost");
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let stats = etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    assert_eq!((stats.synced, stats.errors), (1, 1));
    let lost = etlify
        .sync_row("hubspot", "User", u[1])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (lost.crm_id, lost.last_digest, lost.error_count),
        (None, None, 1),
        "no silent success"
    );
    assert!(lost
        .last_error
        .unwrap()
        .contains("no result for email = lost@x.io"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x4_per_input_errors_are_attributed_to_their_records() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let u = users(&db, &["a@x.io", "broken@x.io", "c@x.io"]).await;
    let adapter = BatchRecordingAdapter::new(10);
    adapter.set(&adapter.error_marker, "broken");
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let stats = etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    assert_eq!((stats.synced, stats.errors), (2, 1));
    let broken = etlify
        .sync_row("hubspot", "User", u[1])
        .await
        .unwrap()
        .unwrap();
    assert!(broken
        .last_error
        .unwrap()
        .contains("INVALID_EMAIL broken@x.io"));
    assert_eq!(broken.error_count, 1);
}

/// a record in the CRM whose last sync failed, sent again and
/// accepted, has its error cleared (a lean write of digests and time is
/// only for rows without an error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x12_a_resent_record_that_had_failed_has_its_error_cleared() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let u = users(&db, &["broken@x.io"]).await;
    let adapter = BatchRecordingAdapter::new(10);
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let sync = || async {
        etlify
            .batch_synchronizer()
            .call("hubspot", "User", &ids(&u))
            .await
            .unwrap()
    };
    assert_eq!(sync().await.synced, 1);
    // Changed, then refused by the CRM: the row keeps its CRM id and fails.
    db.exec(&format!(
        "UPDATE users SET full_name = 'Renamed' WHERE id = {}",
        u[0]
    ))
    .await;
    adapter.set(&adapter.error_marker, "broken");
    assert_eq!(sync().await.errors, 1);
    let failed = etlify
        .sync_row("hubspot", "User", u[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!((failed.crm_id.is_some(), failed.error_count), (true, 1));
    // Accepted again: the error is gone.
    *adapter.error_marker.lock().unwrap() = None;
    assert_eq!(sync().await.synced, 1);
    let row = etlify
        .sync_row("hubspot", "User", u[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.error_count, row.last_error), (0, None));
    assert_eq!(row.crm_id, failed.crm_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x4_email_ids_match_case_insensitively() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let u = users(&db, &["Mixed.Case@X.io"]).await;
    let adapter = BatchRecordingAdapter::new(10);
    *adapter.lowercase_keys.lock().unwrap() = true;
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let stats = etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    assert_eq!(stats.synced, 1);
    let row = etlify
        .sync_row("hubspot", "User", u[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.crm_id.as_deref(), Some("crm-mixed.case@x.io"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x5_an_atomic_rejection_is_split_until_the_bad_record_is_isolated() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let u = users(&db, &["a@x.io", "b@x.io", "bad@x.io", "d@x.io", "e@x.io"]).await;
    let adapter = BatchRecordingAdapter::new(10);
    adapter.set(&adapter.reject_marker, "bad@");
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let stats = etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    assert_eq!(
        (stats.synced, stats.errors),
        (4, 1),
        "the healthy records are synced in the same run"
    );
    let bad = etlify
        .sync_row("hubspot", "User", u[2])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bad.error_count, 1);
    assert!(bad.last_error.unwrap().contains("batch rejected"));
    for id in [u[0], u[1], u[3], u[4]] {
        assert!(etlify
            .sync_row("hubspot", "User", id)
            .await
            .unwrap()
            .unwrap()
            .crm_id
            .is_some());
    }
    assert!(
        adapter.batch_calls().len() <= 7,
        "bisection, not one call per record: {}",
        adapter.batch_calls().len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x3_a_run_error_from_the_batch_endpoint_counts_against_no_record() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let u = users(&db, &["a@x.io", "b@x.io"]).await;
    let adapter = BatchRecordingAdapter::new(10);
    *adapter.fail_next.lock().unwrap() =
        Some(AdapterError::new(AdapterErrorKind::Transient, "503").status(503));
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let err = etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap_err();
    assert!(err.is_retriable());
    assert_eq!(
        db.sync_row_count().await,
        0,
        "no error_count for throttling or outages"
    );
    // Next run: fine.
    let stats = etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    assert_eq!(stats.synced, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x12_batch_guard_false_stamps_rows_like_the_single_path() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let u = users(&db, &["a@x.io", "b@x.io"]).await;
    db.exec(&format!(
        "UPDATE users SET active = false WHERE id = {}",
        u[1]
    ))
    .await;
    db.insert_sync_row("hubspot", "User", u[1], 2, Some("old"))
        .await;
    let adapter = BatchRecordingAdapter::new(10);
    let model = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new("SELECT id, email FROM users"))
            .sync_if(SyncIf::Sql("active".into())),
    );
    let etlify = engine(&db, vec![Crm::new("hubspot", adapter.clone())], vec![model]).await;
    let stats = etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    assert_eq!((stats.synced, stats.skipped), (1, 1));
    let skipped = etlify
        .sync_row("hubspot", "User", u[1])
        .await
        .unwrap()
        .unwrap();
    assert_eq!((skipped.error_count, skipped.last_error), (0, None));
    assert!(skipped.last_synced_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_id_values_in_one_batch_do_not_share_a_crm_object() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let u = users(&db, &["same@x.io", "same@x.io"]).await;
    let adapter = BatchRecordingAdapter::new(10);
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let stats = etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    assert_eq!((stats.synced, stats.errors), (1, 1));
    let second = etlify
        .sync_row("hubspot", "User", u[1])
        .await
        .unwrap()
        .unwrap();
    assert!(
        second
            .last_error
            .unwrap()
            .contains(&format!("which User #{} already holds", u[0])),
        "clear message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x8_a_record_busy_in_a_single_sync_is_not_sent_twice() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let u = users(&db, &["a@x.io"]).await;
    let adapter = BatchRecordingAdapter::new(10);
    // The CRM answers the single sync late: the batch arrives meanwhile.
    adapter.single.delay_upserts(Duration::from_millis(300));
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let single = {
        let etlify = etlify.clone();
        let id = u[0];
        tokio::spawn(async move { etlify.synchronizer().call("hubspot", "User", id).await })
    };
    adapter.single.upserts_reaching(1).await;
    let stats = etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    single.await.unwrap().unwrap();
    assert_eq!(
        stats.not_modified, 1,
        "waited for the running sync, then found nothing to send"
    );
    assert_eq!(
        adapter.single.upserts().len() + adapter.batch_calls().len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x2_a_known_id_gone_from_the_crm_falls_back_to_the_single_upsert() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let u = users(&db, &["gone@x.io", "kept@x.io"]).await;
    let adapter = BatchRecordingAdapter::new(10);
    let etlify = hubspot_users(&db, adapter.clone()).await;
    etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    adapter.set(&adapter.gone_marker, "gone@");
    db.exec("UPDATE users SET full_name = 'Changed'").await;

    let stats = etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    assert_eq!(
        (stats.synced, stats.errors),
        (2, 0),
        "no error for an object deleted in the CRM"
    );
    let single = adapter.single.upserts();
    assert_eq!(single.len(), 1);
    assert_eq!(
        single[0].crm_id.as_deref(),
        Some("crm-gone@x.io"),
        "the single path gets the id and falls back itself"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x1_a_change_committed_during_a_batch_leaves_the_record_stale() {
    let db = TestDb::new(BACKEND).await;
    let db = std::sync::Arc::new(db.with_app_schema().await);
    let u = users(&db, &["a@x.io", "b@x.io"]).await;
    let adapter = BatchRecordingAdapter::new(10);
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let writer = db.clone();
    let changed = u[1];
    *adapter.during_batch.lock().unwrap() = Some(std::sync::Arc::new(move || {
        let writer = writer.clone();
        Box::pin(async move {
            writer
                .exec(&format!(
                    "UPDATE users SET full_name = 'Changed meanwhile' WHERE id = {changed}"
                ))
                .await;
            writer.touch("users", changed).await;
        })
    }));
    let stats = etlify
        .batch_synchronizer()
        .call("hubspot", "User", &ids(&u))
        .await
        .unwrap();
    assert_eq!(stats.synced, 2);
    assert!(!db.user_is_stale("hubspot", u[0]).await);
    assert!(
        db.user_is_stale("hubspot", u[1]).await,
        "the change made during the batch is not lost"
    );
    *adapter.during_batch.lock().unwrap() = None;
    let found = etlify
        .batch_sync(&etlify::BatchSyncOptions::new())
        .await
        .unwrap();
    assert_eq!((found.total, found.outcomes.synced), (1, 1));
    assert_eq!(
        adapter.batch_calls().last().unwrap()[0].0["full_name"],
        "Changed meanwhile"
    );
}
