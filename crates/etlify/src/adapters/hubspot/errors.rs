//! HubSpot error responses → classified errors (HUBSPOT-7, HUBSPOT-9,
//! HUBSPOT-10, HUBSPOT-11; the kinds of docs/ADAPTERS.md, "Errors").

use std::time::Duration;

use serde_json::Value;

use crate::adapters::http::{kind_of_status, HttpResponse};
use crate::adapters::{AdapterError, AdapterErrorKind};

/// Classifies a non-success HubSpot response.
pub(crate) fn classify(response: &HttpResponse) -> AdapterError {
    let body = &response.body;
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    let message = property_message(body)
        .or_else(|| text("message"))
        .unwrap_or_else(|| {
            let raw = response.text.trim();
            if raw.is_empty() || raw.len() > 300 {
                "HubSpot API request failed".to_owned()
            } else {
                format!("HubSpot API request failed: {raw}")
            }
        });
    let mut kind = kind_of_status(response.status);
    let mut retry_after = response.retry_after();
    match response.status {
        429 => {
            // HUBSPOT-10: the policy says which limit was hit.
            let policy = text("policyName").unwrap_or_default();
            retry_after = retry_after.or(match policy.as_str() {
                "SECONDLY" => Some(Duration::from_secs(1)),
                "DAILY" => None,
                _ => response
                    .header("x-hubspot-ratelimit-interval-milliseconds")
                    .and_then(|ms| ms.parse::<u64>().ok())
                    .map(Duration::from_millis)
                    .or(Some(Duration::from_secs(10))),
            });
        }
        // Locked while HubSpot processes a burst of writes: wait 2 s.
        423 => retry_after = retry_after.or(Some(Duration::from_secs(2))),
        // Migration in progress: retry after the given delay.
        477 => kind = AdapterErrorKind::Transient,
        _ => {}
    }
    let mut error = AdapterError::new(kind, message).status(response.status);
    error.retry_after = retry_after;
    // HUBSPOT-7: `errors` (per property) or `context` (e.g. the duplicate ids).
    if let Some(details) = body
        .get("errors")
        .or_else(|| body.get("context"))
        .filter(|d| !d.is_null())
    {
        error = error.details(details.clone());
    }
    if let Some(category) = text("category").or_else(|| text("errorType")) {
        error = error.category(category);
    }
    if let Some(id) = text("correlationId").or_else(|| {
        response
            .header("x-hubspot-correlation-id")
            .map(str::to_owned)
    }) {
        error = error.correlation_id(id);
    }
    error
}

/// One property HubSpot refused, as an error body lists it.
struct PropertyProblem {
    name: String,
    code: Option<String>,
    message: Option<String>,
}

/// The properties a validation error names (HUBSPOT-7, HUBSPOT-11): each
/// `errors[]` entry's `context.propertyName` (or `name`), else the list
/// that "Property values were not valid: [...]" carries in its message.
fn property_problems(body: &Value) -> Vec<PropertyProblem> {
    let text = |value: &Value, key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut problems = Vec::new();
    for entry in body
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let names: Vec<String> = match entry.pointer("/context/propertyName") {
            Some(Value::Array(names)) => names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            Some(Value::String(name)) => vec![name.clone()],
            _ => text(entry, "name").into_iter().collect(),
        };
        for name in names {
            problems.push(PropertyProblem {
                name,
                code: text(entry, "code").or_else(|| text(entry, "error")),
                message: text(entry, "message"),
            });
        }
    }
    if problems.is_empty() {
        let listed = body
            .get("message")
            .and_then(Value::as_str)
            .and_then(|m| m.split_once("Property values were not valid: "))
            .and_then(|(_, list)| serde_json::from_str::<Vec<Value>>(list.trim()).ok());
        for entry in listed.into_iter().flatten() {
            if let Some(name) = text(&entry, "name") {
                problems.push(PropertyProblem {
                    name,
                    code: text(&entry, "error"),
                    message: text(&entry, "message"),
                });
            }
        }
    }
    problems
}

/// A message naming each refused property first, e.g. `property
/// lastname: Property "lastname" is required (MISSING_REQUIRED_PROPERTY)`,
/// instead of HubSpot's JSON-in-a-string; `None` when no property is named.
pub(crate) fn property_message(body: &Value) -> Option<String> {
    let problems = property_problems(body);
    if problems.is_empty() {
        return None;
    }
    let described: Vec<String> = problems
        .iter()
        .map(|problem| {
            let mut line = format!("property {}", problem.name);
            if let Some(message) = &problem.message {
                line.push_str(": ");
                line.push_str(message);
            }
            if let Some(code) = &problem.code {
                line.push_str(&format!(" ({code})"));
            }
            line
        })
        .collect();
    Some(described.join("; "))
}

/// The existing object's id in a create conflict: `Contact already exists.
/// Existing ID: 512159482605` (HUBSPOT-8).
pub(crate) fn existing_id(error: &AdapterError) -> Option<String> {
    if error.status != Some(409) {
        return None;
    }
    let (_, rest) = error.message.split_once("Existing ID:")?;
    let id: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::adapters::http::test_response as response;

    #[test]
    fn hubspot_errors_keep_message_category_and_correlation_id() {
        let error = classify(&response(
            409,
            json!({"status": "error", "message": "Contact already exists. Existing ID: 5121", "category": "CONFLICT", "correlationId": "cid-1"}),
        ));
        assert_eq!(error.kind(), AdapterErrorKind::ValidationFailed);
        assert_eq!(error.category.as_deref(), Some("CONFLICT"));
        assert_eq!(error.correlation_id.as_deref(), Some("cid-1"));
        assert_eq!(existing_id(&error).as_deref(), Some("5121"));

        let invalid = classify(&response(
            400,
            json!({"message": "Property values were not valid", "errors": [{"code": "INVALID_EMAIL", "context": {"propertyName": ["email"]}}]}),
        ));
        assert_eq!(invalid.details.unwrap()[0]["code"], "INVALID_EMAIL");
    }

    #[test]
    fn hubspot_version_a_required_property_failure_names_the_property() {
        // The 2026-09 shape: per-property entries under `errors`.
        let required = classify(&response(
            400,
            json!({"status": "error", "category": "VALIDATION_ERROR",
                   "message": "Property values were not valid: [{\"isValid\":false,\"message\":\"Property \\\"lastname\\\" is required\",\"error\":\"MISSING_REQUIRED_PROPERTY\",\"name\":\"lastname\"}]",
                   "errors": [{"message": "Property \"lastname\" is required", "code": "MISSING_REQUIRED_PROPERTY",
                               "context": {"propertyName": ["lastname"]}}]}),
        ));
        assert_eq!(required.kind(), AdapterErrorKind::ValidationFailed);
        assert_eq!(
            required.message,
            "property lastname: Property \"lastname\" is required (MISSING_REQUIRED_PROPERTY)"
        );
        // The older shape: the list only inside the message.
        let listed = classify(&response(
            400,
            json!({"status": "error", "category": "VALIDATION_ERROR",
                   "message": "Property values were not valid: [{\"isValid\":false,\"message\":\"Enter only letters\",\"error\":\"INVALID_ALPHA\",\"name\":\"firstname\"}]"}),
        ));
        assert_eq!(
            listed.message,
            "property firstname: Enter only letters (INVALID_ALPHA)"
        );
    }

    #[test]
    fn hubspot_rate_limit_policies_set_the_wait() {
        let ten = classify(&response(
            429,
            json!({"policyName": "TEN_SECONDLY_ROLLING", "errorType": "RATE_LIMIT"}),
        ));
        assert_eq!(
            (ten.kind(), ten.retry_after),
            (AdapterErrorKind::RateLimited, Some(Duration::from_secs(10)))
        );
        let secondly = classify(&response(429, json!({"policyName": "SECONDLY"})));
        assert_eq!(secondly.retry_after, Some(Duration::from_secs(1)));
        let plain = classify(&response(502, Value::Null));
        assert_eq!(plain.kind(), AdapterErrorKind::Transient);
        assert_eq!(plain.message, "HubSpot API request failed");
    }
}
