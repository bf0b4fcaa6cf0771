//! SQLite's shared rate window: each CRM's send slots in
//! `etlify_rate_slots`, read and stamped inside one immediate write
//! transaction, so that two processes on one file never take one slot.
//!
//! SQLite has no row locks (`FOR UPDATE SKIP LOCKED` on PostgreSQL): the
//! database's single write lock, taken by `BEGIN IMMEDIATE` before the
//! slots are read, serializes the takers instead. Each take is a short
//! transaction (two reads of a handful of rows and one update, no fsync in
//! WAL mode with `synchronous = NORMAL`), on a connection of its own so
//! that a request never waits for a pool busy with sync-row writes.
//!
//! "Now" is the process's wall clock, read once the write lock is held.
//! Every process on one SQLite file runs on the machine that holds the file
//! (WAL needs shared memory, so never on a network file system), and reads
//! the same system clock: the clocks the processes stamp with are one. It
//! is the clock SQLite's own `unixepoch('subsec')` reads too, to the
//! millisecond only; this one keeps microseconds. Read under the lock, a
//! stamp is never older than a stamp an earlier holder wrote.

use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDateTime;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::SqlitePool;

use super::clock::process_now;
use super::TIMESTAMP_FORMAT;
use crate::error::Result;
use crate::store::backend::{SharedRateWindow, Take, WindowUsage};
use crate::store::Timestamp;

/// Slots `-1..max_requests` of a CRM, new ones free since the epoch
/// (`WHERE true`: SQLite's parser needs it before an upsert's `ON CONFLICT`
/// after a `SELECT`).
const RATE_SLOTS_FILL: &str = concat!(
    "WITH RECURSIVE \"slots\"(\"n\") AS (SELECT -1 UNION ALL SELECT \"n\" + 1 FROM \"slots\" WHERE \"n\" + 1 < ?) ",
    r#"INSERT INTO "etlify_rate_slots" ("crm_name", "slot", "sent_at") "#,
    r#"SELECT ?, "n", '1970-01-01 00:00:00.000000' FROM "slots" WHERE true "#,
    r#"ON CONFLICT ("crm_name", "slot") DO NOTHING"#
);

/// Slots beyond a lowered limit.
const RATE_SLOTS_TRIM: &str =
    r#"DELETE FROM "etlify_rate_slots" WHERE "crm_name" = ? AND "slot" >= ?"#;

/// The end of the CRM's pause (slot -1).
const RATE_PAUSE_END: &str =
    r#"SELECT "sent_at" FROM "etlify_rate_slots" WHERE "crm_name" = ? AND "slot" = -1"#;

/// The send slot whose send is oldest.
const RATE_OLDEST_SLOT: &str = concat!(
    r#"SELECT "slot", "sent_at" FROM "etlify_rate_slots" "#,
    r#"WHERE "crm_name" = ? AND "slot" >= 0 ORDER BY "sent_at", "slot" LIMIT 1"#
);

/// Stamps one slot with a send time.
const RATE_SLOT_STAMP: &str =
    r#"UPDATE "etlify_rate_slots" SET "sent_at" = ? WHERE "crm_name" = ? AND "slot" = ?"#;

/// Moves a slot's send time to `?`, if later; the time it holds then.
const RATE_SLOT_RESTAMP: &str = concat!(
    r#"UPDATE "etlify_rate_slots" SET "sent_at" = max("sent_at", ?) "#,
    r#"WHERE "crm_name" = ? AND "slot" = ? AND "slot" >= 0 RETURNING "sent_at""#
);

/// Moves a slot's time to `?` if it still holds the time `?` (the text
/// format is written by one function: equal times are equal texts).
const RATE_SLOT_SETTLE: &str = concat!(
    r#"UPDATE "etlify_rate_slots" SET "sent_at" = ? "#,
    r#"WHERE "crm_name" = ? AND "slot" = ? AND "slot" >= 0 AND "sent_at" = ?"#
);

/// Moves the pause's end to `?` if later (the text format sorts by time).
const RATE_SLOTS_PAUSE: &str = concat!(
    r#"UPDATE "etlify_rate_slots" SET "sent_at" = max("sent_at", ?) "#,
    r#"WHERE "crm_name" = ? AND "slot" = -1"#
);

/// Sends stamped after `?` (the text format sorts by time).
const RATE_SENT_SINCE: &str = concat!(
    r#"SELECT COUNT(*) FROM "etlify_rate_slots" "#,
    r#"WHERE "crm_name" = ? AND "slot" >= 0 AND "sent_at" > ?"#
);

/// The rate slots of a SQLite file.
#[derive(Debug)]
pub(super) struct SqliteRateWindow {
    /// One connection of its own, opened when first used.
    pool: SqlitePool,
}

impl SqliteRateWindow {
    /// The window of the database `options` open; `None` for a database in
    /// memory, which no other process can open (nothing to share).
    pub(super) fn of(options: &SqliteConnectOptions) -> Option<Self> {
        if is_in_memory(options) {
            return None;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_lazy_with(options.clone());
        Some(Self { pool })
    }
}

/// Whether `options` open a database in memory (`sqlite::memory:` names
/// one `file:sqlx-in-memory-N`).
pub(super) fn is_in_memory(options: &SqliteConnectOptions) -> bool {
    let name = options.get_filename().as_os_str().to_string_lossy();
    name.is_empty() || name == ":memory:" || name.starts_with("file:sqlx-in-memory-")
}

fn text(time: Timestamp) -> String {
    time.format(TIMESTAMP_FORMAT).to_string()
}

/// A stored time; one that cannot be read counts as long past (the slot is
/// free), as the fill's epoch does.
fn parse(stored: &str) -> Timestamp {
    NaiveDateTime::parse_from_str(stored, "%Y-%m-%d %H:%M:%S%.f").unwrap_or_default()
}

/// From `now` to `end` (later).
fn until(now: Timestamp, end: Timestamp) -> Duration {
    (end - now).to_std().unwrap_or_default()
}

/// `duration` after `time`, saturating.
fn later(time: Timestamp, duration: Duration) -> Timestamp {
    chrono::TimeDelta::from_std(duration)
        .ok()
        .and_then(|delta| time.checked_add_signed(delta))
        .unwrap_or(NaiveDateTime::MAX)
}

#[async_trait]
impl SharedRateWindow for SqliteRateWindow {
    async fn size(&self, crm_name: &str, max_requests: u32) -> Result<()> {
        let slots = i64::from(max_requests);
        sqlx::query(RATE_SLOTS_FILL)
            .bind(slots)
            .bind(crm_name)
            .execute(&self.pool)
            .await?;
        sqlx::query(RATE_SLOTS_TRIM)
            .bind(crm_name)
            .bind(slots)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn take(&self, crm_name: &str, window: Duration, late_by: Duration) -> Result<Take> {
        // The write lock first: no other process reads the slots until
        // this one has stamped its own.
        let mut transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let now = process_now();
        let paused_until: Option<String> = sqlx::query_scalar(RATE_PAUSE_END)
            .bind(crm_name)
            .fetch_optional(&mut *transaction)
            .await?;
        let take = match paused_until.map(|end| parse(&end)) {
            Some(end) if end > now => Take::Wait(until(now, end)),
            _ => {
                let oldest: Option<(i64, String)> = sqlx::query_as(RATE_OLDEST_SLOT)
                    .bind(crm_name)
                    .fetch_optional(&mut *transaction)
                    .await?;
                match oldest {
                    // No slot row (the table was emptied by hand): no
                    // window to keep but the process's own.
                    None => Take::Taken {
                        slot: -1,
                        stamped: None,
                    },
                    Some((slot, sent_at)) => {
                        let free_at = later(parse(&sent_at), window);
                        if free_at > now {
                            Take::Wait(until(now, free_at))
                        } else {
                            let stamped = later(now, late_by);
                            sqlx::query(RATE_SLOT_STAMP)
                                .bind(text(stamped))
                                .bind(crm_name)
                                .bind(slot)
                                .execute(&mut *transaction)
                                .await?;
                            Take::Taken {
                                slot: i32::try_from(slot).unwrap_or(i32::MAX),
                                stamped: Some(stamped),
                            }
                        }
                    }
                }
            }
        };
        match take {
            Take::Taken { slot, stamped } => {
                transaction.commit().await?;
                // A commit the machine kept waiting: the request leaves
                // only now, and its slot must not be freed that much early.
                if stamped.is_some() && process_now() - now > chrono::TimeDelta::milliseconds(2) {
                    let stamped = self.restamp(crm_name, slot, late_by).await?;
                    return Ok(Take::Taken { slot, stamped });
                }
            }
            Take::Wait(_) => transaction.rollback().await?,
        }
        Ok(take)
    }

    async fn restamp(
        &self,
        crm_name: &str,
        slot: i32,
        late_by: Duration,
    ) -> Result<Option<Timestamp>> {
        let stamped: Option<String> = sqlx::query_scalar(RATE_SLOT_RESTAMP)
            .bind(text(later(process_now(), late_by)))
            .bind(crm_name)
            .bind(slot)
            .fetch_optional(&self.pool)
            .await?;
        Ok(stamped.map(|stamped| parse(&stamped)))
    }

    async fn settle(&self, crm_name: &str, slot: i32, was: Timestamp, to: Timestamp) -> Result<()> {
        sqlx::query(RATE_SLOT_SETTLE)
            .bind(text(to))
            .bind(crm_name)
            .bind(slot)
            .bind(text(was))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn pause(&self, crm_name: &str, delay: Duration) -> Result<()> {
        sqlx::query(RATE_SLOTS_PAUSE)
            .bind(text(later(process_now(), delay)))
            .bind(crm_name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn usage(&self, crm_name: &str, window: Duration) -> Result<WindowUsage> {
        let now = process_now();
        let start = chrono::TimeDelta::from_std(window)
            .ok()
            .and_then(|delta| now.checked_sub_signed(delta))
            .unwrap_or_default();
        let sent: i64 = sqlx::query_scalar(RATE_SENT_SINCE)
            .bind(crm_name)
            .bind(text(start))
            .fetch_one(&self.pool)
            .await?;
        let paused_until: Option<String> = sqlx::query_scalar(RATE_PAUSE_END)
            .bind(crm_name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(WindowUsage {
            sent: u64::try_from(sent).unwrap_or_default(),
            paused_for: paused_until.map_or(Duration::ZERO, |end| until(now, parse(&end))),
        })
    }
}
