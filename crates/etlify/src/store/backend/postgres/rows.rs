//! Running statements on PostgreSQL, unprepared: a generic plan built
//! when the sync table was small would be reused after it grew
//! (docs/ARCHITECTURE.md).

use async_trait::async_trait;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use sea_query_sqlx::SqlxValues;
use sqlx::AssertSqlSafe;

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

    fn fetch_ids(
        &self,
        sql: String,
        values: SqlxValues,
    ) -> BoxStream<'_, Result<crate::id::ResourceId>> {
        sqlx::query_scalar_with(AssertSqlSafe(sql), values)
            .persistent(false)
            .fetch(&self.pool)
            .map_err(Into::into)
            .boxed()
    }
}

/// A key as PostgreSQL holds it: an integer, a `uuid`, or a text.
impl sqlx::Type<sqlx::Postgres> for crate::id::ResourceId {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <i64 as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <i64 as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            || <i32 as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            || <sqlx::types::Uuid as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            || <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for crate::id::ResourceId {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        use crate::id::ResourceId;
        use sqlx::postgres::Postgres;
        use sqlx::{Decode, Type, ValueRef};
        let ty = value.type_info().into_owned();
        if <i64 as Type<Postgres>>::compatible(&ty) {
            Ok(ResourceId::new(<i64 as Decode<Postgres>>::decode(value)?))
        } else if <i32 as Type<Postgres>>::compatible(&ty) {
            Ok(ResourceId::new(
                <i32 as Decode<Postgres>>::decode(value)?.into(),
            ))
        } else if <sqlx::types::Uuid as Type<Postgres>>::compatible(&ty) {
            Ok(ResourceId::uuid(
                <sqlx::types::Uuid as Decode<Postgres>>::decode(value)?,
            ))
        } else {
            Ok(ResourceId::text(<&str as Decode<Postgres>>::decode(value)?))
        }
    }
}
