//! SQLite's types for the sync-state tables, as Rails writes them
//! (`datetime(6)`, `bigint`), and tables keyed by their own columns stored
//! as one b-tree (`WITHOUT ROWID`).

use sea_query::{ColumnDef, ColumnType, Expr, SqliteQueryBuilder, StringLen};

use super::SqliteDialect;
use crate::id::KeyType;
use crate::store::backend::{ColumnKind, Ddl, StateTable};

impl Ddl for SqliteDialect {
    fn column_type(&self, kind: ColumnKind) -> ColumnType {
        match kind {
            ColumnKind::Varchar | ColumnKind::KeyName => ColumnType::String(StringLen::None),
            ColumnKind::Text => ColumnType::Text,
            ColumnKind::Integer => ColumnType::Integer,
            // sea-query names every integer `integer` on SQLite; Rails'
            // schema (and the declared type payloads read) says `bigint`.
            ColumnKind::BigInteger => ColumnType::custom("bigint"),
            ColumnKind::RecordKey(KeyType::Integer) => ColumnType::custom("bigint"),
            ColumnKind::RecordKey(KeyType::Uuid) => ColumnType::String(StringLen::None),
            ColumnKind::RecordKey(KeyType::UuidBinary) => ColumnType::custom("blob"),
            ColumnKind::RecordKey(KeyType::Text) => ColumnType::String(StringLen::None),
            ColumnKind::Boolean => ColumnType::Boolean,
            ColumnKind::Timestamp => ColumnType::custom("datetime(6)"),
        }
    }

    fn refuses_keys(&self, key_type: KeyType) -> Option<&'static str> {
        // Rails and Django keep UUIDs as text on SQLite, and a blob has no
        // JSON mapping in a payload: 16-byte keys are MySQL's
        // (`BINARY(16)`) and PostgreSQL's (`uuid`).
        (key_type == KeyType::UuidBinary).then_some(
            "must be \"uuid\" on SQLite, which keeps UUID keys as text (as Rails and Django write them): \"uuid_binary\" is MySQL's BINARY(16)",
        )
    }

    fn keeps_any_key(&self) -> bool {
        // A column's affinity converts only text that reads as a number.
        true
    }

    fn serial_key(&self, mut column: ColumnDef) -> ColumnDef {
        // `integer PRIMARY KEY` is the rowid itself; AUTOINCREMENT never
        // reuses the id of a deleted row, as Rails' tables do.
        column
            .integer()
            .not_null()
            .primary_key()
            .auto_increment()
            .to_owned()
    }

    fn now_default(&self) -> Expr {
        Expr::current_timestamp()
    }

    fn create_table(&self, table: StateTable, keys: KeyType) -> String {
        let mut create = table.describe(self, keys);
        if table.keyed_by_its_columns() {
            create.extra("WITHOUT ROWID");
        }
        create.to_string(SqliteQueryBuilder)
    }

    fn alters_column_nullability(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rendered DDL of every sync-state table, as this backend runs it
    /// (the same columns, types, keys and storage as the gem-compatible
    /// statements it replaced).
    #[test]
    fn sqlite_state_tables_render_the_gems_schema() {
        for (table, expected) in [
            (
                StateTable::History,
                r#"CREATE TABLE IF NOT EXISTS "etlify_schema_migrations" ( "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "step" varchar NOT NULL, "applied_at" datetime(6) NOT NULL DEFAULT CURRENT_TIMESTAMP )"#,
            ),
            (
                StateTable::Sync,
                r#"CREATE TABLE IF NOT EXISTS "crm_synchronisations" ( "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "crm_id" varchar, "resource_type" varchar NOT NULL, "resource_id" bigint NOT NULL, "last_digest" varchar, "field_digests" text, "last_synced_at" datetime(6), "last_error" text, "crm_name" varchar NOT NULL, "error_count" integer NOT NULL DEFAULT 0, "created_at" datetime(6) NOT NULL, "updated_at" datetime(6) NOT NULL )"#,
            ),
            (
                StateTable::Pending,
                r#"CREATE TABLE IF NOT EXISTS "etlify_pending_syncs" ( "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "dependent_type" varchar NOT NULL, "dependent_id" bigint NOT NULL, "dependency_type" varchar NOT NULL, "dependency_id" bigint NOT NULL, "crm_name" varchar NOT NULL, "created_at" datetime(6) NOT NULL, "updated_at" datetime(6) NOT NULL )"#,
            ),
            (
                StateTable::Leases,
                r#"CREATE TABLE IF NOT EXISTS "etlify_leases" ( "name" varchar NOT NULL PRIMARY KEY, "owner" varchar NOT NULL, "expires_at" datetime(6) NOT NULL ) WITHOUT ROWID"#,
            ),
            (
                StateTable::RecordLeases,
                r#"CREATE TABLE IF NOT EXISTS "etlify_record_leases" ( "crm_name" varchar NOT NULL, "resource_type" varchar NOT NULL, "first_id" bigint NOT NULL, "last_id" bigint NOT NULL, "owner" varchar NOT NULL, "expires_at" datetime(6) NOT NULL, PRIMARY KEY ("crm_name", "resource_type", "first_id", "last_id") ) WITHOUT ROWID"#,
            ),
            (
                StateTable::Checkpoints,
                r#"CREATE TABLE IF NOT EXISTS "etlify_sync_checkpoints" ( "crm_name" varchar NOT NULL, "resource_type" varchar NOT NULL, "finder" varchar NOT NULL, "changes_through" datetime(6) NOT NULL, "ids_through" bigint, "lowest_synced_id" bigint, "complete_at" datetime(6) NOT NULL, PRIMARY KEY ("crm_name", "resource_type") ) WITHOUT ROWID"#,
            ),
            (
                StateTable::RateSlots,
                r#"CREATE TABLE IF NOT EXISTS "etlify_rate_slots" ( "crm_name" varchar NOT NULL, "slot" integer NOT NULL, "sent_at" datetime(6) NOT NULL, PRIMARY KEY ("crm_name", "slot") ) WITHOUT ROWID"#,
            ),
            (
                StateTable::JobRequests,
                r#"CREATE TABLE IF NOT EXISTS "etlify_job_requests" ( "kind" varchar NOT NULL, "crm_name" varchar NOT NULL, "resource_type" varchar NOT NULL, "resource_id" bigint NOT NULL, "running" boolean NOT NULL, "again" boolean NOT NULL, "requested_at" datetime(6) NOT NULL, PRIMARY KEY ("kind", "crm_name", "resource_type", "resource_id") ) WITHOUT ROWID"#,
            ),
            (
                StateTable::Runs,
                r#"CREATE TABLE IF NOT EXISTS "etlify_runs" ( "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "crm_name" varchar NOT NULL, "triggered_by" varchar NOT NULL, "runner" varchar NOT NULL, "status" varchar NOT NULL, "started_at" datetime(6) NOT NULL, "finished_at" datetime(6), "records" bigint NOT NULL DEFAULT 0, "errors" bigint NOT NULL DEFAULT 0, "per_model" text, "interruption" text )"#,
            ),
            (
                StateTable::AlertIncidents,
                r#"CREATE TABLE IF NOT EXISTS "etlify_alert_incidents" ( "kind" varchar NOT NULL, "crm_name" varchar NOT NULL, "subject" varchar NOT NULL, "opened_at" datetime(6) NOT NULL, "resolved_at" datetime(6), "notified_at" datetime(6), "summary" text, PRIMARY KEY ("kind", "crm_name", "subject") ) WITHOUT ROWID"#,
            ),
        ] {
            assert_eq!(
                SqliteDialect.create_table(table, KeyType::Integer),
                expected,
                "{table:?}"
            );
        }
    }
}
