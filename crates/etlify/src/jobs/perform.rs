//! Requesting and running jobs: the bookkeeping in `etlify_job_requests`
//! around the synchronizer and the batch run, retries with backoff, and
//! the job that runs again after a request made while one ran.
//!
//! Retries (X-3, X-10; the gem's were unbounded and ignored the server): failures the
//! synchronizer records on the record's row (a rejected payload) end the
//! job: the finder retries them within the error budget. Other failures
//! (the database, the CRM unreachable or throttling after the adapter's own
//! retries) reschedule the job after the CRM's `Retry-After`, else a
//! doubling delay, up to [`JobOptions::max_attempts`](super::JobOptions)
//! runs; a configuration error gives up at once.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{BatchJob, Enqueued, Job, JobContext, JobReport, RecordJob};
use crate::error::{Error, ErrorKind, Result};
use crate::id::SyncKey;
use crate::runs::batch_run::{self, BatchSyncOptions, RunStats};
use crate::runs::RunTrigger;
use crate::store::job_requests::{self, Finished, JobKey, Requested};
use crate::store::leases::batch_run::{batch_run_name, time_left};
use crate::sync::Synchronizer;

/// The longest a batch job waits when another batch run of its CRM holds
/// the CRM's lease (the gem's `DEFAULT_RETRY_AFTER`); see [`held_delay`].
pub(crate) const BUSY_DELAY: Duration = Duration::from_secs(10);

/// The shortest wait of a batch job whose CRM or records are held (the
/// queue counts delays in whole seconds).
const MIN_BUSY_DELAY: Duration = Duration::from_secs(1);

/// How long a batch job whose CRM is held waits: until the holder's lease
/// would end (`time_left` by the database's clock, rounded up to whole
/// seconds), at least [`MIN_BUSY_DELAY`], at most [`BUSY_DELAY`]. A holder
/// that died is taken over as soon as its lease has expired; a live one,
/// which renews it, is looked at again every 10 s at most.
fn held_delay(time_left: Option<Duration>) -> Duration {
    let left = time_left.unwrap_or(Duration::ZERO);
    let whole_seconds = Duration::from_secs(left.as_secs() + u64::from(left.subsec_nanos() > 0));
    whole_seconds.clamp(MIN_BUSY_DELAY, BUSY_DELAY)
}

/// How long a batch job that left records held by another sync waits: a
/// third of the lease's time to live ([`crate::StoreOptions::lease_ttl`];
/// 5 s by default), at most [`BUSY_DELAY`]: a dead run's page lock ends
/// within its time to live.
fn deferred_delay(lease_ttl: Duration) -> Duration {
    (lease_ttl / 3).clamp(MIN_BUSY_DELAY, BUSY_DELAY)
}

fn record_key(job: &RecordJob) -> JobKey {
    JobKey::Record {
        crm_name: job.crm.clone(),
        resource_type: job.model.clone(),
        id: job.id.clone(),
    }
}

fn batch_key(job: &BatchJob) -> JobKey {
    JobKey::Batch {
        crm_name: job.crm.clone(),
    }
}

/// Requests a sync job for `key`: queued once while queued, once more
/// after a running one (X-1: the gem dropped requests made while one ran).
pub(crate) async fn request_record(ctx: &JobContext, key: &SyncKey) -> Result<Enqueued> {
    let job = RecordJob {
        crm: key.crm_name.clone(),
        model: key.resource_type.clone(),
        id: key.resource_id.clone(),
        attempt: 1,
    };
    request(ctx, record_key(&job), Job::Record(job)).await
}

/// Requests the batch job of `crm` (one queued at a time, G-10);
/// `trigger` says who asked, for the run history.
pub(crate) async fn request_batch(
    ctx: &JobContext,
    crm: &str,
    trigger: RunTrigger,
) -> Result<Enqueued> {
    let job = BatchJob {
        crm: crm.to_owned(),
        attempt: 1,
        trigger,
    };
    request(ctx, batch_key(&job), Job::Batch(job)).await
}

/// Records the request for `job` and queues it unless one is queued or
/// running already.
async fn request(ctx: &JobContext, key: JobKey, job: Job) -> Result<Enqueued> {
    let requested = job_requests::request(ctx.store(), &key).await?;
    Ok(match requested {
        Requested::New => {
            enqueue_or_forget(ctx, &key, job, Duration::ZERO).await?;
            Enqueued::New
        }
        Requested::Queued => Enqueued::AlreadyQueued,
        Requested::AfterRunning => Enqueued::AfterRunning,
    })
}

/// Hands `job` to its queue; a job that could not be queued leaves no row
/// (the next request tries again instead of counting on it).
async fn enqueue_or_forget(
    ctx: &JobContext,
    key: &JobKey,
    job: Job,
    delay: Duration,
) -> Result<()> {
    let enqueued = enqueue(ctx, job, delay).await;
    if enqueued.is_err() {
        job_requests::forget(ctx.store(), key).await?;
    }
    enqueued
}

/// Queues `job` to run after `delay`; its request row is left as it is
/// (a stopping worker hands a job back this way before running it).
pub(crate) async fn enqueue(ctx: &JobContext, job: Job, delay: Duration) -> Result<()> {
    let handlers = ctx.jobs();
    match job {
        Job::Record(job) => match &handlers.record {
            Some(queue) => queue.enqueue_record(job, delay).await,
            None => Err(Error::queue(
                "no record job queue is configured; run the sync inline",
                None,
            )),
        },
        Job::Batch(job) => match &handlers.batch {
            Some(queue) => queue.enqueue_batch(job, delay).await,
            None => Err(Error::queue(
                "no batch job queue is configured; run the batch sync inline",
                None,
            )),
        },
    }
}

/// Runs `job`; `stop` ends a batch run early (a worker shutting down), its
/// rest rescheduled at once.
pub(crate) async fn perform(
    ctx: &JobContext,
    job: &Job,
    stop: Option<Arc<AtomicBool>>,
) -> Result<JobReport> {
    match job {
        Job::Record(job) => perform_record(ctx, job).await,
        Job::Batch(job) => perform_batch(ctx, job, stop).await,
    }
}

async fn perform_record(ctx: &JobContext, job: &RecordJob) -> Result<JobReport> {
    let key = record_key(job);
    job_requests::start(ctx.store(), &key).await?;
    // Values in the CRM's form before the worker's first batch run too. A
    // CRM or model the configuration lacks is the sync's error, below.
    let _ = crate::crm_schema::learn(ctx.context(), &job.crm, &job.model).await;
    let synced = Synchronizer::new(ctx.context())
        .call(&job.crm, &job.model, job.id.clone())
        .await;
    let report = match synced {
        Ok(outcome) => JobReport::Record(outcome),
        Err(Error::RecordNotFound { .. }) => JobReport::RecordGone,
        Err(error) => {
            let next = RecordJob {
                attempt: job.attempt + 1,
                ..job.clone()
            };
            return retry_or_give_up(ctx, &key, job.attempt, Job::Record(next), &error).await;
        }
    };
    ended(
        ctx,
        &key,
        Job::Record(RecordJob {
            attempt: 1,
            ..job.clone()
        }),
    )
    .await?;
    Ok(report)
}

async fn perform_batch(
    ctx: &JobContext,
    job: &BatchJob,
    stop: Option<Arc<AtomicBool>>,
) -> Result<JobReport> {
    let key = batch_key(job);
    job_requests::start(ctx.store(), &key).await?;
    let started = Instant::now();
    let mut options = BatchSyncOptions::new()
        .crm(job.crm.as_str())
        .trigger(job.trigger)
        .runner(ctx.runner().map(str::to_owned));
    if let Some(stop) = stop {
        options = options.stop_when(stop);
    }
    let alive = keep_alive(ctx, &key);
    let ran = batch_run::run(ctx.context(), &options).await;
    alive.abort();
    let stats = match ran {
        Ok(stats) => stats,
        Err(error) => {
            let next = BatchJob {
                attempt: job.attempt + 1,
                ..job.clone()
            };
            return retry_or_give_up(ctx, &key, job.attempt, Job::Batch(next), &error).await;
        }
    };
    log_run(&job.crm, &stats, started.elapsed());
    if stats.stopped {
        // The worker is stopping: another one takes the rest now.
        reschedule(ctx, &key, Job::Batch(job.clone()), Duration::ZERO).await?;
        return Ok(JobReport::Rescheduled {
            delay: Duration::ZERO,
            reason: "the worker stopped before the run ended".to_owned(),
        });
    }
    let held = stats.busy.contains(&job.crm);
    if held || stats.deferred > 0 {
        // Waiting is not an attempt: the other run holds the CRM only while
        // it lives (its lease ends within its time to live if it died).
        let (delay, reason) = if held {
            let left = time_left(ctx.store(), &batch_run_name(&job.crm)).await?;
            (
                held_delay(left),
                format!("another batch run of {} is under way", job.crm),
            )
        } else {
            (
                deferred_delay(ctx.store().lease_ttl()),
                format!(
                    "{} records were held by another sync (a run that died?)",
                    stats.deferred
                ),
            )
        };
        reschedule(ctx, &key, Job::Batch(job.clone()), delay).await?;
        tracing::info!(message = "Batch run waits for other syncs of its CRM.", crm = %job.crm, delay_ms = delay.as_millis() as u64, %reason);
        return Ok(JobReport::Rescheduled { delay, reason });
    }
    if let Some(throttled) = stats.interrupted.iter().find(|i| i.retriable) {
        let next = Job::Batch(BatchJob {
            attempt: job.attempt + 1,
            ..job.clone()
        });
        let (server_delay, reason) = (throttled.retry_after, &throttled.message);
        if let Some(report) = try_again(ctx, &key, job.attempt, next, server_delay, reason).await? {
            return Ok(report);
        }
        tracing::error!(message = "Batch job gave up after its last attempt; the next run picks up what is left.", crm = %job.crm, attempt = job.attempt, %reason);
    }
    ended(
        ctx,
        &key,
        Job::Batch(BatchJob {
            attempt: 1,
            ..job.clone()
        }),
    )
    .await?;
    Ok(JobReport::Batch(Box::new(stats)))
}

/// Refreshes the row of a running job every third of [`STALE_AFTER`](job_requests::STALE_AFTER)
/// until aborted.
fn keep_alive(ctx: &JobContext, key: &JobKey) -> tokio::task::JoinHandle<()> {
    let (store, key) = (ctx.store().clone(), key.clone());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(job_requests::STALE_AFTER / 3).await;
            if let Err(error) = job_requests::keep_alive(&store, &key).await {
                tracing::warn!(message = "Marking a running job alive failed.", %error);
            }
        }
    })
}

/// The structured log line of one batch run.
fn log_run(crm: &str, stats: &RunStats, took: Duration) {
    let outcomes = stats.per_crm.get(crm).copied().unwrap_or_default();
    tracing::info!(
        message = "Batch run finished.",
        crm,
        found = stats.total,
        synced = outcomes.synced,
        not_modified = outcomes.not_modified,
        skipped = outcomes.skipped,
        buffered = outcomes.buffered,
        errors = stats.errors,
        in_doubt = outcomes.in_doubt,
        ran_to_end = stats.is_complete(),
        interrupted = stats.interrupted.len(),
        duration_ms = took.as_millis() as u64
    );
}

/// A job that failed with `error` on attempt `attempt`: queued again as
/// `next` after a delay, or given up.
async fn retry_or_give_up(
    ctx: &JobContext,
    key: &JobKey,
    attempt: u32,
    next: Job,
    error: &Error,
) -> Result<JobReport> {
    if !matches!(error.kind(), ErrorKind::Config) {
        let server_delay = match error {
            Error::Adapter(adapter) => adapter.retry_after,
            _ => None,
        };
        let reason = error.to_string();
        if let Some(report) = try_again(ctx, key, attempt, next, server_delay, &reason).await? {
            return Ok(report);
        }
    }
    tracing::error!(message = "Job gave up; the record stays stale and the next batch run picks it up.", attempt, %error);
    job_requests::forget(ctx.store(), key).await?;
    Ok(JobReport::GaveUp {
        reason: error.to_string(),
    })
}

/// Queues `next` after the server's delay (else the backoff of `attempt`)
/// when attempts remain; `None` when this was the last one.
async fn try_again(
    ctx: &JobContext,
    key: &JobKey,
    attempt: u32,
    next: Job,
    server_delay: Option<Duration>,
    reason: &str,
) -> Result<Option<JobReport>> {
    let options = ctx.jobs().options;
    if attempt >= options.max_attempts {
        return Ok(None);
    }
    let delay = options.backoff(attempt, server_delay);
    reschedule(ctx, key, next, delay).await?;
    tracing::warn!(message = "Job failed; rescheduled.", attempt, delay_ms = delay.as_millis() as u64, %reason);
    Ok(Some(JobReport::Rescheduled {
        delay,
        reason: reason.to_owned(),
    }))
}

/// Queues `job` again after `delay`, its row kept (queued, not running).
async fn reschedule(ctx: &JobContext, key: &JobKey, job: Job, delay: Duration) -> Result<()> {
    job_requests::requeue(ctx.store(), key).await?;
    enqueue_or_forget(ctx, key, job, delay).await
}

/// The job of `key` ended; `again` runs if a request came meanwhile.
async fn ended(ctx: &JobContext, key: &JobKey, again: Job) -> Result<()> {
    if job_requests::finish(ctx.store(), key).await? == Finished::RunAgain {
        enqueue_or_forget(ctx, key, again, Duration::ZERO).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job whose CRM is held comes back when the holder's lease would
    /// end, in whole seconds, between 1 s and 10 s; one that left a dead
    /// run's records comes back after a third of the lease's time to live.
    #[test]
    fn probe_a_held_crms_job_comes_back_when_the_holders_lease_ends() {
        let ms = Duration::from_millis;
        for (time_left, delay) in [
            (None, ms(1_000)),
            (Some(Duration::ZERO), ms(1_000)),
            (Some(ms(300)), ms(1_000)),
            (Some(ms(2_000)), ms(2_000)),
            (Some(ms(2_001)), ms(3_000)),
            (Some(ms(14_900)), ms(10_000)),
        ] {
            assert_eq!(held_delay(time_left), delay, "{time_left:?} left");
        }
        for (ttl, delay) in [(15, 5), (3, 1), (60, 10)] {
            assert_eq!(
                deferred_delay(Duration::from_secs(ttl)),
                Duration::from_secs(delay)
            );
        }
    }
}
