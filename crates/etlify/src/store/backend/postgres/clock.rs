//! PostgreSQL's clock is the server's, and a read is in sync only as of
//! before the oldest transaction still running (and so are the changes a
//! checkpoint covers: the default `changes_visible_through`).

use async_trait::async_trait;
use sqlx::AssertSqlSafe;

use super::{PostgresBackend, NOW};
use crate::error::Result;
use crate::store::backend::Clock;
use crate::store::Timestamp;

#[async_trait]
impl Clock for PostgresBackend {
    async fn now(&self) -> Result<Timestamp> {
        Ok(sqlx::query_scalar(AssertSqlSafe(format!("SELECT {NOW}")))
            .fetch_one(&self.pool)
            .await?)
    }

    async fn in_sync_as_of(&self) -> Result<Timestamp> {
        // A transaction of another session that is still running may commit
        // rows stamped after it began but before now: the read cannot see
        // them, so the records are in sync only as of just before the
        // oldest such transaction began. (Sessions of other roles show no
        // `xact_start` without pg_read_all_stats; the commit margin covers them.)
        Ok(sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT LEAST({NOW}, (SELECT (MIN(xact_start) AT TIME ZONE 'UTC')::timestamp(6) - interval '1 microsecond' \
             FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' \
             AND pid <> pg_backend_pid() AND xact_start IS NOT NULL))"
        )))
        .fetch_one(&self.pool)
        .await?)
    }
}
