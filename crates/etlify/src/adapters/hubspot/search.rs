//! Finding an object by its id property (HUBSPOT-6), with the gem's filters.

use reqwest::Method;
use serde_json::{json, Value};

use super::errors::classify;
use super::HubSpotAdapter;
use crate::adapters::http::HttpRequest;
use crate::adapters::{AdapterError, AdapterErrorKind, Throttle};

/// The name of HubSpot's search budget, per account (token), apart from
/// the app's 10-second window.
pub(crate) const SEARCH_BUDGET: &str = "hubspot.search";

/// The search value: text, trimmed, lowercased for `email` (as the gem did).
fn search_value(property: &str, value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.trim().to_owned(),
        other => other.to_string(),
    };
    if property == "email" {
        text.to_lowercase()
    } else {
        text
    }
}

/// The gem's filter groups: EQ on the property; for contacts by email,
/// also a secondary-email match and the `+`-encoded variant.
pub(crate) fn filter_groups(object_type: &str, property: &str, value: &Value) -> Value {
    let value = search_value(property, value);
    let mut groups =
        vec![json!({"filters": [{"propertyName": property, "operator": "EQ", "value": value}]})];
    if object_type == "contacts" && property == "email" {
        groups.push(json!({"filters": [{"propertyName": "hs_additional_emails", "operator": "CONTAINS_TOKEN", "value": value}]}));
        if value.contains('+') {
            groups.push(json!({"filters": [{"propertyName": "email", "operator": "EQ", "value": value.replace('+', "%2B")}]}));
        }
    }
    Value::Array(groups)
}

/// The id of the object whose `property` equals `value`, if any.
pub(crate) async fn find_id(
    adapter: &HubSpotAdapter,
    object_type: &str,
    property: &str,
    value: &Value,
    throttle: &Throttle<'_>,
) -> Result<Option<String>, AdapterError> {
    let body = json!({
        "filterGroups": filter_groups(object_type, property, value),
        "properties": ["hs_object_id"],
        "limit": 1,
    });
    let request = HttpRequest::new(Method::POST, adapter.path(object_type, &["search"]))
        .json(body)
        .budget(SEARCH_BUDGET);
    match adapter.http.send(&request, classify, throttle).await {
        Ok(response) => Ok(response
            .body
            .get("results")
            .and_then(Value::as_array)
            .and_then(|results| results.first())
            .and_then(super::object_id)),
        Err(error) if error.kind() == AdapterErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}
