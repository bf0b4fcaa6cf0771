//! Running statements on MySQL: prepared and cached by the driver (MySQL
//! plans each execution anew, so a cached statement keeps no stale plan).

use async_trait::async_trait;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use sea_query_sqlx::SqlxValues;
use sqlx::mysql::MySqlRow;
use sqlx::{AssertSqlSafe, Row};

use super::MysqlBackend;
use crate::error::Result;
use crate::store::backend::{AnyRow, Executor};

#[async_trait]
impl Executor for MysqlBackend {
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
            each(AnyRow::Mysql(&row))?;
        }
        Ok(())
    }

    fn fetch_ids(&self, sql: String, values: SqlxValues) -> BoxStream<'_, Result<i64>> {
        sqlx::query_with(AssertSqlSafe(sql), values)
            .fetch(&self.pool)
            .map_err(Into::into)
            .and_then(|row| async move { Ok(key_at(&row, 0)?) })
            .boxed()
    }
}

/// The integer in `column` (`bigint`, `int`, or unsigned).
pub(in crate::store::backend) fn key(row: &MySqlRow, column: &str) -> Result<i64, sqlx::Error> {
    let index = row
        .columns()
        .iter()
        .position(|c| sqlx::Column::name(c) == column)
        .ok_or_else(|| sqlx::Error::ColumnNotFound(column.to_owned()))?;
    key_at(row, index)
}

fn key_at(row: &MySqlRow, index: usize) -> Result<i64, sqlx::Error> {
    if let Ok(id) = row.try_get::<i64, _>(index) {
        return Ok(id);
    }
    if let Ok(id) = row.try_get::<i32, _>(index) {
        return Ok(i64::from(id));
    }
    let id: u64 = row.try_get(index)?;
    i64::try_from(id).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}
