//! Settings of the Salesforce adapter (SALESFORCE-1, SALESFORCE-2,
//! SALESFORCE-6, SALESFORCE-7).

use crate::adapters::http::{HttpConnections, HttpSettings, Secret};
use crate::error::ConfigError;

/// Salesforce's login host for production orgs.
pub const DEFAULT_LOGIN_URL: &str = "https://login.salesforce.com";
/// The API version every data path carries by default.
pub const DEFAULT_API_VERSION: &str = "v62.0";
/// Records per collections request: Salesforce's maximum (SALESFORCE-3).
pub const MAX_BATCH_SIZE: usize = 200;
/// Requests in flight at once: a production org's limit of long-running
/// requests (SALESFORCE-7).
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 25;
/// Share of the daily allocation, in percent, left to the org's other
/// integrations: a run stops before using it (SALESFORCE-6).
pub const DEFAULT_DAILY_RESERVE_PERCENT: u8 = 5;

/// How to reach one Salesforce org, as a connected app.
#[derive(Clone)]
pub struct SalesforceConfig {
    pub(super) client_id: Secret,
    pub(super) client_secret: Secret,
    pub(super) login_url: String,
    pub(super) api_version: String,
    pub(super) batch_size: usize,
    pub(super) max_concurrent_requests: usize,
    pub(super) daily_reserve_percent: u8,
    pub(super) http: HttpSettings,
    pub(super) connections: Option<HttpConnections>,
}

impl SalesforceConfig {
    /// The connected app `client_id` with `client_secret`, logging in at
    /// `https://login.salesforce.com`.
    pub fn new(client_id: impl Into<Secret>, client_secret: impl Into<Secret>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            login_url: DEFAULT_LOGIN_URL.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            batch_size: MAX_BATCH_SIZE,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            daily_reserve_percent: DEFAULT_DAILY_RESERVE_PERCENT,
            http: HttpSettings::default(),
            connections: None,
        }
    }

    /// Another login URL: `https://test.salesforce.com`, the org's My
    /// Domain, the sandbox.
    pub fn login_url(mut self, url: impl Into<String>) -> Self {
        self.login_url = url.into();
        self
    }

    /// The API version of every data path, `vXX.X` (46.0 or later).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// Records per collections request (1 to 200).
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size;
        self
    }

    /// Requests this adapter keeps in flight at once, at most (default 25).
    pub fn max_concurrent_requests(mut self, requests: usize) -> Self {
        self.max_concurrent_requests = requests;
        self
    }

    /// Share of the daily allocation, in percent (0 to 50), a run leaves
    /// unused (default 5).
    pub fn daily_reserve_percent(mut self, percent: u8) -> Self {
        self.daily_reserve_percent = percent;
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

    /// The login URL.
    pub fn get_login_url(&self) -> &str {
        &self.login_url
    }

    /// The API version of every data path.
    pub fn get_api_version(&self) -> &str {
        &self.api_version
    }

    /// Records per collections request.
    pub fn get_batch_size(&self) -> usize {
        self.batch_size
    }

    /// Requests kept in flight at once, at most.
    pub fn get_max_concurrent_requests(&self) -> usize {
        self.max_concurrent_requests
    }

    /// Share of the daily allocation left unused, in percent.
    pub fn get_daily_reserve_percent(&self) -> u8 {
        self.daily_reserve_percent
    }

    /// Timeouts and retries.
    pub fn get_http(&self) -> &HttpSettings {
        &self.http
    }

    /// Checks every setting; the error names the first wrong one.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let refuse =
            |field: &str, expected: &str| Err(ConfigError::new("salesforce", field, expected));
        if self.client_id.expose().trim().is_empty() {
            return refuse(
                "client_id",
                "must not be empty (set it from the environment, e.g. SALESFORCE_CLIENT_ID)",
            );
        }
        if self.client_secret.expose().trim().is_empty() {
            return refuse(
                "client_secret",
                "must not be empty (set it from the environment, e.g. SALESFORCE_CLIENT_SECRET)",
            );
        }
        if !is_api_version(&self.api_version) {
            return refuse(
                "api_version",
                &format!(
                    "must be a version like \"v62.0\", 46.0 or later (collections upsert), got {:?}",
                    self.api_version
                ),
            );
        }
        if self.batch_size == 0 || self.batch_size > MAX_BATCH_SIZE {
            return refuse("batch_size", "must be between 1 and 200");
        }
        if self.max_concurrent_requests == 0 {
            return refuse("max_concurrent_requests", "must be at least 1");
        }
        if self.daily_reserve_percent > 50 {
            return refuse("daily_reserve_percent", "must be between 0 and 50");
        }
        Ok(())
    }
}

/// `vXX.X` with XX at least 46.
fn is_api_version(text: &str) -> bool {
    let Some((major, minor)) = text.strip_prefix('v').and_then(|v| v.split_once('.')) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    digits(major) && digits(minor) && major.parse::<u32>().is_ok_and(|m| m >= 46)
}

impl std::fmt::Debug for SalesforceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Both credentials are redacted by `Secret`; a URL may carry some too.
        f.debug_struct("SalesforceConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field(
                "login_url",
                &crate::adapters::http::redact_url(&self.login_url),
            )
            .field("api_version", &self.api_version)
            .field("batch_size", &self.batch_size)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field("daily_reserve_percent", &self.daily_reserve_percent)
            .field("http", &self.http)
            .field("connections", &self.connections.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salesforce_settings_name_the_wrong_key() {
        let valid = SalesforceConfig::new("id", "secret");
        assert_eq!(valid.validate(), Ok(()));
        for (config, field) in [
            (SalesforceConfig::new(" ", "secret"), "client_id"),
            (SalesforceConfig::new("id", ""), "client_secret"),
            (valid.clone().api_version("62.0"), "api_version"),
            (valid.clone().api_version("v45.0"), "api_version"),
            (valid.clone().batch_size(201), "batch_size"),
            (
                valid.clone().max_concurrent_requests(0),
                "max_concurrent_requests",
            ),
            (
                valid.clone().daily_reserve_percent(51),
                "daily_reserve_percent",
            ),
        ] {
            assert_eq!(config.validate().unwrap_err().field(), field);
        }
        let debug = format!("{:?}", SalesforceConfig::new("the-id", "the-secret"));
        assert!(
            !debug.contains("the-id") && !debug.contains("the-secret"),
            "{debug}"
        );
    }
}
