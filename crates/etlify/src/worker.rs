//! The worker: runs the built-in queue's jobs for every CRM, and a
//! continuous loop requesting each enabled CRM's batch job on an interval,
//! so an application only writes its rows (docs/OPERATIONS.md "Workers").
//!
//! - **Jobs** run on apalis (`jobs/queue.rs`), `concurrency` at a time; a
//!   worker that dies (SIGKILL) has its jobs taken by another after the
//!   queue's orphan timeout, and its leases expire after their TTL.
//! - **The loop** requests one batch job per enabled CRM every `interval`;
//!   the request is deduplicated in the database, so N workers' loops
//!   queue one job per CRM, and one runs at a time (G-10).
//! - **Shutdown** (SIGTERM, SIGINT, or the caller's future), in two steps:
//!   1. *Drain*: no new job starts (one apalis delivers meanwhile is
//!      queued again, unrun, and keeps its slot until the close: at most
//!      one per slot); a running batch job starts no new page,
//!      records what its requests in flight answered and queues its rest
//!      for another worker; record jobs finish; at most `shutdown_timeout`.
//!   2. *Close*: only then is apalis told to stop, and it records its last
//!      acknowledgements within [`CLOSE_GRACE`].
//!
//!   The order matters on SQLite: apalis, once stopping, no longer drives
//!   a fetch it had under way, whose transaction then keeps the database's
//!   write lock until its running jobs end, and those jobs' writes wait
//!   for that lock. Nothing of Etlify's writes after step 2 begins. If
//!   jobs were cut off at the deadline, the worker deletes the leases they
//!   took (a worker's leases carry its own owner prefix), so their records
//!   are free at once.
//! - **Changes within seconds**: with [`WorkerOptions::watch`], a task
//!   listening to PostgreSQL's change triggers or polling SQLite's commit
//!   counter requests the batch jobs of the CRMs whose tables changed
//!   (`changes/watch.rs`); the loop stays as the safety net.
//! - **Health**: [`Worker::health`] gives a handle read while it runs (the
//!   CLI serves it over HTTP).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use apalis::layers::WorkerBuilderExt;
use apalis::prelude::{BackendExt, BoxDynError, Monitor, ParallelizeExt, WorkerBuilder};

use crate::changes::watch::{self as change_watch, WatchCounts};
use crate::changes::ChangeWatch;
use crate::engine::Etlify;
use crate::error::{Error, Result};
use crate::jobs::queue::Storage;
use crate::jobs::{perform, Job, JobContext, JobQueue, JobReport};
use crate::runs::BatchSyncOptions;
use crate::store::Store;

/// Default jobs run at once by one worker.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Default time between two requests of every CRM's batch job.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

/// Default longest wait for running jobs at shutdown.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// After the drain, how long apalis may take to record its last
/// acknowledgements, those of the jobs handed back included (jobs it could
/// not acknowledge are delivered again after the queue's orphan timeout).
pub const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// When a job handed back during the drain may run again (apalis counts
/// time in whole seconds).
const HAND_BACK_DELAY: Duration = Duration::from_secs(1);

/// The same after a drain that ended at its deadline: apalis waits for the
/// jobs cut off, so it is given only a moment.
const CUT_OFF_CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How a [`Worker`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerOptions {
    concurrency: usize,
    interval: Option<Duration>,
    shutdown_timeout: Duration,
    name: Option<String>,
    alerts: Option<crate::alerts::AlertOptions>,
    watch: ChangeWatch,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_CONCURRENCY,
            interval: Some(DEFAULT_INTERVAL),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            name: None,
            alerts: None,
            watch: ChangeWatch::Auto,
        }
    }
}

impl WorkerOptions {
    /// Defaults: 4 jobs at once, every CRM's batch job every 30 s, 30 s to
    /// finish at shutdown.
    pub fn new() -> Self {
        Self::default()
    }

    /// Jobs run at once (at least 1). Batch jobs are one per CRM at a time
    /// whatever this is; the rest of the slots run record jobs.
    pub fn concurrency(mut self, jobs: usize) -> Self {
        self.concurrency = jobs.max(1);
        self
    }

    /// Time between two requests of every enabled CRM's batch job (`None`:
    /// no loop; the worker runs only jobs enqueued by the application; at
    /// least 10 ms).
    pub fn interval(mut self, interval: Option<Duration>) -> Self {
        self.interval = interval.map(|i| i.max(Duration::from_millis(10)));
        self
    }

    /// Longest wait for running jobs once shutdown begins (apalis then
    /// has [`CLOSE_GRACE`] more to close).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The worker's name in the queue's tables and logs, unique among
    /// every worker the queue has known (default `etlify-<pid>-<start
    /// time>-<n>`): the queue refuses a worker under a name it knows.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Alerts to webhooks, evaluated after each batch run and on their
    /// timer (docs/OPERATIONS.md, "Alerts"); none by default.
    pub fn alerts(mut self, alerts: crate::alerts::AlertOptions) -> Self {
        self.alerts = Some(alerts);
        self
    }

    /// How the worker learns of changes between its intervals (default
    /// [`ChangeWatch::Auto`]: it listens where `etlify migrate --triggers`
    /// installed change triggers, and otherwise waits for the interval).
    pub fn watch(mut self, watch: ChangeWatch) -> Self {
        self.watch = watch;
        self
    }

    /// How the worker learns of changes between its intervals.
    pub fn get_watch(&self) -> ChangeWatch {
        self.watch
    }

    /// Jobs run at once.
    pub fn get_concurrency(&self) -> usize {
        self.concurrency
    }

    /// Time between two requests of every CRM's batch job.
    pub fn get_interval(&self) -> Option<Duration> {
        self.interval
    }

    /// Longest wait for running jobs at shutdown.
    pub fn get_shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }
}

/// Where a running worker stands (see [`HealthHandle::snapshot`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// When the worker started.
    pub started_at: SystemTime,
    /// When its loop last requested the batch jobs (none yet, or no loop).
    pub last_loop_at: Option<SystemTime>,
    /// The loop's interval.
    pub interval: Option<Duration>,
    /// Jobs running now.
    pub running: u64,
    /// Jobs that ended (ran, or found their record gone).
    pub done: u64,
    /// Jobs that failed and were queued again.
    pub rescheduled: u64,
    /// Jobs that gave up, or whose bookkeeping failed.
    pub failed: u64,
    /// The last error a job or the loop met, as a sentence.
    pub last_error: Option<String>,
    /// Whether shutdown has begun.
    pub stopping: bool,
}

impl Health {
    /// Healthy: not stopping, and the loop (if any) requested the batch
    /// jobs within the last three intervals (a loop whose requests fail,
    /// the database unreachable, is late).
    pub fn is_healthy(&self) -> bool {
        if self.stopping {
            return false;
        }
        let Some(interval) = self.interval else {
            return true;
        };
        let since = self.last_loop_at.unwrap_or(self.started_at);
        since
            .elapsed()
            .map_or(true, |elapsed| elapsed <= interval.saturating_mul(3))
    }
}

#[derive(Debug)]
struct HealthState {
    started_at: SystemTime,
    interval: Option<Duration>,
    last_loop_at: Mutex<Option<SystemTime>>,
    running: AtomicU64,
    done: AtomicU64,
    rescheduled: AtomicU64,
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
    stopping: AtomicBool,
    watch: Arc<WatchCounts>,
}

/// Reads a worker's [`Health`] while it runs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HealthHandle(Arc<HealthState>);

impl HealthHandle {
    /// Where the worker stands now.
    pub fn snapshot(&self) -> Health {
        let state = &self.0;
        Health {
            started_at: state.started_at,
            last_loop_at: *lock(&state.last_loop_at),
            interval: state.interval,
            running: state.running.load(Ordering::SeqCst),
            done: state.done.load(Ordering::SeqCst),
            rescheduled: state.rescheduled.load(Ordering::SeqCst),
            failed: state.failed.load(Ordering::SeqCst),
            last_error: lock(&state.last_error).clone(),
            stopping: state.stopping.load(Ordering::SeqCst),
        }
    }

    /// What the worker's change watch did so far.
    pub fn change_watch(&self) -> crate::changes::ChangeWatchCounts {
        crate::changes::ChangeWatchCounts::of(&self.0.watch)
    }

    fn error(&self, error: &Error) {
        *lock(&self.0.last_error) = Some(error.to_string());
    }

    /// Resolves once no job runs.
    async fn idle(&self) {
        while self.0.running.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs the jobs of a [`JobQueue`] and the continuous sync loop.
#[derive(Debug)]
pub struct Worker {
    etlify: Etlify,
    queue: JobQueue,
    options: WorkerOptions,
    health: HealthHandle,
}

impl Worker {
    /// A worker running `queue`'s jobs with `etlify` (built with
    /// [`crate::EtlifyBuilder::queue`] on the same queue, so follow-up work
    /// and retries go back to it).
    pub fn new(etlify: Etlify, queue: JobQueue) -> Self {
        Self::with_options(etlify, queue, WorkerOptions::default())
    }

    /// Like [`Worker::new`], with options.
    pub fn with_options(etlify: Etlify, queue: JobQueue, options: WorkerOptions) -> Self {
        let health = HealthHandle(Arc::new(HealthState {
            started_at: SystemTime::now(),
            interval: options.interval,
            last_loop_at: Mutex::new(None),
            running: AtomicU64::new(0),
            done: AtomicU64::new(0),
            rescheduled: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            last_error: Mutex::new(None),
            stopping: AtomicBool::new(false),
            watch: Arc::default(),
        }));
        Self {
            etlify,
            queue,
            options,
            health,
        }
    }

    /// A handle on the worker's health, readable while it runs.
    pub fn health(&self) -> HealthHandle {
        self.health.clone()
    }

    /// Runs until SIGTERM or SIGINT (Ctrl-C), then shuts down gracefully.
    pub async fn run(self) -> Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Runs until `shutdown` resolves, then shuts down gracefully.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let id = new_worker_id();
        let store = self.etlify.store().clone();
        let name = self
            .options
            .name
            .clone()
            .unwrap_or_else(|| default_name(&store, &id));
        // The worker's leases carry its own owner prefix: at a deadline it
        // releases those, never the locks of the process's other syncs.
        let own_leases = store.clone().with_lease_owner(lease_owner(&store, &id));
        let ctx = self
            .etlify
            .job_context()
            .with_store(own_leases)
            .with_runner(&name);
        let stop = Arc::new(AtomicBool::new(false));
        let (close, closing) = tokio::sync::watch::channel(false);
        tracing::info!(
            message = "Worker started.",
            worker = %name,
            queue = self.queue.options().get_name(),
            concurrency = self.options.concurrency,
            interval_s = self.options.interval.map(|i| i.as_secs_f64()),
        );
        let sync_loop = self.options.interval.map(|interval| {
            tokio::spawn(sync_loop(
                ctx.clone(),
                interval,
                stop.clone(),
                self.health.clone(),
            ))
        });
        let alerting = match self.options.alerts.clone() {
            Some(alerts) => {
                Some(crate::alerts::Alerting::start(ctx.context().clone(), alerts, &name).await)
            }
            None => None,
        };
        // Before the watch starts: whether it will wake the fetch decides
        // how often the fetch polls.
        let fetch_woken = change_watch::wakes_fetch(&ctx, self.options.watch).await;
        let watch = tokio::spawn(change_watch::watch(
            ctx.clone(),
            self.options.watch,
            listener_name(&name),
            stop.clone(),
            change_watch::WatchSinks {
                counts: self.health.0.watch.clone(),
                fetch: Some(self.queue.fetch_wake()),
            },
        ));
        let deadline = self.options.shutdown_timeout;
        let cut_off = Arc::new(AtomicBool::new(false));
        // Resolving tells apalis to stop: only once the drain is over.
        let drained = {
            let (stop, health, cut_off) = (stop.clone(), self.health.clone(), cut_off.clone());
            async move {
                shutdown.await;
                tracing::info!(message = "Worker stopping: no new jobs; running jobs finish.");
                health.0.stopping.store(true, Ordering::SeqCst);
                stop.store(true, Ordering::SeqCst);
                if tokio::time::timeout(deadline, health.idle()).await.is_err() {
                    cut_off.store(true, Ordering::SeqCst);
                    tracing::warn!(
                        message = "Shutdown deadline passed with jobs running; they are cut off.",
                        running = health.0.running.load(Ordering::SeqCst),
                        deadline_s = deadline.as_secs_f64(),
                    );
                }
                close.send_replace(true);
                Ok::<(), std::io::Error>(())
            }
        };
        let runner = JobRunner {
            ctx: ctx.clone(),
            stop: stop.clone(),
            closing,
            health: self.health.clone(),
            alert_after_batch: alerting.as_ref().map(crate::alerts::Alerting::trigger),
        };
        let fetching = self.queue.fetch_strategy(fetch_woken);
        let concurrency = self.options.concurrency;
        macro_rules! monitor {
            ($storage:expr) => {{
                let storage = $storage;
                Monitor::new()
                    .register(move |_| {
                        let runner = runner.clone();
                        WorkerBuilder::new(name.clone())
                            .backend(storage.clone().poll_with_strategy(fetching.clone()))
                            .concurrency(concurrency)
                            .parallelize(tokio::spawn)
                            .build(move |job: Job| {
                                let runner = runner.clone();
                                async move { runner.run(job).await }
                            })
                    })
                    .with_terminator(close_grace(cut_off.clone()))
                    .run_with_signal(drained)
                    .await
            }};
        }
        let ran = match self.queue.storage().clone() {
            Storage::Sqlite(storage) => monitor!(storage),
            Storage::Postgres(storage) => monitor!(storage),
            Storage::Mysql(storage) => monitor!(storage),
        };
        stop.store(true, Ordering::SeqCst);
        if let Some(sync_loop) = sync_loop {
            sync_loop.abort();
        }
        if let Some(alerting) = alerting {
            alerting.stop().await;
        }
        watch.abort();
        // Jobs cut off by the deadline leave their leases: free them now.
        // After a full drain there are none.
        let released = if cut_off.load(Ordering::SeqCst) {
            crate::store::leases::release_all_of_owner(ctx.store()).await
        } else {
            Ok(0)
        };
        match released {
            Ok(0) => {}
            Ok(released) => tracing::warn!(
                message = "Syncs were cut off at the shutdown deadline; their locks were released and their records stay stale for the next run.",
                released
            ),
            Err(error) => tracing::warn!(message = "Releasing this worker's locks failed; they expire on their own.", %error),
        }
        tracing::info!(message = "Worker stopped.");
        ran.map_err(|error| {
            let source = crate::error::BoxError::from(error);
            Error::queue(
                format!("the worker stopped with an error: {source}"),
                Some(source),
            )
        })
    }
}

/// apalis's time to close, counted from the end of the drain (when the
/// monitor starts polling it).
async fn close_grace(cut_off: Arc<AtomicBool>) {
    let grace = if cut_off.load(Ordering::SeqCst) {
        CUT_OFF_CLOSE_GRACE
    } else {
        CLOSE_GRACE
    };
    tokio::time::sleep(grace).await;
}

/// An id of this worker among the process's workers (for its default
/// name and its lease owner prefix): 64 random bits, so that workers of
/// any number of engines in one process differ without a counter shared
/// by the process (a std `RandomState` is seeded at random, and each new
/// one differs).
fn new_worker_id() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    let hasher = std::collections::hash_map::RandomState::new().build_hasher();
    format!("{:016x}", hasher.finish())
}

/// A name no other worker has, now or before: the queue refuses a second
/// worker under a name it knows (two in one process, a restarted process
/// with the pid of an earlier one): the store's owner token and the
/// worker's random id are unique.
fn default_name(store: &Store, id: &str) -> String {
    format!("etlify-{}-{id}", store.lease_owner())
}

/// The change listener's session name: the worker's, for operators
/// looking at the server's sessions (at most 63 bytes, PostgreSQL's).
fn listener_name(worker: &str) -> String {
    let mut name = format!("etlify-changes {worker}");
    while name.len() > 63 {
        name.pop();
    }
    name
}

/// The lease owner prefix of one worker, `<store token>-w<id>` (the
/// store's other syncs own `<store token>-<n>`).
fn lease_owner(store: &Store, id: &str) -> String {
    format!("{}-w{id}", store.lease_owner())
}

/// What runs each job apalis delivers.
#[derive(Debug, Clone)]
struct JobRunner {
    ctx: JobContext,
    /// Set when shutdown begins: batch runs start no new page, and jobs
    /// delivered from then on are handed back unrun.
    stop: Arc<AtomicBool>,
    /// Becomes true when apalis is told to stop (the drain is over).
    closing: tokio::sync::watch::Receiver<bool>,
    health: HealthHandle,
    /// Asks the alerting task for an evaluation after each batch job.
    alert_after_batch: Option<Arc<tokio::sync::Notify>>,
}

/// A job apalis delivered while the worker was stopping: never started, it
/// goes back to the queue for another worker.
#[derive(Debug, thiserror::Error)]
#[error("the worker was stopping; the job goes back to the queue untouched")]
struct HandedBack;

impl JobRunner {
    async fn run(&self, job: Job) -> std::result::Result<(), BoxDynError> {
        let state = &self.health.0;
        // Counted before `stop` is read: a drain that saw no job running
        // had set `stop` first, so a job it did not see is handed back.
        state.running.fetch_add(1, Ordering::SeqCst);
        if self.stop.load(Ordering::SeqCst) {
            // Counted while its copy is queued (a write): the close waits.
            let requeued = self.requeue_unrun(&job).await;
            state.running.fetch_sub(1, Ordering::SeqCst);
            // Its slot stays taken until the close, so that a draining
            // worker takes at most `concurrency` jobs it does not run.
            self.closed().await;
            if requeued {
                return Ok(());
            }
            tracing::debug!(message = "Job failed back to the queue.", ?job);
            return Err(Box::new(HandedBack));
        }
        let performed = perform::perform(&self.ctx, &job, Some(self.stop.clone())).await;
        state.running.fetch_sub(1, Ordering::SeqCst);
        if let (Job::Batch(_), Some(alerts)) = (&job, &self.alert_after_batch) {
            alerts.notify_one();
        }
        match performed {
            Ok(JobReport::Rescheduled { .. }) => {
                state.rescheduled.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            Ok(JobReport::GaveUp { reason }) => {
                state.failed.fetch_add(1, Ordering::SeqCst);
                *lock(&state.last_error) = Some(reason);
                Ok(())
            }
            Ok(report) => {
                state.done.fetch_add(1, Ordering::SeqCst);
                tracing::debug!(message = "Job done.", ?job, ?report);
                Ok(())
            }
            Err(error) => {
                // The job's bookkeeping failed (the database): apalis
                // delivers it again; wait a moment first.
                state.failed.fetch_add(1, Ordering::SeqCst);
                self.health.error(&error);
                tracing::error!(message = "Job failed before it could reschedule itself; the queue delivers it again.", ?job, %error);
                tokio::time::sleep(crate::jobs::queue::BOOKKEEPING_PAUSE).await;
                Err(Box::new(error))
            }
        }
    }

    /// Puts a job delivered during the drain back in the queue, unrun, as a
    /// copy queued again after [`HAND_BACK_DELAY`] (for another worker),
    /// and says whether the copy was queued. The delivery is then
    /// acknowledged at the close: none of its delivery attempts is used,
    /// and its request row stays queued. Not once the close has begun (a
    /// delivery racing it): nothing of Etlify's writes then, and the
    /// delivery is failed back to apalis instead (one of its attempts).
    async fn requeue_unrun(&self, job: &Job) -> bool {
        if *self.closing.borrow() {
            return false;
        }
        match perform::enqueue(&self.ctx, job.clone(), HAND_BACK_DELAY).await {
            Ok(()) => {
                tracing::debug!(message = "Job handed back to the queue.", ?job);
                true
            }
            Err(error) => {
                tracing::warn!(message = "Handing a job back failed; the queue delivers it again after the worker stops.", ?job, %error);
                false
            }
        }
    }

    /// Resolves once apalis is told to stop (the drain is over).
    async fn closed(&self) {
        let mut closing = self.closing.clone();
        // The sender lives as long as the worker's run: an error is the end.
        let _ = closing.wait_for(|closing| *closing).await;
    }
}

/// Requests every enabled CRM's batch job every `interval`, until `stop`.
async fn sync_loop(
    ctx: JobContext,
    interval: Duration,
    stop: Arc<AtomicBool>,
    health: HealthHandle,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match request_every_crm(&ctx).await {
            Ok(requested) => {
                *lock(&health.0.last_loop_at) = Some(SystemTime::now());
                tracing::debug!(message = "Batch jobs requested.", ?requested);
            }
            Err(error) => {
                health.error(&error);
                tracing::error!(message = "Requesting the batch jobs failed; trying again at the next interval.", %error);
            }
        }
    }
}

async fn request_every_crm(ctx: &JobContext) -> Result<Vec<(String, crate::jobs::Enqueued)>> {
    let mut requested = Vec::new();
    for crm in crate::runs::batch_run::async_crms(ctx.context(), &BatchSyncOptions::new())? {
        let answer = perform::request_batch(ctx, &crm, crate::RunTrigger::Schedule).await?;
        requested.push((crm, answer));
    }
    Ok(requested)
}

/// SIGTERM or SIGINT, listened to from the call on: a signal that comes
/// after the call and before the future is first polled is not missed
/// (and does not end the process), so a worker stopped right after it
/// starts still shuts down gracefully.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, Signal, SignalKind};
        // Registered now, not at the first poll.
        let terminate = signal(SignalKind::terminate()).ok();
        let interrupt = signal(SignalKind::interrupt()).ok();
        async fn received(signal: Option<Signal>) {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                // Not listening (no signal driver): never.
                None => std::future::pending::<()>().await,
            }
        }
        async move {
            tokio::select! {
                _ = received(terminate) => {}
                _ = received(interrupt) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::shutdown_signal;

    /// A SIGTERM sent between the call and the first poll resolves the
    /// future (before, it ended the process: nothing listened yet).
    #[tokio::test]
    async fn shutdown_signal_listens_from_the_call_on() {
        let signal = shutdown_signal();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        tokio::time::timeout(std::time::Duration::from_secs(10), signal)
            .await
            .expect("the SIGTERM sent before the first poll was received");
    }
}
