//! Administration: what an operator reads and repairs, apart from running
//! syncs: sync rows, failing records and their error budgets, forgetting a
//! CRM's objects, where each (model, CRM) stands, the schema, the jobs.

use super::Etlify;
use crate::error::Result;
use crate::id::{ResourceId, SyncKey};
use crate::runs::archiving;
use crate::stale::standing;
use crate::store::leases::batch_run::batch_run_name;
use crate::store::leases::Lease;
use crate::store::schema::{self, SchemaReport};
use crate::store::{checkpoint, pending, rate_window, sync_rows, SyncRow};

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

/// Where the records of one (model, CRM) stand, as [`Etlify::status`]
/// reports it. Each record in scope (the model's table, within its
/// `stale_scope` and STI filter) is counted once, in the first of these
/// that holds: over budget, failing, waiting, never synced, stale, in sync;
/// so they add up to [`StatusEntry::records`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatusEntry {
    /// Resource type.
    pub model: String,
    /// CRM name.
    pub crm: String,
    /// Records in scope: the sum of the six counts below.
    pub records: u64,
    /// A sync row without errors, unchanged since its last sync.
    pub in_sync: u64,
    /// A sync row without errors, changed since its last sync (the record
    /// or a dependency stamped after it, as the stale finder decides).
    pub stale: u64,
    /// No sync row for the CRM yet.
    pub never_synced: u64,
    /// Its last sync failed, under the CRM's error budget (`error_count`
    /// from 1 to `max_sync_errors - 1`): runs try it again while it is stale.
    pub failing: u64,
    /// Its errors reached the CRM's error budget (`error_count >=
    /// max_sync_errors`): left alone until they are reset (G-16).
    pub over_budget: u64,
    /// Waiting for a sync dependency to reach the CRM (G-18), without errors.
    pub waiting: u64,
    /// The newest `last_synced_at` among the records in scope.
    pub last_synced_at: Option<crate::store::Timestamp>,
    /// When the last batch run that read the whole table began (none
    /// yet: the next run does); runs in between look only at what changed
    /// (`Config::complete_check_interval`).
    pub last_complete_check: Option<crate::store::Timestamp>,
    /// For a binding that archives what leaves (`on_delete`,
    /// `on_leave_scope`): the records a complete check would archive now,
    /// and whether `max_deletes_per_run` holds them back (not in `records`:
    /// a deleted row is out of the table).
    pub archive: Option<crate::runs::PlannedArchive>,
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

/// How much of a CRM's rate limit was used lately, as
/// [`Etlify::rate_window_use`] reads it from the window every process
/// shares (`etlify_rate_slots`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateWindowUse {
    /// The limit: requests per `period`.
    pub max_requests: u32,
    pub period: std::time::Duration,
    /// Requests sent within the last `period`, by every process.
    pub sent: u64,
    /// Time left of a pause the CRM asked for (a 429's delay); zero when
    /// none.
    pub paused_for: std::time::Duration,
}

impl Etlify {
    /// How much of `crm`'s rate limit the processes sharing this database
    /// used within its last period; `None` for a CRM without a rate limit,
    /// or on a database that keeps no shared window (SQLite in memory),
    /// where each process counts its own. Reads only.
    pub async fn rate_window_use(&self, crm: &str) -> Result<Option<RateWindowUse>> {
        self.ctx.catalog().crm(crm)?;
        let Some(limit) = self.crms().get(crm).and_then(|c| c.get_rate_limit()) else {
            return Ok(None);
        };
        let period = limit.get_period();
        let usage = rate_window::usage(self.store(), crm, period).await?;
        Ok(usage.map(|usage| RateWindowUse {
            max_requests: limit.get_max_requests(),
            period,
            sent: usage.sent,
            paused_for: usage.paused_for,
        }))
    }

    /// The sync row of one record, if any.
    pub async fn sync_row(
        &self,
        crm: &str,
        model: &str,
        id: impl Into<ResourceId>,
    ) -> Result<Option<SyncRow>> {
        sync_rows::find(self.store(), &SyncKey::new(crm, model, id)).await
    }

    /// Clears one row's error budget so the finder picks it up again (G-16).
    /// Returns whether the row existed.
    pub async fn reset_error_count(
        &self,
        crm: &str,
        model: &str,
        id: impl Into<ResourceId>,
    ) -> Result<bool> {
        let reset =
            sync_rows::reset_error_count(self.store(), &SyncKey::new(crm, model, id)).await?;
        // A reset row may be stale by timestamps older than the checkpoint.
        checkpoint::forget(self.store(), Some(crm), Some(model)).await?;
        Ok(reset)
    }

    /// Records with errors (`error_count > 0`), newest first, at most `limit`;
    /// restricted to a CRM and a model when given.
    pub async fn failing(
        &self,
        crm: Option<&str>,
        model: Option<&str>,
        limit: u64,
    ) -> Result<Vec<SyncRow>> {
        sync_rows::failing(self.store(), crm, model, limit).await
    }

    /// [`Etlify::failing`] from the `offset`-th record on, in a stable
    /// order (a status page's pages).
    pub async fn failing_page(
        &self,
        crm: Option<&str>,
        model: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<SyncRow>> {
        sync_rows::failing_page(self.store(), crm, model, offset, limit).await
    }

    /// Clears the error budget of failing records — of a CRM, of a model,
    /// or these ids — so the finder picks them up again (G-16). Returns how
    /// many rows were reset.
    pub async fn reset_errors(
        &self,
        crm: Option<&str>,
        model: Option<&str>,
        ids: &[ResourceId],
    ) -> Result<u64> {
        let reset = sync_rows::reset_errors(self.store(), crm, model, ids).await?;
        if reset > 0 {
            checkpoint::forget(self.store(), crm, model).await?;
        }
        Ok(reset)
    }

    /// What [`Etlify::forget`] would delete now, deleting nothing: the
    /// sync rows and the waiting records of `crm` (of `model` only, when
    /// given); [`Forgotten::busy`] is always false.
    pub async fn forget_preview(&self, crm: &str, model: Option<&str>) -> Result<Forgotten> {
        let catalog = self.ctx.catalog();
        catalog.crm(crm)?;
        if let Some(model) = model {
            catalog.declared(model)?;
        }
        let store = self.store();
        Ok(Forgotten {
            busy: false,
            sync_rows: sync_rows::count_of_crm(store, crm, model).await?,
            waiting: pending::count_of_crm(store, crm, model).await?,
        })
    }

    /// Forgets what the engine knows of `crm`'s objects, of one model
    /// or of all: their sync rows (CRM ids, digests, errors), the records
    /// waiting there for a dependency, and the checkpoints. The next run
    /// then reads every record in scope and sends it, matched by its
    /// `id_property` to the objects the CRM already has: for a CRM pointed
    /// at another account. It holds the CRM's batch-run lock meanwhile;
    /// while a batch run of the CRM is under way it does nothing and says
    /// so ([`Forgotten::busy`]). The checkpoints go first: stopped midway,
    /// the next run still reads everything, and forgetting again finishes.
    /// The links recorded in the CRM go with its sync rows.
    pub async fn forget(&self, crm: &str, model: Option<&str>) -> Result<Forgotten> {
        let catalog = self.ctx.catalog();
        catalog.crm(crm)?;
        if let Some(model) = model {
            catalog.declared(model)?;
        }
        let store = self.store();
        let (lease, taken) = Lease::try_acquire(store, vec![batch_run_name(crm)]).await?;
        if taken != [true] {
            lease.release().await?;
            return Ok(Forgotten {
                busy: true,
                ..Forgotten::default()
            });
        }
        let forgotten = async {
            checkpoint::forget(store, Some(crm), model).await?;
            let waiting = pending::forget(store, crm, model).await?;
            crate::store::links::forget_crm(store, crm, model).await?;
            let sync_rows = sync_rows::forget(store, crm, model).await?;
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

    /// Where the records of each (model, enabled CRM) stand, in
    /// declaration order: in sync, stale, never synced, failing, over the
    /// error budget, waiting for a sync dependency ([`StatusEntry`]); each
    /// (model, CRM) counted in one statement, so the counts add up to its
    /// records in scope. [`Etlify::plan`] counts what a run would pick up
    /// now: the never synced and stale ones, and the failing and waiting
    /// ones that changed since their last sync.
    pub async fn status(&self) -> Result<Vec<StatusEntry>> {
        let catalog = self.ctx.catalog();
        let mut entries = Vec::new();
        for model in catalog.models() {
            let crms = model.bindings.keys().filter(|crm| catalog.crm_enabled(crm));
            for crm in crms {
                let model = model.resource_type.as_str();
                let counts = standing::count(&self.ctx, crm, model).await?;
                let checkpoint = checkpoint::load(self.store(), crm, model).await?;
                let archive = match catalog.target(crm, model)? {
                    Some(target) => archiving::plan(&self.ctx, target, false).await?,
                    None => None,
                };
                entries.push(StatusEntry {
                    model: model.to_owned(),
                    crm: crm.clone(),
                    records: counts.in_sync
                        + counts.stale
                        + counts.never_synced
                        + counts.failing
                        + counts.over_budget
                        + counts.waiting,
                    in_sync: counts.in_sync,
                    stale: counts.stale,
                    never_synced: counts.never_synced,
                    failing: counts.failing,
                    over_budget: counts.over_budget,
                    waiting: counts.waiting,
                    last_synced_at: counts.last_synced_at,
                    last_complete_check: checkpoint.map(|c| c.complete_at),
                    archive,
                });
            }
        }
        Ok(entries)
    }

    /// Checks the sync-state schema (the gem's boot-time check, EN-*).
    pub async fn check(&self) -> Result<SchemaReport> {
        schema::check(self.store()).await
    }

    /// Sync jobs queued (not started) and running, over every worker.
    pub async fn job_counts(&self) -> Result<JobCounts> {
        let (queued, running) = crate::store::job_requests::counts(self.store()).await?;
        Ok(JobCounts { queued, running })
    }
}
