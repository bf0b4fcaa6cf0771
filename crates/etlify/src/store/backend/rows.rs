//! Running the statements the shared code built, and reading their rows
//! into types of the caller's ([`FromAnyRow`]).
//!
//! The backends are trait objects, which cannot have generic methods: a
//! backend hands each row to a callback as an [`AnyRow`], and the generic
//! decoding happens on the caller's side ([`AnyRow::decode`]).

use async_trait::async_trait;
use futures_util::stream::BoxStream;
use sea_query_sqlx::SqlxValues;
use sqlx::mysql::MySqlRow;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::FromRow;

use sqlx::Row;

use crate::error::Result;
use crate::id::ResourceId;

/// A row type decodable from every backend (what `#[derive(sqlx::FromRow)]`
/// gives for portable column types).
pub trait FromAnyRow:
    for<'r> FromRow<'r, SqliteRow>
    + for<'r> FromRow<'r, PgRow>
    + for<'r> FromRow<'r, MySqlRow>
    + Send
    + Unpin
    + 'static
{
}

impl<T> FromAnyRow for T where
    T: for<'r> FromRow<'r, SqliteRow>
        + for<'r> FromRow<'r, PgRow>
        + for<'r> FromRow<'r, MySqlRow>
        + Send
        + Unpin
        + 'static
{
}

/// A row as one backend's driver read it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AnyRow<'r> {
    Sqlite(&'r SqliteRow),
    Postgres(&'r PgRow),
    Mysql(&'r MySqlRow),
}

impl AnyRow<'_> {
    /// The row as `T`.
    pub(crate) fn decode<T: FromAnyRow>(self) -> std::result::Result<T, sqlx::Error> {
        match self {
            AnyRow::Sqlite(row) => T::from_row(row),
            AnyRow::Postgres(row) => T::from_row(row),
            AnyRow::Mysql(row) => T::from_row(row),
        }
    }

    /// The record key in `column`.
    pub(crate) fn key(self, column: &str) -> std::result::Result<ResourceId, sqlx::Error> {
        match self {
            AnyRow::Sqlite(row) => row.try_get(column),
            AnyRow::Postgres(row) => row.try_get(column),
            AnyRow::Mysql(row) => row.try_get(column),
        }
    }
}

/// Runs statements built by the shared code: `sql` comes from sea-query
/// (identifiers quoted, values bound) or from this crate's own DDL.
#[async_trait]
pub(crate) trait Executor: Send + Sync {
    /// Runs a statement, returning the number of affected rows.
    async fn execute(&self, sql: String, values: SqlxValues) -> Result<u64>;

    /// Runs a query, handing each row to `each` as it arrives; stops at
    /// the first error `each` returns.
    async fn for_each_row(
        &self,
        sql: String,
        values: SqlxValues,
        each: &mut (dyn for<'r> FnMut(AnyRow<'r>) -> Result<()> + Send),
    ) -> Result<()>;

    /// Runs a one-column query of integer ids and streams them, never
    /// holding more than the driver's buffer of rows.
    fn fetch_ids(&self, sql: String, values: SqlxValues) -> BoxStream<'_, Result<ResourceId>>;
}
