//! Running statements on MySQL: prepared and cached by the driver (MySQL
//! plans each execution anew, so a cached statement keeps no stale plan).

use async_trait::async_trait;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use sea_query_sqlx::SqlxValues;
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

    fn fetch_ids(
        &self,
        sql: String,
        values: SqlxValues,
    ) -> BoxStream<'_, Result<crate::id::ResourceId>> {
        sqlx::query_with(AssertSqlSafe(sql), values)
            .fetch(&self.pool)
            .map_err(Into::into)
            .and_then(|row| async move { Ok(row.try_get::<crate::id::ResourceId, _>(0)?) })
            .boxed()
    }
}

/// A key as MySQL holds it: a signed or unsigned integer, a `BINARY(16)`
/// UUID, or a text (text keys and `CHAR(36)` UUIDs).
impl sqlx::Type<sqlx::MySql> for crate::id::ResourceId {
    fn type_info() -> sqlx::mysql::MySqlTypeInfo {
        <i64 as sqlx::Type<sqlx::MySql>>::type_info()
    }

    fn compatible(ty: &sqlx::mysql::MySqlTypeInfo) -> bool {
        <i64 as sqlx::Type<sqlx::MySql>>::compatible(ty)
            || <u64 as sqlx::Type<sqlx::MySql>>::compatible(ty)
            || <String as sqlx::Type<sqlx::MySql>>::compatible(ty)
            || <Vec<u8> as sqlx::Type<sqlx::MySql>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::MySql> for crate::id::ResourceId {
    fn decode(value: sqlx::mysql::MySqlValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        use crate::id::ResourceId;
        use sqlx::mysql::MySql;
        use sqlx::{Decode, Type, TypeInfo, ValueRef};
        let ty = value.type_info().into_owned();
        if matches!(ty.name(), "BINARY" | "VARBINARY" | "BLOB") {
            let bytes = <&[u8] as Decode<MySql>>::decode(value)?;
            return Ok(ResourceId::uuid(sqlx::types::Uuid::from_slice(bytes)?));
        }
        if <String as Type<MySql>>::compatible(&ty) {
            return Ok(ResourceId::text(<&str as Decode<MySql>>::decode(value)?));
        }
        if <u64 as Type<MySql>>::compatible(&ty) && ty.name().ends_with("UNSIGNED") {
            let id = <u64 as Decode<MySql>>::decode(value)?;
            return Ok(ResourceId::new(i64::try_from(id)?));
        }
        Ok(ResourceId::new(<i64 as Decode<MySql>>::decode(value)?))
    }
}
