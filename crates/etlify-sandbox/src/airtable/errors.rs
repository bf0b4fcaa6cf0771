//! Airtable error responses (AIRTABLE-6): `{"error":{"type","message"}}`,
//! or the bare `{"error":"NOT_FOUND"}` form.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::config::NotFoundStyle;

/// One Airtable error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AirtableError {
    status: StatusCode,
    /// `error.type`, e.g. `INVALID_RECORDS`.
    pub(crate) kind: &'static str,
    /// `error.message`; absent in the bare and message-less forms.
    pub(crate) message: Option<String>,
    /// Send `{"error":"<kind>"}` instead of the object form.
    bare: bool,
    retry_after_secs: Option<u64>,
}

impl AirtableError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: Some(message.into()),
            bare: false,
            retry_after_secs: None,
        }
    }

    /// 422 with a type and message (most validation failures).
    pub(crate) fn unprocessable(kind: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, kind, message)
    }

    /// 422 INVALID_RECORDS (bad batch shape, too many records).
    pub(crate) fn invalid_records(max: usize) -> Self {
        Self::unprocessable(
            "INVALID_RECORDS",
            format!(
                "You must provide an array of up to {max} record objects, each with an 'id' ID field and a 'fields' object for cell values."
            ),
        )
    }

    /// 422 UNKNOWN_FIELD_NAME.
    pub(crate) fn unknown_field(name: &str) -> Self {
        Self::unprocessable(
            "UNKNOWN_FIELD_NAME",
            format!("Unknown field name: \"{name}\""),
        )
    }

    /// 422 INVALID_VALUE_FOR_COLUMN.
    pub(crate) fn invalid_value(field: &str, value: &Value) -> Self {
        Self::unprocessable(
            "INVALID_VALUE_FOR_COLUMN",
            format!("Field \"{field}\" cannot accept the provided value: {value}"),
        )
    }

    /// 422 ROW_DOES_NOT_EXIST.
    pub(crate) fn row_does_not_exist(id: &str) -> Self {
        Self::unprocessable(
            "ROW_DOES_NOT_EXIST",
            format!("Record ID {id} does not exist in this table"),
        )
    }

    /// 422 INVALID_FILTER_BY_FORMULA.
    pub(crate) fn invalid_formula(detail: impl Into<String>) -> Self {
        Self::unprocessable("INVALID_FILTER_BY_FORMULA", detail)
    }

    /// 422 INVALID_REQUEST_UNKNOWN (parameter validation).
    pub(crate) fn invalid_request(detail: impl Into<String>) -> Self {
        Self::unprocessable("INVALID_REQUEST_UNKNOWN", detail)
    }

    /// 400: the body is not JSON.
    pub(crate) fn invalid_json(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST_BODY",
            format!("Could not parse request body: {detail}"),
        )
    }

    /// 404 for a missing record, in the configured envelope.
    pub(crate) fn record_not_found(style: NotFoundStyle, id: &str) -> Self {
        let error = Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("Could not find record {id}"),
        );
        match style {
            NotFoundStyle::Object => error,
            NotFoundStyle::String => error.bare(),
        }
    }

    /// 404 `{"error":"NOT_FOUND"}` (unknown route).
    pub(crate) fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", "").bare()
    }

    /// 404 TABLE_NOT_FOUND.
    pub(crate) fn table_not_found(base: &str, table: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "TABLE_NOT_FOUND",
            format!("Could not find table {table} in application {base}"),
        )
    }

    /// 403 INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND (unknown base).
    pub(crate) fn base_not_found() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND",
            "Invalid permissions, or the requested model was not found. Check that both your user and your token have the required permissions, and that the model names and/or ids are correct.",
        )
    }

    /// 401 AUTHENTICATION_REQUIRED.
    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_REQUIRED",
            "Authentication required",
        )
    }

    /// 429 RATE_LIMIT_REACHED.
    pub(crate) fn rate_limited(retry_after_secs: Option<u64>) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMIT_REACHED",
            "Rate limit exceeded. Please try again later",
        );
        error.retry_after_secs = retry_after_secs;
        error
    }

    /// An injected 5xx.
    pub(crate) fn injected(status: u16, retry_after_secs: Option<u64>) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let mut error = match status {
            StatusCode::SERVICE_UNAVAILABLE => Self::new(
                status,
                "RETRIABLE_ERROR",
                "Server encountered an error while processing your request, and it is safe to retry the request",
            ),
            StatusCode::BAD_GATEWAY => Self::new(status, "BAD_GATEWAY", "Bad gateway; it is safe to retry the request"),
            _ => Self::new(status, "SERVER_ERROR", "Server error"),
        };
        error.retry_after_secs = retry_after_secs;
        error
    }

    fn bare(mut self) -> Self {
        self.bare = true;
        self
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn body(&self) -> Value {
        if self.bare {
            return json!({ "error": self.kind });
        }
        match &self.message {
            Some(message) if !message.is_empty() => {
                json!({ "error": { "type": self.kind, "message": message } })
            }
            _ => json!({ "error": { "type": self.kind } }),
        }
    }
}

impl IntoResponse for AirtableError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after_secs {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(seconds));
        }
        response
    }
}
