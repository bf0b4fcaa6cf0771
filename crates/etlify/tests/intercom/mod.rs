//! Intercom end to end (issue 30, item 3): the engine, the Intercom
//! adapter and the local sandbox over loopback (`on_each_backend.rs`, per
//! backend), and the exact requests the adapter sends (`wire.rs`,
//! wiremock).

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::{HttpSettings, IntercomAdapter, IntercomConfig, RetryPolicy};
use etlify::{Binding, Link, Model, SqlPayload};
use etlify_sandbox::{
    IntercomLimits, RunningSandbox, Sandbox, SandboxConfig, DEFAULT_INTERCOM_TOKEN,
};

mod wire;

/// A sandbox with the workspace's `limits`.
async fn sandbox(limits: IntercomLimits) -> RunningSandbox {
    let mut config = SandboxConfig::default();
    config.intercom.limits = limits;
    Sandbox::start(config).await.expect("sandbox starts")
}

/// Quick retries, so that a test waits milliseconds, not seconds (a
/// window's reset is waited out whole: up to 2 s).
fn quick() -> HttpSettings {
    HttpSettings::default().retry(
        RetryPolicy::default()
            .max_attempts(4)
            .base_delay(Duration::from_millis(10))
            .max_delay(Duration::from_secs(2)),
    )
}

/// The adapter on `sandbox`'s workspace.
fn intercom(sandbox: &RunningSandbox) -> Arc<IntercomAdapter> {
    Arc::new(
        IntercomAdapter::new(
            IntercomConfig::new(DEFAULT_INTERCOM_TOKEN)
                .base_url(sandbox.intercom_base_url())
                .http(quick()),
        )
        .unwrap(),
    )
}

/// `Company` as Intercom companies identified by their domain (SQL every
/// backend reads alike).
fn company_model() -> Model {
    Model::new("Company", "companies").bind(
        "intercom",
        Binding::new("companies", "company_id").payload(SqlPayload::new(
            "SELECT id, domain AS company_id, name FROM companies",
        )),
    )
}

/// `User` as Intercom contacts matched by `external_id` (their email),
/// attached to their company.
fn contact_model() -> Model {
    Model::new("User", "users").bind(
        "intercom",
        Binding::new("contacts", "external_id")
            .payload(SqlPayload::new(
                "SELECT id, email AS external_id, email, full_name AS name FROM users",
            ))
            .link(Link::belongs_to("Company", "company_id")),
    )
}

// The database tests, compiled once per backend: `intercom::sqlite::…`,
// `intercom::postgres::…` and `intercom::mysql::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;

/// Intercom's search lags writes: a user created a moment ago is not
/// found by its email, yet the create that follows conflicts on that
/// email and the contact it names is updated; no second contact.
#[tokio::test]
async fn intercom_a_user_the_lagging_search_misses_is_adopted_through_its_conflict() {
    use etlify::adapters::{Adapter, Throttle, UpsertRequest};
    use etlify::WriteMode;
    use serde_json::json;

    let mut config = SandboxConfig::default();
    config.intercom.search_lag_ms = 600_000;
    let sandbox = Sandbox::start(config).await.unwrap();
    let adapter = intercom(&sandbox);
    let upsert = |name: &'static str| {
        let payload: etlify::Payload = [
            ("email".to_owned(), json!("ann@example.com")),
            ("name".to_owned(), json!(name)),
        ]
        .into_iter()
        .collect();
        let adapter = adapter.clone();
        async move {
            adapter
                .upsert(
                    UpsertRequest {
                        object_type: "contacts",
                        payload: &payload,
                        id_property: "email",
                        crm_id: None,
                        id_property_only_on_create: false,
                        mode: WriteMode::Upsert,
                    },
                    &Throttle::unlimited(),
                )
                .await
                .unwrap()
        }
    };
    let first = upsert("Ann").await;
    let second = upsert("Annie").await;
    assert_eq!(first, second, "the same contact");
    let contacts = sandbox.admin().intercom_contacts();
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    assert_eq!(contacts[0].text("name"), Some("Annie"));
    let log = sandbox.admin().request_log();
    assert_eq!(
        log.count("POST", "/intercom/contacts"),
        2,
        "the second conflicted"
    );
    assert_eq!(log.count("PUT", "/intercom/contacts/{id}"), 1);
}
