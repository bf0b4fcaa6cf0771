//! The middleware in front of the HubSpot routes: log, latency, bearer
//! token, rate limits (+ `X-HubSpot-RateLimit-*` headers on non-search
//! responses), injected faults.

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::{correlation_id, HubSpotError};
use crate::gate::{arrival, bearer_token, ceil_secs, serve_or_fault, RequestFacts};
use crate::ratelimit::{HubSpotDecision, HubSpotUsage};
use crate::request_log::{Api, WindowShape};
use crate::state::{lock, AppState, SharedState};

pub(crate) async fn gate(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let facts = RequestFacts::of(Api::Hubspot, &request);
    let is_search = facts.route.ends_with("/search");
    let mut response = serve(&state, request, next, is_search).await;
    if let Ok(value) = HeaderValue::from_str(&correlation_id()) {
        response
            .headers_mut()
            .insert("x-hubspot-correlation-id", value);
    }
    facts.log(&state, &response);
    response
}

async fn serve(state: &AppState, request: Request, next: Next, is_search: bool) -> Response {
    let latency = {
        let mut random = lock(&state.random);
        lock(&state.hubspot_faults).latency(&mut random)
    };
    let arrived = arrival(latency).await;
    let app = match authenticate(state, request.headers()) {
        Ok(app) => app,
        Err(error) => return error.into_response(),
    };
    let now = arrived;
    observe_windows(state, app, is_search, now);
    // The limiter lock must be released before `limits()` locks it again.
    let decision = lock(&state.hubspot_limiter).check(app, is_search, now);
    let (usage, retry_after) = match decision {
        HubSpotDecision::Allowed(usage) => (usage, None),
        HubSpotDecision::Limited {
            policy,
            retry_after,
            usage,
        } => {
            let send_retry_after = lock(&state.hubspot_limiter).limits().retry_after;
            let error = HubSpotError::RateLimited {
                policy_name: policy.policy_name(),
                message: policy.message(),
                retry_after_secs: send_retry_after.then(|| ceil_secs(retry_after)),
            };
            (usage, Some(error))
        }
    };
    let daily_headers = lock(&state.hubspot_limiter).limits().daily_headers;
    let with_headers = |mut response: Response| {
        if !is_search {
            add_rate_limit_headers(response.headers_mut(), &usage, daily_headers);
        }
        response
    };
    if let Some(error) = retry_after {
        return with_headers(error.into_response());
    }
    with_headers(
        serve_or_fault(
            state,
            &state.hubspot_faults,
            request,
            next,
            |status, retry| {
                HubSpotError::Injected {
                    status,
                    retry_after_secs: retry,
                }
                .into_response()
            },
        )
        .await,
    )
}

/// Index of the accepted token (the "app"), or 401.
fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<usize, HubSpotError> {
    let token = bearer_token(headers).ok_or(HubSpotError::Unauthorized { missing: true })?;
    state
        .config
        .hubspot
        .tokens
        .iter()
        .position(|accepted| accepted.expose() == token)
        .ok_or(HubSpotError::Unauthorized { missing: false })
}

fn observe_windows(state: &AppState, app: usize, is_search: bool, now: Instant) {
    let limits = lock(&state.hubspot_limiter).limits().clone();
    let mut log = lock(&state.log);
    log.observe_window(
        "hubspot.daily",
        "account",
        WindowShape::Fixed(Duration::from_millis(limits.daily_window_ms)),
        now,
    );
    if is_search {
        log.observe_window(
            "hubspot.search",
            "account",
            WindowShape::Rolling(Duration::from_millis(limits.search_window_ms)),
            now,
        );
    } else {
        log.observe_window(
            "hubspot.per_app",
            &format!("app-{app}"),
            WindowShape::Rolling(Duration::from_millis(limits.per_app_window_ms)),
            now,
        );
    }
}

fn add_rate_limit_headers(headers: &mut HeaderMap, usage: &HubSpotUsage, daily_headers: bool) {
    let mut set = |name: &'static str, value: u64| {
        headers.insert(name, HeaderValue::from(value));
    };
    if daily_headers {
        set("x-hubspot-ratelimit-daily", usage.daily_max);
        set("x-hubspot-ratelimit-daily-remaining", usage.daily_remaining);
    }
    set(
        "x-hubspot-ratelimit-interval-milliseconds",
        usage.interval_ms,
    );
    set("x-hubspot-ratelimit-max", usage.max);
    set("x-hubspot-ratelimit-remaining", usage.remaining);
}
