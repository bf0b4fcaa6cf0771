//! Deletes one record's CRM object (G-3, G-4, X-11).
//!
//! Unlike the gem, errors keep their kind (typed [`crate::adapters::AdapterError`]),
//! a remote 404 is [`DeleteOutcome::AlreadyGone`], and the sync row stops
//! claiming a CRM id or digest afterwards so a later sync recreates the
//! object.

use crate::adapters::RemoteDelete;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::id::{ResourceId, SyncKey};
use crate::outcome::DeleteOutcome;
use crate::store::leases::records::RecordLock;
use crate::store::sync_rows;

/// Deletes one record's CRM object at a time, inline.
#[derive(Debug, Clone, Copy)]
pub struct Deleter<'a> {
    ctx: &'a Context,
}

impl<'a> Deleter<'a> {
    pub(crate) fn new(ctx: &'a Context) -> Self {
        Self { ctx }
    }

    /// Deletes the CRM object of record `id` of `model` in `crm`.
    pub async fn call(
        &self,
        crm: &str,
        model: &str,
        id: impl Into<ResourceId>,
    ) -> Result<DeleteOutcome> {
        let id = id.into();
        let Some(target) = self.ctx.catalog().target(crm, model)? else {
            return Ok(DeleteOutcome::Disabled);
        };
        let store = self.ctx.store();
        let key = SyncKey::new(crm, model, id);
        let lock = RecordLock::acquire(store, &key).await?;
        let result = async {
            let row = sync_rows::find(store, &key).await?;
            let Some(crm_id) = row
                .and_then(|r| r.crm_id)
                .filter(|id| !id.trim().is_empty())
            else {
                return Ok(DeleteOutcome::Noop);
            };
            let outcome = match target
                .crm
                .adapter()
                .delete(&target.binding.object_type, &crm_id)
                .await
            {
                Ok(RemoteDelete::Deleted) => DeleteOutcome::Deleted,
                Ok(RemoteDelete::NotFound) => DeleteOutcome::AlreadyGone,
                Err(error) if error.kind() == crate::adapters::AdapterErrorKind::NotFound => {
                    DeleteOutcome::AlreadyGone
                }
                Err(error) => return Err(Error::from_crm(crm, error)),
            };
            sync_rows::forget_remote(store, &key).await?;
            Ok(outcome)
        }
        .await;
        lock.release().await?;
        result
    }
}
