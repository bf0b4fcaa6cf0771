//! Inspection and control of the Salesforce side, in process (methods of
//! [`SandboxAdmin`]) and over HTTP under `/_sandbox/salesforce/…`.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::config::SalesforceLimits;
use super::store::SalesforceRecord;
use super::Allocation;
use crate::admin::SandboxAdmin;
use crate::config::FaultConfig;
use crate::error::SandboxError;
use crate::state::{lock, SharedState};

impl SandboxAdmin {
    /// The records of a Salesforce sObject, deleted ones included.
    pub fn salesforce_records(&self, sobject: &str) -> Vec<SalesforceRecord> {
        lock(&self.state().salesforce.store).dump(sobject)
    }

    /// Every Salesforce access token issued so far expires now: the next
    /// request with one is a 401 `INVALID_SESSION_ID`.
    pub fn salesforce_expire_tokens(&self) {
        lock(&self.state().salesforce.sessions).expire_all();
    }

    /// Salesforce access tokens issued so far.
    pub fn salesforce_tokens_issued(&self) -> u64 {
        lock(&self.state().salesforce.sessions).issued_count()
    }

    /// Replaces the Salesforce side's faults.
    pub fn set_salesforce_faults(&self, faults: FaultConfig) -> Result<(), SandboxError> {
        faults.validate("salesforce.faults", |s| (500..=599).contains(&s))?;
        lock(&self.state().salesforce.faults).replace(faults);
        Ok(())
    }

    /// The org's limits now.
    pub fn salesforce_limits(&self) -> SalesforceLimits {
        lock(&self.state().salesforce.allocation).limits().clone()
    }

    /// Replaces the org's limits: the daily window restarts with
    /// `daily_used` requests counted.
    pub fn set_salesforce_limits(&self, limits: SalesforceLimits) -> Result<(), SandboxError> {
        limits.validate()?;
        *lock(&self.state().salesforce.allocation) = Allocation::new(limits, Instant::now());
        Ok(())
    }

    /// Forgets the Salesforce records (the allocation restarts too).
    pub(crate) fn reset_salesforce(&self) {
        let side = &self.state().salesforce;
        lock(&side.store).clear();
        let limits = lock(&side.allocation).limits().clone();
        *lock(&side.allocation) = Allocation::new(limits, Instant::now());
    }
}

/// Admin routes of the Salesforce side, nested under `/_sandbox/salesforce`.
pub(crate) fn router() -> Router<SharedState> {
    Router::new()
        .route("/sobjects/{sobject}/records", get(records))
        .route("/expire_tokens", post(expire_tokens))
        .route("/limits", get(get_limits).put(put_limits))
        .route("/faults", get(get_faults).put(put_faults))
}

fn admin(state: SharedState) -> SandboxAdmin {
    SandboxAdmin::new(state)
}

fn refused(error: &SandboxError) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": error.to_string() })),
    )
        .into_response()
}

async fn records(
    State(state): State<SharedState>,
    Path(sobject): Path<String>,
) -> Json<Vec<SalesforceRecord>> {
    Json(admin(state).salesforce_records(&sobject))
}

async fn expire_tokens(State(state): State<SharedState>) -> Response {
    admin(state).salesforce_expire_tokens();
    (StatusCode::OK, Json(json!({ "expired": true }))).into_response()
}

async fn get_limits(State(state): State<SharedState>) -> Json<SalesforceLimits> {
    Json(admin(state).salesforce_limits())
}

async fn put_limits(State(state): State<SharedState>, body: Bytes) -> Response {
    let limits: SalesforceLimits = match serde_json::from_slice(&body) {
        Ok(limits) => limits,
        Err(error) => return refused(&SandboxError::ConfigParse { source: error }),
    };
    let admin = admin(state);
    match admin.set_salesforce_limits(limits) {
        Ok(()) => Json(admin.salesforce_limits()).into_response(),
        Err(error) => refused(&error),
    }
}

async fn get_faults(State(state): State<SharedState>) -> Json<FaultConfig> {
    Json(lock(&state.salesforce.faults).config().clone())
}

async fn put_faults(State(state): State<SharedState>, body: Bytes) -> Response {
    let faults: FaultConfig = match serde_json::from_slice(&body) {
        Ok(faults) => faults,
        Err(error) => return refused(&SandboxError::ConfigParse { source: error }),
    };
    let admin = admin(state.clone());
    match admin.set_salesforce_faults(faults) {
        Ok(()) => Json(lock(&state.salesforce.faults).config().clone()).into_response(),
        Err(error) => refused(&error),
    }
}
