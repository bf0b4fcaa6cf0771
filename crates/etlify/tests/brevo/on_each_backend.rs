//! The tests of `brevo` that run on each backend. This file is compiled
//! twice, as `brevo::sqlite` and `brevo::postgres` (`mod.rs`); `BACKEND`
//! is this copy's.

use etlify::adapters::{Adapter, Throttle, UpsertRequest};
use etlify::{
    BatchSyncOptions, Crm, DeleteOutcome, RateLimit, SyncDispatch, SyncOutcome, WriteMode,
};
use serde_json::json;

use super::*;
use crate::support::{engine, Backend, TestDb};

const BACKEND: Backend = Backend::of_module(module_path!());

const CREATE_ROUTE: &str = "/v3/contacts";
const CONTACT_ROUTE: &str = "/v3/contacts/{identifier}";

/// Users `user<i>@example.com`, inserted.
async fn users(db: &TestDb, count: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..count {
        ids.push(db.insert_user(&format!("user{i}@example.com"), None).await);
    }
    ids
}

/// An engine syncing users to `sandbox` as contacts, within Brevo's 10
/// contacts requests a second.
async fn contacts_engine(db: &TestDb, sandbox: &RunningSandbox) -> etlify::Etlify {
    let crm = Crm::new("brevo", brevo(sandbox))
        .rate_limit(RateLimit::new(10, Duration::from_secs(1)).unwrap());
    engine(db, vec![crm], vec![contact_model()]).await
}

/// Contacts are created by email, one request each, their ids stored and
/// their list joined; a run with nothing changed sends nothing; a changed
/// user is updated by its stored contact id, not created again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brevo_creates_then_updates_by_id_and_sends_nothing_unchanged() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 12).await;
    let sandbox = sandbox().await;
    let etlify = contacts_engine(&db, &sandbox).await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (12, 0), "{stats:?}");
    let contacts = sandbox.admin().brevo_contacts();
    assert_eq!(contacts.len(), 12);
    for (i, id) in ids.iter().enumerate() {
        let email = format!("user{i}@example.com");
        let contact = contacts
            .iter()
            .find(|c| c.email.as_deref() == Some(email.as_str()))
            .expect("created with its email");
        let row = etlify
            .sync_row("brevo", "User", *id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.crm_id, Some(contact.id.to_string()));
        assert_eq!(
            contact.attributes["LASTNAME"],
            json!(format!("Name of {email}"))
        );
        assert!(contact.list_ids.contains(&2), "joined list 2");
    }
    let log = sandbox.admin().request_log();
    assert_eq!(log.count("POST", CREATE_ROUTE), 12, "one request a contact");
    assert_eq!(log.count_status(429), 0, "within the contacts limit");

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
    assert_eq!(log.count("PUT", CONTACT_ROUTE), 1, "updated by its id");
    assert_eq!(log.count("POST", CREATE_ROUTE), 12, "not created again");
    let renamed = sandbox
        .admin()
        .brevo_contacts()
        .into_iter()
        .find(|c| c.email.as_deref() == Some("user0@example.com"))
        .unwrap();
    assert_eq!(renamed.attributes["LASTNAME"], "Renamed");
}

/// A contact already in Brevo under the user's email (in capitals) is
/// updated, not duplicated, and its id stored: the 204 of the
/// create-or-update is followed by one read of the id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brevo_matches_an_existing_contact_by_email() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 2).await;
    let sandbox = sandbox().await;
    let adapter = brevo(&sandbox);
    let mut existing = etlify::Payload::new();
    existing.insert("email".to_owned(), json!("USER1@example.com"));
    existing.insert("firstname".to_owned(), json!("Made by hand"));
    let made = adapter
        .upsert(
            UpsertRequest {
                object_type: "contacts",
                payload: &existing,
                id_property: "email",
                crm_id: None,
                id_property_only_on_create: false,
                mode: WriteMode::Upsert,
            },
            &Throttle::unlimited(),
        )
        .await
        .unwrap()
        .expect("an id");
    let etlify = contacts_engine(&db, &sandbox).await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (2, 0), "{stats:?}");
    let contacts = sandbox.admin().brevo_contacts();
    assert_eq!(contacts.len(), 2, "no duplicate: {contacts:?}");
    let row = etlify
        .sync_row("brevo", "User", ids[1])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.crm_id.as_deref(), Some(made.as_str()));
    let matched = contacts.iter().find(|c| c.id.to_string() == made).unwrap();
    assert_eq!(matched.attributes["FIRSTNAME"], "Made by hand");
    assert_eq!(matched.attributes["LASTNAME"], "Name of user1@example.com");
    assert_eq!(
        sandbox.admin().request_log().count("GET", CONTACT_ROUTE),
        1,
        "the existing contact's id read once"
    );
}

/// The engine's delete of a synced user deletes its contact (for good:
/// Brevo keeps no archive); a contact deleted in Brevo meanwhile is
/// already gone, a success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brevo_a_deleted_user_deletes_its_contact() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 2).await;
    let sandbox = sandbox().await;
    let etlify = contacts_engine(&db, &sandbox).await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.outcomes.synced, 2, "{stats:?}");

    assert_eq!(
        etlify.delete("brevo", "User", ids[0]).await.unwrap(),
        DeleteOutcome::Deleted
    );
    let left: Vec<Option<String>> = sandbox
        .admin()
        .brevo_contacts()
        .into_iter()
        .map(|contact| contact.email)
        .collect();
    assert_eq!(left, [Some("user1@example.com".to_owned())]);
    assert_eq!(
        sandbox.admin().request_log().count("DELETE", CONTACT_ROUTE),
        1
    );

    // Deleted by hand in Brevo first: the engine's delete finds it gone.
    let contact = sandbox.admin().brevo_contacts()[0].id;
    brevo(&sandbox)
        .delete("contacts", &contact.to_string(), &Throttle::unlimited())
        .await
        .unwrap();
    assert_eq!(
        etlify.delete("brevo", "User", ids[1]).await.unwrap(),
        DeleteOutcome::AlreadyGone
    );
    assert!(sandbox.admin().brevo_contacts().is_empty());
}

/// The engine's limit is set above the account's (20 contacts requests a
/// second against Brevo's 10): `x-sib-ratelimit-remaining` slows the
/// requests down before the sandbox refuses one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn brevo_the_remaining_header_slows_the_engine_before_a_429() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ids = users(&db, 25).await;
    let sandbox = sandbox().await;
    let crm = Crm::new("brevo", brevo(&sandbox))
        .rate_limit(RateLimit::new(20, Duration::from_secs(1)).unwrap());
    let etlify = engine(&db, vec![crm], vec![contact_model()]).await;
    for id in &ids {
        assert_eq!(
            etlify.sync("brevo", "User", *id).await.unwrap(),
            SyncDispatch::Completed(SyncOutcome::Synced)
        );
    }
    let log = sandbox.admin().request_log();
    let arrivals: Vec<(u64, Option<u16>)> =
        log.recent.iter().map(|r| (r.at_ms, r.status)).collect();
    assert_eq!(
        log.count_status(429),
        0,
        "slowed down before the limit: {arrivals:?}"
    );
    assert_eq!(log.total, 25, "one request a contact");
}
