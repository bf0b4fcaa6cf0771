//! The database's time, and the times as of which a read sees every change.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::store::Timestamp;

/// The database's clock.
#[async_trait]
pub(crate) trait Clock: Send + Sync {
    /// The database's current time in UTC, truncated to microseconds.
    async fn now(&self) -> Result<Timestamp>;

    /// The time records read now are in sync as of: "now", or earlier
    /// where the backend can see transactions still running, whose changes
    /// a read cannot see yet but which may carry older timestamps.
    async fn in_sync_as_of(&self) -> Result<Timestamp> {
        self.now().await
    }

    /// A time at or before which every change is committed and visible to
    /// reads that start now: the checkpoint of a batch run (`checkpoint.rs`).
    async fn changes_visible_through(&self) -> Result<Timestamp> {
        self.in_sync_as_of().await
    }

    /// The commit margin this database's view of running transactions
    /// needs when the configuration sets none, where the engine's default
    /// is not enough: `None` where that view is live.
    fn commit_margin_needed(&self) -> Option<Duration> {
        None
    }
}
