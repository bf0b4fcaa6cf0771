//! Settings of the HubSpot adapter.

use super::version::ApiVersion;
use crate::adapters::http::{HttpConnections, HttpSettings, Secret};

/// HubSpot's public API.
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";
/// Inputs per batch request (HubSpot's documented limit).
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// HubSpot's search limit: 5 requests per second per account.
pub const DEFAULT_SEARCH_REQUESTS_PER_SECOND: u32 = 5;

/// How to reach one HubSpot account.
#[derive(Clone)]
pub struct HubSpotConfig {
    pub(super) token: Secret,
    pub(super) base_url: String,
    pub(super) api_version: ApiVersion,
    pub(super) batch_size: usize,
    pub(super) http: HttpSettings,
    pub(super) connections: Option<HttpConnections>,
    pub(super) search_requests_per_second: u32,
}

impl HubSpotConfig {
    /// Production HubSpot with `token`.
    pub fn new(token: impl Into<Secret>) -> Self {
        Self {
            token: token.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_version: ApiVersion::default(),
            batch_size: DEFAULT_BATCH_SIZE,
            http: HttpSettings::default(),
            connections: None,
            search_requests_per_second: DEFAULT_SEARCH_REQUESTS_PER_SECOND,
        }
    }

    /// Search requests allowed per second (default 5, HubSpot's limit).
    pub fn search_requests_per_second(mut self, requests: u32) -> Self {
        self.search_requests_per_second = requests;
        self
    }

    /// Another base URL (the sandbox, a proxy).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The API version every path follows (HUBSPOT-1, HUBSPOT-11); default
    /// [`ApiVersion::V3`], the legacy `/crm/v3/objects` paths.
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = version;
        self
    }

    /// Inputs per batch request.
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size;
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

    /// Private-app or OAuth access token.
    pub fn get_token(&self) -> &Secret {
        &self.token
    }

    /// Base URL; the sandbox's in tests and demos.
    pub fn get_base_url(&self) -> &str {
        &self.base_url
    }

    /// The API version every path follows.
    pub fn get_api_version(&self) -> ApiVersion {
        self.api_version
    }

    /// Inputs per batch request (at most 100).
    pub fn get_batch_size(&self) -> usize {
        self.batch_size
    }

    /// Timeouts and retries.
    pub fn get_http(&self) -> &HttpSettings {
        &self.http
    }

    /// The pooled connections shared with other adapters, if any (else
    /// the adapter has a pool of its own).
    pub fn get_connections(&self) -> Option<&HttpConnections> {
        self.connections.as_ref()
    }

    /// Search requests per second (HubSpot's separate search limit, per
    /// account). Searches count against the CRM's rate limit too.
    pub fn get_search_requests_per_second(&self) -> u32 {
        self.search_requests_per_second
    }
}

impl std::fmt::Debug for HubSpotConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is redacted by `Secret`; a base URL may carry credentials too.
        f.debug_struct("HubSpotConfig")
            .field("token", &self.token)
            .field(
                "base_url",
                &crate::adapters::http::redact_url(&self.base_url),
            )
            .field("api_version", &self.api_version)
            .field("batch_size", &self.batch_size)
            .field("http", &self.http)
            .field("connections", &self.connections.is_some())
            .field(
                "search_requests_per_second",
                &self.search_requests_per_second,
            )
            .finish()
    }
}
