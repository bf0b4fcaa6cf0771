//! SQLite's SQL text: Rails' text timestamps, `strftime` for "now", id
//! lists as one JSON array.

use std::sync::LazyLock;
use std::time::Duration;

use chrono::format::{Item, StrftimeItems};
use sea_query::{Expr, ExprTrait, SqliteQueryBuilder, Value};
use sea_query_sqlx::{SqlxBinder, SqlxValues};

use crate::id::ResourceId;
use crate::store::backend::{Dialect, Statement};
use crate::store::{BackendKind, Timestamp};

/// Rails' SQLite text format for datetimes: `YYYY-MM-DD HH:MM:SS.ffffff`, UTC.
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// SQLite's SQL text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SqliteDialect;

impl Dialect for SqliteDialect {
    fn kind(&self) -> BackendKind {
        BackendKind::Sqlite
    }

    fn build(&self, statement: Statement<'_>) -> (String, SqlxValues) {
        match statement {
            Statement::Select(s) => s.build_sqlx(SqliteQueryBuilder),
            Statement::Insert(s) => s.build_sqlx(SqliteQueryBuilder),
            Statement::Update(s) => s.build_sqlx(SqliteQueryBuilder),
            Statement::Delete(s) => s.build_sqlx(SqliteQueryBuilder),
        }
    }

    fn render(&self, statement: Statement<'_>) -> String {
        match statement {
            Statement::Select(s) => s.to_string(SqliteQueryBuilder),
            Statement::Insert(s) => s.to_string(SqliteQueryBuilder),
            Statement::Update(s) => s.to_string(SqliteQueryBuilder),
            Statement::Delete(s) => s.to_string(SqliteQueryBuilder),
        }
    }

    fn timestamp_value(&self, ts: Timestamp) -> Value {
        // The format parsed once: parsing it for every value written was
        // about 1% of a first sync's CPU (every sync row has two).
        static ITEMS: LazyLock<Vec<Item<'static>>> =
            LazyLock::new(|| StrftimeItems::new(TIMESTAMP_FORMAT).collect());
        Value::String(Some(ts.format_with_items(ITEMS.iter()).to_string()))
    }

    fn null_timestamp(&self) -> Value {
        Value::String(None)
    }

    fn epoch(&self) -> Expr {
        Expr::val("1970-01-01 00:00:00")
    }

    fn now(&self) -> Expr {
        Expr::cust("strftime('%Y-%m-%d %H:%M:%f000', 'now')")
    }

    fn now_plus(&self, duration: Duration) -> Expr {
        // A number of this crate's own, never user input.
        Expr::cust(format!(
            "strftime('%Y-%m-%d %H:%M:%f000', 'now', '+{}.{:03} seconds')",
            duration.as_secs(),
            duration.subsec_millis()
        ))
    }

    fn now_minus(&self, duration: Duration) -> Expr {
        // A number of this crate's own, never user input.
        Expr::cust(format!(
            "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-{}.{:03} seconds')",
            duration.as_secs(),
            duration.subsec_millis()
        ))
    }

    fn has_fraction_of_second(&self, column: Expr) -> Expr {
        // Text as Rails and this crate write it, `YYYY-MM-DD HH:MM:SS.ffffff`
        // (any suffix after the digits ignored by the cast): the digits
        // after the 19th character. `strftime('%f')` would see milliseconds
        // only, and `julianday` is a double: about 50 µs apart. A number is
        // Unix time, fractional when it is not an integer.
        // sea-query numbers no `?` on SQLite: the column once per mark.
        Expr::cust_with_exprs(
            "CASE typeof(?) \
             WHEN 'text' THEN substr(?, 20, 1) = '.' AND CAST(substr(?, 21, 9) AS INTEGER) > 0 \
             WHEN 'real' THEN ? <> CAST(? AS INTEGER) \
             ELSE 0 END",
            std::iter::repeat_n(column, 5),
        )
    }

    fn epoch_seconds(&self, column: Expr) -> Expr {
        // Text through `julianday` (milliseconds are enough for a
        // latency); a number is Unix time already.
        Expr::cust_with_exprs(
            "CASE typeof(?) \
             WHEN 'text' THEN (julianday(?) - 2440587.5) * 86400.0 \
             WHEN 'integer' THEN CAST(? AS REAL) \
             WHEN 'real' THEN ? \
             ELSE NULL END",
            std::iter::repeat_n(column, 4),
        )
    }

    fn id_in(&self, column: Expr, ids: &[ResourceId]) -> Expr {
        // One JSON array parameter instead of one per id: integers and
        // texts are JSON values; UUIDs kept as blobs are not, and get one
        // placeholder each.
        if ids.iter().any(|id| id.as_uuid().is_some()) {
            return column.is_in(ids.iter().map(ResourceId::value));
        }
        let list = ids
            .iter()
            .map(|id| match id.as_int() {
                Some(id) => id.to_string(),
                None => serde_json::Value::from(id.to_string()).to_string(),
            })
            .collect::<Vec<_>>()
            .join(",");
        Expr::cust_with_exprs(
            "? IN (SELECT value FROM json_each(?))",
            [column, Expr::val(format!("[{list}]"))],
        )
    }
}
