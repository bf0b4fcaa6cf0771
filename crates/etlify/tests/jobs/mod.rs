//! Sync jobs through the queue seam (the gem's two jobs; G-9,
//! G-10, G-18, G-23, X-10, X-13): requests deduplicated in the database,
//! a request made while its job runs never lost, retries with backoff,
//! batch jobs one at a time per CRM, follow-up work as jobs, and the two
//! handler options. The queues here record what is enqueued; the test
//! performs each job as a worker would (`worker.rs` runs the real one).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use etlify::adapters::{AdapterError, AdapterErrorKind};
use etlify::jobs::{
    BatchJob, BatchJobs, Enqueued, Job, JobOptions, JobReport, RecordJob, RecordJobs,
};
use etlify::{BatchSyncOptions, Crm, Etlify, Model, SyncDispatch, SyncOutcome};

use crate::support::adapter::RecordingAdapter;
use crate::support::{builder, company_model, user_model, user_with_company_dependency, TestDb};

/// A queue that keeps what is enqueued, with its delay.
#[derive(Debug, Default)]
pub struct RecordingQueue {
    records: Mutex<Vec<(RecordJob, Duration)>>,
    batches: Mutex<Vec<(BatchJob, Duration)>>,
}

impl RecordingQueue {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Takes every record job enqueued so far.
    pub fn take_records(&self) -> Vec<(RecordJob, Duration)> {
        std::mem::take(&mut *self.records.lock().unwrap())
    }

    /// Takes every batch job enqueued so far.
    pub fn take_batches(&self) -> Vec<(BatchJob, Duration)> {
        std::mem::take(&mut *self.batches.lock().unwrap())
    }
}

#[async_trait]
impl RecordJobs for RecordingQueue {
    async fn enqueue_record(&self, job: RecordJob, delay: Duration) -> etlify::Result<()> {
        self.records.lock().unwrap().push((job, delay));
        Ok(())
    }
}

#[async_trait]
impl BatchJobs for RecordingQueue {
    async fn enqueue_batch(&self, job: BatchJob, delay: Duration) -> etlify::Result<()> {
        self.batches.lock().unwrap().push((job, delay));
        Ok(())
    }
}

async fn queued_engine(
    db: &TestDb,
    crms: Vec<Crm>,
    models: Vec<Model>,
    queue: &Arc<RecordingQueue>,
) -> Etlify {
    builder(db.store.clone(), crms, models)
        .record_jobs(queue.clone())
        .batch_jobs(queue.clone())
        .job_options(JobOptions::new().max_attempts(3))
        .build()
        .await
        .expect("engine builds")
}

async fn queued_users(
    db: &TestDb,
    adapter: Arc<RecordingAdapter>,
) -> (Etlify, Arc<RecordingQueue>) {
    let queue = RecordingQueue::new();
    let etlify = queued_engine(
        db,
        vec![Crm::new("hubspot", adapter)],
        vec![user_model(&["hubspot"])],
        &queue,
    )
    .await;
    (etlify, queue)
}

fn record_job(id: i64) -> Job {
    Job::Record(RecordJob {
        crm: "hubspot".into(),
        model: "User".into(),
        id: id.into(),
        attempt: 1,
    })
}

fn transient(message: &str) -> AdapterError {
    AdapterError::new(AdapterErrorKind::Transient, message).status(503)
}

fn report_reason(report: &JobReport) -> String {
    match report {
        JobReport::Rescheduled { reason, .. } | JobReport::GaveUp { reason } => reason.clone(),
        _ => String::new(),
    }
}

// The database tests, compiled once per backend: `jobs::sqlite::…` and
// `jobs::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
