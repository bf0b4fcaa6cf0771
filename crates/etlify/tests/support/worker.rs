//! A worker running in a task until stopped, and waiting, polled, for
//! what it does: the worker tests' harness (fresh, worker, alerts,
//! runs_history).

use std::future::Future;
use std::time::{Duration, Instant};

use etlify::jobs::JobQueue;
use etlify::{Crm, Etlify, HealthHandle, Worker, WorkerOptions};
use tokio::sync::oneshot;

use super::{builder, user_model, TestDb};

/// An engine on `db` syncing users to `crm` (named `hubspot`), queuing its
/// jobs on `queue`.
pub async fn engine_with_queue(db: &TestDb, queue: &JobQueue, crm: Crm) -> Etlify {
    builder(db.store.clone(), vec![crm], vec![user_model(&["hubspot"])])
        .queue(queue.clone())
        .build()
        .await
        .expect("engine builds")
}

/// A worker name no queue has known (apalis refuses a name it knows; on
/// PostgreSQL its tables outlive the test's schema).
pub fn unique_worker_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// A worker running in a task until its `stop` is sent.
pub struct RunningWorker {
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<etlify::Result<()>>,
    pub health: HealthHandle,
}

/// Runs a worker of `etlify` on `queue` in a task.
pub fn start_worker(etlify: &Etlify, queue: &JobQueue, options: WorkerOptions) -> RunningWorker {
    let worker = Worker::with_options(etlify.clone(), queue.clone(), options);
    let health = worker.health();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(worker.run_until(async move {
        let _ = stopped.await;
    }));
    RunningWorker { stop, done, health }
}

impl RunningWorker {
    /// Stops the worker, asserting it returns without error within a
    /// minute; how long it took to return.
    pub async fn stop(self) -> Duration {
        let asked = Instant::now();
        self.stop.send(()).ok();
        tokio::time::timeout(Duration::from_secs(60), self.done)
            .await
            .expect("the worker returns")
            .unwrap()
            .expect("the worker ends without error");
        asked.elapsed()
    }
}

/// Waits until `done` holds, checking every `poll`, at most `within`: for
/// states nothing signals (rows, requests, the worker's counts).
pub async fn eventually<F, Fut>(within: Duration, poll: Duration, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(poll).await;
    }
}
