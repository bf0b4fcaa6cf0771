//! PostgreSQL: every way it differs from the shared SQL.
//!
//! - Timestamps are `timestamp(6) without time zone` in UTC, like Rails'
//!   columns; "now" is the server's `clock_timestamp()` (X-1).
//! - Id lists are bound as one array (`= ANY($1)`) and sync rows are
//!   upserted from arrays (`SELECT UNNEST($1), …`): parse and bind cost do
//!   not grow with the number of rows.
//! - The sync table's statistics are refreshed during long runs, so a table
//!   that grew is read through its indexes before autovacuum gets to it.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_query::extension::postgres::PgFunc;
use sea_query::{Expr, ExprTrait, Func, PostgresQueryBuilder, Query, Value};
use sea_query_sqlx::{SqlxBinder, SqlxValues};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow, PgTypeInfo, PgTypeKind};
use sqlx::types::{BigDecimal, Uuid};
use sqlx::{AssertSqlSafe, Column, PgPool, Row, TypeInfo};

use super::{key_error, Backend, Cells, Dialect, FromAnyRow, StateTable, Statement};
use crate::error::Result;
use crate::id::{ResourceId, SyncKey};
use crate::store::json_value::{unsupported, Cell};
use crate::store::lease;
use crate::store::sync_rows::{self, RowChange, UPSERT_COLUMNS};
use crate::store::{BackendKind, Timestamp};

const NOW: &str = "(clock_timestamp() AT TIME ZONE 'UTC')::timestamp(6)";

const CREATE_SYNC: &str = r#"CREATE TABLE IF NOT EXISTS "crm_synchronisations" (
  "id" bigserial PRIMARY KEY,
  "crm_id" varchar,
  "resource_type" varchar NOT NULL,
  "resource_id" bigint NOT NULL,
  "last_digest" varchar,
  "field_digests" text,
  "last_synced_at" timestamp(6) without time zone,
  "last_error" text,
  "crm_name" varchar NOT NULL,
  "error_count" integer DEFAULT 0 NOT NULL,
  "created_at" timestamp(6) without time zone NOT NULL,
  "updated_at" timestamp(6) without time zone NOT NULL)"#;

const CREATE_PENDING: &str = r#"CREATE TABLE IF NOT EXISTS "etlify_pending_syncs" (
  "id" bigserial PRIMARY KEY,
  "dependent_type" varchar NOT NULL,
  "dependent_id" bigint NOT NULL,
  "dependency_type" varchar NOT NULL,
  "dependency_id" bigint NOT NULL,
  "crm_name" varchar NOT NULL,
  "created_at" timestamp(6) without time zone NOT NULL,
  "updated_at" timestamp(6) without time zone NOT NULL)"#;

const CREATE_HISTORY: &str = r#"CREATE TABLE IF NOT EXISTS "etlify_schema_migrations" (
  "id" bigserial PRIMARY KEY,
  "step" varchar NOT NULL,
  "applied_at" timestamp(6) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))"#;

/// Unlogged: leases are short-lived and rewritten every page, so they skip
/// the WAL; after a server crash the table is emptied, and the sessions
/// that held its leases are gone with the crash anyway.
const CREATE_LEASES: &str = r#"CREATE UNLOGGED TABLE IF NOT EXISTS "etlify_leases" (
  "name" varchar PRIMARY KEY,
  "owner" varchar NOT NULL,
  "expires_at" timestamp(6) without time zone NOT NULL)"#;

/// Unlogged, like `etlify_leases`.
const CREATE_RECORD_LEASES: &str = r#"CREATE UNLOGGED TABLE IF NOT EXISTS "etlify_record_leases" (
  "crm_name" varchar NOT NULL,
  "resource_type" varchar NOT NULL,
  "first_id" bigint NOT NULL,
  "last_id" bigint NOT NULL,
  "owner" varchar NOT NULL,
  "expires_at" timestamp(6) without time zone NOT NULL,
  PRIMARY KEY ("crm_name", "resource_type", "first_id", "last_id"))"#;

/// The send times of a CRM's last requests, shared by every process
/// (`store/rate_window.rs`): slots `0..max_requests`, and slot -1 holding
/// the end of a pause.
const CREATE_RATE_SLOTS: &str = r#"CREATE UNLOGGED TABLE IF NOT EXISTS "etlify_rate_slots" (
  "crm_name" varchar NOT NULL,
  "slot" integer NOT NULL,
  "sent_at" timestamp(6) without time zone NOT NULL,
  PRIMARY KEY ("crm_name", "slot"))"#;

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
  "requested_at" timestamp(6) without time zone NOT NULL,
  PRIMARY KEY ("kind", "crm_name", "resource_type", "resource_id"))"#;

/// One row per (CRM, model): where its next batch run starts looking.
const CREATE_CHECKPOINTS: &str = r#"CREATE TABLE IF NOT EXISTS "etlify_sync_checkpoints" (
  "crm_name" varchar NOT NULL,
  "resource_type" varchar NOT NULL,
  "finder" varchar NOT NULL,
  "changes_through" timestamp(6) without time zone NOT NULL,
  "ids_through" bigint,
  "lowest_synced_id" bigint,
  "complete_at" timestamp(6) without time zone NOT NULL,
  PRIMARY KEY ("crm_name", "resource_type"))"#;

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

/// The free slot whose send is oldest, stamped now; none while paused.
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
    r#" FROM "free" WHERE "s"."crm_name" = $1 AND "s"."slot" = "free"."slot" RETURNING "s"."slot""#
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

/// Moves the pause's end to `$2` microseconds from now, if later.
const RATE_SLOTS_PAUSE: &str = concat!(
    r#"UPDATE "etlify_rate_slots" SET "sent_at" = GREATEST("sent_at", "#,
    rate_now!(),
    r#" + make_interval(secs => $2::float8 / 1000000)) WHERE "crm_name" = $1 AND "slot" = -1"#
);

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

    fn id_in(&self, column: Expr, ids: &[ResourceId]) -> Expr {
        // One array parameter instead of one per id (planning cost).
        let ids: Vec<i64> = ids.iter().map(|id| id.get()).collect();
        column.eq(PgFunc::any(Expr::val(ids)))
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
        true
    }
}

/// A live PostgreSQL database.
#[derive(Debug)]
pub(crate) struct PostgresBackend {
    pool: PgPool,
}

impl PostgresBackend {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// Connects to `url`; timestamps are compared in UTC, as Rails writes them.
///
/// One connection is opened first, so that a wrong host, port, password or
/// database fails at once with what went wrong, instead of the pool
/// retrying until its acquire timeout ("pool timed out").
pub(crate) async fn connect(url: &str, max_connections: u32) -> Result<PgPool> {
    use sqlx::Connection;
    let options = PgConnectOptions::from_str(url)?.options([("TimeZone", "UTC")]);
    let first = tokio::time::timeout(
        Duration::from_secs(10),
        sqlx::PgConnection::connect_with(&options),
    )
    .await;
    let at = format!("{}:{}", options.get_host(), options.get_port());
    match first {
        Ok(Ok(connection)) => {
            // Closing it is best effort; the pool opens its own.
            let _ = connection.close().await;
        }
        Ok(Err(error)) => {
            return Err(crate::error::ConfigError::new(
                "database",
                "url",
                format!(
                    "must reach a PostgreSQL server: {} at {at}",
                    describe(&error)
                ),
            )
            .into())
        }
        Err(_) => {
            return Err(crate::error::ConfigError::new(
                "database",
                "url",
                format!("must reach a PostgreSQL server: no answer from {at} within 10 s"),
            )
            .into())
        }
    }
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await?)
}

/// The array types of [`UPSERT_COLUMNS`] bound as `$1…$8`, in order; the
/// last two columns (`created_at`, `updated_at`) are the server's "now".
const UPSERT_ARRAYS: [&str; 9] = [
    "$1::varchar[]",
    "$2::varchar[]",
    "$3::int8[]",
    "$4::varchar[]",
    "$5::varchar[]",
    "$6::text[]",
    "$7::timestamp[]",
    "$8::text[]",
    "$9::int4[]",
];

#[async_trait]
impl Backend for PostgresBackend {
    async fn now(&self) -> Result<Timestamp> {
        Ok(sqlx::query_scalar(AssertSqlSafe(format!("SELECT {NOW}")))
            .fetch_one(&self.pool)
            .await?)
    }

    async fn size_rate_slots(&self, crm_name: &str, max_requests: u32) -> Result<()> {
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

    async fn take_rate_slot(&self, crm_name: &str, window: Duration) -> Result<Option<Duration>> {
        let micros = i64::try_from(window.as_micros()).unwrap_or(i64::MAX);
        let taken: Option<i32> = sqlx::query_scalar(RATE_SLOT_TAKE)
            .bind(crm_name)
            .bind(micros)
            .fetch_optional(&self.pool)
            .await?;
        if taken.is_some() {
            return Ok(None);
        }
        let wait: f64 = sqlx::query_scalar(RATE_SLOT_WAIT)
            .bind(crm_name)
            .bind(micros)
            .fetch_one(&self.pool)
            .await?;
        Ok(Some(Duration::from_secs_f64(wait.clamp(0.0, 3_600.0))))
    }

    async fn pause_rate_slots(&self, crm_name: &str, delay: Duration) -> Result<()> {
        let micros = i64::try_from(delay.as_micros()).unwrap_or(i64::MAX);
        sqlx::query(RATE_SLOTS_PAUSE)
            .bind(crm_name)
            .bind(micros)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn changes_visible_through(&self) -> Result<Timestamp> {
        // Before the oldest transaction still running, as `in_sync_as_of`.
        self.in_sync_as_of().await
    }

    async fn in_sync_as_of(&self) -> Result<Timestamp> {
        // A transaction of another session that is still running may commit
        // rows stamped after it began but before now: the read cannot see
        // them, so the records are in sync only as of just before the
        // oldest such transaction began. (Sessions of other roles show no
        // `xact_start` without pg_read_all_stats; the commit margin covers them.)
        Ok(sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT LEAST({NOW}, (SELECT (MIN(xact_start) AT TIME ZONE 'UTC')::timestamp(6) - interval '1 microsecond' \
             FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' \
             AND pid <> pg_backend_pid() AND xact_start IS NOT NULL))"
        )))
        .fetch_one(&self.pool)
        .await?)
    }

    async fn table_columns(&self, table: &str) -> Result<Option<Vec<String>>> {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 \
             ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&self.pool)
        .await?;
        Ok((!columns.is_empty()).then_some(columns))
    }

    async fn index_names(&self, table: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT indexname::text FROM pg_indexes \
             WHERE schemaname = current_schema() AND tablename = $1",
        )
        .bind(table)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn index_columns(&self, index: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT a.attname::text FROM pg_index i \
             JOIN pg_class c ON c.oid = i.indexrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema() \
             CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, position) \
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE c.relname = $1 ORDER BY k.position",
        )
        .bind(index)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn fillfactor_settable(&self, table: &str) -> Result<bool> {
        Ok(sqlx::query_scalar(
            "SELECT NOT EXISTS (SELECT 1 FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema() \
             CROSS JOIN LATERAL unnest(c.reloptions) AS o(option) \
             WHERE c.relname = $1 AND o.option LIKE 'fillfactor=%')",
        )
        .bind(table)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn table_names(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn foreign_keys(&self, table: &str) -> Result<Vec<(String, String, String)>> {
        Ok(sqlx::query_as(
            "SELECT kcu.column_name::text, ccu.table_name::text, ccu.column_name::text \
             FROM information_schema.table_constraints tc \
             JOIN information_schema.key_column_usage kcu \
               ON tc.constraint_name = kcu.constraint_name AND tc.table_schema = kcu.table_schema \
             JOIN information_schema.constraint_column_usage ccu \
               ON tc.constraint_name = ccu.constraint_name AND tc.table_schema = ccu.table_schema \
             WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema() AND tc.table_name = $1 \
             ORDER BY kcu.ordinal_position",
        )
        .bind(table)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn column_is_nullable(&self, table: &str, column: &str) -> Result<bool> {
        let nullable: Option<String> = sqlx::query_scalar(
            "SELECT is_nullable::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
        )
        .bind(table)
        .bind(column)
        .fetch_optional(&self.pool)
        .await?;
        Ok(nullable.as_deref() == Some("YES"))
    }

    async fn take_leases(
        &self,
        owner: &str,
        names: &[String],
        ttl: Duration,
    ) -> Result<Vec<String>> {
        // The shared statement, fed by one array of names.
        let mut source = Query::select();
        source
            .expr(Func::cust("UNNEST").arg(Expr::cust("$1::varchar[]")))
            .expr(Expr::cust("$2::varchar"))
            .expr(PostgresDialect.now_plus(ttl));
        let mut insert = lease::take_statement(&PostgresDialect);
        insert
            .select_from(source)
            // Internal invariant: three select expressions for three columns.
            .expect("select list matches the column list");
        // The statement binds no value of its own: `$1`, `$2` are bound here.
        let sql = insert.to_string(PostgresQueryBuilder);
        let taken: Vec<(String,)> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(names)
            .bind(owner)
            .persistent(false)
            .fetch_all(&self.pool)
            .await?;
        Ok(taken.into_iter().map(|(name,)| name).collect())
    }

    async fn describe_columns(&self, sql: &str) -> Result<Vec<(String, Result<(), String>)>> {
        use sqlx::{Executor, Statement};
        let described = (&self.pool)
            .prepare(sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(
                sql.to_owned(),
            )))
            .await?;
        Ok(described
            .columns()
            .iter()
            .map(|column| {
                let ty = column.type_info();
                let supported = if has_json_mapping(ty) {
                    Ok(())
                } else {
                    Err(ty.name().to_owned())
                };
                (column.name().to_owned(), supported)
            })
            .collect())
    }

    async fn upsert_sync_rows(&self, rows: &[&(SyncKey, RowChange)]) -> Result<()> {
        let Some((_, first)) = rows.first() else {
            return Ok(());
        };
        // The shared statement, fed by arrays zipped row by row (several
        // set-returning functions in one select list advance in lockstep).
        let mut source = Query::select();
        for array in UPSERT_ARRAYS {
            source.expr(Func::cust("UNNEST").arg(Expr::cust(array)));
        }
        source
            .expr(PostgresDialect.now())
            .expr(PostgresDialect.now());
        debug_assert_eq!(UPSERT_COLUMNS.len(), UPSERT_ARRAYS.len() + 2);
        let mut insert = sync_rows::upsert_statement(first);
        insert
            .select_from(source)
            // Internal invariant: one select expression per upserted column.
            .expect("select list matches the column list");
        // The statement binds no value of its own: `$1…$9` are the arrays.
        let sql = insert.to_string(PostgresQueryBuilder);
        let columns = sync_rows::RowColumns::of(rows);
        sqlx::query(AssertSqlSafe(sql))
            .bind(columns.crm_names)
            .bind(columns.resource_types)
            .bind(columns.resource_ids)
            .bind(columns.crm_ids)
            .bind(columns.digests)
            .bind(columns.field_digests)
            .bind(columns.synced_at)
            .bind(columns.errors)
            .bind(columns.error_counts)
            .persistent(false)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn refresh_sync_statistics(&self) -> Result<()> {
        sqlx::query(r#"ANALYZE "crm_synchronisations""#)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn fetch_payload_rows(
        &self,
        sql: String,
        values: SqlxValues,
    ) -> Result<Vec<Result<Cells, String>>> {
        // Prepared (and cached): sqlx looks up the types of enum and
        // extension columns while preparing, which an unnamed statement
        // does not survive. A payload query's plan does not depend on how
        // full the sync table is, unlike the finder's.
        let rows = sqlx::query_with(AssertSqlSafe(sql), values)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(row_to_cells).collect())
    }
}

/// A row's cells: the column's declared type decides. Enums, `citext` and
/// other text-like types are read as text; arrays element by element.
fn row_to_cells(row: &PgRow) -> Result<Cells, String> {
    let mut cells = Vec::with_capacity(row.columns().len());
    for (i, column) in row.columns().iter().enumerate() {
        let cell = cell(row, i, column.type_info())
            .map_err(|e| format!("column `{}`: {e}", column.name()))?
            .ok_or_else(|| unsupported(column.name(), column.type_info().name()))?;
        cells.push((column.name().to_owned(), cell));
    }
    Ok(cells)
}

/// What a PostgreSQL column type decodes as: one list, for decoding
/// (`cell`) and for checking a payload query before it runs
/// (`has_json_mapping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PgKind {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Text,
    Uuid,
    Json,
    Timestamp,
    TimestampTz,
    Date,
    /// Enums and `citext`: sent by the server as their text (the label,
    /// the string), read without a type check; not as array elements.
    TextLike,
}

/// The kind of a scalar column, or `None` for a type with no JSON mapping.
fn scalar_kind(ty: &PgTypeInfo) -> Option<PgKind> {
    let name = ty.name().to_ascii_uppercase();
    Some(match name.as_str() {
        "BOOL" => PgKind::Bool,
        "INT2" => PgKind::Int2,
        "INT4" => PgKind::Int4,
        "INT8" => PgKind::Int8,
        "FLOAT4" => PgKind::Float4,
        "FLOAT8" => PgKind::Float8,
        "NUMERIC" => PgKind::Numeric,
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => PgKind::Text,
        "UUID" => PgKind::Uuid,
        "JSON" | "JSONB" => PgKind::Json,
        "TIMESTAMP" => PgKind::Timestamp,
        "TIMESTAMPTZ" => PgKind::TimestampTz,
        "DATE" => PgKind::Date,
        "CITEXT" => PgKind::TextLike,
        _ if matches!(ty.kind(), PgTypeKind::Enum(_)) => PgKind::TextLike,
        _ => return None,
    })
}

/// The kind of an array column's elements, or `None` when unsupported.
fn element_kind(ty: &PgTypeInfo) -> Option<PgKind> {
    let PgTypeKind::Array(element) = ty.kind() else {
        return None;
    };
    match scalar_kind(element)? {
        PgKind::TextLike => None,
        PgKind::Text if element.name().eq_ignore_ascii_case("CHAR") => None,
        kind => Some(kind),
    }
}

/// Whether `cell` decodes columns of type `ty`.
fn has_json_mapping(ty: &PgTypeInfo) -> bool {
    scalar_kind(ty).is_some() || element_kind(ty).is_some()
}

/// The cell of column `i`, or `None` for a type with no JSON mapping.
fn cell(row: &PgRow, i: usize, ty: &PgTypeInfo) -> Result<Option<Cell>, sqlx::Error> {
    if let Some(kind) = scalar_kind(ty) {
        return decode(row, i, kind, false).map(Some);
    }
    match element_kind(ty) {
        Some(kind) => decode(row, i, kind, true).map(Some),
        None => Ok(None),
    }
}

/// Column `i` as `kind`, or as an array of it.
fn decode(row: &PgRow, i: usize, kind: PgKind, array: bool) -> Result<Cell, sqlx::Error> {
    fn get<'r, T>(
        row: &'r PgRow,
        i: usize,
        array: bool,
        to_cell: impl Fn(T) -> Cell,
    ) -> Result<Cell, sqlx::Error>
    where
        T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
        Vec<Option<T>>: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        if array {
            Ok(row
                .try_get::<Option<Vec<Option<T>>>, _>(i)?
                .map_or(Cell::Null, |items| {
                    Cell::Array(
                        items
                            .into_iter()
                            .map(|item| item.map_or(Cell::Null, &to_cell))
                            .collect(),
                    )
                }))
        } else {
            Ok(row.try_get::<Option<T>, _>(i)?.map_or(Cell::Null, to_cell))
        }
    }
    match kind {
        PgKind::Bool => get(row, i, array, Cell::Bool),
        PgKind::Int2 => get(row, i, array, |v: i16| Cell::Int(i64::from(v))),
        PgKind::Int4 => get(row, i, array, |v: i32| Cell::Int(i64::from(v))),
        PgKind::Int8 => get(row, i, array, Cell::Int),
        PgKind::Float4 => get(row, i, array, |v: f32| Cell::Float(f64::from(v))),
        PgKind::Float8 => get(row, i, array, Cell::Float),
        PgKind::Numeric => get(row, i, array, |v: BigDecimal| {
            Cell::Decimal(v.to_plain_string())
        }),
        PgKind::Text => get(row, i, array, Cell::Text),
        PgKind::Uuid => get(row, i, array, |v: Uuid| Cell::Text(v.to_string())),
        PgKind::Json => get(row, i, array, Cell::Json),
        PgKind::Timestamp => get(row, i, array, Cell::Timestamp),
        PgKind::TimestampTz => get(row, i, array, |v: DateTime<Utc>| {
            Cell::Timestamp(v.naive_utc())
        }),
        PgKind::Date => get(row, i, array, Cell::Date),
        PgKind::TextLike => Ok(row
            .try_get_unchecked::<Option<String>, _>(i)?
            .map_or(Cell::Null, Cell::Text)),
    }
}

/// Typed rows with their integer key (`serial` keys are int4, `bigserial` int8).
pub(super) fn decode_keyed<T: FromAnyRow>(
    rows: &[PgRow],
    key_column: &str,
) -> Result<Vec<(ResourceId, Result<T, String>)>> {
    rows.iter()
        .map(|row| {
            let id = match row.try_get::<i64, _>(key_column) {
                Ok(id) => id,
                Err(_) => row
                    .try_get::<i32, _>(key_column)
                    .map(i64::from)
                    .map_err(|e| key_error(key_column, e))?,
            };
            Ok((
                ResourceId::new(id),
                T::from_row(row).map_err(|e| e.to_string()),
            ))
        })
        .collect()
}

/// What a failed first connection means, for people.
fn describe(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is the server running? check the host and port)".to_owned()
        }
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}
