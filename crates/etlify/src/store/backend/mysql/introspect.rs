//! MySQL's catalog: `information_schema`, in the connection's database.

use async_trait::async_trait;

use super::MysqlBackend;
use crate::error::Result;
use crate::store::backend::{Introspect, KeyColumn, KeyValues};

#[async_trait]
impl Introspect for MysqlBackend {
    async fn table_columns(&self, table: &str) -> Result<Option<Vec<String>>> {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&self.pool)
        .await?;
        Ok((!columns.is_empty()).then_some(columns))
    }

    async fn index_names(&self, table: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT CAST(index_name AS CHAR) FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND table_name = ? AND index_name <> 'PRIMARY'",
        )
        .bind(table)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn index_columns(&self, index: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT CAST(column_name AS CHAR) FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND index_name = ? ORDER BY seq_in_index",
        )
        .bind(index)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn table_names(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn foreign_keys(&self, table: &str) -> Result<Vec<(String, String, String)>> {
        Ok(sqlx::query_as(
            "SELECT CAST(column_name AS CHAR), CAST(referenced_table_name AS CHAR), \
             CAST(referenced_column_name AS CHAR) FROM information_schema.key_column_usage \
             WHERE table_schema = DATABASE() AND table_name = ? \
             AND referenced_table_name IS NOT NULL ORDER BY constraint_name, ordinal_position",
        )
        .bind(table)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn column_is_nullable(&self, table: &str, column: &str) -> Result<bool> {
        let nullable: Option<String> = sqlx::query_scalar(
            "SELECT CAST(is_nullable AS CHAR) FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?",
        )
        .bind(table)
        .bind(column)
        .fetch_optional(&self.pool)
        .await?;
        Ok(nullable.as_deref() == Some("YES"))
    }

    async fn key_column(&self, table: &str, column: &str) -> Result<Option<KeyColumn>> {
        let found: Option<(String, String, Option<i64>)> = sqlx::query_as(
            "SELECT CAST(data_type AS CHAR), CAST(column_type AS CHAR), \
             CAST(character_maximum_length AS SIGNED) FROM information_schema.columns \
             WHERE table_schema = DATABASE() AND table_name = ? AND column_name = ?",
        )
        .bind(table)
        .bind(column)
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.map(|(data_type, sql_type, length)| KeyColumn {
            holds: key_values(&data_type, length),
            sql_type,
        }))
    }
}

/// What a column of `data_type` (`length` characters or bytes long) holds
/// as keys: Rails' and Django's UUID keys on MySQL are `CHAR(36)` texts or
/// `BINARY(16)` bytes; MariaDB's own `uuid` type reads and binds as text.
fn key_values(data_type: &str, length: Option<i64>) -> KeyValues {
    match (data_type.to_ascii_lowercase().as_str(), length) {
        ("tinyint" | "smallint" | "mediumint" | "int" | "bigint", _) => KeyValues::Integers,
        ("char" | "varchar", Some(36)) | ("uuid", _) => KeyValues::UuidTexts,
        ("char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext", _) => {
            KeyValues::Texts
        }
        ("binary" | "varbinary", Some(16)) => KeyValues::UuidBytes,
        _ => KeyValues::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::{key_values, KeyValues};

    #[test]
    fn uuid_mysql_key_columns_are_classified_by_type_and_length() {
        for (data_type, length, holds) in [
            ("bigint", None, KeyValues::Integers),
            ("int", None, KeyValues::Integers),
            ("char", Some(36), KeyValues::UuidTexts),
            ("uuid", None, KeyValues::UuidTexts),
            ("varchar", Some(64), KeyValues::Texts),
            ("binary", Some(16), KeyValues::UuidBytes),
            ("binary", Some(20), KeyValues::Unknown),
            ("decimal", None, KeyValues::Unknown),
        ] {
            assert_eq!(key_values(data_type, length), holds, "{data_type}");
        }
    }
}
