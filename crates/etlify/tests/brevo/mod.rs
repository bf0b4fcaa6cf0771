//! Brevo end to end (issue 30, item 4): the engine, the Brevo adapter and
//! the local sandbox over loopback (`on_each_backend.rs`, per backend),
//! and the exact requests the adapter sends (`wire.rs`, wiremock).

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::{BrevoAdapter, BrevoConfig, HttpSettings, RetryPolicy};
use etlify::{Binding, Model, SqlPayload};
use etlify_sandbox::{RunningSandbox, Sandbox, SandboxConfig, DEFAULT_BREVO_API_KEY};

mod wire;

/// A sandbox with Brevo's default limits (10 contacts requests a second).
async fn sandbox() -> RunningSandbox {
    Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox starts")
}

/// Quick retries, so that a test waits milliseconds, not seconds.
fn quick() -> HttpSettings {
    HttpSettings::default().retry(
        RetryPolicy::default()
            .max_attempts(3)
            .base_delay(Duration::from_millis(10))
            .max_delay(Duration::from_millis(100)),
    )
}

/// The adapter on `sandbox`'s account, every contact joining list 2.
fn brevo(sandbox: &RunningSandbox) -> Arc<BrevoAdapter> {
    Arc::new(
        BrevoAdapter::new(
            BrevoConfig::new(DEFAULT_BREVO_API_KEY)
                .base_url(sandbox.brevo_base_url())
                .list_ids([2])
                .http(quick()),
        )
        .unwrap(),
    )
}

/// `User` as Brevo contacts matched by `email`, named in `LASTNAME`.
fn contact_model() -> Model {
    Model::new("User", "users").bind(
        "brevo",
        Binding::new("contacts", "email").payload(SqlPayload::new(
            "SELECT id, email, full_name AS lastname FROM users",
        )),
    )
}

// The database tests, compiled once per backend: `brevo::sqlite::…`,
// `brevo::postgres::…` and `brevo::mysql::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;

/// `create_only` creates a new contact and leaves an existing one as it
/// is (its id returned); `update_only` updates an existing one and
/// creates none.
#[tokio::test]
async fn brevo_write_modes_create_only_and_update_only() {
    use etlify::adapters::{Adapter, AdapterErrorKind, Throttle, UpsertRequest};
    use etlify::WriteMode;
    use serde_json::json;

    let sandbox = sandbox().await;
    let adapter = brevo(&sandbox);
    let upsert = |payload: serde_json::Value, mode: WriteMode| {
        let adapter = adapter.clone();
        async move {
            let payload = payload.as_object().unwrap().clone();
            adapter
                .upsert(
                    UpsertRequest {
                        object_type: "contacts",
                        payload: &payload,
                        id_property: "email",
                        crm_id: None,
                        id_property_only_on_create: false,
                        mode,
                    },
                    &Throttle::unlimited(),
                )
                .await
        }
    };
    let firstname = |sandbox: &RunningSandbox| {
        let contacts = sandbox.admin().brevo_contacts();
        assert!(contacts.len() <= 1, "{contacts:?}");
        contacts.first().map(|c| c.attributes["FIRSTNAME"].clone())
    };

    let missing = upsert(
        json!({"email": "ann@example.com", "firstname": "Ann"}),
        WriteMode::UpdateOnly,
    )
    .await
    .unwrap_err();
    assert_eq!(missing.kind(), AdapterErrorKind::NotFound);
    assert!(missing.is_no_object_to_update(), "{missing}");
    assert_eq!(firstname(&sandbox), None, "nothing created");

    let created = upsert(
        json!({"email": "ann@example.com", "firstname": "Ann"}),
        WriteMode::CreateOnly,
    )
    .await
    .unwrap();
    let kept = upsert(
        json!({"email": "ANN@example.com", "firstname": "Other"}),
        WriteMode::CreateOnly,
    )
    .await
    .unwrap();
    assert_eq!(kept, created, "the existing contact's id");
    assert_eq!(firstname(&sandbox), Some(json!("Ann")), "left as it was");

    let updated = upsert(
        json!({"email": "ann@example.com", "firstname": "Annie"}),
        WriteMode::UpdateOnly,
    )
    .await
    .unwrap();
    assert_eq!(updated, created);
    assert_eq!(firstname(&sandbox), Some(json!("Annie")));
}
