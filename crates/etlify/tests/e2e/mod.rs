//! End to end: the engine, the real HTTP adapters and the local sandbox of
//! the HubSpot and Airtable APIs, over loopback (G-7, G-8, G-14, G-15,
//!

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::{
    AirtableAdapter, AirtableConfig, HttpConnections, HttpSettings, HubSpotAdapter, HubSpotConfig,
    RetryPolicy, Throttle,
};
use etlify::{
    BatchSyncOptions, Binding, Crm, DeleteOutcome, Model, RateLimit, SqlPayload, SyncDispatch,
    SyncOutcome,
};
use etlify_sandbox::{
    FaultConfig, RunningSandbox, Sandbox, SandboxConfig, TargetApi, DEFAULT_AIRTABLE_TOKEN,
    DEFAULT_HUBSPOT_TOKEN,
};

use crate::support::{engine, hubspot_users, user_model, TestDb};

async fn sandbox(limits: bool) -> RunningSandbox {
    let mut config = SandboxConfig::default();
    config.hubspot.rate_limits.enabled = limits;
    config.airtable.rate_limits.enabled = limits;
    Sandbox::start(config).await.expect("sandbox starts")
}

fn fast_retries() -> HttpSettings {
    HttpSettings::default().retry(
        RetryPolicy::default()
            .max_attempts(4)
            .base_delay(Duration::from_millis(10))
            .max_delay(Duration::from_millis(200)),
    )
}

fn hubspot(sandbox: &RunningSandbox) -> Arc<HubSpotAdapter> {
    Arc::new(
        HubSpotAdapter::new(
            HubSpotConfig::new(DEFAULT_HUBSPOT_TOKEN)
                .base_url(sandbox.hubspot_base_url())
                // The sandbox's limits are mostly off here; its search
                // limit and ours are tested in `ratelimit.rs`.
                .search_requests_per_second(1_000)
                .http(fast_retries()),
        )
        .unwrap(),
    )
}

async fn users(db: &TestDb, n: usize) -> Vec<i64> {
    let company = db.insert_company("acme").await;
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(
            db.insert_user(&format!("User{i}@Example.com"), Some(company))
                .await,
        );
    }
    ids
}

// The database tests, compiled once per backend: `e2e::sqlite::…` and
// `e2e::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;

/// Adapters handed one `HttpConnections` send over one pooled connection;
/// an adapter handed none has connections of its own (two engines in one
/// process share none by accident).
#[tokio::test]
async fn g15_adapters_handed_one_pool_share_its_connections() {
    let sandbox = sandbox(false).await;
    let connections = HttpConnections::new();
    let hubspot_config = || {
        HubSpotConfig::new(DEFAULT_HUBSPOT_TOKEN)
            .base_url(sandbox.hubspot_base_url())
            .http(fast_retries())
    };
    let hubspot = HubSpotAdapter::new(hubspot_config().connections(connections.clone())).unwrap();
    let airtable = AirtableAdapter::new(
        AirtableConfig::new(DEFAULT_AIRTABLE_TOKEN, "appSandbox0000001")
            .base_url(sandbox.base_url())
            .http(fast_retries())
            .connections(connections.clone()),
    )
    .unwrap();
    let payload = |value: serde_json::Value| value.as_object().unwrap().clone();
    let unlimited = Throttle::unlimited();
    for i in 0..5 {
        let contact = payload(serde_json::json!({"email": format!("p{i}@x.io")}));
        etlify::adapters::Adapter::upsert(
            &hubspot,
            etlify::adapters::UpsertRequest {
                object_type: "contacts",
                payload: &contact,
                id_property: "email",
                crm_id: None,
                id_property_only_on_create: false,
                mode: etlify::adapters::WriteMode::Upsert,
            },
            &unlimited,
        )
        .await
        .unwrap();
        let record = payload(serde_json::json!({"Email": format!("p{i}@x.io")}));
        etlify::adapters::Adapter::upsert(
            &airtable,
            etlify::adapters::UpsertRequest {
                object_type: "People",
                payload: &record,
                id_property: "Email",
                crm_id: None,
                id_property_only_on_create: false,
                mode: etlify::adapters::WriteMode::Upsert,
            },
            &unlimited,
        )
        .await
        .unwrap();
    }
    let requests = sandbox.admin().request_log().total;
    assert!(requests >= 20, "{requests} requests");
    assert_eq!(
        sandbox.connections_accepted(),
        1,
        "{requests} requests of two adapters over one pooled connection"
    );
    let own_pool = HubSpotAdapter::new(hubspot_config()).unwrap();
    let contact = payload(serde_json::json!({"email": "own@x.io"}));
    etlify::adapters::Adapter::upsert(
        &own_pool,
        etlify::adapters::UpsertRequest {
            object_type: "contacts",
            payload: &contact,
            id_property: "email",
            crm_id: None,
            id_property_only_on_create: false,
            mode: etlify::adapters::WriteMode::Upsert,
        },
        &unlimited,
    )
    .await
    .unwrap();
    assert_eq!(
        sandbox.connections_accepted(),
        2,
        "an adapter handed no pool opens connections of its own"
    );
}
