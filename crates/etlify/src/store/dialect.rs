//! Small differences between SQLite and PostgreSQL that the rest of the
//! crate must not know about: how timestamps are stored and where "now"
//! comes from.

use chrono::{NaiveDateTime, Timelike, Utc};
use sea_query::Value;

use super::{Pool, Store, Timestamp};
use crate::error::Result;

/// Rails' SQLite text format for datetimes: `YYYY-MM-DD HH:MM:SS.ffffff`, UTC.
/// Text comparison of two such values is chronological.
pub(crate) const SQLITE_TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// How `ts` is bound in a statement: text on SQLite (so it compares
/// correctly with the application's Rails-written columns), a native
/// `timestamp` on PostgreSQL.
pub(crate) fn timestamp_value(store: &Store, ts: Timestamp) -> Value {
    match store.pool() {
        Pool::Sqlite(_) => Value::String(Some(ts.format(SQLITE_TIMESTAMP_FORMAT).to_string())),
        Pool::Postgres(_) => Value::ChronoDateTime(Some(ts)),
    }
}

/// The current time according to the database, truncated to microseconds
/// (the precision both backends store).
pub(crate) async fn now(store: &Store) -> Result<Timestamp> {
    match store.pool() {
        // SQLite has no server clock: the database's "now" is this process's
        // clock, the same one `CURRENT_TIMESTAMP` reads.
        Pool::Sqlite(_) => Ok(truncate_to_micros(Utc::now().naive_utc())),
        Pool::Postgres(pool) => {
            let now: NaiveDateTime =
                sqlx::query_scalar("SELECT (clock_timestamp() AT TIME ZONE 'UTC')::timestamp(6)")
                    .fetch_one(pool)
                    .await?;
            Ok(now)
        }
    }
}

fn truncate_to_micros(ts: NaiveDateTime) -> NaiveDateTime {
    let micros = ts.nanosecond() / 1_000 * 1_000;
    ts.with_nanosecond(micros).unwrap_or(ts)
}

/// An expression for "now" evaluated by the database, in the column format
/// of this backend (for `created_at` / `updated_at` of sync-state rows).
pub(crate) fn now_expr(store: &Store) -> sea_query::Expr {
    match store.pool() {
        Pool::Sqlite(_) => sea_query::Expr::cust("strftime('%Y-%m-%d %H:%M:%f000', 'now')"),
        Pool::Postgres(_) => {
            sea_query::Expr::cust("(clock_timestamp() AT TIME ZONE 'UTC')::timestamp(6)")
        }
    }
}

/// A NULL of the timestamp column's type (PostgreSQL rejects a text NULL
/// in a `timestamp` column of a multi-row insert).
pub(crate) fn null_timestamp(store: &Store) -> Value {
    match store.pool() {
        Pool::Sqlite(_) => Value::String(None),
        Pool::Postgres(_) => Value::ChronoDateTime(None),
    }
}

/// The epoch, as a value comparable with this backend's timestamp columns
/// (missing and NULL timestamps count as the epoch, REFERENCE F-9, F-15).
pub(crate) fn epoch_expr(store: &Store) -> sea_query::Expr {
    match store.pool() {
        Pool::Sqlite(_) => sea_query::Expr::val("1970-01-01 00:00:00"),
        Pool::Postgres(_) => sea_query::Expr::cust("TIMESTAMP '1970-01-01 00:00:00'"),
    }
}

/// Refreshes the planner statistics of the sync table (PostgreSQL), so
/// that a table that grew during a run is read through its indexes;
/// autovacuum does it too, but only later. SQLite needs nothing.
pub(crate) async fn refresh_sync_statistics(store: &Store) -> Result<()> {
    if let Pool::Postgres(pool) = store.pool() {
        sqlx::query(r#"ANALYZE "crm_synchronisations""#)
            .execute(pool)
            .await?;
    }
    Ok(())
}
