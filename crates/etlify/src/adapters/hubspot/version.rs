//! Which HubSpot API version the adapter calls, and every path it builds
//! from it (HUBSPOT-1, HUBSPOT-11).
//!
//! The legacy family is `/crm/v3/objects/{objectType}/…`; the dated ones put
//! the version after the API's name: `/crm/objects/2026-09/{objectType}/…`.
//! Nothing else in the adapter spells a path prefix.

use std::fmt;
use std::str::FromStr;

use crate::error::ConfigError;

/// A HubSpot API version. The default is [`ApiVersion::V3`], the paths
/// every configuration used before versions could be chosen; new
/// configurations written by `etlify init` say `"2026-09"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ApiVersion {
    /// `/crm/v3/objects/…`, the legacy paths (HubSpot announces their end
    /// for September 2027).
    #[default]
    V3,
    /// `/crm/objects/2026-03/…`, the first dated version.
    V2026_03,
    /// `/crm/objects/2026-09/…`: HubSpot enforces the portal's required
    /// properties on every create and update (HUBSPOT-11).
    V2026_09,
}

/// The accepted spellings, as an error message lists them.
pub const ACCEPTED_API_VERSIONS: &str = "\"v3\", \"2026-03\" or \"2026-09\"";

impl ApiVersion {
    /// Every version, oldest first.
    pub const ALL: [ApiVersion; 3] = [Self::V3, Self::V2026_03, Self::V2026_09];

    /// The spelling of the configuration file: `v3`, `2026-03`, `2026-09`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V3 => "v3",
            Self::V2026_03 => "2026-03",
            Self::V2026_09 => "2026-09",
        }
    }

    /// Whether HubSpot applies the portal's required-property rules to API
    /// writes at this version (from 2026-09 on).
    pub fn enforces_required_properties(self) -> bool {
        matches!(self, Self::V2026_09)
    }

    /// The path segments of the objects API, before the object type.
    fn objects_prefix(self) -> [&'static str; 3] {
        match self {
            Self::V3 => ["crm", "v3", "objects"],
            dated => ["crm", "objects", dated.as_str()],
        }
    }

    /// `…/{object_type}/{rest…}` of the properties API at this version
    /// (HUBSPOT-13): `/crm/v3/properties/…` or `/crm/properties/2026-09/…`.
    pub(crate) fn properties_path(self, object_type: &str, rest: &[&str]) -> Vec<String> {
        let prefix = match self {
            Self::V3 => ["crm", "v3", "properties"],
            dated => ["crm", "properties", dated.as_str()],
        };
        prefix
            .into_iter()
            .chain(std::iter::once(object_type))
            .chain(rest.iter().copied())
            .map(str::to_owned)
            .collect()
    }

    /// `…/{object_type}/{rest…}` of the objects API at this version, one
    /// segment each (the HTTP client encodes them).
    pub(crate) fn objects_path(self, object_type: &str, rest: &[&str]) -> Vec<String> {
        self.objects_prefix()
            .into_iter()
            .chain(std::iter::once(object_type))
            .chain(rest.iter().copied())
            .map(str::to_owned)
            .collect()
    }

    /// `…/{from_type}/{to_type}/{rest…}` of the associations API at this
    /// version: v4 beside the legacy objects paths, dated beside the dated
    /// ones (`/crm/associations/2026-09/…`).
    pub(crate) fn associations_path(
        self,
        from_type: &str,
        to_type: &str,
        rest: &[&str],
    ) -> Vec<String> {
        let prefix: [&str; 3] = match self {
            Self::V3 => ["crm", "v4", "associations"],
            dated => ["crm", "associations", dated.as_str()],
        };
        prefix
            .into_iter()
            .chain([from_type, to_type])
            .chain(rest.iter().copied())
            .map(str::to_owned)
            .collect()
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApiVersion {
    type Err = ConfigError;

    /// `v3`, `2026-03` or `2026-09` (surrounding blanks ignored).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        Self::ALL
            .into_iter()
            .find(|version| version.as_str() == text)
            .ok_or_else(|| {
                ConfigError::new(
                    "hubspot",
                    "api_version",
                    format!("must be {ACCEPTED_API_VERSIONS}, got {text:?}"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hubspot_version_paths_follow_the_version() {
        assert_eq!(
            ApiVersion::V3.objects_path("contacts", &["batch", "upsert"]),
            ["crm", "v3", "objects", "contacts", "batch", "upsert"]
        );
        assert_eq!(
            ApiVersion::V2026_03.objects_path("contacts", &["42"]),
            ["crm", "objects", "2026-03", "contacts", "42"]
        );
        assert_eq!(
            ApiVersion::V2026_09.objects_path("deals", &[]),
            ["crm", "objects", "2026-09", "deals"]
        );
    }

    #[test]
    fn association_paths_follow_the_version() {
        assert_eq!(
            ApiVersion::V3.associations_path("contacts", "companies", &["batch", "create"]),
            [
                "crm",
                "v4",
                "associations",
                "contacts",
                "companies",
                "batch",
                "create"
            ]
        );
        assert_eq!(
            ApiVersion::V2026_09.associations_path("deals", "contacts", &["batch", "archive"]),
            [
                "crm",
                "associations",
                "2026-09",
                "deals",
                "contacts",
                "batch",
                "archive"
            ]
        );
    }

    #[test]
    fn hubspot_version_parses_its_spellings_and_names_the_accepted_ones() {
        for version in ApiVersion::ALL {
            assert_eq!(version.as_str().parse::<ApiVersion>(), Ok(version));
        }
        assert_eq!(ApiVersion::default(), ApiVersion::V3);
        let error = "2026-06".parse::<ApiVersion>().unwrap_err();
        assert_eq!(error.field(), "api_version");
        assert!(error.expected().contains("\"2026-09\""), "{error}");
        assert!(error.expected().contains("\"2026-06\""), "{error}");
    }
}
