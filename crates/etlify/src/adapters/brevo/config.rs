//! Settings of the Brevo adapter (BREVO-1, BREVO-4).

use crate::adapters::http::{HttpConnections, HttpSettings, Secret};
use crate::error::ConfigError;

/// Brevo's API, version 3.
pub const DEFAULT_BASE_URL: &str = "https://api.brevo.com/v3";

/// How to reach one Brevo account.
#[derive(Clone)]
pub struct BrevoConfig {
    pub(super) api_key: Secret,
    pub(super) base_url: String,
    pub(super) list_ids: Vec<u64>,
    pub(super) unlink_list_ids: Vec<u64>,
    pub(super) http: HttpSettings,
    pub(super) connections: Option<HttpConnections>,
}

impl BrevoConfig {
    /// Production Brevo with the account's `api_key`.
    pub fn new(api_key: impl Into<Secret>) -> Self {
        Self {
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            list_ids: Vec::new(),
            unlink_list_ids: Vec::new(),
            http: HttpSettings::default(),
            connections: None,
        }
    }

    /// Another base URL, the version included (the sandbox, a proxy).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Lists every contact written joins (Brevo's `listIds`).
    pub fn list_ids(mut self, ids: impl IntoIterator<Item = u64>) -> Self {
        self.list_ids = ids.into_iter().collect();
        self
    }

    /// Lists every contact updated leaves (Brevo's `unlinkListIds`).
    pub fn unlink_list_ids(mut self, ids: impl IntoIterator<Item = u64>) -> Self {
        self.unlink_list_ids = ids.into_iter().collect();
        self
    }

    /// Timeouts and retries.
    pub fn http(mut self, http: HttpSettings) -> Self {
        self.http = http;
        self
    }

    /// Shares the pooled connections of `connections` with the other
    /// adapters handed a clone of it (G-15).
    pub fn connections(mut self, connections: HttpConnections) -> Self {
        self.connections = Some(connections);
        self
    }

    /// Base URL; the sandbox's in tests and demos.
    pub fn get_base_url(&self) -> &str {
        &self.base_url
    }

    /// Lists every contact written joins.
    pub fn get_list_ids(&self) -> &[u64] {
        &self.list_ids
    }

    /// Lists every contact updated leaves.
    pub fn get_unlink_list_ids(&self) -> &[u64] {
        &self.unlink_list_ids
    }

    /// Timeouts and retries.
    pub fn get_http(&self) -> &HttpSettings {
        &self.http
    }

    /// Checks every setting; the error names the first wrong one.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let refuse = |field: &str, expected: &str| Err(ConfigError::new("brevo", field, expected));
        if self.api_key.expose().trim().is_empty() {
            return refuse(
                "api_key",
                "must not be empty (set it from the environment, e.g. BREVO_API_KEY)",
            );
        }
        if !self.api_key.expose().chars().all(|c| c.is_ascii_graphic()) {
            return refuse("api_key", "must be printable ASCII without spaces");
        }
        for (field, ids) in [
            ("list_ids", &self.list_ids),
            ("unlink_list_ids", &self.unlink_list_ids),
        ] {
            if ids.contains(&0) {
                return refuse(field, "must hold list ids, 1 or more");
            }
        }
        if let Some(both) = self
            .list_ids
            .iter()
            .find(|id| self.unlink_list_ids.contains(id))
        {
            return refuse(
                "unlink_list_ids",
                &format!("must not hold list {both}, which list_ids joins"),
            );
        }
        Ok(())
    }
}

impl std::fmt::Debug for BrevoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is redacted by `Secret`; a base URL may carry credentials too.
        f.debug_struct("BrevoConfig")
            .field("api_key", &self.api_key)
            .field(
                "base_url",
                &crate::adapters::http::redact_url(&self.base_url),
            )
            .field("list_ids", &self.list_ids)
            .field("unlink_list_ids", &self.unlink_list_ids)
            .field("http", &self.http)
            .field("connections", &self.connections.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brevo_settings_name_the_wrong_key() {
        let valid = BrevoConfig::new("xkeysib-1").list_ids([3]);
        assert_eq!(valid.validate(), Ok(()));
        for (config, field) in [
            (BrevoConfig::new(" "), "api_key"),
            (BrevoConfig::new("two words"), "api_key"),
            (valid.clone().list_ids([0]), "list_ids"),
            (valid.clone().unlink_list_ids([3]), "unlink_list_ids"),
        ] {
            assert_eq!(config.validate().unwrap_err().field(), field);
        }
        let debug = format!("{:?}", BrevoConfig::new("xkeysib-the-key"));
        assert!(!debug.contains("the-key"), "{debug}");
    }
}
