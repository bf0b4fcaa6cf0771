//! Sync jobs and the queue seam (the gem's two jobs; G-9, G-10,
//! G-18, G-23, X-10, X-13).
//!
//! Two kinds of job, each carrying its CRM's name (G-23):
//! - [`RecordJob`]: sync one record (what [`crate::Etlify::sync`] enqueues
//!   when a queue is configured, and what follow-up work becomes);
//! - [`BatchJob`]: one CRM's batch run, which finds its stale records
//!   itself (what [`crate::Etlify::batch_sync_async`] and the worker's
//!   loop enqueue).
//!
//! Where jobs go is two separate options: a [`RecordJobs`] and a
//! [`BatchJobs`]. [`JobQueue`] (apalis, on the application's SQLite or
//! PostgreSQL) implements both; an application with its own queue
//! implements either and, in its worker, calls [`crate::Etlify::perform`],
//! which runs the job under the CRM's limiter and the database-held locks.
//!
//! Deduplication, single flight and "a request made while its job runs is
//! never lost" are Etlify's own, in the database (`store/job_requests.rs`),
//! whatever the queue: a queue only has to deliver each job at least once.
//!
//! - `perform.rs`: running a job, its retries and what it enqueues next;
//! - `follow_up.rs`: follow-up syncs as record jobs;
//! - `queue.rs`: the built-in queue on apalis.

pub(crate) mod follow_up;
pub(crate) mod perform;
pub(crate) mod queue;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::Result;
pub use crate::outcome::Enqueued;
use crate::outcome::SyncOutcome;
use crate::runs::RunStats;

pub use self::queue::{JobQueue, QueueOptions, DEFAULT_QUEUE_NAME};

/// Sync one record with one CRM.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordJob {
    /// CRM name (G-23).
    pub crm: String,
    /// Resource type, e.g. `User`.
    pub model: String,
    /// The record's primary key.
    pub id: i64,
    /// 1 for the first run; retries count up to [`JobOptions::max_attempts`].
    pub attempt: u32,
}

/// One CRM's batch run over every model bound to it; the job finds the
/// stale records itself (X-9: nothing grows with the table).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BatchJob {
    /// CRM name (G-23).
    pub crm: String,
    /// 1 for the first run; reschedules after throttling count up.
    pub attempt: u32,
}

/// Either job, as a queue stores it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// A per-record sync.
    Record(RecordJob),
    /// A CRM's batch run.
    Batch(BatchJob),
}

/// Where per-record sync jobs go.
#[async_trait]
pub trait RecordJobs: Send + Sync + fmt::Debug {
    /// Queues `job` to run after `delay` (zero: as soon as possible). The
    /// queue's worker then calls [`crate::Etlify::perform`] with it.
    async fn enqueue_record(&self, job: RecordJob, delay: Duration) -> Result<()>;
}

/// Where batch sync jobs go.
#[async_trait]
pub trait BatchJobs: Send + Sync + fmt::Debug {
    /// Queues `job` to run after `delay` (zero: as soon as possible). The
    /// queue's worker then calls [`crate::Etlify::perform`] with it.
    async fn enqueue_batch(&self, job: BatchJob, delay: Duration) -> Result<()>;
}

/// Default number of runs of a job before it gives up.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;

/// Default first retry delay; each retry doubles it.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(10);

/// Longest delay between two attempts when the CRM gives none.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(600);

/// How jobs retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobOptions {
    max_attempts: u32,
    retry_delay: Duration,
}

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            retry_delay: DEFAULT_RETRY_DELAY,
        }
    }
}

impl JobOptions {
    /// Defaults: 5 attempts, 10 s before the first retry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs of a job before it gives up (at least 1; default 5). Errors the
    /// synchronizer records on the record's row (a rejected payload) are
    /// not retried by the job: the finder retries them within the error
    /// budget (G-16).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Delay before the first retry when the CRM gives none (`Retry-After`);
    /// doubled at each retry, at most 10 minutes.
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// Runs of a job before it gives up.
    pub fn get_max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Delay before the first retry.
    pub fn get_retry_delay(&self) -> Duration {
        self.retry_delay
    }

    /// The delay before attempt `attempt + 1`, unless the server said.
    pub(crate) fn backoff(&self, attempt: u32, server_delay: Option<Duration>) -> Duration {
        if let Some(delay) = server_delay {
            return delay;
        }
        let doublings = attempt.saturating_sub(1).min(16);
        self.retry_delay
            .saturating_mul(1 << doublings)
            .min(MAX_RETRY_DELAY.max(self.retry_delay))
    }
}

/// The job handlers of an engine: where record and batch jobs go, and how
/// they retry.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobHandlers {
    pub(crate) record: Option<Arc<dyn RecordJobs>>,
    pub(crate) batch: Option<Arc<dyn BatchJobs>>,
    pub(crate) options: JobOptions,
}

/// What requesting and running jobs take: the engine's context and where
/// its jobs go. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct JobContext {
    ctx: Context,
    handlers: Arc<JobHandlers>,
}

impl JobContext {
    pub(crate) fn new(ctx: Context, handlers: Arc<JobHandlers>) -> Self {
        Self { ctx, handlers }
    }

    /// The context the synchronizers and batch runs take.
    pub(crate) fn context(&self) -> &Context {
        &self.ctx
    }

    /// The database.
    pub(crate) fn store(&self) -> &crate::store::Store {
        self.ctx.store()
    }

    /// Where jobs go, and how they retry.
    pub(crate) fn jobs(&self) -> &JobHandlers {
        &self.handlers
    }

    /// This job context on `store` (see [`Context::with_store`]).
    pub(crate) fn with_store(&self, store: crate::store::Store) -> Self {
        Self {
            ctx: self.ctx.with_store(store),
            handlers: self.handlers.clone(),
        }
    }
}

/// What running a job did ([`crate::Etlify::perform`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobReport {
    /// A record job ran the synchronizer.
    Record(SyncOutcome),
    /// The record of a record job no longer exists (or is outside its
    /// payload query): nothing to do, as in the gem.
    RecordGone,
    /// A batch job ran its CRM's batch sync (see [`RunStats::is_complete`]).
    Batch(Box<RunStats>),
    /// The job failed and was queued again, to run after `delay`.
    Rescheduled {
        /// Delay before the next attempt.
        delay: Duration,
        /// Why (an error, another batch run of the CRM under way, a stop).
        reason: String,
    },
    /// The job failed its last attempt (or cannot succeed: a configuration
    /// error); it is not queued again. The records stay stale, so the next
    /// batch run picks them up.
    GaveUp {
        /// The last error.
        reason: String,
    },
}
