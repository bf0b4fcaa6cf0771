//! Sync modes (`mode`): `update_only` never creates an object,
//! `create_only` never updates one; both keep the digest and every other
//! guarantee. Against the sandbox over loopback.

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::{HttpSettings, HubSpotAdapter, HubSpotConfig, NullAdapter, RetryPolicy};
use etlify::{BatchSyncOptions, Binding, Crm, Etlify, Model, SqlPayload, WriteMode};
use etlify_sandbox::{RunningSandbox, Sandbox, SandboxConfig, DEFAULT_HUBSPOT_TOKEN};
use serde_json::{json, Map};

use crate::support::{builder, engine, TestDb};

const CREATE: &str = "/crm/v3/objects/{objectType}";
const UPDATE: &str = "/crm/v3/objects/{objectType}/{objectId}";
const BATCH_UPSERT: &str = "/crm/v3/objects/{objectType}/batch/upsert";
const BATCH_UPDATE: &str = "/crm/v3/objects/{objectType}/batch/update";

async fn sandbox() -> RunningSandbox {
    let mut config = SandboxConfig::default();
    config.hubspot.rate_limits.enabled = false;
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

/// `User` as HubSpot contacts by email, in `mode`.
fn users(mode: WriteMode) -> Model {
    Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new(
                "SELECT id, email, full_name AS firstname FROM users",
            ))
            .mode(mode),
    )
}

/// `n` users, `user<i>@example.com`: their ids.
async fn insert_users(db: &TestDb, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(db.insert_user(&format!("user{i}@example.com"), None).await);
    }
    ids
}

/// Contacts already in the CRM for users `indices`, named "Sales <i>".
fn seed_contacts(sandbox: &RunningSandbox, indices: impl IntoIterator<Item = usize>) {
    for i in indices {
        let mut properties = Map::new();
        properties.insert("email".into(), json!(format!("user{i}@example.com")));
        properties.insert("firstname".into(), json!(format!("Sales {i}")));
        sandbox
            .admin()
            .hubspot_insert("contacts", properties)
            .unwrap();
    }
}

/// The CRM's contacts: email → first name.
fn contacts(sandbox: &RunningSandbox) -> Vec<(String, String)> {
    let mut contacts: Vec<(String, String)> = sandbox
        .admin()
        .hubspot_objects("contacts")
        .unwrap()
        .into_iter()
        .map(|o| {
            (
                o.properties["email"].clone(),
                o.properties.get("firstname").cloned().unwrap_or_default(),
            )
        })
        .collect();
    contacts.sort();
    contacts
}

async fn run(etlify: &Etlify) -> etlify::BatchStats {
    etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .into_result()
        .unwrap()
        .outcomes
}

fn writes(sandbox: &RunningSandbox) -> u64 {
    let log = sandbox.admin().request_log();
    log.count("POST", CREATE)
        + log.count("PATCH", UPDATE)
        + log.count("POST", BATCH_UPSERT)
        + log.count("POST", BATCH_UPDATE)
}

// The database tests, compiled once per backend: `modes::sqlite::…` and
// `modes::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
