//! The database's time, and the times as of which a read sees every change.

use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::store::Timestamp;

/// The margin before the read that `last_synced_at` is put at when the
/// configuration sets none, on databases whose list of running
/// transactions is live (SQLite, PostgreSQL): 1 ms, for writers that store
/// milliseconds (see [`crate::Config::commit_margin`]; MySQL keeps more).
pub const DEFAULT_COMMIT_MARGIN: Duration = Duration::from_millis(1);

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

    /// The commit margin an engine keeps on this database when its
    /// configuration sets none: [`DEFAULT_COMMIT_MARGIN`] where the
    /// database's view of running transactions is live.
    fn default_commit_margin(&self) -> Duration {
        DEFAULT_COMMIT_MARGIN
    }
}
