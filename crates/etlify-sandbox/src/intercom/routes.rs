//! Intercom endpoints under `/intercom` (INTERCOM-3, INTERCOM-4, INTERCOM-8).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::errors::IntercomError;
use super::store::Filter;
use crate::state::{lock, SharedState};

type IntercomResult = Result<Response, IntercomError>;

/// The API's routes (the gate is layered by the server).
pub(crate) fn router() -> Router<SharedState> {
    Router::new()
        .route("/intercom/me", get(me))
        .route("/intercom/contacts", post(create_contact))
        .route("/intercom/contacts/search", post(search))
        .route(
            "/intercom/contacts/{id}",
            put(update_contact).delete(delete_contact),
        )
        .route("/intercom/contacts/{id}/companies", post(attach))
        .route(
            "/intercom/contacts/{id}/companies/{company}",
            delete(detach),
        )
        .route(
            "/intercom/companies",
            post(upsert_company).get(find_company),
        )
        .route("/intercom/companies/{id}", delete(delete_company))
}

/// A JSON object body, or 400.
fn object(body: &Bytes) -> Result<Map<String, Value>, IntercomError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(IntercomError::Invalid(
            "the body must be a JSON object".to_owned(),
        )),
    }
}

fn ok(body: Value) -> IntercomResult {
    Ok(Json(body).into_response())
}

/// `GET /me`: the token's admin and its workspace.
async fn me() -> IntercomResult {
    ok(json!({
        "type": "admin",
        "id": "1",
        "email": "admin@sandbox.example",
        "name": "Sandbox admin",
        "app": { "type": "app", "id_code": "sandbox", "name": "Etlify sandbox", "region": "US" },
    }))
}

async fn create_contact(State(state): State<SharedState>, body: Bytes) -> IntercomResult {
    let body = object(&body)?;
    ok(lock(&state.intercom.store).create_contact(body, Instant::now())?)
}

async fn update_contact(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    body: Bytes,
) -> IntercomResult {
    let body = object(&body)?;
    ok(lock(&state.intercom.store).update_contact(&id, body)?)
}

async fn delete_contact(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> IntercomResult {
    ok(lock(&state.intercom.store).delete_contact(&id)?)
}

/// `POST /contacts/search`: `{query, pagination: {per_page}}`, one page.
async fn search(State(state): State<SharedState>, body: Bytes) -> IntercomResult {
    let body = object(&body)?;
    let query = body
        .get("query")
        .ok_or_else(|| IntercomError::Invalid("query is required".to_owned()))?;
    let filter = Filter::parse(query, 0)?;
    let per_page = body
        .get("pagination")
        .and_then(|p| p.get("per_page"))
        .and_then(Value::as_u64)
        .unwrap_or(50)
        .clamp(1, 150);
    let found = lock(&state.intercom.store).search(&filter, Instant::now());
    let total = found.len() as u64;
    let page: Vec<Value> = found.into_iter().take(per_page as usize).collect();
    ok(json!({
        "type": "list",
        "data": page,
        "total_count": total,
        "pages": {
            "type": "pages",
            "page": 1,
            "per_page": per_page,
            "total_pages": total.div_ceil(per_page),
        },
    }))
}

async fn attach(
    State(state): State<SharedState>,
    Path(id): Path<String>,
    body: Bytes,
) -> IntercomResult {
    let body = object(&body)?;
    let company = body
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| IntercomError::Invalid("id is required".to_owned()))?;
    ok(lock(&state.intercom.store).attach(&id, company, true)?)
}

async fn detach(
    State(state): State<SharedState>,
    Path((id, company)): Path<(String, String)>,
) -> IntercomResult {
    ok(lock(&state.intercom.store).attach(&id, &company, false)?)
}

async fn upsert_company(State(state): State<SharedState>, body: Bytes) -> IntercomResult {
    let body = object(&body)?;
    ok(lock(&state.intercom.store).upsert_company(body)?)
}

#[derive(Debug, Deserialize)]
struct CompanyQuery {
    company_id: Option<String>,
}

/// `GET /companies?company_id=`: the company holding it.
async fn find_company(
    State(state): State<SharedState>,
    RawQuery(query): RawQuery,
) -> IntercomResult {
    let query: CompanyQuery = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| IntercomError::Invalid(format!("Cannot read the query: {e}")))?;
    let Some(company_id) = query.company_id else {
        return Err(IntercomError::Invalid(
            "the sandbox finds companies by company_id only".to_owned(),
        ));
    };
    ok(lock(&state.intercom.store).find_company(&company_id)?)
}

async fn delete_company(
    State(state): State<SharedState>,
    Path(id): Path<String>,
) -> IntercomResult {
    ok(lock(&state.intercom.store).delete_company(&id)?)
}
