//! HubSpot's dated API end to end (HUBSPOT-1, HUBSPOT-11): the engine, the
//! HubSpot adapter at a chosen `api_version` and the local sandbox, over
//! loopback: 2026-09's required properties as record errors, and the
//! secondary-email match of a batch upsert by `email`.

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::hubspot::ApiVersion;
use etlify::adapters::{HttpSettings, HubSpotAdapter, HubSpotConfig, RetryPolicy};
use etlify::{BatchSyncOptions, Crm, SyncDispatch, SyncOutcome};
use etlify_sandbox::{
    ObjectTypeConfig, RunningSandbox, Sandbox, SandboxConfig, DEFAULT_HUBSPOT_TOKEN,
};

use crate::support::{engine, user_model, TestDb};

/// A sandbox without rate limits whose contacts require `required` on
/// 2026-09 writes.
async fn sandbox(required: &[&str]) -> RunningSandbox {
    let mut config = SandboxConfig::default();
    config.hubspot.rate_limits.enabled = false;
    config.hubspot.object_types.insert(
        "contacts".to_owned(),
        ObjectTypeConfig {
            type_id: Some("0-1".to_owned()),
            unique_properties: vec!["email".to_owned()],
            searchable_properties: vec!["email".to_owned(), "hs_additional_emails".to_owned()],
            required_properties: required.iter().map(|p| (*p).to_owned()).collect(),
            ..ObjectTypeConfig::default()
        },
    );
    Sandbox::start(config).await.expect("sandbox starts")
}

fn hubspot(sandbox: &RunningSandbox, version: ApiVersion) -> Arc<HubSpotAdapter> {
    Arc::new(
        HubSpotAdapter::new(
            HubSpotConfig::new(DEFAULT_HUBSPOT_TOKEN)
                .base_url(sandbox.hubspot_base_url())
                .api_version(version)
                .search_requests_per_second(1_000)
                .http(
                    HttpSettings::default().retry(
                        RetryPolicy::default()
                            .max_attempts(3)
                            .base_delay(Duration::from_millis(10))
                            .max_delay(Duration::from_millis(100)),
                    ),
                ),
        )
        .unwrap(),
    )
}

// The database tests, compiled once per backend: `hubspot_version::sqlite::…`
// and `hubspot_version::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
