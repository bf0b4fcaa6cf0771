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
pub(crate) mod mysql_storage;
pub(crate) mod perform;
pub(crate) mod queue;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::Result;
use crate::id::ResourceId;
pub use crate::outcome::Enqueued;
use crate::outcome::SyncOutcome;
use crate::runs::{RunStats, RunTrigger};

pub(crate) use self::queue::FetchWake;
pub use self::queue::{JobQueue, QueueOptions, DEFAULT_QUEUE_NAME};

/// Sync one record with one CRM.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordJob {
    /// CRM name (G-23).
    pub crm: String,
    /// Resource type, e.g. `User`.
    pub model: String,
    /// The record's primary key: an integer is stored as the number it
    /// always was (form 1); a UUID or text key makes the job form 2.
    #[serde(with = "crate::id::stored")]
    pub id: ResourceId,
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
    /// What requested it, as the run history records it: the worker's
    /// loop ([`RunTrigger::Schedule`]) or a request
    /// ([`RunTrigger::Request`]). Absent from jobs queued before it
    /// existed, which are read as requests: an optional field, so the
    /// form's version is unchanged and an older worker reads a job with
    /// it (it ignores the field).
    #[serde(default = "RunTrigger::unrecorded_job")]
    pub trigger: RunTrigger,
}

/// Either job, as a queue stores it.
///
/// Stored as JSON with its form's version (`"v"`, [`JOB_VERSION`]): a job
/// queued by an earlier release (a form without `"v"` is version 1) is read
/// by every later one, so a worker upgraded while jobs wait runs them; a
/// job of a later form than this release knows is refused, naming both
/// versions, instead of being misread (upgrade that worker).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "wire::Job", try_from = "wire::Job")]
pub enum Job {
    /// A per-record sync.
    Record(RecordJob),
    /// A CRM's batch run.
    Batch(BatchJob),
}

/// The newest form of the jobs this release stores ([`Job`]): 2 for a
/// record job whose key is a UUID or a text. Every job is stored in the
/// oldest form that holds it, so integer-keyed jobs keep form 1 and an
/// older worker still runs them.
pub const JOB_VERSION: u32 = 2;

/// The oldest job form that holds a job.
trait Form {
    fn form(&self) -> u32;
}

impl Form for RecordJob {
    fn form(&self) -> u32 {
        if self.id.as_int().is_some() {
            1
        } else {
            2
        }
    }
}

impl Form for BatchJob {
    fn form(&self) -> u32 {
        1
    }
}

/// Jobs as stored: each form a release ever wrote, read back into [`Job`].
mod wire {
    use serde::{Deserialize, Serialize};

    use super::{BatchJob, Form, RecordJob, JOB_VERSION};

    /// A stored job: `{"job": "record", "v": 1, ...}`.
    #[derive(Serialize, Deserialize)]
    #[serde(tag = "job", rename_all = "snake_case")]
    pub(super) enum Job {
        Record(Versioned<RecordJob>),
        Batch(Versioned<BatchJob>),
    }

    #[derive(Serialize, Deserialize)]
    pub(super) struct Versioned<T> {
        /// Absent in jobs queued before versions were written: version 1.
        #[serde(default = "first_version")]
        v: u32,
        #[serde(flatten)]
        job: T,
    }

    fn first_version() -> u32 {
        1
    }

    impl<T: Form> Versioned<T> {
        fn current(job: T) -> Self {
            Self { v: job.form(), job }
        }

        /// The job, if this release knows its form.
        fn read(self) -> Result<T, String> {
            match self.v {
                // Form 2 only added non-integer keys to form 1: both read
                // as they are. An older form would be converted here.
                1 | 2 => Ok(self.job),
                v => Err(format!(
                    "a job of form version {v} was queued by a newer etlify; this worker \
                     reads versions up to {JOB_VERSION}: upgrade it"
                )),
            }
        }
    }

    impl From<super::Job> for Job {
        fn from(job: super::Job) -> Self {
            match job {
                super::Job::Record(job) => Job::Record(Versioned::current(job)),
                super::Job::Batch(job) => Job::Batch(Versioned::current(job)),
            }
        }
    }

    impl TryFrom<Job> for super::Job {
        type Error = String;

        fn try_from(job: Job) -> Result<Self, String> {
            Ok(match job {
                Job::Record(job) => super::Job::Record(job.read()?),
                Job::Batch(job) => super::Job::Batch(job.read()?),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record() -> Job {
        Job::Record(RecordJob {
            crm: "hubspot".into(),
            model: "User".into(),
            id: ResourceId::new(7),
            attempt: 2,
        })
    }

    #[test]
    fn jobs_are_stored_with_their_form_version() {
        let stored = serde_json::to_value(record()).unwrap();
        assert_eq!(
            stored,
            json!({"job": "record", "v": 1, "crm": "hubspot", "model": "User", "id": 7, "attempt": 2})
        );
        let batch = Job::Batch(BatchJob {
            crm: "hubspot".into(),
            attempt: 1,
            trigger: RunTrigger::Schedule,
        });
        let stored = serde_json::to_value(&batch).unwrap();
        assert_eq!(
            stored,
            json!({"job": "batch", "v": 1, "crm": "hubspot", "attempt": 1, "trigger": "schedule"})
        );
        assert_eq!(serde_json::from_value::<Job>(stored).unwrap(), batch);
    }

    /// A batch job queued before jobs carried their trigger is read, as a
    /// request.
    #[test]
    fn runs_a_batch_job_without_a_trigger_is_read_as_a_request() {
        let queued = json!({"job": "batch", "v": 1, "crm": "hubspot", "attempt": 3});
        assert_eq!(
            serde_json::from_value::<Job>(queued).unwrap(),
            Job::Batch(BatchJob {
                crm: "hubspot".into(),
                attempt: 3,
                trigger: RunTrigger::Request,
            })
        );
    }

    #[test]
    fn jobs_queued_before_versions_were_written_are_read() {
        let queued =
            json!({"job": "record", "crm": "hubspot", "model": "User", "id": 7, "attempt": 2});
        assert_eq!(serde_json::from_value::<Job>(queued).unwrap(), record());
    }

    #[test]
    fn a_job_of_a_newer_form_is_refused_naming_the_versions() {
        let queued = json!({"job": "record", "v": 3, "crm": "hubspot", "model": "User", "id": 7, "attempt": 2});
        let error = serde_json::from_value::<Job>(queued)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("form version 3") && error.contains("up to 2"),
            "{error}"
        );
    }

    fn keyed(id: ResourceId) -> Job {
        Job::Record(RecordJob {
            crm: "hubspot".into(),
            model: "User".into(),
            id,
            attempt: 1,
        })
    }

    #[test]
    fn uuid_and_text_key_jobs_are_form_2_and_read_back_as_the_same_key() {
        let uuid = sqlx::types::Uuid::parse_str("0191f2c4-8d4e-7a3b-9c1d-2e3f4a5b6c7d").unwrap();
        for (job, id) in [
            (
                keyed(ResourceId::uuid(uuid)),
                json!({"uuid": "0191f2c4-8d4e-7a3b-9c1d-2e3f4a5b6c7d"}),
            ),
            (
                keyed(ResourceId::text("acme-01")),
                json!({"text": "acme-01"}),
            ),
        ] {
            let stored = serde_json::to_value(&job).unwrap();
            assert_eq!(
                stored,
                json!({"job": "record", "v": 2, "crm": "hubspot", "model": "User", "id": id, "attempt": 1})
            );
            assert_eq!(serde_json::from_value::<Job>(stored).unwrap(), job);
        }
        // Integer keys keep form 1, which workers of every release read.
        let stored = serde_json::to_value(keyed(ResourceId::new(7))).unwrap();
        assert_eq!(stored["v"], 1);
        assert_eq!(stored["id"], 7);
    }
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
    /// The name batch runs record as their runner (a worker's).
    runner: Option<Arc<str>>,
}

impl JobContext {
    pub(crate) fn new(ctx: Context, handlers: Arc<JobHandlers>) -> Self {
        Self {
            ctx,
            handlers,
            runner: None,
        }
    }

    /// This job context with its batch runs recorded as run by `runner`
    /// (a worker's name) in the run history.
    pub(crate) fn with_runner(mut self, runner: &str) -> Self {
        self.runner = Some(Arc::from(runner));
        self
    }

    /// The name batch runs record as their runner, if set.
    pub(crate) fn runner(&self) -> Option<&str> {
        self.runner.as_deref()
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
            runner: self.runner.clone(),
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
