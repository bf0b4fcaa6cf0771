//! The run history (`etlify_runs`, `Etlify::runs`): one row per batch run
//! of a CRM, with what started it, who ran it, its outcomes per model and
//! why it stopped short; kept for a bounded time and count (issue 28,
//! item 1).

use std::time::Duration;

use etlify::adapters::hubspot::{HubSpotAdapter, HubSpotConfig};
use etlify::adapters::{HttpSettings, RetryPolicy};
use etlify::jobs::{JobQueue, QueueOptions};
use etlify::{
    BatchSyncOptions, Config, Crm, Etlify, RunQuery, RunRecord, RunStatus, RunTrigger,
    WorkerOptions,
};

use crate::support::adapter::RecordingAdapter;
use crate::support::worker::{engine_with_queue, eventually, start_worker, unique_worker_name};
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

/// An engine on `db` with one stale user, its CRM a recording adapter,
/// queuing on a fast queue; the queue.
async fn queued_engine_with_a_stale_user(db: &TestDb) -> (Etlify, JobQueue) {
    db.insert_user("a@x.io", None).await;
    let queue = db.job_queue(fast_queue()).await;
    let etlify = engine_with_queue(db, &queue, Crm::new("hubspot", RecordingAdapter::new())).await;
    (etlify, queue)
}

#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
