//! Follow-up work as record jobs (G-18, as the gem enqueued them): the syncs
//! of a buffered record's dependencies, and of the records that waited on
//! one now in the CRM, are requested like any record job (deduplicated,
//! never lost while one runs). The job that caused them has released its
//! record's lock before they run, so cyclic dependencies never deadlock.

use async_trait::async_trait;

use crate::context::Context;
use crate::error::Result;
use crate::id::SyncKey;
use crate::sync::follow_up::{FollowUp, Reason};

/// Requests a record job for each follow-up sync.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct QueuedFollowUp;

#[async_trait]
impl FollowUp for QueuedFollowUp {
    async fn sync(&self, ctx: &Context, key: SyncKey, reason: Reason) -> Result<()> {
        if !ctx.catalog().crm_enabled(&key.crm_name) {
            return Ok(());
        }
        let enqueued = super::perform::request_record(ctx, &key).await?;
        tracing::debug!(message = "Follow-up sync requested.", crm = %key.crm_name, resource_type = %key.resource_type, id = %key.resource_id, ?reason, %enqueued);
        Ok(())
    }
}
