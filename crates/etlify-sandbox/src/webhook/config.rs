//! Settings of the webhook receiver.

use serde::{Deserialize, Serialize};

use crate::config::{FaultConfig, SecretToken};
use crate::error::SandboxError;

/// Signing secret accepted by default.
pub const DEFAULT_WEBHOOK_SECRET: &str = "sandbox-webhook-secret";

/// The webhook receiver.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookConfig {
    /// Path of the endpoint. Default `/webhook`.
    pub path: String,
    /// Signing secrets accepted (a signature by any of them). Default
    /// `["sandbox-webhook-secret"]`.
    pub signing_secrets: Vec<SecretToken>,
    /// Largest difference, in seconds, between a signature's timestamp and
    /// the receiver's clock. Default 300.
    pub tolerance_secs: u64,
    /// Fields an upsert's `data` must hold (not null, not empty): an event
    /// without one is rejected (422). Default none.
    pub required_fields: Vec<String>,
    /// Fields whose values must be numbers when present (else 422).
    /// Default none.
    pub number_fields: Vec<String>,
    /// Most events one request may carry (413 over it). Default 1,000.
    pub max_events: usize,
    /// Rate limit.
    pub rate_limits: WebhookRateLimits,
    /// Fault injection.
    pub faults: FaultConfig,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            path: "/webhook".to_owned(),
            signing_secrets: vec![SecretToken::new(DEFAULT_WEBHOOK_SECRET)],
            tolerance_secs: 300,
            required_fields: Vec::new(),
            number_fields: Vec::new(),
            max_events: 1_000,
            rate_limits: WebhookRateLimits::default(),
            faults: FaultConfig::default(),
        }
    }
}

/// The receiver's rate limit (a rolling window, like a service's gateway).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookRateLimits {
    /// Whether the limit is enforced. Default false.
    pub enabled: bool,
    /// Requests in the window. Default 100.
    pub max: u64,
    /// Rolling window in ms. Default 1,000.
    pub window_ms: u64,
    /// Send `Retry-After` (seconds) on 429. Default true.
    pub retry_after: bool,
}

impl Default for WebhookRateLimits {
    fn default() -> Self {
        Self {
            enabled: false,
            max: 100,
            window_ms: 1_000,
            retry_after: true,
        }
    }
}

fn invalid(field: &str, reason: &str) -> SandboxError {
    SandboxError::InvalidConfig {
        field: field.to_owned(),
        reason: reason.to_owned(),
    }
}

impl WebhookRateLimits {
    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        if self.window_ms == 0 {
            return Err(invalid(
                "webhook.rate_limits.window_ms",
                "must be greater than 0",
            ));
        }
        Ok(())
    }
}

impl WebhookConfig {
    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        let taken = ["/_sandbox", "/crm/", "/v0/"];
        if !self.path.starts_with('/')
            || self.path.len() < 2
            || taken.iter().any(|prefix| self.path.starts_with(prefix))
        {
            return Err(invalid(
                "webhook.path",
                "must start with '/' and not be / or under /_sandbox, /crm/ or /v0/",
            ));
        }
        if self.signing_secrets.is_empty()
            || self.signing_secrets.iter().any(|s| s.expose().is_empty())
        {
            return Err(invalid(
                "webhook.signing_secrets",
                "needs at least one secret, none empty",
            ));
        }
        if self.max_events == 0 {
            return Err(invalid("webhook.max_events", "must be greater than 0"));
        }
        self.rate_limits.validate()?;
        self.faults
            .validate("webhook.faults", |status| (500..=599).contains(&status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_receiver_settings_are_refused_naming_the_field() {
        let with = |change: fn(&mut WebhookConfig)| {
            let mut config = WebhookConfig::default();
            change(&mut config);
            match config.validate() {
                Err(SandboxError::InvalidConfig { field, .. }) => field,
                other => panic!("accepted: {other:?}"),
            }
        };
        assert!(WebhookConfig::default().validate().is_ok());
        assert_eq!(with(|c| c.path = "/crm/hook".to_owned()), "webhook.path");
        assert_eq!(with(|c| c.path = "hook".to_owned()), "webhook.path");
        assert_eq!(
            with(|c| c.signing_secrets = vec![SecretToken::new("")]),
            "webhook.signing_secrets"
        );
        assert_eq!(with(|c| c.max_events = 0), "webhook.max_events");
        assert_eq!(
            with(|c| c.rate_limits.window_ms = 0),
            "webhook.rate_limits.window_ms"
        );
        assert_eq!(
            with(|c| c.faults.error_statuses = vec![404]),
            "webhook.faults.error_statuses"
        );
    }
}
