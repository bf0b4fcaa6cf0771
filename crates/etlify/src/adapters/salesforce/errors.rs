//! Salesforce error answers → classified errors (SALESFORCE-1,
//! SALESFORCE-5..SALESFORCE-7; the kinds of docs/ADAPTERS.md, "Errors").

use serde_json::Value;

use crate::adapters::http::{kind_of_status, HttpResponse};
use crate::adapters::{AdapterError, AdapterErrorKind};

/// The code of both limits Salesforce answers 403 for.
const REQUEST_LIMIT_EXCEEDED: &str = "REQUEST_LIMIT_EXCEEDED";

/// Classifies a non-success answer of the data API: its first
/// `{errorCode, message}` names it.
pub(crate) fn classify(response: &HttpResponse) -> AdapterError {
    let first = response.body.as_array().and_then(|errors| errors.first());
    let text = |key: &str| first.and_then(|e| e.get(key)).and_then(Value::as_str);
    let code = text("errorCode");
    let message = text("message").map_or_else(
        || {
            let raw = response.text.trim();
            if raw.is_empty() || raw.len() > 300 {
                "Salesforce API request failed".to_owned()
            } else {
                format!("Salesforce API request failed: {raw}")
            }
        },
        str::to_owned,
    );
    let kind = match (response.status, code) {
        // Not the credentials: a limit, waited out or ended (SALESFORCE-6, -7).
        (403, Some(REQUEST_LIMIT_EXCEEDED)) => AdapterErrorKind::RateLimited,
        (status, _) => kind_of_status(status),
    };
    let mut error = AdapterError::new(kind, message).status(response.status);
    if let Some(code) = code {
        error = error.category(code);
    }
    if let Some(delay) = response.retry_after() {
        error = error.retry_after(delay);
    }
    if response.body.is_array() {
        error = error.details(response.body.clone());
    }
    error
}

/// A 401: the token expired or was revoked (SALESFORCE-1); a new one may
/// be asked for once.
pub(crate) fn is_expired_session(error: &AdapterError) -> bool {
    error.get_status() == Some(401)
}

/// The daily allocation is spent (SALESFORCE-6): no retry helps today.
pub(crate) fn is_daily_limit(error: &AdapterError) -> bool {
    error.get_category() == Some(REQUEST_LIMIT_EXCEEDED)
        && error.message().contains("TotalRequests")
}

/// The per-record codes that mean "no such record" (SALESFORCE-4).
fn is_gone(code: &str) -> bool {
    matches!(
        code,
        "ENTITY_IS_DELETED" | "INVALID_CROSS_REFERENCE_KEY" | "MALFORMED_ID"
    )
}

/// Whether a collections result is a success.
pub(crate) fn succeeded(result: &Value) -> bool {
    result.get("success").and_then(Value::as_bool) == Some(true)
}

/// The error of a failed collections result (SALESFORCE-5): its first
/// `{statusCode, message, fields}`, every field named.
pub(crate) fn record_error(result: &Value) -> AdapterError {
    let first = result
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|errors| errors.first());
    let code = first
        .and_then(|e| e.get("statusCode"))
        .and_then(Value::as_str)
        .unwrap_or("UNKNOWN_ERROR");
    let mut message = first
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("Salesforce refused this record")
        .to_owned();
    let fields: Vec<&str> = first
        .and_then(|e| e.get("fields"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !fields.is_empty() && !fields.iter().all(|f| message.contains(f)) {
        message = format!("{message} (fields: {})", fields.join(", "));
    }
    let kind = if is_gone(code) {
        AdapterErrorKind::NotFound
    } else {
        AdapterErrorKind::ValidationFailed
    };
    let mut error = AdapterError::new(kind, message).category(code);
    if let Some(errors) = result.get("errors") {
        error = error.details(errors.clone());
    }
    error
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::adapters::http::test_response;

    #[test]
    fn salesforce_limits_are_throttling_and_the_daily_one_is_told_apart() {
        let daily = classify(&test_response(
            403,
            json!([{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]),
        ));
        assert_eq!(daily.kind(), AdapterErrorKind::RateLimited);
        assert!(is_daily_limit(&daily));
        let concurrent = classify(&test_response(
            403,
            json!([{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "ConcurrentPerOrgLongTxn Limit exceeded."}]),
        ));
        assert_eq!(concurrent.kind(), AdapterErrorKind::RateLimited);
        assert!(!is_daily_limit(&concurrent));
        let access = classify(&test_response(
            403,
            json!([{"errorCode": "INSUFFICIENT_ACCESS", "message": "no"}]),
        ));
        assert_eq!(access.kind(), AdapterErrorKind::Unauthorized);
        let expired = classify(&test_response(
            401,
            json!([{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]),
        ));
        assert!(is_expired_session(&expired));
        assert_eq!(expired.get_category(), Some("INVALID_SESSION_ID"));
    }

    #[test]
    fn salesforce_record_errors_name_their_fields_and_gone_records() {
        let missing = record_error(&json!({"success": false, "errors": [
            {"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "Bad value", "fields": ["Score__c"]}
        ]}));
        assert_eq!(missing.kind(), AdapterErrorKind::ValidationFailed);
        assert_eq!(missing.message(), "Bad value (fields: Score__c)");
        let gone = record_error(&json!({"success": false, "errors": [
            {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}
        ]}));
        assert_eq!(gone.kind(), AdapterErrorKind::NotFound);
    }
}
