//! The [`Etlify`] handle: the public face, thin over the internal context
//! (`context.rs`). Every `impl Etlify` is here; what it does is decided in
//! `sync/` (one record, a batch), `stale/` (what is stale, batch runs) and
//! `catalog/` (checking declarations).
//!
//! [`EtlifyBuilder::build`] validates the whole configuration against the
//! database before anything runs (docs/BEHAVIOUR.md, "Bad input"): unknown CRMs in bindings,
//! duplicate models, missing tables and columns, payload queries that do
//! not run or lack their key column.

use std::sync::Arc;

use crate::catalog::{Catalog, Declarations};
use crate::config::Config;
use crate::context::{share_rate_limits, Context, FollowUp};
use crate::crm::{Crm, CrmRegistry};
use crate::error::Result;
use crate::id::{ResourceId, SyncKey};
use crate::jobs::follow_up::QueuedFollowUp;
use crate::jobs::{
    self, BatchJobs, Enqueued, Job, JobContext, JobHandlers, JobOptions, JobReport, RecordJobs,
};
use crate::model::Model;
use crate::outcome::{DeleteOutcome, SyncDispatch};
use crate::runs::batch_run;
use crate::runs::{BatchSyncOptions, PlanEntry, RecordDiff, RunStats};
use crate::stale::StaleIds;
use crate::store::lease::{batch_run_name, Lease};
use crate::store::schema::{self, SchemaReport};
use crate::store::{checkpoint, pending, sync_rows, Store, SyncRow};
use crate::sync::follow_up::InlineFollowUp;
use crate::sync::{BatchSynchronizer, Deleter, Synchronizer};

/// The engine: cheap to clone, shareable across tasks.
#[derive(Debug, Clone)]
pub struct Etlify {
    ctx: Context,
    jobs: Arc<JobHandlers>,
}

/// What [`Etlify::forget`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Forgotten {
    /// A batch run of the CRM was under way: nothing was forgotten.
    pub busy: bool,
    /// Sync rows deleted (CRM ids, digests, errors).
    pub sync_rows: u64,
    /// Records that were waiting for a dependency in the CRM.
    pub waiting: u64,
}

/// Where one (model, CRM) stands, as [`Etlify::status`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatusEntry {
    /// Resource type.
    pub model: String,
    /// CRM name.
    pub crm: String,
    /// Records a batch sync would process now.
    pub stale: u64,
    /// Records with a CRM id.
    pub synced: u64,
    /// Records whose last sync failed.
    pub failing: u64,
    /// Records left alone until their errors are reset (G-16).
    pub over_budget: u64,
    /// Records waiting for a sync dependency to reach the CRM (G-18).
    pub pending_dependencies: u64,
    /// The newest `last_synced_at`.
    pub last_synced_at: Option<crate::store::Timestamp>,
    /// When the last batch run that read the whole table began (none
    /// yet: the next run does); runs in between look only at what changed
    /// (`Config::complete_check_interval`).
    pub last_complete_check: Option<crate::store::Timestamp>,
}

/// Builds an [`Etlify`].
#[derive(Debug)]
pub struct EtlifyBuilder {
    store: Store,
    declarations: Declarations,
    jobs: JobHandlers,
}

/// Sync jobs requested and not ended, as [`Etlify::job_counts`] counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobCounts {
    /// Jobs queued and not started (or waiting for a retry).
    pub queued: u64,
    /// Jobs running.
    pub running: u64,
}

/// What [`Etlify::batch_sync_async`] queued: the gem's `{ total,
/// per_model, errors }` (counted as [`Etlify::plan`] does) and, per CRM,
/// what its request found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchEnqueued {
    /// Stale records the jobs will find, if nothing changes meanwhile.
    pub total: usize,
    /// The same, per model.
    pub per_model: indexmap::IndexMap<String, usize>,
    /// Always zero: errors happen in the jobs (the gem's key, G-9).
    pub errors: usize,
    /// Per enabled CRM selected: a new job, one already queued, or one to
    /// run after the running one.
    pub crms: Vec<(String, Enqueued)>,
}

impl Etlify {
    /// Starts a builder on `store`.
    pub fn builder(store: Store) -> EtlifyBuilder {
        EtlifyBuilder {
            store,
            declarations: Declarations::default(),
            jobs: JobHandlers::default(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        self.ctx.store()
    }

    /// Global settings.
    pub fn config(&self) -> &Config {
        self.ctx.catalog().config()
    }

    /// Registered CRMs.
    pub fn crms(&self) -> &CrmRegistry {
        self.ctx.catalog().crms()
    }

    /// Whether `crm_name` is enabled; `true` for unknown names (G-2).
    pub fn crm_enabled(&self, crm_name: &str) -> bool {
        self.ctx.catalog().crm_enabled(crm_name)
    }

    /// Error budget of `crm_name`: its own, else the global one (G-16).
    pub fn max_sync_errors(&self, crm_name: &str) -> u32 {
        self.ctx.catalog().max_sync_errors(crm_name)
    }

    /// Declared models, in declaration order.
    pub fn models(&self) -> impl Iterator<Item = &Model> {
        self.ctx.catalog().models().map(|m| &m.model)
    }

    /// The model declared as `resource_type`.
    pub fn model(&self, resource_type: &str) -> Option<&Model> {
        self.ctx.catalog().resolved(resource_type).map(|m| &m.model)
    }

    /// The resolved timestamp column of `resource_type`'s table.
    pub fn timestamp_column(&self, resource_type: &str) -> Option<&str> {
        self.ctx
            .catalog()
            .resolved(resource_type)
            .and_then(|m| m.timestamp_column.as_deref())
    }

    /// The synchronizer (one record, inline).
    pub fn synchronizer(&self) -> Synchronizer<'_> {
        Synchronizer::new(&self.ctx)
    }

    /// The batch synchronizer (given records of one model, inline).
    pub fn batch_synchronizer(&self) -> BatchSynchronizer<'_> {
        BatchSynchronizer::new(&self.ctx)
    }

    /// The deleter (one record, inline).
    pub fn deleter(&self) -> Deleter<'_> {
        Deleter::new(&self.ctx)
    }

    /// Syncs one record (the gem's `crm_sync!`, G-3, G-25). A disabled CRM
    /// answers [`SyncDispatch::Disabled`] without touching anything. With a
    /// record queue ([`EtlifyBuilder::queue`], [`EtlifyBuilder::record_jobs`])
    /// the sync is requested as a job, once per record while queued and
    /// once more after a running one ([`SyncDispatch::Enqueued`]);
    /// otherwise it runs inline ([`Etlify::synchronizer`] always does).
    pub async fn sync(
        &self,
        crm_name: &str,
        resource_type: &str,
        id: impl Into<ResourceId>,
    ) -> Result<SyncDispatch> {
        if !self.crm_enabled(crm_name) {
            return Ok(SyncDispatch::Disabled);
        }
        let id = id.into();
        if self.jobs.record.is_some() {
            // Unknown CRMs and models fail here, not in the job.
            self.ctx.catalog().target(crm_name, resource_type)?;
            let key = SyncKey::new(crm_name, resource_type, id);
            let enqueued = jobs::perform::request_record(&self.job_context(), &key).await?;
            return Ok(SyncDispatch::Enqueued(enqueued));
        }
        let outcome = self
            .synchronizer()
            .call(crm_name, resource_type, id)
            .await?;
        Ok(SyncDispatch::Completed(outcome))
    }

    /// Deletes one record's CRM object (the gem's `crm_delete!`, G-3, X-11).
    pub async fn delete(
        &self,
        crm_name: &str,
        resource_type: &str,
        id: impl Into<ResourceId>,
    ) -> Result<DeleteOutcome> {
        self.deleter().call(crm_name, resource_type, id).await
    }

    /// The sync row of one record, if any.
    pub async fn sync_row(
        &self,
        crm_name: &str,
        resource_type: &str,
        id: impl Into<ResourceId>,
    ) -> Result<Option<SyncRow>> {
        sync_rows::find(self.store(), &SyncKey::new(crm_name, resource_type, id)).await
    }

    /// Clears one row's error budget so the finder picks it up again (G-16).
    /// Returns whether the row existed.
    pub async fn reset_error_count(
        &self,
        crm_name: &str,
        resource_type: &str,
        id: impl Into<ResourceId>,
    ) -> Result<bool> {
        let reset =
            sync_rows::reset_error_count(self.store(), &SyncKey::new(crm_name, resource_type, id))
                .await?;
        // A reset row may be stale by timestamps older than the checkpoint.
        checkpoint::forget(self.store(), Some(crm_name), Some(resource_type)).await?;
        Ok(reset)
    }

    /// Records with errors (`error_count > 0`), newest first, at most `limit`;
    /// restricted to a CRM and a model when given.
    pub async fn failing(
        &self,
        crm_name: Option<&str>,
        resource_type: Option<&str>,
        limit: u64,
    ) -> Result<Vec<SyncRow>> {
        sync_rows::failing(self.store(), crm_name, resource_type, limit).await
    }

    /// Clears the error budget of failing records — of a CRM, of a model,
    /// or these ids — so the finder picks them up again (G-16). Returns how
    /// many rows were reset.
    pub async fn reset_errors(
        &self,
        crm_name: Option<&str>,
        resource_type: Option<&str>,
        ids: &[ResourceId],
    ) -> Result<u64> {
        let reset = sync_rows::reset_errors(self.store(), crm_name, resource_type, ids).await?;
        if reset > 0 {
            checkpoint::forget(self.store(), crm_name, resource_type).await?;
        }
        Ok(reset)
    }

    /// Forgets what the engine knows of `crm_name`'s objects, of one model
    /// or of all: their sync rows (CRM ids, digests, errors), the records
    /// waiting there for a dependency, and the checkpoints. The next run
    /// then reads every record in scope and sends it, matched by its
    /// `id_property` to the objects the CRM already has: for a CRM pointed
    /// at another account. It holds the CRM's batch-run lock meanwhile;
    /// while a batch run of the CRM is under way it does nothing and says
    /// so ([`Forgotten::busy`]). The checkpoints go first: stopped midway,
    /// the next run still reads everything, and forgetting again finishes.
    pub async fn forget(&self, crm_name: &str, resource_type: Option<&str>) -> Result<Forgotten> {
        let catalog = self.ctx.catalog();
        catalog.crm(crm_name)?;
        if let Some(resource_type) = resource_type {
            catalog.declared(resource_type)?;
        }
        let store = self.store();
        let (lease, taken) = Lease::try_acquire(store, vec![batch_run_name(crm_name)]).await?;
        if taken != [true] {
            lease.release().await?;
            return Ok(Forgotten {
                busy: true,
                ..Forgotten::default()
            });
        }
        let forgotten = async {
            checkpoint::forget(store, Some(crm_name), resource_type).await?;
            let waiting = pending::forget(store, crm_name, resource_type).await?;
            let sync_rows = sync_rows::forget(store, crm_name, resource_type).await?;
            Ok::<_, crate::Error>(Forgotten {
                busy: false,
                sync_rows,
                waiting,
            })
        }
        .await;
        lease.release().await?;
        forgotten
    }

    /// Where each (model, enabled CRM) stands: stale records (as
    /// [`Etlify::plan`] counts them), records synced, failing, over the
    /// error budget, waiting for a sync dependency, and the last sync.
    pub async fn status(&self) -> Result<Vec<StatusEntry>> {
        let mut entries = Vec::new();
        for entry in self.plan(&BatchSyncOptions::new()).await? {
            let counts = sync_rows::counts(
                self.store(),
                &entry.crm,
                &entry.model,
                self.max_sync_errors(&entry.crm),
            )
            .await?;
            let pending =
                crate::store::pending::count_waiting(self.store(), &entry.crm, &entry.model)
                    .await?;
            let checkpoint = checkpoint::load(self.store(), &entry.crm, &entry.model).await?;
            entries.push(StatusEntry {
                model: entry.model,
                crm: entry.crm,
                stale: entry.records as u64,
                synced: counts.with_crm_id,
                failing: counts.failing,
                over_budget: counts.over_budget,
                pending_dependencies: pending,
                last_synced_at: counts.last_synced_at,
                last_complete_check: checkpoint.map(|c| c.complete_at),
            });
        }
        Ok(entries)
    }

    /// Checks the sync-state schema (the gem's boot-time check, EN-*).
    pub async fn check(&self) -> Result<SchemaReport> {
        schema::check(self.store()).await
    }

    /// The stale ids of `resource_type` for `crm_name`, page by page in
    /// ascending order (1,000 per page unless [`StaleIds::page_size`] says
    /// otherwise).
    pub fn stale_ids(&self, crm_name: &str, resource_type: &str) -> Result<StaleIds<'_>> {
        StaleIds::new(
            &self.ctx,
            crm_name,
            resource_type,
            crate::stale::finder::Selection::Stale,
        )
    }

    /// How many records a batch sync with `options` would process now, per
    /// (model, CRM), without syncing or writing anything.
    pub async fn plan(&self, options: &BatchSyncOptions) -> Result<Vec<PlanEntry>> {
        batch_run::plan(&self.ctx, options).await
    }

    /// Up to `sample` stale records of `resource_type` for `crm_name`
    /// (lowest ids first), each with what a sync would do: create it, send
    /// the fields that changed since its last sync, or find it unchanged.
    /// Reads only: nothing is sent, locked or written.
    pub async fn plan_diff(
        &self,
        crm_name: &str,
        resource_type: &str,
        sample: usize,
    ) -> Result<Vec<RecordDiff>> {
        crate::runs::diff::sample(&self.ctx, crm_name, resource_type, sample).await
    }

    /// Syncs every stale record (or every record, for a full reconcile) of
    /// the selected models with the selected enabled CRMs, inline, in pages.
    pub async fn batch_sync(&self, options: &BatchSyncOptions) -> Result<RunStats> {
        batch_run::run(&self.ctx, options).await
    }

    /// Requests one batch job per enabled CRM (only `options`' CRM, if it
    /// names one; G-9): each job finds its CRM's stale records itself, and
    /// one runs at a time per CRM across every worker (G-10). Needs a batch
    /// queue ([`EtlifyBuilder::queue`], [`EtlifyBuilder::batch_jobs`]). A
    /// job covers every model of its CRM: a model selection, a full
    /// reconcile or a complete check is refused (run those inline).
    pub async fn batch_sync_async(&self, options: &BatchSyncOptions) -> Result<BatchEnqueued> {
        let crms = batch_run::async_crms(&self.ctx, options)?;
        let mut enqueued = BatchEnqueued::default();
        for entry in self.plan(options).await? {
            enqueued.total += entry.records;
            *enqueued.per_model.entry(entry.model).or_insert(0) += entry.records;
        }
        for crm in crms {
            let answer = jobs::perform::request_batch(&self.job_context(), &crm).await?;
            enqueued.crms.push((crm, answer));
        }
        Ok(enqueued)
    }

    /// Runs one job, as a worker does: a record job syncs its record, a
    /// batch job runs its CRM's batch sync, each under the CRM's rate
    /// limiter and the database-held locks, with Etlify's bookkeeping
    /// (what runs again after a request made meanwhile, retries with
    /// backoff through the queue the job came from). For applications
    /// that route jobs through their own queue.
    pub async fn perform(&self, job: &Job) -> Result<JobReport> {
        jobs::perform::perform(&self.job_context(), job, None).await
    }

    /// Sync jobs queued (not started) and running, over every worker.
    pub async fn job_counts(&self) -> Result<JobCounts> {
        let (queued, running) = crate::store::job_requests::counts(self.store()).await?;
        Ok(JobCounts { queued, running })
    }

    /// Whether [`Etlify::sync`] enqueues (a record queue is configured).
    pub fn enqueues_records(&self) -> bool {
        self.jobs.record.is_some()
    }

    /// The internal context with the job handlers, for the worker and
    /// the job entry points.
    pub(crate) fn job_context(&self) -> JobContext {
        JobContext::new(self.ctx.clone(), self.jobs.clone())
    }
}

impl EtlifyBuilder {
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

    /// Validates everything and builds the engine. Fails with a
    /// [`crate::ConfigError`] before any record is touched.
    pub async fn build(self) -> Result<Etlify> {
        let catalog = Catalog::build(&self.store, self.declarations).await?;
        share_rate_limits(&self.store, &catalog).await;
        let jobs = Arc::new(self.jobs);
        // The face decides where follow-up work goes; the inner layers
        // only see the seam.
        let follow_up: Arc<dyn FollowUp> = match jobs.record {
            Some(_) => Arc::new(QueuedFollowUp::new(jobs.clone())),
            None => Arc::new(InlineFollowUp),
        };
        Ok(Etlify {
            ctx: Context::new(self.store, catalog, follow_up),
            jobs,
        })
    }
}

/// Creates or upgrades the sync-state tables (see [`schema::migrate`]).
pub async fn migrate(store: &Store, options: &schema::MigrateOptions) -> Result<()> {
    schema::migrate(store, options).await
}

/// The statements [`migrate`] would run, without running any (see
/// [`schema::migrate_dry_run`]).
pub async fn migrate_dry_run(
    store: &Store,
    options: &schema::MigrateOptions,
) -> Result<Vec<String>> {
    schema::migrate_dry_run(store, options).await
}

/// Undoes what [`migrate`] changed (see [`schema::revert`]).
pub async fn revert_migration(store: &Store) -> Result<()> {
    schema::revert(store).await
}
