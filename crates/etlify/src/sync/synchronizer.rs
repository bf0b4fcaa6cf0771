//! Syncs one record with one CRM (REFERENCE SYN-*, SPEC §4).
//!
//! The steps, in order:
//! 1. disabled CRM → [`SyncOutcome::Disabled`], nothing read or written;
//! 2. take the record's lock (no transaction is held across the CRM call, X-8);
//! 3. read the database time: it becomes `last_synced_at`, so a change
//!    committed after the payload is read leaves the record stale;
//! 4. `sync_if` false → stamp the row, [`SyncOutcome::Skipped`];
//! 5. load the payload; a missing sync dependency → buffer, [`SyncOutcome::Buffered`];
//! 6. same digest as the row → stamp, clear errors, [`SyncOutcome::NotModified`];
//! 7. otherwise upsert with the known CRM id and store id and digest;
//! 8. after the lock: hand what this record waited on, or what waited on it,
//!    to the follow-up seam.

use serde_json::Value;

use super::dependencies::{self, MissingDependency};
use super::guard::{eligible_by_sql, payload_eligible};
use super::write_synced;
use crate::adapters::UpsertRequest;
use crate::catalog::Target;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::field_digests;
use crate::id::{ResourceId, SyncKey};
use crate::model::SyncIf;
use crate::outcome::{RecordError, RecordErrorKind, SyncOutcome};
use crate::store::lock::RecordLock;
use crate::store::sync_rows::{self, RowChange};

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

    /// Syncs record `id` of `resource_type` with `crm_name`.
    ///
    /// Failures attributable to the record (validation rejected by the CRM,
    /// payload error) are recorded on its sync row and answered as
    /// [`SyncOutcome::Error`] with their reason. Other failures (unknown CRM
    /// or model, database, authentication, throttling or outage after
    /// retries) are returned as `Err` and never count against the record.
    pub async fn call(
        &self,
        crm_name: &str,
        resource_type: &str,
        id: impl Into<ResourceId>,
    ) -> Result<SyncOutcome> {
        let id = id.into();
        let Some(target) = self.ctx.catalog().target(crm_name, resource_type)? else {
            return Ok(SyncOutcome::Disabled);
        };
        let key = SyncKey::new(crm_name, resource_type, id);
        let lock = RecordLock::acquire(self.ctx.store(), &key).await?;
        let locked = self.sync_locked(target, &key).await;
        let released = lock.release().await;
        let locked = locked?;
        released?;
        match locked {
            Locked::Done(outcome) => {
                if matches!(outcome, SyncOutcome::Synced | SyncOutcome::NotModified) {
                    dependencies::flush(self.ctx, crm_name, resource_type, &[id]).await?;
                }
                Ok(outcome)
            }
            Locked::Buffered(missing) => {
                // Their syncs flush this record once they have a CRM id.
                dependencies::sync_missing(self.ctx, crm_name, &missing).await;
                Ok(SyncOutcome::Buffered)
            }
        }
    }

    async fn sync_locked(&self, target: Target<'_>, key: &SyncKey) -> Result<Locked> {
        let ctx = self.ctx;
        let store = ctx.store();
        let Target {
            crm,
            resolved,
            binding,
        } = target;
        let model = &resolved.model;
        let id = key.resource_id;

        // the time before the read is the time the record is in sync as of.
        let read_at = store
            .in_sync_as_of(self.ctx.catalog().config().get_commit_margin())
            .await?;

        if let Some(SyncIf::Sql(condition)) = binding.get_sync_if() {
            if !eligible_by_sql(store, model, condition, &[id])
                .await?
                .contains(&id)
            {
                return skipped(store, key, read_at).await;
            }
        }

        let Some(source) = binding.get_payload() else {
            // Internal invariant: the catalog rejects bindings without a payload.
            unreachable!("binding validated without a payload source");
        };
        let payload = match source.load(store, &[id]).await?.remove(&id) {
            None => {
                return Err(Error::RecordNotFound {
                    resource_type: key.resource_type.clone(),
                    id,
                })
            }
            Some(Err(message)) => {
                let error =
                    RecordError::new(RecordErrorKind::Payload, format!("payload: {message}"));
                return self.fail(key, error).await;
            }
            Some(Ok(payload)) => payload,
        };
        if !payload_eligible(binding.get_sync_if(), &payload) {
            return skipped(store, key, read_at).await;
        }

        let sync_deps = resolved.sync_dependencies_for(&key.crm_name);
        let missing =
            dependencies::missing(ctx, &key.crm_name, &key.resource_type, id, sync_deps).await?;
        if !missing.is_empty() {
            dependencies::buffer(store, &key.crm_name, &key.resource_type, id, &missing).await?;
            return Ok(Locked::Buffered(missing));
        }

        let payload = Value::Object(payload);
        let digest = ctx
            .catalog()
            .config()
            .get_digest_strategy()
            .digest(&payload);
        let Value::Object(payload) = payload else {
            unreachable!("built from an object just above");
        };
        let row = sync_rows::find(store, key).await?;
        if row.as_ref().and_then(|r| r.last_digest.as_deref()) == Some(digest.as_str()) {
            let field_digests = row
                .as_ref()
                .is_some_and(|r| r.field_digests.is_none())
                .then(|| field_digests::encode(&payload, &digest));
            let change = RowChange::Checked {
                at: read_at,
                field_digests,
            };
            sync_rows::write(store, &[(key.clone(), change)]).await?;
            return Ok(Locked::Done(SyncOutcome::NotModified));
        }
        let field_digests = field_digests::encode(&payload, &digest);

        let payload = binding.with_external_id(&key.resource_type, id, payload);
        let known_crm_id = row
            .as_ref()
            .and_then(|r| r.crm_id.as_deref())
            .filter(|id| !id.trim().is_empty());
        let request = UpsertRequest {
            object_type: binding.get_object_type(),
            payload: &payload,
            id_property: binding.match_property(),
            crm_id: known_crm_id,
        };
        match crm.adapter().upsert(request).await {
            Ok(crm_id) => {
                let crm_id = crm_id.filter(|id| !id.trim().is_empty());
                let change = RowChange::Synced {
                    crm_id,
                    digest,
                    field_digests,
                    at: read_at,
                };
                let mut conflicts = write_synced(store, vec![(key.clone(), change)]).await?;
                if let Some((_, error)) = conflicts.pop() {
                    // The CRM id belongs to another record: recorded as an error.
                    return Ok(Locked::Done(SyncOutcome::Error(error)));
                }
                tracing::debug!(message = "Synced.", crm = %key.crm_name, resource_type = %key.resource_type, id = %id);
                Ok(Locked::Done(SyncOutcome::Synced))
            }
            Err(error) if error.is_record_error() => {
                self.fail(key, RecordError::from_adapter(&error)).await
            }
            Err(error) => Err(Error::from_crm(&key.crm_name, error)),
        }
    }

    /// Records a failure attributable to the record (SYN-9, SYN-11).
    async fn fail(&self, key: &SyncKey, error: RecordError) -> Result<Locked> {
        tracing::warn!(message = "Sync failed.", crm = %key.crm_name, resource_type = %key.resource_type, id = %key.resource_id, error = %error);
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

/// `sync_if` is false: the record is in sync as of `read_at`.
async fn skipped(
    store: &crate::store::Store,
    key: &SyncKey,
    read_at: crate::store::Timestamp,
) -> Result<Locked> {
    let change = RowChange::Checked {
        at: read_at,
        field_digests: None,
    };
    sync_rows::write(store, &[(key.clone(), change)]).await?;
    Ok(Locked::Done(SyncOutcome::Skipped))
}
