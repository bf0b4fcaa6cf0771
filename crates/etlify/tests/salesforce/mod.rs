//! Salesforce end to end (issue 30, item 2): the engine, the Salesforce
//! adapter and the local sandbox over loopback (`on_each_backend.rs`,
//! per backend), and the exact requests the adapter sends (`wire.rs`,
//! wiremock).

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::{HttpSettings, RetryPolicy, SalesforceAdapter, SalesforceConfig};
use etlify::{Binding, Model, SqlPayload};
use etlify_sandbox::{
    RunningSandbox, SalesforceLimits, Sandbox, SandboxConfig, DEFAULT_SALESFORCE_CLIENT_ID,
    DEFAULT_SALESFORCE_CLIENT_SECRET,
};

mod wire;

/// A sandbox with the org's `limits`.
async fn sandbox(limits: SalesforceLimits) -> RunningSandbox {
    let mut config = SandboxConfig::default();
    config.salesforce.limits = limits;
    Sandbox::start(config).await.expect("sandbox starts")
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

/// The adapter on `sandbox`'s default connected app, `batch_size` records a request.
fn salesforce(sandbox: &RunningSandbox, batch_size: usize) -> Arc<SalesforceAdapter> {
    Arc::new(
        SalesforceAdapter::new(
            SalesforceConfig::new(
                DEFAULT_SALESFORCE_CLIENT_ID,
                DEFAULT_SALESFORCE_CLIENT_SECRET,
            )
            .login_url(sandbox.salesforce_login_url())
            .batch_size(batch_size)
            .http(quick()),
        )
        .unwrap(),
    )
}

/// The external id of user `id`.
fn external_id(id: i64) -> String {
    format!("user-{id}")
}

/// `User` as Salesforce Contacts matched by `Etlify_Id__c` (`user-<id>`).
fn contact_model() -> Model {
    Model::new("User", "users").bind(
        "salesforce",
        Binding::new("Contact", "Etlify_Id__c").payload(SqlPayload::new(
            "SELECT id, 'user-' || CAST(id AS varchar(20)) AS \"Etlify_Id__c\", \
             email AS \"Email\", full_name AS \"LastName\" FROM users",
        )),
    )
}

// The database tests, compiled once per backend: `salesforce::sqlite::…`,
// `salesforce::postgres::…` and `salesforce::mysql::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
