//! Brevo's error answers (BREVO-5): a JSON `{code, message}`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A request refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BrevoError {
    /// 401: no key, or not the account's.
    Unauthorized,
    /// 404: no contact holds the identifier.
    ContactNotFound,
    /// 404: no such endpoint.
    RouteNotFound,
    /// 400: a value or parameter Brevo refuses.
    InvalidParameter(String),
    /// 400: a required parameter is absent.
    MissingParameter(String),
    /// 400: an identifier (email, `ext_id`) another contact holds.
    Duplicate(String),
    /// 429: the endpoint's window is full.
    TooManyRequests,
    /// An injected server error.
    Injected {
        status: u16,
        retry_after_secs: Option<u64>,
    },
}

impl BrevoError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::ContactNotFound | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Injected { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn code_and_message(&self) -> (&'static str, String) {
        match self {
            Self::Unauthorized => ("unauthorized", "Key not found".to_owned()),
            Self::ContactNotFound => ("document_not_found", "Contact does not exist".to_owned()),
            Self::RouteNotFound => ("document_not_found", "Invalid route".to_owned()),
            Self::InvalidParameter(message) => ("invalid_parameter", message.clone()),
            Self::MissingParameter(message) => ("missing_parameter", message.clone()),
            Self::Duplicate(message) => ("duplicate_parameter", message.clone()),
            Self::TooManyRequests => ("too_many_requests", "Too many requests".to_owned()),
            Self::Injected { .. } => (
                "internal_error",
                "the server is unavailable, try again later".to_owned(),
            ),
        }
    }
}

impl IntoResponse for BrevoError {
    fn into_response(self) -> Response {
        let (code, message) = self.code_and_message();
        let mut response = (
            self.status(),
            Json(json!({ "code": code, "message": message })),
        )
            .into_response();
        if let Self::Injected {
            retry_after_secs: Some(secs),
            ..
        } = self
        {
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert("retry-after", value);
            }
        }
        response
    }
}
