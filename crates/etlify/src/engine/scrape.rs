//! A scrape of the engine's metrics: the counters and histograms as they
//! stand, and the gauges that need a query — where the records of each
//! (model, CRM) stand, the job queue — computed at most once per interval
//! (`EtlifyBuilder::metrics_min_interval`), so that any number of
//! scrapers costs the database one computation per interval; and never
//! sooner than [`COST_MULTIPLE`] times the last computation's time after
//! it, so that it takes at most a tenth of the database's time, whatever
//! the interval.
//!
//! Where records stand is counted from the last batch run's checkpoint
//! (`standing::count_since_checkpoint`): only what changed since it, the
//! failing and waiting records and the records above its highest id are
//! classed, plus one count of the table: 0.2 s on SQLite and 0.56 s on
//! PostgreSQL at 1M records with 10,000 changed since the last run
//! (docs/BENCHMARKS.md "Metrics"). Without a checkpoint
//! that applies (no batch run went to the end within the complete-check
//! interval, or the finder's definition changed) the whole table is
//! classed as `etlify status` does: seconds at 1M records.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::Etlify;
use crate::error::Result;
use crate::metrics::{unix_now, Metrics};
use crate::stale::standing;
use crate::store::job_requests;

/// The least time between two computations, as a multiple of the last
/// one's duration.
const COST_MULTIPLE: u32 = 10;

/// When the query gauges were last computed, and how often they may be.
#[derive(Debug)]
pub(super) struct StatusGauges {
    min_interval: Duration,
    /// When the last computation started and what it took. Held while
    /// computing: a scrape arriving meanwhile waits, then reads what the
    /// first computed.
    computed: Mutex<Option<(Instant, Duration)>>,
}

impl StatusGauges {
    pub(super) fn new(min_interval: Duration) -> Self {
        Self {
            min_interval,
            computed: Mutex::new(None),
        }
    }

    /// Whether a computation that started at `at` and took `took` is old
    /// enough to be done again.
    fn due(&self, last: Option<(Instant, Duration)>) -> bool {
        last.is_none_or(|(at, took)| at.elapsed() >= self.min_interval.max(took * COST_MULTIPLE))
    }
}

impl Etlify {
    /// The engine's metric families ([`Metrics::encode`] gives their text
    /// without computing the gauges that need a query).
    pub fn metrics(&self) -> &Metrics {
        self.ctx.metrics()
    }

    /// The engine's metrics in the OpenMetrics text format
    /// ([`crate::METRICS_CONTENT_TYPE`]), for a Prometheus scrape: the
    /// gauges that need a query (`etlify_records`, `etlify_jobs`,
    /// `etlify_oldest_queued_job_age_seconds`) are computed first when
    /// their last computation is older than the interval
    /// ([`crate::EtlifyBuilder::metrics_min_interval`]) and than ten times
    /// what it took. When that
    /// computation fails (the database unreachable), the last values are
    /// served, `etlify_status_computed_timestamp_seconds` shows their age,
    /// and the error is logged.
    pub async fn encode_metrics(&self) -> String {
        let gauges = &self.status_gauges;
        let mut computed = gauges.computed.lock().await;
        if gauges.due(*computed) {
            let started = Instant::now();
            match self.compute_status_gauges().await {
                Ok(()) => {
                    let took = started.elapsed();
                    *computed = Some((started, took));
                    self.metrics().set_computed(unix_now(), took);
                }
                Err(error) => tracing::warn!(
                    message = "Computing the status metrics failed; the last values are served.",
                    %error
                ),
            }
        }
        drop(computed);
        self.metrics().encode()
    }

    /// Sets the gauges of where each (model, enabled CRM)'s records stand
    /// (the counts of [`Etlify::status`], without its archive plan) and of
    /// the job queue.
    async fn compute_status_gauges(&self) -> Result<()> {
        let catalog = self.ctx.catalog();
        for model in catalog.models() {
            let crms = model.bindings.keys().filter(|crm| catalog.crm_enabled(crm));
            for crm in crms {
                let name = model.resource_type.as_str();
                let counts = match standing::count_since_checkpoint(&self.ctx, crm, name).await? {
                    Some(counts) => counts,
                    None => standing::count(&self.ctx, crm, name).await?,
                };
                // In the order of `metrics::STANDINGS`.
                self.metrics().set_standing(
                    crm,
                    name,
                    [
                        counts.in_sync,
                        counts.stale,
                        counts.never_synced,
                        counts.failing,
                        counts.over_budget,
                        counts.waiting,
                    ],
                );
            }
        }
        let store = self.store();
        let (queued, running) = job_requests::counts(store).await?;
        let oldest_age = match job_requests::oldest_queued(store).await? {
            Some(oldest) => (store.now().await? - oldest).to_std().unwrap_or_default(),
            None => Duration::ZERO,
        };
        self.metrics().set_jobs(queued, running, oldest_age);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A computation is due after the interval, or after ten times its
    /// own time when that is longer.
    #[tokio::test(start_paused = true)]
    async fn metrics_a_slow_computation_waits_ten_times_its_time() {
        let gauges = StatusGauges::new(Duration::from_secs(15));
        assert!(gauges.due(None));
        let fast = Some((Instant::now(), Duration::from_millis(5)));
        let slow = Some((Instant::now(), Duration::from_secs(6)));
        tokio::time::advance(Duration::from_secs(15)).await;
        assert!(gauges.due(fast));
        assert!(!gauges.due(slow));
        tokio::time::advance(Duration::from_secs(45)).await;
        assert!(gauges.due(slow));
    }
}
