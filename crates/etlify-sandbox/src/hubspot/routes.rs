//! HubSpot endpoints (HUBSPOT-3) under each path family (HUBSPOT-1): the
//! configured legacy prefix (`/crm/v3/objects` by default) and the dated
//! `/crm/objects/2026-03` and `/crm/objects/2026-09`, served by the same
//! handlers; each family's write rules travel with its routes
//! (HUBSPOT-11: required properties from 2026-09).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::batch::{
    self, object_json, BatchOutcome, BatchRequest, CreateInput, IdInput, WriteInput, WriteRules,
};
use super::errors::HubSpotError;
use super::search;
use super::store::HubSpotStore;
use crate::state::{lock, SharedState};

type HubSpotResult = Result<Response, HubSpotError>;

/// The dated versions served besides the legacy prefix.
const DATED_VERSIONS: [&str; 2] = ["2026-03", "2026-09"];

/// The first dated version that enforces a portal's required properties.
const REQUIRED_PROPERTIES_FROM: &str = "2026-09";

/// Routes of the objects API under the legacy `prefix` and under each
/// dated family (one prefix served once when they coincide).
pub(crate) fn router(legacy_prefix: &str) -> Router<SharedState> {
    let mut prefixes = vec![legacy_prefix.to_owned()];
    for version in DATED_VERSIONS {
        let dated = format!("/crm/objects/{version}");
        if !prefixes.contains(&dated) {
            prefixes.push(dated);
        }
    }
    prefixes
        .iter()
        .fold(Router::new(), |router, prefix| {
            router.merge(family(prefix).layer(Extension(rules_of(prefix))))
        })
        .merge(super::associations::router())
}

/// The write rules of a path family: a dated prefix
/// (`/crm/objects/YYYY-MM`) from 2026-09 on enforces required properties.
fn rules_of(prefix: &str) -> WriteRules {
    let version = prefix.rsplit('/').next().unwrap_or_default();
    let dated = version.len() == 7
        && version
            .chars()
            .enumerate()
            .all(|(i, c)| if i == 4 { c == '-' } else { c.is_ascii_digit() });
    WriteRules {
        required_properties: dated && version >= REQUIRED_PROPERTIES_FROM,
    }
}

/// The endpoints of one path family.
fn family(prefix: &str) -> Router<SharedState> {
    Router::new()
        .route(&format!("{prefix}/{{objectType}}"), get(list).post(create))
        .route(
            &format!("{prefix}/{{objectType}}/{{objectId}}"),
            get(read).patch(update).delete(archive),
        )
        .route(
            &format!("{prefix}/{{objectType}}/search"),
            post(search_objects),
        )
        .route(
            &format!("{prefix}/{{objectType}}/batch/create"),
            post(batch_create),
        )
        .route(
            &format!("{prefix}/{{objectType}}/batch/read"),
            post(batch_read),
        )
        .route(
            &format!("{prefix}/{{objectType}}/batch/update"),
            post(batch_update),
        )
        .route(
            &format!("{prefix}/{{objectType}}/batch/upsert"),
            post(batch_upsert),
        )
        .route(
            &format!("{prefix}/{{objectType}}/batch/archive"),
            post(batch_archive),
        )
}

/// Query parameters the object endpoints understand.
#[derive(Debug, Default)]
struct ObjectQuery {
    id_property: Option<String>,
    properties: Option<Vec<String>>,
    archived: bool,
    limit: Option<String>,
    after: Option<String>,
}

impl ObjectQuery {
    /// Parses `?idProperty=&properties=a,b&properties=c&archived=true&limit=&after=`.
    fn parse(raw: Option<String>) -> Result<Self, HubSpotError> {
        let pairs: Vec<(String, String)> = match raw.as_deref() {
            None | Some("") => Vec::new(),
            Some(raw) => serde_urlencoded::from_str(raw)
                .map_err(|e| HubSpotError::Validation(format!("Invalid query string: {e}")))?,
        };
        let mut query = Self::default();
        for (key, value) in pairs {
            match key.as_str() {
                "idProperty" => query.id_property = Some(value).filter(|v| !v.is_empty()),
                "properties" => query.properties.get_or_insert_with(Vec::new).extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned),
                ),
                "archived" => query.archived = value == "true",
                "limit" => query.limit = Some(value),
                "after" => query.after = Some(value),
                _ => {}
            }
        }
        Ok(query)
    }
}

fn parse_json<T: DeserializeOwned>(body: &Bytes) -> Result<T, HubSpotError> {
    serde_json::from_slice(body).map_err(|e| HubSpotError::InvalidJson(e.to_string()))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// 200/201 without errors, 207 with errors.
fn batch_response(outcome: &BatchOutcome, success: StatusCode) -> Response {
    let status = if outcome.errors.is_empty() {
        success
    } else {
        StatusCode::MULTI_STATUS
    };
    json_response(status, outcome.body())
}

fn resolve(store: &HubSpotStore, object_type: &str) -> Result<String, HubSpotError> {
    store.resolve(object_type)
}

async fn list(
    State(state): State<SharedState>,
    Path(object_type): Path<String>,
    RawQuery(raw): RawQuery,
) -> HubSpotResult {
    let query = ObjectQuery::parse(raw)?;
    let limit = match query.limit.as_deref() {
        None => 10,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                HubSpotError::Validation(format!("limit must be between 1 and 100, got {text}"))
            })?,
    };
    let after = match query.after.as_deref() {
        None | Some("") => 0,
        Some(text) => text.parse::<u64>().map_err(|_| {
            HubSpotError::Validation("after must be formatted as an integer string".to_owned())
        })?,
    };
    let store = lock(&state.hubspot);
    let name = resolve(&store, &object_type)?;
    let type_state = store.type_state(&name)?;
    let mut page: Vec<(&u64, _)> = type_state
        .objects
        .range(after..)
        .filter(|(_, o)| o.archived == query.archived)
        .take(limit + 1)
        .collect();
    let next = (page.len() > limit).then(|| page.pop()).flatten();
    let results: Vec<Value> = page
        .iter()
        .map(|(_, o)| object_json(o, query.properties.as_deref(), type_state))
        .collect();
    let mut body = json!({ "results": results });
    if let Some((next_id, _)) = next {
        body["paging"] = json!({ "next": { "after": next_id.to_string() } });
    }
    Ok(json_response(StatusCode::OK, body))
}

#[derive(Debug, Deserialize)]
struct SingleWrite {
    #[serde(default)]
    properties: Map<String, Value>,
}

async fn create(
    State(state): State<SharedState>,
    Extension(rules): Extension<WriteRules>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> HubSpotResult {
    let input: SingleWrite = parse_json(&body)?;
    let mut store = lock(&state.hubspot);
    let name = resolve(&store, &object_type)?;
    let inputs = vec![CreateInput {
        properties: input.properties,
        object_write_trace_id: None,
    }];
    let outcome = batch::create(&mut store, &name, inputs, rules, Instant::now())?;
    let created = outcome.results.into_iter().next().unwrap_or(Value::Null);
    Ok(json_response(StatusCode::CREATED, created))
}

async fn read(
    State(state): State<SharedState>,
    Path((object_type, object_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> HubSpotResult {
    let query = ObjectQuery::parse(raw)?;
    let store = lock(&state.hubspot);
    let name = resolve(&store, &object_type)?;
    let object = store
        .lookup(&name, &object_id, query.id_property.as_deref())?
        .and_then(|id| store.get(&name, id))
        .filter(|o| o.archived == query.archived)
        .ok_or(HubSpotError::NotFound)?;
    let body = object_json(
        object,
        query.properties.as_deref(),
        store.type_state(&name)?,
    );
    Ok(json_response(StatusCode::OK, body))
}

async fn update(
    State(state): State<SharedState>,
    Extension(rules): Extension<WriteRules>,
    Path((object_type, object_id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> HubSpotResult {
    let query = ObjectQuery::parse(raw)?;
    let input: SingleWrite = parse_json(&body)?;
    let mut store = lock(&state.hubspot);
    let name = resolve(&store, &object_type)?;
    let inputs = vec![WriteInput {
        id: Value::String(object_id),
        id_property: query.id_property,
        properties: input.properties,
        object_write_trace_id: None,
    }];
    let outcome = batch::update(&mut store, &name, inputs, rules, Instant::now())?;
    let updated = outcome
        .results
        .into_iter()
        .next()
        .ok_or(HubSpotError::NotFound)?;
    Ok(json_response(StatusCode::OK, updated))
}

async fn archive(
    State(state): State<SharedState>,
    Path((object_type, object_id)): Path<(String, String)>,
) -> HubSpotResult {
    let mut store = lock(&state.hubspot);
    let name = resolve(&store, &object_type)?;
    let id = store
        .lookup(&name, &object_id, None)?
        .ok_or(HubSpotError::NotFound)?;
    if store.archive(&name, id, Instant::now())? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(HubSpotError::NotFound)
    }
}

async fn search_objects(
    State(state): State<SharedState>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> HubSpotResult {
    let limits = lock(&state.hubspot_search).clone();
    let request = search::parse_request(&body, &limits)?;
    let mut store = lock(&state.hubspot);
    let name = resolve(&store, &object_type)?;
    store.type_state_mut(&name)?.promote_indexed(Instant::now());
    let type_state = store.type_state(&name)?;
    let visible = type_state.searchable();
    let page = search::run(&request, type_state, &visible, &limits)?;
    let results: Vec<Value> = page
        .ids
        .iter()
        .filter_map(|id| {
            let position = visible.binary_search_by_key(id, |(v, _)| *v).ok()?;
            let (_, indexed) = visible.get(position)?;
            let object = type_state.objects.get(id)?;
            // Search answers with the indexed (possibly stale) version.
            let mut shown = object.clone();
            shown.properties = (*indexed).clone();
            Some(object_json(
                &shown,
                request.properties.as_deref(),
                type_state,
            ))
        })
        .collect();
    let mut body = json!({ "total": page.total, "results": results });
    if let Some(after) = page.next_after {
        body["paging"] = json!({ "next": { "after": after } });
    }
    Ok(json_response(StatusCode::OK, body))
}

async fn batch_create(
    State(state): State<SharedState>,
    Extension(rules): Extension<WriteRules>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> HubSpotResult {
    let request: BatchRequest<CreateInput> = parse_json(&body)?;
    batch::check_size(request.inputs.len(), state.config.hubspot.max_batch_inputs)?;
    let mut store = lock(&state.hubspot);
    let name = resolve(&store, &object_type)?;
    let outcome = batch::create(&mut store, &name, request.inputs, rules, Instant::now())?;
    Ok(batch_response(&outcome, StatusCode::CREATED))
}

async fn batch_read(
    State(state): State<SharedState>,
    Path(object_type): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> HubSpotResult {
    let query = ObjectQuery::parse(raw)?;
    let request: BatchRequest<IdInput> = parse_json(&body)?;
    batch::check_size(request.inputs.len(), state.config.hubspot.max_batch_inputs)?;
    let store = lock(&state.hubspot);
    let name = resolve(&store, &object_type)?;
    let outcome = batch::read(&store, &name, &request, query.archived)?;
    Ok(batch_response(&outcome, StatusCode::OK))
}

async fn batch_update(
    State(state): State<SharedState>,
    Extension(rules): Extension<WriteRules>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> HubSpotResult {
    let request: BatchRequest<WriteInput> = parse_json(&body)?;
    batch::check_size(request.inputs.len(), state.config.hubspot.max_batch_inputs)?;
    let mut store = lock(&state.hubspot);
    let name = resolve(&store, &object_type)?;
    let outcome = batch::update(&mut store, &name, request.inputs, rules, Instant::now())?;
    Ok(batch_response(&outcome, StatusCode::OK))
}

async fn batch_upsert(
    State(state): State<SharedState>,
    Extension(rules): Extension<WriteRules>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> HubSpotResult {
    let request: BatchRequest<WriteInput> = parse_json(&body)?;
    batch::check_size(request.inputs.len(), state.config.hubspot.max_batch_inputs)?;
    let mut store = lock(&state.hubspot);
    let name = resolve(&store, &object_type)?;
    let outcome = batch::upsert(&mut store, &name, request.inputs, rules, Instant::now())?;
    Ok(batch_response(&outcome, StatusCode::OK))
}

async fn batch_archive(
    State(state): State<SharedState>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> HubSpotResult {
    let request: BatchRequest<IdInput> = parse_json(&body)?;
    batch::check_size(request.inputs.len(), state.config.hubspot.max_batch_inputs)?;
    let mut store = lock(&state.hubspot);
    let name = resolve(&store, &object_type)?;
    batch::archive(&mut store, &name, &request.inputs, Instant::now())?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
