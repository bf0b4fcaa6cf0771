//! PostgreSQL's types for the sync-state tables, as Rails writes them
//! (`timestamp(6) without time zone`, `bigserial` keys), and transient
//! tables kept out of the write-ahead log (`UNLOGGED`).

use sea_query::{ColumnDef, ColumnType, Expr, PostgresQueryBuilder, StringLen};

use super::PostgresDialect;
use crate::id::KeyType;
use crate::store::backend::{ColumnKind, Ddl, StateTable};

impl Ddl for PostgresDialect {
    fn column_type(&self, kind: ColumnKind) -> ColumnType {
        match kind {
            ColumnKind::Varchar | ColumnKind::KeyName => ColumnType::String(StringLen::None),
            ColumnKind::Text => ColumnType::Text,
            ColumnKind::Integer => ColumnType::Integer,
            ColumnKind::BigInteger => ColumnType::BigInteger,
            ColumnKind::RecordKey(KeyType::Integer) => ColumnType::BigInteger,
            ColumnKind::RecordKey(KeyType::Uuid) => ColumnType::Uuid,
            ColumnKind::RecordKey(KeyType::UuidBinary) => ColumnType::Uuid,
            ColumnKind::RecordKey(KeyType::Text) => ColumnType::String(StringLen::None),
            ColumnKind::Boolean => ColumnType::custom("boolean"),
            ColumnKind::Timestamp => ColumnType::custom("timestamp(6) without time zone"),
        }
    }

    fn serial_key(&self, mut column: ColumnDef) -> ColumnDef {
        // `bigserial`, as Rails creates its keys (sea-query's auto
        // increment would be an identity column).
        column.custom("bigserial").primary_key().to_owned()
    }

    fn now_default(&self) -> Expr {
        Expr::cust("now() AT TIME ZONE 'UTC'")
    }

    fn create_table(&self, table: StateTable, keys: KeyType) -> String {
        let create = table.describe(self, keys).to_string(PostgresQueryBuilder);
        // sea-query has no word for UNLOGGED: the keyword goes after the
        // builder's `CREATE ` (a logged table, should that ever change).
        match create.strip_prefix("CREATE TABLE ") {
            Some(rest) if table.is_transient() => format!("CREATE UNLOGGED TABLE {rest}"),
            _ => create,
        }
    }

    fn alters_column_nullability(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rendered DDL of every sync-state table, as this backend runs it
    /// (the same columns, types, keys and storage as the gem-compatible
    /// statements it replaced).
    #[test]
    fn postgres_state_tables_render_the_gems_schema() {
        for (table, expected) in [
            (
                StateTable::History,
                r#"CREATE TABLE IF NOT EXISTS "etlify_schema_migrations" ( "id" bigserial PRIMARY KEY, "step" varchar NOT NULL, "applied_at" timestamp(6) without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'UTC') )"#,
            ),
            (
                StateTable::Sync,
                r#"CREATE TABLE IF NOT EXISTS "crm_synchronisations" ( "id" bigserial PRIMARY KEY, "crm_id" varchar, "resource_type" varchar NOT NULL, "resource_id" bigint NOT NULL, "last_digest" varchar, "field_digests" text, "last_synced_at" timestamp(6) without time zone, "last_error" text, "crm_name" varchar NOT NULL, "error_count" integer NOT NULL DEFAULT 0, "created_at" timestamp(6) without time zone NOT NULL, "updated_at" timestamp(6) without time zone NOT NULL )"#,
            ),
            (
                StateTable::Pending,
                r#"CREATE TABLE IF NOT EXISTS "etlify_pending_syncs" ( "id" bigserial PRIMARY KEY, "dependent_type" varchar NOT NULL, "dependent_id" bigint NOT NULL, "dependency_type" varchar NOT NULL, "dependency_id" bigint NOT NULL, "crm_name" varchar NOT NULL, "created_at" timestamp(6) without time zone NOT NULL, "updated_at" timestamp(6) without time zone NOT NULL )"#,
            ),
            (
                StateTable::Leases,
                r#"CREATE UNLOGGED TABLE IF NOT EXISTS "etlify_leases" ( "name" varchar NOT NULL PRIMARY KEY, "owner" varchar NOT NULL, "expires_at" timestamp(6) without time zone NOT NULL )"#,
            ),
            (
                StateTable::RecordLeases,
                r#"CREATE UNLOGGED TABLE IF NOT EXISTS "etlify_record_leases" ( "crm_name" varchar NOT NULL, "resource_type" varchar NOT NULL, "first_id" bigint NOT NULL, "last_id" bigint NOT NULL, "owner" varchar NOT NULL, "expires_at" timestamp(6) without time zone NOT NULL, PRIMARY KEY ("crm_name", "resource_type", "first_id", "last_id") )"#,
            ),
            (
                StateTable::Checkpoints,
                r#"CREATE TABLE IF NOT EXISTS "etlify_sync_checkpoints" ( "crm_name" varchar NOT NULL, "resource_type" varchar NOT NULL, "finder" varchar NOT NULL, "changes_through" timestamp(6) without time zone NOT NULL, "ids_through" bigint, "lowest_synced_id" bigint, "complete_at" timestamp(6) without time zone NOT NULL, PRIMARY KEY ("crm_name", "resource_type") )"#,
            ),
            (
                StateTable::RateSlots,
                r#"CREATE UNLOGGED TABLE IF NOT EXISTS "etlify_rate_slots" ( "crm_name" varchar NOT NULL, "slot" integer NOT NULL, "sent_at" timestamp(6) without time zone NOT NULL, PRIMARY KEY ("crm_name", "slot") )"#,
            ),
            (
                StateTable::JobRequests,
                r#"CREATE TABLE IF NOT EXISTS "etlify_job_requests" ( "kind" varchar NOT NULL, "crm_name" varchar NOT NULL, "resource_type" varchar NOT NULL, "resource_id" bigint NOT NULL, "running" boolean NOT NULL, "again" boolean NOT NULL, "requested_at" timestamp(6) without time zone NOT NULL, PRIMARY KEY ("kind", "crm_name", "resource_type", "resource_id") )"#,
            ),
            (
                StateTable::Runs,
                r#"CREATE TABLE IF NOT EXISTS "etlify_runs" ( "id" bigserial PRIMARY KEY, "crm_name" varchar NOT NULL, "triggered_by" varchar NOT NULL, "runner" varchar NOT NULL, "status" varchar NOT NULL, "started_at" timestamp(6) without time zone NOT NULL, "finished_at" timestamp(6) without time zone, "records" bigint NOT NULL DEFAULT 0, "errors" bigint NOT NULL DEFAULT 0, "per_model" text, "interruption" text )"#,
            ),
            (
                StateTable::AlertIncidents,
                r#"CREATE TABLE IF NOT EXISTS "etlify_alert_incidents" ( "kind" varchar NOT NULL, "crm_name" varchar NOT NULL, "subject" varchar NOT NULL, "opened_at" timestamp(6) without time zone NOT NULL, "resolved_at" timestamp(6) without time zone, "notified_at" timestamp(6) without time zone, "summary" text, PRIMARY KEY ("kind", "crm_name", "subject") )"#,
            ),
        ] {
            assert_eq!(
                PostgresDialect.create_table(table, KeyType::Integer),
                expected,
                "{table:?}"
            );
        }
    }
}
