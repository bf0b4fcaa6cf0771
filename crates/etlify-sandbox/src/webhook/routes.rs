//! The receiver's endpoint, in the order a service's gateway would take a
//! request: latency, signature (401), rate limit (429), injected fault,
//! then the events; every request logged.

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::signature::refusal;
use crate::faults::FaultAction;
use crate::gate::{arrival, ceil_secs, dropped_connection, RequestFacts};
use crate::ratelimit::SlidingWindow;
use crate::request_log::{Api, WindowShape};
use crate::state::{lock, AppState, SharedState};

/// Largest body read (a thousand events of a few kilobytes each).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The receiver's rolling window.
#[derive(Debug)]
pub(crate) struct WebhookLimiter {
    limits: super::config::WebhookRateLimits,
    window: SlidingWindow,
}

impl WebhookLimiter {
    pub(crate) fn new(limits: super::config::WebhookRateLimits) -> Self {
        let window = SlidingWindow::new(Duration::from_millis(limits.window_ms));
        Self { limits, window }
    }

    pub(crate) fn limits(&self) -> &super::config::WebhookRateLimits {
        &self.limits
    }

    /// Admits a request, or says how long until one would be.
    fn check(&mut self, now: Instant) -> Result<(), Duration> {
        if !self.limits.enabled {
            return Ok(());
        }
        if self.window.count(now) >= self.limits.max {
            return Err(self.window.time_to_free_slot(now));
        }
        self.window.record(now);
        Ok(())
    }
}

pub(crate) fn router(path: &str) -> Router<SharedState> {
    Router::new().route(path, post(receive))
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn receive(State(state): State<SharedState>, request: Request) -> Response {
    let facts = RequestFacts::of(Api::Webhook, &request);
    let response = serve(&state, request).await;
    facts.log(&state, &response);
    response
}

async fn serve(state: &AppState, request: Request) -> Response {
    let latency = {
        let mut random = lock(&state.random);
        lock(&state.webhook_faults).latency(&mut random)
    };
    let arrived = arrival(latency).await;
    let signature = request
        .headers()
        .get("etlify-signature")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let Ok(body) = axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await else {
        return error(StatusCode::PAYLOAD_TOO_LARGE, "the body is too large");
    };
    let config = &state.config.webhook;
    if let Some(why) = refusal(
        signature.as_deref(),
        &body,
        &config.signing_secrets,
        config.tolerance_secs,
    ) {
        return error(StatusCode::UNAUTHORIZED, why);
    }
    let now = arrived;
    let window = Duration::from_millis(lock(&state.webhook_limiter).limits().window_ms);
    lock(&state.log).observe_window(
        "webhook.receiver",
        "receiver",
        WindowShape::Rolling(window),
        now,
    );
    let admitted = lock(&state.webhook_limiter).check(now);
    if let Err(wait) = admitted {
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
        if lock(&state.webhook_limiter).limits().retry_after {
            response
                .headers_mut()
                .insert("retry-after", HeaderValue::from(ceil_secs(wait)));
        }
        return response;
    }
    let action = {
        let mut random = lock(&state.random);
        lock(&state.webhook_faults).decide(&mut random)
    };
    match action {
        FaultAction::None => handle(state, &body),
        FaultAction::Error {
            status,
            retry_after_secs,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut response = error(status, "injected fault");
            if let Some(secs) = retry_after_secs {
                response
                    .headers_mut()
                    .insert("retry-after", HeaderValue::from(secs));
            }
            response
        }
        FaultAction::Drop { after_handling } => {
            if after_handling {
                let _lost = handle(state, &body);
            }
            dropped_connection()
        }
    }
}

/// Applies a verified body's events.
fn handle(state: &AppState, body: &[u8]) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    let config = &state.config.webhook;
    let events = body.get("events").and_then(Value::as_array).map(Vec::len);
    match events {
        None => error(StatusCode::BAD_REQUEST, "the body has no events array"),
        Some(n) if n > config.max_events => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too many events in one request",
        ),
        Some(_) => Json(lock(&state.webhook).receive(&body, config)).into_response(),
    }
}
