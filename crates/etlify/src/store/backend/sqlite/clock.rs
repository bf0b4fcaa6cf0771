//! SQLite's clock is this process's: the database is on this machine.

use async_trait::async_trait;
use chrono::{Timelike, Utc};

use super::SqliteBackend;
use crate::error::Result;
use crate::store::backend::Clock;
use crate::store::Timestamp;

/// The process's clock to the microsecond: "now" on SQLite.
pub(super) fn process_now() -> Timestamp {
    let now = Utc::now().naive_utc();
    let micros = now.nanosecond() / 1_000 * 1_000;
    now.with_nanosecond(micros).unwrap_or(now)
}

/// In sync as of "now" (the default): SQLite shows no other connection's
/// transaction, but a writer's transaction holds its single write lock,
/// which the sync's lease waits for, so the read comes after the commit.
/// What is left (a timestamp taken before its write began, whole-second
/// timestamps) is the commit margin's.
#[async_trait]
impl Clock for SqliteBackend {
    async fn now(&self) -> Result<Timestamp> {
        Ok(process_now())
    }

    async fn changes_visible_through(&self) -> Result<Timestamp> {
        // Taking the write lock waits for the writer holding it to commit;
        // a writer that starts later stamps its changes after this time.
        sqlx::raw_sql("BEGIN IMMEDIATE; COMMIT")
            .execute(&mut *self.pool.acquire().await?)
            .await?;
        self.now().await
    }
}
