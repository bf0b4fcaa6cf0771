//! The database: sync-state tables and access to the application's tables.
//!
//! Two backends, SQLite and PostgreSQL, behind one [`Store`]. Statements are
//! built with sea-query (identifiers quoted, values bound); what differs
//! between backends lives here — `dialect.rs`, `schema.rs`, `lock.rs`,
//! `introspect.rs`, `json_row.rs` and the PostgreSQL array statements of
//! `sync_rows.rs` — never in the sync logic.

pub(crate) mod dialect;
pub(crate) mod introspect;
pub(crate) mod json_row;
pub(crate) mod lock;
pub(crate) mod pending;
pub mod schema;
pub(crate) mod sync_rows;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};
use sea_query_sqlx::{SqlxBinder, SqlxValues};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, FromRow, PgPool, SqlitePool};

use crate::error::{ConfigError, Result};

pub use self::sync_rows::SyncRow;

/// A timestamp in UTC, as stored in `last_synced_at`.
pub type Timestamp = NaiveDateTime;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    /// SQLite (embedded default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A handle on the database holding the application's tables and the sync
/// state. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    locks: Arc<lock::LocalLocks>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: only the backend is shown.
        f.debug_struct("Store")
            .field("backend", &self.kind())
            .finish()
    }
}

/// Rows fetched without a target type, per backend.
pub(crate) enum Rows {
    Sqlite(Vec<SqliteRow>),
    Postgres(Vec<PgRow>),
}

/// A row type decodable from both backends (what `#[derive(sqlx::FromRow)]`
/// gives for portable column types).
pub trait FromAnyRow:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static
{
}

impl<T> FromAnyRow for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin + 'static
{
}

impl Store {
    /// Connects to `sqlite://path` (created if missing) or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                // 16 MiB of page cache per connection (SQLite's default is
                // 2 MiB): a nothing-changed run over 100k records then stays
                // in memory (measured 5x faster; docs/BENCHMARKS.md).
                .pragma("cache_size", "-16384");
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await?;
            Ok(Self::from_sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            // Timestamps are compared in UTC, as Rails writes them.
            let options = PgConnectOptions::from_str(url)?.options([("TimeZone", "UTC")]);
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await?;
            Ok(Self::from_postgres(pool))
        } else {
            Err(ConfigError::new(
                "database",
                "url",
                "must start with sqlite: or postgres: (e.g. sqlite://etlify.db)",
            )
            .into())
        }
    }

    /// Wraps an existing SQLite pool.
    pub fn from_sqlite(pool: SqlitePool) -> Self {
        Self {
            pool: Pool::Sqlite(pool),
            locks: Arc::default(),
        }
    }

    /// Wraps an existing PostgreSQL pool.
    ///
    /// Timestamps are compared in UTC: connections should use the server
    /// default `TimeZone` of `UTC` (as Rails apps do) or be configured so.
    pub fn from_postgres(pool: PgPool) -> Self {
        Self {
            pool: Pool::Postgres(pool),
            locks: Arc::default(),
        }
    }

    /// The backend.
    pub fn kind(&self) -> BackendKind {
        match self.pool {
            Pool::Sqlite(_) => BackendKind::Sqlite,
            Pool::Postgres(_) => BackendKind::Postgres,
        }
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    pub(crate) fn local_locks(&self) -> &lock::LocalLocks {
        &self.locks
    }

    /// Renders a sea-query statement for this backend.
    pub(crate) fn build<S: SqlxBinder>(&self, statement: &S) -> (String, SqlxValues) {
        match self.pool {
            Pool::Sqlite(_) => statement.build_sqlx(SqliteQueryBuilder),
            Pool::Postgres(_) => statement.build_sqlx(PostgresQueryBuilder),
        }
    }

    /// Runs a statement, returning the number of affected rows.
    ///
    /// `sql` comes from sea-query (identifiers quoted, values bound) or from
    /// this crate's constant DDL, which is why it is asserted safe here.
    pub(crate) async fn execute(&self, sql: String, values: SqlxValues) -> Result<u64> {
        let affected = match &self.pool {
            Pool::Sqlite(pool) => sqlx::query_with(AssertSqlSafe(sql), values)
                .execute(pool)
                .await?
                .rows_affected(),
            Pool::Postgres(pool) => sqlx::query_with(AssertSqlSafe(sql), values)
                .persistent(false)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        Ok(affected)
    }

    /// Runs a query and decodes every row as `T`.
    pub(crate) async fn fetch_all<T: FromAnyRow>(
        &self,
        sql: String,
        values: SqlxValues,
    ) -> Result<Vec<T>> {
        let rows = match &self.pool {
            Pool::Sqlite(pool) => {
                sqlx::query_as_with::<_, T, _>(AssertSqlSafe(sql), values)
                    .fetch_all(pool)
                    .await?
            }
            Pool::Postgres(pool) => {
                sqlx::query_as_with::<_, T, _>(AssertSqlSafe(sql), values)
                    .persistent(false)
                    .fetch_all(pool)
                    .await?
            }
        };
        Ok(rows)
    }

    /// Runs a query and keeps the backend's rows.
    pub(crate) async fn fetch_rows(&self, sql: String, values: SqlxValues) -> Result<Rows> {
        Ok(match &self.pool {
            Pool::Sqlite(pool) => Rows::Sqlite(
                sqlx::query_with(AssertSqlSafe(sql), values)
                    .fetch_all(pool)
                    .await?,
            ),
            Pool::Postgres(pool) => Rows::Postgres(
                sqlx::query_with(AssertSqlSafe(sql), values)
                    .persistent(false)
                    .fetch_all(pool)
                    .await?,
            ),
        })
    }

    /// The database's current time in UTC, the clock `last_synced_at` is
    /// taken from (SPEC X-1).
    pub async fn now(&self) -> Result<Timestamp> {
        dialect::now(self).await
    }
}
