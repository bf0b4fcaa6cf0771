//! `adapter = "brevo"` in the TOML file: its keys, checked before
//! anything runs (exit 2 naming the key); `adapter_keys.rs` refuses them
//! on other adapters.

use std::sync::Arc;

use etlify::adapters::{Adapter, BrevoAdapter, BrevoConfig, HttpConnections, NullAdapter};

use super::{adapter_error, interpolate, Env};
use crate::error::CliError;
use crate::file::CrmFile;

/// The `${NAME}`s of an enabled Brevo CRM's key.
pub(super) fn variables<'a>(name: &str, file: &'a CrmFile, uses: &mut Vec<(String, &'a str)>) {
    if let (Some(key), true) = (&file.api_key, file.enabled.unwrap_or(true)) {
        uses.push((format!("crms.{name}.api_key"), key));
    }
}

/// The adapter of a Brevo CRM: its API key is required (a disabled CRM
/// sends nothing and needs none).
pub(super) fn adapter(
    file: &CrmFile,
    at: &dyn Fn(&str) -> String,
    env: Env<'_>,
    connections: &HttpConnections,
    enabled: bool,
) -> Result<Arc<dyn Adapter>, CliError> {
    let key = file
        .api_key
        .as_ref()
        .ok_or_else(|| {
            CliError::config(format!(
                "{}: is required (e.g. api_key = \"${{BREVO_API_KEY}}\")",
                at("api_key")
            ))
        })
        .and_then(|raw| interpolate(raw, &at("api_key"), env));
    let key = match key {
        Ok(key) => key,
        Err(_) if !enabled => return Ok(Arc::new(NullAdapter::new())),
        Err(error) => return Err(error),
    };
    let mut config = BrevoConfig::new(key).connections(connections.clone());
    if let Some(url) = &file.base_url {
        config = config.base_url(interpolate(url, &at("base_url"), env)?);
    }
    if let Some(ids) = &file.list_ids {
        config = config.list_ids(ids.iter().copied());
    }
    if let Some(ids) = &file.unlink_list_ids {
        config = config.unlink_list_ids(ids.iter().copied());
    }
    Ok(Arc::new(
        BrevoAdapter::new(config).map_err(|e| adapter_error(at, &e))?,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::tests::{parse_with, refused_with};
    use super::super::Settings;
    use crate::error::CliError;

    const DATABASE: &str = "[database]\nurl = \"sqlite://x.db\"\n";
    const ENV: &[(&str, &str)] = &[("BREVO_API_KEY", "xkeysib-the-key")];

    /// The file of a Brevo CRM with `keys`.
    fn file(keys: &str) -> String {
        format!("{DATABASE}[crms.brevo]\nadapter = \"brevo\"\n{keys}\n")
    }

    /// A Brevo CRM with `keys`, read with BREVO_API_KEY set.
    fn brevo(keys: &str) -> Result<Settings, CliError> {
        parse_with(&file(keys), ENV)
    }

    fn refused(keys: &str) -> String {
        refused_with(&file(keys), ENV)
    }

    const KEY: &str = "api_key = \"${BREVO_API_KEY}\"\n";

    #[test]
    fn brevo_keys_are_checked_and_named_before_anything_runs() {
        let settings = brevo(&format!(
            "{KEY}base_url = \"http://127.0.0.1:1/v3\"\nlist_ids = [2, 3]\nunlink_list_ids = [9]"
        ))
        .unwrap();
        let debug = format!("{:?}", settings.crms);
        assert!(!debug.contains("the-key"), "{debug}");
        for (keys, named) in [
            ("list_ids = [2]", "crms.brevo.api_key: is required"),
            (
                "api_key = \"${NOPE}\"",
                "crms.brevo.api_key: the environment variable NOPE",
            ),
            (
                &format!("{KEY}list_ids = [0]"),
                "crms.brevo.list_ids: must hold list ids",
            ),
            (
                &format!("{KEY}list_ids = [2]\nunlink_list_ids = [2]"),
                "crms.brevo.unlink_list_ids: must not hold list 2",
            ),
            (&format!("{KEY}list_ids = [-1]"), "crms.brevo.list_ids"),
            (
                &format!("{KEY}base_url = \"not a url\""),
                "crms.brevo.base_url: must be an absolute URL",
            ),
            (
                &format!("{KEY}token = \"x\""),
                "crms.brevo.token: applies to hubspot, airtable and intercom only",
            ),
            (
                &format!("{KEY}client_id = \"x\""),
                "crms.brevo.client_id: applies to salesforce only",
            ),
        ] {
            let message = refused(keys);
            assert!(message.contains(named), "{keys}: {message}");
            assert!(!message.contains("the-key"), "{message}");
        }
        let text = format!("{DATABASE}[crms.hubspot]\nadapter = \"null\"\nlist_ids = [1]\n");
        let message = refused_with(&text, &[]);
        assert!(
            message.contains("crms.hubspot.list_ids: applies to brevo only"),
            "{message}"
        );
    }

    #[test]
    fn brevo_a_disabled_crm_needs_no_key() {
        assert!(brevo("enabled = false").is_ok());
    }
}
