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
