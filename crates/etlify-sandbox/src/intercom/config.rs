//! Settings of the Intercom side: the apps' tokens, the rate limits per
//! app and per workspace, the search's lag, faults and the workspace's
//! custom attributes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{FaultConfig, SecretToken};
use crate::error::SandboxError;

/// The access token the sandbox accepts by default (the workspace's first app).
pub const DEFAULT_INTERCOM_TOKEN: &str = "sandbox-intercom-token";

/// The Intercom REST API (INTERCOM-1..INTERCOM-8).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntercomConfig {
    /// Access tokens accepted, one per app of the workspace (each app has
    /// its own window; all share the workspace's). Default
    /// `["sandbox-intercom-token"]`.
    pub tokens: Vec<SecretToken>,
    /// Rate limits.
    pub limits: IntercomLimits,
    /// Milliseconds a new contact stays out of search results (Intercom's
    /// search lags writes by up to minutes). Default 0.
    pub search_lag_ms: u64,
    /// Custom attributes of contacts, merged over the built-in `score`
    /// (number), `plan`, `tier` and `company` (text): any other is refused.
    pub contact_attributes: BTreeMap<String, IntercomAttributeKind>,
    /// Custom attributes of companies, merged over the built-in `tier`
    /// (text) and `seats` (number).
    pub company_attributes: BTreeMap<String, IntercomAttributeKind>,
    /// Fault injection.
    pub faults: FaultConfig,
}

impl Default for IntercomConfig {
    fn default() -> Self {
        Self {
            tokens: vec![SecretToken::new(DEFAULT_INTERCOM_TOKEN)],
            limits: IntercomLimits::default(),
            search_lag_ms: 0,
            contact_attributes: BTreeMap::new(),
            company_attributes: BTreeMap::new(),
            faults: FaultConfig::default(),
        }
    }
}

/// Intercom's limits (INTERCOM-6): a minute's allowance spread over
/// fixed 10-second windows, per app and per workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntercomLimits {
    /// Whether the limits are enforced. Default true.
    pub enabled: bool,
    /// Requests per window of one app (token). Default 1,666 (10,000 a
    /// minute).
    pub per_app_max: u64,
    /// Requests per window of the workspace, all apps together. Default
    /// 4,166 (25,000 a minute).
    pub per_workspace_max: u64,
    /// The window in ms (fixed windows from the sandbox's start). Default 10,000.
    pub window_ms: u64,
    /// Whether a 429 carries `Retry-After` (Intercom's do not: they carry
    /// `X-RateLimit-Reset`). Default false.
    pub retry_after: bool,
}

impl Default for IntercomLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            per_app_max: 1_666,
            per_workspace_max: 4_166,
            window_ms: 10_000,
            retry_after: false,
        }
    }
}

/// The type of a custom attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntercomAttributeKind {
    /// Text.
    String,
    /// Integer or float.
    Number,
    /// True or false.
    Boolean,
}

impl IntercomConfig {
    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        if self.tokens.is_empty() || self.tokens.iter().any(|t| t.expose().trim().is_empty()) {
            return Err(SandboxError::InvalidConfig {
                field: "intercom.tokens".to_owned(),
                reason: "must hold at least one token, none empty".to_owned(),
            });
        }
        self.limits.validate()?;
        self.faults
            .validate("intercom.faults", |status| (500..=599).contains(&status))
    }

    /// The custom attributes of contacts, the built-in ones first.
    pub(crate) fn contact_kinds(&self) -> BTreeMap<String, IntercomAttributeKind> {
        let mut kinds = builtin(&[
            ("score", IntercomAttributeKind::Number),
            ("plan", IntercomAttributeKind::String),
            ("tier", IntercomAttributeKind::String),
            ("company", IntercomAttributeKind::String),
        ]);
        kinds.extend(self.contact_attributes.clone());
        kinds
    }

    /// The custom attributes of companies, the built-in ones first.
    pub(crate) fn company_kinds(&self) -> BTreeMap<String, IntercomAttributeKind> {
        let mut kinds = builtin(&[
            ("tier", IntercomAttributeKind::String),
            ("seats", IntercomAttributeKind::Number),
        ]);
        kinds.extend(self.company_attributes.clone());
        kinds
    }
}

fn builtin(kinds: &[(&str, IntercomAttributeKind)]) -> BTreeMap<String, IntercomAttributeKind> {
    kinds
        .iter()
        .map(|(name, kind)| ((*name).to_owned(), *kind))
        .collect()
}

impl IntercomLimits {
    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        for (field, value) in [
            ("per_app_max", self.per_app_max),
            ("per_workspace_max", self.per_workspace_max),
            ("window_ms", self.window_ms),
        ] {
            if value == 0 {
                return Err(SandboxError::InvalidConfig {
                    field: format!("intercom.limits.{field}"),
                    reason: "must be greater than 0".to_owned(),
                });
            }
        }
        Ok(())
    }
}
