//! The [`Etlify`] handle: the public face, thin over the internal context
//! (`context.rs`). Running syncs is here; administration (failing records,
//! error budgets, forgetting, status) is `admin.rs`; building the engine
//! from declarations is `builder.rs`; what a built engine can check beyond
//! them (CRM access, warnings) is `checks.rs`. What it does is decided in `sync/`
//! (one record, a page), `stale/` (what is stale), `runs/` (batch runs) and
//! `catalog/` (checking declarations).
//!
//! [`EtlifyBuilder::build`] validates the whole configuration against the
//! database before anything runs (docs/BEHAVIOUR.md, "Bad input"): unknown CRMs in bindings,
//! duplicate models, missing tables and columns, payload queries that do
//! not run or lack their key column.

mod admin;
mod builder;
mod checks;
mod crm_schema;
mod scrape;

use std::sync::Arc;

pub use self::admin::{Forgotten, JobCounts, RateWindowUse, StatusEntry};
pub use self::builder::EtlifyBuilder;
pub use self::checks::{
    ConfigWarning, CrmAccess, SuggestedFix, WarningKind, WholeSecondTimestamps, TIMESTAMP_SAMPLE,
};
use crate::config::Config;
use crate::context::Context;
use crate::crm::CrmRegistry;
use crate::error::Result;
use crate::id::{ResourceId, SyncKey};
use crate::jobs::{self, Enqueued, Job, JobContext, JobHandlers, JobReport};
use crate::model::Model;
use crate::outcome::{DeleteOutcome, SyncDispatch};
use crate::runs::batch_run;
use crate::runs::{
    BatchSyncOptions, PlanEntry, RecordDiff, RunQuery, RunRecord, RunStats, RunTrigger,
};
use crate::stale::finder::Selection;
use crate::stale::StaleIds;
use crate::store::schema;
use crate::store::Store;
use crate::sync::{BatchSynchronizer, Deleter, Synchronizer};

/// The engine: cheap to clone, shareable across tasks.
#[derive(Debug, Clone)]
pub struct Etlify {
    ctx: Context,
    jobs: Arc<JobHandlers>,
    /// The metrics that need a query, computed at most once per interval.
    status_gauges: Arc<scrape::StatusGauges>,
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
        EtlifyBuilder::new(store)
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

    /// Whether `crm` is enabled; `true` for unknown names (G-2).
    pub fn crm_enabled(&self, crm: &str) -> bool {
        self.ctx.catalog().crm_enabled(crm)
    }

    /// Error budget of `crm`: its own, else the global one (G-16).
    pub fn max_sync_errors(&self, crm: &str) -> u32 {
        self.ctx.catalog().max_sync_errors(crm)
    }

    /// Declared models, in declaration order.
    pub fn models(&self) -> impl Iterator<Item = &Model> {
        self.ctx.catalog().models().map(|m| &m.model)
    }

    /// The model declared as `model`.
    pub fn model(&self, model: &str) -> Option<&Model> {
        self.ctx.catalog().resolved(model).map(|m| &m.model)
    }

    /// The key of the `model` record written `text` (a command's
    /// argument, `etlify sync-record User 3f…`), read as the model's
    /// declared key type in this database; `None` for an unknown model or
    /// a text that is no such key.
    pub fn record_id(&self, model: &str, text: &str) -> Option<ResourceId> {
        let uuids = self.store().uuid_storage();
        ResourceId::parse(text, self.model(model)?.key_type, uuids)
    }

    /// The resolved timestamp column of `model`'s table.
    pub fn timestamp_column(&self, model: &str) -> Option<&str> {
        self.ctx
            .catalog()
            .resolved(model)
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
    /// once more after a running one ([`SyncDispatch::Enqueued`]), and a
    /// record that does not exist is refused at once
    /// ([`Error::RecordNotFound`](crate::Error::RecordNotFound)); otherwise
    /// it runs inline ([`Etlify::synchronizer`] always does).
    pub async fn sync(
        &self,
        crm: &str,
        model: &str,
        id: impl Into<ResourceId>,
    ) -> Result<SyncDispatch> {
        if !self.crm_enabled(crm) {
            return Ok(SyncDispatch::Disabled);
        }
        let id = id.into();
        if self.jobs.record.is_some() {
            // Unknown CRMs and models fail here, not in the job; so does a
            // record that does not exist (the job would find nothing).
            if let Some(target) = self.ctx.catalog().target(crm, model)? {
                let table = &target.model.table;
                if !self
                    .store()
                    .row_exists(table, &target.model.primary_key, id.clone())
                    .await?
                {
                    return Err(crate::Error::RecordNotFound {
                        resource_type: model.to_owned(),
                        id,
                    });
                }
            }
            let key = SyncKey::new(crm, model, id);
            let enqueued = jobs::perform::request_record(&self.job_context(), &key).await?;
            return Ok(SyncDispatch::Enqueued(enqueued));
        }
        let outcome = self.synchronizer().call(crm, model, id).await?;
        Ok(SyncDispatch::Completed(outcome))
    }

    /// Deletes one record's CRM object (the gem's `crm_delete!`, G-3, X-11).
    pub async fn delete(
        &self,
        crm: &str,
        model: &str,
        id: impl Into<ResourceId>,
    ) -> Result<DeleteOutcome> {
        self.deleter().call(crm, model, id).await
    }

    /// The stale ids of `model` for `crm`, page by page in
    /// ascending order (1,000 per page unless [`StaleIds::page_size`] says
    /// otherwise).
    pub fn stale_ids(&self, crm: &str, model: &str) -> Result<StaleIds<'_>> {
        StaleIds::new(
            &self.ctx,
            crm,
            model,
            crate::stale::finder::Selection::Stale,
        )
    }

    /// How many records a batch sync with `options` would process now, per
    /// (model, CRM), without syncing or writing anything.
    pub async fn plan(&self, options: &BatchSyncOptions) -> Result<Vec<PlanEntry>> {
        batch_run::plan(&self.ctx, options).await
    }

    /// Up to `sample` stale records of `model` for `crm`
    /// (lowest ids first), each with what a sync would do: create it, send
    /// the fields that changed since its last sync, or find it unchanged.
    /// Reads only: nothing is sent, locked or written.
    pub async fn plan_diff(
        &self,
        crm: &str,
        model: &str,
        sample: usize,
    ) -> Result<Vec<RecordDiff>> {
        crate::runs::diff::sample(&self.ctx, crm, model, sample, Selection::Stale).await
    }

    /// [`Etlify::plan_diff`] over every record in scope, stale or not (as
    /// a full reconcile looks at them): taking over a database synced by
    /// the Rails gem, whether Etlify's digests of unchanged records match
    /// the gem's ([`RecordDiff::canonical_json`] shows what is hashed).
    pub async fn plan_diff_every_record(
        &self,
        crm: &str,
        model: &str,
        sample: usize,
    ) -> Result<Vec<RecordDiff>> {
        crate::runs::diff::sample(&self.ctx, crm, model, sample, Selection::All).await
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
            let answer =
                jobs::perform::request_batch(&self.job_context(), &crm, RunTrigger::Request)
                    .await?;
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

    /// The run history: the batch runs `query` selects, newest first, one
    /// per CRM a run covered (`etlify_runs`: what started each, who ran
    /// it, its outcomes per model, why it stopped short). Kept for
    /// [`Config::keep_runs`], at most [`Config::keep_runs_per_crm`] per CRM.
    pub async fn runs(&self, query: &RunQuery) -> Result<Vec<RunRecord>> {
        crate::runs::history::read(self.store(), query).await
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

/// Creates or upgrades the sync-state tables. Idempotent: running it on an
/// up-to-date database changes nothing. Every change it makes is recorded in
/// `etlify_schema_migrations`, so [`revert_migration`] can undo exactly
/// those.
pub async fn migrate(store: &Store, options: &schema::MigrateOptions) -> Result<schema::Migrated> {
    schema::migrate(store, options).await
}

/// The statements [`migrate`] would run now, in order, without running
/// any (`etlify migrate --dry-run`); empty when the schema is up to date.
pub async fn migrate_dry_run(
    store: &Store,
    options: &schema::MigrateOptions,
) -> Result<Vec<String>> {
    schema::migrate_dry_run(store, options).await
}

/// Undoes what [`migrate`] changed, newest change first, as recorded in
/// `etlify_schema_migrations` (G-26): tables it created are dropped,
/// columns it added removed, the gem's indexes it dropped recreated. Data in
/// tables that existed before is kept. Refused, with nothing changed, when
/// the rows no longer fit the gem's indexes.
pub async fn revert_migration(store: &Store) -> Result<()> {
    schema::revert(store).await
}

/// Reports what [`migrate`] would fix, without changing anything
/// (a built engine answers the same with [`Etlify::check`]).
pub async fn check_schema(store: &Store) -> Result<schema::SchemaReport> {
    schema::check(store).await
}

/// Fails with a [`crate::ConfigError`] at `models.NAME.key_type` when a
/// model's declared key type does not fit its key column's SQL type (the
/// default `integer` over a `uuid` column): what [`migrate`] would type
/// the sync-state tables' keys by. [`EtlifyBuilder::build`] checks it too.
pub async fn check_key_types(store: &Store, models: &[Model]) -> Result<()> {
    crate::catalog::key_types::check(store, models).await
}

/// Fails with [`crate::Error::Schema`] (what is wrong, remedied by
/// [`crate::Remedy::Migrate`]) unless the sync-state schema is up to date:
/// before anything runs, so a missing table is not a raw "no such table" in
/// the middle of a run. [`EtlifyBuilder::build`] checks it too.
pub async fn require_schema_up_to_date(store: &Store) -> Result<()> {
    schema::require_up_to_date(store).await
}
