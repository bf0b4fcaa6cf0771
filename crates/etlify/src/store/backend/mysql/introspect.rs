//! MySQL's catalog: `information_schema`, in the connection's database.

use async_trait::async_trait;

use super::MysqlBackend;
use crate::error::Result;
use crate::store::backend::Introspect;

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
}
