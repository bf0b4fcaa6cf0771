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

// The database tests, compiled once per backend: `brevo::sqlite::…` and
// `brevo::postgres::…`.
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
