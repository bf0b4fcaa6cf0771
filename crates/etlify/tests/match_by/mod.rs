//! Matching apart from the payload (`match_by`): the match property is
//! written only when an object is created, so a contact HubSpot matches
//! through a secondary email keeps its primary one; a record without a CRM
//! object and without a match value fails instead of being created; a
//! batch answer that names no object for a record fails that record.
//! Against the sandbox over loopback.

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::{HttpSettings, HubSpotAdapter, HubSpotConfig, RetryPolicy};
use etlify::{BatchSyncOptions, Binding, Crm, Model, SqlPayload};
use etlify_sandbox::{
    ObjectTypeConfig, RunningSandbox, Sandbox, SandboxConfig, DEFAULT_HUBSPOT_TOKEN,
};
use serde_json::json;

use crate::support::{engine, TestDb};

const CREATE: &str = "/crm/v3/objects/{objectType}";
const BATCH_UPSERT: &str = "/crm/v3/objects/{objectType}/batch/upsert";

/// Contacts unique by email, searchable by their secondary emails too.
async fn sandbox() -> RunningSandbox {
    let mut config = SandboxConfig::default();
    config.hubspot.rate_limits.enabled = false;
    config.hubspot.object_types.insert(
        "contacts".to_owned(),
        ObjectTypeConfig {
            type_id: Some("0-1".to_owned()),
            unique_properties: vec!["email".to_owned()],
            searchable_properties: vec!["email".to_owned(), "hs_additional_emails".to_owned()],
            ..ObjectTypeConfig::default()
        },
    );
    Sandbox::start(config).await.expect("sandbox starts")
}

fn hubspot(sandbox: &RunningSandbox) -> Arc<HubSpotAdapter> {
    Arc::new(
        HubSpotAdapter::new(
            HubSpotConfig::new(DEFAULT_HUBSPOT_TOKEN)
                .base_url(sandbox.hubspot_base_url())
                .search_requests_per_second(1_000)
                .http(
                    HttpSettings::default().retry(
                        RetryPolicy::default()
                            .max_attempts(3)
                            .base_delay(Duration::from_millis(2))
                            .max_delay(Duration::from_millis(20)),
                    ),
                ),
        )
        .unwrap(),
    )
}

/// `User` as contacts, matched by `email` the gem's way (`id_property`) or
/// apart from the payload (`match_by`).
fn users(match_by: bool) -> Model {
    let payload = SqlPayload::new("SELECT id, email, full_name AS firstname FROM users");
    let binding = match match_by {
        true => Binding::new("contacts", "")
            .match_by("email", "email")
            .payload(payload),
        false => Binding::new("contacts", "email").payload(payload),
    };
    Model::new("User", "users").bind("hubspot", binding)
}

/// The sales team's contact, whose secondary email is the app user's.
fn seed_sales_contact(sandbox: &RunningSandbox) -> String {
    sandbox
        .admin()
        .hubspot_insert(
            "contacts",
            json!({"email": "sales@corp.io", "hs_additional_emails": "app@corp.io", "firstname": "From sales"})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap()
        .id
}

// The database tests, compiled once per backend: `match_by::sqlite::…` and
// `match_by::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
