//! Alerts from real workers to a webhook receiver over loopback
//! (wiremock): one alert per incident whatever the number of workers and
//! evaluations, then one recovery; the incident state in the database
//! (issue 28, item 4). Bodies, retries and the secret URL:
//! `src/alerts/deliver.rs`'s tests.

use std::time::Duration;

use etlify::jobs::QueueOptions;
use etlify::{AlertFormat, AlertOptions, Crm, Webhook, WorkerOptions};
use serde_json::Value;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::adapter::RecordingAdapter;
use crate::support::worker::{
    engine_with_queue, eventually, start_worker, unique_worker_name, RunningWorker,
};
use crate::support::TestDb;

/// How often a test checks what it waits for.
const POLL: Duration = Duration::from_millis(50);

/// A receiver answering 200 to every alert.
async fn receiver() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

/// The JSON bodies `server` received, in order.
async fn received(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| serde_json::from_slice(&request.body).unwrap())
        .collect()
}

/// The bodies of `state` (`firing`, `resolved`) of `kind`.
async fn alerts(server: &MockServer, kind: &str, state: &str) -> Vec<Value> {
    received(server)
        .await
        .into_iter()
        .filter(|body| body["kind"] == kind && body["state"] == state)
        .collect()
}

/// Waits until `server` received an alert of `kind` in `state`, at most
/// 30 s.
async fn alert_received(server: &MockServer, kind: &str, state: &str) {
    eventually(
        Duration::from_secs(30),
        POLL,
        &format!("a {kind} alert, {state}, was received"),
        || async { !alerts(server, kind, state).await.is_empty() },
    )
    .await;
}

/// Alerts to `server` as JSON, evaluated every 50 ms.
fn alert_options(server: &MockServer) -> AlertOptions {
    AlertOptions::new()
        .webhook(Webhook::new(&format!("{}/hook", server.uri()), AlertFormat::Json).unwrap())
        .check_interval(Duration::from_millis(50))
        .retry_delay(Duration::from_millis(20))
}

fn fast_queue() -> QueueOptions {
    QueueOptions::new().poll_interval(Duration::from_millis(50))
}

/// Waits until `more` batch runs were recorded after the first `after`:
/// each was followed by an evaluation of the worker that ran it.
async fn runs_after(db: &TestDb, after: i64, more: i64) -> i64 {
    let count = || db.scalar_i64("SELECT COUNT(*) FROM etlify_runs WHERE finished_at IS NOT NULL");
    eventually(
        Duration::from_secs(60),
        POLL,
        &format!("{more} more batch runs"),
        || async { count().await >= after + more },
    )
    .await;
    count().await
}

#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
