//! SQLite's writes of many rows: multi-row `VALUES` with plain `?`
//! placeholders.

use std::time::Duration;

use async_trait::async_trait;
use sea_query::Expr;
use sqlx::AssertSqlSafe;

use super::clock::process_now;
use super::{SqliteBackend, SqliteDialect};
use crate::error::Result;
use crate::id::SyncKey;
use crate::store::backend::{BulkWrites, Dialect};
use crate::store::leases::batch_run;
use crate::store::sync_rows::{self, RowChange};

/// Rows per upsert statement.
const UPSERT_CHUNK: usize = 500;

#[async_trait]
impl BulkWrites for SqliteBackend {
    async fn take_leases(
        &self,
        owner: &str,
        names: &[String],
        ttl: Duration,
    ) -> Result<Vec<String>> {
        let mut insert = batch_run::take_statement(&SqliteDialect);
        for name in names {
            insert
                .values([
                    Expr::val(name.as_str()),
                    Expr::val(owner),
                    SqliteDialect.now_plus(ttl),
                ])
                // Internal invariant: three values for three columns.
                .expect("values match the column list");
        }
        let (sql, values) = SqliteDialect.build((&insert).into());
        let taken: Vec<(String,)> = sqlx::query_as_with(AssertSqlSafe(sql), values)
            .fetch_all(&self.pool)
            .await?;
        Ok(taken.into_iter().map(|(name,)| name).collect())
    }

    async fn upsert_sync_rows(&self, rows: &[&(SyncKey, RowChange)]) -> Result<()> {
        for chunk in rows.chunks(UPSERT_CHUNK) {
            let Some((_, first)) = chunk.first() else {
                continue;
            };
            let mut insert = sync_rows::upsert_statement(&SqliteDialect, first);
            // The process's clock is this backend's "now" (`Backend::now`),
            // taken once per statement: SQLite's `strftime` on every row
            // cost about 5% of a first sync's CPU.
            let written_at = SqliteDialect.timestamp_value(process_now());
            sync_rows::add_rows(&mut insert, &SqliteDialect, chunk, &written_at);
            let (sql, values) = SqliteDialect.build((&insert).into());
            sqlx::query_with(AssertSqlSafe(sql), values)
                .execute(&self.pool)
                .await?;
        }
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.wrote();
        }
        Ok(())
    }
}
