//! Running statements on PostgreSQL, unprepared: a generic plan built
//! when the sync table was small would be reused after it grew
//! (docs/ARCHITECTURE.md).

use async_trait::async_trait;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use sea_query_sqlx::SqlxValues;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};

use super::PostgresBackend;
use crate::error::Result;
use crate::store::backend::{AnyRow, Executor};

#[async_trait]
impl Executor for PostgresBackend {
    async fn execute(&self, sql: String, values: SqlxValues) -> Result<u64> {
        Ok(sqlx::query_with(AssertSqlSafe(sql), values)
            .persistent(false)
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
        let mut rows = sqlx::query_with(AssertSqlSafe(sql), values)
            .persistent(false)
            .fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            each(AnyRow::Postgres(&row))?;
        }
        Ok(())
    }

    fn fetch_ids(&self, sql: String, values: SqlxValues) -> BoxStream<'_, Result<i64>> {
        sqlx::query_scalar_with(AssertSqlSafe(sql), values)
            .persistent(false)
            .fetch(&self.pool)
            .map_err(Into::into)
            .boxed()
    }
}

/// The integer in `column` (`serial` keys are int4, `bigserial` int8).
pub(in crate::store::backend) fn key(row: &PgRow, column: &str) -> Result<i64, sqlx::Error> {
    match row.try_get::<i64, _>(column) {
        Ok(id) => Ok(id),
        Err(_) => row.try_get::<i32, _>(column).map(i64::from),
    }
}
