//! Running statements on SQLite.

use async_trait::async_trait;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use sea_query_sqlx::SqlxValues;
use sqlx::AssertSqlSafe;

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

    fn fetch_ids(
        &self,
        sql: String,
        values: SqlxValues,
    ) -> BoxStream<'_, Result<crate::id::ResourceId>> {
        sqlx::query_scalar_with(AssertSqlSafe(sql), values)
            .fetch(&self.pool)
            .map_err(Into::into)
            .boxed()
    }
}

/// A key as SQLite holds it: an integer, a text, or a 16-byte blob (a
/// UUID an application keeps as bytes).
impl sqlx::Type<sqlx::Sqlite> for crate::id::ResourceId {
    fn type_info() -> sqlx::sqlite::SqliteTypeInfo {
        <i64 as sqlx::Type<sqlx::Sqlite>>::type_info()
    }

    fn compatible(_: &sqlx::sqlite::SqliteTypeInfo) -> bool {
        // SQLite's columns take any value; the value's own type decides.
        true
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Sqlite> for crate::id::ResourceId {
    fn decode(value: sqlx::sqlite::SqliteValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        use crate::id::ResourceId;
        use sqlx::{TypeInfo, ValueRef};
        let kind = value.type_info().name().to_owned();
        match kind.as_str() {
            "TEXT" => Ok(ResourceId::text(
                <&str as sqlx::Decode<sqlx::Sqlite>>::decode(value)?,
            )),
            "BLOB" => Ok(ResourceId::uuid(sqlx::types::Uuid::from_slice(
                <&[u8] as sqlx::Decode<sqlx::Sqlite>>::decode(value)?,
            )?)),
            _ => Ok(ResourceId::new(
                <i64 as sqlx::Decode<sqlx::Sqlite>>::decode(value)?,
            )),
        }
    }
}
