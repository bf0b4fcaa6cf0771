//! The tests of `status` that run on each backend. This file is compiled
//! twice, as `status::sqlite` and `status::postgres` (`mod.rs`); `BACKEND`
//! is this copy's.

use super::*;
use crate::support::standings::TenUsers;
use crate::support::Backend;
use etlify::RateLimit;
use std::time::Duration;

const BACKEND: Backend = Backend::of_module(module_path!());

/// When the application's rows were written, synced, then changed; a sync
/// of today records a later time.
const OLD: &str = "2020-01-01 00:00:00.000000";
const SYNCED: &str = "2021-01-01 00:00:00.000000";
const CHANGED: &str = "2022-01-01 00:00:00.000000";

/// Issue 26 (11): a synced table whose records then change, fail, wait
/// or arrive is counted record by record: stale records are not also
/// counted as synced, and the columns add up to the records in scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_status_columns_add_up_to_the_records_in_scope() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ten = TenUsers::insert(&db, "u").await;
    // Out of scope, synced or not: not counted.
    let inactive = db.insert_user("inactive@x.io", None).await;
    db.exec(&format!(
        "UPDATE users SET active = false WHERE id = {inactive}"
    ))
    .await;
    stamp(&db, "users", "true", OLD).await;
    stamp(&db, "companies", "true", OLD).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone())],
        vec![active_users()],
    )
    .await;
    assert!(etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .is_complete());
    stamp(&db, "crm_synchronisations", "true", SYNCED).await;
    let status = etlify.status().await.unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(status[0].records, 10);
    assert_eq!(columns(&status[0]), [10, 0, 0, 0, 0, 0]);
    assert!(status[0].last_synced_at.is_some());

    // Every standing (the finder decides the dependency's stale users).
    ten.spread_over_every_standing(&db, CHANGED).await;

    let status = etlify.status().await.unwrap();
    let entry = &status[0];
    assert_eq!(entry.records, 11, "10 - 1 deleted + 2 new");
    // in sync, stale, never synced, failing, over budget, waiting
    assert_eq!(columns(entry), [2, 4, 2, 1, 1, 1], "{entry:?}");

    // A sync sends the stale and new records, one of which fails: it is
    // failing too. The others are in sync; the waiting one and the failing
    // one, unchanged since their last sync, are not picked up.
    adapter.fail_next_upsert(
        AdapterError::new(AdapterErrorKind::ValidationFailed, "INVALID_EMAIL").status(400),
    );
    // Complete: the changes were stamped in the past, before the first
    // run's checkpoint, where a run from the checkpoint does not look.
    let run = etlify
        .batch_sync(&BatchSyncOptions::new().complete(true))
        .await
        .unwrap();
    assert_eq!((run.total, run.errors), (6, 1));
    let entry = &etlify.status().await.unwrap()[0];
    assert_eq!(entry.records, 11);
    assert_eq!(columns(entry), [7, 0, 0, 2, 1, 1], "{entry:?}");
}

/// Issue 26 (11): a model bound to two CRMs is counted per CRM, and a
/// disabled CRM is not listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_status_counts_each_crm_apart() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    for i in 0..4 {
        db.insert_user(&format!("u{i}@x.io"), None).await;
    }
    stamp(&db, "users", "true", OLD).await;
    let bound = |crm: &str, model: Model| {
        model.bind(
            crm,
            Binding::new("contacts", "email").payload(SqlPayload::new(USER_PAYLOAD_SQL)),
        )
    };
    let model = bound("archive", bound("hubspot", Model::new("User", "users")));
    let etlify = engine(
        &db,
        vec![
            Crm::new("hubspot", Arc::new(NullAdapter::new())),
            Crm::new("archive", Arc::new(NullAdapter::new())),
        ],
        vec![model],
    )
    .await;
    assert!(etlify
        .batch_sync(&BatchSyncOptions::new().crm("hubspot"))
        .await
        .unwrap()
        .is_complete());
    let status = etlify.status().await.unwrap();
    let of = |crm: &str| status.iter().find(|e| e.crm == crm).unwrap().clone();
    assert_eq!(columns(&of("hubspot")), [4, 0, 0, 0, 0, 0]);
    assert_eq!(columns(&of("archive")), [0, 0, 4, 0, 0, 0]);
}

/// Issue 28 (3), the status page's rate-limit use: the sends of the last
/// period, by every process, as the shared window (`etlify_rate_slots`)
/// holds them; none for a CRM without a limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_rate_window_use_counts_the_sends_of_the_last_period() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    for i in 0..4 {
        db.insert_user(&format!("r{i}@x.io"), None).await;
    }
    let adapter = RecordingAdapter::new();
    let limit = RateLimit::new(100, Duration::from_secs(3600)).unwrap();
    let etlify = engine(
        &db,
        vec![
            Crm::new("hubspot", adapter.clone()).rate_limit(limit),
            Crm::new("unlimited", Arc::new(NullAdapter::new())),
        ],
        vec![active_users()],
    )
    .await;
    let before = etlify.rate_window_use("hubspot").await.unwrap().unwrap();
    assert_eq!((before.max_requests, before.sent), (100, 0));
    assert_eq!(before.period, Duration::from_secs(3600));
    assert!(etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .is_complete());
    let sent = adapter.upserts().len() as u64;
    assert_eq!(sent, 4);
    let after = etlify.rate_window_use("hubspot").await.unwrap().unwrap();
    assert_eq!(after.sent, sent, "{after:?}");
    assert_eq!(after.paused_for, Duration::ZERO);
    assert_eq!(etlify.rate_window_use("unlimited").await.unwrap(), None);
    assert!(etlify.rate_window_use("nowhere").await.is_err());
}

/// Issue 28 (3), the status page's failing records: pages in a stable
/// order, each record once, filtered by CRM and model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_failing_page_lists_each_failing_record_once() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    for i in 0..7 {
        db.insert_user(&format!("f{i}@x.io"), None).await;
    }
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", RecordingAdapter::new())],
        vec![active_users()],
    )
    .await;
    assert!(etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .is_complete());
    // Every row failing, updated at the same time: the key orders them.
    db.exec("UPDATE crm_synchronisations SET error_count = 1, last_error = 'boom'")
        .await;
    let mut seen = Vec::new();
    for page in 0..4 {
        let rows = etlify
            .failing_page(Some("hubspot"), Some("User"), page * 2, 2)
            .await
            .unwrap();
        assert!(rows.len() <= 2);
        seen.extend(rows.into_iter().map(|r| r.resource_id.as_int().unwrap()));
    }
    let mut unique = seen.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (7, 7), "{seen:?}");
    assert!(etlify
        .failing_page(Some("salesforce"), None, 0, 10)
        .await
        .unwrap()
        .is_empty());
}
