//! Settings of the Airtable adapter (AIRTABLE-1, AIRTABLE-3, AIRTABLE-8).

use crate::adapters::http::{HttpConnections, HttpSettings, Secret};
use crate::error::ConfigError;

/// Airtable's public API.
pub const DEFAULT_BASE_URL: &str = "https://api.airtable.com";
/// The API version path under the base URL.
pub const DEFAULT_API_VERSION: &str = "v0";
/// Records per batch request: Airtable's documented maximum (AIRTABLE-3).
pub const MAX_BATCH_SIZE: usize = 10;

/// How to reach one Airtable base.
#[derive(Clone)]
pub struct AirtableConfig {
    pub(super) token: Secret,
    pub(super) base_url: String,
    pub(super) api_version: String,
    pub(super) base_id: String,
    pub(super) batch_size: usize,
    pub(super) typecast: bool,
    pub(super) http: HttpSettings,
    pub(super) connections: Option<HttpConnections>,
}

impl AirtableConfig {
    /// Production Airtable, base `base_id`, with `token`.
    pub fn new(token: impl Into<Secret>, base_id: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_version: DEFAULT_API_VERSION.to_owned(),
            base_id: base_id.into(),
            batch_size: MAX_BATCH_SIZE,
            typecast: false,
            http: HttpSettings::default(),
            connections: None,
        }
    }

    /// Another base URL (the sandbox, a proxy).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Another API version path.
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// Another base.
    pub fn base_id(mut self, base_id: impl Into<String>) -> Self {
        self.base_id = base_id.into();
        self
    }

    /// Records per batch request.
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size;
        self
    }

    /// Whether writes ask Airtable to convert values (`typecast`).
    pub fn typecast(mut self, typecast: bool) -> Self {
        self.typecast = typecast;
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

    /// Personal access token or OAuth token (opaque; never shown).
    pub fn get_token(&self) -> &Secret {
        &self.token
    }

    /// Base URL; the sandbox's in tests and demos.
    pub fn get_base_url(&self) -> &str {
        &self.base_url
    }

    /// API version path under the base URL (`v0`).
    pub fn get_api_version(&self) -> &str {
        &self.api_version
    }

    /// The base's id, `app…` (AIRTABLE-8).
    pub fn get_base_id(&self) -> &str {
        &self.base_id
    }

    /// Records per batch request (1 to 10).
    pub fn get_batch_size(&self) -> usize {
        self.batch_size
    }

    /// Whether writes send `typecast: true`, so Airtable converts string
    /// values (and may create select options) instead of rejecting them.
    pub fn get_typecast(&self) -> bool {
        self.typecast
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

    /// Checks every field; the error names the offending one.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.token.expose().trim().is_empty() {
            return Err(error("token", "must not be empty"));
        }
        if !is_airtable_id(&self.base_id, "app") {
            return Err(error(
                "base_id",
                "must be an Airtable base id: `app` followed by letters and digits \
                 (e.g. appXXXXXXXXXXXXXX)",
            ));
        }
        if self.batch_size == 0 || self.batch_size > MAX_BATCH_SIZE {
            return Err(error("batch_size", "must be between 1 and 10"));
        }
        if self.api_version.split('/').all(str::is_empty) {
            return Err(error("api_version", "must not be empty (e.g. `v0`)"));
        }
        Ok(())
    }
}

fn error(field: &str, expected: &str) -> ConfigError {
    ConfigError::new("airtable", field, expected)
}

/// Whether `id` is `prefix` followed by one or more ASCII letters and
/// digits. The prefix is checked strictly, the length leniently
/// (AIRTABLE-8: 17 characters in every example, never specified).
pub(crate) fn is_airtable_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

impl std::fmt::Debug for AirtableConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is redacted by `Secret`; a base URL may carry credentials too.
        f.debug_struct("AirtableConfig")
            .field("token", &self.token)
            .field(
                "base_url",
                &crate::adapters::http::redact_url(&self.base_url),
            )
            .field("api_version", &self.api_version)
            .field("base_id", &self.base_id)
            .field("batch_size", &self.batch_size)
            .field("typecast", &self.typecast)
            .field("http", &self.http)
            .field("connections", &self.connections.is_some())
            .finish()
    }
}
