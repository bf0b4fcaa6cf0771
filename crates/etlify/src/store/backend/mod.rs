//! Every SQL difference between the databases, one file per backend.
//!
//! - [`Dialect`]: what differs in the *text* of SQL, needing no connection
//!   (query builder, timestamp literals, the epoch, "now", DDL, id-list
//!   filters). The finder renders its queries from a dialect alone, so its
//!   golden tests need no database.
//! - [`Backend`]: what differs in talking to a live database (the clock,
//!   introspection, sync-row upserts, planner statistics, decoding payload
//!   rows).
//!
//! `sqlite.rs` and `postgres.rs` implement both; a new database (MySQL) is
//! one more file here plus an arm in [`Pool`], the executor of statements
//! built by the shared code.

pub(crate) mod postgres;
pub(crate) mod sqlite;

use std::fmt;

use async_trait::async_trait;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use sea_query::{DeleteStatement, Expr, InsertStatement, SelectStatement, UpdateStatement, Value};
use sea_query_sqlx::SqlxValues;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, FromRow, PgPool, SqlitePool};

use super::json_value::Cell;
use super::sync_rows::RowChange;
use super::{BackendKind, Timestamp};
use crate::error::Result;
use crate::id::{ResourceId, SyncKey};

/// A row of a payload query: each column's name and value.
pub(crate) type Cells = Vec<(String, Cell)>;

/// A statement built by the shared code, to render for one backend.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Statement<'a> {
    Select(&'a SelectStatement),
    Insert(&'a InsertStatement),
    Update(&'a UpdateStatement),
    Delete(&'a DeleteStatement),
}

macro_rules! statement_from {
    ($($variant:ident($type:ty)),*) => {
        $(impl<'a> From<&'a $type> for Statement<'a> {
            fn from(statement: &'a $type) -> Self {
                Statement::$variant(statement)
            }
        })*
    };
}
statement_from!(
    Select(SelectStatement),
    Insert(InsertStatement),
    Update(UpdateStatement),
    Delete(DeleteStatement)
);

/// The sync-state tables whose DDL differs per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StateTable {
    /// `crm_synchronisations`.
    Sync,
    /// `etlify_pending_syncs`.
    Pending,
    /// `etlify_schema_migrations`.
    History,
    /// `etlify_leases`.
    Leases,
    /// `etlify_record_leases`.
    RecordLeases,
    /// `etlify_sync_checkpoints`.
    Checkpoints,
    /// `etlify_rate_slots`.
    RateSlots,
    /// `etlify_job_requests`.
    JobRequests,
}

/// What differs in SQL text between backends; needs no connection.
pub(crate) trait Dialect: Send + Sync + fmt::Debug {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;

    /// Renders `statement` with placeholders and its bound values.
    fn build(&self, statement: Statement<'_>) -> (String, SqlxValues);

    /// Renders `statement` with its values inlined (golden tests, dry runs).
    fn render(&self, statement: Statement<'_>) -> String;

    /// How a timestamp is bound so that it compares correctly with the
    /// application's Rails-written columns.
    fn timestamp_value(&self, ts: Timestamp) -> Value;

    /// A NULL of the timestamp columns' type.
    fn null_timestamp(&self) -> Value;

    /// The epoch, comparable with timestamp columns (missing and NULL
    /// timestamps count as the epoch, REFERENCE F-9, F-15).
    fn epoch(&self) -> Expr;

    /// "Now" evaluated by the database, in the timestamp columns' format
    /// (for `created_at` / `updated_at` of sync-state rows).
    fn now(&self) -> Expr;

    /// "Now" plus `duration`, in the same format (lease expiry times).
    fn now_plus(&self, duration: std::time::Duration) -> Expr;

    /// "Now" minus `duration`, in the same format.
    fn now_minus(&self, duration: std::time::Duration) -> Expr;

    /// `column IN (ids)`, in the form this backend plans best.
    fn id_in(&self, column: Expr, ids: &[ResourceId]) -> Expr;

    /// `CREATE TABLE IF NOT EXISTS` of a sync-state table.
    fn create_table(&self, table: StateTable) -> &'static str;

    /// Whether `NOT NULL` can be added to an existing column in place
    /// (SQLite would need a table rebuild).
    fn alters_column_nullability(&self) -> bool;
}

/// What differs in talking to a live database.
#[async_trait]
pub(crate) trait Backend: Send + Sync + fmt::Debug {
    /// The database's current time in UTC, truncated to microseconds.
    async fn now(&self) -> Result<Timestamp>;

    /// The time records read now are in sync as of: "now", or earlier
    /// where the backend can see transactions still running, whose changes
    /// a read cannot see yet but which may carry older timestamps.
    async fn in_sync_as_of(&self) -> Result<Timestamp>;

    /// A time at or before which every change is committed and visible to
    /// reads that start now: the checkpoint of a batch run (`checkpoint.rs`).
    async fn changes_visible_through(&self) -> Result<Timestamp>;

    /// Gives `crm_name` exactly `max_requests` send slots (and its pause
    /// slot) in `etlify_rate_slots`.
    async fn size_rate_slots(&self, crm_name: &str, max_requests: u32) -> Result<()>;

    /// Takes the slot of `crm_name` whose send left `window` ago, by the
    /// database's clock: `None` when taken (the request may go), else how
    /// long until one may be free (a pause, or the oldest send's window).
    async fn take_rate_slot(
        &self,
        crm_name: &str,
        window: std::time::Duration,
    ) -> Result<Option<std::time::Duration>>;

    /// No slot of `crm_name` is taken for `delay` from now (a 429's delay).
    async fn pause_rate_slots(&self, crm_name: &str, delay: std::time::Duration) -> Result<()>;

    /// Column names of `table` in order, or `None` when it does not exist.
    async fn table_columns(&self, table: &str) -> Result<Option<Vec<String>>>;

    /// Index names on `table`.
    async fn index_names(&self, table: &str) -> Result<Vec<String>>;

    /// The columns of index `index`, in key order (empty when it does not
    /// exist).
    async fn index_columns(&self, index: &str) -> Result<Vec<String>>;

    /// Whether `table` takes a fill factor and has none set (or does not
    /// exist yet): PostgreSQL's storage parameter; never on SQLite.
    async fn fillfactor_settable(&self, table: &str) -> Result<bool>;

    /// The names of the database's tables (the current schema on
    /// PostgreSQL), sorted.
    async fn table_names(&self) -> Result<Vec<String>>;

    /// The foreign keys declared on `table`: (column, referenced table,
    /// referenced column).
    async fn foreign_keys(&self, table: &str) -> Result<Vec<(String, String, String)>>;

    /// Whether `table.column` accepts NULL (`false` when it does not exist).
    async fn column_is_nullable(&self, table: &str, column: &str) -> Result<bool>;

    /// Takes, for `owner` and `ttl`, the leases among `names` that are free
    /// or expired (`lease::take_statement`); returns the names taken.
    async fn take_leases(
        &self,
        owner: &str,
        names: &[String],
        ttl: std::time::Duration,
    ) -> Result<Vec<String>>;

    /// Upserts sync rows that all carry the same kind of change.
    async fn upsert_sync_rows(&self, rows: &[&(SyncKey, RowChange)]) -> Result<()>;

    /// Refreshes the sync table's planner statistics, where the database
    /// needs it during a long run.
    async fn refresh_sync_statistics(&self) -> Result<()>;

    /// The columns `sql` returns, without running it: each name, and
    /// `Err(type name)` for a type with no JSON mapping.
    async fn describe_columns(&self, sql: &str) -> Result<Vec<(String, Result<(), String>)>>;

    /// Runs a payload query and decodes each row into typed cells (one per
    /// column, after the column's declared type where the database keeps
    /// one), or a message naming the column that failed.
    async fn fetch_payload_rows(
        &self,
        sql: String,
        values: SqlxValues,
    ) -> Result<Vec<Result<Cells, String>>>;
}

/// The connection pool, executing statements the shared code built.
#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A row type decodable from every backend (what `#[derive(sqlx::FromRow)]`
/// gives for portable column types).
pub trait FromAnyRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static
{
}

impl<T> FromAnyRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static
{
}

impl Pool {
    /// Runs a statement, returning the number of affected rows.
    ///
    /// `sql` comes from sea-query (identifiers quoted, values bound) or from
    /// this crate's constant DDL, which is why it is asserted safe here.
    /// PostgreSQL statements are not prepared: a generic plan built when the
    /// sync table was small would be reused after it grew (docs/ARCHITECTURE.md).
    pub(crate) async fn execute(&self, sql: String, values: SqlxValues) -> Result<u64> {
        let sql = AssertSqlSafe(sql);
        Ok(match self {
            Pool::Sqlite(pool) => sqlx::query_with(sql, values)
                .execute(pool)
                .await?
                .rows_affected(),
            Pool::Postgres(pool) => sqlx::query_with(sql, values)
                .persistent(false)
                .execute(pool)
                .await?
                .rows_affected(),
        })
    }

    /// Runs a query and decodes every row as `T`.
    pub(crate) async fn fetch_all<T: FromAnyRow>(
        &self,
        sql: String,
        values: SqlxValues,
    ) -> Result<Vec<T>> {
        let sql = AssertSqlSafe(sql);
        Ok(match self {
            Pool::Sqlite(pool) => sqlx::query_as_with(sql, values).fetch_all(pool).await?,
            Pool::Postgres(pool) => {
                sqlx::query_as_with(sql, values)
                    .persistent(false)
                    .fetch_all(pool)
                    .await?
            }
        })
    }

    /// Runs a one-column query of integer ids and streams them, never
    /// holding more than the driver's buffer of rows.
    pub(crate) fn fetch_ids(&self, sql: String, values: SqlxValues) -> BoxStream<'_, Result<i64>> {
        let sql = AssertSqlSafe(sql);
        match self {
            Pool::Sqlite(pool) => sqlx::query_scalar_with(sql, values)
                .fetch(pool)
                .map_err(Into::into)
                .boxed(),
            Pool::Postgres(pool) => sqlx::query_scalar_with(sql, values)
                .persistent(false)
                .fetch(pool)
                .map_err(Into::into)
                .boxed(),
        }
    }

    /// Runs a query and decodes each row as `T`, with the integer key read
    /// from `key_column`; a row that does not decode is an `Err` entry.
    pub(crate) async fn fetch_keyed<T: FromAnyRow>(
        &self,
        sql: String,
        values: SqlxValues,
        key_column: &str,
    ) -> Result<Vec<(ResourceId, Result<T, String>)>> {
        let sql = AssertSqlSafe(sql);
        match self {
            Pool::Sqlite(pool) => sqlite::decode_keyed(
                &sqlx::query_with(sql, values).fetch_all(pool).await?,
                key_column,
            ),
            Pool::Postgres(pool) => postgres::decode_keyed(
                &sqlx::query_with(sql, values)
                    .persistent(false)
                    .fetch_all(pool)
                    .await?,
                key_column,
            ),
        }
    }
}

/// The dialect of `kind`.
pub(crate) fn dialect(kind: BackendKind) -> &'static dyn Dialect {
    match kind {
        BackendKind::Sqlite => &sqlite::SqliteDialect,
        BackendKind::Postgres => &postgres::PostgresDialect,
    }
}

/// Why a payload query's key column could not be read.
pub(crate) fn key_error(key_column: &str, error: impl fmt::Display) -> crate::Error {
    crate::Error::payload(format!(
        "payload query must return the integer key column `{key_column}` for every row: {error}"
    ))
}
