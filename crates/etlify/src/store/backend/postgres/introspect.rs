//! PostgreSQL's catalog: `information_schema` and `pg_catalog`, in the
//! current schema.

use async_trait::async_trait;

use super::PostgresBackend;
use crate::error::Result;
use crate::store::backend::{Introspect, KeyColumn, KeyValues};

#[async_trait]
impl Introspect for PostgresBackend {
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

    async fn key_column(&self, table: &str, column: &str) -> Result<Option<KeyColumn>> {
        let found: Option<(String, Option<i32>)> = sqlx::query_as(
            "SELECT data_type::text, character_maximum_length::int4 FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
        )
        .bind(table)
        .bind(column)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.map(|(data_type, length)| KeyColumn {
            holds: key_values(&data_type, length),
            sql_type: match length {
                Some(length) => format!("{data_type}({length})"),
                None => data_type,
            },
        }))
    }
}

/// What a column of `data_type` (`length` characters long) holds as keys:
/// Rails' `id: :uuid` and Django's `UUIDField` are PostgreSQL's `uuid`; a
/// UUID key is bound as one, so any text column holds text keys.
fn key_values(data_type: &str, length: Option<i32>) -> KeyValues {
    match (data_type, length) {
        ("smallint" | "integer" | "bigint", _) => KeyValues::Integers,
        ("uuid", _) => KeyValues::NativeUuids,
        ("character varying" | "character" | "text", _) => KeyValues::Texts,
        _ => KeyValues::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::{key_values, KeyValues};

    #[test]
    fn uuid_postgres_key_columns_are_classified_by_type() {
        for (data_type, length, holds) in [
            ("bigint", None, KeyValues::Integers),
            ("integer", None, KeyValues::Integers),
            ("uuid", None, KeyValues::NativeUuids),
            ("character", Some(36), KeyValues::Texts),
            ("character varying", None, KeyValues::Texts),
            ("text", None, KeyValues::Texts),
            ("numeric", None, KeyValues::Unknown),
        ] {
            assert_eq!(key_values(data_type, length), holds, "{data_type}");
        }
    }
}
