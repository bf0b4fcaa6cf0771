//! Settings of the Intercom adapter (INTERCOM-1, INTERCOM-2, INTERCOM-8).

use crate::adapters::http::{HttpConnections, HttpSettings, Secret};
use crate::error::ConfigError;

/// The `Intercom-Version` every request carries by default: the version
/// whose contacts, companies and search endpoints the adapter speaks.
pub const DEFAULT_API_VERSION: &str = "2.11";

/// Where a workspace's data is hosted (INTERCOM-1): each region has its
/// own API host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IntercomRegion {
    /// `https://api.intercom.io` (the default).
    #[default]
    Us,
    /// `https://api.eu.intercom.io`.
    Eu,
    /// `https://api.au.intercom.io`.
    Au,
}

impl IntercomRegion {
    /// The region's API base URL.
    pub fn base_url(self) -> &'static str {
        match self {
            Self::Us => "https://api.intercom.io",
            Self::Eu => "https://api.eu.intercom.io",
            Self::Au => "https://api.au.intercom.io",
        }
    }

    /// The region spelled `text` (`us`, `eu`, `au`, any case), if any.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "us" => Some(Self::Us),
            "eu" => Some(Self::Eu),
            "au" => Some(Self::Au),
            _ => None,
        }
    }
}

/// How to reach one Intercom workspace, as one app.
#[derive(Clone)]
pub struct IntercomConfig {
    pub(super) token: Secret,
    pub(super) region: IntercomRegion,
    pub(super) base_url: Option<String>,
    pub(super) api_version: String,
    pub(super) http: HttpSettings,
    pub(super) connections: Option<HttpConnections>,
}

impl IntercomConfig {
    /// The workspace `token` (an access token) reaches, hosted in the US.
    pub fn new(token: impl Into<Secret>) -> Self {
        Self {
            token: token.into(),
            region: IntercomRegion::default(),
            base_url: None,
            api_version: DEFAULT_API_VERSION.to_owned(),
            http: HttpSettings::default(),
            connections: None,
        }
    }

    /// The region hosting the workspace (its API host).
    pub fn region(mut self, region: IntercomRegion) -> Self {
        self.region = region;
        self
    }

    /// Another base URL than the region's (the sandbox, a proxy).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The `Intercom-Version` header's value, `2.N` (default 2.11).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
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

    /// The region hosting the workspace.
    pub fn get_region(&self) -> IntercomRegion {
        self.region
    }

    /// The base URL requests go to: the one set, else the region's.
    pub fn get_base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .unwrap_or_else(|| self.region.base_url())
    }

    /// The `Intercom-Version` header's value.
    pub fn get_api_version(&self) -> &str {
        &self.api_version
    }

    /// Timeouts and retries.
    pub fn get_http(&self) -> &HttpSettings {
        &self.http
    }

    /// Checks the settings the HTTP client does not; the error names the
    /// first wrong one.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !is_api_version(&self.api_version) {
            return Err(ConfigError::new(
                "intercom",
                "api_version",
                format!(
                    "must be a version like \"2.11\" (2.0 or later: the contacts API), got {:?}",
                    self.api_version
                ),
            ));
        }
        Ok(())
    }
}

/// `2.N`: the versions with the contacts API (1.x had users and leads).
fn is_api_version(text: &str) -> bool {
    let Some((major, minor)) = text.split_once('.') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    digits(major) && digits(minor) && major.parse::<u32>().is_ok_and(|m| m >= 2)
}

impl std::fmt::Debug for IntercomConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is redacted by `Secret`; a base URL may carry credentials too.
        f.debug_struct("IntercomConfig")
            .field("token", &self.token)
            .field("region", &self.region)
            .field(
                "base_url",
                &crate::adapters::http::redact_url(self.get_base_url()),
            )
            .field("api_version", &self.api_version)
            .field("http", &self.http)
            .field("connections", &self.connections.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intercom_regions_and_versions_are_checked() {
        assert_eq!(
            IntercomConfig::new("t").get_base_url(),
            "https://api.intercom.io"
        );
        let eu = IntercomConfig::new("t").region(IntercomRegion::parse("EU").unwrap());
        assert_eq!(eu.get_base_url(), "https://api.eu.intercom.io");
        let au = IntercomConfig::new("t").region(IntercomRegion::Au);
        assert_eq!(au.get_base_url(), "https://api.au.intercom.io");
        assert_eq!(
            au.base_url("http://127.0.0.1:1/intercom").get_base_url(),
            "http://127.0.0.1:1/intercom"
        );
        assert_eq!(IntercomRegion::parse("mars"), None);
        assert_eq!(IntercomConfig::new("t").validate(), Ok(()));
        for version in ["1.4", "2", "v2.11", "2.x", ""] {
            let error = IntercomConfig::new("t")
                .api_version(version)
                .validate()
                .unwrap_err();
            assert_eq!(error.field(), "api_version", "{version}");
        }
        let debug = format!("{:?}", IntercomConfig::new("dG9rOnNlY3JldA=="));
        assert!(!debug.contains("dG9rOnNlY3JldA=="), "{debug}");
    }
}
