//! Brevo endpoints (BREVO-1..BREVO-5) behind their gate: latency, the
//! `api-key` (401), the endpoint's window (429, its headers on every
//! answer), an injected fault, then the handler; every request logged.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::errors::BrevoError;
use super::store::{ContactWrite, IdentifierType, Written};
use super::{Admission, Bucket};
use crate::gate::{arrival, ceil_secs, serve_or_fault, RequestFacts};
use crate::request_log::{Api, WindowShape};
use crate::state::{lock, AppState, SharedState};

type BrevoResult = Result<Response, BrevoError>;

pub(crate) fn router(state: &SharedState) -> Router<SharedState> {
    Router::new()
        .route("/v3/contacts", post(create))
        .route(
            "/v3/contacts/{identifier}",
            get(read).put(update).delete(delete),
        )
        .route("/v3/account", get(account))
        .layer(from_fn_with_state(state.clone(), gate))
}

async fn gate(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let facts = RequestFacts::of(Api::Brevo, &request);
    let response = serve(&state, request, next).await;
    facts.log(&state, &response);
    response
}

async fn serve(state: &AppState, request: Request, next: Next) -> Response {
    let side = &state.brevo;
    let latency = {
        let mut random = lock(&state.random);
        lock(&side.faults).latency(&mut random)
    };
    let arrived = arrival(latency).await;
    let key = request
        .headers()
        .get("api-key")
        .and_then(|value| value.to_str().ok());
    if key != Some(state.config.brevo.api_key.expose()) {
        return BrevoError::Unauthorized.into_response();
    }
    let bucket = Bucket::of_path(request.uri().path());
    let now = arrived;
    let (admission, headers) = {
        let mut limiter = lock(&side.limiter);
        let window = limiter.window(bucket);
        lock(&state.log).observe_window(
            bucket.policy(),
            "account",
            WindowShape::Rolling(window),
            now,
        );
        (limiter.admit(bucket, now), limiter.limits().headers)
    };
    let mut response = if admission.admitted {
        serve_or_fault(state, &side.faults, request, next, |status, retry| {
            BrevoError::Injected {
                status,
                retry_after_secs: retry,
            }
            .into_response()
        })
        .await
    } else {
        BrevoError::TooManyRequests.into_response()
    };
    if headers {
        rate_limit_headers(&mut response, admission);
    }
    response
}

/// `x-sib-ratelimit-limit`, `-remaining` and `-reset` (whole seconds
/// until a request is admitted again, at least 1) (BREVO-3).
fn rate_limit_headers(response: &mut Response, admission: Admission) {
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-sib-ratelimit-limit", admission.limit),
        ("x-sib-ratelimit-remaining", admission.remaining),
        ("x-sib-ratelimit-reset", ceil_secs(admission.reset)),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}

/// A write's body as the store takes it; `Err` names what is wrong.
fn write_of(body: &Map<String, Value>) -> Result<ContactWrite, BrevoError> {
    let text = |key: &str| -> Result<Option<String>, BrevoError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(BrevoError::InvalidParameter(format!(
                "{key} must be a string"
            ))),
        }
    };
    let lists = |key: &str| -> Result<Vec<u64>, BrevoError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(ids)) => ids
                .iter()
                .map(|id| {
                    id.as_u64().ok_or_else(|| {
                        BrevoError::InvalidParameter(format!("{key} must hold list ids"))
                    })
                })
                .collect(),
            Some(_) => Err(BrevoError::InvalidParameter(format!(
                "{key} must be an array"
            ))),
        }
    };
    let attributes = match body.get("attributes") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(attributes)) => attributes.clone(),
        Some(_) => {
            return Err(BrevoError::InvalidParameter(
                "attributes must be an object".to_owned(),
            ))
        }
    };
    if let Some((name, _)) = attributes.iter().find(|(_, value)| value.is_object()) {
        return Err(BrevoError::InvalidParameter(format!(
            "Attribute {name} cannot hold an object"
        )));
    }
    Ok(ContactWrite {
        email: text("email")?,
        ext_id: text("ext_id")?,
        attributes,
        list_ids: lists("listIds")?,
        unlink_list_ids: lists("unlinkListIds")?,
    })
}

fn body_object(body: &Bytes) -> Result<Map<String, Value>, BrevoError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(body)) => Ok(body),
        _ => Err(BrevoError::InvalidParameter(
            "the body must be a JSON object".to_owned(),
        )),
    }
}

/// `POST /v3/contacts`: 201 with the new id, or 204 when `updateEnabled`
/// updated an existing contact (BREVO-2).
async fn create(State(state): State<SharedState>, body: Bytes) -> BrevoResult {
    let body = body_object(&body)?;
    if body.contains_key("unlinkListIds") {
        return Err(BrevoError::InvalidParameter(
            "unlinkListIds is not a parameter of a create".to_owned(),
        ));
    }
    let update_enabled = body
        .get("updateEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let write = write_of(&body)?;
    match lock(&state.brevo.store).create(write, update_enabled)? {
        Written::Created(id) => {
            Ok((StatusCode::CREATED, Json(json!({ "id": id }))).into_response())
        }
        Written::Updated => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentifierQuery {
    identifier_type: Option<String>,
}

/// How `identifier` is to be read, by the query's `identifierType`.
fn kind_of(query: Option<&str>, identifier: &str) -> Result<IdentifierType, BrevoError> {
    let query: IdentifierQuery = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| BrevoError::InvalidParameter(format!("Cannot read the query: {e}")))?;
    IdentifierType::of(query.identifier_type.as_deref(), identifier)
}

/// `GET /v3/contacts/{identifier}`.
async fn read(
    State(state): State<SharedState>,
    Path(identifier): Path<String>,
    RawQuery(query): RawQuery,
) -> BrevoResult {
    let kind = kind_of(query.as_deref(), &identifier)?;
    let contact = lock(&state.brevo.store).get(&identifier, kind)?;
    Ok(Json(contact).into_response())
}

/// `PUT /v3/contacts/{identifier}`: 204.
async fn update(
    State(state): State<SharedState>,
    Path(identifier): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> BrevoResult {
    let kind = kind_of(query.as_deref(), &identifier)?;
    let write = write_of(&body_object(&body)?)?;
    if write.email.is_some() {
        return Err(BrevoError::InvalidParameter(
            "an update changes the email through attributes.EMAIL".to_owned(),
        ));
    }
    lock(&state.brevo.store).update(&identifier, kind, write)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v3/contacts/{identifier}`: 204.
async fn delete(
    State(state): State<SharedState>,
    Path(identifier): Path<String>,
    RawQuery(query): RawQuery,
) -> BrevoResult {
    let kind = kind_of(query.as_deref(), &identifier)?;
    lock(&state.brevo.store).delete(&identifier, kind)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v3/account`: the account the key belongs to.
async fn account() -> BrevoResult {
    Ok(Json(json!({
        "email": "sandbox@example.com",
        "firstName": "Sandbox",
        "lastName": "Account",
        "companyName": "Etlify sandbox",
        "plan": [{"type": "free", "credits": 300, "creditsType": "sendLimit"}],
    }))
    .into_response())
}
