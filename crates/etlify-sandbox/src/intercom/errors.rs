//! Intercom's error answers (INTERCOM-5): `{"type": "error.list",
//! "request_id", "errors": [{"code", "message"}]}`.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A request refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IntercomError {
    /// 401: no token, or one the workspace does not know.
    Unauthorized,
    /// 404: no such contact, company or path.
    NotFound(&'static str),
    /// 400: a value or parameter the API refuses.
    Invalid(String),
    /// 400: an `Intercom-Version` that is no version.
    Version,
    /// 409: a contact holds the create's external id or email already.
    Conflict(String),
    /// 429 beyond a window's requests.
    RateLimited { limit: u64 },
    /// An injected server error.
    Injected {
        status: u16,
        retry_after_secs: Option<u64>,
    },
}

/// Request ids, as Intercom gives each answer one.
static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

impl IntercomError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Invalid(_) | Self::Version => StatusCode::BAD_REQUEST,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Injected { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            }
        }
    }

    fn code_and_message(&self) -> (&'static str, String) {
        match self {
            Self::Unauthorized => ("unauthorized", "Access Token Invalid".to_owned()),
            Self::NotFound(what) => ("not_found", format!("{what} Not Found")),
            Self::Invalid(message) => ("parameter_invalid", message.clone()),
            Self::Version => (
                "intercom_version_invalid",
                "The requested version could not be found".to_owned(),
            ),
            Self::Conflict(id) => (
                "conflict",
                format!("A contact matching those details already exists with id={id}"),
            ),
            Self::RateLimited { limit } => (
                "rate_limit_exceeded",
                format!("Exceeded rate limit of {limit} in 10_seconds"),
            ),
            Self::Injected { .. } => ("server_error", "Server Error".to_owned()),
        }
    }
}

impl IntoResponse for IntercomError {
    fn into_response(self) -> Response {
        let (code, message) = self.code_and_message();
        let request_id = format!("sandbox-{:08}", REQUEST_IDS.fetch_add(1, Ordering::Relaxed));
        let body = json!({
            "type": "error.list",
            "request_id": request_id,
            "errors": [{ "code": code, "message": message }],
        });
        let mut response = (self.status(), Json(body)).into_response();
        if let Self::Injected {
            retry_after_secs: Some(secs),
            ..
        } = self
        {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        response
    }
}
