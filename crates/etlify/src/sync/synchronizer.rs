//! Syncs one record with one CRM (docs/BEHAVIOUR.md, "Outcomes"; ).
//!
//! The steps, in order:
//! 1. disabled CRM → [`SyncOutcome::Disabled`], nothing read or written;
//! 2. take the record's lock (no transaction is held across the CRM call, X-8);
//! 3. read the database time: it becomes `last_synced_at`, so a change
//!    committed after the payload is read leaves the record stale;
//! 4. read what is known of the record (SQL `sync_if`, payload, sync row,
//!    missing sync dependencies) and let [`decision::decide`] say what
//!    happens: skip, fail, buffer, not modified, or send;
//! 5. send: upsert with the known CRM id and store id and digest;
//! 6. after the lock: hand what this record waited on, or what waited on it,
//!    to the follow-up seam.

use super::changed_at;
use super::decision::{self, Decision, Known, Loaded, SqlGuard};
use super::dependencies::{self, MissingDependency};
use super::failure_log::FailureLog;
use super::guard::sql_conditions;
use super::write_synced;
use crate::adapters::UpsertRequest;
use crate::catalog::Target;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::id::{ResourceId, SyncKey};
use crate::links::{self, ToLink};
use crate::outcome::{BatchStats, RecordError, SyncOutcome};
use crate::store::leases::records::RecordLock;
use crate::store::sync_rows::{self, RowChange};
use crate::values::Payload;

/// Syncs one record at a time, inline.
#[derive(Debug, Clone, Copy)]
pub struct Synchronizer<'a> {
    ctx: &'a Context,
}

/// What happened under the lock, and what to do after releasing it.
enum Locked {
    Done(SyncOutcome),
    Buffered(Vec<MissingDependency>),
}

impl<'a> Synchronizer<'a> {
    pub(crate) fn new(ctx: &'a Context) -> Self {
        Self { ctx }
    }

    /// Syncs record `id` of `model` with `crm`.
    ///
    /// Failures attributable to the record (validation rejected by the CRM,
    /// payload error) are recorded on its sync row and answered as
    /// [`SyncOutcome::Error`] with their reason. Other failures (unknown CRM
    /// or model, database, authentication, throttling or outage after
    /// retries) are returned as `Err` and never count against the record.
    pub async fn call(
        &self,
        crm: &str,
        model: &str,
        id: impl Into<ResourceId>,
    ) -> Result<SyncOutcome> {
        let id = id.into();
        let Some(target) = self.ctx.catalog().target(crm, model)? else {
            return Ok(SyncOutcome::Disabled);
        };
        let key = SyncKey::new(crm, model, id.clone());
        let lock = RecordLock::acquire(self.ctx.store(), &key).await?;
        let locked = self.sync_locked(target, &key).await;
        let released = lock.release().await;
        let locked = locked?;
        let mut counted = BatchStats::default();
        counted.record(match &locked {
            Locked::Done(outcome) => outcome,
            Locked::Buffered(_) => &SyncOutcome::Buffered,
        });
        self.ctx
            .metrics()
            .count_outcomes(crm, model, &counted.by_outcome());
        released?;
        match locked {
            Locked::Done(outcome) => {
                if matches!(outcome, SyncOutcome::Synced | SyncOutcome::NotModified) {
                    dependencies::flush(self.ctx, crm, model, &[id]).await?;
                }
                Ok(outcome)
            }
            Locked::Buffered(missing) => {
                // Their syncs flush this record once they have a CRM id.
                dependencies::sync_missing(self.ctx, crm, &missing).await;
                Ok(SyncOutcome::Buffered)
            }
        }
    }

    async fn sync_locked(&self, target: Target<'_>, key: &SyncKey) -> Result<Locked> {
        let ctx = self.ctx;
        let store = ctx.store();
        let Target {
            crm,
            model,
            binding,
        } = target;
        let id = key.resource_id.clone();

        // the time before the read is the time the record is in sync as of.
        let read_at = store
            .in_sync_as_of(self.ctx.catalog().settings().commit_margin)
            .await?;

        let sql_guard = sql_conditions(store, model, binding, std::slice::from_ref(&id), true)
            .await?
            .guard(&id);
        let source = &binding.payload;
        // When it changed, for the change-to-CRM latency.
        let mut timestamp = None;
        let (loaded, row) = match sql_guard {
            SqlGuard::Passes => {
                let ids = [id.clone()];
                let (mut loaded, row, mut timestamps) = futures_util::try_join!(
                    source.load(store, &ids),
                    sync_rows::find(store, key),
                    changed_at::read(store, model, &ids, ctx.metrics().observes_change_latency()),
                )?;
                timestamp = timestamps.remove(&id);
                (Loaded::from(loaded.remove(&id)), row)
            }
            // Not loaded: any payload would do, the guard decides first
            // (with the row: an object out of scope may be archived).
            _ => (
                Loaded::Payload(Payload::new()),
                sync_rows::find(store, key).await?,
            ),
        };
        let (links, unsynced) = match &loaded {
            Loaded::Payload(_) if sql_guard == SqlGuard::Passes => {
                links::read(ctx, target, &key.crm_name, std::slice::from_ref(&id))
                    .await?
                    .take(id.clone())
            }
            _ => Default::default(),
        };
        let missing = match &loaded {
            Loaded::Payload(_) if sql_guard == SqlGuard::Passes => {
                let (crm_name, model_name) = (&key.crm_name, key.resource_type.as_str());
                let sync_deps = &binding.sync_dependencies;
                let mut missing =
                    dependencies::missing(ctx, crm_name, model_name, id.clone(), sync_deps).await?;
                dependencies::add_missing_targets(
                    ctx,
                    crm_name,
                    (model_name, id.clone()),
                    unsynced,
                    &mut missing,
                )
                .await?;
                missing
            }
            _ => Vec::new(),
        };
        let rules = decision::Rules {
            binding,
            model: &key.resource_type,
            digest: ctx.catalog().settings().digest_strategy.as_ref(),
            read_at,
        };
        let known = Known {
            id: id.clone(),
            row: row.as_ref(),
            sql_guard,
            loaded,
            missing,
            links,
        };
        let outgoing = match decision::decide(&rules, known) {
            Decision::Vanished => {
                return Err(Error::RecordNotFound {
                    resource_type: key.resource_type.clone(),
                    id,
                })
            }
            Decision::Skip(change) => {
                sync_rows::write(store, &[(key.clone(), change)]).await?;
                return Ok(Locked::Done(SyncOutcome::Skipped));
            }
            Decision::Fail(error) => return self.fail(key, error).await,
            Decision::Buffer(missing) => {
                dependencies::buffer(store, &key.crm_name, &key.resource_type, id, &missing)
                    .await?;
                return Ok(Locked::Buffered(missing));
            }
            Decision::InSync(change) => {
                sync_rows::write(store, &[(key.clone(), change)]).await?;
                return Ok(Locked::Done(SyncOutcome::NotModified));
            }
            // Out of scope, its object to archive: nothing written here, so
            // the record stays stale and the next batch run archives it
            // within the binding's guard.
            Decision::Leave(_) => return Ok(Locked::Done(SyncOutcome::Skipped)),
            Decision::Send(outgoing) => outgoing,
        };

        let last_synced_at = row.as_ref().and_then(|row| row.last_synced_at);
        let changed = changed_at::changed_since(timestamp, last_synced_at);
        let request = UpsertRequest {
            object_type: &binding.object_type,
            payload: &outgoing.payload,
            id_property: &binding.match_property,
            crm_id: outgoing.crm_id.as_deref(),
            id_property_only_on_create: outgoing.id_property_only_on_create,
            mode: binding.mode,
        };
        let answer = match outgoing.send_properties {
            true => crm.adapter().upsert(request).await,
            // Only its links changed: its object is known.
            false => Ok(outgoing.crm_id.clone()),
        };
        let answer = match answer {
            Ok(crm_id) => self.link(target, &outgoing, crm_id).await?,
            Err(error) => Err(error),
        };
        match answer {
            Ok(crm_id) => {
                let change = decision::after_answer(&outgoing, crm_id, read_at);
                let mut conflicts = write_synced(store, vec![(key.clone(), change)]).await?;
                if let Some((_, error)) = conflicts.pop() {
                    // The CRM id belongs to another record: recorded as an error.
                    return Ok(Locked::Done(SyncOutcome::Error(error)));
                }
                if let (Some(changed), Some(metrics)) = (
                    changed,
                    ctx.metrics().binding(&key.crm_name, &key.resource_type),
                ) {
                    metrics.changed_to_crm(crate::metrics::unix_now() - changed);
                }
                tracing::debug!(message = "Synced.", crm = %key.crm_name, resource_type = %key.resource_type, id = %id);
                Ok(Locked::Done(SyncOutcome::Synced))
            }
            // update_only and no object: nothing created, the row stamped.
            Err(error) if error.is_no_object_to_update() => {
                let stamp = RowChange::Checked {
                    at: read_at,
                    field_digests: None,
                };
                sync_rows::write(store, &[(key.clone(), stamp)]).await?;
                Ok(Locked::Done(SyncOutcome::NoObjectToUpdate))
            }
            Err(error) if error.is_record_error() => {
                self.fail(key, RecordError::from_adapter(&error)).await
            }
            Err(error) => Err(Error::from_crm(&key.crm_name, error)),
        }
    }

    /// Brings the links of `sent` in step once its object `crm_id` (or the
    /// one its row knows) is known: the answer stands, or becomes the
    /// CRM's refusal of a link.
    async fn link(
        &self,
        target: Target<'_>,
        sent: &decision::Outgoing,
        crm_id: Option<String>,
    ) -> Result<std::result::Result<Option<String>, crate::adapters::AdapterError>> {
        let from = crm_id.clone().or_else(|| sent.crm_id.clone());
        let Some(from) = from.filter(|_| !sent.links.is_idle()) else {
            return Ok(Ok(crm_id));
        };
        let record = ToLink {
            id: sent.id.clone(),
            from_crm_id: &from,
            work: &sent.links,
        };
        let mut refused = links::apply(self.ctx, target, &[record]).await?;
        Ok(match refused.remove(&sent.id) {
            Some(error) => Err(error),
            None => Ok(crm_id),
        })
    }

    /// Records a failure attributable to the record (X-3, G-16).
    async fn fail(&self, key: &SyncKey, error: RecordError) -> Result<Locked> {
        FailureLog::default().failed(
            (&key.crm_name, &key.resource_type),
            key.resource_id.clone(),
            error.kind.as_str(),
            &error.message,
        );
        sync_rows::write(
            self.ctx.store(),
            &[(
                key.clone(),
                RowChange::Failed {
                    message: error.message.clone(),
                },
            )],
        )
        .await?;
        Ok(Locked::Done(SyncOutcome::Error(error)))
    }
}
