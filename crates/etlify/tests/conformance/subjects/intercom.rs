//! Intercom contacts, matched by `external_id`, on the sandbox's workspace.

use std::time::Duration;

use async_trait::async_trait;
use etlify::adapters::{HttpSettings, IntercomAdapter, IntercomConfig};
use etlify_sandbox::{
    FaultConfig, IntercomLimits, RequestLogSnapshot, RunningSandbox, Sandbox, SandboxConfig,
    DEFAULT_INTERCOM_TOKEN,
};

use crate::conformance::{Scenario, Stored, Subject};

/// Why the batch scenario does not apply (also in docs/ADAPTERS.md).
const NO_BATCH: &str = "Intercom has no batch endpoint for contacts: each record is a request \
                        of its own, so a bad record fails alone by construction";

pub(crate) struct IntercomSubject {
    sandbox: RunningSandbox,
}

#[async_trait]
impl Subject for IntercomSubject {
    const NAME: &'static str = "intercom";

    async fn start() -> Self {
        let mut config = SandboxConfig {
            seed: Some(30),
            ..SandboxConfig::default()
        };
        config.intercom.limits.enabled = false;
        Self {
            sandbox: Sandbox::start(config).await.unwrap(),
        }
    }

    type Adapter = IntercomAdapter;

    fn concrete(&self, credential: Option<&str>, http: HttpSettings) -> IntercomAdapter {
        let token = credential.unwrap_or(DEFAULT_INTERCOM_TOKEN);
        IntercomAdapter::new(
            IntercomConfig::new(token)
                .base_url(self.sandbox.intercom_base_url())
                .http(http),
        )
        .unwrap()
    }

    fn secret(&self) -> &'static str {
        DEFAULT_INTERCOM_TOKEN
    }

    fn object_type(&self) -> &'static str {
        "contacts"
    }

    fn id_property(&self) -> &'static str {
        "external_id"
    }

    fn name_property(&self) -> &'static str {
        "name"
    }

    /// A custom attribute the sandbox's workspace declares a number.
    fn number_property(&self) -> &'static str {
        "score"
    }

    fn stored(&self) -> Vec<Stored> {
        self.sandbox
            .admin()
            .intercom_contacts()
            .into_iter()
            .map(|contact| Stored {
                key: contact.text("external_id").map(str::to_owned),
                name: contact.text("name").map(str::to_owned),
                id: contact.id,
            })
            .collect()
    }

    fn set_faults(&self, faults: FaultConfig) {
        self.sandbox.admin().set_intercom_faults(faults).unwrap();
    }

    fn limit(&self, max: u64, window: Duration, retry_after: bool) {
        self.sandbox
            .admin()
            .set_intercom_limits(IntercomLimits {
                enabled: true,
                per_app_max: max,
                per_workspace_max: max,
                window_ms: u64::try_from(window.as_millis()).unwrap(),
                retry_after,
            })
            .unwrap();
    }

    fn log(&self) -> RequestLogSnapshot {
        self.sandbox.admin().request_log()
    }

    fn peak(&self, log: &RequestLogSnapshot) -> u64 {
        log.peaks
            .iter()
            .filter(|peak| peak.policy.starts_with("intercom."))
            .map(|peak| peak.peak)
            .max()
            .unwrap_or(0)
    }

    fn unsupported(scenario: Scenario) -> Option<&'static str> {
        match scenario {
            Scenario::BatchWithOneBadRecord => Some(NO_BATCH),
            _ => None,
        }
    }
}
