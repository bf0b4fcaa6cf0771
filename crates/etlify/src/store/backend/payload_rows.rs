//! Payload queries: the columns they return, and their rows decoded into
//! typed cells (`store/json_value.rs` turns them into JSON).

use async_trait::async_trait;
use sea_query_sqlx::SqlxValues;

use crate::error::Result;
use crate::store::json_value::Cell;

/// A row of a payload query: each column's name and value.
pub(crate) type Cells = Vec<(String, Cell)>;

/// Reading the application's rows for payloads.
#[async_trait]
pub(crate) trait PayloadRows: Send + Sync {
    /// The columns `sql` returns, without running it: each name, and
    /// `Err(type name)` for a type with no JSON mapping.
    async fn describe_columns(&self, sql: &str) -> Result<Vec<(String, Result<(), String>)>>;

    /// Runs a payload query (`sql`, which wraps `payload_sql`, the query
    /// as written, whose columns' own tables a backend may need to read
    /// them) and decodes each row into typed cells (one per column, after
    /// the column's declared type where the database keeps one), or a
    /// message naming the column that failed.
    async fn fetch_payload_rows(
        &self,
        payload_sql: &str,
        sql: String,
        values: SqlxValues,
    ) -> Result<Vec<Result<Cells, String>>>;
}
