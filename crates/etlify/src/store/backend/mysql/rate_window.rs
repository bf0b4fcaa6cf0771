//! MySQL's shared rate window: each CRM's send slots in
//! `etlify_rate_slots`, taken in a short transaction with
//! `FOR UPDATE SKIP LOCKED` (MariaDB 10.6 and later, MySQL 8), so that two
//! workers taking slots at once take different ones.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, MySqlPool};

use crate::error::Result;
use crate::store::backend::{SharedRateWindow, Take, WindowUsage};
use crate::store::Timestamp;

/// The database's clock, as the rate slots store it.
macro_rules! rate_now {
    () => {
        "UTC_TIMESTAMP(6)"
    };
}

/// Slots beyond a lowered limit.
const RATE_SLOTS_TRIM: &str =
    r#"DELETE FROM "etlify_rate_slots" WHERE "crm_name" = ? AND "slot" >= ?"#;

/// Whether the CRM is paused now.
const RATE_PAUSED: &str = concat!(
    r#"SELECT COUNT(*) FROM "etlify_rate_slots" WHERE "crm_name" = ? AND "slot" = -1 AND "sent_at" > "#,
    rate_now!()
);

/// The free slot whose send is oldest, locked; `SKIP LOCKED`: two workers
/// taking slots at once take different ones.
const RATE_SLOT_FREE: &str = concat!(
    r#"SELECT "slot" FROM "etlify_rate_slots" WHERE "crm_name" = ? AND "slot" >= 0 AND "sent_at" <= "#,
    rate_now!(),
    r#" - INTERVAL ? MICROSECOND ORDER BY "sent_at" LIMIT 1 FOR UPDATE SKIP LOCKED"#
);

/// The time now plus `?` microseconds (how late a request may arrive).
const RATE_NOW_PLUS: &str = concat!("SELECT ", rate_now!(), " + INTERVAL ? MICROSECOND");

/// Stamps a slot with a time.
const RATE_SLOT_STAMP: &str =
    r#"UPDATE "etlify_rate_slots" SET "sent_at" = ? WHERE "crm_name" = ? AND "slot" = ?"#;

/// Microseconds until a slot may be free: the pause's end, or when the
/// oldest send leaves its window.
const RATE_SLOT_WAIT: &str = concat!(
    "SELECT CAST(GREATEST(0, ",
    r#"COALESCE((SELECT TIMESTAMPDIFF(MICROSECOND, "#,
    rate_now!(),
    r#", "sent_at") FROM "etlify_rate_slots" WHERE "crm_name" = ? AND "slot" = -1), 0), "#,
    r#"COALESCE((SELECT TIMESTAMPDIFF(MICROSECOND, "#,
    rate_now!(),
    r#", MIN("sent_at") + INTERVAL ? MICROSECOND) FROM "etlify_rate_slots" WHERE "crm_name" = ? AND "slot" >= 0), 0)) AS SIGNED)"#
);

/// A slot's time moved to now plus `?` microseconds, if later, locked
/// until it is written (MariaDB has no `UPDATE … RETURNING`).
const RATE_SLOT_RESTAMPED: &str = concat!(
    r#"SELECT GREATEST("sent_at", "#,
    rate_now!(),
    r#" + INTERVAL ? MICROSECOND) FROM "etlify_rate_slots" WHERE "crm_name" = ? AND "slot" = ? AND "slot" >= 0 FOR UPDATE"#
);

/// Moves a slot's time to `?` if it still holds the time `?`.
const RATE_SLOT_SETTLE: &str = concat!(
    r#"UPDATE "etlify_rate_slots" SET "sent_at" = ? "#,
    r#"WHERE "crm_name" = ? AND "slot" = ? AND "slot" >= 0 AND "sent_at" = ?"#
);

/// Moves the pause's end to `?` microseconds from now, if later.
const RATE_SLOTS_PAUSE: &str = concat!(
    r#"UPDATE "etlify_rate_slots" SET "sent_at" = GREATEST("sent_at", "#,
    rate_now!(),
    r#" + INTERVAL ? MICROSECOND) WHERE "crm_name" = ? AND "slot" = -1"#
);

/// Sends within the last `?` microseconds, and the microseconds of pause
/// left.
const RATE_USAGE: &str = concat!(
    r#"SELECT (SELECT COUNT(*) FROM "etlify_rate_slots" WHERE "crm_name" = ? AND "slot" >= 0 AND "sent_at" > "#,
    rate_now!(),
    " - INTERVAL ? MICROSECOND), ",
    r#"CAST(GREATEST(0, COALESCE((SELECT TIMESTAMPDIFF(MICROSECOND, "#,
    rate_now!(),
    r#", "sent_at") FROM "etlify_rate_slots" WHERE "crm_name" = ? AND "slot" = -1), 0)) AS SIGNED)"#
);

/// The rate slots of a MySQL database.
#[derive(Debug)]
pub(super) struct MysqlRateWindow {
    pool: MySqlPool,
}

impl MysqlRateWindow {
    pub(super) fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }
}

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

fn from_micros(micros: i64, at_most: Duration) -> Duration {
    Duration::from_micros(u64::try_from(micros).unwrap_or_default()).min(at_most)
}

#[async_trait]
impl SharedRateWindow for MysqlRateWindow {
    async fn size(&self, crm_name: &str, max_requests: u32) -> Result<()> {
        // Slots `-1..max_requests` (new ones free since the epoch), one
        // row each; existing ones kept.
        let slots = i32::try_from(max_requests).unwrap_or(i32::MAX);
        let rows = vec!["(?, ?, TIMESTAMP'1970-01-01 00:00:00')"; (slots + 1) as usize];
        let sql = format!(
            r#"INSERT IGNORE INTO "etlify_rate_slots" ("crm_name", "slot", "sent_at") VALUES {}"#,
            rows.join(", ")
        );
        let mut fill = sqlx::query(AssertSqlSafe(sql));
        for slot in -1..slots {
            fill = fill.bind(crm_name).bind(slot);
        }
        fill.execute(&self.pool).await?;
        sqlx::query(RATE_SLOTS_TRIM)
            .bind(crm_name)
            .bind(slots)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn take(&self, crm_name: &str, window: Duration, late_by: Duration) -> Result<Take> {
        let window_micros = micros(window);
        let mut transaction = self.pool.begin().await?;
        let paused: i64 = sqlx::query_scalar(RATE_PAUSED)
            .bind(crm_name)
            .fetch_one(&mut *transaction)
            .await?;
        let free: Option<i32> = if paused > 0 {
            None
        } else {
            sqlx::query_scalar(RATE_SLOT_FREE)
                .bind(crm_name)
                .bind(window_micros)
                .fetch_optional(&mut *transaction)
                .await?
        };
        if let Some(slot) = free {
            let stamped: Timestamp = sqlx::query_scalar(RATE_NOW_PLUS)
                .bind(micros(late_by))
                .fetch_one(&mut *transaction)
                .await?;
            sqlx::query(RATE_SLOT_STAMP)
                .bind(stamped)
                .bind(crm_name)
                .bind(slot)
                .execute(&mut *transaction)
                .await?;
            transaction.commit().await?;
            return Ok(Take::Taken {
                slot,
                stamped: Some(stamped),
            });
        }
        transaction.rollback().await?;
        let wait: i64 = sqlx::query_scalar(RATE_SLOT_WAIT)
            .bind(crm_name)
            .bind(window_micros)
            .bind(crm_name)
            .fetch_one(&self.pool)
            .await?;
        Ok(Take::Wait(from_micros(wait, Duration::from_secs(3_600))))
    }

    async fn restamp(
        &self,
        crm_name: &str,
        slot: i32,
        late_by: Duration,
    ) -> Result<Option<Timestamp>> {
        let mut transaction = self.pool.begin().await?;
        let stamped: Option<Timestamp> = sqlx::query_scalar(RATE_SLOT_RESTAMPED)
            .bind(micros(late_by))
            .bind(crm_name)
            .bind(slot)
            .fetch_optional(&mut *transaction)
            .await?;
        if let Some(stamped) = stamped {
            sqlx::query(RATE_SLOT_STAMP)
                .bind(stamped)
                .bind(crm_name)
                .bind(slot)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        Ok(stamped)
    }

    async fn settle(&self, crm_name: &str, slot: i32, was: Timestamp, to: Timestamp) -> Result<()> {
        sqlx::query(RATE_SLOT_SETTLE)
            .bind(to)
            .bind(crm_name)
            .bind(slot)
            .bind(was)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn pause(&self, crm_name: &str, delay: Duration) -> Result<()> {
        sqlx::query(RATE_SLOTS_PAUSE)
            .bind(micros(delay))
            .bind(crm_name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn usage(&self, crm_name: &str, window: Duration) -> Result<WindowUsage> {
        let (sent, paused): (i64, i64) = sqlx::query_as(RATE_USAGE)
            .bind(crm_name)
            .bind(micros(window))
            .bind(crm_name)
            .fetch_one(&self.pool)
            .await?;
        Ok(WindowUsage {
            sent: u64::try_from(sent).unwrap_or_default(),
            paused_for: from_micros(paused, Duration::from_secs(86_400)),
        })
    }
}
