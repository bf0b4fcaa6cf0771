//! Airtable records of a `Contacts` table, matched by `Email`, on the
//! sandbox.

use std::time::Duration;

use async_trait::async_trait;
use etlify::adapters::{AirtableAdapter, AirtableConfig, HttpSettings};
use etlify_sandbox::{
    AirtableRateLimits, BaseConfig, FaultConfig, FieldConfig, FieldKind, RequestLogSnapshot,
    RunningSandbox, Sandbox, SandboxConfig, TableConfig, TargetApi, DEFAULT_AIRTABLE_TOKEN,
};
use serde_json::Value;

use crate::conformance::{Stored, Subject};

const BASE_ID: &str = "appConformance001";
const TABLE: &str = "Contacts";

pub(crate) struct AirtableSubject {
    sandbox: RunningSandbox,
}

/// `Contacts` with `Employees` a number field, so that a word there is
/// rejected (`INVALID_VALUE_FOR_COLUMN`).
fn base() -> BaseConfig {
    let field = |name: &str, kind| FieldConfig {
        name: name.to_owned(),
        id: None,
        kind,
        options: Vec::new(),
        linked_table: None,
    };
    let table = TableConfig {
        id: None,
        fields: Some(vec![
            field("Email", FieldKind::Email),
            field("Name", FieldKind::SingleLineText),
            field("Employees", FieldKind::Number),
        ]),
    };
    let mut base = BaseConfig::default();
    base.tables.insert(TABLE.to_owned(), table);
    base
}

#[async_trait]
impl Subject for AirtableSubject {
    const NAME: &'static str = "airtable";

    async fn start() -> Self {
        let mut config = SandboxConfig {
            seed: Some(30),
            ..SandboxConfig::default()
        };
        config.airtable.rate_limits.enabled = false;
        config.airtable.auto_create_tables = false;
        config.airtable.bases.insert(BASE_ID.to_owned(), base());
        Self {
            sandbox: Sandbox::start(config).await.unwrap(),
        }
    }

    type Adapter = AirtableAdapter;

    fn concrete(&self, credential: Option<&str>, http: HttpSettings) -> AirtableAdapter {
        let token = credential.unwrap_or(DEFAULT_AIRTABLE_TOKEN);
        AirtableAdapter::new(
            AirtableConfig::new(token, BASE_ID)
                .base_url(self.sandbox.base_url())
                .http(http),
        )
        .unwrap()
    }

    fn secret(&self) -> &'static str {
        DEFAULT_AIRTABLE_TOKEN
    }

    fn object_type(&self) -> &'static str {
        TABLE
    }

    fn id_property(&self) -> &'static str {
        "Email"
    }

    fn name_property(&self) -> &'static str {
        "Name"
    }

    fn number_property(&self) -> &'static str {
        "Employees"
    }

    fn stored(&self) -> Vec<Stored> {
        let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
        let records = self.sandbox.admin().airtable_records(BASE_ID, TABLE);
        records
            .unwrap()
            .into_iter()
            .map(|record| Stored {
                key: text(record.fields.get("Email")),
                name: text(record.fields.get("Name")),
                id: record.id,
            })
            .collect()
    }

    fn set_faults(&self, faults: FaultConfig) {
        self.sandbox
            .admin()
            .set_faults(TargetApi::Airtable, faults)
            .unwrap();
    }

    fn limit(&self, max: u64, window: Duration, retry_after: bool) {
        self.sandbox
            .admin()
            .set_airtable_limits(AirtableRateLimits {
                enabled: true,
                per_base_max: max,
                per_token_max: max,
                window_ms: u64::try_from(window.as_millis()).unwrap(),
                // A 429 costs no penalty beyond the window here: the
                // scenarios look at the delay asked for, not Airtable's 30 s.
                penalty_ms: 0,
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
            .filter(|peak| peak.policy.starts_with("airtable."))
            .map(|peak| peak.peak)
            .max()
            .unwrap_or(0)
    }
}
