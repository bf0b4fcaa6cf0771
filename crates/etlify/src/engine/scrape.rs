//! A scrape of the engine's metrics: the counters and histograms as they
//! stand, and the gauges that need a query — where the records of each
//! (model, CRM) stand, the job queue — computed at most once per interval
//! (`EtlifyBuilder::metrics_min_interval`), so that any number of
//! scrapers costs the database one computation per interval.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use super::Etlify;
use crate::error::Result;
use crate::metrics::{unix_now, Metrics};
use crate::stale::standing;
use crate::store::job_requests;

/// When the query gauges were last computed, and how often they may be.
#[derive(Debug)]
pub(super) struct StatusGauges {
    min_interval: Duration,
    /// Held while computing: a scrape arriving meanwhile waits, then reads
    /// what the first computed.
    computed_at: Mutex<Option<Instant>>,
}

impl StatusGauges {
    pub(super) fn new(min_interval: Duration) -> Self {
        Self {
            min_interval,
            computed_at: Mutex::new(None),
        }
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
    /// ([`crate::EtlifyBuilder::metrics_min_interval`]). When that
    /// computation fails (the database unreachable), the last values are
    /// served, `etlify_status_computed_timestamp_seconds` shows their age,
    /// and the error is logged.
    pub async fn encode_metrics(&self) -> String {
        let gauges = &self.status_gauges;
        let mut computed_at = gauges.computed_at.lock().await;
        let due = computed_at.is_none_or(|at| at.elapsed() >= gauges.min_interval);
        if due {
            let started = Instant::now();
            match self.compute_status_gauges().await {
                Ok(()) => {
                    *computed_at = Some(started);
                    self.metrics().set_computed(unix_now(), started.elapsed());
                }
                Err(error) => tracing::warn!(
                    message = "Computing the status metrics failed; the last values are served.",
                    %error
                ),
            }
        }
        drop(computed_at);
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
                let counts = standing::count(&self.ctx, crm, name).await?;
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
