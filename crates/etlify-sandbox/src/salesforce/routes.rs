//! Salesforce endpoints (SALESFORCE-1..SALESFORCE-4, SALESFORCE-6).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::errors::SalesforceError;
use crate::gate::RequestFacts;
use crate::request_log::Api;
use crate::state::{lock, SharedState};

type SalesforceResult = Result<Response, SalesforceError>;

/// The token endpoint (logged, never faulted) and the data API behind its gate.
pub(crate) fn router(state: &SharedState) -> Router<SharedState> {
    let token = Router::new()
        .route("/services/oauth2/token", post(token))
        .layer(from_fn_with_state(state.clone(), log_only));
    let data = Router::new()
        .route(
            "/services/data/{version}/composite/sobjects/{sobject}/{field}",
            patch(upsert),
        )
        .route(
            "/services/data/{version}/composite/sobjects",
            patch(update).delete(delete),
        )
        .route("/services/data/{version}/sobjects/{sobject}", get(describe))
        .route("/services/data/{version}/limits", get(limits))
        .layer(from_fn_with_state(state.clone(), super::gate::gate));
    token.merge(data)
}

async fn log_only(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let facts = RequestFacts::of(Api::Salesforce, &request);
    let response = next.run(request).await;
    facts.log(&state, &response);
    response
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `POST /services/oauth2/token`, client credentials (SALESFORCE-1).
async fn token(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> SalesforceResult {
    let form: TokenForm =
        serde_urlencoded::from_bytes(&body).map_err(|_| SalesforceError::UnsupportedGrant)?;
    if form.grant_type.as_deref() != Some("client_credentials") {
        return Err(SalesforceError::UnsupportedGrant);
    }
    let config = &state.config.salesforce;
    let accepted = form.client_id.as_deref() == Some(config.client_id.as_str())
        && form.client_secret.as_deref() == Some(config.client_secret.expose());
    if !accepted {
        return Err(SalesforceError::InvalidClient);
    }
    let access_token = lock(&state.salesforce.sessions).issue(Instant::now());
    // The instance is this server, under the name the client reached it by.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let issued_at = chrono::Utc::now().timestamp_millis().to_string();
    Ok(Json(json!({
        "access_token": access_token,
        "instance_url": format!("http://{host}"),
        "id": format!("http://{host}/id/00D5g000000SBOX/0055g000000SBOX"),
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": "c2FuZGJveA==",
    }))
    .into_response())
}

/// `vXX.X` with XX at least 46 (collections upsert), else 404.
fn check_version(version: &str) -> Result<(), SalesforceError> {
    let number = version.strip_prefix('v').unwrap_or_default();
    let (major, minor) = number.split_once('.').unwrap_or_default();
    let valid = major.parse::<u32>().is_ok_and(|m| m >= 46) && minor.parse::<u32>().is_ok();
    if valid {
        Ok(())
    } else {
        Err(SalesforceError::NotFound)
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CollectionBody {
    #[serde(default)]
    all_or_none: bool,
    records: Vec<Value>,
}

/// A request's record and its sObject (`attributes.type`).
type TypedRecord = (String, Map<String, Value>);

/// The body's records as objects, each with its `attributes.type`.
fn records_of(body: &Bytes, max: usize) -> Result<Vec<TypedRecord>, SalesforceError> {
    let body: CollectionBody = serde_json::from_slice(body)
        .map_err(|e| SalesforceError::JsonParser(format!("Cannot read the request: {e}")))?;
    if body.all_or_none {
        // The adapter never asks for it; the sandbox does not roll back.
        return Err(SalesforceError::JsonParser(
            "the sandbox serves allOrNone false only".to_owned(),
        ));
    }
    if body.records.len() > max {
        return Err(SalesforceError::TooManyRecords(max));
    }
    body.records
        .into_iter()
        .map(|record| {
            let Value::Object(record) = record else {
                return Err(SalesforceError::JsonParser(
                    "a record must be an object".to_owned(),
                ));
            };
            let sobject = record
                .get("attributes")
                .and_then(|a| a.get("type"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    SalesforceError::JsonParser("every record needs attributes.type".to_owned())
                })?
                .to_owned();
            Ok((sobject, record))
        })
        .collect()
}

fn ok(results: Vec<Value>) -> Response {
    (StatusCode::OK, Json(Value::Array(results))).into_response()
}

/// `PATCH …/composite/sobjects/{sobject}/{field}` (SALESFORCE-3).
async fn upsert(
    State(state): State<SharedState>,
    Path((version, sobject, field)): Path<(String, String, String)>,
    body: Bytes,
) -> SalesforceResult {
    check_version(&version)?;
    let records = records_of(&body, state.config.salesforce.max_records_per_request)?;
    let mut store = lock(&state.salesforce.store);
    store.sobject(&sobject)?;
    if records.iter().any(|(kind, _)| *kind != sobject) {
        return Err(SalesforceError::JsonParser(format!(
            "every record must be of type {sobject}, the type of the request"
        )));
    }
    let records: Vec<Map<String, Value>> = records.into_iter().map(|(_, r)| r).collect();
    if records
        .iter()
        .any(|r| r.contains_key("Id") || r.contains_key("id"))
    {
        return Err(SalesforceError::JsonParser(
            "an upsert by external id takes no record id".to_owned(),
        ));
    }
    store.check_fields(&sobject, &records)?;
    Ok(ok(store.upsert(&sobject, &field, records)?))
}

/// `PATCH …/composite/sobjects`: update by id (SALESFORCE-4).
async fn update(
    State(state): State<SharedState>,
    Path(version): Path<String>,
    body: Bytes,
) -> SalesforceResult {
    check_version(&version)?;
    let records = records_of(&body, state.config.salesforce.max_records_per_request)?;
    let mut store = lock(&state.salesforce.store);
    for (sobject, record) in &records {
        store.check_fields(sobject, std::slice::from_ref(record))?;
    }
    Ok(ok(store.update(records)))
}

/// `DELETE …/composite/sobjects?ids=…&allOrNone=false` (SALESFORCE-4).
async fn delete(
    State(state): State<SharedState>,
    Path(version): Path<String>,
    RawQuery(query): RawQuery,
) -> SalesforceResult {
    check_version(&version)?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
            .map_err(|e| SalesforceError::JsonParser(format!("Cannot read the query: {e}")))?;
    let ids: Vec<String> = pairs
        .iter()
        .filter(|(name, _)| name == "ids")
        .flat_map(|(_, ids)| ids.split(','))
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect();
    let max = state.config.salesforce.max_records_per_request;
    if ids.is_empty() {
        return Err(SalesforceError::JsonParser("ids is required".to_owned()));
    }
    if ids.len() > max {
        return Err(SalesforceError::TooManyRecords(max));
    }
    Ok(ok(lock(&state.salesforce.store).delete(&ids)))
}

/// `GET …/sobjects/{sobject}`: its basic information.
async fn describe(
    State(state): State<SharedState>,
    Path((version, sobject)): Path<(String, String)>,
) -> SalesforceResult {
    check_version(&version)?;
    let store = lock(&state.salesforce.store);
    let config = store.sobject(&sobject)?;
    Ok(Json(json!({
        "objectDescribe": {
            "name": sobject,
            "keyPrefix": config.key_prefix,
            "createable": true,
            "updateable": true,
            "deletable": true,
        },
        "recentItems": [],
    }))
    .into_response())
}

/// `GET …/limits` (SALESFORCE-6).
async fn limits(State(state): State<SharedState>, Path(version): Path<String>) -> SalesforceResult {
    check_version(&version)?;
    let (used, max) = lock(&state.salesforce.allocation).usage(Instant::now());
    Ok(Json(json!({
        "DailyApiRequests": {"Max": max, "Remaining": max.saturating_sub(used)},
    }))
    .into_response())
}
