//! Inline batch sync over stale records (the gem's `BatchSync`; G-6, G-7,
//! G-13, G-16, G-17, G-22, X-9, X-18).
//!
//! For each selected model and each enabled CRM it is bound to: stream the
//! stale ids page by page (memory bounded by the page size), and sync the
//! pages through the pipeline (`sync/pipeline.rs`): the next page is
//! prepared while the CRM answers the current one's requests. Disabled
//! CRMs are skipped silently and do not appear in the statistics.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use indexmap::IndexMap;

use super::archiving::{self, Archived, HeldDeletes, Looking, PlannedArchive};
use super::checkpointing;
use super::history::{self, RunHistory, RunTrigger};
use crate::context::Context;
use crate::error::{ConfigError, Error, ErrorKind, Result};
use crate::outcome::BatchStats;
use crate::stale::finder::{FinderPlan, Selection};
use crate::stale::pages::{StaleIds, DEFAULT_BATCH_SIZE};
use crate::store::leases::batch_run::batch_run_name;
use crate::store::leases::Lease;
use crate::sync::pipeline;
use crate::sync::Synchronizer;

/// What a batch sync covers.
#[derive(Clone)]
pub struct BatchSyncOptions {
    crm: Option<String>,
    models: Option<Vec<String>>,
    batch_size: usize,
    full_reconcile: bool,
    complete: bool,
    plan: FinderPlan,
    progress: Option<Arc<ProgressFn>>,
    stop: Option<Arc<AtomicBool>>,
    allow_deletes: bool,
    trigger: RunTrigger,
    /// Who runs it, for the history (a worker's name); the store's lease
    /// owner token if unset.
    runner: Option<String>,
}

/// Called after each page of a batch sync.
pub type ProgressFn = dyn Fn(&Progress<'_>) + Send + Sync;

/// Where a batch sync stands, after one page.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Progress<'a> {
    /// CRM of the page.
    pub crm: &'a str,
    /// Model of the page.
    pub model: &'a str,
    /// Outcomes of this page.
    pub page: &'a BatchStats,
    /// Records processed so far in the run.
    pub total: usize,
}

/// Stale records of one (model, CRM), as counted by [`crate::Etlify::plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlanEntry {
    /// Declared resource type.
    pub model: String,
    /// CRM name.
    pub crm: String,
    /// Records a batch sync would process now.
    pub records: usize,
    /// What a complete check would archive, when the binding archives
    /// records that leave (`on_delete`, `on_leave_scope`).
    pub archive: Option<PlannedArchive>,
}

impl std::fmt::Debug for BatchSyncOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchSyncOptions")
            .field("crm", &self.crm)
            .field("models", &self.models)
            .field("batch_size", &self.batch_size)
            .field("full_reconcile", &self.full_reconcile)
            .field("complete", &self.complete)
            .field("plan", &self.plan)
            .field("progress", &self.progress.as_ref().map(|_| "<callback>"))
            .field("stop", &self.stop)
            .field("allow_deletes", &self.allow_deletes)
            .field("trigger", &self.trigger)
            .field("runner", &self.runner)
            .finish()
    }
}

impl Default for BatchSyncOptions {
    fn default() -> Self {
        Self {
            crm: None,
            models: None,
            batch_size: DEFAULT_BATCH_SIZE,
            full_reconcile: false,
            complete: false,
            plan: FinderPlan::default(),
            progress: None,
            stop: None,
            allow_deletes: false,
            trigger: RunTrigger::default(),
            runner: None,
        }
    }
}

impl BatchSyncOptions {
    /// Every model, every enabled CRM, stale records only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only this CRM (G-22); applies to explicit models too (the gem ignored it there).
    pub fn crm(mut self, crm: impl Into<String>) -> Self {
        self.crm = Some(crm.into());
        self
    }

    /// Only these models, by resource type (G-22).
    pub fn models<I, S>(mut self, models: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.models = Some(models.into_iter().map(Into::into).collect());
        self
    }

    /// Records per page (default 1,000; at least 1).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Re-digest every record in scope, not only stale ones: catches
    /// writes that bypassed `updated_at` and deleted children; the digest
    /// keeps CRM calls to what really changed.
    pub fn full_reconcile(mut self, full: bool) -> Self {
        self.full_reconcile = full;
        self
    }

    /// Look at every record's sync state, not only at what changed since
    /// the last run's checkpoint, as a run does every
    /// [`Config::complete_check_interval`](crate::Config::complete_check_interval):
    /// after sync rows were deleted or errors reset by hand. Unlike
    /// [`BatchSyncOptions::full_reconcile`], only stale records are loaded.
    pub fn complete(mut self, complete: bool) -> Self {
        self.complete = complete;
        self
    }

    /// Reports each page (records processed, outcomes) as the run goes.
    pub fn progress(mut self, report: impl Fn(&Progress<'_>) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(report));
        self
    }

    /// Stops the run early once `stop` is set: no new page is started, the
    /// pages whose requests are in flight finish and are recorded, every
    /// lock is released, and [`RunStats::stopped`] is set. No checkpoint is
    /// left, so the next run looks again at everything this one did not.
    /// (How a worker shuts down gracefully.)
    pub fn stop_when(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Lets this run archive what left the application past each
    /// binding's `max_deletes_per_run` guard (an operator's word, once:
    /// `etlify sync --allow-deletes`), and looks for it now whatever the
    /// checkpoint (bindings with `on_delete = archive` only; a run held
    /// back by the guard lists it in [`RunStats::deletes_held`]).
    pub fn allow_deletes(mut self, allow: bool) -> Self {
        self.allow_deletes = allow;
        self
    }

    /// What started this run, as the run history records it (default
    /// [`RunTrigger::Command`]).
    pub fn trigger(mut self, trigger: RunTrigger) -> Self {
        self.trigger = trigger;
        self
    }

    /// Who runs it, as the run history records it (a worker's name).
    pub(crate) fn runner(mut self, runner: Option<String>) -> Self {
        self.runner = runner;
        self
    }

    /// The finder plan (benchmarks and checks, with the `bench` feature;
    /// results are identical).
    #[cfg(feature = "bench")]
    pub fn plan(mut self, plan: FinderPlan) -> Self {
        self.plan = plan;
        self
    }
}

/// Statistics of a run: the gem's `{ total, per_model, errors }` plus the
/// per-outcome breakdown, overall and per CRM.
///
/// A run that stopped short (a CRM refusing the token, unreachable, a
/// payload query failing) still answers `Ok` with these statistics, the
/// other CRMs and models having gone on: check [`RunStats::is_complete`],
/// or turn an incomplete run into an error with [`RunStats::into_result`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use = "a run that stopped short answers Ok: check is_complete() or call into_result()"]
pub struct RunStats {
    /// Records processed (over all models and CRMs).
    pub total: usize,
    /// Records processed per model (every selected model has an entry).
    pub per_model: IndexMap<String, usize>,
    /// Records that failed.
    pub errors: usize,
    /// Outcomes over the whole run.
    pub outcomes: BatchStats,
    /// Outcomes per CRM.
    pub per_crm: IndexMap<String, BatchStats>,
    /// CRMs skipped because another batch run of them was under way (in
    /// this process or any other sharing the database, G-10).
    pub busy: Vec<String>,
    /// Where the run stopped short: a CRM unreachable after retries, its
    /// credentials refused, or a model's payload query failing. The run
    /// went on with the other CRMs and models; the next run resumes.
    pub interrupted: Vec<Interruption>,
    /// Whether the run was stopped early ([`BatchSyncOptions::stop_when`]).
    pub stopped: bool,
    /// Records left for the next run because another sync held them, a
    /// page's worth or more (a run that died holding them; its locks
    /// expire after their time to live). The run left no checkpoint, so
    /// the next run finds them again.
    pub deferred: usize,
    /// Bindings whose archives the `max_deletes_per_run` guard held back:
    /// nothing archived for them ([`BatchSyncOptions::allow_deletes`]).
    pub deletes_held: Vec<HeldDeletes>,
}

impl RunStats {
    /// Whether every selected (model, CRM) was run to the end.
    pub fn is_complete(&self) -> bool {
        self.busy.is_empty()
            && self.interrupted.is_empty()
            && !self.stopped
            && self.deferred == 0
            && self.deletes_held.is_empty()
    }

    /// These statistics if the run went to the end, else an
    /// [`Error::Incomplete`](crate::Error::Incomplete) saying where and why
    /// it stopped short (`?` then stops the caller as any error would).
    pub fn into_result(self) -> Result<Self> {
        if self.is_complete() {
            return Ok(self);
        }
        let mut reasons: Vec<String> = self
            .interrupted
            .iter()
            .map(|i| format!("{} ({}) stopped: {}", i.crm, i.model, i.message))
            .collect();
        reasons.extend(
            self.busy
                .iter()
                .map(|crm| format!("{crm} was being synced by another run")),
        );
        if self.deferred > 0 {
            reasons.push(format!(
                "{} records were held by another sync and left for the next run",
                self.deferred
            ));
        }
        if self.stopped {
            reasons.push("the run was asked to stop".to_owned());
        }
        reasons.extend(self.deletes_held.iter().map(|held| {
            format!(
                "{} ({}): {} records left the application, more than max_deletes_per_run = {} allows ({}): nothing archived; allow it once with `etlify sync --allow-deletes`",
                held.crm, held.model, held.records, held.limit, held.allowed
            )
        }));
        Err(Error::Incomplete(reasons.join("; ")))
    }
}

/// Where a batch run stopped short, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Interruption {
    /// CRM name.
    pub crm: String,
    /// The model being synced when it stopped.
    pub model: String,
    /// What kind of failure.
    pub kind: ErrorKind,
    /// Whether running again later may succeed without any change
    /// (throttling, an outage); otherwise something must be fixed first
    /// (credentials, a payload query).
    pub retriable: bool,
    /// The error, as a sentence.
    pub message: String,
    /// How long the CRM asked to wait before trying again, if it said.
    pub retry_after: Option<std::time::Duration>,
}

/// What a failure stops: the CRM (it is not reachable or refuses us), one
/// (model, CRM), or the whole run (the database).
enum Scope {
    Crm,
    Model,
    Run,
}

fn scope_of(error: &Error) -> Scope {
    match error.kind() {
        ErrorKind::Adapter => Scope::Crm,
        ErrorKind::Payload => Scope::Model,
        _ => Scope::Run,
    }
}

impl BatchSyncOptions {
    fn selection(&self) -> Selection {
        if self.full_reconcile {
            Selection::All
        } else {
            Selection::Stale
        }
    }

    fn pages<'a>(&self, ctx: &'a Context, crm: &str, model: &str) -> Result<StaleIds<'a>> {
        Ok(StaleIds::new(ctx, crm, model, self.selection())?
            .with_plan(self.plan)
            .page_size(self.batch_size))
    }
}

/// The (model, enabled CRMs) pairs `options` selects, in declaration
/// order; unknown names in the filters are configuration errors.
fn selection<'a>(
    ctx: &'a Context,
    options: &BatchSyncOptions,
) -> Result<Vec<(&'a str, Vec<&'a str>)>> {
    let catalog = ctx.catalog();
    if let Some(crm) = &options.crm {
        catalog.crm(crm)?;
    }
    if let Some(models) = &options.models {
        for model in models {
            catalog.declared(model)?;
        }
    }
    let mut selected = Vec::new();
    for resolved in catalog.models() {
        let model = resolved.resource_type.as_str();
        if options
            .models
            .as_ref()
            .is_some_and(|m| !m.iter().any(|n| n == model))
        {
            continue;
        }
        let crms: Vec<&str> = resolved
            .bindings
            .keys()
            .map(String::as_str)
            .filter(|crm| options.crm.as_deref().is_none_or(|only| only == *crm))
            .filter(|crm| catalog.crm_enabled(crm))
            .collect();
        if !crms.is_empty() {
            selected.push((model, crms));
        }
    }
    Ok(selected)
}

/// The enabled CRMs an asynchronous batch sync with `options` requests a
/// job for: each job covers every model of its CRM, so options that narrow
/// or widen what a run looks at are refused.
pub(crate) fn async_crms(ctx: &Context, options: &BatchSyncOptions) -> Result<Vec<String>> {
    let refused = if options.models.is_some() {
        Some("models")
    } else if options.full_reconcile {
        Some("full_reconcile")
    } else if options.complete {
        Some("complete")
    } else {
        None
    };
    if let Some(field) = refused {
        return Err(ConfigError::new(
            "batch_sync_async",
            field,
            "is not available for batch jobs, which cover every model of their CRM; run this batch sync inline",
        )
        .into());
    }
    let mut crms = Vec::new();
    for (_, model_crms) in selection(ctx, options)? {
        for crm in model_crms {
            if !crms.iter().any(|c: &String| c == crm) {
                crms.push(crm.to_owned());
            }
        }
    }
    Ok(crms)
}

/// How many records a batch sync with `options` would process now, per
/// (model, CRM), without syncing anything (ids are counted page by page).
pub(crate) async fn plan(ctx: &Context, options: &BatchSyncOptions) -> Result<Vec<PlanEntry>> {
    let mut entries = Vec::new();
    for (model, crms) in selection(ctx, options)? {
        for crm in crms {
            let pages = options.pages(ctx, crm, model)?;
            let (mut pages, _) =
                checkpointing::start(ctx, pages, crm, model, options.complete).await?;
            let mut records = 0;
            while let Some(page) = pages.next_page().await? {
                records += page.len();
            }
            let archive = match ctx.catalog().target(crm, model)? {
                Some(target) => archiving::plan(ctx, target, options.allow_deletes).await?,
                None => None,
            };
            entries.push(PlanEntry {
                model: model.to_owned(),
                crm: crm.to_owned(),
                records,
                archive,
            });
        }
    }
    Ok(entries)
}

/// Syncs every stale record (or every record, for a full reconcile) of
/// the selected models with the selected enabled CRMs, inline.
///
/// CRMs run side by side, each within its own rate limit; a CRM's models
/// go in declaration order. Each CRM is leased for the run (G-10): a CRM another run holds is
/// skipped and listed in [`RunStats::busy`]. A CRM that fails after its
/// retries is listed in [`RunStats::interrupted`] and the run goes on with
/// the others; only database failures end the run with an `Err`.
pub(crate) async fn run(ctx: &Context, options: &BatchSyncOptions) -> Result<RunStats> {
    let selected = selection(ctx, options)?;
    let mut crm_names: Vec<&str> = Vec::new();
    for (_, crms) in &selected {
        for crm in crms {
            if !crm_names.contains(crm) {
                crm_names.push(crm);
            }
        }
    }
    let (lease, acquired) = Lease::try_acquire(
        ctx.store(),
        crm_names.iter().map(|crm| batch_run_name(crm)).collect(),
    )
    .await?;
    let mut stats = RunStats::default();
    for (crm, ok) in crm_names.iter().zip(&acquired) {
        if !ok {
            tracing::warn!(
                message = "Another batch run of this CRM is under way; skipped.",
                crm
            );
            stats.busy.push((*crm).to_owned());
        }
    }
    let leased: Vec<&str> = crm_names
        .iter()
        .zip(&acquired)
        .filter(|(_, ok)| **ok)
        .map(|(crm, _)| *crm)
        .collect();
    let history = RunHistory::start(ctx, &leased, options.trigger, options.runner.as_deref()).await;
    let result = run_leased(ctx, options, &selected, &mut stats, &lease, &history).await;
    let released = lease.release().await;
    result?;
    released?;
    Ok(stats)
}

/// Runs each CRM's models side by side with the other CRMs' (their rate
/// limits are independent); within a CRM, models go in declaration order.
async fn run_leased(
    ctx: &Context,
    options: &BatchSyncOptions,
    selected: &[(&str, Vec<&str>)],
    stats: &mut RunStats,
    lease: &Lease,
    history: &RunHistory,
) -> Result<()> {
    for (model, _) in selected {
        stats.per_model.entry((*model).to_owned()).or_insert(0);
    }
    let mut crm_names: Vec<&str> = Vec::new();
    for (_, crms) in selected {
        for crm in crms {
            if !crm_names.contains(crm) && !stats.busy.iter().any(|c| c == crm) {
                crm_names.push(crm);
            }
        }
    }
    let total = &AtomicUsize::new(0);
    let runs = crm_names.iter().map(|crm| {
        let models: Vec<&str> = selected
            .iter()
            .filter(|(_, crms)| crms.contains(crm))
            .map(|(model, _)| *model)
            .collect();
        async move {
            let run = run_crm(ctx, options, lease, crm, models, total);
            let (crm_stats, per_model, error) = timed(ctx, crm, run).await;
            // Each CRM's row is completed as soon as its part ends.
            history
                .finish(ctx.store(), crm, &crm_stats, &per_model, error.as_ref())
                .await;
            (crm_stats, error)
        }
    });
    let mut first_error = None;
    for (crm_stats, error) in futures_util::future::join_all(runs).await {
        stats.absorb(crm_stats);
        if let Some(error) = error {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// `run` (one CRM's models) timed into the CRM's metrics: its duration,
/// and, when every model went to the end, the time of its last
/// successful run.
async fn timed(ctx: &Context, crm: &str, run: impl std::future::Future<Output = CrmRun>) -> CrmRun {
    let started = std::time::Instant::now();
    let (stats, per_model, error) = run.await;
    if let Some(metrics) = ctx.metrics().crm(crm) {
        let complete = error.is_none() && stats.is_complete();
        metrics.ran(started.elapsed(), complete, crate::metrics::unix_now());
    }
    (stats, per_model, error)
}

/// One CRM's part of a run: its statistics, each model's outcomes, and the
/// database error that ended it early, if any.
type CrmRun = (RunStats, IndexMap<String, BatchStats>, Option<Error>);

/// One CRM's models in order: its statistics, each model's outcomes, and
/// the database error that ended it early, if any.
async fn run_crm(
    ctx: &Context,
    options: &BatchSyncOptions,
    lease: &Lease,
    crm: &str,
    models: Vec<&str>,
    total: &AtomicUsize,
) -> CrmRun {
    let mut stats = RunStats::default();
    let mut per_model = IndexMap::new();
    // After a failure of the CRM itself (unreachable, refused credentials)
    // its other models would fail alike and are not attempted.
    let mut failed: Option<Interruption> = None;
    // Bindings whose payload the CRM's schema refuses are not started.
    let refused = match crate::crm_schema::refused_bindings(ctx, crm, &models).await {
        Ok(refused) => refused,
        Err(error) => return (stats, per_model, Some(error)),
    };
    for refusal in &refused {
        stats.interrupted.push(Interruption {
            crm: crm.to_owned(),
            model: refusal.model.clone(),
            kind: ErrorKind::Config,
            retriable: refusal.retriable,
            message: refusal.message.clone(),
            retry_after: None,
        });
    }
    for model in models {
        if refused.iter().any(|r| r.model == model) {
            continue;
        }
        if options.stopping() {
            stats.stopped = true;
            break;
        }
        if let Some(failure) = &failed {
            stats.interrupted.push(Interruption {
                model: model.to_owned(),
                message: format!(
                    "not attempted: the CRM failed earlier in this run ({})",
                    failure.message
                ),
                ..failure.clone()
            });
            continue;
        }
        let before = stats.outcomes;
        let synced = sync_pages(ctx, options, lease, crm, model, &mut stats, total).await;
        per_model.insert(
            model.to_owned(),
            history::outcomes_since(&stats.outcomes, &before),
        );
        let Err(error) = synced else {
            continue;
        };
        let scope = scope_of(&error);
        if let Scope::Run = scope {
            return (stats, per_model, Some(error));
        }
        tracing::warn!(
            message = "Batch run stopped short; going on with the other CRMs and models. Run again later: records already synced are not sent again.",
            crm,
            model,
            %error
        );
        let interruption = Interruption {
            crm: crm.to_owned(),
            model: model.to_owned(),
            kind: error.kind(),
            retriable: error.is_retriable(),
            message: error.to_string(),
            retry_after: match &error {
                Error::Adapter(adapter) => adapter.retry_after,
                _ => None,
            },
        };
        if let Scope::Crm = scope {
            failed = Some(interruption.clone());
        }
        stats.interrupted.push(interruption);
    }
    (stats, per_model, None)
}

impl RunStats {
    /// Adds one CRM's statistics to the run's.
    fn absorb(&mut self, other: RunStats) {
        self.total += other.total;
        for (model, records) in other.per_model {
            *self.per_model.entry(model).or_insert(0) += records;
        }
        self.errors += other.errors;
        self.outcomes.merge(&other.outcomes);
        for (crm, outcomes) in other.per_crm {
            self.per_crm.entry(crm).or_default().merge(&outcomes);
        }
        self.busy.extend(other.busy);
        self.interrupted.extend(other.interrupted);
        self.stopped |= other.stopped;
        self.deferred += other.deferred;
        self.deletes_held.extend(other.deletes_held);
    }
}

/// Every page of one (model, CRM), through the pipeline, counted into
/// `stats`.
async fn sync_pages(
    ctx: &Context,
    options: &BatchSyncOptions,
    lease: &Lease,
    crm: &str,
    model: &str,
    stats: &mut RunStats,
    total: &AtomicUsize,
) -> Result<()> {
    let Some(target) = ctx.catalog().target(crm, model)? else {
        return Ok(());
    };
    let pages = options.pages(ctx, crm, model)?;
    // Archives are looked for in a complete check: the operator allowing
    // deletes asks for one.
    let complete = options.complete || options.allow_deletes;
    let (pages, started) = checkpointing::start(ctx, pages, crm, model, complete).await?;
    let pages = futures_util::stream::try_unfold(pages, |mut pages| async move {
        Ok(pages.next_page().await?.map(|page| (page, pages)))
    });
    // A run whose CRM lease may be another run's now (its renewals failed
    // or came late for a whole time to live) starts no new page.
    let pages = pipeline::Pages {
        ids: pages,
        stopping: &|| options.stopping() || !lease.is_held(),
    };
    let mut deferred = 0;
    let mut in_doubt = 0;
    // Records out of scope whose objects the run archives after its pages.
    let mut leaving = Vec::new();
    let ids_from = crate::sync::page::IdsFrom::Finder;
    let ended = pipeline::run(ctx, target, crm, model, pages, ids_from, |done| {
        let batch = done.stats;
        deferred += done.deferred;
        leaving.extend(done.leaving);
        in_doubt += batch.in_doubt;
        stats.total += done.records;
        let run_total = total.fetch_add(done.records, Ordering::SeqCst) + done.records;
        *stats.per_model.entry(model.to_owned()).or_insert(0) += done.records;
        stats.errors += batch.errors;
        stats.outcomes.merge(&batch);
        if let Some(report) = &options.progress {
            report(&Progress {
                crm,
                model,
                page: &batch,
                total: run_total,
            });
        }
        stats
            .per_crm
            .entry(crm.to_owned())
            .or_default()
            .merge(&batch);
        tracing::info!(
            message = "Synced a page.",
            crm,
            model,
            records = done.records,
            synced = batch.synced,
            not_modified = batch.not_modified,
            errors = batch.errors,
            in_doubt = batch.in_doubt,
            total = run_total
        );
    })
    .await?;
    stats.deferred += deferred;
    if ended == pipeline::Ended::Stopped && !options.stopping() {
        return Err(Error::Incomplete(format!(
            "the lease of {crm}'s batch run expired before the run ended (its renewals failed \
             or came late for longer than the lease's time to live): another run may hold the \
             CRM; this one stopped"
        )));
    }
    let stopped = ended == pipeline::Ended::Stopped;
    stats.stopped |= stopped;
    if stopped {
        return Ok(());
    }
    // Rows deleted from the table (or out of scope) are looked for in a
    // complete check; soft-deleted ones in every run, since its checkpoint;
    // the pages found those whose `sync_if` no longer holds.
    let looking = match started.since() {
        None if started.is_first_sync() => Looking::FirstSync,
        None => Looking::Everywhere,
        Some(since) => Looking::SoftDeletedSince(since),
    };
    let leaving = std::mem::take(&mut leaving);
    match archiving::archive_leaving(ctx, target, looking, leaving, options.allow_deletes).await? {
        Archived::Done(0) => {}
        Archived::Done(archived) => {
            let counted = BatchStats {
                archived,
                ..BatchStats::default()
            };
            ctx.metrics()
                .count_outcomes(crm, model, &counted.by_outcome());
            stats.outcomes.archived += archived;
            stats.per_crm.entry(crm.to_owned()).or_default().archived += archived;
        }
        Archived::Held(held) => {
            stats.deletes_held.push(held);
            // No checkpoint: the records held back (some of them stale,
            // with nothing written) are found again by the next run.
            return Ok(());
        }
    }
    if looking == Looking::Everywhere {
        // Join rows added or removed without a timestamp moved: their
        // records' links are compared only here (`links/join_rows.rs`).
        let changed = crate::links::join_rows::records(ctx, target, crm).await?;
        let mut relinked = BatchStats::default();
        for id in changed {
            match Synchronizer::new(ctx).call(crm, model, id.clone()).await {
                Ok(outcome) => relinked.record(&outcome),
                Err(error) => {
                    relinked.errors += 1;
                    tracing::warn!(message = "A record whose join rows changed could not be synced; the next complete check looks again.", crm, model, id = %id, %error);
                }
            }
        }
        if relinked.handled() > 0 || relinked.errors > 0 {
            ctx.metrics()
                .count_outcomes(crm, model, &relinked.by_outcome());
            stats.errors += relinked.errors;
            stats.outcomes.merge(&relinked);
            stats
                .per_crm
                .entry(crm.to_owned())
                .or_default()
                .merge(&relinked);
        }
    }
    if deferred > 0 || in_doubt > 0 {
        // Some records were left (held by another sync, or in doubt with
        // no sync state written to show they changed): no checkpoint, so
        // the next run finds them again.
        return Ok(());
    }
    started.finish(ctx).await?;
    if let Some(binding) = ctx.metrics().binding(crm, model) {
        binding.ran_to_the_end(crate::metrics::unix_now());
    }
    Ok(())
}

impl BatchSyncOptions {
    /// Whether the run was asked to stop.
    fn stopping(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|stop| stop.load(Ordering::SeqCst))
    }
}
