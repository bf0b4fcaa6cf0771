//! What the database holds: tables, columns, indexes, foreign keys.

use async_trait::async_trait;

use crate::error::Result;

/// The database's catalog, read through its own views.
#[async_trait]
pub(crate) trait Introspect: Send + Sync {
    /// Column names of `table` in order, or `None` when it does not exist.
    async fn table_columns(&self, table: &str) -> Result<Option<Vec<String>>>;

    /// Index names on `table`.
    async fn index_names(&self, table: &str) -> Result<Vec<String>>;

    /// The columns of index `index`, in key order (empty when it does not
    /// exist).
    async fn index_columns(&self, index: &str) -> Result<Vec<String>>;

    /// The names of the database's tables (the current schema on
    /// PostgreSQL), sorted.
    async fn table_names(&self) -> Result<Vec<String>>;

    /// The foreign keys declared on `table`: (column, referenced table,
    /// referenced column).
    async fn foreign_keys(&self, table: &str) -> Result<Vec<(String, String, String)>>;

    /// Whether `table.column` accepts NULL (`false` when it does not exist).
    async fn column_is_nullable(&self, table: &str, column: &str) -> Result<bool>;

    /// Whether `table` takes a fill factor and has none set (or does not
    /// exist yet): a storage parameter of PostgreSQL's, which other
    /// databases do not have.
    async fn fillfactor_settable(&self, _table: &str) -> Result<bool> {
        Ok(false)
    }
}
