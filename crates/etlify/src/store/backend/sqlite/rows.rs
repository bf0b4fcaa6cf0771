//! Running statements on SQLite.

use async_trait::async_trait;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use sea_query_sqlx::SqlxValues;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row};

use super::SqliteBackend;
use crate::error::Result;
use crate::store::backend::{AnyRow, Executor};

#[async_trait]
impl Executor for SqliteBackend {
    async fn execute(&self, sql: String, values: SqlxValues) -> Result<u64> {
        Ok(sqlx::query_with(AssertSqlSafe(sql), values)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    async fn for_each_row(
        &self,
        sql: String,
        values: SqlxValues,
        each: &mut (dyn for<'r> FnMut(AnyRow<'r>) -> Result<()> + Send),
    ) -> Result<()> {
        let mut rows = sqlx::query_with(AssertSqlSafe(sql), values).fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            each(AnyRow::Sqlite(&row))?;
        }
        Ok(())
    }

    fn fetch_ids(&self, sql: String, values: SqlxValues) -> BoxStream<'_, Result<i64>> {
        sqlx::query_scalar_with(AssertSqlSafe(sql), values)
            .fetch(&self.pool)
            .map_err(Into::into)
            .boxed()
    }
}

/// The integer in `column`.
pub(in crate::store::backend) fn key(row: &SqliteRow, column: &str) -> Result<i64, sqlx::Error> {
    row.try_get(column)
}
