//! Salesforce Contacts, matched by the external-id field `Etlify_Id__c`,
//! on the sandbox's org.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use etlify::adapters::{HttpSettings, SalesforceAdapter, SalesforceConfig};
use etlify_sandbox::{
    FaultConfig, RequestLogSnapshot, RunningSandbox, Sandbox, SandboxConfig,
    DEFAULT_SALESFORCE_CLIENT_ID, DEFAULT_SALESFORCE_CLIENT_SECRET,
};

use crate::conformance::{Scenario, Stored, Subject};

/// Why the two 429 scenarios do not apply (also in docs/ADAPTERS.md).
const NO_429: &str = "Salesforce answers no 429 and has no per-window rate limit: its limits \
                      are the daily allocation and the requests in flight";

pub(crate) struct SalesforceSubject {
    sandbox: RunningSandbox,
    /// The window [`Subject::limit`] last set, for [`Subject::peak`].
    window: Mutex<Duration>,
}

#[async_trait]
impl Subject for SalesforceSubject {
    const NAME: &'static str = "salesforce";

    async fn start() -> Self {
        let config = SandboxConfig {
            seed: Some(30),
            ..SandboxConfig::default()
        };
        Self {
            sandbox: Sandbox::start(config).await.unwrap(),
            window: Mutex::new(Duration::from_secs(1)),
        }
    }

    type Adapter = SalesforceAdapter;

    fn concrete(&self, credential: Option<&str>, http: HttpSettings) -> SalesforceAdapter {
        let secret = credential.unwrap_or(DEFAULT_SALESFORCE_CLIENT_SECRET);
        SalesforceAdapter::new(
            SalesforceConfig::new(DEFAULT_SALESFORCE_CLIENT_ID, secret)
                .login_url(self.sandbox.salesforce_login_url())
                .http(http),
        )
        .unwrap()
    }

    fn secret(&self) -> &'static str {
        DEFAULT_SALESFORCE_CLIENT_SECRET
    }

    fn object_type(&self) -> &'static str {
        "Contact"
    }

    fn id_property(&self) -> &'static str {
        "Etlify_Id__c"
    }

    fn name_property(&self) -> &'static str {
        "LastName"
    }

    fn number_property(&self) -> &'static str {
        "Score__c"
    }

    fn stored(&self) -> Vec<Stored> {
        let text = |record: &etlify_sandbox::SalesforceRecord, field: &str| {
            record
                .fields
                .get(field)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        self.sandbox
            .admin()
            .salesforce_records("Contact")
            .into_iter()
            .filter(|record| !record.deleted)
            .map(|record| Stored {
                key: text(&record, "Etlify_Id__c"),
                name: text(&record, "LastName"),
                id: record.id,
            })
            .collect()
    }

    fn set_faults(&self, faults: FaultConfig) {
        self.sandbox.admin().set_salesforce_faults(faults).unwrap();
    }

    /// Salesforce has no such limit to set: the window is only where
    /// [`Subject::peak`] counts arrivals (the CRM's own limit holds them).
    fn limit(&self, _max: u64, window: Duration, _retry_after: bool) {
        *self.window.lock().unwrap() = window;
    }

    fn log(&self) -> RequestLogSnapshot {
        self.sandbox.admin().request_log()
    }

    /// The most data requests (logins left out) arriving within one window.
    fn peak(&self, log: &RequestLogSnapshot) -> u64 {
        let window = u64::try_from(self.window.lock().unwrap().as_millis()).unwrap();
        let mut times: Vec<u64> = log
            .recent
            .iter()
            .filter(|entry| entry.route.starts_with("/services/data/"))
            .map(|entry| entry.at_ms)
            .collect();
        times.sort_unstable();
        let mut start = 0;
        let mut peak = 0;
        for (end, at) in times.iter().enumerate() {
            while at - times[start] >= window {
                start += 1;
            }
            peak = peak.max(end + 1 - start);
        }
        peak as u64
    }

    fn unsupported(scenario: Scenario) -> Option<&'static str> {
        match scenario {
            Scenario::ThrottledWithDelayHeader | Scenario::ThrottledWithoutDelayHeader => {
                Some(NO_429)
            }
            _ => None,
        }
    }
}
