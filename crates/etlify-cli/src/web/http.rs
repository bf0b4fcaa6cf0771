//! Reading requests without axum's `query`/`form` features: a query
//! string or a form body decoded by serde_urlencoded, cookies by name.

use axum::http::header::COOKIE;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

/// A query string or an `application/x-www-form-urlencoded` body; `None`
/// when it does not decode into `T`.
pub(super) fn decode<T: DeserializeOwned>(text: &str) -> Option<T> {
    serde_urlencoded::from_str(text).ok()
}

/// `pairs` as a query string, each value percent-encoded.
pub(super) fn encode(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

/// The value of the cookie `name`, if the request carries it.
pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn page_cookies_are_found_by_name_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; etlify_session=abc; b=2"),
        );
        assert_eq!(cookie(&headers, "etlify_session"), Some("abc"));
        assert_eq!(cookie(&headers, "b"), Some("2"));
        assert_eq!(cookie(&headers, "session"), None);
    }

    #[test]
    fn page_query_values_are_percent_encoded() {
        assert_eq!(
            encode(&[("crm", "a&b"), ("model", "<x>")]),
            "crm=a%26b&model=%3Cx%3E"
        );
    }
}
