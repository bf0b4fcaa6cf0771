//! The tests of `hubspot_version` that run on each backend. This file is
//! compiled twice, as `hubspot_version::sqlite` and
//! `hubspot_version::postgres` (`mod.rs`); `BACKEND` is this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

/// On 2026-09 a record lacking a property the portal requires is a record
/// error naming the property (stays stale, error counted); the other
/// records of the same batch sync. The legacy paths take the same records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_version_a_missing_required_property_is_a_record_error_and_the_batch_goes_on() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let company = db.insert_company("acme").await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            db.insert_user(&format!("user{i}@example.com"), Some(company))
                .await,
        );
    }
    let nameless = [ids[1], ids[4]];
    for id in nameless {
        db.exec(&format!(
            "UPDATE users SET full_name = NULL WHERE id = {id}"
        ))
        .await;
    }
    let sandbox = sandbox(&["full_name"]).await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox, ApiVersion::V2026_09))],
        vec![user_model(&["hubspot"])],
    )
    .await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (4, 2), "{stats:?}");
    assert_eq!(
        sandbox.admin().hubspot_objects("contacts").unwrap().len(),
        4
    );
    for id in nameless {
        let row = etlify
            .sync_row("hubspot", "User", id)
            .await
            .unwrap()
            .unwrap();
        let error = row.last_error.clone().unwrap_or_default();
        assert!(error.contains("property full_name"), "{error}");
        assert_eq!((row.error_count, row.crm_id), (1, None));
        assert!(
            db.user_is_stale("hubspot", id).await,
            "found again next run"
        );
    }
    let log = sandbox.admin().request_log();
    assert_eq!(
        log.count("POST", "/crm/objects/2026-09/{objectType}/batch/upsert"),
        1,
        "one batch, at the configured version"
    );
    assert_eq!(
        log.count("POST", "/crm/v3/objects/{objectType}/batch/upsert"),
        0
    );

    // The same records through the legacy paths, which ignore the rule.
    let legacy = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox, ApiVersion::V3))],
        vec![user_model(&["hubspot"])],
    )
    .await;
    let stats = legacy.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (2, 0), "{stats:?}");
    assert_eq!(
        sandbox.admin().hubspot_objects("contacts").unwrap().len(),
        6
    );
}

/// The per-record path too: on 2026-09 the create of a record lacking a
/// required property is refused, and the record's error names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_version_a_single_sync_missing_a_required_property_is_a_record_error_naming_it() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let named = db.insert_user("named@example.com", None).await;
    let nameless = db.insert_user("nameless@example.com", None).await;
    db.exec(&format!(
        "UPDATE users SET full_name = NULL WHERE id = {nameless}"
    ))
    .await;
    let sandbox = sandbox(&["full_name"]).await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox, ApiVersion::V2026_09))],
        vec![user_model(&["hubspot"])],
    )
    .await;

    assert_eq!(
        etlify.sync("hubspot", "User", named).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    match etlify.sync("hubspot", "User", nameless).await.unwrap() {
        SyncDispatch::Completed(SyncOutcome::Error(error)) => {
            assert!(error.message.contains("property full_name"), "{error:?}");
        }
        other => panic!("expected a record error, got {other:?}"),
    }
    let row = etlify
        .sync_row("hubspot", "User", nameless)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.error_count, row.crm_id), (1, None));
    assert_eq!(
        sandbox.admin().hubspot_objects("contacts").unwrap().len(),
        1
    );
    let log = sandbox.admin().request_log();
    assert_eq!(log.count("POST", "/crm/objects/2026-09/{objectType}"), 2);
}

/// With `id_property = "email"`, HubSpot's batch upsert matches a contact
/// through one of its secondary emails, and the payload's `email` then
/// overwrites the contact's primary email (the sales team's address is
/// lost). Issue 27's `match_by` is the cure; this shows the harm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_version_id_property_overwrites_a_primary_email_matched_through_a_secondary_one() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let company = db.insert_company("acme").await;
    let user = db.insert_user("app@corp.io", Some(company)).await;
    let sandbox = sandbox(&[]).await;
    let existing = sandbox
        .admin()
        .hubspot_insert(
            "contacts",
            serde_json::json!({"email": "sales@corp.io", "hs_additional_emails": "app@corp.io"})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox, ApiVersion::V2026_09))],
        vec![user_model(&["hubspot"])],
    )
    .await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (1, 0), "{stats:?}");
    let contacts = sandbox.admin().hubspot_objects("contacts").unwrap();
    assert_eq!(
        contacts.len(),
        1,
        "matched the existing contact, created none"
    );
    assert_eq!(
        contacts[0].properties["email"], "app@corp.io",
        "the contact's primary email sales@corp.io is overwritten"
    );
    let row = etlify
        .sync_row("hubspot", "User", user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.crm_id.as_deref(), Some(existing.id.as_str()));
}
