//! Airtable error responses → classified errors (AIRTABLE-6, AIRTABLE-7;
//! the kinds of docs/ADAPTERS.md, "Errors"; ).
//!
//! Both envelopes are understood: `{"error": {"type": "…", "message":
//! "…"}}` and the bare `{"error": "NOT_FOUND"}` that the gem reduced to a
//! generic message. The type is kept as `category`.

use std::time::Duration;

use serde_json::Value;

use crate::adapters::http::{kind_of_status, HttpResponse};
use crate::adapters::{AdapterError, AdapterErrorKind};

/// After a 429 Airtable refuses every request for 30 s (AIRTABLE-7);
/// it sends no `Retry-After` then, so this is the wait.
pub(crate) const RATE_LIMIT_PENALTY: Duration = Duration::from_secs(30);

/// Fallback message when the body says nothing (the gem's wording).
const GENERIC_MESSAGE: &str = "Airtable API request failed";

/// Classifies a non-success Airtable response.
pub(crate) fn classify(response: &HttpResponse) -> AdapterError {
    let body = &response.body;
    let envelope = body.get("error");
    let (category, nested_message) = match envelope {
        Some(Value::Object(error)) => (
            error.get("type").and_then(Value::as_str),
            error.get("message").and_then(Value::as_str),
        ),
        Some(Value::String(kind)) => (Some(kind.as_str()), None),
        _ => (None, None),
    };
    let message = nested_message
        .or_else(|| body.get("message").and_then(Value::as_str))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let raw = response.text.trim();
            if body.is_null() && !raw.is_empty() && raw.len() <= 300 {
                // Not JSON (a proxy's page): its text is the best clue.
                format!("{GENERIC_MESSAGE}: {raw}")
            } else {
                GENERIC_MESSAGE.to_owned()
            }
        });
    let kind = kind_of_status(response.status);
    let mut error = AdapterError::new(kind, message).status(response.status);
    error.retry_after = response.retry_after();
    if kind == AdapterErrorKind::RateLimited && error.retry_after.is_none() {
        error.retry_after = Some(RATE_LIMIT_PENALTY);
    }
    if let Some(category) = category.filter(|c| !c.is_empty()) {
        error = error.category(category);
    }
    error
}

/// Whether `error` says the record `crm_id` does not exist: a 404, or a
/// 422 `ROW_DOES_NOT_EXIST` naming that record (AIRTABLE-6). A 422
/// about another record (a dead linked-record reference in the fields) is
/// the payload's fault, not a missing target.
pub(crate) fn is_missing_record(error: &AdapterError, crm_id: &str) -> bool {
    error.kind() == AdapterErrorKind::NotFound
        || (error.category.as_deref() == Some("ROW_DOES_NOT_EXIST")
            && error.message.contains(crm_id))
}

/// The record ids (`rec…`) a `ROW_DOES_NOT_EXIST` message names, among
/// `candidates`.
pub(crate) fn missing_records<'a>(error: &AdapterError, candidates: &[&'a str]) -> Vec<&'a str> {
    if error.category.as_deref() != Some("ROW_DOES_NOT_EXIST") {
        return Vec::new();
    }
    candidates
        .iter()
        .copied()
        .filter(|id| {
            error.message.match_indices(id).any(|(at, _)| {
                // A whole id, not the prefix of a longer one.
                !error.message[at + id.len()..].starts_with(|c: char| c.is_ascii_alphanumeric())
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    use crate::adapters::http::test_response as response;

    #[test]
    fn object_envelope_keeps_type_and_message() {
        let error = classify(&response(
            422,
            json!({"error": {"type": "INVALID_VALUE_FOR_COLUMN", "message": "Field \"Age\" cannot accept the provided value"}}),
        ));
        assert_eq!(error.kind(), AdapterErrorKind::ValidationFailed);
        assert_eq!(error.status, Some(422));
        assert_eq!(error.category.as_deref(), Some("INVALID_VALUE_FOR_COLUMN"));
        assert_eq!(
            error.message,
            "Field \"Age\" cannot accept the provided value"
        );
    }

    #[test]
    fn string_envelope_keeps_the_type() {
        let error = classify(&response(404, json!({"error": "NOT_FOUND"})));
        assert_eq!(error.kind(), AdapterErrorKind::NotFound);
        assert_eq!(error.category.as_deref(), Some("NOT_FOUND"));
        assert_eq!(error.message, GENERIC_MESSAGE);
        let typed_only = classify(&response(404, json!({"error": {"type": "NOT_FOUND"}})));
        assert_eq!(typed_only.category.as_deref(), Some("NOT_FOUND"));
        let top_message = classify(&response(
            404,
            json!({"error": "NOT_FOUND", "message": "Could not find table"}),
        ));
        assert_eq!(top_message.message, "Could not find table");
    }

    #[test]
    fn statuses_follow_e4() {
        let kinds = [
            (401, AdapterErrorKind::Unauthorized),
            (403, AdapterErrorKind::Unauthorized),
            (404, AdapterErrorKind::NotFound),
            (409, AdapterErrorKind::ValidationFailed),
            (422, AdapterErrorKind::ValidationFailed),
            (429, AdapterErrorKind::RateLimited),
            (500, AdapterErrorKind::Transient),
            (502, AdapterErrorKind::Transient),
            (503, AdapterErrorKind::Transient),
        ];
        for (status, kind) in kinds {
            assert_eq!(
                classify(&response(status, Value::Null)).kind(),
                kind,
                "{status}"
            );
        }
    }

    #[test]
    fn rate_limit_waits_the_30_second_penalty_unless_told_otherwise() {
        let error = classify(&response(
            429,
            json!({"error": {"type": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}}),
        ));
        assert_eq!(error.retry_after, Some(Duration::from_secs(30)));
        assert_eq!(error.category.as_deref(), Some("RATE_LIMIT_REACHED"));
        let mut told = response(503, json!({"error": {"type": "RETRIABLE_ERROR"}}));
        told.headers
            .insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(classify(&told).retry_after, Some(Duration::from_secs(2)));
        assert_eq!(classify(&response(500, Value::Null)).retry_after, None);
    }

    #[test]
    fn non_json_bodies_are_quoted_when_short() {
        let mut html = response(502, Value::Null);
        html.text = "Bad Gateway".to_owned();
        assert_eq!(
            classify(&html).message,
            "Airtable API request failed: Bad Gateway"
        );
    }

    #[test]
    fn missing_records_are_found_in_row_does_not_exist_messages() {
        let error = classify(&response(
            422,
            json!({"error": {"type": "ROW_DOES_NOT_EXIST", "message": "Record ID recDeadGhost12345 does not exist"}}),
        ));
        assert!(is_missing_record(&error, "recDeadGhost12345"));
        assert!(!is_missing_record(&error, "recAlive000000000"));
        assert_eq!(
            missing_records(
                &error,
                &["recAlive000000000", "recDeadGhost12345", "recDead"]
            ),
            vec!["recDeadGhost12345"]
        );
        let other = classify(&response(
            422,
            json!({"error": {"type": "INVALID_RECORDS"}}),
        ));
        assert!(missing_records(&other, &["recDeadGhost12345"]).is_empty());
    }
}
