//! Building an [`Etlify`]: declarations in, the engine out, validated
//! against the database before anything runs.

use std::sync::Arc;
use std::time::Duration;

use super::Etlify;
use crate::catalog::{Catalog, Declarations};
use crate::config::Config;
use crate::context::{share_rate_limits, Context, FollowUp};
use crate::crm::Crm;
use crate::error::Result;
use crate::jobs::follow_up::QueuedFollowUp;
use crate::jobs::{self, BatchJobs, JobHandlers, JobOptions, RecordJobs};
use crate::metrics::{Metrics, DEFAULT_METRICS_MIN_INTERVAL};
use crate::model::Model;
use crate::store::Store;
use crate::sync::follow_up::InlineFollowUp;

/// Builds an [`Etlify`].
#[derive(Debug)]
pub struct EtlifyBuilder {
    store: Store,
    declarations: Declarations,
    jobs: JobHandlers,
    metrics_min_interval: Duration,
    metrics_change_latency: bool,
}

impl EtlifyBuilder {
    /// A builder with nothing declared ([`Etlify::builder`]).
    pub(super) fn new(store: Store) -> Self {
        Self {
            store,
            declarations: Declarations::default(),
            jobs: JobHandlers::default(),
            metrics_min_interval: DEFAULT_METRICS_MIN_INTERVAL,
            metrics_change_latency: false,
        }
    }

    /// Global settings.
    pub fn config(mut self, config: Config) -> Self {
        self.declarations.config = config;
        self
    }

    /// Registers a CRM (a later one with the same name replaces it, as in the gem).
    pub fn crm(mut self, crm: Crm) -> Self {
        self.declarations.crms.push(crm);
        self
    }

    /// Declares a model.
    pub fn model(mut self, model: Model) -> Self {
        self.declarations.models.push(model);
        self
    }

    /// Sends per-record and batch jobs to the built-in queue (both of
    /// [`EtlifyBuilder::record_jobs`] and [`EtlifyBuilder::batch_jobs`]).
    pub fn queue(self, queue: jobs::JobQueue) -> Self {
        let shared = std::sync::Arc::new(queue);
        self.record_jobs(shared.clone()).batch_jobs(shared)
    }

    /// Where per-record sync jobs go: [`Etlify::sync`] and follow-up
    /// syncs (dependencies, waiting dependents) are requested there.
    pub fn record_jobs(mut self, queue: std::sync::Arc<dyn RecordJobs>) -> Self {
        self.jobs.record = Some(queue);
        self
    }

    /// Where batch jobs go: [`Etlify::batch_sync_async`] and the
    /// worker's loop request them there.
    pub fn batch_jobs(mut self, queue: std::sync::Arc<dyn BatchJobs>) -> Self {
        self.jobs.batch = Some(queue);
        self
    }

    /// How jobs retry (default: 5 attempts, from 10 s, doubling).
    pub fn job_options(mut self, options: JobOptions) -> Self {
        self.jobs.options = options;
        self
    }

    /// The least time between two computations of the metrics that need a
    /// query (records per standing, the job queue): a scrape within it
    /// reads the last values ([`Etlify::encode_metrics`]; default
    /// [`DEFAULT_METRICS_MIN_INTERVAL`], 15 s).
    pub fn metrics_min_interval(mut self, interval: Duration) -> Self {
        self.metrics_min_interval = interval;
        self
    }

    /// Observes `etlify_change_to_crm_seconds` (default off): each page
    /// then reads its records' timestamp column beside their payloads, a
    /// second read of the page's rows that costs a first sync about a
    /// tenth of its rate (docs/BENCHMARKS.md, "Metrics").
    pub fn metrics_change_latency(mut self, on: bool) -> Self {
        self.metrics_change_latency = on;
        self
    }

    /// Validates everything and builds the engine. Fails with a
    /// [`crate::ConfigError`] before any record is touched.
    pub async fn build(self) -> Result<Etlify> {
        let catalog = Catalog::build(&self.store, self.declarations).await?;
        share_rate_limits(&self.store, &catalog).await;
        let metrics = engine_metrics(&catalog).with_change_latency(self.metrics_change_latency);
        let jobs = Arc::new(self.jobs);
        // The face decides where follow-up work goes; the inner layers
        // only see the seam.
        let follow_up: Arc<dyn FollowUp> = match jobs.record {
            Some(_) => Arc::new(QueuedFollowUp::new(jobs.clone())),
            None => Arc::new(InlineFollowUp),
        };
        Ok(Etlify {
            ctx: Context::new(self.store, catalog, follow_up, metrics),
            jobs,
            status_gauges: Arc::new(super::scrape::StatusGauges::new(self.metrics_min_interval)),
        })
    }
}

/// The engine's metrics, a series per registered CRM and per binding;
/// each CRM's limits count its requests in them.
fn engine_metrics(catalog: &Catalog) -> Metrics {
    let bindings: Vec<(&str, &str)> = catalog
        .models()
        .flat_map(|model| {
            model
                .bindings
                .keys()
                .map(|crm| (crm.as_str(), model.resource_type.as_str()))
        })
        .collect();
    let metrics = Metrics::new(
        catalog.resolved_crms().map(|crm| crm.name.as_str()),
        bindings,
    );
    for crm in catalog.resolved_crms() {
        if let Some(series) = metrics.crm(&crm.name) {
            crm.limits().record_into(series.clone());
        }
    }
    metrics
}
