//! The sync-state schema: embedded, idempotent migrations and the check
//! that reports what is missing (REFERENCE §22, §23; SPEC X-6, G-26).
//!
//! Tables and columns keep the Rails gem's names and meanings, so a database
//! the gem already fills is taken over as is. The indexes differ on purpose:
//! the gem's global unique `crm_id` index and its unique
//! `(resource_type, resource_id)` index are dropped (they forbid multi-CRM
//! and equal ids across CRMs); uniqueness is per `(crm_name, resource_type,
//! resource_id)` and per `(crm_name, resource_type, crm_id)`.

use std::fmt;

use super::introspect::{index_names, table_columns};
use super::{Pool, Store};
use crate::error::{Error, Result};

/// Table of sync rows.
pub const SYNC_TABLE: &str = "crm_synchronisations";
/// Table of records waiting for a sync dependency.
pub const PENDING_TABLE: &str = "etlify_pending_syncs";

/// The command that fixes every problem [`check`] reports.
pub const FIX_COMMAND: &str =
    "etlify migrate (or etlify::migrate(&store, MigrateOptions::default()) from Rust)";

const SYNC_COLUMNS: &[&str] = &[
    "id",
    "crm_id",
    "resource_type",
    "resource_id",
    "last_digest",
    "last_synced_at",
    "last_error",
    "crm_name",
    "error_count",
    "created_at",
    "updated_at",
];

const PENDING_COLUMNS: &[&str] = &[
    "id",
    "dependent_type",
    "dependent_id",
    "dependency_type",
    "dependency_id",
    "crm_name",
    "created_at",
    "updated_at",
];

/// Unique `(crm_name, resource_type, resource_id)`; the gem's own name, so
/// a database migrated by the gem keeps its index.
pub const UNIQUE_RESOURCE_INDEX: &str = "idx_unique_crm_sync_resource_crm";
/// Unique `(crm_name, resource_type, crm_id)` (X-6).
pub const UNIQUE_CRM_ID_INDEX: &str = "idx_etlify_sync_unique_crm_id";
/// The gem's indexes that break multi-CRM setups (REFERENCE §25.5, §25.6).
pub const OBSOLETE_INDEXES: &[&str] = &[
    "index_crm_synchronisations_on_crm_id",
    "idx_crm_sync_on_resource",
];

const SQLITE_CREATE_SYNC: &str = r#"CREATE TABLE IF NOT EXISTS "crm_synchronisations" (
  "id" integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  "crm_id" varchar,
  "resource_type" varchar NOT NULL,
  "resource_id" bigint NOT NULL,
  "last_digest" varchar,
  "last_synced_at" datetime(6),
  "last_error" text,
  "crm_name" varchar NOT NULL,
  "error_count" integer DEFAULT 0 NOT NULL,
  "created_at" datetime(6) NOT NULL,
  "updated_at" datetime(6) NOT NULL)"#;

const POSTGRES_CREATE_SYNC: &str = r#"CREATE TABLE IF NOT EXISTS "crm_synchronisations" (
  "id" bigserial PRIMARY KEY,
  "crm_id" varchar,
  "resource_type" varchar NOT NULL,
  "resource_id" bigint NOT NULL,
  "last_digest" varchar,
  "last_synced_at" timestamp(6) without time zone,
  "last_error" text,
  "crm_name" varchar NOT NULL,
  "error_count" integer DEFAULT 0 NOT NULL,
  "created_at" timestamp(6) without time zone NOT NULL,
  "updated_at" timestamp(6) without time zone NOT NULL)"#;

const SQLITE_CREATE_PENDING: &str = r#"CREATE TABLE IF NOT EXISTS "etlify_pending_syncs" (
  "id" integer PRIMARY KEY AUTOINCREMENT NOT NULL,
  "dependent_type" varchar NOT NULL,
  "dependent_id" bigint NOT NULL,
  "dependency_type" varchar NOT NULL,
  "dependency_id" bigint NOT NULL,
  "crm_name" varchar NOT NULL,
  "created_at" datetime(6) NOT NULL,
  "updated_at" datetime(6) NOT NULL)"#;

const POSTGRES_CREATE_PENDING: &str = r#"CREATE TABLE IF NOT EXISTS "etlify_pending_syncs" (
  "id" bigserial PRIMARY KEY,
  "dependent_type" varchar NOT NULL,
  "dependent_id" bigint NOT NULL,
  "dependency_type" varchar NOT NULL,
  "dependency_id" bigint NOT NULL,
  "crm_name" varchar NOT NULL,
  "created_at" timestamp(6) without time zone NOT NULL,
  "updated_at" timestamp(6) without time zone NOT NULL)"#;

/// Index statements, identical on both backends.
const CREATE_INDEXES: &[&str] = &[
    r#"CREATE UNIQUE INDEX IF NOT EXISTS "idx_unique_crm_sync_resource_crm" ON "crm_synchronisations" ("crm_name", "resource_type", "resource_id")"#,
    // Partial: rows without a CRM id are not indexed, and the planner never
    // mistakes this index for the resource index (same leading columns).
    r#"CREATE UNIQUE INDEX IF NOT EXISTS "idx_etlify_sync_unique_crm_id" ON "crm_synchronisations" ("crm_name", "resource_type", "crm_id") WHERE "crm_id" IS NOT NULL"#,
    r#"CREATE INDEX IF NOT EXISTS "idx_pending_syncs_on_dependency_crm" ON "etlify_pending_syncs" ("dependency_type", "dependency_id", "crm_name")"#,
    r#"CREATE UNIQUE INDEX IF NOT EXISTS "idx_unique_pending_sync" ON "etlify_pending_syncs" ("dependent_type", "dependent_id", "dependency_type", "dependency_id", "crm_name")"#,
];

const DROP_OBSOLETE_INDEXES: &[&str] = &[
    r#"DROP INDEX IF EXISTS "index_crm_synchronisations_on_crm_id""#,
    r#"DROP INDEX IF EXISTS "idx_crm_sync_on_resource""#,
];

/// Options of [`migrate`].
#[derive(Debug, Clone, Default)]
pub struct MigrateOptions {
    /// CRM name written into rows that have none (a pre-0.9 gem schema
    /// without `crm_name`). Required only when such rows exist.
    pub default_crm_name: Option<String>,
}

/// Creates or upgrades the sync-state tables. Idempotent: running it on an
/// up-to-date database changes nothing.
pub async fn migrate(store: &Store, options: &MigrateOptions) -> Result<()> {
    let (create_sync, create_pending) = match store.pool() {
        Pool::Sqlite(_) => (SQLITE_CREATE_SYNC, SQLITE_CREATE_PENDING),
        Pool::Postgres(_) => (POSTGRES_CREATE_SYNC, POSTGRES_CREATE_PENDING),
    };
    run(store, create_sync).await?;
    run(store, create_pending).await?;
    upgrade_gem_columns(store, options).await?;
    for statement in DROP_OBSOLETE_INDEXES.iter().chain(CREATE_INDEXES) {
        run(store, statement).await?;
    }
    Ok(())
}

/// Adds what older gem schemas lack: `error_count` (gem < 0.9.4) and
/// `crm_name` (gem < 0.9), backfilled from `default_crm_name`.
async fn upgrade_gem_columns(store: &Store, options: &MigrateOptions) -> Result<()> {
    let columns = table_columns(store, SYNC_TABLE).await?.unwrap_or_default();
    let has_crm_name = columns.iter().any(|c| c == "crm_name");
    // Checked before any change, so a refused upgrade alters nothing.
    let count_sql: &'static str = if has_crm_name {
        r#"SELECT COUNT(*) FROM "crm_synchronisations" WHERE "crm_name" IS NULL"#
    } else {
        r#"SELECT COUNT(*) FROM "crm_synchronisations""#
    };
    let unnamed: i64 = match store.pool() {
        Pool::Sqlite(pool) => sqlx::query_scalar(count_sql).fetch_one(pool).await?,
        Pool::Postgres(pool) => sqlx::query_scalar(count_sql).fetch_one(pool).await?,
    };
    if unnamed > 0 && options.default_crm_name.is_none() {
        return Err(Error::Schema(format!(
            "{unnamed} rows of crm_synchronisations have no crm_name; \
             run `etlify migrate --default-crm-name <name>` to assign them to a CRM"
        )));
    }
    if !columns.iter().any(|c| c == "error_count") {
        run(
            store,
            r#"ALTER TABLE "crm_synchronisations" ADD COLUMN "error_count" integer DEFAULT 0 NOT NULL"#,
        )
        .await?;
    }
    if !has_crm_name {
        run(
            store,
            r#"ALTER TABLE "crm_synchronisations" ADD COLUMN "crm_name" varchar"#,
        )
        .await?;
    }
    if let (true, Some(default)) = (unnamed > 0, &options.default_crm_name) {
        match store.pool() {
            Pool::Sqlite(pool) => {
                sqlx::query(
                    r#"UPDATE "crm_synchronisations" SET "crm_name" = ?1 WHERE "crm_name" IS NULL"#,
                )
                .bind(default)
                .execute(pool)
                .await?;
            }
            Pool::Postgres(pool) => {
                sqlx::query(
                    r#"UPDATE "crm_synchronisations" SET "crm_name" = $1 WHERE "crm_name" IS NULL"#,
                )
                .bind(default)
                .execute(pool)
                .await?;
            }
        }
    }
    // SQLite cannot add NOT NULL to an existing column without rebuilding
    // the table; the engine always writes crm_name, so only PostgreSQL
    // enforces it on an upgraded table.
    if let Pool::Postgres(pool) = store.pool() {
        sqlx::query(r#"ALTER TABLE "crm_synchronisations" ALTER COLUMN "crm_name" SET NOT NULL"#)
            .execute(pool)
            .await?;
    }
    Ok(())
}

async fn run(store: &Store, statement: &'static str) -> Result<()> {
    match store.pool() {
        Pool::Sqlite(pool) => {
            sqlx::query(statement).execute(pool).await?;
        }
        Pool::Postgres(pool) => {
            sqlx::query(statement).execute(pool).await?;
        }
    }
    Ok(())
}

/// One thing wrong with the sync-state schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaProblem {
    /// A table is missing.
    MissingTable {
        /// Table name.
        table: &'static str,
    },
    /// A column is missing.
    MissingColumn {
        /// Table name.
        table: &'static str,
        /// Column name.
        column: &'static str,
    },
    /// A required index is missing.
    MissingIndex {
        /// Index name.
        index: &'static str,
    },
    /// An index of the gem that forbids multi-CRM setups is still there.
    ObsoleteIndex {
        /// Index name.
        index: &'static str,
    },
}

impl fmt::Display for SchemaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaProblem::MissingTable { table } => write!(f, "missing table \"{table}\""),
            SchemaProblem::MissingColumn { table, column } => {
                write!(f, "missing column \"{column}\" on table \"{table}\"")
            }
            SchemaProblem::MissingIndex { index } => write!(f, "missing index \"{index}\""),
            SchemaProblem::ObsoleteIndex { index } => {
                write!(
                    f,
                    "obsolete index \"{index}\" (breaks multi-CRM uniqueness)"
                )
            }
        }
    }
}

/// What [`check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaReport {
    /// Everything wrong; empty when the schema is up to date.
    pub problems: Vec<SchemaProblem>,
}

impl SchemaReport {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The command that fixes every problem, when there is one.
    pub fn fix(&self) -> Option<&'static str> {
        (!self.is_ok()).then_some(FIX_COMMAND)
    }
}

impl fmt::Display for SchemaReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_ok() {
            return write!(f, "sync-state schema is up to date");
        }
        for problem in &self.problems {
            writeln!(f, "[etlify] {problem}")?;
        }
        write!(f, "Please run: {FIX_COMMAND}")
    }
}

/// Reports what [`migrate`] would fix, without changing anything.
pub async fn check(store: &Store) -> Result<SchemaReport> {
    let mut problems = Vec::new();
    for (table, required) in [(SYNC_TABLE, SYNC_COLUMNS), (PENDING_TABLE, PENDING_COLUMNS)] {
        match table_columns(store, table).await? {
            None => problems.push(SchemaProblem::MissingTable { table }),
            Some(columns) => problems.extend(
                required
                    .iter()
                    .filter(|c| !columns.iter().any(|have| have == *c))
                    .map(|column| SchemaProblem::MissingColumn { table, column }),
            ),
        }
    }
    let mut indexes = index_names(store, SYNC_TABLE).await?;
    indexes.extend(index_names(store, PENDING_TABLE).await?);
    for index in [
        UNIQUE_RESOURCE_INDEX,
        UNIQUE_CRM_ID_INDEX,
        "idx_pending_syncs_on_dependency_crm",
        "idx_unique_pending_sync",
    ] {
        if !indexes.iter().any(|have| have == index) {
            problems.push(SchemaProblem::MissingIndex { index });
        }
    }
    for index in OBSOLETE_INDEXES {
        if indexes.iter().any(|have| have == index) {
            problems.push(SchemaProblem::ObsoleteIndex { index });
        }
    }
    Ok(SchemaReport { problems })
}
