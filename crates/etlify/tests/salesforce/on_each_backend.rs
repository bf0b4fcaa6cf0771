//! The tests of `salesforce` that run on each backend. This file is
//! compiled three times, as `salesforce::sqlite`, `salesforce::postgres`
//! and `salesforce::mysql` (`mod.rs`); `BACKEND` is this copy's.

use std::sync::Arc;

use etlify::adapters::{Adapter, SalesforceAdapter, SalesforceConfig, Throttle, UpsertRequest};
use etlify::{BatchSyncOptions, Crm, ErrorKind, WriteMode};
use etlify_sandbox::{SalesforceLimits, DEFAULT_SALESFORCE_CLIENT_ID};
use serde_json::json;

use super::*;
use crate::support::logs::CapturedLogs;
use crate::support::{engine, Backend, TestDb};

const BACKEND: Backend = Backend::of_module(module_path!());

const UPSERT_ROUTE: &str = "/services/data/{version}/composite/sobjects/{sobject}/{field}";
const UPDATE_ROUTE: &str = "/services/data/{version}/composite/sobjects";

/// Users inserted, each with a name unless listed in `nameless`.
async fn users(db: &TestDb, count: usize, nameless: &[usize]) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..count {
        let id = db.insert_user(&format!("user{i}@example.com"), None).await;
        if nameless.contains(&i) {
            db.exec(&format!(
                "UPDATE users SET full_name = NULL WHERE id = {id}"
            ))
            .await;
        }
        ids.push(id);
    }
    ids
}

/// An engine syncing users to `sandbox` as Contacts, `batch_size` a request.
async fn contacts_engine(
    db: &TestDb,
    sandbox: &RunningSandbox,
    batch_size: usize,
) -> etlify::Etlify {
    engine(
        db,
        vec![Crm::new("salesforce", salesforce(sandbox, batch_size))],
        vec![contact_model()],
    )
    .await
}

/// The sync row of user `id`.
async fn row(etlify: &etlify::Etlify, id: i64) -> etlify::SyncRow {
    etlify
        .sync_row("salesforce", "User", id)
        .await
        .unwrap()
        .expect("a sync row")
}

/// Records are created by external id in collections of up to the batch
/// size, their Salesforce ids stored; a run with nothing changed sends
/// nothing; a changed record is updated by its stored id, not created again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_creates_then_updates_by_id_and_sends_nothing_unchanged() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 5, &[]).await;
    let sandbox = sandbox(SalesforceLimits::default()).await;
    let etlify = contacts_engine(&db, &sandbox, 2).await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (5, 0), "{stats:?}");
    let records = sandbox.admin().salesforce_records("Contact");
    assert_eq!(records.len(), 5);
    for id in &ids {
        let row = row(&etlify, *id).await;
        let stored = records
            .iter()
            .find(|r| r.fields["Etlify_Id__c"] == json!(external_id(*id)))
            .expect("created with its external id");
        assert_eq!(row.crm_id.as_deref(), Some(stored.id.as_str()));
        assert_eq!(
            stored.fields["Email"],
            json!(format!(
                "user{}@example.com",
                ids.iter().position(|i| i == id).unwrap()
            ))
        );
    }
    let log = sandbox.admin().request_log();
    assert_eq!(
        log.count("PATCH", UPSERT_ROUTE),
        3,
        "5 records, 2 a request"
    );

    let again = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(again.outcomes.synced, 0, "{again:?}");
    assert_eq!(
        sandbox.admin().request_log().total,
        log.total,
        "nothing sent"
    );

    db.exec(&format!(
        "UPDATE users SET full_name = 'Renamed' WHERE id = {}",
        ids[0]
    ))
    .await;
    db.touch("users", ids[0]).await;
    let changed = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(changed.outcomes.synced, 1, "{changed:?}");
    let log = sandbox.admin().request_log();
    assert_eq!(log.count("PATCH", UPDATE_ROUTE), 1, "updated by its id");
    assert_eq!(log.count("PATCH", UPSERT_ROUTE), 3);
    let records = sandbox.admin().salesforce_records("Contact");
    assert_eq!(records.len(), 5);
    let renamed = records
        .iter()
        .find(|r| r.fields["Etlify_Id__c"] == json!(external_id(ids[0])))
        .unwrap();
    assert_eq!(renamed.fields["LastName"], "Renamed");
}

/// A record already in Salesforce with the same external id (in another
/// case) is matched and updated, not duplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_matches_an_existing_record_by_its_external_id() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 2, &[]).await;
    let sandbox = sandbox(SalesforceLimits::default()).await;
    let adapter = salesforce(&sandbox, 200);
    let mut existing = etlify::Payload::new();
    existing.insert(
        "Etlify_Id__c".to_owned(),
        json!(external_id(ids[1]).to_uppercase()),
    );
    existing.insert("LastName".to_owned(), json!("Made by hand"));
    let made = adapter
        .upsert(
            UpsertRequest {
                object_type: "Contact",
                payload: &existing,
                id_property: "Etlify_Id__c",
                crm_id: None,
                id_property_only_on_create: false,
                mode: WriteMode::Upsert,
            },
            &Throttle::unlimited(),
        )
        .await
        .unwrap()
        .unwrap();
    let etlify = engine(
        &db,
        vec![Crm::new("salesforce", adapter)],
        vec![contact_model()],
    )
    .await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (2, 0), "{stats:?}");
    let records = sandbox.admin().salesforce_records("Contact");
    assert_eq!(records.len(), 2, "matched, not duplicated: {records:?}");
    let matched = records.iter().find(|r| r.id == made).unwrap();
    assert_eq!(matched.fields["LastName"], "Name of user1@example.com");
    let row = row(&etlify, ids[1]).await;
    assert_eq!(row.crm_id, Some(made));
}

/// One record Salesforce refuses (no LastName for a create) fails alone,
/// its error naming the field; the others of its collection are written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_one_bad_record_in_a_batch_fails_alone() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 4, &[2]).await;
    let sandbox = sandbox(SalesforceLimits::default()).await;
    let etlify = contacts_engine(&db, &sandbox, 200).await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (3, 1), "{stats:?}");
    assert_eq!(
        sandbox.admin().request_log().count("PATCH", UPSERT_ROUTE),
        1
    );
    let row = row(&etlify, ids[2]).await;
    let error = row.last_error.clone().unwrap_or_default();
    assert!(error.contains("LastName"), "{error}");
    assert_eq!((row.error_count, row.crm_id), (1, None));
    assert!(db.user_is_stale("salesforce", ids[2]).await);
    assert_eq!(sandbox.admin().salesforce_records("Contact").len(), 3);
}

/// A token that expired while the adapter held it is answered 401 (once
/// for each request in flight with it): the adapter logs in again, once,
/// and sends the same requests, and no record fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_an_expired_token_is_renewed_without_failing_records() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    users(&db, 3, &[]).await;
    let sandbox = sandbox(SalesforceLimits::default()).await;
    let etlify = contacts_engine(&db, &sandbox, 2).await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.outcomes.synced, 3);

    sandbox.admin().salesforce_expire_tokens();
    users(&db, 4, &[]).await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (4, 0), "{stats:?}");
    assert!(stats.interrupted.is_empty(), "{stats:?}");
    let admin = sandbox.admin();
    assert_eq!(
        admin.salesforce_tokens_issued(),
        2,
        "one login, then one renewal"
    );
    let refused = admin.request_log().count_status(401);
    assert!(
        (1..=2).contains(&refused),
        "two requests in flight: {refused}"
    );
    assert_eq!(admin.salesforce_records("Contact").len(), 7);
}

/// Near the end of the daily allocation (less than the 5% reserve left,
/// read from `Sforce-Limit-Info`) the CRM's run stops, interrupted and
/// retriable, with no record failed and no request refused; a later run,
/// once the allocation recovered, syncs the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_the_daily_allocation_near_its_end_interrupts_the_run() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    users(&db, 30, &[]).await;
    let sandbox = sandbox(SalesforceLimits {
        daily_max: 100,
        daily_used: 90,
        ..SalesforceLimits::default()
    })
    .await;
    let etlify = engine(
        &db,
        vec![Crm::new("salesforce", salesforce(&sandbox, 2)).max_in_flight(1)],
        vec![contact_model()],
    )
    .await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.errors, 0, "no record failed: {stats:?}");
    // 91..=96 used: at 96, 4 left is under the reserve of 5.
    assert_eq!(stats.outcomes.synced, 12, "{stats:?}");
    let interruption = stats.interrupted.first().expect("the run was interrupted");
    assert!(interruption.retriable, "{interruption:?}");
    assert_eq!(interruption.kind, ErrorKind::Adapter);
    assert!(
        interruption.message.contains("allocation"),
        "{interruption:?}"
    );
    let log = sandbox.admin().request_log();
    assert_eq!(
        log.count_status(403),
        0,
        "stopped before Salesforce refused"
    );

    // The next day (a new process): the rest.
    sandbox
        .admin()
        .set_salesforce_limits(SalesforceLimits::default())
        .unwrap();
    let later = contacts_engine(&db, &sandbox, 200).await;
    let stats = later.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (18, 0), "{stats:?}");
    assert_eq!(sandbox.admin().salesforce_records("Contact").len(), 30);
}

/// An allocation Salesforce says is spent (403 `REQUEST_LIMIT_EXCEEDED`)
/// interrupts the run at once, retriable, without retries or failed records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_a_spent_allocation_interrupts_the_run_without_retries() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 3, &[]).await;
    let sandbox = sandbox(SalesforceLimits {
        daily_max: 10,
        daily_used: 10,
        ..SalesforceLimits::default()
    })
    .await;
    let etlify = contacts_engine(&db, &sandbox, 200).await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (0, 0), "{stats:?}");
    let interruption = stats.interrupted.first().expect("interrupted");
    assert!(interruption.retriable);
    assert!(
        interruption.message.contains("TotalRequests"),
        "{interruption:?}"
    );
    assert_eq!(
        sandbox.admin().request_log().count_status(403),
        1,
        "not retried"
    );
    for id in ids {
        assert!(db.user_is_stale("salesforce", id).await);
    }
}

/// Neither the client secret nor an access token appears in any log line
/// (at trace level), error or `Debug`, for a refused login as for a
/// renewed token.
#[tokio::test]
async fn salesforce_no_secret_in_logs_errors_or_debug() {
    // This test's runtime runs on this thread only: everything logs here.
    let logs = CapturedLogs::start(tracing::Level::TRACE);

    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    users(&db, 2, &[]).await;
    let sandbox = sandbox(SalesforceLimits::default()).await;
    let refused = Arc::new(
        SalesforceAdapter::new(
            SalesforceConfig::new(DEFAULT_SALESFORCE_CLIENT_ID, "WRONG-SECRET-VALUE")
                .login_url(sandbox.salesforce_login_url())
                .http(quick()),
        )
        .unwrap(),
    );
    let debug = format!("{refused:?}");
    let etlify = engine(
        &db,
        vec![Crm::new("salesforce", refused)],
        vec![contact_model()],
    )
    .await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    let interruption = stats.interrupted.first().expect("refused login interrupts");
    assert!(!interruption.retriable);
    assert!(interruption.message.contains("login"), "{interruption:?}");

    let good = salesforce(&sandbox, 200);
    let good_debug = format!("{good:?}");
    let etlify = engine(
        &db,
        vec![Crm::new("salesforce", good)],
        vec![contact_model()],
    )
    .await;
    sandbox.admin().salesforce_expire_tokens();
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.outcomes.synced, 2);

    let logged = logs.text();
    assert!(
        logged.contains("Salesforce"),
        "the adapter logged: {logged}"
    );
    for text in [
        format!("{stats:?}"),
        format!("{interruption:?}"),
        debug,
        good_debug,
        logged,
    ] {
        for secret in [
            "WRONG-SECRET-VALUE",
            etlify_sandbox::DEFAULT_SALESFORCE_CLIENT_SECRET,
            "sandbox.session",
        ] {
            assert!(!text.contains(secret), "{secret} leaked in: {text}");
        }
    }
}
