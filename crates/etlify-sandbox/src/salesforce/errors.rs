//! Salesforce's error answers (SALESFORCE-1, SALESFORCE-5): a JSON array
//! of `{errorCode, message}` for the data API, `{error,
//! error_description}` for the token endpoint.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// A request refused whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SalesforceError {
    /// 404: unknown sObject, version or path.
    NotFound,
    /// 400: a field the sObject does not have.
    InvalidField { field: String, sobject: String },
    /// 400: a body that cannot be read, or a value of the wrong type.
    JsonParser(String),
    /// 400: more records or ids than a request takes.
    TooManyRecords(usize),
    /// 401: a token expired, revoked or never issued.
    InvalidSession,
    /// 403: the daily allocation is spent.
    DailyLimit,
    /// 403: too many requests in flight.
    Concurrent,
    /// An injected server error.
    Injected {
        status: u16,
        retry_after_secs: Option<u64>,
    },
    /// 400 from the token endpoint: credentials refused.
    InvalidClient,
    /// 400 from the token endpoint: another grant type.
    UnsupportedGrant,
}

impl SalesforceError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::InvalidSession => StatusCode::UNAUTHORIZED,
            Self::DailyLimit | Self::Concurrent => StatusCode::FORBIDDEN,
            Self::Injected { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub(crate) fn body(&self) -> Value {
        let (code, message) = match self {
            Self::NotFound => (
                "NOT_FOUND",
                "The requested resource does not exist".to_owned(),
            ),
            Self::InvalidField { field, sobject } => (
                "INVALID_FIELD",
                format!("No such column '{field}' on sobject of type {sobject}"),
            ),
            Self::JsonParser(message) => ("JSON_PARSER_ERROR", message.clone()),
            Self::TooManyRecords(max) => (
                "EXCEEDED_ID_LIMIT",
                format!("record limit reached: a request takes at most {max} records"),
            ),
            Self::InvalidSession => (
                "INVALID_SESSION_ID",
                "Session expired or invalid".to_owned(),
            ),
            Self::DailyLimit => (
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.".to_owned(),
            ),
            Self::Concurrent => (
                "REQUEST_LIMIT_EXCEEDED",
                "ConcurrentPerOrgLongTxn Limit exceeded.".to_owned(),
            ),
            Self::Injected { .. } => (
                "SERVER_UNAVAILABLE",
                "the server is unavailable, try again later".to_owned(),
            ),
            Self::InvalidClient => {
                return json!({"error": "invalid_client", "error_description": "invalid client credentials"})
            }
            Self::UnsupportedGrant => {
                return json!({"error": "unsupported_grant_type", "error_description": "grant type not supported"})
            }
        };
        json!([{ "errorCode": code, "message": message }])
    }
}

impl IntoResponse for SalesforceError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body())).into_response();
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
