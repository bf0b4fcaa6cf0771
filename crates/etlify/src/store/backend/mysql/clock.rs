//! MySQL's clock is the server's, and a read is in sync only as of before
//! the oldest InnoDB transaction still running (and so are the changes a
//! checkpoint covers: the default `changes_visible_through`).

use std::time::Duration;

use async_trait::async_trait;
use sqlx::AssertSqlSafe;

use super::{MysqlBackend, NOW};
use crate::error::Result;
use crate::store::backend::Clock;
use crate::store::Timestamp;

/// The commit margin MySQL needs unless configured: InnoDB's list of
/// open transactions, which `in_sync_as_of` reads, is a cache the server
/// refreshes at most every 100 ms, so a transaction that began within the
/// last 100 ms may be missing from it; twice that leaves room for the
/// refresh and the read's own latency.
const COMMIT_MARGIN: Duration = Duration::from_millis(200);

#[async_trait]
impl Clock for MysqlBackend {
    async fn now(&self) -> Result<Timestamp> {
        Ok(sqlx::query_scalar(AssertSqlSafe(format!("SELECT {NOW}")))
            .fetch_one(&self.pool)
            .await?)
    }

    async fn in_sync_as_of(&self) -> Result<Timestamp> {
        // A transaction of another session still running may commit rows
        // stamped after it began but before now: the read cannot see them,
        // so the records are in sync only as of just before the oldest
        // such transaction began. (Without the PROCESS privilege the table
        // shows none; the commit margin covers them.) Only sessions on
        // this database count, as on PostgreSQL: InnoDB's list is the
        // server's. `trx_started` reads in the session's time zone, UTC.
        // The list is a cache the server refreshes at most every 100 ms:
        // a transaction younger than that may be missing from it, which
        // only `commit_margin` covers (docs/OPERATIONS.md, "Database
        // roles": at least 200 ms on MySQL).
        Ok(sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT LEAST({NOW}, COALESCE((SELECT CAST(MIN(t.trx_started) AS DATETIME(6)) - INTERVAL 1 MICROSECOND \
             FROM information_schema.innodb_trx AS t JOIN information_schema.processlist AS p \
             ON p.id = t.trx_mysql_thread_id WHERE p.db = DATABASE() \
             AND t.trx_mysql_thread_id <> CONNECTION_ID()), {NOW}))"
        )))
        .fetch_one(&self.pool)
        .await?)
    }

    fn default_commit_margin(&self) -> Duration {
        COMMIT_MARGIN
    }
}
