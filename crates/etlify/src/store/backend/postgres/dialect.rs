//! PostgreSQL's SQL text: `timestamp(6)` values, the server's clock, id
//! lists as one array.

use std::time::Duration;

use sea_query::extension::postgres::PgFunc;
use sea_query::{Expr, ExprTrait, PostgresQueryBuilder, Value};
use sea_query_sqlx::{SqlxBinder, SqlxValues};

use super::NOW;
use crate::id::ResourceId;
use crate::store::backend::{Dialect, Statement};
use crate::store::{BackendKind, Timestamp};

/// PostgreSQL's SQL text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PostgresDialect;

impl Dialect for PostgresDialect {
    fn kind(&self) -> BackendKind {
        BackendKind::Postgres
    }

    fn build(&self, statement: Statement<'_>) -> (String, SqlxValues) {
        match statement {
            Statement::Select(s) => s.build_sqlx(PostgresQueryBuilder),
            Statement::Insert(s) => s.build_sqlx(PostgresQueryBuilder),
            Statement::Update(s) => s.build_sqlx(PostgresQueryBuilder),
            Statement::Delete(s) => s.build_sqlx(PostgresQueryBuilder),
        }
    }

    fn render(&self, statement: Statement<'_>) -> String {
        match statement {
            Statement::Select(s) => s.to_string(PostgresQueryBuilder),
            Statement::Insert(s) => s.to_string(PostgresQueryBuilder),
            Statement::Update(s) => s.to_string(PostgresQueryBuilder),
            Statement::Delete(s) => s.to_string(PostgresQueryBuilder),
        }
    }

    fn timestamp_value(&self, ts: Timestamp) -> Value {
        Value::ChronoDateTime(Some(ts))
    }

    fn null_timestamp(&self) -> Value {
        // A text NULL is refused in a `timestamp` column of a multi-row insert.
        Value::ChronoDateTime(None)
    }

    fn epoch(&self) -> Expr {
        Expr::cust("TIMESTAMP '1970-01-01 00:00:00'")
    }

    fn now(&self) -> Expr {
        Expr::cust(NOW)
    }

    fn now_plus(&self, duration: Duration) -> Expr {
        // A number of this crate's own, never user input.
        Expr::cust(format!(
            "({NOW} + interval '{} milliseconds')",
            duration.as_millis()
        ))
    }

    fn now_minus(&self, duration: Duration) -> Expr {
        // A number of this crate's own, never user input.
        Expr::cust(format!(
            "({NOW} - interval '{} milliseconds')",
            duration.as_millis()
        ))
    }

    fn has_fraction_of_second(&self, column: Expr) -> Expr {
        // Seconds and microseconds, as microseconds (timestamp and timestamptz).
        Expr::cust_with_exprs(
            "(EXTRACT(MICROSECONDS FROM $1)::bigint % 1000000) <> 0",
            [column],
        )
    }

    fn epoch_seconds(&self, column: Expr) -> Expr {
        // A `timestamp` without time zone counts as UTC; a `timestamptz`
        // is an instant.
        Expr::cust_with_exprs("EXTRACT(EPOCH FROM $1)::float8", [column])
    }

    fn id_in(&self, column: Expr, ids: &[ResourceId]) -> Expr {
        // One array parameter instead of one per id (planning cost).
        // The array's element type is the keys' own (an integer array
        // for integer keys, as before).
        let array = if let Some(ints) = ids
            .iter()
            .map(ResourceId::as_int)
            .collect::<Option<Vec<i64>>>()
        {
            sea_query::Value::from(ints)
        } else if let Some(uuids) = ids
            .iter()
            .map(ResourceId::as_uuid)
            .collect::<Option<Vec<sqlx::types::Uuid>>>()
        {
            sea_query::Value::from(uuids)
        } else {
            sea_query::Value::from(ids.iter().map(ToString::to_string).collect::<Vec<String>>())
        };
        column.eq(PgFunc::any(Expr::val(array)))
    }
}
