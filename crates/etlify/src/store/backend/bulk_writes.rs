//! Statements of many rows, fed the way each database takes them fastest
//! (`VALUES` lists with plain placeholders on SQLite, arrays on PostgreSQL).

use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::id::SyncKey;
use crate::store::sync_rows::RowChange;

/// The sync state's writes of many rows.
#[async_trait]
pub(crate) trait BulkWrites: Send + Sync {
    /// Takes, for `owner` and `ttl`, the leases among `names` that are free
    /// or expired (`leases/batch_run.rs`); returns the names taken.
    async fn take_leases(
        &self,
        owner: &str,
        names: &[String],
        ttl: Duration,
    ) -> Result<Vec<String>>;

    /// Upserts sync rows that all carry the same kind of change.
    async fn upsert_sync_rows(&self, rows: &[&(SyncKey, RowChange)]) -> Result<()>;

    /// Refreshes the sync table's planner statistics, where the database
    /// needs it during a long run (others plan well without).
    async fn refresh_sync_statistics(&self) -> Result<()> {
        Ok(())
    }
}
