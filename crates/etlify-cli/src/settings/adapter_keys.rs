//! Which adapters each adapter's own key of `[crms.NAME]` applies to, in
//! one table: a key set for an adapter it does not apply to is refused
//! before anything runs (exit 2), naming the adapters it applies to.

use crate::error::CliError;
use crate::file::{AdapterKind, CrmFile};

use AdapterKind::{Airtable, Brevo, Hubspot, Intercom, Salesforce, Webhook};

/// Each adapter-specific key, whether `file` sets it, and the adapters it
/// applies to (in the order a refusal names them).
fn keys(file: &CrmFile) -> [(&'static str, bool, &'static [AdapterKind]); 18] {
    [
        ("url", file.url.is_some(), &[Webhook]),
        ("signing_secret", file.signing_secret.is_some(), &[Webhook]),
        ("batch_size", file.batch_size.is_some(), &[Webhook]),
        ("response", file.response.is_some(), &[Webhook]),
        ("login_url", file.login_url.is_some(), &[Salesforce]),
        ("client_id", file.client_id.is_some(), &[Salesforce]),
        ("client_secret", file.client_secret.is_some(), &[Salesforce]),
        (
            "daily_reserve_percent",
            file.daily_reserve_percent.is_some(),
            &[Salesforce],
        ),
        (
            "max_concurrent_requests",
            file.max_concurrent_requests.is_some(),
            &[Salesforce],
        ),
        ("api_key", file.api_key.is_some(), &[Brevo]),
        ("list_ids", file.list_ids.is_some(), &[Brevo]),
        ("unlink_list_ids", file.unlink_list_ids.is_some(), &[Brevo]),
        ("region", file.region.is_some(), &[Intercom]),
        (
            "token",
            file.token.is_some(),
            &[Hubspot, Airtable, Intercom],
        ),
        (
            "base_url",
            file.base_url.is_some(),
            &[Hubspot, Airtable, Brevo, Intercom],
        ),
        ("base_id", file.base_id.is_some(), &[Airtable]),
        (
            "api_version",
            file.api_version.is_some(),
            &[Hubspot, Salesforce, Intercom],
        ),
        (
            "search_requests_per_second",
            file.search_requests_per_second.is_some(),
            &[Hubspot],
        ),
    ]
}

/// Refuses the first key `file` sets that its adapter does not take; `at`
/// names a key in the error.
pub(super) fn refuse_keys_of_other_adapters(
    file: &CrmFile,
    at: &dyn Fn(&str) -> String,
) -> Result<(), CliError> {
    for (key, set, applies_to) in keys(file) {
        if set && !applies_to.contains(&file.adapter) {
            return Err(CliError::config(format!(
                "{}: applies to {} only",
                at(key),
                named(applies_to)
            )));
        }
    }
    Ok(())
}

/// `hubspot, airtable and intercom`.
fn named(adapters: &[AdapterKind]) -> String {
    let names: Vec<&str> = adapters.iter().map(|adapter| name(*adapter)).collect();
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// The adapter's name in the file.
fn name(adapter: AdapterKind) -> &'static str {
    match adapter {
        Hubspot => "hubspot",
        Airtable => "airtable",
        AdapterKind::Null => "null",
        Webhook => "webhook",
        Salesforce => "salesforce",
        Brevo => "brevo",
        Intercom => "intercom",
    }
}
