//! MySQL's writes of many rows: the shared statements as multi-row
//! `VALUES` (MySQL binds no arrays), in chunks that stay well under its
//! 65,535 placeholders.

use std::time::Duration;

use async_trait::async_trait;
use sea_query::{Alias, Expr, ReturningClause};
use sqlx::AssertSqlSafe;

use super::{MysqlBackend, MysqlDialect};
use crate::error::Result;
use crate::id::SyncKey;
use crate::store::backend::{BulkWrites, Clock, Dialect};
use crate::store::leases::batch_run;
use crate::store::sync_rows::{self, RowChange};

/// Sync rows per upsert statement (11 placeholders each).
const UPSERT_CHUNK: usize = 2_000;

#[async_trait]
impl BulkWrites for MysqlBackend {
    async fn take_leases(
        &self,
        owner: &str,
        names: &[String],
        ttl: Duration,
    ) -> Result<Vec<String>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut insert = batch_run::take_statement(&MysqlDialect);
        for name in names {
            insert
                .values([
                    Expr::val(name.as_str()),
                    Expr::val(owner),
                    MysqlDialect.now_plus(ttl),
                ])
                // Internal invariant: three values for three columns.
                .expect("values match the column list");
        }
        // MariaDB returns every row the upsert met, taken or not: the
        // owner says which are this call's.
        insert.returning(ReturningClause::Columns(vec![
            Alias::new("name").into(),
            Alias::new("owner").into(),
        ]));
        let (sql, values) = MysqlDialect.build((&insert).into());
        let rows: Vec<(String, String)> = sqlx::query_as_with(AssertSqlSafe(sql), values)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .filter(|(_, holder)| holder == owner)
            .map(|(name, _)| name)
            .collect())
    }

    async fn upsert_sync_rows(&self, rows: &[&(SyncKey, RowChange)]) -> Result<()> {
        // The server's time once per call, for `created_at`/`updated_at`.
        let written_at = MysqlDialect.timestamp_value(self.now().await?);
        for chunk in rows.chunks(UPSERT_CHUNK) {
            let Some((_, first)) = chunk.first() else {
                continue;
            };
            let mut insert = sync_rows::upsert_statement(&MysqlDialect, first);
            for (key, change) in chunk {
                insert
                    .values(sync_rows::row_values(
                        &MysqlDialect,
                        key,
                        change,
                        &written_at,
                    ))
                    // Internal invariant: one value per upserted column.
                    .expect("values match the column list");
            }
            let (sql, values) = MysqlDialect.build((&insert).into());
            sqlx::query_with(AssertSqlSafe(sql), values)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}
