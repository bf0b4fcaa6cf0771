//! MySQL's types for the sync-state tables, as Rails' mysql2 adapter
//! writes them (`varchar(255)`, `bigint`, `datetime(6)`, `tinyint(1)`),
//! InnoDB tables in the database's character set, and the migration steps' statements in
//! MariaDB's words ([`Ddl::adapt_step`]).

use std::borrow::Cow;

use sea_query::{ColumnDef, ColumnType, Expr, MysqlQueryBuilder, StringLen};

use super::MysqlDialect;
use crate::id::KeyType;
use crate::store::backend::{ColumnKind, Ddl, StateTable};
use crate::store::schema::{PENDING_TABLE, RUN_TABLE, SYNC_TABLE};

impl Ddl for MysqlDialect {
    fn column_type(&self, kind: ColumnKind) -> ColumnType {
        match kind {
            ColumnKind::Varchar => ColumnType::String(StringLen::N(255)),
            // 4 x 128 characters x 4 bytes and two bigints: within InnoDB's
            // 3,072 bytes a key holds.
            ColumnKind::KeyName => ColumnType::String(StringLen::N(128)),
            ColumnKind::Text => ColumnType::Text,
            ColumnKind::Integer => ColumnType::Integer,
            ColumnKind::BigInteger => ColumnType::BigInteger,
            ColumnKind::RecordKey(KeyType::Integer) => ColumnType::BigInteger,
            ColumnKind::RecordKey(KeyType::Uuid) => ColumnType::custom("char(36)"),
            ColumnKind::RecordKey(KeyType::UuidBinary) => ColumnType::custom("binary(16)"),
            ColumnKind::RecordKey(KeyType::Text) => ColumnType::String(StringLen::N(128)),
            ColumnKind::Boolean => ColumnType::custom("tinyint(1)"),
            ColumnKind::Timestamp => ColumnType::custom("datetime(6)"),
        }
    }

    fn serial_key(&self, mut column: ColumnDef) -> ColumnDef {
        // `bigint AUTO_INCREMENT`, as Rails creates its keys.
        column
            .big_integer()
            .not_null()
            .auto_increment()
            .primary_key()
            .to_owned()
    }

    fn now_default(&self) -> Expr {
        Expr::cust("CURRENT_TIMESTAMP(6)")
    }

    fn create_table(&self, table: StateTable, keys: KeyType) -> String {
        let mut create = table.describe(self, keys);
        // The database's character set and collation, as Rails' tables
        // have: a table of its own collation could not compare its text
        // with the application's.
        create.engine("InnoDB");
        create.to_string(MysqlQueryBuilder)
    }

    fn alters_column_nullability(&self) -> bool {
        true
    }

    fn has_partial_indexes(&self) -> bool {
        false
    }

    fn adapt_step<'a>(&self, statement: Cow<'a, str>) -> Cow<'a, str> {
        adapt(statement)
    }
}

/// A migration step written for PostgreSQL and SQLite, in MariaDB's words:
///
/// - partial indexes (`… WHERE cond`) become whole indexes: MySQL has
///   none, and a unique index allows many NULLs anyway;
/// - `DROP INDEX` is an `ALTER TABLE` of its table (where it exists);
/// - `ALTER COLUMN … SET/DROP NOT NULL` becomes `MODIFY` with the type;
/// - a `varchar` without a length gets Rails' 255.
///
/// Identifiers stay in double quotes: the sessions run with `ANSI_QUOTES`
/// (`mod.rs`).
fn adapt(statement: Cow<'_, str>) -> Cow<'_, str> {
    let sql = statement.as_ref();
    if sql.starts_with("CREATE") && sql.contains(" INDEX ") {
        if let Some((index, _condition)) = sql.split_once(") WHERE ") {
            return Cow::Owned(format!("{index})"));
        }
        return statement;
    }
    if let Some(index) = sql.strip_prefix("DROP INDEX IF EXISTS ") {
        // A no-op where the table is gone too (a revert drops tables
        // before the older steps that indexed them).
        let name = index.trim_matches('"');
        return Cow::Owned(format!(
            "ALTER TABLE IF EXISTS \"{}\" DROP INDEX IF EXISTS {index}",
            index_table(name)
        ));
    }
    if let Some((table, change)) = sql
        .strip_prefix("ALTER TABLE ")
        .and_then(|rest| rest.split_once(" ALTER COLUMN "))
    {
        if let Some(column) = change.strip_suffix(" SET NOT NULL") {
            return Cow::Owned(format!(
                "ALTER TABLE {table} MODIFY {column} varchar(255) NOT NULL"
            ));
        }
        if let Some(column) = change.strip_suffix(" DROP NOT NULL") {
            return Cow::Owned(format!(
                "ALTER TABLE {table} MODIFY {column} varchar(255) NULL"
            ));
        }
    }
    if sql.ends_with(" varchar") {
        return Cow::Owned(format!("{sql}(255)"));
    }
    statement
}

/// The table an index of the sync state is on (its name says).
fn index_table(index: &str) -> &'static str {
    if index.contains("pending") {
        PENDING_TABLE
    } else if index.contains("etlify_runs") {
        RUN_TABLE
    } else {
        SYNC_TABLE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rendered DDL of every sync-state table on MySQL: Rails' mysql2
    /// types (`varchar(255)`, `bigint`, `datetime(6)`), InnoDB, utf8mb4.
    #[test]
    fn mysql_state_tables_render_the_gems_schema() {
        for (table, expected) in [
            (
                StateTable::History,
                "CREATE TABLE IF NOT EXISTS `etlify_schema_migrations` ( `id` bigint NOT NULL PRIMARY KEY AUTO_INCREMENT, `step` varchar(255) NOT NULL, `applied_at` datetime(6) NOT NULL DEFAULT (CURRENT_TIMESTAMP(6)) ) ENGINE=InnoDB",
            ),
            (
                StateTable::Sync,
                "CREATE TABLE IF NOT EXISTS `crm_synchronisations` ( `id` bigint NOT NULL PRIMARY KEY AUTO_INCREMENT, `crm_id` varchar(255), `resource_type` varchar(255) NOT NULL, `resource_id` bigint NOT NULL, `last_digest` varchar(255), `field_digests` text, `last_synced_at` datetime(6), `last_error` text, `crm_name` varchar(255) NOT NULL, `error_count` int NOT NULL DEFAULT 0, `created_at` datetime(6) NOT NULL, `updated_at` datetime(6) NOT NULL ) ENGINE=InnoDB",
            ),
            (
                StateTable::RecordLeases,
                "CREATE TABLE IF NOT EXISTS `etlify_record_leases` ( `crm_name` varchar(255) NOT NULL, `resource_type` varchar(255) NOT NULL, `first_id` bigint NOT NULL, `last_id` bigint NOT NULL, `owner` varchar(255) NOT NULL, `expires_at` datetime(6) NOT NULL, PRIMARY KEY (`crm_name`, `resource_type`, `first_id`, `last_id`) ) ENGINE=InnoDB",
            ),
            (
                StateTable::JobRequests,
                "CREATE TABLE IF NOT EXISTS `etlify_job_requests` ( `kind` varchar(255) NOT NULL, `crm_name` varchar(255) NOT NULL, `resource_type` varchar(255) NOT NULL, `resource_id` bigint NOT NULL, `running` tinyint(1) NOT NULL, `again` tinyint(1) NOT NULL, `requested_at` datetime(6) NOT NULL, PRIMARY KEY (`kind`, `crm_name`, `resource_type`, `resource_id`) ) ENGINE=InnoDB",
            ),
        ] {
            assert_eq!(MysqlDialect.create_table(table, KeyType::Integer), expected, "{table:?}");
        }
    }

    /// The steps written for the other databases, as MariaDB takes them.
    #[test]
    fn mysql_migration_steps_are_adapted() {
        for (step, expected) in [
            (
                r#"CREATE UNIQUE INDEX IF NOT EXISTS "idx_etlify_sync_unique_crm_id" ON "crm_synchronisations" ("crm_name", "resource_type", "crm_id") WHERE "crm_id" IS NOT NULL"#,
                r#"CREATE UNIQUE INDEX IF NOT EXISTS "idx_etlify_sync_unique_crm_id" ON "crm_synchronisations" ("crm_name", "resource_type", "crm_id")"#,
            ),
            (
                r#"DROP INDEX IF EXISTS "idx_unique_pending_sync""#,
                r#"ALTER TABLE IF EXISTS "etlify_pending_syncs" DROP INDEX IF EXISTS "idx_unique_pending_sync""#,
            ),
            (
                r#"ALTER TABLE "crm_synchronisations" ALTER COLUMN "crm_name" SET NOT NULL"#,
                r#"ALTER TABLE "crm_synchronisations" MODIFY "crm_name" varchar(255) NOT NULL"#,
            ),
            (
                r#"ALTER TABLE "crm_synchronisations" ADD COLUMN "crm_name" varchar"#,
                r#"ALTER TABLE "crm_synchronisations" ADD COLUMN "crm_name" varchar(255)"#,
            ),
        ] {
            assert_eq!(adapt(Cow::Borrowed(step)), expected);
        }
    }
}
