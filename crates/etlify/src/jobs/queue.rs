//! The built-in job queue: apalis 1.0 on the application's database
//! (docs/DECISIONS.md "Job engine").
//!
//! - SQLite: apalis's tables `Jobs` and `Workers` in the same file; one
//!   process (the embedded default), nothing to install.
//! - PostgreSQL: apalis's schema `apalis`; any number of workers on any
//!   number of machines. Its `setup` creates the extensions `pgcrypto` and
//!   `hstore`, so the role running `etlify migrate` needs `CREATE` on the
//!   database (docs/OPERATIONS.md).
//! - MySQL/MariaDB: apalis's engine over Etlify's tables
//!   `etlify_queue_jobs` and `etlify_queue_workers` (`mysql_storage.rs`);
//!   any number of workers, as on PostgreSQL.
//!
//! apalis runs on a pool of its own (its set-up sets SQLite pragmas on the
//! connection it runs on), opened with the store's connection options.
//! What apalis does not do for Etlify (its idempotency key is unique
//! forever; its retries have no delay) is in `store/job_requests.rs` and
//! `perform.rs`: apalis only delivers each job at least once, and gives a
//! dead worker's job to another after `heartbeat × missed_heartbeats`.

use std::time::Duration;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use apalis::prelude::{Strategy, StreamStrategy, TaskBuilder, TaskSink};
use apalis_postgres::{PostgresStorage, Pubsub};
use apalis_sqlite::SqliteStorage;
use async_trait::async_trait;
use futures_util::stream::{BoxStream, Stream, StreamExt};

use super::mysql_storage::{MysqlQueueConfig, MysqlStorage};
use super::{BatchJob, BatchJobs, Job, RecordJob, RecordJobs};
use crate::error::{BoxError, Error, Remedy, Result};
use crate::store::Store;

/// Connections of the queue's own pool. A worker's apalis uses several at
/// once (fetching, its heartbeat, a result per finished job) beside the
/// jobs' own pushes (reschedules, follow-ups, jobs handed back at
/// shutdown); with too few, a push waits for a connection.
const QUEUE_CONNECTIONS: u32 = 6;

/// The queue name used unless [`QueueOptions::name`] says otherwise.
pub const DEFAULT_QUEUE_NAME: &str = "etlify";

/// apalis deliveries of one job: Etlify's jobs reschedule themselves
/// (`perform.rs`), so apalis only delivers a job again when its
/// bookkeeping failed (the database unreachable); with the worker's pause
/// after such a failure ([`BOOKKEEPING_PAUSE`]) that rides out an outage of
/// about half a minute.
const DELIVERY_ATTEMPTS: usize = 10;

/// How long a worker waits after a job's bookkeeping failed before the
/// queue may deliver it again (apalis delivers a failed job at once).
pub(crate) const BOOKKEEPING_PAUSE: std::time::Duration = std::time::Duration::from_secs(3);

/// How the queue is named and watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOptions {
    name: String,
    heartbeat: Duration,
    missed_heartbeats: usize,
    poll_interval: Option<Duration>,
}

/// How often an idle SQLite worker looks for jobs unless told otherwise:
/// jobs this process pushes wake it at once, so the period only bounds
/// how late it starts a job another process queued, or one whose delay
/// ended.
const SQLITE_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The same on SQLite when the worker's change watch reads the counters
/// of `etlify migrate --triggers`, the queue's table included: a job any
/// process queues wakes the fetch through them, and a job this process
/// delays wakes it when due, so the poll only bounds how late a job
/// another process delayed starts.
const SQLITE_WOKEN_POLL_INTERVAL: Duration = Duration::from_secs(30);

/// The same on PostgreSQL, where apalis's insert notification (`LISTEN`)
/// wakes every worker at once for a job queued by any process: the period
/// only bounds how late a job whose delay ended, or one whose notification
/// was lost (a listening connection reconnecting), starts.
const POSTGRES_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The same on MySQL, which has no notification a worker could listen
/// to: jobs this process pushes wake its workers at once; the period
/// bounds how late a job another process queued starts.
const MYSQL_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Jobs one fetch takes on MySQL (apalis's default for its storages).
const MYSQL_FETCH_BATCH: usize = 10;

/// How often a worker tells the queue it is alive unless told otherwise:
/// each heartbeat is a few statements (its own, the re-queue of dead
/// workers' jobs, the fetch apalis makes after it), most of an idle
/// worker's load (issue 28: at most one light statement a second).
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5);

/// Heartbeats a worker may miss before its jobs go to others: 10 s with
/// the default heartbeat, more than the 9 s of 3 s × 3 before it (a slow
/// worker is not taken for dead sooner), and short enough that a dead
/// worker's job is re-queued before its locks expire (`lease_ttl`, 15 s),
/// however the heartbeats fall: its CRM is still taken over as soon as its
/// lease ends.
const DEFAULT_MISSED_HEARTBEATS: usize = 2;

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            name: DEFAULT_QUEUE_NAME.to_owned(),
            heartbeat: DEFAULT_HEARTBEAT,
            missed_heartbeats: DEFAULT_MISSED_HEARTBEATS,
            poll_interval: None,
        }
    }
}

impl QueueOptions {
    /// Defaults: queue `etlify`, heartbeat every 5 s, a worker silent for 2
    /// heartbeats is dead (its jobs go to others after 10 s, before its
    /// locks expire: a killed worker's CRM is taken over as soon as its
    /// lease ends, about `lease_ttl` after the kill), woken by every job
    /// pushed (by this process; on PostgreSQL by any; on SQLite by any
    /// when the worker watches the change triggers) and polled every
    /// second on SQLite and MySQL, every five on PostgreSQL (every 30 on
    /// SQLite when the worker watches the change triggers).
    pub fn new() -> Self {
        Self::default()
    }

    /// The queue's name (the gem's `job_queue_name`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// How often a worker tells the queue it is alive (at least 1 s).
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every.max(Duration::from_secs(1));
        self
    }

    /// Heartbeats a worker may miss before its jobs go to others (at least 1).
    pub fn missed_heartbeats(mut self, missed: usize) -> Self {
        self.missed_heartbeats = missed.max(1);
        self
    }

    /// How often an idle worker looks for jobs nothing woke it for (a job
    /// another process queued on SQLite, one whose delay ended).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = Some(every.max(Duration::from_millis(10)));
        self
    }

    /// The queue's name.
    pub fn get_name(&self) -> &str {
        &self.name
    }

    /// How long a dead worker's jobs wait before another worker takes them.
    pub fn get_orphan_timeout(&self) -> Duration {
        self.heartbeat
            .saturating_mul(u32::try_from(self.missed_heartbeats).unwrap_or(u32::MAX))
    }

    /// How often an idle worker looks for jobs nothing woke it for, when
    /// set ([`JobQueue::poll_interval`] gives the backend's default
    /// otherwise).
    pub fn get_poll_interval(&self) -> Option<Duration> {
        self.poll_interval
    }
}

/// The apalis storage on one backend.
#[derive(Clone)]
pub(crate) enum Storage {
    Sqlite(SqliteStorage<Job>),
    Postgres(PostgresStorage<Job>),
    Mysql(MysqlStorage<Job>),
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Storage::Sqlite(_) => "Storage::Sqlite",
            Storage::Postgres(_) => "Storage::Postgres",
            Storage::Mysql(_) => "Storage::Mysql",
        })
    }
}

/// The built-in queue: implements [`RecordJobs`] and [`BatchJobs`]; an
/// [`crate::Worker`] runs its jobs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct JobQueue {
    storage: Storage,
    options: QueueOptions,
    /// Woken at each job pushed to run now, through this handle or a
    /// clone, and when a delayed one is due: a worker of this process
    /// fetches at once.
    pushed: FetchWake,
}

/// Wakes the fetch of every worker of this process on a queue: a job was
/// queued, or one is due. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct FetchWake(Arc<tokio::sync::watch::Sender<u64>>);

impl FetchWake {
    fn new() -> Self {
        Self(Arc::new(tokio::sync::watch::Sender::new(0)))
    }

    /// How many wakes so far: a fetch that sees it change while running
    /// was woken during its read.
    pub(crate) fn count(&self) -> u64 {
        *self.0.borrow()
    }

    /// The workers fetch once more (however many wakes came meanwhile).
    pub(crate) fn wake(&self) {
        self.0.send_modify(|wakes| *wakes = wakes.wrapping_add(1));
    }

    /// Wakes them once `delay` has passed, from a task of the runtime
    /// (nothing outside one: the poll finds the job then).
    fn wake_after(&self, delay: Duration) {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let wake = self.clone();
            runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                wake.wake();
            });
        }
    }
}

/// apalis keeps a job's `run_at` in whole seconds: a wake this long after
/// its delay finds it due.
const DUE_MARGIN: Duration = Duration::from_secs(1);

/// apalis's error, kept as the cause.
fn queue_error(error: impl Into<BoxError>) -> Error {
    let source = error.into();
    Error::queue(source.to_string(), Some(source))
}

/// apalis could not set its tables up: a role that may create schemas and
/// extensions has to (the remedy says how).
fn setup_error(error: impl Into<BoxError>) -> Error {
    let source = error.into();
    Error::Queue {
        message: format!("cannot create or upgrade the job queue's tables ({source})"),
        source: Some(source),
        remedy: Some(Remedy::MigrateQueueAsOwner),
    }
}

/// Whether every migration of `migrator` is among `applied`.
fn up_to_date(migrator: &sqlx::migrate::Migrator, applied: &[(i64,)]) -> bool {
    migrator.iter().all(|migration| {
        applied
            .iter()
            .any(|(version,)| *version == migration.version)
    })
}

impl JobQueue {
    /// Opens the queue in `store`'s database. apalis's tables are created
    /// or upgraded only when they are not up to date (`etlify migrate` with
    /// a `[queue]` section does it once): a worker's role then needs no
    /// right to create anything.
    pub async fn open(store: &Store, options: QueueOptions) -> Result<Self> {
        let pushed = FetchWake::new();
        let storage = if let Some(pool) = store.sqlite_pool() {
            let connect = (*pool.connect_options()).clone();
            let own = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(QUEUE_CONNECTIONS)
                .connect_with(connect)
                .await?;
            let applied: Vec<(i64,)> =
                sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success")
                    .fetch_all(&own)
                    .await
                    .unwrap_or_default();
            if !up_to_date(&SqliteStorage::migrations(), &applied) {
                SqliteStorage::setup(&own).await.map_err(setup_error)?;
            }
            let config = apalis_sqlite::Config::default()
                .queue(&options.name)
                .heartbeat_interval(options.heartbeat)
                .missed_heartbeats(options.missed_heartbeats);
            Storage::Sqlite(SqliteStorage::new(&own).with_config(config))
        } else if let Some(pool) = store.postgres_pool() {
            let connect = (*pool.connect_options()).clone();
            let own = sqlx::postgres::PgPoolOptions::new()
                .max_connections(QUEUE_CONNECTIONS)
                .connect_with(connect)
                .await?;
            let applied: Vec<(i64,)> =
                sqlx::query_as("SELECT version FROM apalis._sqlx_migrations WHERE success")
                    .fetch_all(&own)
                    .await
                    .unwrap_or_default();
            if !up_to_date(&PostgresStorage::migrations(), &applied) {
                PostgresStorage::setup(&own).await.map_err(setup_error)?;
            }
            let config = apalis_postgres::Config::default()
                .queue(&options.name)
                .heartbeat_interval(options.heartbeat)
                .missed_heartbeats(options.missed_heartbeats);
            Storage::Postgres(PostgresStorage::new(&own).with_config(config))
        } else if let Some(pool) = store.mysql_pool() {
            let connect = (*pool.connect_options()).clone();
            let own = super::mysql_storage::pool(connect, QUEUE_CONNECTIONS).await?;
            let applied: Vec<(i64,)> = sqlx::query_as(super::mysql_storage::APPLIED_MIGRATIONS)
                .fetch_all(&own)
                .await
                .unwrap_or_default();
            if !up_to_date(&super::mysql_storage::migrations(), &applied) {
                super::mysql_storage::setup(&own)
                    .await
                    .map_err(setup_error)?;
            }
            Storage::Mysql(MysqlStorage::new(
                &own,
                MysqlQueueConfig {
                    queue: options.name.as_str().into(),
                    heartbeat_interval: options.heartbeat,
                    missed_heartbeats: options.missed_heartbeats,
                    batch_size: MYSQL_FETCH_BATCH,
                },
                pushed.clone(),
            ))
        } else {
            return Err(Error::queue(
                format!("the job queue is not available on {}", store.kind().name()),
                None,
            ));
        };
        Ok(Self {
            storage,
            options,
            pushed,
        })
    }

    /// The queue's options.
    pub fn options(&self) -> &QueueOptions {
        &self.options
    }

    pub(crate) fn storage(&self) -> &Storage {
        &self.storage
    }

    /// How often an idle worker looks for jobs nothing woke it for: the
    /// option when set, else the backend's default.
    pub fn poll_interval(&self) -> Duration {
        self.idle_poll(false)
    }

    /// The same for a worker whose change watch wakes its fetch when any
    /// process queues a job (`woken`: SQLite with the triggers on the
    /// queue's table), which then polls rarely.
    fn idle_poll(&self, woken: bool) -> Duration {
        self.options.poll_interval.unwrap_or(match self.storage {
            Storage::Sqlite(_) if woken => SQLITE_WOKEN_POLL_INTERVAL,
            Storage::Sqlite(_) => SQLITE_POLL_INTERVAL,
            Storage::Postgres(_) => POSTGRES_POLL_INTERVAL,
            Storage::Mysql(_) => MYSQL_POLL_INTERVAL,
        })
    }

    /// What wakes this queue's workers in this process.
    pub(crate) fn fetch_wake(&self) -> FetchWake {
        self.pushed.clone()
    }

    /// When a worker's apalis fetches: every [`Self::poll_interval`]
    /// (rarely when `woken`: its change watch wakes it for jobs other
    /// processes queue), at once after a job this process pushed or
    /// delayed is due, and on PostgreSQL at once after a job any process
    /// pushed (apalis's insert notification). The interval comes first:
    /// apalis's combined strategy stops at the first source ready, and a
    /// closed notification stream (its connection lost) is ready for ever;
    /// the interval keeps the worker fetching.
    pub(crate) fn fetch_strategy(&self, woken: bool) -> Strategy {
        let strategy = Strategy::new()
            .interval(self.idle_poll(woken))
            .stream(LocalPushes::new(self.pushed.0.subscribe()));
        match &self.storage {
            Storage::Sqlite(_) | Storage::Mysql(_) => strategy,
            Storage::Postgres(storage) => strategy.apply(StreamStrategy::new(Pubsub::new(
                storage.pool().clone(),
                self.options.name.clone(),
            ))),
        }
    }

    /// Queues `job` to run after `delay`.
    pub async fn push(&self, job: Job, delay: Duration) -> Result<()> {
        let task = TaskBuilder::new(job)
            .run_after(delay)
            .max_attempts(DELIVERY_ATTEMPTS)
            .build();
        match self.storage.clone() {
            Storage::Sqlite(mut storage) => storage.push_task(task).await.map_err(queue_error)?,
            Storage::Postgres(mut storage) => storage.push_task(task).await.map_err(queue_error)?,
            Storage::Mysql(mut storage) => storage.push_task(task).await.map_err(queue_error)?,
        }
        if delay.is_zero() {
            self.pushed.wake();
        } else {
            self.pushed.wake_after(delay + DUE_MARGIN);
        }
        Ok(())
    }
}

/// The jobs this process pushed, as a stream apalis's fetch strategy
/// waits on (one item for any number of pushes since the last).
struct LocalPushes(std::sync::Mutex<BoxStream<'static, ()>>);

impl LocalPushes {
    fn new(pushed: tokio::sync::watch::Receiver<u64>) -> Self {
        let pushes = futures_util::stream::unfold(pushed, |mut pushed| async move {
            pushed.changed().await.ok()?;
            Some(((), pushed))
        });
        Self(std::sync::Mutex::new(pushes.boxed()))
    }
}

impl Stream for LocalPushes {
    type Item = ();

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        match self.0.lock() {
            Ok(mut pushes) => pushes.poll_next_unpin(cx),
            Err(_) => Poll::Ready(None),
        }
    }
}

#[async_trait]
impl RecordJobs for JobQueue {
    async fn enqueue_record(&self, job: RecordJob, delay: Duration) -> Result<()> {
        self.push(Job::Record(job), delay).await
    }
}

#[async_trait]
impl BatchJobs for JobQueue {
    async fn enqueue_batch(&self, job: BatchJob, delay: Duration) -> Result<()> {
        self.push(Job::Batch(job), delay).await
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn errors_a_queue_error_keeps_the_queues_own_error_as_its_cause() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let error = queue_error(refused);
        assert_eq!(error.kind(), ErrorKind::Queue);
        assert_eq!(error.to_string(), "job queue error: refused");
        let cause = error.source().expect("the cause is kept");
        let io = cause
            .downcast_ref::<std::io::Error>()
            .expect("as the queue's own type");
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        assert_eq!(error.remedy(), None);
    }

    #[test]
    fn errors_a_queue_that_cannot_set_up_names_its_remedy_not_a_command() {
        let denied = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied");
        let error = setup_error(denied);
        assert_eq!(error.remedy(), Some(Remedy::MigrateQueueAsOwner));
        assert!(error.source().is_some());
        let message = error.to_string();
        assert!(!message.contains("etlify migrate"), "{message}");
        assert!(message.contains("denied"), "{message}");
    }
}
