//! PostgreSQL's shared rate window: each CRM's send slots in
//! `etlify_rate_slots`, taken with `FOR UPDATE SKIP LOCKED` so that two
//! workers taking slots at once take different ones.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::PgPool;

use crate::error::Result;
use crate::store::backend::{SharedRateWindow, Take, WindowUsage};
use crate::store::Timestamp;

/// `duration` in whole microseconds (saturating).
fn micros_of(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

/// The database's clock, as the rate slots store it.
macro_rules! rate_now {
    () => {
        "(clock_timestamp() AT TIME ZONE 'UTC')::timestamp(6)"
    };
}

/// Slots `-1..max_requests` of a CRM (new ones free since the epoch).
const RATE_SLOTS_FILL: &str = concat!(
    r#"INSERT INTO "etlify_rate_slots" ("crm_name", "slot", "sent_at") "#,
    "SELECT $1, s, TIMESTAMP '1970-01-01 00:00:00' FROM generate_series(-1, $2 - 1) AS s ",
    r#"ON CONFLICT ("crm_name", "slot") DO NOTHING"#
);

/// Slots beyond a lowered limit.
const RATE_SLOTS_TRIM: &str =
    r#"DELETE FROM "etlify_rate_slots" WHERE "crm_name" = $1 AND "slot" >= $2"#;

/// The free slot whose time is oldest, stamped now plus `$3`
/// microseconds (how late the request may arrive); none while paused.
/// `SKIP LOCKED`: two workers taking slots at once take different ones.
const RATE_SLOT_TAKE: &str = concat!(
    r#"WITH "free" AS (SELECT "slot" FROM "etlify_rate_slots" "#,
    r#"WHERE "crm_name" = $1 AND "slot" >= 0 AND "sent_at" <= "#,
    rate_now!(),
    " - make_interval(secs => $2::float8 / 1000000) ",
    r#"AND NOT EXISTS (SELECT 1 FROM "etlify_rate_slots" AS "p" WHERE "p"."crm_name" = $1 AND "p"."slot" = -1 AND "p"."sent_at" > "#,
    rate_now!(),
    r#") ORDER BY "sent_at" LIMIT 1 FOR UPDATE SKIP LOCKED) "#,
    r#"UPDATE "etlify_rate_slots" AS "s" SET "sent_at" = "#,
    rate_now!(),
    " + make_interval(secs => $3::float8 / 1000000)",
    r#" FROM "free" WHERE "s"."crm_name" = $1 AND "s"."slot" = "free"."slot" RETURNING "s"."slot", "s"."sent_at""#
);

/// Seconds until a slot may be free: the pause's end, or when the oldest
/// send leaves its window.
const RATE_SLOT_WAIT: &str = concat!(
    "SELECT GREATEST(0, ",
    r#"COALESCE((SELECT EXTRACT(EPOCH FROM ("sent_at" - "#,
    rate_now!(),
    r#")) FROM "etlify_rate_slots" WHERE "crm_name" = $1 AND "slot" = -1), 0), "#,
    r#"COALESCE((SELECT EXTRACT(EPOCH FROM (MIN("sent_at") + make_interval(secs => $2::float8 / 1000000) - "#,
    rate_now!(),
    r#")) FROM "etlify_rate_slots" WHERE "crm_name" = $1 AND "slot" >= 0), 0))::float8"#
);

/// Moves a slot's time to now plus `$3` microseconds, if later; the time
/// it holds then.
const RATE_SLOT_RESTAMP: &str = concat!(
    r#"UPDATE "etlify_rate_slots" SET "sent_at" = GREATEST("sent_at", "#,
    rate_now!(),
    r#" + make_interval(secs => $3::float8 / 1000000)) WHERE "crm_name" = $1 AND "slot" = $2 AND "slot" >= 0 RETURNING "sent_at""#
);

/// Moves a slot's time to `$4` if it still holds the time `$3`.
const RATE_SLOT_SETTLE: &str = concat!(
    r#"UPDATE "etlify_rate_slots" SET "sent_at" = $4 "#,
    r#"WHERE "crm_name" = $1 AND "slot" = $2 AND "slot" >= 0 AND "sent_at" = $3"#
);

/// Moves the pause's end to `$2` microseconds from now, if later.
const RATE_SLOTS_PAUSE: &str = concat!(
    r#"UPDATE "etlify_rate_slots" SET "sent_at" = GREATEST("sent_at", "#,
    rate_now!(),
    r#" + make_interval(secs => $2::float8 / 1000000)) WHERE "crm_name" = $1 AND "slot" = -1"#
);

/// Sends within the last `$2` microseconds, and the seconds of pause left.
const RATE_USAGE: &str = concat!(
    r#"SELECT (SELECT COUNT(*) FROM "etlify_rate_slots" WHERE "crm_name" = $1 AND "slot" >= 0 AND "sent_at" > "#,
    rate_now!(),
    " - make_interval(secs => $2::float8 / 1000000))::int8, ",
    r#"GREATEST(0, COALESCE((SELECT EXTRACT(EPOCH FROM ("sent_at" - "#,
    rate_now!(),
    r#")) FROM "etlify_rate_slots" WHERE "crm_name" = $1 AND "slot" = -1), 0))::float8"#
);

/// The rate slots of a PostgreSQL database.
#[derive(Debug)]
pub(super) struct PostgresRateWindow {
    pool: PgPool,
}

impl PostgresRateWindow {
    pub(super) fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl SharedRateWindow for PostgresRateWindow {
    async fn size(&self, crm_name: &str, max_requests: u32) -> Result<()> {
        let slots = i32::try_from(max_requests).unwrap_or(i32::MAX);
        sqlx::query(RATE_SLOTS_FILL)
            .bind(crm_name)
            .bind(slots)
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
        let micros = i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
        let taken: Option<(i32, Timestamp)> = sqlx::query_as(RATE_SLOT_TAKE)
            .bind(crm_name)
            .bind(micros)
            .bind(micros_of(late_by))
            .fetch_optional(&self.pool)
            .await?;
        if let Some((slot, stamped)) = taken {
            return Ok(Take::Taken {
                slot,
                stamped: Some(stamped),
            });
        }
        let wait: f64 = sqlx::query_scalar(RATE_SLOT_WAIT)
            .bind(crm_name)
            .bind(micros)
            .fetch_one(&self.pool)
            .await?;
        Ok(Take::Wait(Duration::from_secs_f64(
            wait.clamp(0.0, 3_600.0),
        )))
    }

    async fn restamp(
        &self,
        crm_name: &str,
        slot: i32,
        late_by: Duration,
    ) -> Result<Option<Timestamp>> {
        Ok(sqlx::query_scalar(RATE_SLOT_RESTAMP)
            .bind(crm_name)
            .bind(slot)
            .bind(micros_of(late_by))
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn settle(&self, crm_name: &str, slot: i32, was: Timestamp, to: Timestamp) -> Result<()> {
        sqlx::query(RATE_SLOT_SETTLE)
            .bind(crm_name)
            .bind(slot)
            .bind(was)
            .bind(to)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn pause(&self, crm_name: &str, delay: Duration) -> Result<()> {
        let micros = i64::try_from(delay.as_micros()).unwrap_or(i64::MAX);
        sqlx::query(RATE_SLOTS_PAUSE)
            .bind(crm_name)
            .bind(micros)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn usage(&self, crm_name: &str, window: Duration) -> Result<WindowUsage> {
        let micros = i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
        let (sent, paused): (i64, f64) = sqlx::query_as(RATE_USAGE)
            .bind(crm_name)
            .bind(micros)
            .fetch_one(&self.pool)
            .await?;
        Ok(WindowUsage {
            sent: u64::try_from(sent).unwrap_or_default(),
            paused_for: Duration::from_secs_f64(paused.clamp(0.0, 86_400.0)),
        })
    }
}
