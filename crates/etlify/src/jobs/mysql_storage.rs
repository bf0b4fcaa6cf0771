//! The job queue's storage on MySQL and MariaDB: apalis 1.0's own engine
//! (its worker, fetch strategies, heartbeats, the middleware that locks
//! and acknowledges each job, and `Persisted`, apalis's driver for a
//! storage) over two tables of Etlify's, `etlify_queue_jobs` and
//! `etlify_queue_workers` (docs/DECISIONS.md "Job queue on MySQL").
//!
//! apalis has no MySQL storage for its 1.0 release that fits here (the
//! crate published for MySQL targets sqlx 0.8 and an earlier apalis, and
//! its tables need MySQL 8's collation, which MariaDB refuses): this file
//! is only what apalis's `Persistence` trait asks of a storage, the same
//! operations and states as apalis's SQLite storage, in MySQL's SQL.
//!
//! - A worker fetches jobs it may run (pending, or failed with attempts
//!   left, due now) with `FOR UPDATE SKIP LOCKED`, so that two workers
//!   fetching at once take different jobs, and marks them `Queued` as its
//!   own; apalis's middleware marks each `Running`, then acknowledges it.
//! - A worker whose heartbeat is older than `heartbeat × missed_heartbeats`
//!   is dead: another worker's heartbeat hands its jobs back (`Pending`,
//!   one attempt more).
//! - Times are Unix seconds from the server's clock (`UNIX_TIMESTAMP()`),
//!   as apalis's SQLite storage keeps them: independent of time zones.

use std::marker::PhantomData;
use std::str::FromStr;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis_codec::json::JsonCodec;
use apalis_core::backend::finalize::Durable;
use apalis_core::backend::persistence::{Persisted, Persistence, TaskEvent, TaskPersistLayer};
use apalis_core::backend::queue::Queue;
use apalis_core::backend::{Backend, BackendConfig, TaskResult, WireFormatBackend};
use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::status::Status;
use apalis_core::task::task_id::TaskId;
use apalis_core::task::Task;
use apalis_core::worker::context::WorkerContext;
use futures_util::Sink;
use serde_json::Value;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, MySqlPool, Row, SqlSafeStr};

use super::queue::FetchWake;

/// The table of Etlify's queue migrations on MySQL (not sqlx's default
/// `_sqlx_migrations`, which an application may use for its own).
const MIGRATIONS_TABLE: &str = "etlify_queue_migrations";

/// The queue's tables. Ids are apalis's task ids (ULIDs); keys fit
/// InnoDB's 3,072 bytes in `utf8mb4`.
const CREATE_TABLES: &str = "\
CREATE TABLE etlify_queue_workers (
    id varchar(255) NOT NULL PRIMARY KEY,
    worker_type varchar(255) NOT NULL,
    storage_name varchar(255) NOT NULL,
    layers text,
    last_seen bigint NOT NULL,
    started_at bigint
);
CREATE TABLE etlify_queue_jobs (
    id varchar(64) NOT NULL PRIMARY KEY,
    job longblob NOT NULL,
    job_type varchar(255) NOT NULL,
    status varchar(20) NOT NULL DEFAULT 'Pending',
    attempts int NOT NULL DEFAULT 0,
    max_attempts int NOT NULL DEFAULT 25,
    run_at bigint NOT NULL,
    last_result text,
    lock_at bigint,
    lock_by varchar(255),
    done_at bigint,
    priority int NOT NULL DEFAULT 0,
    metadata text,
    idempotency_key varchar(255),
    UNIQUE KEY idx_etlify_queue_jobs_idempotency (job_type, idempotency_key),
    KEY idx_etlify_queue_jobs_fetch (job_type, status, priority, run_at, id),
    KEY idx_etlify_queue_jobs_lock_by (lock_by)
);";

const DROP_TABLES: &str = "DROP TABLE etlify_queue_jobs; DROP TABLE etlify_queue_workers;";

/// Etlify's queue migrations on MySQL, recorded in [`MIGRATIONS_TABLE`]
/// and reversible.
pub(crate) fn migrations() -> Migrator {
    let description = "etlify queue tables";
    let mut migrator = Migrator::with_migrations(vec![
        Migration::new(
            1,
            description.into(),
            MigrationType::ReversibleUp,
            CREATE_TABLES.into_sql_str(),
            true,
        ),
        Migration::new(
            1,
            description.into(),
            MigrationType::ReversibleDown,
            DROP_TABLES.into_sql_str(),
            true,
        ),
    ]);
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
}

/// The versions recorded as applied, empty before the first set-up.
pub(crate) const APPLIED_MIGRATIONS: &str =
    "SELECT version FROM etlify_queue_migrations WHERE success";

/// Creates or upgrades the queue's tables.
pub(crate) async fn setup(pool: &MySqlPool) -> Result<(), sqlx::Error> {
    migrations().run(pool).await.map_err(sqlx::Error::from)
}

/// The due jobs a worker may take, oldest first, locked; `SKIP LOCKED`:
/// another worker fetching at once takes other jobs.
const FETCH_CANDIDATES: &str = "\
SELECT id FROM etlify_queue_jobs
WHERE job_type = ?
  AND ((status = 'Pending' AND lock_by IS NULL) OR (status = 'Failed' AND attempts < max_attempts))
  AND run_at <= UNIX_TIMESTAMP()
ORDER BY priority DESC, run_at ASC, id ASC
LIMIT ?
FOR UPDATE SKIP LOCKED";

const JOB_COLUMNS: &str = "job, id, job_type, status, attempts, max_attempts, run_at, \
     lock_at, lock_by, done_at, priority, metadata, idempotency_key";

const KEEP_ALIVE: &str = "UPDATE etlify_queue_workers SET last_seen = UNIX_TIMESTAMP() \
     WHERE id = ? AND worker_type = ?";

/// Jobs of dead workers of the queue handed back (`?` placeholders: how
/// long silent, the queue, a worker to leave out, the only worker).
const REENQUEUE_ORPHANED: &str = "\
UPDATE etlify_queue_jobs j JOIN etlify_queue_workers w ON j.lock_by = w.id
SET j.status = 'Pending', j.done_at = NULL, j.lock_by = NULL, j.lock_at = NULL,
    j.attempts = j.attempts + 1,
    j.last_result = '{\"Err\": \"Re-enqueued due to worker heartbeat timeout.\"}'
WHERE j.status IN ('Running', 'Queued')
  AND UNIX_TIMESTAMP() - w.last_seen >= ?
  AND w.worker_type = ?
  AND (? IS NULL OR w.id <> ?)
  AND (? IS NULL OR w.id = ?)";

/// Whether any worker of the queue (`?`: the queue, how long silent, a
/// worker to leave out, the only worker) is silent for that long: the
/// hand-back's locking update runs only then.
const SILENT_WORKERS: &str = "\
SELECT COUNT(*) FROM etlify_queue_workers
WHERE worker_type = ? AND UNIX_TIMESTAMP() - last_seen >= ?
  AND (? IS NULL OR id <> ?) AND (? IS NULL OR id = ?)";

/// A registration of this name silent for longer than `?` seconds goes.
const FORGET_SILENT_WORKER: &str =
    "DELETE FROM etlify_queue_workers WHERE id = ? AND UNIX_TIMESTAMP() - last_seen > ?";

/// Fails on the primary key while a live worker holds the name.
const REGISTER_WORKER: &str = "\
INSERT INTO etlify_queue_workers (id, worker_type, storage_name, layers, last_seen, started_at)
VALUES (?, ?, ?, ?, UNIX_TIMESTAMP(), UNIX_TIMESTAMP())";

/// The queue's sessions read committed rows and lock no gaps: workers
/// registering, fetching and handing jobs back at once then wait on the
/// rows they touch only, not on the gaps between keys, where InnoDB's
/// default (`REPEATABLE READ`) made two registrations deadlock.
const READ_COMMITTED: &str = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";

/// Times a transaction InnoDB chose as a deadlock's victim (or that
/// waited too long for a lock) is run again before the error stops the
/// worker; apalis stops a worker at its storage's first error.
const LOCK_ATTEMPTS: u32 = 5;

const ACK: &str = "UPDATE etlify_queue_jobs \
     SET status = ?, attempts = ?, last_result = ?, done_at = UNIX_TIMESTAMP() \
     WHERE id = ? AND lock_by = ?";

/// A duplicate idempotency key leaves the job queued first (Etlify sets
/// none: its requests are deduplicated in `etlify_job_requests`).
const PUSH: &str = "\
INSERT INTO etlify_queue_jobs
    (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata, idempotency_key)
VALUES (?, ?, ?, 'Pending', 0, ?, ?, ?, ?, ?)
ON DUPLICATE KEY UPDATE id = id";

/// What the MySQL storage can fail with; the database's error is kept as
/// the cause.
#[derive(Debug, thiserror::Error)]
pub enum MysqlQueueError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("cannot encode or decode a job's JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a job row cannot be read: {0}")]
    Row(String),
    #[error("worker {0} is registered and alive on the queue already")]
    WorkerAlive(String),
    #[error("worker {0} is not registered on the queue")]
    WorkerGone(String),
    #[error("{abandoned} of {queued} jobs handed back at shutdown")]
    AbandonedMismatch { queued: usize, abandoned: u64 },
}

/// The queue's own pool on `connect`, its sessions at
/// [`READ_COMMITTED`].
pub(crate) async fn pool(
    connect: sqlx::mysql::MySqlConnectOptions,
    connections: u32,
) -> Result<MySqlPool, sqlx::Error> {
    sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(connections)
        .after_connect(|connection, _| {
            Box::pin(async move {
                sqlx::query(READ_COMMITTED).execute(connection).await?;
                Ok(())
            })
        })
        .connect_with(connect)
        .await
}

/// Whether InnoDB gave up `error`'s transaction over a lock (a deadlock's
/// victim, or a lock wait timed out): running it again is the remedy.
fn lock_conflict(error: &MysqlQueueError) -> bool {
    match error {
        MysqlQueueError::Database(sqlx::Error::Database(database)) => database
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|mysql| matches!(mysql.number(), 1205 | 1213)),
        _ => false,
    }
}

/// Whether `error` is a duplicate key.
fn duplicate_key(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(database) if database.is_unique_violation())
}

/// Runs `$transaction` (an async block) again while InnoDB gives it up
/// over a lock, at most [`LOCK_ATTEMPTS`] times.
macro_rules! retrying_lock_conflicts {
    ($transaction:expr) => {{
        let mut attempt = 1;
        loop {
            match $transaction.await {
                Err(error) if attempt < LOCK_ATTEMPTS && lock_conflict(&error) => {
                    tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
                    attempt += 1;
                }
                done => break done,
            }
        }
    }};
}

/// What the storage needs to know of its queue.
#[derive(Debug, Clone)]
pub(crate) struct MysqlQueueConfig {
    pub(crate) queue: Queue,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) missed_heartbeats: usize,
    /// Jobs fetched at once by one worker.
    pub(crate) batch_size: usize,
}

impl MysqlQueueConfig {
    fn orphaned_after(&self) -> Duration {
        self.heartbeat_interval
            .saturating_mul(u32::try_from(self.missed_heartbeats).unwrap_or(u32::MAX))
    }
}

/// apalis's `Persistence` on MySQL.
#[derive(Debug, Clone)]
pub(crate) struct MysqlPersistence {
    pool: MySqlPool,
    config: MysqlQueueConfig,
    /// What wakes this process's workers: read around each fetch.
    wakes: FetchWake,
}

fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, seconds)
}

/// `?, ?, …` for `count` values.
fn placeholders(count: usize) -> String {
    vec!["?"; count].join(", ")
}

/// Which workers a hand-back looks at.
enum Workers<'a> {
    AllExcept(&'a str),
    Only(&'a str),
}

async fn reenqueue_orphaned(
    connection: &mut sqlx::MySqlConnection,
    silent_for: Duration,
    queue: &str,
    workers: Workers<'_>,
) -> Result<u64, sqlx::Error> {
    let (except, only) = match workers {
        Workers::AllExcept(id) => (Some(id), None),
        Workers::Only(id) => (None, Some(id)),
    };
    let silent: i64 = sqlx::query_scalar(SILENT_WORKERS)
        .bind(queue)
        .bind(seconds(silent_for))
        .bind(except)
        .bind(except)
        .bind(only)
        .bind(only)
        .fetch_one(&mut *connection)
        .await?;
    if silent == 0 {
        return Ok(0);
    }
    let done = sqlx::query(REENQUEUE_ORPHANED)
        .bind(seconds(silent_for))
        .bind(queue)
        .bind(except)
        .bind(except)
        .bind(only)
        .bind(only)
        .execute(connection)
        .await?;
    Ok(done.rows_affected())
}

fn job_from_row(row: &sqlx::mysql::MySqlRow) -> Result<Task<Vec<u8>>, MysqlQueueError> {
    let bad = |what: &str, error: String| MysqlQueueError::Row(format!("{what}: {error}"));
    let id: String = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let task_id = TaskId::from_str(&id).map_err(|e| bad("id", e.to_string()))?;
    let status = Status::from_str(&status).map_err(|e| bad("status", e.to_string()))?;
    let count = |value: i64| usize::try_from(value).unwrap_or_default();
    let stamp = |value: Option<i64>| value.map(|at| u64::try_from(at).unwrap_or_default());
    let metadata: Option<String> = row.try_get("metadata")?;
    let idempotency_key: Option<String> = row.try_get("idempotency_key")?;
    let job_type: String = row.try_get("job_type")?;
    let mut task = TaskBuilder::new(row.try_get::<Vec<u8>, _>("job")?)
        .task_id(task_id)
        .queue(Queue::from(job_type.as_str()))
        .status(status)
        .attempt(count(row.try_get::<i32, _>("attempts")?.into()))
        .max_attempts(count(row.try_get::<i32, _>("max_attempts")?.into()))
        .run_at_timestamp(stamp(Some(row.try_get("run_at")?)).unwrap_or_default())
        .lock_at(stamp(row.try_get("lock_at")?))
        .done_at(stamp(row.try_get("done_at")?))
        .lock_by(row.try_get("lock_by")?)
        .priority(count(row.try_get::<i32, _>("priority")?.into()))
        .with_metadata(match metadata {
            Some(metadata) => serde_json::from_str(&metadata)?,
            None => Default::default(),
        });
    if let Some(key) = idempotency_key {
        task = task.idempotency_key(key);
    }
    Ok(task.build())
}

/// Each operation once, as one transaction.
impl MysqlPersistence {
    async fn register_once(&self, worker: &WorkerContext) -> Result<(), MysqlQueueError> {
        let queue = self.config.queue.to_string();
        let mut transaction = self.pool.begin().await?;
        // A worker of the same name that died: its jobs go back first.
        reenqueue_orphaned(
            &mut transaction,
            self.config.heartbeat_interval,
            &queue,
            Workers::Only(worker.name()),
        )
        .await?;
        sqlx::query(FORGET_SILENT_WORKER)
            .bind(worker.name())
            .bind(seconds(self.config.heartbeat_interval))
            .execute(&mut *transaction)
            .await?;
        let registered = sqlx::query(REGISTER_WORKER)
            .bind(worker.name())
            .bind(&queue)
            .bind("EtlifyMysqlStorage")
            .bind(worker.get_service())
            .execute(&mut *transaction)
            .await;
        match registered {
            Err(error) if duplicate_key(&error) => {
                Err(MysqlQueueError::WorkerAlive(worker.name().to_owned()))
            }
            Err(error) => Err(error.into()),
            Ok(_) => {
                transaction.commit().await?;
                Ok(())
            }
        }
    }

    async fn heartbeat_once(&self, worker: &WorkerContext) -> Result<(), MysqlQueueError> {
        let queue = self.config.queue.to_string();
        let mut transaction = self.pool.begin().await?;
        let alive = sqlx::query(KEEP_ALIVE)
            .bind(worker.name())
            .bind(&queue)
            .execute(&mut *transaction)
            .await?;
        if alive.rows_affected() == 0 {
            return Err(MysqlQueueError::WorkerGone(worker.name().to_owned()));
        }
        reenqueue_orphaned(
            &mut transaction,
            self.config.orphaned_after(),
            &queue,
            Workers::AllExcept(worker.name()),
        )
        .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn fetch_next_once(
        &self,
        worker: &WorkerContext,
    ) -> Result<Vec<Task<Vec<u8>>>, MysqlQueueError> {
        let queue = self.config.queue.to_string();
        let mut transaction = self.pool.begin().await?;
        let ids: Vec<String> = sqlx::query_scalar(FETCH_CANDIDATES)
            .bind(&queue)
            .bind(i64::try_from(self.config.batch_size).unwrap_or(i64::MAX))
            .fetch_all(&mut *transaction)
            .await?;
        if ids.is_empty() {
            transaction.rollback().await?;
            return Ok(Vec::new());
        }
        let claim = format!(
            "UPDATE etlify_queue_jobs SET status = 'Queued', lock_by = ?, lock_at = UNIX_TIMESTAMP() \
             WHERE id IN ({})",
            placeholders(ids.len())
        );
        let mut claim = sqlx::query(AssertSqlSafe(claim)).bind(worker.name());
        for id in &ids {
            claim = claim.bind(id);
        }
        claim.execute(&mut *transaction).await?;
        let read = format!(
            "SELECT {JOB_COLUMNS} FROM etlify_queue_jobs WHERE id IN ({}) \
             ORDER BY priority DESC, run_at ASC, id ASC",
            placeholders(ids.len())
        );
        let mut read = sqlx::query(AssertSqlSafe(read));
        for id in &ids {
            read = read.bind(id);
        }
        let rows = read.fetch_all(&mut *transaction).await?;
        transaction.commit().await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn reenqueue_abandoned_once(
        &self,
        tasks: &[Task<Vec<u8>>],
        worker: &WorkerContext,
    ) -> Result<u64, MysqlQueueError> {
        let ids: Vec<String> = tasks
            .iter()
            .filter_map(|task| task.task_id().map(ToString::to_string))
            .collect();
        if ids.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "UPDATE etlify_queue_jobs j JOIN etlify_queue_workers w ON j.lock_by = w.id \
             SET j.status = 'Pending', j.done_at = NULL, j.lock_by = NULL, j.lock_at = NULL, \
                 j.attempts = j.attempts + 1, \
                 j.last_result = '{{\"Err\": \"Re-enqueued due to worker shutdown\"}}' \
             WHERE j.status = 'Queued' AND w.worker_type = ? AND w.id = ? AND j.id IN ({})",
            placeholders(ids.len())
        );
        let mut transaction = self.pool.begin().await?;
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(self.config.queue.to_string())
            .bind(worker.name());
        for id in &ids {
            query = query.bind(id);
        }
        let abandoned = query.execute(&mut *transaction).await?.rows_affected();
        if usize::try_from(abandoned).ok() != Some(tasks.len()) {
            return Err(MysqlQueueError::AbandonedMismatch {
                queued: tasks.len(),
                abandoned,
            });
        }
        transaction.commit().await?;
        Ok(abandoned)
    }

    async fn handle_events_once(
        &self,
        events: &[TaskEvent<Value>],
        worker: &WorkerContext,
    ) -> Result<(), MysqlQueueError> {
        let mut locks = Vec::new();
        let mut results: Vec<&TaskResult<Value>> = Vec::new();
        for event in events {
            match event {
                TaskEvent::Lock { task_id } => locks.push(task_id.to_string()),
                TaskEvent::Complete(result) => results.push(result),
                _ => {}
            }
        }
        if locks.is_empty() && results.is_empty() {
            return Ok(());
        }
        let mut transaction = self.pool.begin().await?;
        if !locks.is_empty() {
            let sql = format!(
                "UPDATE etlify_queue_jobs SET status = 'Running', lock_at = UNIX_TIMESTAMP(), lock_by = ? \
                 WHERE id IN ({}) AND (status IN ('Queued', 'Pending') \
                     OR (status = 'Failed' AND attempts < max_attempts))",
                placeholders(locks.len())
            );
            let mut query = sqlx::query(AssertSqlSafe(sql)).bind(worker.name());
            for id in &locks {
                query = query.bind(id);
            }
            query.execute(&mut *transaction).await?;
        }
        for result in results {
            sqlx::query(ACK)
                .bind(result.status.to_string())
                .bind(i64::try_from(result.attempt).unwrap_or(i64::MAX))
                .bind(serde_json::to_string(&result.result)?)
                .bind(result.task_id.to_string())
                .bind(worker.name())
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    async fn push_tasks_once(&self, tasks: &[Task<Vec<u8>>]) -> Result<(), MysqlQueueError> {
        let queue = self.config.queue.to_string();
        let mut transaction = self.pool.begin().await?;
        for task in tasks {
            let id = task
                .task_id()
                .map_or_else(|| ulid::Ulid::generate().to_string(), ToString::to_string);
            let run_at = task
                .run_at()
                .map_or_else(now_seconds, |at| i64::try_from(at).unwrap_or(i64::MAX));
            sqlx::query(PUSH)
                .bind(&task.args)
                .bind(id)
                .bind(&queue)
                .bind(i64::try_from(task.max_attempts().unwrap_or(25)).unwrap_or(i64::MAX))
                .bind(run_at)
                .bind(i64::try_from(task.priority().unwrap_or_default()).unwrap_or(i64::MAX))
                .bind(serde_json::to_string(task.metadata())?)
                .bind(task.idempotency_key())
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }
}

impl Persistence for MysqlPersistence {
    type Compact = Vec<u8>;
    type Response = Value;
    type Error = MysqlQueueError;

    async fn register(&mut self, worker: &WorkerContext) -> Result<(), MysqlQueueError> {
        retrying_lock_conflicts!(self.register_once(worker))
    }

    async fn heartbeat(&mut self, worker: &WorkerContext) -> Result<(), MysqlQueueError> {
        retrying_lock_conflicts!(self.heartbeat_once(worker))
    }

    /// A wake that comes while a fetch is in flight is spent on it
    /// (apalis fetches when its task is polled, and the poll a wake
    /// causes finds the fetch still running): an empty fetch during which
    /// a wake came reads again, since the job that woke it may have been
    /// committed after the read.
    async fn fetch_next(
        &mut self,
        worker: &WorkerContext,
    ) -> Result<Vec<Task<Vec<u8>>>, MysqlQueueError> {
        loop {
            let wakes = self.wakes.count();
            let tasks = retrying_lock_conflicts!(self.fetch_next_once(worker))?;
            if !tasks.is_empty() || self.wakes.count() == wakes {
                return Ok(tasks);
            }
        }
    }

    async fn reenqueue_abandoned(
        &mut self,
        tasks: Vec<Task<Vec<u8>>>,
        worker: &WorkerContext,
    ) -> Result<u64, MysqlQueueError> {
        retrying_lock_conflicts!(self.reenqueue_abandoned_once(&tasks, worker))
    }

    async fn handle_events(
        &mut self,
        events: Vec<TaskEvent<Value>>,
        worker: &WorkerContext,
    ) -> Result<(), MysqlQueueError> {
        retrying_lock_conflicts!(self.handle_events_once(&events, worker))
    }

    async fn push_tasks(&mut self, tasks: Vec<Task<Vec<u8>>>) -> Result<(), MysqlQueueError> {
        retrying_lock_conflicts!(self.push_tasks_once(&tasks))
    }
}

/// The queue's apalis backend on MySQL: a worker polls it like apalis's
/// SQLite and PostgreSQL storages; a queue pushes through it.
#[derive(Debug)]
pub(crate) struct MysqlStorage<Args> {
    persistence: Persisted<MysqlPersistence>,
    config: MysqlQueueConfig,
    codec: JsonCodec<Vec<u8>>,
    job_type: PhantomData<fn() -> Args>,
}

impl<Args> Clone for MysqlStorage<Args> {
    fn clone(&self) -> Self {
        Self {
            persistence: self.persistence.clone(),
            config: self.config.clone(),
            codec: self.codec.clone(),
            job_type: PhantomData,
        }
    }
}

impl<Args> MysqlStorage<Args> {
    pub(crate) fn new(pool: &MySqlPool, config: MysqlQueueConfig, wakes: FetchWake) -> Self {
        Self {
            persistence: Persisted::new(MysqlPersistence {
                pool: pool.clone(),
                config: config.clone(),
                wakes,
            }),
            config,
            codec: JsonCodec::default(),
            job_type: PhantomData,
        }
    }
}

impl<Args> Backend for MysqlStorage<Args> {
    type Task = Task<Vec<u8>>;
    type Error = MysqlQueueError;

    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        let heartbeat = self.config.heartbeat_interval;
        self.persistence.poll_ready(cx, worker, heartbeat)
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Option<Result<Task<Vec<u8>>, Self::Error>>> {
        self.persistence.poll_next(cx, worker)
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        worker: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        self.persistence.poll_close(cx, worker)
    }
}

impl<Args> BackendConfig for MysqlStorage<Args> {
    type Args = Args;
    type Id = ulid::Ulid;
    type Kind = Durable;
    type Config = MysqlQueueConfig;
    type Layer = TaskPersistLayer<JsonCodec<Value>, Value>;

    fn config(&self) -> &Self::Config {
        &self.config
    }

    fn middleware(&mut self, _: &mut WorkerContext) -> Self::Layer {
        let batch_size = self.config.batch_size;
        self.persistence
            .layer(JsonCodec::default(), batch_size)
            .persist_results(true)
            .lock_tasks(true)
    }
}

impl<Args> WireFormatBackend for MysqlStorage<Args> {
    type Codec = JsonCodec<Vec<u8>>;
    type Compact = Vec<u8>;

    fn codec(&self) -> &Self::Codec {
        &self.codec
    }
}

impl<Args> Sink<Task<Vec<u8>>> for MysqlStorage<Args> {
    type Error = MysqlQueueError;

    fn poll_ready(
        self: std::pin::Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: std::pin::Pin<&mut Self>, item: Task<Vec<u8>>) -> Result<(), Self::Error> {
        Sink::start_send(std::pin::Pin::new(&mut self.get_mut().persistence), item)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Self::Error>> {
        Sink::poll_flush(std::pin::Pin::new(&mut self.get_mut().persistence), cx)
    }

    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Self::Error>> {
        Sink::poll_close(std::pin::Pin::new(&mut self.get_mut().persistence), cx)
    }
}
