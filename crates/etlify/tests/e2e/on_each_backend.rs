//! The tests of `e2e` that run on each backend. This file is compiled
//! twice, as `e2e::sqlite` and `e2e::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_e2e_batch_sync_creates_then_updates_only_what_changed() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 150).await;
    let sandbox = sandbox(false).await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![user_model(&["hubspot"])],
    )
    .await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(
        (stats.total, stats.outcomes.synced, stats.errors),
        (150, 150, 0)
    );
    let contacts = sandbox.admin().hubspot_objects("contacts").unwrap();
    assert_eq!(contacts.len(), 150);
    let log = sandbox.admin().request_log();
    assert_eq!(
        log.count("POST", "/crm/v3/objects/{objectType}/batch/upsert"),
        2,
        "150 records in batches of 100"
    );

    // The sync rows hold the sandbox's ids.
    let row = etlify
        .sync_row("hubspot", "User", ids[0])
        .await
        .unwrap()
        .unwrap();
    let contact = contacts
        .iter()
        .find(|c| c.id == row.crm_id.clone().unwrap())
        .unwrap();
    assert_eq!(contact.properties["email"], "user0@example.com");

    // One change: one record sent, by its known id.
    db.exec(&format!(
        "UPDATE users SET full_name = 'Renamed' WHERE id = {}",
        ids[3]
    ))
    .await;
    db.touch("users", ids[3]).await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.total, stats.outcomes.synced), (1, 1));
    assert_eq!(
        sandbox
            .admin()
            .request_log()
            .count("POST", "/crm/v3/objects/{objectType}/batch/update"),
        1
    );
    let renamed = etlify
        .sync_row("hubspot", "User", ids[3])
        .await
        .unwrap()
        .unwrap();
    let contact = sandbox
        .admin()
        .hubspot_objects("contacts")
        .unwrap()
        .into_iter()
        .find(|c| Some(&c.id) == renamed.crm_id.as_ref())
        .unwrap();
    assert_eq!(contact.properties["full_name"], "Renamed");
    assert_eq!(
        sandbox.admin().hubspot_objects("contacts").unwrap().len(),
        150,
        "no duplicate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g7_a_disabled_crm_sends_no_request_at_all() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 3).await;
    let sandbox = sandbox(true).await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox)).enabled(false)],
        vec![user_model(&["hubspot"])],
    )
    .await;
    assert!(etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .is_complete());
    assert_eq!(
        etlify.sync("hubspot", "User", ids[0]).await.unwrap(),
        SyncDispatch::Disabled
    );
    assert_eq!(
        etlify.delete("hubspot", "User", ids[0]).await.unwrap(),
        DeleteOutcome::Disabled
    );
    assert_eq!(
        sandbox.admin().request_log().total,
        0,
        "no outgoing HTTP request while disabled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x2_e2e_an_object_deleted_in_the_crm_is_recreated_on_the_next_sync() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 1).await;
    let sandbox = sandbox(false).await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![user_model(&["hubspot"])],
    )
    .await;
    etlify.sync("hubspot", "User", ids[0]).await.unwrap();
    assert_eq!(
        etlify.delete("hubspot", "User", ids[0]).await.unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        etlify.delete("hubspot", "User", ids[0]).await.unwrap(),
        DeleteOutcome::Noop,
        "nothing claimed any more"
    );
    assert_eq!(
        etlify.sync("hubspot", "User", ids[0]).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    let live: Vec<_> = sandbox
        .admin()
        .hubspot_objects("contacts")
        .unwrap()
        .into_iter()
        .filter(|c| !c.archived)
        .collect();
    assert_eq!(live.len(), 1);
    let row = etlify
        .sync_row("hubspot", "User", ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.crm_id.as_ref(), Some(&live[0].id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x3_e2e_outages_are_retried_and_cost_no_error_budget() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    users(&db, 5).await;
    let sandbox = sandbox(false).await;
    sandbox
        .admin()
        .set_faults(
            TargetApi::Hubspot,
            FaultConfig {
                fail_next: 2,
                error_statuses: vec![503],
                ..FaultConfig::default()
            },
        )
        .unwrap();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![user_model(&["hubspot"])],
    )
    .await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (5, 0));
    assert_eq!(sandbox.admin().request_log().count_status(503), 2);
    assert_eq!(
        db.scalar_i64("SELECT COALESCE(MAX(error_count), 0) FROM crm_synchronisations")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g8_x17_the_crm_limiter_keeps_requests_within_the_sandbox_limit() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 12).await;
    let mut config = SandboxConfig::default();
    config.hubspot.rate_limits.per_app_max = 5;
    config.hubspot.rate_limits.per_app_window_ms = 500;
    let sandbox = Sandbox::start(config).await.unwrap();
    let limit = RateLimit::new(5, Duration::from_millis(500)).unwrap();
    let model = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("deals", "").payload(SqlPayload::new(
            "SELECT id, full_name AS dealname FROM users",
        )),
    );
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox)).rate_limit(limit)],
        vec![model],
    )
    .await;
    // One request per record (no id property: plain creates).
    for id in &ids {
        assert_eq!(
            etlify.sync("hubspot", "User", *id).await.unwrap(),
            SyncDispatch::Completed(SyncOutcome::Synced)
        );
    }
    let log = sandbox.admin().request_log();
    assert_eq!(log.total, 12);
    assert_eq!(log.count_status(429), 0, "never over the limit");
    let peak = log.peak("hubspot.per_app", "app-0").unwrap();
    assert_eq!(peak, 5, "and the burst reaches the bound exactly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airtable_e2e_batch_sync_upserts_records_by_merge_field() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 23).await;
    let sandbox = sandbox(false).await;
    let airtable = Arc::new(
        AirtableAdapter::new(
            AirtableConfig::new(DEFAULT_AIRTABLE_TOKEN, "appSandbox0000001")
                .base_url(sandbox.base_url())
                .http(fast_retries()),
        )
        .unwrap(),
    );
    let model = Model::new("User", "users").bind(
        "airtable",
        Binding::new("Contacts Été", "Email").payload(SqlPayload::new(
            "SELECT id, email AS \"Email\", full_name AS \"Full name (display)\" FROM users",
        )),
    );
    let etlify = engine(&db, vec![Crm::new("airtable", airtable)], vec![model]).await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (23, 0));
    let records = sandbox
        .admin()
        .airtable_records("appSandbox0000001", "Contacts Été")
        .unwrap();
    assert_eq!(records.len(), 23);
    let row = etlify
        .sync_row("airtable", "User", ids[0])
        .await
        .unwrap()
        .unwrap();
    assert!(row.crm_id.unwrap().starts_with("rec"));

    db.exec(&format!(
        "UPDATE users SET full_name = 'Renamed' WHERE id = {}",
        ids[0]
    ))
    .await;
    db.touch("users", ids[0]).await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.outcomes.synced, 1);
    assert_eq!(
        sandbox
            .admin()
            .airtable_records("appSandbox0000001", "Contacts Été")
            .unwrap()
            .len(),
        23
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x2_e2e_a_contact_archived_in_hubspot_is_recreated_by_the_batch_path() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 3).await;
    let sandbox = sandbox(false).await;
    let adapter = hubspot(&sandbox);
    let etlify = hubspot_users(&db, adapter.clone()).await;
    assert!(etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .is_complete());
    let old = etlify
        .sync_row("hubspot", "User", ids[1])
        .await
        .unwrap()
        .unwrap()
        .crm_id
        .unwrap();
    // Someone archives the contact in HubSpot; the sync row still has its id.
    etlify::adapters::Adapter::delete(adapter.as_ref(), "contacts", &old, &Throttle::unlimited())
        .await
        .unwrap();
    db.exec("UPDATE users SET full_name = 'Changed'").await;
    for id in &ids {
        db.touch("users", *id).await;
    }
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (3, 0));
    let new = etlify
        .sync_row("hubspot", "User", ids[1])
        .await
        .unwrap()
        .unwrap()
        .crm_id
        .unwrap();
    assert_ne!(new, old, "recreated under a new id");
    let live = sandbox
        .admin()
        .hubspot_objects("contacts")
        .unwrap()
        .into_iter()
        .filter(|c| !c.archived)
        .count();
    assert_eq!(live, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x3_e2e_lost_search_responses_are_retried_and_the_contact_created_once() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 1).await;
    let sandbox = sandbox(false).await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![user_model(&["hubspot"])],
    )
    .await;
    sandbox
        .admin()
        .set_faults(
            TargetApi::Hubspot,
            FaultConfig {
                drop_next: 2,
                drop_after_handling: true,
                ..FaultConfig::default()
            },
        )
        .unwrap();
    // The search's response is lost twice (a search changes nothing, so it
    // is retried), then the contact is created once. A lost *create*
    // response is not repeated: see tests/lost_response/.
    assert_eq!(
        etlify.sync("hubspot", "User", ids[0]).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    let contacts = sandbox.admin().hubspot_objects("contacts").unwrap();
    assert_eq!(contacts.len(), 1, "one contact");
    let row = etlify
        .sync_row("hubspot", "User", ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.crm_id.as_ref(), Some(&contacts[0].id));
}

/// The sandbox's search lags behind writes (as HubSpot's does): a record
/// whose sync row was lost (a restored database) is synced again before
/// search sees its contact. The search finds nothing, the create meets
/// HubSpot's duplicate check (409) and the engine adopts the contact: one
/// object, and the row gets its id back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x2_e2e_a_record_synced_again_before_search_sees_it_is_not_duplicated() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 1).await;
    let sandbox = sandbox(false).await;
    sandbox
        .admin()
        .set_hubspot_search(etlify_sandbox::SearchConfig {
            indexing_lag_ms: 5_000,
            ..etlify_sandbox::SearchConfig::default()
        });
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![user_model(&["hubspot"])],
    )
    .await;
    assert_eq!(
        etlify.sync("hubspot", "User", ids[0]).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    let created = sandbox.admin().hubspot_objects("contacts").unwrap();
    assert_eq!(created.len(), 1);

    db.exec("DELETE FROM crm_synchronisations").await;
    assert_eq!(
        etlify.sync("hubspot", "User", ids[0]).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    let log = sandbox.admin().request_log();
    assert_eq!(log.count_status(409), 1, "the second create met the first");
    let contacts = sandbox.admin().hubspot_objects("contacts").unwrap();
    assert_eq!(contacts.len(), 1, "no duplicate");
    let row = etlify
        .sync_row("hubspot", "User", ids[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.crm_id.as_ref(), Some(&created[0].id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn airtable_e2e_single_syncs_go_through_the_synchronizer() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 2).await;
    let sandbox = sandbox(false).await;
    let airtable = Arc::new(
        AirtableAdapter::new(
            AirtableConfig::new(DEFAULT_AIRTABLE_TOKEN, "appSandbox0000001")
                .base_url(sandbox.base_url())
                .http(fast_retries()),
        )
        .unwrap(),
    );
    let model = Model::new("User", "users").bind(
        "airtable",
        Binding::new("People", "Email").payload(SqlPayload::new(
            "SELECT id, email AS \"Email\", full_name AS \"Name\" FROM users",
        )),
    );
    let etlify = engine(&db, vec![Crm::new("airtable", airtable)], vec![model]).await;
    for id in &ids {
        assert_eq!(
            etlify.sync("airtable", "User", *id).await.unwrap(),
            SyncDispatch::Completed(SyncOutcome::Synced)
        );
    }
    assert_eq!(
        etlify.sync("airtable", "User", ids[0]).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::NotModified)
    );
    db.exec(&format!(
        "UPDATE users SET email = 'moved@example.com' WHERE id = {}",
        ids[0]
    ))
    .await;
    assert_eq!(
        etlify.sync("airtable", "User", ids[0]).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    let records = sandbox
        .admin()
        .airtable_records("appSandbox0000001", "People")
        .unwrap();
    assert_eq!(
        records.len(),
        2,
        "the email change updated the record by its id (X-2), no duplicate"
    );
    assert_eq!(
        etlify.delete("airtable", "User", ids[1]).await.unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        sandbox
            .admin()
            .airtable_records("appSandbox0000001", "People")
            .unwrap()
            .len(),
        1
    );
}
