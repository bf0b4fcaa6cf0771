//! The tests of `intercom` that run on each backend. This file is
//! compiled twice, as `intercom::sqlite` and `intercom::postgres`
//! (`mod.rs`); `BACKEND` is this copy's.

use etlify::adapters::{Adapter, Throttle, UpsertRequest};
use etlify::{BatchSyncOptions, Crm, RateLimit, WriteMode};
use etlify_sandbox::IntercomLimits;
use serde_json::json;

use super::*;
use crate::support::{engine, Backend, TestDb};

const BACKEND: Backend = Backend::of_module(module_path!());

/// The sync row's CRM id of `model` `id`.
async fn crm_id(etlify: &etlify::Etlify, model: &str, id: i64) -> String {
    etlify
        .sync_row("intercom", model, id)
        .await
        .unwrap()
        .and_then(|row| row.crm_id)
        .expect("a synced row with its Intercom id")
}

/// Companies and contacts are created, each contact attached to its
/// company, their Intercom ids stored; a run with nothing changed sends
/// nothing; a changed user is updated by its stored id, not created again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intercom_contacts_are_created_attached_to_companies_then_nothing_sent_unchanged() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let acme = db.insert_company("acme").await;
    let ann = db.insert_user("ann@example.com", Some(acme)).await;
    let bo = db.insert_user("bo@example.com", Some(acme)).await;
    let sandbox = sandbox(IntercomLimits::default()).await;
    let etlify = engine(
        &db,
        vec![Crm::new("intercom", intercom(&sandbox))],
        vec![company_model(), contact_model()],
    )
    .await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (3, 0), "{stats:?}");
    let admin = sandbox.admin();
    let companies = admin.intercom_companies();
    assert_eq!(companies.len(), 1);
    let company = &companies[0];
    assert_eq!(company.attributes["company_id"], json!("acme.example"));
    assert_eq!(company.id, crm_id(&etlify, "Company", acme).await);
    let contacts = admin.intercom_contacts();
    assert_eq!(contacts.len(), 2);
    for (user, email) in [(ann, "ann@example.com"), (bo, "bo@example.com")] {
        let contact = contact_of(&contacts, email);
        assert_eq!(contact.text("email"), Some(email));
        assert_eq!(contact.text("role"), Some("user"));
        assert_eq!(
            contact.companies,
            std::slice::from_ref(&company.id),
            "attached"
        );
        assert_eq!(contact.id, crm_id(&etlify, "User", user).await);
    }
    let log = admin.request_log();
    assert_eq!(
        log.count("POST", "/intercom/contacts"),
        2,
        "one create each"
    );
    assert_eq!(log.count("POST", "/intercom/contacts/{id}/companies"), 2);
    assert_eq!(
        admin.intercom_versions().keys().collect::<Vec<_>>(),
        ["2.11"],
        "every request names the version"
    );

    let again = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(again.outcomes.synced, 0, "{again:?}");
    assert_eq!(admin.request_log().total, log.total, "nothing sent");

    db.exec(&format!(
        "UPDATE users SET full_name = 'Annie' WHERE id = {ann}"
    ))
    .await;
    db.touch("users", ann).await;
    let changed = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(changed.outcomes.synced, 1, "{changed:?}");
    let log = admin.request_log();
    assert_eq!(
        log.count("PUT", "/intercom/contacts/{id}"),
        1,
        "updated by its id"
    );
    assert_eq!(
        log.count("POST", "/intercom/contacts"),
        2,
        "not created again"
    );
    let annie = contact_of(&admin.intercom_contacts(), "ann@example.com");
    assert_eq!(annie.text("name"), Some("Annie"));
}

/// The contact holding `external_id`.
fn contact_of(
    contacts: &[etlify_sandbox::IntercomContact],
    external_id: &str,
) -> etlify_sandbox::IntercomContact {
    contacts
        .iter()
        .find(|c| c.text("external_id") == Some(external_id))
        .cloned()
        .expect("created with its external id")
}

/// A contact made in Intercom before (a lead, by its email) is found by
/// a search on the email, whatever its case, and updated: no second
/// contact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intercom_a_contact_matched_by_email_is_searched_and_updated() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ann = db.insert_user("Ann@Example.com", None).await;
    let sandbox = sandbox(IntercomLimits::default()).await;
    let adapter = intercom(&sandbox);
    let mut lead = etlify::Payload::new();
    lead.insert("role".into(), json!("lead"));
    lead.insert("email".into(), json!("ann@example.com"));
    let existing = adapter
        .upsert(
            UpsertRequest {
                object_type: "contacts",
                payload: &lead,
                id_property: "email",
                crm_id: None,
                id_property_only_on_create: false,
                mode: WriteMode::Upsert,
            },
            &Throttle::unlimited(),
        )
        .await
        .unwrap()
        .unwrap();
    let by_email = Model::new("User", "users").bind(
        "intercom",
        Binding::new("contacts", "email").payload(SqlPayload::new(
            "SELECT id, email, full_name AS name FROM users",
        )),
    );
    let etlify = engine(&db, vec![Crm::new("intercom", adapter)], vec![by_email]).await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (1, 0), "{stats:?}");
    let contacts = sandbox.admin().intercom_contacts();
    assert_eq!(contacts.len(), 1, "no second contact: {contacts:?}");
    assert_eq!(contacts[0].id, existing);
    assert_eq!(contacts[0].text("name"), Some("Name of Ann@Example.com"));
    assert_eq!(contacts[0].text("role"), Some("lead"), "its role kept");
    assert_eq!(crm_id(&etlify, "User", ann).await, existing);
    let log = sandbox.admin().request_log();
    assert_eq!(
        log.count("POST", "/intercom/contacts/search"),
        2,
        "the lead's own upsert searched too"
    );
    assert_eq!(
        log.count("POST", "/intercom/contacts"),
        1,
        "only the lead's"
    );
}

/// A CRM limit above the app's window: the `X-RateLimit-Remaining` of
/// each answer holds the requests back until the window resets, so the
/// workspace answers no 429 and every contact is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intercom_the_window_headers_hold_requests_back_before_a_429() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    for i in 0..12 {
        db.insert_user(&format!("user{i}@example.com"), None).await;
    }
    let sandbox = sandbox(IntercomLimits {
        per_app_max: 5,
        window_ms: 1_000,
        ..IntercomLimits::default()
    })
    .await;
    let crm = Crm::new("intercom", intercom(&sandbox))
        .rate_limit(RateLimit::new(50, Duration::from_secs(1)).unwrap())
        .max_in_flight(1);
    let contacts = Model::new("User", "users").bind(
        "intercom",
        Binding::new("contacts", "external_id").payload(SqlPayload::new(
            "SELECT id, email AS external_id, email FROM users",
        )),
    );
    let etlify = engine(&db, vec![crm], vec![contacts]).await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (12, 0), "{stats:?}");
    assert_eq!(sandbox.admin().intercom_contacts().len(), 12);
    let log = sandbox.admin().request_log();
    assert_eq!(log.count_status(429), 0, "{:?}", log.endpoints);
    let peak = log
        .peaks
        .iter()
        .find(|peak| peak.policy == "intercom.per_app")
        .map_or(0, |peak| peak.peak);
    assert_eq!(peak, 5, "the window was filled, never overfilled");
}
