//! Records that leave the application (`on_delete`, `max_deletes_per_run`):
//! with `on_delete = archive`, a complete check archives the CRM objects of
//! records whose row is gone, in batches, and removes their sync rows;
//! never more than the guard allows unless an operator says so once; the
//! default (`keep`) leaves them as the gem did. Against the sandbox over
//! loopback.

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::{HttpSettings, HubSpotAdapter, HubSpotConfig, RetryPolicy};
use etlify::{
    BatchSyncOptions, Binding, Crm, DeleteLimit, Disposal, Etlify, Model, RunStats, SqlPayload,
};
use etlify_sandbox::{
    FaultConfig, RunningSandbox, Sandbox, SandboxConfig, TargetApi, DEFAULT_HUBSPOT_TOKEN,
};

use crate::support::{engine, TestDb};

const BATCH_ARCHIVE: &str = "/crm/v3/objects/{objectType}/batch/archive";

async fn sandbox() -> RunningSandbox {
    let mut config = SandboxConfig {
        seed: Some(20_261_207),
        ..SandboxConfig::default()
    };
    config.hubspot.rate_limits.enabled = false;
    Sandbox::start(config).await.expect("sandbox starts")
}

fn hubspot(sandbox: &RunningSandbox) -> Arc<HubSpotAdapter> {
    Arc::new(
        HubSpotAdapter::new(
            HubSpotConfig::new(DEFAULT_HUBSPOT_TOKEN)
                .base_url(sandbox.hubspot_base_url())
                .search_requests_per_second(1_000)
                .batch_size(10)
                .http(
                    HttpSettings::default().retry(
                        RetryPolicy::default()
                            .max_attempts(6)
                            .base_delay(Duration::from_millis(2))
                            .max_delay(Duration::from_millis(20)),
                    ),
                ),
        )
        .unwrap(),
    )
}

/// `User` as HubSpot contacts by email, deleted rows handled by `on_delete`.
fn users(on_delete: Disposal, limit: Option<DeleteLimit>) -> Model {
    let mut binding = Binding::new("contacts", "email")
        .payload(SqlPayload::new("SELECT id, email, full_name FROM users"))
        .on_delete(on_delete);
    if let Some(limit) = limit {
        binding = binding.max_deletes_per_run(limit);
    }
    Model::new("User", "users").bind("hubspot", binding)
}

/// `n` users, synced once: their ids.
async fn synced_users(db: &TestDb, etlify: &Etlify, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(db.insert_user(&format!("user{i}@example.com"), None).await);
    }
    let stats = etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(stats.outcomes.synced, n);
    ids
}

async fn delete_users(db: &TestDb, ids: &[i64]) {
    let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
    db.exec(&format!(
        "DELETE FROM users WHERE id IN ({})",
        list.join(", ")
    ))
    .await;
}

/// A complete check (what a run does every `complete_check_interval`).
async fn complete_run(etlify: &Etlify) -> RunStats {
    etlify
        .batch_sync(&BatchSyncOptions::new().complete(true))
        .await
        .unwrap()
}

/// The sandbox's contacts with `email`, and whether each is archived.
fn contacts(sandbox: &RunningSandbox) -> Vec<(String, bool)> {
    let mut contacts: Vec<(String, bool)> = sandbox
        .admin()
        .hubspot_objects("contacts")
        .unwrap()
        .into_iter()
        .map(|o| (o.properties["email"].clone(), o.archived))
        .collect();
    contacts.sort();
    contacts
}

fn archived_emails(sandbox: &RunningSandbox) -> Vec<String> {
    contacts(sandbox)
        .into_iter()
        .filter(|(_, archived)| *archived)
        .map(|(email, _)| email)
        .collect()
}

/// Sync rows that claim a CRM object.
async fn sync_rows(db: &TestDb) -> i64 {
    db.scalar_i64(
        "SELECT COUNT(*) FROM crm_synchronisations WHERE crm_name = 'hubspot' AND crm_id IS NOT NULL",
    )
    .await
}

/// Every sync row, with a CRM id or not.
async fn all_sync_rows(db: &TestDb) -> i64 {
    db.scalar_i64("SELECT COUNT(*) FROM crm_synchronisations WHERE crm_name = 'hubspot'")
        .await
}

// The database tests, compiled once per backend: `archive::sqlite::…` and
// `archive::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
