//! What tables, columns and indexes exist, per backend.

use super::{Pool, Store};
use crate::error::Result;

/// Column names of `table`, or `None` when the table does not exist.
pub(crate) async fn table_columns(store: &Store, table: &str) -> Result<Option<Vec<String>>> {
    let columns: Vec<String> = match store.pool() {
        Pool::Sqlite(pool) => {
            sqlx::query_scalar("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
                .bind(table)
                .fetch_all(pool)
                .await?
        }
        Pool::Postgres(pool) => {
            sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(pool)
            .await?
        }
    };
    Ok(if columns.is_empty() {
        None
    } else {
        Some(columns)
    })
}

/// Index names on `table`.
pub(crate) async fn index_names(store: &Store, table: &str) -> Result<Vec<String>> {
    let names = match store.pool() {
        Pool::Sqlite(pool) => {
            sqlx::query_scalar("SELECT name FROM pragma_index_list(?1)")
                .bind(table)
                .fetch_all(pool)
                .await?
        }
        Pool::Postgres(pool) => {
            sqlx::query_scalar(
                "SELECT indexname::text FROM pg_indexes \
                 WHERE schemaname = current_schema() AND tablename = $1",
            )
            .bind(table)
            .fetch_all(pool)
            .await?
        }
    };
    Ok(names)
}
