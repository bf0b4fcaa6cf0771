//! The middleware in front of the Airtable routes: log, latency, bearer
//! token, per-base and per-token rate limits with the 30 s penalty, injected
//! faults.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::AirtableError;
use crate::gate::{arrival, bearer_token, ceil_secs, serve_or_fault, RequestFacts};
use crate::request_log::{Api, WindowShape};
use crate::state::{lock, AppState, SharedState};

pub(crate) async fn gate(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let facts = RequestFacts::of(Api::Airtable, &request);
    let response = serve(&state, request, next).await;
    facts.log(&state, &response);
    response
}

/// The base a path addresses: `/v0/{base}/…` or `/v0/meta/bases/{base}/…`.
fn base_of(path: &str) -> String {
    let mut segments = path.trim_start_matches('/').split('/').skip(1);
    match segments.next() {
        Some("meta") => segments.nth(1).unwrap_or_default().to_owned(),
        Some(base) => base.to_owned(),
        None => String::new(),
    }
}

async fn serve(state: &AppState, request: Request, next: Next) -> Response {
    let latency = {
        let mut random = lock(&state.random);
        lock(&state.airtable_faults).latency(&mut random)
    };
    let arrived = arrival(latency).await;
    let token = match authenticate(state, request.headers()) {
        Ok(token) => token,
        Err(error) => return error.into_response(),
    };
    let base = base_of(request.uri().path());
    let now = arrived;
    let limits = lock(&state.airtable_limiter).limits().clone();
    {
        let window = WindowShape::Rolling(Duration::from_millis(limits.window_ms));
        let mut log = lock(&state.log);
        log.observe_window("airtable.per_base", &base, window, now);
        log.observe_window("airtable.per_token", &format!("token-{token}"), window, now);
    }
    let checked = lock(&state.airtable_limiter).check(&base, token, now);
    if let Err((_scope, wait)) = checked {
        return AirtableError::rate_limited(limits.retry_after.then(|| ceil_secs(wait)))
            .into_response();
    }
    serve_or_fault(
        state,
        &state.airtable_faults,
        request,
        next,
        |status, retry| AirtableError::injected(status, retry).into_response(),
    )
    .await
}

/// Index of the accepted token, or 401.
fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<usize, AirtableError> {
    let token = bearer_token(headers).ok_or_else(AirtableError::unauthorized)?;
    state
        .config
        .airtable
        .tokens
        .iter()
        .position(|accepted| accepted.expose() == token)
        .ok_or_else(AirtableError::unauthorized)
}
