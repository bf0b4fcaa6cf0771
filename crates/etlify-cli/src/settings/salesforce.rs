//! `adapter = "salesforce"` in the TOML file: its keys, checked before
//! anything runs (exit 2 naming the key); `adapter_keys.rs` refuses them
//! on other adapters.

use std::sync::Arc;

use etlify::adapters::{
    Adapter, HttpConnections, NullAdapter, SalesforceAdapter, SalesforceConfig,
};

use super::{adapter_error, interpolate, Env};
use crate::error::CliError;
use crate::file::CrmFile;

/// The `${NAME}`s of an enabled Salesforce CRM's login URL and credentials.
pub(super) fn variables<'a>(name: &str, file: &'a CrmFile, uses: &mut Vec<(String, &'a str)>) {
    if !file.enabled.unwrap_or(true) {
        return;
    }
    for (key, value) in [
        ("login_url", &file.login_url),
        ("client_id", &file.client_id),
        ("client_secret", &file.client_secret),
    ] {
        if let Some(value) = value {
            uses.push((format!("crms.{name}.{key}"), value));
        }
    }
}

/// The adapter of a Salesforce CRM: its client id and secret are required
/// (a disabled CRM sends nothing and needs neither).
pub(super) fn adapter(
    file: &CrmFile,
    at: &dyn Fn(&str) -> String,
    env: Env<'_>,
    connections: &HttpConnections,
    enabled: bool,
) -> Result<Arc<dyn Adapter>, CliError> {
    let required = |key: &str, value: Option<&String>, example: &str| {
        let raw = value.ok_or_else(|| {
            CliError::config(format!("{}: is required (e.g. {key} = {example})", at(key)))
        })?;
        interpolate(raw, &at(key), env)
    };
    let id = required(
        "client_id",
        file.client_id.as_ref(),
        "\"${SALESFORCE_CLIENT_ID}\"",
    );
    let secret = required(
        "client_secret",
        file.client_secret.as_ref(),
        "\"${SALESFORCE_CLIENT_SECRET}\"",
    );
    let (id, secret) = match (id, secret) {
        (Ok(id), Ok(secret)) => (id, secret),
        _ if !enabled => return Ok(Arc::new(NullAdapter::new())),
        (Err(error), _) | (_, Err(error)) => return Err(error),
    };
    let mut config = SalesforceConfig::new(id, secret).connections(connections.clone());
    if let Some(url) = &file.login_url {
        config = config.login_url(interpolate(url, &at("login_url"), env)?);
    }
    if let Some(version) = &file.api_version {
        config = config.api_version(version.trim());
    }
    if let Some(percent) = file.daily_reserve_percent {
        config = config.daily_reserve_percent(percent);
    }
    if let Some(requests) = file.max_concurrent_requests {
        config = config.max_concurrent_requests(requests as usize);
    }
    // A batch run's requests in flight must fit the org's limit.
    let concurrent = config.get_max_concurrent_requests();
    if let Some(in_flight) = file.max_in_flight.filter(|n| *n as usize > concurrent) {
        return Err(CliError::config(format!(
            "{}: {in_flight} is more than max_concurrent_requests ({concurrent}), the requests \
             Salesforce takes at once",
            at("max_in_flight")
        )));
    }
    Ok(Arc::new(
        SalesforceAdapter::new(config).map_err(|e| adapter_error(at, &e))?,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::super::{parse, Settings};
    use crate::error::{CliError, Exit};

    const DATABASE: &str = "[database]\nurl = \"sqlite://x.db\"\n";

    /// A Salesforce CRM with `keys`, read with SF_ID and SF_SECRET set.
    fn salesforce(keys: &str) -> Result<Settings, CliError> {
        let text = format!("{DATABASE}[crms.sf]\nadapter = \"salesforce\"\n{keys}\n");
        parse(&text, "etlify.toml".to_owned(), &|name| match name {
            "SF_ID" => Some("the-client-id".to_owned()),
            "SF_SECRET" => Some("the-client-secret".to_owned()),
            _ => None,
        })
    }

    fn refused(keys: &str) -> String {
        match salesforce(keys) {
            Ok(_) => panic!("accepted: {keys}"),
            Err(error) => {
                assert_eq!(error.exit, Exit::Config, "{error}");
                error.message
            }
        }
    }

    const CREDENTIALS: &str = "client_id = \"${SF_ID}\"\nclient_secret = \"${SF_SECRET}\"\n";

    #[test]
    fn salesforce_keys_are_checked_and_named_before_anything_runs() {
        let settings = salesforce(&format!(
            "{CREDENTIALS}login_url = \"https://acme.my.salesforce.com\"\napi_version = \"v61.0\"\n\
             daily_reserve_percent = 10\nmax_concurrent_requests = 10\nmax_in_flight = 8"
        ))
        .unwrap();
        let debug = format!("{:?}", settings.crms);
        assert!(!debug.contains("the-client-secret"), "{debug}");
        for (keys, named) in [
            (
                "client_secret = \"${SF_SECRET}\"",
                "crms.sf.client_id: is required",
            ),
            (
                "client_id = \"${SF_ID}\"",
                "crms.sf.client_secret: is required",
            ),
            (
                "client_id = \"${SF_ID}\"\nclient_secret = \"${NOPE}\"",
                "crms.sf.client_secret: the environment variable NOPE",
            ),
            (
                &format!("{CREDENTIALS}api_version = \"62\""),
                "crms.sf.api_version: must be a version like",
            ),
            (
                &format!("{CREDENTIALS}daily_reserve_percent = 60"),
                "crms.sf.daily_reserve_percent: must be between 0 and 50",
            ),
            (
                &format!("{CREDENTIALS}max_concurrent_requests = 0"),
                "crms.sf.max_concurrent_requests: must be at least 1",
            ),
            (
                &format!("{CREDENTIALS}login_url = \"not a url\""),
                "crms.sf.login_url: must be an absolute URL",
            ),
            (
                &format!("{CREDENTIALS}max_in_flight = 30"),
                "crms.sf.max_in_flight: 30 is more than max_concurrent_requests (25)",
            ),
            (
                &format!("{CREDENTIALS}token = \"x\""),
                "crms.sf.token: applies to hubspot, airtable and intercom only",
            ),
        ] {
            let message = refused(keys);
            assert!(message.contains(named), "{keys}: {message}");
            assert!(!message.contains("the-client-secret"), "{message}");
        }
        let text = format!("{DATABASE}[crms.hubspot]\nadapter = \"null\"\nclient_id = \"x\"\n");
        let message = parse(&text, "etlify.toml".to_owned(), &|_| None)
            .unwrap_err()
            .message;
        assert!(
            message.contains("crms.hubspot.client_id: applies to salesforce only"),
            "{message}"
        );
    }

    #[test]
    fn salesforce_a_disabled_crm_needs_no_credentials() {
        assert!(salesforce("enabled = false").is_ok());
    }
}
