//! Webhook events for `contacts`, matched by `email`, received by the
//! sandbox's receiver, which answers an id and a status per event.

use std::time::Duration;

use async_trait::async_trait;
use etlify::adapters::{HttpSettings, ResponseMapping, WebhookAdapter, WebhookConfig};
use etlify_sandbox::{
    FaultConfig, RequestLogSnapshot, RunningSandbox, Sandbox, SandboxConfig, TargetApi,
    WebhookRateLimits, DEFAULT_WEBHOOK_SECRET,
};
use serde_json::Value;

use crate::conformance::{Stored, Subject};

pub(crate) struct WebhookSubject {
    sandbox: RunningSandbox,
}

/// The answer of the sandbox's receiver: `{"results": [{"id", "status", "error"}]}`.
pub(crate) fn sandbox_mapping() -> ResponseMapping {
    ResponseMapping::new("/results")
        .id("/id")
        .status("/status")
        .error("/error")
}

#[async_trait]
impl Subject for WebhookSubject {
    const NAME: &'static str = "webhook";

    async fn start() -> Self {
        let mut config = SandboxConfig {
            seed: Some(30),
            ..SandboxConfig::default()
        };
        // A word where the receiver takes a number is refused (422).
        config.webhook.number_fields = vec!["employees".to_owned()];
        Self {
            sandbox: Sandbox::start(config).await.unwrap(),
        }
    }

    type Adapter = WebhookAdapter;

    fn concrete(&self, credential: Option<&str>, http: HttpSettings) -> WebhookAdapter {
        let secret = credential.unwrap_or(DEFAULT_WEBHOOK_SECRET);
        WebhookAdapter::new(
            WebhookConfig::new(self.sandbox.webhook_url(), secret)
                .response(sandbox_mapping())
                .http(http),
        )
        .unwrap()
    }

    fn secret(&self) -> &'static str {
        DEFAULT_WEBHOOK_SECRET
    }

    fn object_type(&self) -> &'static str {
        "contacts"
    }

    fn id_property(&self) -> &'static str {
        "email"
    }

    fn name_property(&self) -> &'static str {
        "name"
    }

    fn number_property(&self) -> &'static str {
        "employees"
    }

    fn stored(&self) -> Vec<Stored> {
        self.sandbox
            .admin()
            .webhook_objects("contacts")
            .into_iter()
            .filter(|object| !object.deleted)
            .map(|object| Stored {
                key: object.id_value,
                name: object
                    .data
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                id: object.id,
            })
            .collect()
    }

    fn set_faults(&self, faults: FaultConfig) {
        self.sandbox
            .admin()
            .set_faults(TargetApi::Webhook, faults)
            .unwrap();
    }

    fn limit(&self, max: u64, window: Duration, retry_after: bool) {
        self.sandbox
            .admin()
            .set_webhook_limits(WebhookRateLimits {
                enabled: true,
                max,
                window_ms: u64::try_from(window.as_millis()).unwrap(),
                retry_after,
            })
            .unwrap();
    }

    fn log(&self) -> RequestLogSnapshot {
        self.sandbox.admin().request_log()
    }

    fn peak(&self, log: &RequestLogSnapshot) -> u64 {
        log.peak("webhook.receiver", "receiver").unwrap_or(0)
    }
}
