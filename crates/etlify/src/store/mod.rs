//! The database: sync-state tables and access to the application's tables.
//!
//! Three backends, SQLite, PostgreSQL and MySQL, behind one [`Store`]. Statements are
//! built once with sea-query (identifiers quoted, values bound) by the
//! shared modules — `sync_rows.rs`, `pending.rs`, `schema.rs` and the
//! payload queries of [`Store::select_json_by_ids`] — and every difference
//! between the databases lives in `backend/sqlite/`, `backend/postgres/`
//! and `backend/mysql/`, never in the sync logic (`backend/mod.rs`).

pub(crate) mod alert_incidents;
pub(crate) mod backend;
pub(crate) mod checkpoint;
pub(crate) mod job_requests;
pub(crate) mod json_value;
pub(crate) mod leases;
pub(crate) mod links;
pub(crate) mod pending;
pub(crate) mod rate_window;
pub(crate) mod run_history;
pub(crate) mod schema;
pub(crate) mod sync_rows;
pub(crate) mod timestamp_precision;

use std::fmt;
use std::sync::Arc;

use chrono::NaiveDateTime;
use sea_query::{Alias, Asterisk, Expr, ExprTrait, Query};
use sea_query_sqlx::SqlxValues;
use sqlx::{MySqlPool, PgPool, SqlitePool};

use self::backend::{AnyRow, Backend, Dialect, Statement};
use crate::error::Result;
use crate::id::ResourceId;
use crate::values::{ColumnMapping, Payload};

pub use self::backend::sqlite::TIMESTAMP_FORMAT as SQLITE_TIMESTAMP_FORMAT;
pub use self::backend::FromAnyRow;
pub use self::backend::DEFAULT_COMMIT_MARGIN;
pub use self::sync_rows::SyncRow;

/// A timestamp in UTC, as stored in `last_synced_at`.
pub type Timestamp = NaiveDateTime;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendKind {
    /// SQLite (embedded default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    Mysql,
}

impl BackendKind {
    /// The database's name, for people ("SQLite", "PostgreSQL").
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Sqlite => "SQLite",
            BackendKind::Postgres => "PostgreSQL",
            BackendKind::Mysql => "MySQL",
        }
    }
}

/// How [`Store::connect_with`] opens its pool.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    max_connections: Option<u32>,
    must_exist: bool,
    lease_ttl: Option<std::time::Duration>,
}

impl StoreOptions {
    /// Defaults: 2 connections on SQLite (and one outside the pool for
    /// WAL checkpoints), 8 on PostgreSQL.
    pub fn new() -> Self {
        Self::default()
    }

    /// Connections in the pool (at least 1). Syncs hold no connection while
    /// they wait on a CRM, so any number of concurrent syncs fits any size.
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = Some(Ord::max(max, 1));
        self
    }

    /// The pool size, if set.
    pub fn get_max_connections(&self) -> Option<u32> {
        self.max_connections
    }

    /// Refuses to create a SQLite file that does not exist yet (default:
    /// it is created), so a mistyped path is an error, not an empty database.
    pub fn must_exist(mut self, must_exist: bool) -> Self {
        self.must_exist = must_exist;
        self
    }

    /// Whether a missing SQLite file is refused.
    pub fn get_must_exist(&self) -> bool {
        self.must_exist
    }

    /// How long a lock this process takes (a CRM's batch run, a page or a
    /// record being synced) outlives this process if it dies (default 15 s;
    /// at least 3 s). A live holder renews its locks every quarter of it,
    /// beside its work, so a CRM request slower than this keeps them. A
    /// shorter time lets other workers take over a killed worker's work
    /// sooner, at the cost of more renewals; processes with different times
    /// are safe together (the holder sets the expiry).
    pub fn lease_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.lease_ttl = Some(ttl.max(leases::MIN_LEASE_TTL));
        self
    }
}

/// Name under which a payload query is wrapped.
const PAYLOAD_ALIAS: &str = "etlify_payload";

/// A handle on the database holding the application's tables and the sync
/// state. Cheap to clone.
///
/// Everyday use names the database by URL ([`Store::connect`],
/// [`Store::connect_with`]) and never sees a driver type. An application
/// that already has an sqlx pool, or that runs its own queries beside the
/// engine, has two escape hatches, named for the driver they expose:
/// [`Store::from_sqlite_pool`] / [`Store::from_postgres_pool`] wrap a pool,
/// and [`Store::sqlite_pool`] / [`Store::postgres_pool`] hand the store's
/// out. They tie the caller to this crate's sqlx version
/// (docs/DECISIONS.md, "Public API paths").
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    lease_ttl: std::time::Duration,
    /// Who takes this store's leases (`store/leases/`): a token of this
    /// store's own, made when it was connected, or a worker's.
    lease_owner: Arc<leases::LeaseOwner>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password: only the backend is shown.
        f.debug_struct("Store")
            .field("backend", &self.kind())
            .finish()
    }
}

/// `at` moved back by `margin` (unchanged if that is out of range).
fn before(at: Timestamp, margin: std::time::Duration) -> Timestamp {
    chrono::Duration::from_std(margin)
        .ok()
        .and_then(|margin| at.checked_sub_signed(margin))
        .unwrap_or(at)
}

impl Store {
    /// Connects to `sqlite://path` (created if missing), `postgres://…` or
    /// `mysql://…` (MySQL or MariaDB).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, &StoreOptions::default()).await
    }

    /// Like [`Store::connect`], with pool options.
    pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Self> {
        Ok(Self::new(backend::connect(url, options).await?)
            .with_lease_ttl(options.lease_ttl.unwrap_or(leases::LEASE_TTL)))
    }

    /// Escape hatch: wraps an existing sqlx SQLite pool (its connection
    /// settings are kept as they are).
    pub fn from_sqlite_pool(pool: SqlitePool) -> Self {
        Self::new(Arc::new(backend::sqlite::SqliteBackend::new(pool)))
    }

    /// Escape hatch: wraps an existing sqlx PostgreSQL pool.
    ///
    /// Timestamps are compared in UTC: connections should use the server
    /// default `TimeZone` of `UTC` (as Rails apps do) or be configured so.
    pub fn from_postgres_pool(pool: PgPool) -> Self {
        Self::new(Arc::new(backend::postgres::PostgresBackend::new(pool)))
    }

    /// Escape hatch: wraps an existing sqlx MySQL (or MariaDB) pool. Its
    /// connections must run with `time_zone = '+00:00'` and `ANSI_QUOTES`
    /// in their SQL mode, as [`Store::connect`]'s do.
    pub fn from_mysql_pool(pool: MySqlPool) -> Self {
        Self::new(Arc::new(backend::mysql::MysqlBackend::new(pool)))
    }

    /// A store on `backend`, whose leases are taken under an owner token
    /// of its own.
    fn new(backend: Arc<dyn Backend>) -> Self {
        Self {
            backend,
            lease_ttl: leases::LEASE_TTL,
            lease_owner: Arc::new(leases::LeaseOwner::unique()),
        }
    }

    /// This store with locks that outlive a dead process by `ttl` (see
    /// [`StoreOptions::lease_ttl`]).
    pub fn with_lease_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.lease_ttl = ttl.max(leases::MIN_LEASE_TTL);
        self
    }

    /// How long this store's locks outlive a dead process.
    pub fn lease_ttl(&self) -> std::time::Duration {
        self.lease_ttl
    }

    /// This store with lease owner tokens starting with `prefix` (a
    /// worker's own, so that it can release its locks, and only them).
    pub(crate) fn with_lease_owner(mut self, prefix: String) -> Self {
        self.lease_owner = Arc::new(leases::LeaseOwner::new(prefix));
        self
    }

    /// The prefix of this store's lease owner tokens.
    pub(crate) fn lease_owner(&self) -> &str {
        self.lease_owner.prefix()
    }

    /// The backend.
    pub fn kind(&self) -> BackendKind {
        self.dialect().kind()
    }

    /// How this database keeps [`crate::KeyType::Uuid`] keys: PostgreSQL
    /// in its `uuid` type, the others as text.
    pub fn uuid_storage(&self) -> crate::id::KeyStorage {
        match self.kind() {
            BackendKind::Postgres => crate::id::KeyStorage::Bytes,
            _ => crate::id::KeyStorage::Text,
        }
    }

    /// Escape hatch: the sqlx SQLite pool, when this store is on SQLite
    /// (for payload sources that run their own queries).
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        self.backend
            .as_any()
            .downcast_ref::<backend::sqlite::SqliteBackend>()
            .map(backend::sqlite::SqliteBackend::pool)
    }

    /// Escape hatch: the sqlx PostgreSQL pool, when this store is on
    /// PostgreSQL.
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        self.backend
            .as_any()
            .downcast_ref::<backend::postgres::PostgresBackend>()
            .map(backend::postgres::PostgresBackend::pool)
    }

    /// Escape hatch: the sqlx MySQL pool, when this store is on MySQL or
    /// MariaDB.
    pub fn mysql_pool(&self) -> Option<&MySqlPool> {
        self.backend
            .as_any()
            .downcast_ref::<backend::mysql::MysqlBackend>()
            .map(backend::mysql::MysqlBackend::pool)
    }

    /// The database's current time in UTC.
    pub async fn now(&self) -> Result<Timestamp> {
        self.backend.now().await
    }

    /// The commit margin an engine on this store keeps when its
    /// configuration sets none ([`crate::Config::commit_margin`], X-1):
    /// 200 ms on MySQL and MariaDB, whose list of running transactions is
    /// a cache; 1 ms on SQLite and PostgreSQL.
    pub fn default_commit_margin(&self) -> std::time::Duration {
        self.backend.default_commit_margin()
    }

    /// The time records read now will be recorded in sync as of
    /// (`last_synced_at`, X-1): the database's time before the read,
    /// moved back to before the oldest transaction still running (where
    /// the database shows them) and by `commit_margin`, so that no change
    /// committed after the read can carry an older timestamp.
    pub(crate) async fn in_sync_as_of(
        &self,
        commit_margin: std::time::Duration,
    ) -> Result<Timestamp> {
        Ok(before(self.backend.in_sync_as_of().await?, commit_margin))
    }

    /// A time at or before which every change committed (less
    /// `commit_margin`, as [`Store::in_sync_as_of`]): a batch run's
    /// checkpoint, taken before it reads anything.
    pub(crate) async fn changes_visible_through(
        &self,
        commit_margin: std::time::Duration,
    ) -> Result<Timestamp> {
        Ok(before(
            self.backend.changes_visible_through().await?,
            commit_margin,
        ))
    }

    /// The rows of `sql` whose `key_column` is one of `ids`, each as a JSON
    /// object with one property per column (see `docs/MODELS.md` for the
    /// type mapping), in one round trip. A row whose column has no JSON
    /// mapping is an `Err` entry naming the column.
    ///
    /// `sql` is run as written, wrapped as `WITH etlify_payload AS (<sql>)
    /// SELECT * FROM etlify_payload WHERE <key_column> IN (…)`; the ids are
    /// bound, never spliced.
    pub async fn select_json_by_ids(
        &self,
        sql: &str,
        key_column: &str,
        ids: &[ResourceId],
    ) -> Result<Vec<Result<Payload, String>>> {
        self.select_json_by_ids_with(sql, key_column, ids, &ColumnMapping::default())
            .await
    }

    /// Like [`Store::select_json_by_ids`], with declared column types and
    /// renderings (see [`ColumnMapping`]).
    pub async fn select_json_by_ids_with(
        &self,
        sql: &str,
        key_column: &str,
        ids: &[ResourceId],
        mapping: &ColumnMapping,
    ) -> Result<Vec<Result<Payload, String>>> {
        Ok(self
            .select_payloads_by_ids(sql, key_column, ids, mapping)
            .await?
            .into_iter()
            .map(|(_, row)| row)
            .collect())
    }

    /// Like [`Store::select_json_by_ids_with`], each row with its key (when
    /// the key column reads as an integer), so that a value that does not
    /// fit its declared type fails that record alone.
    pub(crate) async fn select_payloads_by_ids(
        &self,
        sql: &str,
        key_column: &str,
        ids: &[ResourceId],
        mapping: &ColumnMapping,
    ) -> Result<Vec<(Option<ResourceId>, Result<Payload, String>)>> {
        let Some(like) = ids.first() else {
            return Ok(Vec::new());
        };
        let (wrapped, values) = self.wrap_payload_query(sql, key_column, ids);
        let rows = self
            .backend
            .fetch_payload_rows(sql, wrapped, values)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| match row {
                Ok(cells) => {
                    let key = cells
                        .iter()
                        .find(|(name, _)| name == key_column)
                        .and_then(|(_, cell)| key_of_cell(cell, like));
                    (key, json_value::row_to_json(cells, mapping))
                }
                Err(message) => (None, Err(message)),
            })
            .collect())
    }

    /// Like [`Store::select_json_by_ids`], each row decoded as `T` (e.g. a
    /// `#[derive(sqlx::FromRow)]` struct) with its integer key.
    pub async fn select_rows_by_ids<T: FromAnyRow>(
        &self,
        sql: &str,
        key_column: &str,
        ids: &[ResourceId],
    ) -> Result<Vec<(ResourceId, Result<T, String>)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (sql, values) = self.wrap_payload_query(sql, key_column, ids);
        let mut rows = Vec::new();
        self.backend
            .for_each_row(sql, values, &mut |row: AnyRow<'_>| {
                let id = row
                    .key(key_column)
                    .map_err(|e| backend::key_error(key_column, e))?;
                rows.push((id, row.decode::<T>().map_err(|e| e.to_string())));
                Ok(())
            })
            .await?;
        Ok(rows)
    }

    /// The columns a payload query returns, without running it: names, and
    /// for a type with no JSON mapping `Err(type name)`.
    pub(crate) async fn describe_columns(
        &self,
        sql: &str,
    ) -> Result<Vec<(String, std::result::Result<(), String>)>> {
        self.backend.describe_columns(sql).await
    }

    fn wrap_payload_query(
        &self,
        sql: &str,
        key_column: &str,
        ids: &[ResourceId],
    ) -> (String, SqlxValues) {
        let mut select = Query::select();
        select
            .column(Asterisk)
            .from(Alias::new(PAYLOAD_ALIAS))
            .and_where(self.dialect().id_in(
                Expr::col((Alias::new(PAYLOAD_ALIAS), Alias::new(key_column))),
                ids,
            ));
        let (filter, values) = self.build(&select);
        // The alias is a constant; `sql` is the user's own query, run as written.
        (
            format!("WITH \"{PAYLOAD_ALIAS}\" AS ({sql}) {filter}"),
            values,
        )
    }

    /// The columns of `table` in order, or `None` when it does not exist
    /// (for scaffolding configurations; `build()` does its own checks).
    pub async fn table_columns(&self, table: &str) -> Result<Option<Vec<String>>> {
        self.backend.table_columns(table).await
    }

    /// The key type a model over `table.column` declares, from the
    /// column's SQL type (for scaffolding configurations): `None` when the
    /// column does not exist or its type fits no key type.
    pub async fn key_type_of(&self, table: &str, column: &str) -> Result<Option<crate::KeyType>> {
        let column = self.backend.key_column(table, column).await?;
        Ok(column.and_then(|column| column.key_type()))
    }

    /// The application's tables, sorted: every table of the database (the
    /// current schema on PostgreSQL) but the sync state's own and Rails'
    /// bookkeeping tables (for scaffolding configurations).
    pub async fn application_tables(&self) -> Result<Vec<String>> {
        const NOT_THE_APPLICATION: &[&str] = &[
            schema::SYNC_TABLE,
            schema::PENDING_TABLE,
            schema::LEASE_TABLE,
            schema::RECORD_LEASE_TABLE,
            schema::CHECKPOINT_TABLE,
            schema::RATE_SLOT_TABLE,
            schema::JOB_REQUEST_TABLE,
            schema::HISTORY_TABLE,
            // The job queue's (apalis) tables on SQLite.
            "Jobs",
            "Workers",
            "_sqlx_migrations",
            "schema_migrations",
            "ar_internal_metadata",
        ];
        Ok(self
            .backend
            .table_names()
            .await?
            .into_iter()
            .filter(|t| !NOT_THE_APPLICATION.contains(&t.as_str()))
            .collect())
    }

    /// The foreign keys declared on `table`: (column, referenced table,
    /// referenced column).
    pub async fn foreign_keys(&self, table: &str) -> Result<Vec<(String, String, String)>> {
        self.backend.foreign_keys(table).await
    }

    /// The text of this database's SQL.
    pub(crate) fn dialect(&self) -> &'static dyn Dialect {
        self.backend.dialect()
    }

    /// The database.
    pub(crate) fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// Renders a sea-query statement for this backend.
    pub(crate) fn build<'a>(&self, statement: impl Into<Statement<'a>>) -> (String, SqlxValues) {
        self.dialect().build(statement.into())
    }

    /// Runs a statement, returning the number of affected rows.
    pub(crate) async fn execute(&self, sql: String, values: SqlxValues) -> Result<u64> {
        self.backend.execute(sql, values).await
    }

    /// Runs DDL this crate wrote (constants, or the sea-query table
    /// builder's), which binds no values.
    pub(crate) async fn execute_ddl(&self, sql: String) -> Result<u64> {
        self.backend
            .execute(sql, SqlxValues(sea_query::Values(Vec::new())))
            .await
    }

    /// Runs a one-column query of record keys and streams them.
    pub(crate) fn fetch_ids(
        &self,
        sql: String,
        values: SqlxValues,
    ) -> futures_util::stream::BoxStream<'_, Result<ResourceId>> {
        self.backend.fetch_ids(sql, values)
    }

    /// Whether `table` has a row whose `key_column` is `id`.
    pub(crate) async fn row_exists(
        &self,
        table: &str,
        key_column: &str,
        id: ResourceId,
    ) -> Result<bool> {
        let mut select = Query::select();
        select
            .expr(Expr::val(1))
            .from(Alias::new(table))
            .and_where(Expr::col(Alias::new(key_column)).eq(id.value()))
            .limit(1);
        let (sql, values) = self.build(&select);
        let rows: Vec<(i32,)> = self.fetch_all(sql, values).await?;
        Ok(!rows.is_empty())
    }

    /// Runs a query and decodes every row as `T`.
    pub(crate) async fn fetch_all<T: FromAnyRow>(
        &self,
        sql: String,
        values: SqlxValues,
    ) -> Result<Vec<T>> {
        let mut rows = Vec::new();
        self.backend
            .for_each_row(sql, values, &mut |row: AnyRow<'_>| {
                rows.push(row.decode::<T>()?);
                Ok(())
            })
            .await?;
        Ok(rows)
    }
}

/// The record key a payload row's key cell holds, of the kind of `like`
/// (a key the rows were asked for): payload rows render UUIDs as text.
fn key_of_cell(cell: &json_value::Cell, like: &ResourceId) -> Option<ResourceId> {
    match cell {
        json_value::Cell::Int(i) => Some(ResourceId::new(*i)),
        json_value::Cell::Text(t) | json_value::Cell::Decimal(t) => {
            if like.as_int().is_some() {
                t.parse().ok().map(ResourceId::new)
            } else if like.as_uuid().is_some() {
                sqlx::types::Uuid::parse_str(t).ok().map(ResourceId::uuid)
            } else {
                Some(ResourceId::text(t.as_str()))
            }
        }
        _ => None,
    }
}
