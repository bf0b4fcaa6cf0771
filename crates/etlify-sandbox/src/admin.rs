//! Inspection and control of a running sandbox, in process ([`SandboxAdmin`])
//! and over HTTP under `/_sandbox/…` (same operations). Admin requests are
//! neither authenticated, rate-limited, faulted nor logged.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::airtable::store::AirtableRecord;
use crate::config::{AirtableRateLimits, FaultConfig, HubSpotRateLimits, SearchConfig};
use crate::error::SandboxError;
use crate::hubspot::associations::HubSpotAssociation;
use crate::hubspot::batch::{self, CreateInput};
use crate::hubspot::store::HubSpotObject;
use crate::persist;
use crate::ratelimit::{AirtableLimiter, HubSpotLimiter};
use crate::request_log::RequestLogSnapshot;
use crate::state::{lock, SharedState, AIRTABLE_DEFAULT_FAULT_STATUSES};
use crate::webhook::config::WebhookRateLimits;
use crate::webhook::routes::WebhookLimiter;
use crate::webhook::store::{WebhookEvent, WebhookObject};

/// What [`SandboxAdmin::reset`] forgets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ResetScope {
    /// Stored objects and records (and rate-limit buckets).
    State,
    /// The request log.
    Log,
    /// Both.
    #[default]
    All,
}

/// Which API a fault setting applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetApi {
    /// HubSpot.
    Hubspot,
    /// Airtable.
    Airtable,
    /// The webhook receiver.
    Webhook,
}

/// Fault settings of both APIs (`GET`/`PUT /_sandbox/faults`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultSettings {
    /// HubSpot faults (unchanged when absent in a PUT).
    pub hubspot: Option<FaultConfig>,
    /// Airtable faults (unchanged when absent in a PUT).
    pub airtable: Option<FaultConfig>,
    /// Webhook receiver faults (unchanged when absent in a PUT).
    pub webhook: Option<FaultConfig>,
}

/// Limit settings (`GET`/`PUT /_sandbox/limits`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// HubSpot rate limits (buckets restart empty when changed).
    pub hubspot: Option<HubSpotRateLimits>,
    /// HubSpot search limits and indexing lag.
    pub hubspot_search: Option<SearchConfig>,
    /// Airtable rate limits (buckets restart empty when changed).
    pub airtable: Option<AirtableRateLimits>,
    /// The webhook receiver's rate limit (its window restarts empty).
    pub webhook: Option<WebhookRateLimits>,
}

/// In-process handle on a running sandbox's state; cheap to clone.
#[derive(Debug, Clone)]
pub struct SandboxAdmin {
    state: SharedState,
}

impl SandboxAdmin {
    pub(crate) fn new(state: SharedState) -> Self {
        Self { state }
    }

    /// The shared state, for the admin methods of each API's module.
    pub(crate) fn state(&self) -> &SharedState {
        &self.state
    }

    /// A copy of the request log (counts per endpoint, peaks per window, recent requests).
    pub fn request_log(&self) -> RequestLogSnapshot {
        lock(&self.state.log).snapshot()
    }

    /// All objects of a HubSpot object type (name or type id), archived included;
    /// `None` for an unknown type.
    pub fn hubspot_objects(&self, object_type: &str) -> Option<Vec<HubSpotObject>> {
        lock(&self.state.hubspot).dump(object_type).ok()
    }

    /// Every HubSpot association between objects, in order.
    pub fn hubspot_associations(&self) -> Vec<HubSpotAssociation> {
        lock(&self.state.hubspot)
            .associations
            .iter()
            .cloned()
            .collect()
    }

    /// Creates a HubSpot object directly (validated like `POST …/{objectType}`).
    pub fn hubspot_insert(
        &self,
        object_type: &str,
        properties: Map<String, Value>,
    ) -> Result<HubSpotObject, SandboxError> {
        let mut store = lock(&self.state.hubspot);
        let rejected = |e: crate::hubspot::errors::HubSpotError| {
            SandboxError::rejected(e.status().as_u16(), e.body())
        };
        let name = store.resolve(object_type).map_err(rejected)?;
        let input = CreateInput {
            properties,
            object_write_trace_id: None,
        };
        // Seeding is no API write: no version's rules apply.
        let rules = batch::WriteRules::default();
        batch::create(&mut store, &name, vec![input], rules, Instant::now()).map_err(rejected)?;
        let created = store.peek_next_id().saturating_sub(1);
        store.get(&name, created).cloned().ok_or_else(|| {
            SandboxError::rejected(500, json!({"message": "created object not found"}))
        })
    }

    /// All records of an Airtable table; `None` when the base or table does not exist.
    pub fn airtable_records(&self, base_id: &str, table: &str) -> Option<Vec<AirtableRecord>> {
        lock(&self.state.airtable).dump(base_id, table)
    }

    /// Creates an Airtable record directly (validated like `POST /v0/{base}/{table}`).
    pub fn airtable_insert(
        &self,
        base_id: &str,
        table: &str,
        fields: Map<String, Value>,
    ) -> Result<AirtableRecord, SandboxError> {
        let mut store = lock(&self.state.airtable);
        let created = store
            .create(base_id, table, vec![fields], false)
            .map_err(|e| SandboxError::rejected(e.status().as_u16(), e.body()))?;
        created.into_iter().next().ok_or_else(|| {
            SandboxError::rejected(500, json!({"message": "created record not found"}))
        })
    }

    /// The webhook receiver's objects of `object_type`, deleted ones
    /// included (marked).
    pub fn webhook_objects(&self, object_type: &str) -> Vec<WebhookObject> {
        lock(&self.state.webhook).objects(object_type)
    }

    /// The events the webhook receiver applied, oldest first (each key
    /// once; pings and rejected events left out).
    pub fn webhook_events(&self) -> Vec<WebhookEvent> {
        lock(&self.state.webhook).events()
    }

    /// Events (or whole requests) the receiver answered from a key it had
    /// applied before, applying nothing again.
    pub fn webhook_repeated(&self) -> u64 {
        lock(&self.state.webhook).repeated()
    }

    /// Replaces the webhook receiver's rate limit (its window restarts empty).
    pub fn set_webhook_limits(&self, limits: WebhookRateLimits) -> Result<(), SandboxError> {
        limits.validate()?;
        *lock(&self.state.webhook_limiter) = WebhookLimiter::new(limits);
        Ok(())
    }

    /// Forgets stored data, the request log, or both.
    pub fn reset(&self, scope: ResetScope) {
        let state = &self.state;
        if matches!(scope, ResetScope::State | ResetScope::All) {
            lock(&state.hubspot).clear(state.config.hubspot.first_object_id);
            lock(&state.airtable).clear();
            lock(&state.webhook).clear();
            let webhook_limits = lock(&state.webhook_limiter).limits().clone();
            *lock(&state.webhook_limiter) = WebhookLimiter::new(webhook_limits);
            self.reset_salesforce();
            self.reset_brevo();
            self.reset_intercom();
            let hubspot_limits = lock(&state.hubspot_limiter).limits().clone();
            *lock(&state.hubspot_limiter) = HubSpotLimiter::new(hubspot_limits, Instant::now());
            let airtable_limits = lock(&state.airtable_limiter).limits().clone();
            *lock(&state.airtable_limiter) = AirtableLimiter::new(airtable_limits);
        }
        if matches!(scope, ResetScope::Log | ResetScope::All) {
            lock(&state.log).clear();
        }
    }

    /// Current fault settings of both APIs (counters show what is left).
    pub fn faults(&self) -> FaultSettings {
        FaultSettings {
            hubspot: Some(lock(&self.state.hubspot_faults).config().clone()),
            airtable: Some(lock(&self.state.airtable_faults).config().clone()),
            webhook: Some(lock(&self.state.webhook_faults).config().clone()),
        }
    }

    /// Replaces the fault settings of one API.
    pub fn set_faults(&self, api: TargetApi, faults: FaultConfig) -> Result<(), SandboxError> {
        match api {
            TargetApi::Hubspot => {
                faults.validate("hubspot.faults", |s| {
                    s == 423 || s == 477 || (500..=599).contains(&s)
                })?;
                lock(&self.state.hubspot_faults).replace(faults);
            }
            TargetApi::Airtable => {
                faults.validate("airtable.faults", |s| {
                    AIRTABLE_DEFAULT_FAULT_STATUSES.contains(&s) || (500..=599).contains(&s)
                })?;
                lock(&self.state.airtable_faults).replace(faults);
            }
            TargetApi::Webhook => {
                faults.validate("webhook.faults", |s| (500..=599).contains(&s))?;
                lock(&self.state.webhook_faults).replace(faults);
            }
        }
        Ok(())
    }

    /// Current limits.
    pub fn limits(&self) -> LimitSettings {
        LimitSettings {
            hubspot: Some(lock(&self.state.hubspot_limiter).limits().clone()),
            hubspot_search: Some(lock(&self.state.hubspot_search).clone()),
            airtable: Some(lock(&self.state.airtable_limiter).limits().clone()),
            webhook: Some(lock(&self.state.webhook_limiter).limits().clone()),
        }
    }

    /// Replaces HubSpot rate limits (the buckets restart empty).
    pub fn set_hubspot_limits(&self, limits: HubSpotRateLimits) -> Result<(), SandboxError> {
        for (field, value) in [
            (
                "hubspot.rate_limits.per_app_window_ms",
                limits.per_app_window_ms,
            ),
            (
                "hubspot.rate_limits.daily_window_ms",
                limits.daily_window_ms,
            ),
            (
                "hubspot.rate_limits.search_window_ms",
                limits.search_window_ms,
            ),
        ] {
            if value == 0 {
                return Err(SandboxError::InvalidConfig {
                    field: field.to_owned(),
                    reason: "must be greater than 0".to_owned(),
                });
            }
        }
        *lock(&self.state.hubspot_limiter) = HubSpotLimiter::new(limits, Instant::now());
        Ok(())
    }

    /// Replaces HubSpot search limits and indexing lag.
    pub fn set_hubspot_search(&self, search: SearchConfig) {
        lock(&self.state.hubspot)
            .set_indexing_lag(std::time::Duration::from_millis(search.indexing_lag_ms));
        *lock(&self.state.hubspot_search) = search;
    }

    /// Replaces Airtable rate limits (the buckets and penalties restart empty).
    pub fn set_airtable_limits(&self, limits: AirtableRateLimits) -> Result<(), SandboxError> {
        if limits.window_ms == 0 {
            return Err(SandboxError::InvalidConfig {
                field: "airtable.rate_limits.window_ms".to_owned(),
                reason: "must be greater than 0".to_owned(),
            });
        }
        *lock(&self.state.airtable_limiter) = AirtableLimiter::new(limits);
        Ok(())
    }

    /// Writes the state file now (no-op without `state_file`).
    pub fn save_state(&self) -> Result<(), SandboxError> {
        match &self.state.config.state_file {
            Some(path) => persist::save(&self.state, path),
            None => Ok(()),
        }
    }
}

// ---- HTTP ----

/// Admin routes, to be nested under `/_sandbox`.
pub(crate) fn router() -> Router<SharedState> {
    Router::new()
        .route("/requests", get(requests))
        .route("/reset", post(reset))
        .route("/faults", get(get_faults).put(put_faults))
        .route("/limits", get(get_limits).put(put_limits))
        .route("/save", post(save))
        .route("/hubspot/objects", get(hubspot_all))
        .route("/hubspot/associations", get(hubspot_associations))
        .route(
            "/hubspot/objects/{objectType}",
            get(hubspot_type).post(hubspot_seed),
        )
        .route("/airtable/bases", get(airtable_all))
        .route("/webhook/events", get(webhook_events))
        .route("/webhook/objects/{objectType}", get(webhook_objects))
        .route(
            "/airtable/bases/{baseId}/tables/{table}/records",
            get(airtable_table).post(airtable_seed),
        )
}

fn admin(state: SharedState) -> SandboxAdmin {
    SandboxAdmin::new(state)
}

fn error_response(error: &SandboxError) -> Response {
    let status = match error {
        SandboxError::Rejected { status, .. } => {
            StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST)
        }
        SandboxError::StateFile { .. } | SandboxError::StateFormat { .. } => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        _ => StatusCode::BAD_REQUEST,
    };
    let body = match error {
        SandboxError::Rejected { body, .. } => body.clone(),
        other => json!({ "error": other.to_string() }),
    };
    (status, Json(body)).into_response()
}

/// Parses an admin body; an empty body means the defaults.
fn parse<T: for<'de> Deserialize<'de> + Default>(body: &Bytes) -> Result<T, serde_json::Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
}

/// A `PUT` of one side's setting: `body` read as a `T` (its defaults when
/// empty), `apply`'d, and answered with the setting as it now stands
/// (`current`); a body that is no `T`, or a setting refused, is a 400
/// saying why.
pub(crate) fn replace_setting<T>(
    body: &Bytes,
    apply: impl FnOnce(T) -> Result<(), SandboxError>,
    current: impl FnOnce() -> T,
) -> Response
where
    T: for<'de> Deserialize<'de> + Default + Serialize,
{
    match parse::<T>(body) {
        Err(error) => bad_json(&error),
        Ok(setting) => match apply(setting) {
            Ok(()) => Json(current()).into_response(),
            Err(error) => error_response(&error),
        },
    }
}

fn bad_json(error: &serde_json::Error) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": error.to_string() })),
    )
        .into_response()
}

async fn requests(State(state): State<SharedState>) -> Json<RequestLogSnapshot> {
    Json(admin(state).request_log())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct ResetBody {
    scope: Option<ResetScope>,
}

async fn reset(State(state): State<SharedState>, RawQuery(raw): RawQuery, body: Bytes) -> Response {
    let from_query = raw
        .as_deref()
        .and_then(|q| serde_urlencoded::from_str::<ResetBody>(q).ok())
        .and_then(|b| b.scope);
    let from_body = match parse::<ResetBody>(&body) {
        Ok(body) => body.scope,
        Err(error) => return bad_json(&error),
    };
    let scope = from_body.or(from_query).unwrap_or_default();
    admin(state).reset(scope);
    (StatusCode::OK, Json(json!({ "reset": scope }))).into_response()
}

async fn get_faults(State(state): State<SharedState>) -> Json<FaultSettings> {
    Json(admin(state).faults())
}

async fn put_faults(State(state): State<SharedState>, body: Bytes) -> Response {
    let settings = match parse::<FaultSettings>(&body) {
        Ok(settings) => settings,
        Err(error) => return bad_json(&error),
    };
    let admin = admin(state);
    for (api, faults) in [
        (TargetApi::Hubspot, settings.hubspot),
        (TargetApi::Airtable, settings.airtable),
        (TargetApi::Webhook, settings.webhook),
    ] {
        if let Some(faults) = faults {
            if let Err(error) = admin.set_faults(api, faults) {
                return error_response(&error);
            }
        }
    }
    Json(admin.faults()).into_response()
}

async fn get_limits(State(state): State<SharedState>) -> Json<LimitSettings> {
    Json(admin(state).limits())
}

async fn put_limits(State(state): State<SharedState>, body: Bytes) -> Response {
    let settings = match parse::<LimitSettings>(&body) {
        Ok(settings) => settings,
        Err(error) => return bad_json(&error),
    };
    let admin = admin(state);
    if let Some(limits) = settings.hubspot {
        if let Err(error) = admin.set_hubspot_limits(limits) {
            return error_response(&error);
        }
    }
    if let Some(search) = settings.hubspot_search {
        admin.set_hubspot_search(search);
    }
    if let Some(limits) = settings.airtable {
        if let Err(error) = admin.set_airtable_limits(limits) {
            return error_response(&error);
        }
    }
    if let Some(limits) = settings.webhook {
        if let Err(error) = admin.set_webhook_limits(limits) {
            return error_response(&error);
        }
    }
    Json(admin.limits()).into_response()
}

async fn save(State(state): State<SharedState>) -> Response {
    match admin(state).save_state() {
        Ok(()) => (StatusCode::OK, Json(json!({ "saved": true }))).into_response(),
        Err(error) => error_response(&error),
    }
}

async fn hubspot_all(
    State(state): State<SharedState>,
) -> Json<BTreeMap<String, Vec<HubSpotObject>>> {
    let store = lock(&state.hubspot);
    let all = store
        .type_names()
        .into_iter()
        .filter_map(|name| store.dump(&name).ok().map(|objects| (name, objects)))
        .collect();
    Json(all)
}

async fn hubspot_associations(State(state): State<SharedState>) -> Json<Vec<HubSpotAssociation>> {
    Json(admin(state).hubspot_associations())
}

async fn hubspot_type(
    State(state): State<SharedState>,
    Path(object_type): Path<String>,
) -> Response {
    match admin(state).hubspot_objects(&object_type) {
        Some(objects) => Json(objects).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("unknown object type {object_type}") })),
        )
            .into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SeedObject {
    properties: Map<String, Value>,
}

async fn hubspot_seed(
    State(state): State<SharedState>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> Response {
    let seed = match parse::<SeedObject>(&body) {
        Ok(seed) => seed,
        Err(error) => return bad_json(&error),
    };
    match admin(state).hubspot_insert(&object_type, seed.properties) {
        Ok(object) => (StatusCode::CREATED, Json(object)).into_response(),
        Err(error) => error_response(&error),
    }
}

async fn airtable_all(
    State(state): State<SharedState>,
) -> Json<BTreeMap<String, BTreeMap<String, Vec<AirtableRecord>>>> {
    Json(lock(&state.airtable).snapshot())
}

async fn airtable_table(
    State(state): State<SharedState>,
    Path((base, table)): Path<(String, String)>,
) -> Response {
    match admin(state).airtable_records(&base, &table) {
        Some(records) => Json(records).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("unknown table {base}/{table}") })),
        )
            .into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SeedRecord {
    fields: Map<String, Value>,
}

async fn airtable_seed(
    State(state): State<SharedState>,
    Path((base, table)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let seed = match parse::<SeedRecord>(&body) {
        Ok(seed) => seed,
        Err(error) => return bad_json(&error),
    };
    match admin(state).airtable_insert(&base, &table, seed.fields) {
        Ok(record) => (StatusCode::CREATED, Json(record)).into_response(),
        Err(error) => error_response(&error),
    }
}

async fn webhook_events(State(state): State<SharedState>) -> Json<Vec<WebhookEvent>> {
    Json(admin(state).webhook_events())
}

async fn webhook_objects(
    State(state): State<SharedState>,
    Path(object_type): Path<String>,
) -> Json<Vec<WebhookObject>> {
    Json(admin(state).webhook_objects(&object_type))
}
