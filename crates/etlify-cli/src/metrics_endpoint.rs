//! `GET /metrics`: the engine's metrics for a Prometheus scrape
//! (docs/OPERATIONS.md, "Metrics"), in the OpenMetrics text format. The
//! worker's listener serves it beside `/health`; any other server of the
//! CLI mounts the same routes.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use etlify::{Etlify, METRICS_CONTENT_TYPE};

/// The route `GET /metrics` over `etlify`'s metrics.
pub(crate) fn routes(etlify: Etlify) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(etlify)
}

/// The metrics' text; the gauges that need a query are computed at most
/// once per interval, however often and by how many scrapers it is read.
async fn metrics(State(etlify): State<Etlify>) -> impl IntoResponse {
    let text = etlify.encode_metrics().await;
    ([(CONTENT_TYPE, METRICS_CONTENT_TYPE)], text)
}
