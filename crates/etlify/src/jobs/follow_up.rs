//! Follow-up work as record jobs (G-18, as the gem enqueued them): the syncs
//! of a buffered record's dependencies, and of the records that waited on
//! one now in the CRM, are requested like any record job (deduplicated,
//! never lost while one runs). The job that caused them has released its
//! record's lock before they run, so cyclic dependencies never deadlock.

use async_trait::async_trait;

use std::sync::Arc;

use super::{JobContext, JobHandlers};
use crate::context::{Context, FollowUp, Reason};
use crate::error::Result;
use crate::id::SyncKey;

/// Requests a record job for each follow-up sync, through `handlers`.
#[derive(Debug, Clone)]
pub(crate) struct QueuedFollowUp {
    handlers: Arc<JobHandlers>,
}

impl QueuedFollowUp {
    pub(crate) fn new(handlers: Arc<JobHandlers>) -> Self {
        Self { handlers }
    }
}

#[async_trait]
impl FollowUp for QueuedFollowUp {
    async fn sync(&self, ctx: &Context, key: SyncKey, reason: Reason) -> Result<()> {
        if !ctx.catalog().crm_enabled(&key.crm_name) {
            return Ok(());
        }
        let jobs = JobContext::new(ctx.clone(), self.handlers.clone());
        let enqueued = super::perform::request_record(&jobs, &key).await?;
        tracing::debug!(message = "Follow-up sync requested.", crm = %key.crm_name, resource_type = %key.resource_type, id = %key.resource_id, ?reason, %enqueued);
        Ok(())
    }
}
