//! HubSpot contacts, matched by `email`, on the sandbox.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use etlify::adapters::{HttpSettings, HubSpotAdapter, HubSpotConfig};
use etlify_sandbox::{
    FaultConfig, HubSpotRateLimits, ObjectTypeConfig, PropertyConfig, PropertyKind,
    RequestLogSnapshot, RunningSandbox, Sandbox, SandboxConfig, SearchConfig, TargetApi,
    DEFAULT_HUBSPOT_TOKEN,
};

use crate::conformance::{Stored, Subject};

pub(crate) struct HubSpotSubject {
    sandbox: RunningSandbox,
}

/// Contacts with `employees` declared a number, so that a word there is
/// rejected (`INVALID_DECIMAL`).
fn contacts() -> ObjectTypeConfig {
    let property = |kind| PropertyConfig {
        kind,
        ..PropertyConfig::default()
    };
    let properties: BTreeMap<String, PropertyConfig> = [
        ("email", property(PropertyKind::String)),
        ("hs_additional_emails", property(PropertyKind::String)),
        ("firstname", property(PropertyKind::String)),
        ("employees", property(PropertyKind::Number)),
    ]
    .into_iter()
    .map(|(name, config)| (name.to_owned(), config))
    .collect();
    ObjectTypeConfig {
        type_id: Some("0-1".to_owned()),
        unique_properties: vec!["email".to_owned()],
        properties: Some(properties),
        searchable_properties: vec!["email".to_owned(), "hs_additional_emails".to_owned()],
        ..ObjectTypeConfig::default()
    }
}

#[async_trait]
impl Subject for HubSpotSubject {
    const NAME: &'static str = "hubspot";

    async fn start() -> Self {
        let mut config = SandboxConfig {
            seed: Some(30),
            ..SandboxConfig::default()
        };
        config.hubspot.rate_limits.enabled = false;
        config
            .hubspot
            .object_types
            .insert("contacts".to_owned(), contacts());
        Self {
            sandbox: Sandbox::start(config).await.unwrap(),
        }
    }

    type Adapter = HubSpotAdapter;

    fn concrete(&self, credential: Option<&str>, http: HttpSettings) -> HubSpotAdapter {
        let token = credential.unwrap_or(DEFAULT_HUBSPOT_TOKEN);
        HubSpotAdapter::new(
            HubSpotConfig::new(token)
                .base_url(self.sandbox.hubspot_base_url())
                .http(http),
        )
        .unwrap()
    }

    fn secret(&self) -> &'static str {
        DEFAULT_HUBSPOT_TOKEN
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
        "employees"
    }

    fn stored(&self) -> Vec<Stored> {
        let objects = self.sandbox.admin().hubspot_objects("contacts").unwrap();
        objects
            .into_iter()
            .filter(|object| !object.archived)
            .map(|object| Stored {
                key: object.properties.get("email").cloned(),
                name: object.properties.get("firstname").cloned(),
                id: object.id,
            })
            .collect()
    }

    fn set_faults(&self, faults: FaultConfig) {
        self.sandbox
            .admin()
            .set_faults(TargetApi::Hubspot, faults)
            .unwrap();
    }

    fn limit(&self, max: u64, window: Duration, retry_after: bool) {
        let window_ms = u64::try_from(window.as_millis()).unwrap();
        let admin = self.sandbox.admin();
        admin
            .set_hubspot_limits(HubSpotRateLimits {
                enabled: true,
                per_app_max: max,
                per_app_window_ms: window_ms,
                search_max: max,
                search_window_ms: window_ms,
                retry_after,
                ..HubSpotRateLimits::default()
            })
            .unwrap();
        admin.set_hubspot_search(SearchConfig::default());
    }

    fn log(&self) -> RequestLogSnapshot {
        self.sandbox.admin().request_log()
    }

    fn peak(&self, log: &RequestLogSnapshot) -> u64 {
        ["hubspot.per_app", "hubspot.search"]
            .into_iter()
            .filter_map(|policy| {
                log.peaks
                    .iter()
                    .filter(|peak| peak.policy == policy)
                    .map(|peak| peak.peak)
                    .max()
            })
            .max()
            .unwrap_or(0)
    }
}
