//! The run history (`etlify_runs`, `Etlify::runs`): one row per batch run
//! of a CRM, with what started it, who ran it, its outcomes per model and
//! why it stopped short; kept for a bounded time and count (issue 28,
//! item 1).

use std::time::Duration;

use etlify::adapters::hubspot::{HubSpotAdapter, HubSpotConfig};
use etlify::adapters::{HttpSettings, RetryPolicy};
use etlify::jobs::{JobQueue, QueueOptions};
use etlify::{
    BatchSyncOptions, Config, Crm, Etlify, RunQuery, RunRecord, RunStatus, RunTrigger, Worker,
    WorkerOptions,
};
use tokio::sync::oneshot;

use crate::support::adapter::RecordingAdapter;
use crate::support::worker::eventually;
use crate::support::{builder, company_model, engine, user_model, TestDb};

/// How often a test checks what it waits for.
const POLL: Duration = Duration::from_millis(100);

/// Every run in the history, newest first.
async fn history(etlify: &Etlify) -> Vec<RunRecord> {
    etlify.runs(&RunQuery::new().limit(1_000)).await.unwrap()
}

/// A HubSpot adapter on `server`, retrying quickly.
fn hubspot_on(server: &wiremock::MockServer) -> std::sync::Arc<HubSpotAdapter> {
    std::sync::Arc::new(
        HubSpotAdapter::new(
            HubSpotConfig::new("pat-na1-RUNS-SECRET")
                .base_url(server.uri())
                .http(
                    HttpSettings::default().retry(
                        RetryPolicy::default()
                            .max_attempts(2)
                            .base_delay(Duration::from_millis(5))
                            .max_delay(Duration::from_millis(20)),
                    ),
                ),
        )
        .unwrap(),
    )
}

/// A queue polled often, so that tests do not wait.
fn fast_queue() -> QueueOptions {
    QueueOptions::new().poll_interval(Duration::from_millis(50))
}

/// A worker name no queue has known (apalis refuses a name it knows; on
/// PostgreSQL its tables outlive the test's schema).
fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// Runs a worker named `name` until the returned sender is used.
fn start_worker(
    etlify: &Etlify,
    queue: &JobQueue,
    options: WorkerOptions,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<etlify::Result<()>>,
) {
    let worker = Worker::with_options(etlify.clone(), queue.clone(), options);
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(worker.run_until(async move {
        let _ = stopped.await;
    }));
    (stop, done)
}

#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
