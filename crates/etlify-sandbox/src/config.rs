//! Sandbox configuration: what the user writes (serde, `deny_unknown_fields`,
//! a default for every field) and its validation. Errors name the field.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::SandboxError;

/// Token accepted by default by the HubSpot side (`Authorization: Bearer …`).
pub const DEFAULT_HUBSPOT_TOKEN: &str = "sandbox-hubspot-token";
/// Token accepted by default by the Airtable side (`Authorization: Bearer …`).
pub const DEFAULT_AIRTABLE_TOKEN: &str = "sandbox-airtable-token";

/// A bearer token. Never shown by `Debug`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretToken(String);

impl SecretToken {
    /// Wraps a token value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The token itself, for building an `Authorization` header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(***)")
    }
}

/// Top-level configuration of one sandbox server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Address to listen on; must be a loopback address. Default `127.0.0.1`.
    pub host: IpAddr,
    /// Port to listen on; `0` picks a free (ephemeral) port. Default `0`.
    pub port: u16,
    /// Seed of the random generator (ids, fault draws); random when absent.
    pub seed: Option<u64>,
    /// JSON file loaded at start (when it exists) and written on shutdown.
    pub state_file: Option<PathBuf>,
    /// How many recent requests the request log keeps in full (counters are unbounded).
    pub request_log_capacity: usize,
    /// The HubSpot CRM v3 objects API.
    pub hubspot: HubSpotConfig,
    /// The Airtable Web API v0.
    pub airtable: AirtableConfig,
    /// The receiver of Etlify's signed webhook.
    pub webhook: crate::webhook::config::WebhookConfig,
    /// The Salesforce REST API.
    pub salesforce: crate::salesforce::config::SalesforceConfig,
    /// Brevo's contacts API v3.
    pub brevo: crate::brevo::config::BrevoConfig,
    /// The Intercom REST API.
    pub intercom: crate::intercom::config::IntercomConfig,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            seed: None,
            state_file: None,
            request_log_capacity: 10_000,
            hubspot: HubSpotConfig::default(),
            airtable: AirtableConfig::default(),
            webhook: crate::webhook::config::WebhookConfig::default(),
            salesforce: crate::salesforce::config::SalesforceConfig::default(),
            brevo: crate::brevo::config::BrevoConfig::default(),
            intercom: crate::intercom::config::IntercomConfig::default(),
        }
    }
}

/// HubSpot side of the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubSpotConfig {
    /// Accepted bearer tokens; each token is one "app" for the 10-second bucket.
    pub tokens: Vec<SecretToken>,
    /// Path prefix of the legacy objects API. Default `/crm/v3/objects`.
    /// The dated families (`/crm/objects/2026-03`, `/crm/objects/2026-09`)
    /// are served besides it, by the same handlers.
    pub path_prefix: String,
    /// Portal (account) id quoted in some error messages.
    pub portal_id: u64,
    /// First record id handed out (ids are decimal strings).
    pub first_object_id: u64,
    /// Maximum inputs per batch request. Default 100.
    pub max_batch_inputs: usize,
    /// Store contact emails lower-cased (HubSpot's behaviour is unconfirmed). Default false.
    pub lowercase_emails: bool,
    /// A contact batch upsert by `email` also matches a contact holding the
    /// value among its `hs_additional_emails`; writing `email` then makes it
    /// the primary email, overwriting the old one (HubSpot's behaviour).
    /// Default true.
    pub upserts_match_additional_emails: bool,
    /// Search endpoint behaviour.
    pub search: SearchConfig,
    /// Rate limits.
    pub rate_limits: HubSpotRateLimits,
    /// Fault injection.
    pub faults: FaultConfig,
    /// Object types, merged over the built-in `contacts`, `companies`, `deals`, `tickets`.
    pub object_types: BTreeMap<String, ObjectTypeConfig>,
    /// Association labels (`GET …/associations/{from}/{to}/labels`),
    /// beside the default unlabeled type of each pair of object types.
    pub association_labels: Vec<AssociationLabelConfig>,
}

/// One association label between two object types.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssociationLabelConfig {
    /// The from object type (`contacts`).
    pub from_type: String,
    /// The to object type (`companies`).
    pub to_type: String,
    /// The label's name (`Decision maker`).
    pub label: String,
    /// `USER_DEFINED` unless said.
    #[serde(default = "user_defined")]
    pub category: String,
    /// Its `typeId`.
    pub type_id: u32,
}

fn user_defined() -> String {
    "USER_DEFINED".to_owned()
}

impl Default for HubSpotConfig {
    fn default() -> Self {
        Self {
            tokens: vec![SecretToken::new(DEFAULT_HUBSPOT_TOKEN)],
            path_prefix: "/crm/v3/objects".to_owned(),
            portal_id: 12_345_678,
            first_object_id: 100_001,
            max_batch_inputs: 100,
            lowercase_emails: false,
            upserts_match_additional_emails: true,
            search: SearchConfig::default(),
            rate_limits: HubSpotRateLimits::default(),
            faults: FaultConfig::default(),
            object_types: BTreeMap::new(),
            association_labels: Vec::new(),
        }
    }
}

/// One HubSpot object type.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ObjectTypeConfig {
    /// Numeric type id (`0-1`, `2-123`), usable in paths instead of the name.
    pub type_id: Option<String>,
    /// Properties whose values are unique (usable as `idProperty`, 409 on duplicate create).
    pub unique_properties: Vec<String>,
    /// Declared schema. When present, unknown properties are rejected with
    /// `PROPERTY_DOESNT_EXIST`; when absent, any property is accepted.
    pub properties: Option<BTreeMap<String, PropertyConfig>>,
    /// Properties searched by the free-text `query` of the search endpoint.
    pub searchable_properties: Vec<String>,
    /// Properties a write must leave non-empty, as a portal's admin can
    /// require them; enforced only on the paths of version 2026-09 (a 400
    /// naming each, per input in a batch).
    pub required_properties: Vec<String>,
    /// Property groups besides the built-in `<singular>information`
    /// (`contactinformation`), which new properties may name.
    pub property_groups: Vec<String>,
}

/// One declared HubSpot property.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PropertyConfig {
    /// Property type; `enumeration` values are matched case-sensitively by search.
    #[serde(rename = "type")]
    pub kind: PropertyKind,
    /// Allowed values of an `enumeration`.
    pub options: Vec<String>,
    /// How the properties API shows it (`text`, `number`, `select`,
    /// `checkbox`, `date`, `booleancheckbox`, …); from `type` when absent.
    pub field_type: Option<String>,
    /// HubSpot maintains its value (`readOnlyValue`): a write is a 400
    /// `READ_ONLY_VALUE`.
    pub read_only: bool,
    /// Its value is computed (`calculated`); read-only too.
    pub calculated: bool,
    /// Its group (`groupName`); the type's `<singular>information` when absent.
    pub group: Option<String>,
}

/// HubSpot property types the sandbox distinguishes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PropertyKind {
    /// Free text.
    #[default]
    String,
    /// Decimal number.
    Number,
    /// One of `options` (case-sensitive).
    Enumeration,
    /// Date-time (epoch milliseconds or ISO 8601).
    Datetime,
    /// A day: epoch milliseconds at midnight UTC, or `YYYY-MM-DD`.
    Date,
    /// `true` / `false`.
    Bool,
}

/// Search endpoint limits and eventual consistency.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// Milliseconds before a created/updated object is visible to search. Default 0.
    pub indexing_lag_ms: u64,
    /// Page size when `limit` is absent. Default 10.
    pub default_page_size: usize,
    /// Maximum `limit`. Default 200.
    pub max_page_size: usize,
    /// Maximum results reachable by paging. Default 10,000.
    pub max_total_results: usize,
    /// Maximum request body length in characters. Default 3,000.
    pub max_body_chars: usize,
    /// Maximum filter groups. Default 5.
    pub max_filter_groups: usize,
    /// Maximum filters in one group. Default 6.
    pub max_filters_per_group: usize,
    /// Maximum filters over all groups. Default 18.
    pub max_filters_total: usize,
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            indexing_lag_ms: 0,
            default_page_size: 10,
            max_page_size: 200,
            max_total_results: 10_000,
            max_body_chars: 3_000,
            max_filter_groups: 5,
            max_filters_per_group: 6,
            max_filters_total: 18,
        }
    }
}

/// HubSpot rate limits (defaults: Free & Starter tier, search 5/s).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HubSpotRateLimits {
    /// Whether limits are enforced (headers are sent either way).
    pub enabled: bool,
    /// Requests per app (token) in the rolling window. Default 100.
    pub per_app_max: u64,
    /// Rolling window of the per-app bucket, in ms. Default 10,000.
    pub per_app_window_ms: u64,
    /// Requests per account in the daily window. Default 250,000.
    pub daily_max: u64,
    /// Length of the daily window in ms (fixed window from start). Default 86,400,000.
    pub daily_window_ms: u64,
    /// Search requests per account in the search window. Default 5.
    pub search_max: u64,
    /// Rolling window of the search bucket, in ms. Default 1,000.
    pub search_window_ms: u64,
    /// Send `Retry-After` (seconds) on 429 (undocumented by HubSpot). Default false.
    pub retry_after: bool,
    /// Send `X-HubSpot-RateLimit-Daily*` headers (not sent for OAuth apps). Default true.
    pub daily_headers: bool,
}

impl Default for HubSpotRateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            per_app_max: 100,
            per_app_window_ms: 10_000,
            daily_max: 250_000,
            daily_window_ms: 86_400_000,
            search_max: 5,
            search_window_ms: 1_000,
            retry_after: false,
            daily_headers: true,
        }
    }
}

/// Airtable side of the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AirtableConfig {
    /// Accepted bearer tokens (personal access tokens).
    pub tokens: Vec<SecretToken>,
    /// Maximum records per create/update/delete request. Default 10.
    pub max_records_per_request: usize,
    /// Maximum `pageSize` of a list. Default 100.
    pub max_page_size: usize,
    /// Create unknown bases/tables (schemaless) on first use. Default true.
    pub auto_create_tables: bool,
    /// Envelope of 404 "record not found" errors: `object` (`{"error":{"type":"NOT_FOUND",…}}`)
    /// or `string` (`{"error":"NOT_FOUND"}`). Default `object`.
    pub not_found_style: NotFoundStyle,
    /// Match `fieldsToMergeOn` values case-insensitively (unconfirmed upstream). Default false.
    pub merge_case_insensitive: bool,
    /// Compare strings with `=` in formulas case-insensitively (unconfirmed upstream). Default false.
    pub formula_case_insensitive: bool,
    /// Rate limits.
    pub rate_limits: AirtableRateLimits,
    /// Fault injection.
    pub faults: FaultConfig,
    /// Declared bases, by base id (`app…`).
    pub bases: BTreeMap<String, BaseConfig>,
}

impl Default for AirtableConfig {
    fn default() -> Self {
        Self {
            tokens: vec![SecretToken::new(DEFAULT_AIRTABLE_TOKEN)],
            max_records_per_request: 10,
            max_page_size: 100,
            auto_create_tables: true,
            not_found_style: NotFoundStyle::Object,
            merge_case_insensitive: false,
            formula_case_insensitive: false,
            rate_limits: AirtableRateLimits::default(),
            faults: FaultConfig::default(),
            bases: BTreeMap::new(),
        }
    }
}

/// Which of Airtable's two documented 404 envelopes to send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotFoundStyle {
    /// `{"error":{"type":"NOT_FOUND","message":…}}`
    #[default]
    Object,
    /// `{"error":"NOT_FOUND"}`
    String,
}

/// One Airtable base.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaseConfig {
    /// Tables by name.
    pub tables: BTreeMap<String, TableConfig>,
}

/// One Airtable table.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TableConfig {
    /// Table id (`tbl…`); generated when absent.
    pub id: Option<String>,
    /// Declared fields. When present, unknown fields are rejected with
    /// `UNKNOWN_FIELD_NAME` and fields have `fld…` ids; when absent, any field is accepted.
    pub fields: Option<Vec<FieldConfig>>,
}

/// One Airtable field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldConfig {
    /// Field name.
    pub name: String,
    /// Field id (`fld…`); generated when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// Field type.
    #[serde(rename = "type", default)]
    pub kind: FieldKind,
    /// Choices of a `singleSelect` / `multipleSelects`.
    #[serde(default)]
    pub options: Vec<String>,
    /// Table (name) that a `multipleRecordLinks` field points to, in the same base.
    #[serde(default)]
    pub linked_table: Option<String>,
}

/// Airtable field types the sandbox validates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FieldKind {
    /// Single line of text.
    #[default]
    SingleLineText,
    /// Long text.
    MultilineText,
    /// Email address (text).
    Email,
    /// Number.
    Number,
    /// Checkbox (boolean).
    Checkbox,
    /// Date (`YYYY-MM-DD` text).
    Date,
    /// A point in time (ISO 8601 text).
    DateTime,
    /// Computed by a formula: a write is refused.
    Formula,
    /// One choice of `options`.
    SingleSelect,
    /// Several choices of `options`.
    MultipleSelects,
    /// Links to records of `linked_table`.
    MultipleRecordLinks,
}

/// Airtable rate limits (defaults: 5 req/s per base, 50 req/s per token, 30 s penalty).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AirtableRateLimits {
    /// Whether limits are enforced.
    pub enabled: bool,
    /// Requests per base in the window. Default 5.
    pub per_base_max: u64,
    /// Requests per token in the window. Default 50.
    pub per_token_max: u64,
    /// Rolling window length in ms. Default 1,000.
    pub window_ms: u64,
    /// Penalty after a 429 during which every request gets 429, in ms. Default 30,000.
    pub penalty_ms: u64,
    /// Send `Retry-After` (seconds) on 429 (not documented by Airtable). Default false.
    pub retry_after: bool,
}

impl Default for AirtableRateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            per_base_max: 5,
            per_token_max: 50,
            window_ms: 1_000,
            penalty_ms: 30_000,
            retry_after: false,
        }
    }
}

/// Faults injected into one API's responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultConfig {
    /// Probability (0–1) that a request fails with one of `error_statuses`.
    pub error_rate: f64,
    /// The next N requests fail with `error_statuses` (taken in turn).
    pub fail_next: u32,
    /// The next N requests are served untouched before `fail_next` and
    /// `drop_next` apply (and no rate draws them): a test can lose the
    /// answer of the third request of a call without knowing the first two.
    pub spare_next: u32,
    /// Statuses used for injected errors. HubSpot: 423, 477 or 5xx; Airtable: 5xx.
    /// Default: HubSpot `[502, 503, 504]`, Airtable `[500, 502, 503]` (empty = default).
    pub error_statuses: Vec<u16>,
    /// `Retry-After` seconds sent with injected 503 / 423 / 477 (none when absent).
    pub retry_after_secs: Option<u64>,
    /// Milliseconds added before every response.
    pub latency_ms: u64,
    /// Up to this many milliseconds more, drawn for each request (uniform,
    /// from the sandbox's seeded random source: `seed` replays the draws
    /// given the same order of requests). Added before the request is
    /// counted in the rate windows, as a network's jitter would be.
    pub latency_jitter_ms: u64,
    /// Probability (0–1) that the connection is closed without a response.
    pub drop_rate: f64,
    /// The next N requests have their connection closed without a response.
    pub drop_next: u32,
    /// Drop the connection *after* the request was processed (the write happened,
    /// the response is lost) instead of before. Default false.
    pub drop_after_handling: bool,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            error_rate: 0.0,
            fail_next: 0,
            spare_next: 0,
            error_statuses: Vec::new(),
            retry_after_secs: None,
            latency_ms: 0,
            latency_jitter_ms: 0,
            drop_rate: 0.0,
            drop_next: 0,
            drop_after_handling: false,
        }
    }
}

impl SandboxConfig {
    /// Parses a JSON configuration document.
    pub fn from_json(text: &str) -> Result<Self, SandboxError> {
        serde_json::from_str(text).map_err(|source| SandboxError::ConfigParse { source })
    }

    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<(), SandboxError> {
        if !self.host.is_loopback() {
            return Err(invalid("host", "must be a loopback address"));
        }
        self.hubspot.validate()?;
        self.airtable.validate()?;
        self.salesforce.validate()?;
        self.brevo.validate()?;
        self.intercom.validate()?;
        self.webhook.validate()
    }
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> SandboxError {
    SandboxError::InvalidConfig {
        field: field.into(),
        reason: reason.into(),
    }
}

fn positive(field: &str, value: u64) -> Result<(), SandboxError> {
    if value == 0 {
        return Err(invalid(field, "must be greater than 0"));
    }
    Ok(())
}

fn non_empty_tokens(field: &str, tokens: &[SecretToken]) -> Result<(), SandboxError> {
    if tokens.iter().any(|token| token.expose().trim().is_empty()) {
        return Err(invalid(field, "tokens must not be empty strings"));
    }
    Ok(())
}

impl HubSpotConfig {
    fn validate(&self) -> Result<(), SandboxError> {
        non_empty_tokens("hubspot.tokens", &self.tokens)?;
        if !self.path_prefix.starts_with('/') || self.path_prefix.ends_with('/') {
            return Err(invalid(
                "hubspot.path_prefix",
                "must start with '/' and not end with '/'",
            ));
        }
        positive("hubspot.max_batch_inputs", self.max_batch_inputs as u64)?;
        positive(
            "hubspot.search.default_page_size",
            self.search.default_page_size as u64,
        )?;
        if self.search.default_page_size > self.search.max_page_size {
            return Err(invalid(
                "hubspot.search.default_page_size",
                "must not exceed hubspot.search.max_page_size",
            ));
        }
        let limits = &self.rate_limits;
        positive(
            "hubspot.rate_limits.per_app_window_ms",
            limits.per_app_window_ms,
        )?;
        positive(
            "hubspot.rate_limits.daily_window_ms",
            limits.daily_window_ms,
        )?;
        positive(
            "hubspot.rate_limits.search_window_ms",
            limits.search_window_ms,
        )?;
        self.faults
            .validate("hubspot.faults", is_hubspot_fault_status)?;
        for (name, object_type) in &self.object_types {
            let field = format!("hubspot.object_types.{name}");
            if name.is_empty() {
                return Err(invalid("hubspot.object_types", "names must not be empty"));
            }
            if let Some(properties) = &object_type.properties {
                for required in &object_type.required_properties {
                    if !properties.contains_key(required) {
                        return Err(invalid(
                            format!("{field}.required_properties"),
                            format!("`{required}` is not a declared property"),
                        ));
                    }
                }
                for unique in &object_type.unique_properties {
                    if !properties.contains_key(unique) {
                        return Err(invalid(
                            format!("{field}.unique_properties"),
                            format!("`{unique}` is not a declared property"),
                        ));
                    }
                }
                for (property, declared) in properties {
                    if declared.kind == PropertyKind::Enumeration && declared.options.is_empty() {
                        return Err(invalid(
                            format!("{field}.properties.{property}.options"),
                            "an enumeration needs at least one option",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl AirtableConfig {
    fn validate(&self) -> Result<(), SandboxError> {
        non_empty_tokens("airtable.tokens", &self.tokens)?;
        positive(
            "airtable.max_records_per_request",
            self.max_records_per_request as u64,
        )?;
        positive("airtable.max_page_size", self.max_page_size as u64)?;
        positive("airtable.rate_limits.window_ms", self.rate_limits.window_ms)?;
        self.faults
            .validate("airtable.faults", |status| (500..=599).contains(&status))?;
        for (base_id, base) in &self.bases {
            if !base_id.starts_with("app") {
                return Err(invalid(
                    format!("airtable.bases.{base_id}"),
                    "base ids must start with `app`",
                ));
            }
            for (table_name, table) in &base.tables {
                let field = format!("airtable.bases.{base_id}.tables.{table_name}");
                if let Some(id) = &table.id {
                    if !id.starts_with("tbl") {
                        return Err(invalid(format!("{field}.id"), "must start with `tbl`"));
                    }
                }
                for (index, declared) in table.fields.iter().flatten().enumerate() {
                    let field = format!("{field}.fields[{index}]");
                    if declared.name.is_empty() {
                        return Err(invalid(format!("{field}.name"), "must not be empty"));
                    }
                    if let Some(id) = &declared.id {
                        if !id.starts_with("fld") {
                            return Err(invalid(format!("{field}.id"), "must start with `fld`"));
                        }
                    }
                    if declared.kind == FieldKind::MultipleRecordLinks {
                        match &declared.linked_table {
                            Some(linked) if base.tables.contains_key(linked) => {}
                            Some(linked) => {
                                return Err(invalid(
                                    format!("{field}.linked_table"),
                                    format!("table `{linked}` is not declared in base {base_id}"),
                                ))
                            }
                            None => {
                                return Err(invalid(
                                    format!("{field}.linked_table"),
                                    "required for multipleRecordLinks",
                                ))
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn is_hubspot_fault_status(status: u16) -> bool {
    status == 423 || status == 477 || (500..=599).contains(&status)
}

impl FaultConfig {
    pub(crate) fn validate(
        &self,
        field: &str,
        allowed_status: impl Fn(u16) -> bool,
    ) -> Result<(), SandboxError> {
        for (name, rate) in [
            ("error_rate", self.error_rate),
            ("drop_rate", self.drop_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(invalid(
                    format!("{field}.{name}"),
                    "must be between 0 and 1",
                ));
            }
        }
        if let Some(status) = self.error_statuses.iter().find(|s| !allowed_status(**s)) {
            return Err(invalid(
                format!("{field}.error_statuses"),
                format!("status {status} cannot be injected by this API"),
            ));
        }
        Ok(())
    }
}

/// The built-in HubSpot object types, before user overrides.
pub(crate) fn builtin_object_types() -> BTreeMap<String, ObjectTypeConfig> {
    let strings = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    let mut types = BTreeMap::new();
    types.insert(
        "contacts".to_owned(),
        ObjectTypeConfig {
            type_id: Some("0-1".to_owned()),
            unique_properties: strings(&["email"]),
            properties: None,
            required_properties: Vec::new(),
            property_groups: Vec::new(),
            searchable_properties: strings(&[
                "email",
                "hs_additional_emails",
                "firstname",
                "lastname",
                "phone",
                "company",
            ]),
        },
    );
    types.insert(
        "companies".to_owned(),
        ObjectTypeConfig {
            type_id: Some("0-2".to_owned()),
            unique_properties: strings(&["domain"]),
            properties: None,
            required_properties: Vec::new(),
            property_groups: Vec::new(),
            searchable_properties: strings(&["name", "domain", "website", "phone"]),
        },
    );
    types.insert(
        "deals".to_owned(),
        ObjectTypeConfig {
            type_id: Some("0-3".to_owned()),
            unique_properties: Vec::new(),
            properties: None,
            required_properties: Vec::new(),
            property_groups: Vec::new(),
            searchable_properties: strings(&["dealname"]),
        },
    );
    types.insert(
        "tickets".to_owned(),
        ObjectTypeConfig {
            type_id: Some("0-5".to_owned()),
            unique_properties: Vec::new(),
            properties: None,
            required_properties: Vec::new(),
            property_groups: Vec::new(),
            searchable_properties: strings(&["subject", "content"]),
        },
    );
    types
}
