//! Settings of the Salesforce side: the connected app's credentials, the
//! token lifetime, the org's limits, faults and sObjects.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{FaultConfig, SecretToken};
use crate::error::SandboxError;

/// Client id of the connected app the sandbox accepts by default.
pub const DEFAULT_SALESFORCE_CLIENT_ID: &str = "sandbox-salesforce-client";
/// Client secret of the connected app the sandbox accepts by default.
pub const DEFAULT_SALESFORCE_CLIENT_SECRET: &str = "sandbox-salesforce-secret";

/// The Salesforce REST API (SALESFORCE-1..SALESFORCE-8).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SalesforceConfig {
    /// The connected app's client id.
    pub client_id: String,
    /// The connected app's client secret.
    pub client_secret: SecretToken,
    /// Milliseconds a token is accepted after it was issued; then every
    /// request with it is a 401 `INVALID_SESSION_ID`. Default 2 hours.
    pub token_ttl_ms: u64,
    /// Most records (or ids) per collections request. Default 200.
    pub max_records_per_request: usize,
    /// The org's limits.
    pub limits: SalesforceLimits,
    /// Fault injection (data requests only; the token endpoint is spared).
    pub faults: FaultConfig,
    /// sObjects, merged over the built-in `Contact` and `Account`.
    pub sobjects: BTreeMap<String, SObjectConfig>,
}

impl Default for SalesforceConfig {
    fn default() -> Self {
        Self {
            client_id: DEFAULT_SALESFORCE_CLIENT_ID.to_owned(),
            client_secret: SecretToken::new(DEFAULT_SALESFORCE_CLIENT_SECRET),
            token_ttl_ms: 2 * 60 * 60 * 1000,
            max_records_per_request: 200,
            limits: SalesforceLimits::default(),
            faults: FaultConfig::default(),
            sobjects: BTreeMap::new(),
        }
    }
}

/// The org's API limits (SALESFORCE-6, SALESFORCE-7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SalesforceLimits {
    /// Data requests allowed per daily window. Default 100,000.
    pub daily_max: u64,
    /// Length of the daily window in ms (fixed windows from start). Default 24 h.
    pub daily_window_ms: u64,
    /// Requests already counted in the window when it starts (to try a
    /// run against an allocation nearly spent). Default 0.
    pub daily_used: u64,
    /// Requests in flight at once before one more is refused (403
    /// `REQUEST_LIMIT_EXCEEDED`, `ConcurrentPerOrgLongTxn`); Salesforce
    /// counts only requests lasting 20 s or more, the sandbox every one.
    /// Default 25.
    pub max_concurrent: u64,
}

impl Default for SalesforceLimits {
    fn default() -> Self {
        Self {
            daily_max: 100_000,
            daily_window_ms: 86_400_000,
            daily_used: 0,
            max_concurrent: 25,
        }
    }
}

/// One sObject.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SObjectConfig {
    /// The 3-character prefix of its record ids (`003`); generated when absent.
    pub key_prefix: Option<String>,
    /// Declared fields. When present, any other field is refused
    /// (`INVALID_FIELD`); when absent, any field is accepted.
    pub fields: Option<BTreeMap<String, SalesforceFieldConfig>>,
    /// Fields a create must fill (`REQUIRED_FIELD_MISSING`).
    pub required_fields: Vec<String>,
    /// Fields usable as the external id of an upsert.
    pub external_id_fields: Vec<String>,
}

/// One declared field.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SalesforceFieldConfig {
    /// Its type: a value of another JSON type is a `JSON_PARSER_ERROR`.
    #[serde(rename = "type")]
    pub kind: SalesforceFieldKind,
}

/// Field types the sandbox tells apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SalesforceFieldKind {
    /// Text (string, email, picklist, id…).
    #[default]
    String,
    /// Number, currency, percent.
    Double,
    /// Checkbox.
    Boolean,
}

impl SalesforceConfig {
    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        let invalid = |field: &str, reason: &str| SandboxError::InvalidConfig {
            field: format!("salesforce.{field}"),
            reason: reason.to_owned(),
        };
        if self.client_id.trim().is_empty() {
            return Err(invalid("client_id", "must not be empty"));
        }
        if self.client_secret.expose().trim().is_empty() {
            return Err(invalid("client_secret", "must not be empty"));
        }
        if self.token_ttl_ms == 0 {
            return Err(invalid("token_ttl_ms", "must be greater than 0"));
        }
        if self.max_records_per_request == 0 {
            return Err(invalid("max_records_per_request", "must be greater than 0"));
        }
        self.limits.validate()?;
        self.faults
            .validate("salesforce.faults", |status| (500..=599).contains(&status))?;
        for (name, sobject) in &self.sobjects {
            if let Some(prefix) = &sobject.key_prefix {
                if prefix.len() != 3 || !prefix.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(invalid(
                        &format!("sobjects.{name}.key_prefix"),
                        "must be 3 letters or digits",
                    ));
                }
            }
            if let Some(fields) = &sobject.fields {
                let declared = sobject
                    .required_fields
                    .iter()
                    .chain(&sobject.external_id_fields);
                if let Some(missing) = declared.into_iter().find(|f| !fields.contains_key(*f)) {
                    return Err(invalid(
                        &format!("sobjects.{name}"),
                        &format!("`{missing}` is not a declared field"),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl SalesforceLimits {
    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        for (field, value) in [
            ("daily_window_ms", self.daily_window_ms),
            ("max_concurrent", self.max_concurrent),
        ] {
            if value == 0 {
                return Err(SandboxError::InvalidConfig {
                    field: format!("salesforce.limits.{field}"),
                    reason: "must be greater than 0".to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// The built-in sObjects, before the configuration's.
pub(crate) fn builtin_sobjects() -> BTreeMap<String, SObjectConfig> {
    let fields = |names: &[(&str, SalesforceFieldKind)]| {
        names
            .iter()
            .map(|(name, kind)| ((*name).to_owned(), SalesforceFieldConfig { kind: *kind }))
            .collect::<BTreeMap<_, _>>()
    };
    use SalesforceFieldKind::{Boolean, Double, String};
    let mut sobjects = BTreeMap::new();
    sobjects.insert(
        "Contact".to_owned(),
        SObjectConfig {
            key_prefix: Some("003".to_owned()),
            fields: Some(fields(&[
                ("FirstName", String),
                ("LastName", String),
                ("Email", String),
                ("Phone", String),
                ("Title", String),
                ("Department", String),
                ("DoNotCall", Boolean),
                ("Etlify_Id__c", String),
                ("Score__c", Double),
            ])),
            required_fields: vec!["LastName".to_owned()],
            external_id_fields: vec!["Etlify_Id__c".to_owned()],
        },
    );
    sobjects.insert(
        "Account".to_owned(),
        SObjectConfig {
            key_prefix: Some("001".to_owned()),
            fields: Some(fields(&[
                ("Name", String),
                ("Website", String),
                ("Industry", String),
                ("NumberOfEmployees", Double),
                ("Etlify_Id__c", String),
            ])),
            required_fields: vec!["Name".to_owned()],
            external_id_fields: vec!["Etlify_Id__c".to_owned()],
        },
    );
    sobjects
}
