//! SQLite: every way it differs from the shared SQL.
//!
//! - Timestamps are text in Rails' format `YYYY-MM-DD HH:MM:SS.ffffff`
//!   (UTC), so text comparison with the application's columns is
//!   chronological; "now" is this process's clock (SQLite has no server
//!   clock; `CURRENT_TIMESTAMP` reads the same one with less precision).
//! - Sync rows are upserted as multi-row `VALUES` with plain `?`
//!   placeholders (numbered ones cost sqlx quadratic time, docs/ARCHITECTURE.md).
//! - A payload column's declared type (`pragma_table_info` of the table it
//!   comes from) decides its meaning where SQLite's storage class cannot
//!   (booleans as 0/1, dates and timestamps as text, decimals as REAL);
//!   expressions fall back to the storage class.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::format::{Item, StrftimeItems};
use chrono::{Timelike, Utc};
use sea_query::{Expr, SqliteQueryBuilder, Value};
use sea_query_sqlx::{SqlxBinder, SqlxValues};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Row, SqlitePool, TypeInfo, ValueRef};

use super::{key_error, Backend, Cells, Dialect, FromAnyRow, StateTable, Statement};
use crate::error::Result;
use crate::id::{ResourceId, SyncKey};
use crate::store::json_value::{parse_date, parse_timestamp, unsupported, Cell};
use crate::store::lease;
use crate::store::sync_rows::{self, RowChange};
use crate::store::{BackendKind, Timestamp};

mod wal_checkpoint;

use wal_checkpoint::{WalCheckpointer, FALLBACK_AUTOCHECKPOINT_PAGES};

/// Rails' SQLite text format for datetimes: `YYYY-MM-DD HH:MM:SS.ffffff`, UTC.
pub const TIMESTAMP_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

/// Rows per upsert statement.
const UPSERT_CHUNK: usize = 500;

const CREATE_SYNC: &str = r#"CREATE TABLE IF NOT EXISTS "crm_synchronisations" (
  "id" integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  "crm_id" varchar,
  "resource_type" varchar NOT NULL,
  "resource_id" bigint NOT NULL,
  "last_digest" varchar,
  "field_digests" text,
  "last_synced_at" datetime(6),
  "last_error" text,
  "crm_name" varchar NOT NULL,
  "error_count" integer DEFAULT 0 NOT NULL,
  "created_at" datetime(6) NOT NULL,
  "updated_at" datetime(6) NOT NULL)"#;

const CREATE_PENDING: &str = r#"CREATE TABLE IF NOT EXISTS "etlify_pending_syncs" (
  "id" integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  "dependent_type" varchar NOT NULL,
  "dependent_id" bigint NOT NULL,
  "dependency_type" varchar NOT NULL,
  "dependency_id" bigint NOT NULL,
  "crm_name" varchar NOT NULL,
  "created_at" datetime(6) NOT NULL,
  "updated_at" datetime(6) NOT NULL)"#;

const CREATE_HISTORY: &str = r#"CREATE TABLE IF NOT EXISTS "etlify_schema_migrations" (
  "id" integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  "step" varchar NOT NULL,
  "applied_at" datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP)"#;

/// Keyed by name alone (`WITHOUT ROWID`): one b-tree, not a table and an index.
const CREATE_LEASES: &str = r#"CREATE TABLE IF NOT EXISTS "etlify_leases" (
  "name" varchar PRIMARY KEY NOT NULL,
  "owner" varchar NOT NULL,
  "expires_at" datetime(6) NOT NULL) WITHOUT ROWID"#;

/// Keyed by its range alone (`WITHOUT ROWID`): one b-tree.
const CREATE_RECORD_LEASES: &str = r#"CREATE TABLE IF NOT EXISTS "etlify_record_leases" (
  "crm_name" varchar NOT NULL,
  "resource_type" varchar NOT NULL,
  "first_id" bigint NOT NULL,
  "last_id" bigint NOT NULL,
  "owner" varchar NOT NULL,
  "expires_at" datetime(6) NOT NULL,
  PRIMARY KEY ("crm_name", "resource_type", "first_id", "last_id")) WITHOUT ROWID"#;

/// The send times of a CRM's last requests, shared by every process
/// (`store/rate_window.rs`): slots `0..max_requests`, and slot -1 holding
/// the end of a pause.
const CREATE_RATE_SLOTS: &str = r#"CREATE TABLE IF NOT EXISTS "etlify_rate_slots" (
  "crm_name" varchar NOT NULL,
  "slot" integer NOT NULL,
  "sent_at" datetime(6) NOT NULL,
  PRIMARY KEY ("crm_name", "slot")) WITHOUT ROWID"#;

/// One row per sync job queued or running (`store/job_requests.rs`): a
/// record's (`kind` = 'record') or a CRM's batch run ('batch', model '' and
/// id 0).
const CREATE_JOB_REQUESTS: &str = r#"CREATE TABLE IF NOT EXISTS "etlify_job_requests" (
  "kind" varchar NOT NULL,
  "crm_name" varchar NOT NULL,
  "resource_type" varchar NOT NULL,
  "resource_id" bigint NOT NULL,
  "running" boolean NOT NULL,
  "again" boolean NOT NULL,
  "requested_at" datetime(6) NOT NULL,
  PRIMARY KEY ("kind", "crm_name", "resource_type", "resource_id")) WITHOUT ROWID"#;

/// One row per (CRM, model): where its next batch run starts looking.
const CREATE_CHECKPOINTS: &str = r#"CREATE TABLE IF NOT EXISTS "etlify_sync_checkpoints" (
  "crm_name" varchar NOT NULL,
  "resource_type" varchar NOT NULL,
  "finder" varchar NOT NULL,
  "changes_through" datetime(6) NOT NULL,
  "ids_through" bigint,
  "lowest_synced_id" bigint,
  "complete_at" datetime(6) NOT NULL,
  PRIMARY KEY ("crm_name", "resource_type")) WITHOUT ROWID"#;

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

    fn id_in(&self, column: Expr, ids: &[ResourceId]) -> Expr {
        // One JSON array parameter instead of one per id.
        let list = ids
            .iter()
            .map(|id| id.get().to_string())
            .collect::<Vec<_>>()
            .join(",");
        Expr::cust_with_exprs(
            "? IN (SELECT value FROM json_each(?))",
            [column, Expr::val(format!("[{list}]"))],
        )
    }

    fn create_table(&self, table: StateTable) -> &'static str {
        match table {
            StateTable::Sync => CREATE_SYNC,
            StateTable::Pending => CREATE_PENDING,
            StateTable::History => CREATE_HISTORY,
            StateTable::Leases => CREATE_LEASES,
            StateTable::RecordLeases => CREATE_RECORD_LEASES,
            StateTable::Checkpoints => CREATE_CHECKPOINTS,
            StateTable::RateSlots => CREATE_RATE_SLOTS,
            StateTable::JobRequests => CREATE_JOB_REQUESTS,
        }
    }

    fn alters_column_nullability(&self) -> bool {
        false
    }
}

/// A live SQLite database.
#[derive(Debug)]
pub(crate) struct SqliteBackend {
    pool: SqlitePool,
    /// Declared column types per table (`pragma_table_info`), read once.
    declared: Mutex<HashMap<String, std::sync::Arc<HashMap<String, String>>>>,
    /// Copies the write-ahead log back after sync-row writes (`None`
    /// outside a tokio runtime: SQLite then checkpoints inline).
    checkpointer: Option<WalCheckpointer>,
}

impl SqliteBackend {
    pub(crate) fn new(pool: SqlitePool) -> Self {
        Self {
            checkpointer: WalCheckpointer::start(&pool),
            pool,
            declared: Mutex::default(),
        }
    }
}

/// The process's clock to the microsecond: "now" on SQLite, whose database
/// is on this machine.
fn process_now() -> Timestamp {
    let now = Utc::now().naive_utc();
    let micros = now.nanosecond() / 1_000 * 1_000;
    now.with_nanosecond(micros).unwrap_or(now)
}

/// Opens (creating if missing) the database at `url`.
pub(crate) async fn connect(url: &str, max_connections: u32, create: bool) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?;
    let path = options.get_filename().to_owned();
    let in_memory = path.as_os_str().is_empty() || path.as_os_str() == ":memory:";
    if !create && !in_memory && !path.exists() {
        // A relative path is read from the current folder: say which.
        let shown = match std::path::absolute(&path) {
            Ok(absolute) if path.is_relative() => format!(
                "{} (relative to the current folder: {})",
                path.display(),
                absolute.display()
            ),
            _ => path.display().to_string(),
        };
        return Err(crate::error::ConfigError::new(
            "database",
            "url",
            format!(
                "names the SQLite file {shown}, which does not exist (check the path; `etlify migrate` creates it)"
            ),
        )
        .into());
    }
    let options = options
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(10))
        // WAL with NORMAL sync (Rails' default too): commits are durable
        // across a crash of the process, not of the machine; a commit no
        // longer waits for an fsync (sync state is written per CRM request).
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
        // 8 MiB of page cache per connection (SQLite's default is 2 MiB):
        // the interior pages of the sync table and its indexes stay cached,
        // so the scattered writes of a run after a small change cost a
        // third less than with 4 MiB (16 MiB gains nothing more); peak
        // memory stays under 64 MiB at 1M records (docs/BENCHMARKS.md,
        // "A run's cost follows what changed").
        .pragma("cache_size", "-8192")
        // Checkpoints run off the writers' path (`wal_checkpoint.rs`);
        // SQLite's own, inside a commit, only if that falls behind.
        .pragma(
            "wal_autocheckpoint",
            FALLBACK_AUTOCHECKPOINT_PAGES.to_string(),
        );
    Ok(SqlitePoolOptions::new()
        .max_connections(max_connections)
        .connect_with(options)
        .await?)
}

#[async_trait]
impl Backend for SqliteBackend {
    async fn now(&self) -> Result<Timestamp> {
        Ok(process_now())
    }

    async fn size_rate_slots(&self, _crm_name: &str, _max_requests: u32) -> Result<()> {
        Err(shared_limits_need_postgres())
    }

    async fn take_rate_slot(&self, _crm_name: &str, _window: Duration) -> Result<Option<Duration>> {
        Err(shared_limits_need_postgres())
    }

    async fn pause_rate_slots(&self, _crm_name: &str, _delay: Duration) -> Result<()> {
        Err(shared_limits_need_postgres())
    }

    async fn changes_visible_through(&self) -> Result<Timestamp> {
        // Taking the write lock waits for the writer holding it to commit;
        // a writer that starts later stamps its changes after this time.
        sqlx::raw_sql("BEGIN IMMEDIATE; COMMIT")
            .execute(&mut *self.pool.acquire().await?)
            .await?;
        self.now().await
    }

    async fn in_sync_as_of(&self) -> Result<Timestamp> {
        // SQLite shows no other connection's transaction, but a writer's
        // transaction holds its single write lock, which the sync's lease
        // waits for: the read comes after the commit. What is left (a
        // timestamp taken before its write began, whole-second timestamps)
        // is the commit margin's.
        self.now().await
    }

    async fn table_columns(&self, table: &str) -> Result<Option<Vec<String>>> {
        let columns: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
                .bind(table)
                .fetch_all(&self.pool)
                .await?;
        Ok((!columns.is_empty()).then_some(columns))
    }

    async fn index_names(&self, table: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT name FROM pragma_index_list(?)")
            .bind(table)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn index_columns(&self, index: &str) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT name FROM pragma_index_info(?) ORDER BY seqno")
                .bind(index)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn fillfactor_settable(&self, _table: &str) -> Result<bool> {
        Ok(false)
    }

    async fn table_names(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn foreign_keys(&self, table: &str) -> Result<Vec<(String, String, String)>> {
        let rows: Vec<(String, String, Option<String>)> =
            sqlx::query_as(r#"SELECT "from", "table", "to" FROM pragma_foreign_key_list(?)"#)
                .bind(table)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(column, target, to)| (column, target, to.unwrap_or_else(|| "id".to_owned())))
            .collect())
    }

    async fn column_is_nullable(&self, table: &str, column: &str) -> Result<bool> {
        let not_null: Option<i64> =
            sqlx::query_scalar(r#"SELECT "notnull" FROM pragma_table_info(?) WHERE name = ?"#)
                .bind(table)
                .bind(column)
                .fetch_optional(&self.pool)
                .await?;
        Ok(not_null == Some(0))
    }

    async fn take_leases(
        &self,
        owner: &str,
        names: &[String],
        ttl: Duration,
    ) -> Result<Vec<String>> {
        let mut insert = lease::take_statement(&SqliteDialect);
        for name in names {
            insert
                .values([
                    Expr::val(name.as_str()),
                    Expr::val(owner),
                    SqliteDialect.now_plus(ttl),
                ])
                // Internal invariant: three values for three columns.
                .expect("values match the column list");
        }
        let (sql, values) = SqliteDialect.build((&insert).into());
        let taken: Vec<(String,)> = sqlx::query_as_with(AssertSqlSafe(sql), values)
            .fetch_all(&self.pool)
            .await?;
        Ok(taken.into_iter().map(|(name,)| name).collect())
    }

    async fn describe_columns(&self, sql: &str) -> Result<Vec<(String, Result<(), String>)>> {
        use sqlx::{Column, Executor, Statement};
        let described = (&self.pool)
            .prepare(sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(
                sql.to_owned(),
            )))
            .await?;
        Ok(described
            .columns()
            .iter()
            .map(|column| {
                let ty = column.type_info().name().to_ascii_uppercase();
                let supported = if ty == "BLOB" { Err(ty) } else { Ok(()) };
                (column.name().to_owned(), supported)
            })
            .collect())
    }

    async fn upsert_sync_rows(&self, rows: &[&(SyncKey, RowChange)]) -> Result<()> {
        for chunk in rows.chunks(UPSERT_CHUNK) {
            let Some((_, first)) = chunk.first() else {
                continue;
            };
            let mut insert = sync_rows::upsert_statement(first);
            // The process's clock is this backend's "now" (`Backend::now`),
            // taken once per statement: SQLite's `strftime` on every row
            // cost about 5% of a first sync's CPU.
            let written_at = SqliteDialect.timestamp_value(process_now());
            for (key, change) in chunk {
                insert
                    .values(sync_rows::row_values(
                        &SqliteDialect,
                        key,
                        change,
                        &written_at,
                    ))
                    // Internal invariant: one value per upserted column.
                    .expect("values match the column list");
            }
            let (sql, values) = SqliteDialect.build((&insert).into());
            sqlx::query_with(AssertSqlSafe(sql), values)
                .execute(&self.pool)
                .await?;
        }
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.wrote();
        }
        Ok(())
    }

    async fn refresh_sync_statistics(&self) -> Result<()> {
        // SQLite's planner needs no refresh for the finder's index choices.
        Ok(())
    }

    async fn fetch_payload_rows(
        &self,
        sql: String,
        values: SqlxValues,
    ) -> Result<Vec<Result<Cells, String>>> {
        let rows = sqlx::query_with(AssertSqlSafe(sql), values)
            .fetch_all(&self.pool)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let kinds = self.declared_types(first).await?;
        Ok(rows.iter().map(|row| row_to_cells(row, &kinds)).collect())
    }
}

/// What a column's declared type (as Rails writes SQLite schemas) says it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declared {
    Boolean,
    Date,
    Timestamp,
    Decimal,
    Json,
    Other,
}

fn declared(decl: &str) -> Declared {
    let decl = decl.trim().to_ascii_lowercase();
    if decl.starts_with("bool") {
        Declared::Boolean
    } else if decl == "date" {
        Declared::Date
    } else if decl.starts_with("datetime") || decl.starts_with("timestamp") {
        Declared::Timestamp
    } else if decl.starts_with("decimal") || decl.starts_with("numeric") {
        Declared::Decimal
    } else if decl == "json" || decl == "jsonb" {
        Declared::Json
    } else {
        Declared::Other
    }
}

impl SqliteBackend {
    /// The declared type of each column of `row` that comes straight from
    /// a table column (expressions have none), read once per table.
    async fn declared_types(&self, row: &SqliteRow) -> Result<Vec<Declared>> {
        use sqlx::Column;
        let mut kinds = Vec::with_capacity(row.columns().len());
        for column in row.columns() {
            let kind = match column.origin() {
                sqlx::ColumnOrigin::Table(origin) => {
                    let table = origin.table.strip_prefix("main.").unwrap_or(&origin.table);
                    self.declared_type(table, &origin.name)
                        .await?
                        .map_or(Declared::Other, |d| declared(&d))
                }
                _ => Declared::Other,
            };
            kinds.push(kind);
        }
        Ok(kinds)
    }

    async fn declared_type(&self, table: &str, column: &str) -> Result<Option<String>> {
        let cached = self
            .declared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(table)
            .cloned();
        let columns = match cached {
            Some(columns) => columns,
            None => {
                let rows: Vec<(String, String)> =
                    sqlx::query_as("SELECT name, type FROM pragma_table_info(?)")
                        .bind(table)
                        .fetch_all(&self.pool)
                        .await?;
                let columns: std::sync::Arc<HashMap<String, String>> =
                    std::sync::Arc::new(rows.into_iter().collect());
                self.declared
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert(table.to_owned(), columns.clone());
                columns
            }
        };
        Ok(columns.get(column).cloned())
    }
}

/// A row's cells: the declared type decides where the table has one
/// (booleans kept as 0/1, dates and timestamps kept as text, decimals kept
/// as REAL), else the value's storage class.
fn row_to_cells(row: &SqliteRow, kinds: &[Declared]) -> Result<Cells, String> {
    use sqlx::Column;
    let mut cells = Vec::with_capacity(row.columns().len());
    for (i, column) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(i).map_err(|e| e.to_string())?;
        let err = |e: sqlx::Error| format!("column `{}`: {e}", column.name());
        let cell = if raw.is_null() {
            Cell::Null
        } else {
            let storage = raw.type_info().name().to_ascii_uppercase();
            let kind = kinds.get(i).copied().unwrap_or(Declared::Other);
            match (kind, storage.as_str()) {
                (Declared::Boolean, "INTEGER") => {
                    Cell::Bool(row.try_get::<i64, _>(i).map_err(err)? != 0)
                }
                (Declared::Decimal, "INTEGER") => {
                    Cell::Decimal(row.try_get::<i64, _>(i).map_err(err)?.to_string())
                }
                // The shortest digits that read back as the stored REAL, as
                // Rails casts it into a BigDecimal.
                (Declared::Decimal, "REAL") => {
                    Cell::Decimal(format!("{}", row.try_get::<f64, _>(i).map_err(err)?))
                }
                (_, "INTEGER") => Cell::Int(row.try_get::<i64, _>(i).map_err(err)?),
                (_, "REAL") => Cell::Float(row.try_get::<f64, _>(i).map_err(err)?),
                (kind, "TEXT") => {
                    let text: String = row.try_get(i).map_err(err)?;
                    text_cell(kind, text)
                }
                (_, other) => return Err(unsupported(column.name(), other)),
            }
        };
        cells.push((column.name().to_owned(), cell));
    }
    Ok(cells)
}

/// Text read under a declared type; kept as text when it does not parse.
fn text_cell(kind: Declared, text: String) -> Cell {
    match kind {
        Declared::Boolean => match text.to_ascii_lowercase().as_str() {
            "t" | "true" | "1" => Cell::Bool(true),
            "f" | "false" | "0" => Cell::Bool(false),
            _ => Cell::Text(text),
        },
        Declared::Date => parse_date(&text).map_or(Cell::Text(text), Cell::Date),
        Declared::Timestamp => parse_timestamp(&text).map_or(Cell::Text(text), Cell::Timestamp),
        Declared::Decimal if text.trim().parse::<f64>().is_ok() => {
            Cell::Decimal(text.trim().to_owned())
        }
        Declared::Json => serde_json::from_str(&text).map_or(Cell::Text(text), Cell::Json),
        _ => Cell::Text(text),
    }
}

/// Typed rows with their integer key.
pub(super) fn decode_keyed<T: FromAnyRow>(
    rows: &[SqliteRow],
    key_column: &str,
) -> Result<Vec<(ResourceId, Result<T, String>)>> {
    rows.iter()
        .map(|row| {
            let id: i64 = row
                .try_get(key_column)
                .map_err(|e| key_error(key_column, e))?;
            Ok((
                ResourceId::new(id),
                T::from_row(row).map_err(|e| e.to_string()),
            ))
        })
        .collect()
}

/// Rate limits shared through the database are PostgreSQL's (workers on
/// SQLite are one process: its in-process limiter is shared already).
fn shared_limits_need_postgres() -> crate::error::Error {
    crate::error::Error::Unsupported(
        "a rate limit shared by several processes needs PostgreSQL; on SQLite the limit is kept in the process".into(),
    )
}
