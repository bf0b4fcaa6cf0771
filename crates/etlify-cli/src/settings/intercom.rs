//! `adapter = "intercom"` in the TOML file: its keys, checked before
//! anything runs (exit 2 naming the key); `adapter_keys.rs` refuses
//! `region` on other adapters.

use std::sync::Arc;

use etlify::adapters::{
    Adapter, HttpConnections, IntercomAdapter, IntercomConfig, IntercomRegion, NullAdapter,
};

use super::{adapter_error, interpolate, Env};
use crate::error::CliError;
use crate::file::CrmFile;

/// The adapter of an Intercom CRM: its token is required (a disabled CRM
/// sends nothing and needs none); the region and version are checked
/// either way.
pub(super) fn adapter(
    file: &CrmFile,
    at: &dyn Fn(&str) -> String,
    env: Env<'_>,
    connections: &HttpConnections,
    enabled: bool,
) -> Result<Arc<dyn Adapter>, CliError> {
    let region = match &file.region {
        None => IntercomRegion::default(),
        Some(text) => IntercomRegion::parse(text).ok_or_else(|| {
            CliError::config(format!(
                "{}: must be \"us\", \"eu\" or \"au\" (where the workspace is hosted), got {text:?}",
                at("region")
            ))
        })?,
    };
    let token = match &file.token {
        Some(raw) => interpolate(raw, &at("token"), env),
        None => Err(CliError::config(format!(
            "{}: is required (e.g. token = \"${{INTERCOM_TOKEN}}\")",
            at("token")
        ))),
    };
    let mut config = IntercomConfig::new(match token {
        Ok(token) => token,
        Err(_) if !enabled => return Ok(Arc::new(NullAdapter::new())),
        Err(error) => return Err(error),
    })
    .region(region)
    .connections(connections.clone());
    if let Some(url) = &file.base_url {
        config = config.base_url(interpolate(url, &at("base_url"), env)?);
    }
    if let Some(version) = &file.api_version {
        config = config.api_version(version.trim());
    }
    Ok(Arc::new(
        IntercomAdapter::new(config).map_err(|e| adapter_error(at, &e))?,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::{parse, Settings};
    use crate::error::{CliError, Exit};

    const DATABASE: &str = "[database]\nurl = \"sqlite://x.db\"\n";

    /// An Intercom CRM with `keys`, read with IC_TOKEN set.
    fn intercom(keys: &str) -> Result<Settings, CliError> {
        let text = format!("{DATABASE}[crms.ic]\nadapter = \"intercom\"\n{keys}\n");
        parse(&text, "etlify.toml".to_owned(), &|name| match name {
            "IC_TOKEN" => Some("the-intercom-token".to_owned()),
            _ => None,
        })
    }

    fn refused(keys: &str) -> String {
        match intercom(keys) {
            Ok(_) => panic!("accepted: {keys}"),
            Err(error) => {
                assert_eq!(error.exit, Exit::Config, "{error}");
                error.message
            }
        }
    }

    const TOKEN: &str = "token = \"${IC_TOKEN}\"\n";

    #[test]
    fn intercom_keys_are_checked_and_named_before_anything_runs() {
        let settings = intercom(&format!(
            "{TOKEN}region = \"eu\"\napi_version = \"2.14\"\n\
             rate_limit = {{ max_requests = 1666, period = \"10s\" }}"
        ))
        .unwrap();
        let debug = format!("{:?}", settings.crms);
        assert!(!debug.contains("the-intercom-token"), "{debug}");
        for (keys, named) in [
            ("region = \"eu\"", "crms.ic.token: is required"),
            (
                "token = \"${NOPE}\"",
                "crms.ic.token: the environment variable NOPE",
            ),
            (
                &format!("{TOKEN}region = \"mars\""),
                "crms.ic.region: must be \"us\", \"eu\" or \"au\"",
            ),
            (
                &format!("{TOKEN}api_version = \"2026-09\""),
                "crms.ic.api_version: must be a version like \"2.11\"",
            ),
            (
                &format!("{TOKEN}base_url = \"not a url\""),
                "crms.ic.base_url: must be an absolute URL",
            ),
            (
                &format!("{TOKEN}base_id = \"app1\""),
                "crms.ic.base_id: applies to airtable only",
            ),
            (
                &format!("{TOKEN}client_id = \"x\""),
                "crms.ic.client_id: applies to salesforce only",
            ),
            (
                &format!("{TOKEN}url = \"https://x.example\""),
                "crms.ic.url: applies to webhook only",
            ),
        ] {
            let message = refused(keys);
            assert!(message.contains(named), "{keys}: {message}");
            assert!(!message.contains("the-intercom-token"), "{message}");
        }
        let text = format!(
            "{DATABASE}[crms.hubspot]\nadapter = \"hubspot\"\ntoken = \"t\"\nregion = \"eu\"\n"
        );
        let message = parse(&text, "etlify.toml".to_owned(), &|_| None)
            .unwrap_err()
            .message;
        assert!(
            message.contains("crms.hubspot.region: applies to intercom only"),
            "{message}"
        );
    }

    #[test]
    fn intercom_a_disabled_crm_needs_no_token_but_a_valid_region() {
        assert!(intercom("enabled = false").is_ok());
        assert!(intercom("enabled = false\nregion = \"moon\"").is_err());
    }
}
