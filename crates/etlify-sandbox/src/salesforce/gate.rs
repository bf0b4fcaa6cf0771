//! The middleware in front of the data API: log, latency, bearer token
//! (expired after its lifetime), requests in flight, the daily
//! allocation and its `Sforce-Limit-Info` header, injected faults.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::SalesforceError;
use crate::gate::{bearer_token, serve_or_fault, RequestFacts};
use crate::request_log::{Api, WindowShape};
use crate::state::{lock, AppState, SharedState};

pub(crate) async fn gate(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let facts = RequestFacts::of(Api::Salesforce, &request);
    let response = serve(&state, request, next).await;
    facts.log(&state, &response);
    response
}

/// Decrements the requests in flight when the request ends, however.
struct InFlight<'a>(&'a std::sync::atomic::AtomicU64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve(state: &AppState, request: Request, next: Next) -> Response {
    let side = &state.salesforce;
    let latency = {
        let mut random = lock(&state.random);
        lock(&side.faults).latency(&mut random)
    };
    let accepted = bearer_token(request.headers())
        .is_some_and(|token| lock(&side.sessions).accepts(token, Instant::now()));
    if !accepted {
        return SalesforceError::InvalidSession.into_response();
    }
    let in_flight = side.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let _in_flight = InFlight(&side.in_flight);
    let now = Instant::now();
    let (limits, taken) = {
        let mut allocation = lock(&side.allocation);
        let limits = allocation.limits().clone();
        (limits, allocation.take(now))
    };
    lock(&state.log).observe_window(
        "salesforce.daily",
        "org",
        WindowShape::Fixed(Duration::from_millis(limits.daily_window_ms)),
        now,
    );
    let (used, max) = match taken {
        Ok(usage) | Err(usage) => usage,
    };
    let mut response = if taken.is_err() {
        SalesforceError::DailyLimit.into_response()
    } else if in_flight > limits.max_concurrent {
        SalesforceError::Concurrent.into_response()
    } else {
        // The latency is served in flight, as a slow answer is.
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        serve_or_fault(state, &side.faults, request, next, |status, retry| {
            SalesforceError::Injected {
                status,
                retry_after_secs: retry,
            }
            .into_response()
        })
        .await
    };
    if let Ok(value) = HeaderValue::from_str(&format!("api-usage={used}/{max}")) {
        response.headers_mut().insert("sforce-limit-info", value);
    }
    response
}
