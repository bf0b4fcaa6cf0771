//! The follow-up seam: work a sync causes beyond its own record (the gem's
//! `sync_dependencies`, G-18).
//!
//! - a buffered record's sync dependencies must be synced (the gem enqueues
//!   them); their syncs flush the record once they have a CRM id;
//! - the records that waited on a record now in the CRM must be synced.
//!
//! The synchronizers hand that work to the context's [`FollowUp`] and never
//! call the public face. [`InlineFollowUp`] runs it at once, in this task, after the
//! record's lock is released (so cyclic sync dependencies cannot deadlock);
//! a job queue implements the same trait by enqueueing.

use async_trait::async_trait;

use super::Synchronizer;
use crate::context::{Context, FollowUp, Reason};
use crate::error::Result;
use crate::id::SyncKey;

/// Runs follow-up syncs at once, in the calling task.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct InlineFollowUp;

#[async_trait]
impl FollowUp for InlineFollowUp {
    async fn sync(&self, ctx: &Context, key: SyncKey, _reason: Reason) -> Result<()> {
        if !ctx.catalog().crm_enabled(&key.crm_name) {
            return Ok(());
        }
        Synchronizer::new(ctx)
            .call(&key.crm_name, &key.resource_type, key.resource_id)
            .await?;
        Ok(())
    }
}
