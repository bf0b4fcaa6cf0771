//! Brevo error answers → classified errors (BREVO-3, BREVO-5; the kinds
//! of docs/ADAPTERS.md, "Errors"): a JSON `{code, message}`, the status
//! saying the kind, the rate-limit window's reset saying how long a 429
//! waits.

use std::time::Duration;

use serde_json::Value;

use crate::adapters::http::{kind_of_status, HttpResponse};
use crate::adapters::AdapterError;

/// Seconds until the endpoint's rate-limit window resets
/// (`x-sib-ratelimit-reset`), when the answer says.
pub(super) fn reset_after(response: &HttpResponse) -> Option<Duration> {
    let seconds = response
        .header("x-sib-ratelimit-reset")?
        .trim()
        .parse::<f64>()
        .ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// `x-sib-ratelimit-remaining` of `x-sib-ratelimit-limit`: requests the
/// endpoint still takes in its window (BREVO-3).
pub(super) fn remaining_in_window(response: &HttpResponse) -> Option<(u32, Option<u32>)> {
    let number = |name: &str| {
        response
            .header(name)
            .and_then(|value| value.trim().parse::<u32>().ok())
    };
    Some((
        number("x-sib-ratelimit-remaining")?,
        number("x-sib-ratelimit-limit"),
    ))
}

/// Classifies a non-success Brevo answer.
pub(crate) fn classify(response: &HttpResponse) -> AdapterError {
    let text = |key: &str| {
        response
            .body
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let code = text("code");
    let message = match (text("message"), &code) {
        (Some(message), Some(code)) => format!("Brevo: {message} ({code})"),
        (Some(message), None) => format!("Brevo: {message}"),
        (None, _) => {
            let raw = response.text.trim();
            if raw.is_empty() || raw.len() > 300 {
                "Brevo API request failed".to_owned()
            } else {
                format!("Brevo API request failed: {raw}")
            }
        }
    };
    let mut error =
        AdapterError::new(kind_of_status(response.status), message).status(response.status);
    // Brevo sends no Retry-After: its window's reset says when to retry.
    error.retry_after = response.retry_after().or_else(|| match response.status {
        429 => reset_after(response),
        _ => None,
    });
    if let Some(code) = code {
        error = error.category(code);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::http::test_response as response;
    use crate::adapters::AdapterErrorKind;
    use reqwest::header::HeaderValue;
    use serde_json::json;

    #[test]
    fn brevo_errors_keep_code_and_wait_for_the_window_reset() {
        let duplicate = classify(&response(
            400,
            json!({"code": "duplicate_parameter", "message": "Contact already exist"}),
        ));
        assert_eq!(duplicate.kind(), AdapterErrorKind::ValidationFailed);
        assert_eq!(
            duplicate.message,
            "Brevo: Contact already exist (duplicate_parameter)"
        );

        let mut throttled = response(
            429,
            json!({"code": "too_many_requests", "message": "Too many requests"}),
        );
        throttled
            .headers
            .insert("x-sib-ratelimit-reset", HeaderValue::from_static("2"));
        throttled
            .headers
            .insert("x-sib-ratelimit-remaining", HeaderValue::from_static("0"));
        throttled
            .headers
            .insert("x-sib-ratelimit-limit", HeaderValue::from_static("10"));
        let error = classify(&throttled);
        assert_eq!(
            (error.kind(), error.retry_after),
            (AdapterErrorKind::RateLimited, Some(Duration::from_secs(2)))
        );
        assert_eq!(remaining_in_window(&throttled), Some((0, Some(10))));

        let refused = classify(&response(
            401,
            json!({"code": "unauthorized", "message": "Key not found"}),
        ));
        assert_eq!(refused.kind(), AdapterErrorKind::Unauthorized);
        let bare = classify(&response(502, Value::Null));
        assert_eq!(
            (bare.kind(), bare.message.as_str()),
            (AdapterErrorKind::Transient, "Brevo API request failed")
        );
    }
}
