//! The tests of `lost_response` that run on each backend. This file is compiled
//! twice, as `lost_response::sqlite` and `lost_response::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

// ---- HubSpot ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_response_deals_with_an_external_id_are_created_once_under_dropped_responses() {
    let db = TestDb::new(BACKEND).await;
    let ids = deals(&db, 100).await;
    let mut config = sandbox_config(SEED);
    config.hubspot.faults = lost_responses(0.3);
    let sandbox = Sandbox::start(config).await.unwrap();
    // 10 per request: ten batch upserts, so that some responses are lost.
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox, 10, fast_retries()))],
        vec![hubspot_deals()],
    )
    .await;

    batch_sync_until_done(&etlify).await;

    assert_each_deal_once_in_hubspot(&sandbox, &etlify, &ids).await;
    let log = sandbox.admin().request_log();
    assert!(
        dropped(&sandbox, "POST", HUBSPOT_UPSERT) > 0,
        "the scenario lost batch responses: {:?}",
        log.endpoints
    );
    assert_eq!(
        log.count("POST", HUBSPOT_CREATE),
        0,
        "every deal went through batch/upsert by {EXTERNAL_ID}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_response_deals_synced_one_by_one_are_created_once_under_dropped_responses() {
    let db = TestDb::new(BACKEND).await;
    let ids = deals(&db, 100).await;
    let mut config = sandbox_config(SEED);
    config.hubspot.faults = lost_responses(0.3);
    let sandbox = Sandbox::start(config).await.unwrap();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox, 100, fast_retries()))],
        vec![hubspot_deals()],
    )
    .await;

    let failures = sync_one_by_one(&etlify, "hubspot", &ids).await;

    assert_each_deal_once_in_hubspot(&sandbox, &etlify, &ids).await;
    let log = sandbox.admin().request_log();
    let lost_creates = dropped(&sandbox, "POST", HUBSPOT_CREATE);
    assert!(lost_creates > 0, "the scenario lost create responses");
    assert_eq!(
        log.count("POST", HUBSPOT_CREATE),
        100,
        "one create per deal: a create whose response was lost is neither \
         repeated nor sent again by the next sync, which finds the deal"
    );
    let not_repeated = failures
        .iter()
        .filter(|message| message.contains("not repeated"))
        .count();
    assert_eq!(
        u64::try_from(not_repeated).unwrap(),
        lost_creates,
        "each lost create failed its sync, saying it is not repeated: {failures:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_response_a_create_whose_response_is_lost_is_not_repeated() {
    let db = TestDb::new(BACKEND).await;
    let ids = deals(&db, 1).await;
    let sandbox = sandbox_losing_the_first_create(TargetApi::Hubspot, sandbox_config(SEED)).await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox, 100, fast_retries()))],
        vec![hubspot_deals()],
    )
    .await;

    let error = run_error(etlify.sync("hubspot", "Deal", ids[0]).await);
    assert_eq!(error.kind(), AdapterErrorKind::Transient, "{error}");
    assert!(error.message().contains("not repeated"), "{error}");
    assert_eq!(
        requests(&sandbox),
        vec![
            request("POST", HUBSPOT_SEARCH, Some(200)),
            request("POST", HUBSPOT_CREATE, None),
        ],
        "a search finding nothing, then one create whose response was lost, not repeated"
    );
    let objects = sandbox.admin().hubspot_objects("deals").unwrap();
    assert_eq!(objects.len(), 1, "the lost create was applied");
    assert_eq!(objects[0].properties[EXTERNAL_ID], external_id(ids[0]));
    let row = etlify.sync_row("hubspot", "Deal", ids[0]).await.unwrap();
    assert_eq!(row.and_then(|r| r.crm_id), None, "no crm id known yet");

    // The next sync searches by the external id, finds the deal and adopts it.
    sandbox
        .admin()
        .set_faults(TargetApi::Hubspot, FaultConfig::default())
        .unwrap();
    assert_eq!(
        etlify.sync("hubspot", "Deal", ids[0]).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    let objects = sandbox.admin().hubspot_objects("deals").unwrap();
    assert_eq!(objects.len(), 1, "no duplicate");
    let row = etlify.sync_row("hubspot", "Deal", ids[0]).await.unwrap();
    assert_eq!(row.and_then(|r| r.crm_id), Some(objects[0].id.clone()));
    let log = sandbox.admin().request_log();
    assert_eq!(
        log.count("POST", HUBSPOT_CREATE),
        1,
        "one create request in all"
    );
    assert_eq!(
        log.count("PATCH", HUBSPOT_OBJECT),
        1,
        "the found deal was updated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_response_a_lost_create_is_adopted_through_the_unique_external_id_when_search_lags() {
    let db = TestDb::new(BACKEND).await;
    let ids = deals(&db, 1).await;
    let mut config = sandbox_config(SEED);
    // Search does not see the lost deal on the next sync.
    config.hubspot.search.indexing_lag_ms = 600_000;
    let sandbox = sandbox_losing_the_first_create(TargetApi::Hubspot, config).await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox, 100, fast_retries()))],
        vec![hubspot_deals()],
    )
    .await;

    let error = run_error(etlify.sync("hubspot", "Deal", ids[0]).await);
    assert!(error.message().contains("not repeated"), "{error}");
    sandbox
        .admin()
        .set_faults(TargetApi::Hubspot, FaultConfig::default())
        .unwrap();

    // Search finds nothing; the create meets the unique `etlify_id`
    // (409 "Existing ID: N") and the record adopts N.
    assert_eq!(
        etlify.sync("hubspot", "Deal", ids[0]).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    let objects = sandbox.admin().hubspot_objects("deals").unwrap();
    assert_eq!(objects.len(), 1, "no duplicate");
    let row = etlify.sync_row("hubspot", "Deal", ids[0]).await.unwrap();
    assert_eq!(row.and_then(|r| r.crm_id), Some(objects[0].id.clone()));
    assert_eq!(
        requests(&sandbox),
        vec![
            request("POST", HUBSPOT_SEARCH, Some(200)),
            request("POST", HUBSPOT_CREATE, None),
            request("POST", HUBSPOT_SEARCH, Some(200)),
            request("POST", HUBSPOT_CREATE, Some(409)),
            request("PATCH", HUBSPOT_OBJECT, Some(200)),
        ]
    );
}

// ---- Airtable ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_response_an_airtable_create_whose_response_is_lost_is_not_repeated() {
    let db = TestDb::new(BACKEND).await;
    let ids = deals(&db, 1).await;
    let sandbox = sandbox_losing_the_first_create(TargetApi::Airtable, sandbox_config(SEED)).await;
    let etlify = engine(
        &db,
        vec![Crm::new("airtable", airtable(&sandbox, 10, fast_retries()))],
        vec![airtable_deals()],
    )
    .await;

    let error = run_error(etlify.sync("airtable", "Deal", ids[0]).await);
    assert_eq!(error.kind(), AdapterErrorKind::Transient, "{error}");
    assert!(error.message().contains("not repeated"), "{error}");
    let log = requests(&sandbox);
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(
        (log[0].0.as_str(), log[0].1.as_str()),
        ("GET", AIRTABLE_TABLE),
        "the search by formula came first, answered: {log:?}"
    );
    assert!(log[0].2.is_some(), "{log:?}");
    assert_eq!(
        log[1],
        request("POST", AIRTABLE_TABLE, None),
        "then one create whose response was lost, not repeated"
    );
    let records = sandbox.admin().airtable_records(BASE_ID, TABLE).unwrap();
    assert_eq!(records.len(), 1, "the lost create was applied");

    // The next sync finds the record by its external id (no search lag).
    sandbox
        .admin()
        .set_faults(TargetApi::Airtable, FaultConfig::default())
        .unwrap();
    assert_eq!(
        etlify.sync("airtable", "Deal", ids[0]).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    let records = sandbox.admin().airtable_records(BASE_ID, TABLE).unwrap();
    assert_eq!(records.len(), 1, "no duplicate");
    let row = etlify.sync_row("airtable", "Deal", ids[0]).await.unwrap();
    assert_eq!(row.and_then(|r| r.crm_id), Some(records[0].id.clone()));
    let log = sandbox.admin().request_log();
    assert_eq!(
        log.count("POST", AIRTABLE_TABLE),
        1,
        "one create request in all"
    );
    assert_eq!(
        log.count("PATCH", AIRTABLE_RECORD),
        1,
        "the found record was updated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_response_airtable_records_synced_one_by_one_are_created_once_under_dropped_responses()
{
    let db = TestDb::new(BACKEND).await;
    let ids = deals(&db, 50).await;
    let mut config = sandbox_config(SEED);
    config.airtable.faults = lost_responses(0.3);
    let sandbox = Sandbox::start(config).await.unwrap();
    let etlify = engine(
        &db,
        vec![Crm::new("airtable", airtable(&sandbox, 10, fast_retries()))],
        vec![airtable_deals()],
    )
    .await;

    let failures = sync_one_by_one(&etlify, "airtable", &ids).await;

    assert_each_deal_once_in_airtable(&sandbox, &etlify, &ids).await;
    let lost_creates = dropped(&sandbox, "POST", AIRTABLE_TABLE);
    assert!(lost_creates > 0, "the scenario lost create responses");
    assert_eq!(
        sandbox.admin().request_log().count("POST", AIRTABLE_TABLE),
        50,
        "one create per deal"
    );
    let not_repeated = failures
        .iter()
        .filter(|message| message.contains("not repeated"))
        .count();
    assert_eq!(
        u64::try_from(not_repeated).unwrap(),
        lost_creates,
        "each lost create failed its sync, saying it is not repeated: {failures:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_response_airtable_records_with_an_external_id_are_created_once_under_dropped_responses(
) {
    let db = TestDb::new(BACKEND).await;
    let ids = deals(&db, 50).await;
    let mut config = sandbox_config(SEED);
    config.airtable.faults = lost_responses(0.3);
    let sandbox = Sandbox::start(config).await.unwrap();
    // 5 per request: ten performUpsert requests, so that some responses are lost.
    let etlify = engine(
        &db,
        vec![Crm::new("airtable", airtable(&sandbox, 5, fast_retries()))],
        vec![airtable_deals()],
    )
    .await;

    batch_sync_until_done(&etlify).await;

    assert_each_deal_once_in_airtable(&sandbox, &etlify, &ids).await;
    assert!(
        dropped(&sandbox, "PATCH", AIRTABLE_TABLE) > 0,
        "the scenario lost performUpsert responses"
    );
    assert_eq!(
        sandbox.admin().request_log().count("POST", AIRTABLE_TABLE),
        0,
        "every record went through performUpsert on {EXTERNAL_ID}"
    );
}

// ---- A batch run ----

/// Records the CRM lost (their known ids answer 404) take the one-by-one
/// path of a batch run: an update, a search, a create. A create whose
/// response is lost is that record's outcome (in doubt: not repeated, no
/// sync state written), never the end of the CRM's run: the other records
/// of the run are synced, and the next run finds the lost creates by their
/// external id and adopts them, so each deal exists once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_a_lost_create_is_that_records_outcome_and_the_batch_run_goes_on() {
    let db = TestDb::new(BACKEND).await;
    let ids = deals(&db, 40).await;
    for id in &ids {
        db.insert_sync_row("hubspot", "Deal", *id, 0, None).await;
    }
    // Ids the CRM does not have (it lost the objects).
    db.exec("UPDATE crm_synchronisations SET crm_id = '7700' || resource_id")
        .await;
    let mut config = sandbox_config(SEED);
    config.hubspot.faults = lost_responses(0.25);
    let sandbox = Sandbox::start(config).await.unwrap();
    // Enough attempts that the idempotent requests (batch update, update,
    // search) get through: only the creates' lost answers are in doubt.
    let patient = fast_retries().retry(
        RetryPolicy::default()
            .max_attempts(12)
            .base_delay(Duration::from_millis(1))
            .max_delay(Duration::from_millis(5)),
    );
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox, 100, patient))],
        vec![hubspot_deals()],
    )
    .await;

    let first = etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .into_result()
        .expect("a lost create does not interrupt the CRM's run");

    let lost_creates = dropped(&sandbox, "POST", HUBSPOT_CREATE);
    assert!(lost_creates > 0, "the scenario lost create responses");
    assert_eq!(
        first.outcomes.in_doubt as u64, lost_creates,
        "each lost create is its record's outcome: {first:?}"
    );
    assert_eq!(
        first.outcomes.synced + first.outcomes.in_doubt,
        ids.len(),
        "every other record of the run was synced: {first:?}"
    );
    assert_eq!(
        stale(&etlify).await as u64,
        lost_creates,
        "the records in doubt stay stale"
    );
    assert_eq!(
        sandbox.admin().request_log().count("POST", HUBSPOT_CREATE),
        ids.len() as u64,
        "one create per deal: a lost create is not repeated"
    );

    sandbox
        .admin()
        .set_faults(TargetApi::Hubspot, FaultConfig::default())
        .unwrap();
    let second = etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(second.outcomes.synced as u64, lost_creates, "{second:?}");
    assert_eq!(stale(&etlify).await, 0);
    assert_each_deal_once_in_hubspot(&sandbox, &etlify, &ids).await;
    assert_eq!(
        sandbox.admin().request_log().count("POST", HUBSPOT_CREATE),
        ids.len() as u64,
        "the next run adopted the deals created in doubt: no second create"
    );
}
