//! Inspection and control of the Brevo side, in process (methods of
//! [`SandboxAdmin`]) and over HTTP under `/_sandbox/brevo/…`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::config::BrevoRateLimits;
use super::store::BrevoContact;
use super::BrevoLimiter;
use crate::admin::SandboxAdmin;
use crate::config::FaultConfig;
use crate::error::SandboxError;
use crate::state::{lock, SharedState};

impl SandboxAdmin {
    /// The account's contacts (deleted ones are gone, as in Brevo).
    pub fn brevo_contacts(&self) -> Vec<BrevoContact> {
        lock(&self.state().brevo.store).dump()
    }

    /// Replaces the Brevo side's faults.
    pub fn set_brevo_faults(&self, faults: FaultConfig) -> Result<(), SandboxError> {
        faults.validate("brevo.faults", |s| (500..=599).contains(&s))?;
        lock(&self.state().brevo.faults).replace(faults);
        Ok(())
    }

    /// The endpoints' rate limits now.
    pub fn brevo_limits(&self) -> BrevoRateLimits {
        lock(&self.state().brevo.limiter).limits().clone()
    }

    /// Replaces the endpoints' rate limits (their windows restart empty).
    pub fn set_brevo_limits(&self, limits: BrevoRateLimits) -> Result<(), SandboxError> {
        limits.validate()?;
        *lock(&self.state().brevo.limiter) = BrevoLimiter::new(limits);
        Ok(())
    }

    /// Forgets the contacts (the windows restart empty too).
    pub(crate) fn reset_brevo(&self) {
        let side = &self.state().brevo;
        lock(&side.store).clear();
        let limits = lock(&side.limiter).limits().clone();
        *lock(&side.limiter) = BrevoLimiter::new(limits);
    }
}

/// Admin routes of the Brevo side, nested under `/_sandbox/brevo`.
pub(crate) fn router() -> Router<SharedState> {
    Router::new()
        .route("/contacts", get(contacts))
        .route("/limits", get(get_limits).put(put_limits))
        .route("/faults", get(get_faults).put(put_faults))
}

fn refused(error: &SandboxError) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": error.to_string() })),
    )
        .into_response()
}

async fn contacts(State(state): State<SharedState>) -> Json<Vec<BrevoContact>> {
    Json(SandboxAdmin::new(state).brevo_contacts())
}

async fn get_limits(State(state): State<SharedState>) -> Json<BrevoRateLimits> {
    Json(SandboxAdmin::new(state).brevo_limits())
}

async fn put_limits(State(state): State<SharedState>, body: Bytes) -> Response {
    let limits: BrevoRateLimits = match serde_json::from_slice(&body) {
        Ok(limits) => limits,
        Err(error) => return refused(&SandboxError::ConfigParse { source: error }),
    };
    let admin = SandboxAdmin::new(state);
    match admin.set_brevo_limits(limits) {
        Ok(()) => Json(admin.brevo_limits()).into_response(),
        Err(error) => refused(&error),
    }
}

async fn get_faults(State(state): State<SharedState>) -> Json<FaultConfig> {
    Json(lock(&state.brevo.faults).config().clone())
}

async fn put_faults(State(state): State<SharedState>, body: Bytes) -> Response {
    let faults: FaultConfig = match serde_json::from_slice(&body) {
        Ok(faults) => faults,
        Err(error) => return refused(&SandboxError::ConfigParse { source: error }),
    };
    let admin = SandboxAdmin::new(state.clone());
    match admin.set_brevo_faults(faults) {
        Ok(()) => Json(lock(&state.brevo.faults).config().clone()).into_response(),
        Err(error) => refused(&error),
    }
}
