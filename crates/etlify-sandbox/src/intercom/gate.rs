//! The middleware in front of the Intercom routes: log, latency, bearer
//! token (one app per token), the `Intercom-Version` header, the windows
//! per app and per workspace with their `X-RateLimit-*` headers on every
//! authenticated answer, injected faults.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::IntercomError;
use super::IntercomUsage;
use crate::gate::{arrival, bearer_token, ceil_secs, serve_or_fault, RequestFacts};
use crate::request_log::{Api, WindowShape};
use crate::state::{lock, AppState, SharedState};

pub(crate) async fn gate(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let facts = RequestFacts::of(Api::Intercom, &request);
    let response = serve(&state, request, next).await;
    facts.log(&state, &response);
    response
}

async fn serve(state: &AppState, request: Request, next: Next) -> Response {
    let side = &state.intercom;
    let latency = {
        let mut random = lock(&state.random);
        lock(&side.faults).latency(&mut random)
    };
    let arrived = arrival(latency).await;
    let Some(app) = authenticate(state, request.headers()) else {
        return IntercomError::Unauthorized.into_response();
    };
    let version = request
        .headers()
        .get("intercom-version")
        .map(|v| v.to_str().unwrap_or("<not text>").to_owned());
    *lock(&side.versions)
        .entry(version.clone().unwrap_or_default())
        .or_default() += 1;
    let now = arrived;
    let (limits, decision) = {
        let mut limiter = lock(&side.limiter);
        (limiter.limits().clone(), limiter.check(app, now))
    };
    {
        let window = WindowShape::Fixed(Duration::from_millis(limits.window_ms));
        let mut log = lock(&state.log);
        log.observe_window("intercom.per_app", &format!("app-{app}"), window, now);
        log.observe_window("intercom.per_workspace", "workspace", window, now);
    }
    let (usage, refused) = match decision {
        Ok(usage) => (usage, None),
        Err(usage) => (
            usage,
            Some(IntercomError::RateLimited { limit: usage.limit }),
        ),
    };
    let mut response = if let Some(refused) = refused {
        let mut response = refused.into_response();
        if limits.retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(ceil_secs(usage.reset_in)));
        }
        response
    } else if version.as_deref().is_some_and(|v| !is_version(v)) {
        IntercomError::Version.into_response()
    } else {
        serve_or_fault(state, &side.faults, request, next, |status, retry| {
            IntercomError::Injected {
                status,
                retry_after_secs: retry,
            }
            .into_response()
        })
        .await
    };
    add_rate_limit_headers(response.headers_mut(), usage);
    response
}

/// Index of the accepted token (the app), if any.
fn authenticate(state: &AppState, headers: &HeaderMap) -> Option<usize> {
    let token = bearer_token(headers)?;
    state
        .config
        .intercom
        .tokens
        .iter()
        .position(|accepted| accepted.expose() == token)
}

/// `2.N`, or `Unstable` (INTERCOM-2).
fn is_version(text: &str) -> bool {
    if text == "Unstable" {
        return true;
    }
    let Some((major, minor)) = text.split_once('.') else {
        return false;
    };
    major.parse::<u32>().is_ok_and(|m| (1..=2).contains(&m)) && minor.parse::<u32>().is_ok()
}

/// `X-RateLimit-Limit`, `-Remaining` and `-Reset` (the window's end, in
/// Unix seconds rounded up) (INTERCOM-6).
fn add_rate_limit_headers(headers: &mut HeaderMap, usage: IntercomUsage) {
    let reset = SystemTime::now()
        .checked_add(usage.reset_in)
        .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |at| at.as_secs() + u64::from(at.subsec_nanos() > 0));
    headers.insert("x-ratelimit-limit", HeaderValue::from(usage.limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(usage.remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
}
