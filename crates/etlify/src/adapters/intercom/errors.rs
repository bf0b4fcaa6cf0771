//! Intercom's error answers and rate-limit headers → classified errors and
//! the limiter's view of the window (INTERCOM-5, INTERCOM-6; the kinds of
//! docs/ADAPTERS.md, "Errors").

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::adapters::http::{kind_of_status, HttpResponse};
use crate::adapters::AdapterError;

/// The longest wait an `X-RateLimit-Reset` is taken at its word for: a
/// window is 10 seconds; a reset further away says the clocks disagree.
const LONGEST_RESET_WAIT: Duration = Duration::from_secs(11);

/// Classifies a non-success answer: its first `{code, message}` names it
/// (`{"type": "error.list", "errors": [...]}`); a 429 waits for
/// `Retry-After`, else until the window's `X-RateLimit-Reset`.
pub(crate) fn classify(response: &HttpResponse) -> AdapterError {
    let first = response
        .body
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|errors| errors.first());
    let text = |key: &str| first.and_then(|e| e.get(key)).and_then(Value::as_str);
    let message = text("message").map_or_else(
        || {
            let raw = response.text.trim();
            if raw.is_empty() || raw.len() > 300 {
                "Intercom API request failed".to_owned()
            } else {
                format!("Intercom API request failed: {raw}")
            }
        },
        str::to_owned,
    );
    let mut error =
        AdapterError::new(kind_of_status(response.status), message).status(response.status);
    if let Some(code) = text("code") {
        error = error.category(code);
    }
    if let Some(id) = response.body.get("request_id").and_then(Value::as_str) {
        error = error.correlation_id(id);
    }
    let delay = response.retry_after().or_else(|| {
        (response.status == 429)
            .then(|| until_reset(response))
            .flatten()
    });
    if let Some(delay) = delay {
        error = error.retry_after(delay);
    }
    if let Some(errors) = response.body.get("errors") {
        error = error.details(errors.clone());
    }
    error
}

/// Time left until `X-RateLimit-Reset` (Unix seconds), when it is ahead
/// of this clock by no more than a window.
fn until_reset(response: &HttpResponse) -> Option<Duration> {
    let reset = response
        .header("x-ratelimit-reset")?
        .trim()
        .parse::<u64>()
        .ok()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    let wait = Duration::from_secs(reset).checked_sub(now)?;
    (wait <= LONGEST_RESET_WAIT).then_some(wait)
}

/// `X-RateLimit-Remaining` of `X-RateLimit-Limit`: requests the app may
/// still send in the current 10-second window (INTERCOM-6).
pub(crate) fn remaining_in_window(response: &HttpResponse) -> Option<(u32, Option<u32>)> {
    let number = |name: &str| {
        response
            .header(name)
            .and_then(|value| value.trim().parse::<u32>().ok())
    };
    Some((
        number("x-ratelimit-remaining")?,
        number("x-ratelimit-limit"),
    ))
}

/// The id of the contact a 409 says already holds the create's
/// `external_id` or email (INTERCOM-4): "A contact matching those details
/// already exists with id=…".
pub(crate) fn existing_id(error: &AdapterError) -> Option<String> {
    if error.get_status() != Some(409) {
        return None;
    }
    let (_, after) = error.message().rsplit_once("id=")?;
    let id: String = after
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .collect();
    super::is_object_id(&id).then_some(id)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;
    use serde_json::json;

    use super::*;
    use crate::adapters::http::test_response;
    use crate::adapters::AdapterErrorKind;

    #[test]
    fn intercom_errors_are_classified_and_a_conflict_names_the_contact() {
        let conflict = classify(&test_response(
            409,
            json!({"type": "error.list", "request_id": "r-1", "errors": [{
                "code": "conflict",
                "message": "A contact matching those details already exists with id=5da6f18e3d7cf967e4582d05"
            }]}),
        ));
        assert_eq!(conflict.kind(), AdapterErrorKind::ValidationFailed);
        assert_eq!(conflict.get_category(), Some("conflict"));
        assert_eq!(conflict.get_correlation_id(), Some("r-1"));
        assert_eq!(
            existing_id(&conflict).as_deref(),
            Some("5da6f18e3d7cf967e4582d05")
        );
        let invalid = classify(&test_response(
            400,
            json!({"type": "error.list", "errors": [{"code": "parameter_invalid", "message": "bad"}]}),
        ));
        assert_eq!(existing_id(&invalid), None);
        let refused = classify(&test_response(
            401,
            json!({"type": "error.list", "errors": [{"code": "unauthorized", "message": "Access Token Invalid"}]}),
        ));
        assert_eq!(refused.kind(), AdapterErrorKind::Unauthorized);
    }

    #[test]
    fn intercom_a_429_waits_for_the_window_reset() {
        let mut limited = test_response(
            429,
            json!({"type": "error.list", "errors": [{"code": "rate_limit_exceeded", "message": "Exceeded rate limit of 167 in 10_seconds"}]}),
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        limited
            .headers
            .insert("x-ratelimit-reset", HeaderValue::from(now + 3));
        limited
            .headers
            .insert("x-ratelimit-remaining", HeaderValue::from(0));
        limited
            .headers
            .insert("x-ratelimit-limit", HeaderValue::from(167));
        let error = classify(&limited);
        assert_eq!(error.kind(), AdapterErrorKind::RateLimited);
        let wait = error.get_retry_after().unwrap();
        assert!(
            wait > Duration::from_secs(1) && wait <= Duration::from_secs(3),
            "{wait:?}"
        );
        assert_eq!(remaining_in_window(&limited), Some((0, Some(167))));
        limited
            .headers
            .insert("x-ratelimit-reset", HeaderValue::from(now + 3_600));
        assert_eq!(
            classify(&limited).get_retry_after(),
            None,
            "a clock far off"
        );
        limited.headers.insert("retry-after", HeaderValue::from(2));
        assert_eq!(
            classify(&limited).get_retry_after(),
            Some(Duration::from_secs(2))
        );
    }
}
