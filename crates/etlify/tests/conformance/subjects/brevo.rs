//! Brevo contacts, matched by `email`, on the sandbox's account.

use std::time::Duration;

use async_trait::async_trait;
use etlify::adapters::{BrevoAdapter, BrevoConfig, HttpSettings};
use etlify::Payload;
use etlify_sandbox::{
    BrevoAttributeKind, BrevoRateLimits, FaultConfig, RequestLogSnapshot, RunningSandbox, Sandbox,
    SandboxConfig, DEFAULT_BREVO_API_KEY,
};
use serde_json::{json, Value};

use crate::conformance::{Scenario, Stored, Subject};

/// Why the batch scenario does not apply (also in docs/ADAPTERS.md).
pub(crate) const NO_BATCH: &str = "Brevo has no batch endpoint that answers each contact's \
                                   outcome: its batch update creates nothing and fails whole, \
                                   its import is asynchronous";

pub(crate) struct BrevoSubject {
    sandbox: RunningSandbox,
}

#[async_trait]
impl Subject for BrevoSubject {
    const NAME: &'static str = "brevo";

    async fn start() -> Self {
        let mut config = SandboxConfig {
            seed: Some(30),
            ..SandboxConfig::default()
        };
        config
            .brevo
            .attributes
            .insert("SCORE".to_owned(), BrevoAttributeKind::Float);
        config.brevo.rate_limits.enabled = false;
        Self {
            sandbox: Sandbox::start(config).await.unwrap(),
        }
    }

    type Adapter = BrevoAdapter;

    fn concrete(&self, credential: Option<&str>, http: HttpSettings) -> BrevoAdapter {
        let key = credential.unwrap_or(DEFAULT_BREVO_API_KEY);
        BrevoAdapter::new(
            BrevoConfig::new(key)
                .base_url(self.sandbox.brevo_base_url())
                .http(http),
        )
        .unwrap()
    }

    fn secret(&self) -> &'static str {
        DEFAULT_BREVO_API_KEY
    }

    fn object_type(&self) -> &'static str {
        "contacts"
    }

    fn id_property(&self) -> &'static str {
        "email"
    }

    fn name_property(&self) -> &'static str {
        "firstname"
    }

    fn number_property(&self) -> &'static str {
        "score"
    }

    /// Brevo ignores a value of another type than its attribute's: what
    /// it refuses is an attribute the account does not have.
    fn invalid_payload(&self, key: &str) -> Payload {
        let mut payload = self.payload_of(key, json!("Bad"), json!(1));
        payload.insert("no_such_attribute".to_owned(), json!("many"));
        payload
    }

    fn stored(&self) -> Vec<Stored> {
        self.sandbox
            .admin()
            .brevo_contacts()
            .into_iter()
            .map(|contact| Stored {
                key: contact.email,
                name: contact
                    .attributes
                    .get("FIRSTNAME")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                id: contact.id.to_string(),
            })
            .collect()
    }

    fn set_faults(&self, faults: FaultConfig) {
        self.sandbox.admin().set_brevo_faults(faults).unwrap();
    }

    /// The contacts endpoints' window; `retry_after`: with the
    /// `x-sib-ratelimit-*` headers (the reset is Brevo's delay header).
    fn limit(&self, max: u64, window: Duration, retry_after: bool) {
        self.sandbox
            .admin()
            .set_brevo_limits(BrevoRateLimits {
                enabled: true,
                contacts_max: max,
                contacts_window_ms: u64::try_from(window.as_millis()).unwrap(),
                headers: retry_after,
                ..BrevoRateLimits::default()
            })
            .unwrap();
    }

    fn log(&self) -> RequestLogSnapshot {
        self.sandbox.admin().request_log()
    }

    fn peak(&self, log: &RequestLogSnapshot) -> u64 {
        log.peak("brevo.contacts", "account").unwrap_or(0)
    }

    fn unsupported(scenario: Scenario) -> Option<&'static str> {
        match scenario {
            Scenario::BatchWithOneBadRecord => Some(NO_BATCH),
            _ => None,
        }
    }
}
