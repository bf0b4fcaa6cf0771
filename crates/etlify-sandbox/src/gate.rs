//! Pieces shared by the two API gates (the middleware in front of each API
//! that logs, authenticates, rate-limits and injects faults).

use std::time::{Duration, Instant};

use std::sync::Mutex;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use crate::faults::{FaultAction, FaultInjector};

use crate::request_log::{Api, RequestEntry};
use crate::state::{lock, AppState};

/// Marker put in a response's extensions: the server closes the connection
/// instead of sending the response.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DropConnection;

/// A response that the server turns into a closed connection.
pub(crate) fn dropped_connection() -> Response {
    let mut response = Response::new(axum::body::Body::empty());
    response.extensions_mut().insert(DropConnection);
    response
}

/// Waits out a request's `latency` on its way in and answers when it
/// arrived: when this call began plus the latency, however late this
/// task runs again. The rate windows count the request at that instant.
/// A CRM's edge counts a request as it comes in, whatever its servers are
/// busy with; this sandbox serves every request on a few threads, and a
/// request woken behind other requests' work (ten 100-record upserts at
/// once on a loaded machine) was counted up to 140 ms late, so that two
/// requests sent more than a window apart were counted within one and
/// refused (issue 26, item 5).
pub(crate) async fn arrival(latency: Duration) -> Instant {
    let arrives = tokio::time::Instant::now() + latency;
    if !latency.is_zero() {
        tokio::time::sleep_until(arrives).await;
    }
    arrives.into_std()
}

/// The request served by `next`, or the fault `faults` draws for it: an
/// error answered by `injected(status, retry_after_secs)`, or the
/// connection closed before or after the request is served.
pub(crate) async fn serve_or_fault(
    state: &AppState,
    faults: &Mutex<FaultInjector>,
    request: Request,
    next: Next,
    injected: impl FnOnce(u16, Option<u64>) -> Response,
) -> Response {
    let action = {
        let mut random = lock(&state.random);
        lock(faults).decide(&mut random)
    };
    match action {
        FaultAction::None => next.run(request).await,
        FaultAction::Error {
            status,
            retry_after_secs,
        } => injected(status, retry_after_secs),
        FaultAction::Drop { after_handling } => {
            if after_handling {
                let _lost = next.run(request).await;
            }
            dropped_connection()
        }
    }
}

/// The route template matched by the router, or `<unmatched>`.
pub(crate) fn route_template(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "<unmatched>".to_owned(), |m| m.as_str().to_owned())
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// What the gate needs to remember about a request to log it at the end.
#[derive(Debug)]
pub(crate) struct RequestFacts {
    pub(crate) api: Api,
    pub(crate) method: String,
    pub(crate) route: String,
    pub(crate) path: String,
    pub(crate) arrived: Instant,
}

impl RequestFacts {
    pub(crate) fn of(api: Api, request: &Request) -> Self {
        Self {
            api,
            method: request.method().as_str().to_owned(),
            route: route_template(request),
            path: request.uri().path().to_owned(),
            arrived: Instant::now(),
        }
    }

    /// Logs the request with the status of `response` (none if dropped).
    pub(crate) fn log(self, state: &AppState, response: &Response) {
        let status = if response.extensions().get::<DropConnection>().is_some() {
            None
        } else {
            Some(response.status().as_u16())
        };
        let mut log = lock(&state.log);
        let entry = RequestEntry {
            at_ms: log.millis_since_start(self.arrived),
            api: self.api,
            method: self.method,
            route: self.route,
            path: self.path,
            status,
        };
        log.record(entry);
    }
}

/// Whole seconds for a `Retry-After` header, rounded up, at least 1.
pub(crate) fn ceil_secs(duration: std::time::Duration) -> u64 {
    let secs = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        secs + 1
    } else {
        secs.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request whose task runs again only after its latency has passed
    /// (the runtime busy elsewhere) is still counted when it arrived.
    #[tokio::test(start_paused = true)]
    async fn probe_a_request_woken_late_is_counted_when_it_arrived() {
        let entered = tokio::time::Instant::now();
        let arrived = tokio::spawn(arrival(Duration::from_millis(300)));
        tokio::task::yield_now().await;
        // The clock moves past the arrival before the request's task runs.
        tokio::time::advance(Duration::from_millis(450)).await;
        let arrived = arrived.await.expect("the request's task");
        assert_eq!(arrived, (entered + Duration::from_millis(300)).into_std());
        assert!(tokio::time::Instant::now().into_std() > arrived);
    }
}
