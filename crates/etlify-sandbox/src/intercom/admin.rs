//! Inspection and control of the Intercom side, in process (methods of
//! [`SandboxAdmin`]) and over HTTP under `/_sandbox/intercom/…`.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};

use super::config::IntercomLimits;
use super::store::{IntercomCompany, IntercomContact};
use super::IntercomLimiter;
use crate::admin::{replace_setting, SandboxAdmin};
use crate::config::FaultConfig;
use crate::error::SandboxError;
use crate::state::{lock, SharedState};

impl SandboxAdmin {
    /// The workspace's contacts, oldest first.
    pub fn intercom_contacts(&self) -> Vec<IntercomContact> {
        lock(&self.state().intercom.store).contacts()
    }

    /// The workspace's companies, oldest first.
    pub fn intercom_companies(&self) -> Vec<IntercomCompany> {
        lock(&self.state().intercom.store).companies()
    }

    /// Requests per `Intercom-Version` header value (`""`: without one).
    pub fn intercom_versions(&self) -> BTreeMap<String, u64> {
        lock(&self.state().intercom.versions).clone()
    }

    /// Replaces the Intercom side's faults.
    pub fn set_intercom_faults(&self, faults: FaultConfig) -> Result<(), SandboxError> {
        faults.validate("intercom.faults", |s| (500..=599).contains(&s))?;
        lock(&self.state().intercom.faults).replace(faults);
        Ok(())
    }

    /// The Intercom limits now.
    pub fn intercom_limits(&self) -> IntercomLimits {
        lock(&self.state().intercom.limiter).limits().clone()
    }

    /// Replaces the Intercom limits: the windows restart empty.
    pub fn set_intercom_limits(&self, limits: IntercomLimits) -> Result<(), SandboxError> {
        limits.validate()?;
        *lock(&self.state().intercom.limiter) = IntercomLimiter::new(limits, Instant::now());
        Ok(())
    }

    /// Forgets the contacts and companies (the windows restart too).
    pub(crate) fn reset_intercom(&self) {
        let side = &self.state().intercom;
        lock(&side.store).clear();
        lock(&side.versions).clear();
        let limits = lock(&side.limiter).limits().clone();
        *lock(&side.limiter) = IntercomLimiter::new(limits, Instant::now());
    }
}

/// Admin routes of the Intercom side, nested under `/_sandbox/intercom`.
pub(crate) fn router() -> Router<SharedState> {
    Router::new()
        .route("/contacts", get(contacts))
        .route("/companies", get(companies))
        .route("/versions", get(versions))
        .route("/limits", get(get_limits).put(put_limits))
        .route("/faults", get(get_faults).put(put_faults))
}

fn admin(state: SharedState) -> SandboxAdmin {
    SandboxAdmin::new(state)
}

async fn contacts(State(state): State<SharedState>) -> Json<Vec<IntercomContact>> {
    Json(admin(state).intercom_contacts())
}

async fn companies(State(state): State<SharedState>) -> Json<Vec<IntercomCompany>> {
    Json(admin(state).intercom_companies())
}

async fn versions(State(state): State<SharedState>) -> Json<BTreeMap<String, u64>> {
    Json(admin(state).intercom_versions())
}

async fn get_limits(State(state): State<SharedState>) -> Json<IntercomLimits> {
    Json(admin(state).intercom_limits())
}

async fn put_limits(State(state): State<SharedState>, body: Bytes) -> Response {
    let admin = admin(state);
    replace_setting(
        &body,
        |limits| admin.set_intercom_limits(limits),
        || admin.intercom_limits(),
    )
}

async fn get_faults(State(state): State<SharedState>) -> Json<FaultConfig> {
    Json(lock(&state.intercom.faults).config().clone())
}

async fn put_faults(State(state): State<SharedState>, body: Bytes) -> Response {
    let admin = admin(state.clone());
    replace_setting(
        &body,
        |faults| admin.set_intercom_faults(faults),
        || lock(&state.intercom.faults).config().clone(),
    )
}
