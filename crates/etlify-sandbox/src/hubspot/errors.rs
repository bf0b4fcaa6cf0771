//! HubSpot error responses (HUBSPOT-7): `{status:"error", message,
//! correlationId, category, errors?, context?}` with the documented status.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// One invalid property value, as listed in "Property values were not valid".
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PropertyProblem {
    /// Property name.
    pub(crate) name: String,
    /// HubSpot error code, e.g. `PROPERTY_DOESNT_EXIST`, `INVALID_EMAIL`.
    pub(crate) code: &'static str,
    /// Human message, e.g. `Property "x" does not exist`.
    pub(crate) message: String,
}

impl PropertyProblem {
    /// A property the portal requires and the write leaves empty (the
    /// code is an assumption, docs/CRM-APIS.md HUBSPOT-11).
    pub(crate) fn required(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            code: "MISSING_REQUIRED_PROPERTY",
            message: format!("Property \"{name}\" is required"),
        }
    }

    pub(crate) fn doesnt_exist(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            code: "PROPERTY_DOESNT_EXIST",
            message: format!("Property \"{name}\" does not exist"),
        }
    }
}

/// Details of a write that would take a unique value another object owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UniqueValueTaken {
    pub(crate) portal_id: u64,
    pub(crate) legacy_type: String,
    pub(crate) property: String,
    pub(crate) value: String,
    pub(crate) target_id: String,
    pub(crate) owner_id: String,
}

/// Every error the HubSpot side answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HubSpotError {
    /// 400: some property values are invalid (unknown property, bad email, bad option…).
    InvalidProperties(Vec<PropertyProblem>),
    /// 400 VALIDATION_ERROR with a free message (limits, malformed input).
    Validation(String),
    /// 400: the body is not the JSON expected.
    InvalidJson(String),
    /// 400: the same id appears twice in one batch.
    DuplicateIds(Vec<String>),
    /// 400: `idProperty` is not a unique property.
    NonUniqueIdProperty {
        type_id: String,
        property: String,
        portal_id: u64,
    },
    /// 400: the object type is unknown.
    UnknownObjectType(String),
    /// 409: a create would duplicate a unique value.
    Conflict {
        singular: String,
        existing_id: String,
    },
    /// 400: an update would set a unique value another object owns.
    UniqueValueTaken(Box<UniqueValueTaken>),
    /// 404: no such object.
    NotFound,
    /// 401: token missing or not accepted.
    Unauthorized { missing: bool },
    /// 429: a rate limit was hit.
    RateLimited {
        policy_name: &'static str,
        message: &'static str,
        retry_after_secs: Option<u64>,
    },
    /// An injected fault (423, 477, 5xx).
    Injected {
        status: u16,
        retry_after_secs: Option<u64>,
    },
}

static CORRELATION_COUNTER: AtomicU64 = AtomicU64::new(1);

/// A fresh correlation id in UUID layout (unique within the process).
pub(crate) fn correlation_id() -> String {
    let n = CORRELATION_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "5a7d0b1e-{:04x}-4{:03x}-8000-{:012x}",
        (n >> 48) & 0xffff,
        (n >> 36) & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

impl HubSpotError {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::InvalidProperties(_)
            | Self::Validation(_)
            | Self::InvalidJson(_)
            | Self::DuplicateIds(_)
            | Self::NonUniqueIdProperty { .. }
            | Self::UnknownObjectType(_)
            | Self::UniqueValueTaken(_) => StatusCode::BAD_REQUEST,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Injected { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            }
        }
    }

    /// Category of the error, as HubSpot spells it.
    pub(crate) fn category(&self) -> &'static str {
        match self {
            Self::Conflict { .. } => "CONFLICT",
            Self::NotFound => "OBJECT_NOT_FOUND",
            Self::Unauthorized { .. } => "INVALID_AUTHENTICATION",
            Self::RateLimited { .. } => "RATE_LIMITS",
            Self::Injected { status: 423, .. } => "LOCKED",
            Self::Injected { .. } => "SERVICE_UNAVAILABLE",
            _ => "VALIDATION_ERROR",
        }
    }

    /// The `message` field.
    pub(crate) fn message(&self) -> String {
        match self {
            Self::InvalidProperties(problems) => property_problems_message(problems),
            Self::Validation(message) => message.clone(),
            Self::InvalidJson(detail) => format!("Invalid input JSON: {detail}"),
            Self::DuplicateIds(ids) => format!(
                "Duplicate IDs found in batch input: [{}]. IDs must be unique",
                ids.join(", ")
            ),
            Self::NonUniqueIdProperty { type_id, property, portal_id } => format!(
                "Unable to perform update/upsert by non-unique {type_id} property {property} in portal ID {portal_id}"
            ),
            Self::UnknownObjectType(name) => format!("Unable to infer object type from: {name}"),
            Self::Conflict { singular, existing_id } => {
                format!("{singular} already exists. Existing ID: {existing_id}")
            }
            Self::UniqueValueTaken(taken) => format!(
                "Cannot set PropertyValueCoordinates{{portalId={}, objectTypeId=ObjectTypeId{{legacyObjectType={}}}, propertyName={}, value={}}} on {}. {} already has that value.",
                taken.portal_id, taken.legacy_type, taken.property, taken.value, taken.target_id, taken.owner_id
            ),
            Self::NotFound => "resource not found".to_owned(),
            Self::Unauthorized { missing: true } => "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview".to_owned(),
            Self::Unauthorized { missing: false } => "The access token provided is not valid. Check that it is spelled correctly and has not been revoked.".to_owned(),
            Self::RateLimited { message, .. } => (*message).to_owned(),
            Self::Injected { status: 423, .. } => "The resource is locked: too many concurrent writes to the same records. Retry after 2 seconds.".to_owned(),
            Self::Injected { status: 477, .. } => "Migration in progress.".to_owned(),
            Self::Injected { status, .. } => format!("Injected sandbox fault: HTTP {status}"),
        }
    }

    /// The JSON body (also used inside 207 `errors[]`, with the `context` of the caller).
    pub(crate) fn body(&self) -> Value {
        let correlation = correlation_id();
        if let Self::RateLimited {
            policy_name,
            message,
            ..
        } = self
        {
            return json!({
                "status": "error",
                "message": message,
                "errorType": "RATE_LIMIT",
                "correlationId": correlation,
                "policyName": policy_name,
                "requestId": correlation_id(),
            });
        }
        let mut body = json!({
            "status": "error",
            "message": self.message(),
            "correlationId": correlation,
            "category": self.category(),
        });
        match self {
            Self::InvalidProperties(problems) => {
                body["errors"] = Value::Array(
                    problems
                        .iter()
                        .map(|p| {
                            json!({
                                "message": p.message,
                                "code": p.code,
                                "context": {"propertyName": [p.name]},
                            })
                        })
                        .collect(),
                );
            }
            Self::DuplicateIds(ids) => body["context"] = json!({ "ids": ids }),
            _ => {}
        }
        body
    }

    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited {
                retry_after_secs, ..
            }
            | Self::Injected {
                retry_after_secs, ..
            } => *retry_after_secs,
            _ => None,
        }
    }
}

/// `Property values were not valid: [{"isValid":false,…}]` with the list as JSON text.
fn property_problems_message(problems: &[PropertyProblem]) -> String {
    let list: Vec<Value> = problems
        .iter()
        .map(|p| {
            json!({
                "isValid": false,
                "message": p.message,
                "error": p.code,
                "name": p.name,
            })
        })
        .collect();
    format!("Property values were not valid: {}", Value::Array(list))
}

impl IntoResponse for HubSpotError {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after_secs();
        let mut response = (self.status(), Json(self.body())).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(seconds));
        }
        response
    }
}
