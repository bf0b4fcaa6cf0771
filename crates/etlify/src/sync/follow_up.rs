//! The follow-up seam: work a sync causes beyond its own record (the gem's
//! `sync_dependencies`, G-18).
//!
//! - a buffered record's sync dependencies must be synced (the gem enqueues
//!   them); their syncs flush the record once they have a CRM id;
//! - the records that waited on a record now in the CRM must be synced.
//!
//! The synchronizers hand that work to a [`FollowUp`] and never call the
//! public face. [`InlineFollowUp`] runs it at once, in this task, after the
//! record's lock is released (so cyclic sync dependencies cannot deadlock);
//! a job queue implements the same trait by enqueueing.

use std::fmt;

use async_trait::async_trait;

use super::Synchronizer;
use crate::context::Context;
use crate::error::Result;
use crate::id::SyncKey;

/// Why a record is synced as follow-up work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// A record that a buffered record waits on.
    Dependency,
    /// A record that waited on one now in the CRM.
    WaitingDependent,
}

/// Where follow-up syncs go.
#[async_trait]
pub(crate) trait FollowUp: Send + Sync + fmt::Debug {
    /// Syncs (or schedules the sync of) `key`. An error is reported by the
    /// caller and never fails the sync that caused the work: the record
    /// stays stale and the finder picks it up again.
    async fn sync(&self, ctx: &Context, key: SyncKey, reason: Reason) -> Result<()>;
}

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
