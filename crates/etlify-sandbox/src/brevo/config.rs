//! Settings of the Brevo side: the account's API key, its contact
//! attributes and lists, the endpoints' rate limits, faults.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{FaultConfig, SecretToken};
use crate::error::SandboxError;

/// The API key the sandbox accepts by default (`api-key` header).
pub const DEFAULT_BREVO_API_KEY: &str = "xkeysib-sandbox-brevo-key";

/// Brevo's contacts API, version 3 (BREVO-1..BREVO-6).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrevoConfig {
    /// The account's API key.
    pub api_key: SecretToken,
    /// Contact attributes of the account, by name in capitals, merged over
    /// the built-in `FIRSTNAME`, `LASTNAME` (text) and `SMS` (text). A
    /// write naming another is refused (`invalid_parameter`).
    pub attributes: BTreeMap<String, BrevoAttributeKind>,
    /// The account's list ids. Default `[1, 2, 3]`.
    pub lists: Vec<u64>,
    /// Rate limits of the endpoints.
    pub rate_limits: BrevoRateLimits,
    /// Fault injection.
    pub faults: FaultConfig,
}

impl Default for BrevoConfig {
    fn default() -> Self {
        Self {
            api_key: SecretToken::new(DEFAULT_BREVO_API_KEY),
            attributes: BTreeMap::new(),
            lists: vec![1, 2, 3],
            rate_limits: BrevoRateLimits::default(),
            faults: FaultConfig::default(),
        }
    }
}

/// The type of a contact attribute: a value of another type is ignored,
/// as Brevo ignores it (BREVO-2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BrevoAttributeKind {
    /// Text (a string, number or boolean is stored as given).
    #[default]
    Text,
    /// A number.
    Float,
    /// A boolean.
    Boolean,
    /// A date, `YYYY-MM-DD`.
    Date,
}

/// The endpoints' rate limits (BREVO-3): rolling windows, one for the
/// contacts endpoints and one for the others, counted per account.
/// Defaults: Brevo's general limits, 10 contacts requests per second and
/// 100 other requests per hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrevoRateLimits {
    /// Whether the limits are enforced. Default true.
    pub enabled: bool,
    /// Requests to `/v3/contacts…` in the window. Default 10.
    pub contacts_max: u64,
    /// The contacts window in ms. Default 1,000.
    pub contacts_window_ms: u64,
    /// Requests to other endpoints (`/v3/account`) in the window. Default 100.
    pub other_max: u64,
    /// The other endpoints' window in ms. Default 3,600,000.
    pub other_window_ms: u64,
    /// Send the `x-sib-ratelimit-*` headers (Brevo always does; off, the
    /// client must find its own pace after a 429). Default true.
    pub headers: bool,
}

impl Default for BrevoRateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            contacts_max: 10,
            contacts_window_ms: 1_000,
            other_max: 100,
            other_window_ms: 3_600_000,
            headers: true,
        }
    }
}

impl BrevoConfig {
    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        let invalid = |field: &str, reason: &str| SandboxError::InvalidConfig {
            field: format!("brevo.{field}"),
            reason: reason.to_owned(),
        };
        if self.api_key.expose().trim().is_empty() {
            return Err(invalid("api_key", "must not be empty"));
        }
        if let Some(name) = self
            .attributes
            .keys()
            .find(|name| name.is_empty() || name.to_ascii_uppercase() != **name)
        {
            return Err(invalid(
                &format!("attributes.{name}"),
                "must be named in capitals",
            ));
        }
        if self.lists.contains(&0) {
            return Err(invalid("lists", "list ids are 1 or more"));
        }
        self.rate_limits.validate()?;
        self.faults
            .validate("brevo.faults", |status| (500..=599).contains(&status))
    }
}

impl BrevoRateLimits {
    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        for (field, value) in [
            ("contacts_max", self.contacts_max),
            ("contacts_window_ms", self.contacts_window_ms),
            ("other_max", self.other_max),
            ("other_window_ms", self.other_window_ms),
        ] {
            if value == 0 {
                return Err(SandboxError::InvalidConfig {
                    field: format!("brevo.rate_limits.{field}"),
                    reason: "must be greater than 0".to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// The built-in attributes, before the configuration's.
pub(crate) fn builtin_attributes() -> BTreeMap<String, BrevoAttributeKind> {
    ["FIRSTNAME", "LASTNAME", "SMS"]
        .into_iter()
        .map(|name| (name.to_owned(), BrevoAttributeKind::Text))
        .collect()
}
