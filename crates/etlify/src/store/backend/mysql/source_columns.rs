//! What a payload's text columns are in the tables they are selected
//! from, where the type the server sends does not tell: MariaDB sends its
//! `json` (a `longtext` checked by `json_valid`) as any text, and a `blob`
//! with the same type as a text in a `_bin` collation. Read once per table
//! from `information_schema` and kept for the pool's life (a column's type
//! changed under a running engine is seen after a restart).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sqlx::MySqlPool;

use crate::error::Result;

/// A table column, as far as reading it as JSON goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    /// Bytes (no character set: `blob`, `varbinary`).
    Bytes,
    /// Text checked by `json_valid` (MariaDB's `json`).
    Json,
    /// Any other column.
    Other,
}

/// Each table's columns by name, keyed by `schema.table`.
type Tables = HashMap<Arc<str>, Arc<HashMap<String, Source>>>;

/// The columns of the tables payloads were read from.
#[derive(Debug, Default)]
pub(super) struct SourceColumns {
    tables: Mutex<Tables>,
    /// Each payload query's text columns, by their names in its result.
    statements: Mutex<HashMap<String, Arc<HashMap<String, Source>>>>,
}

impl SourceColumns {
    /// Column `column` of `table` (`schema.table`, as the server names a
    /// result column's origin).
    pub(super) async fn of(
        &self,
        pool: &MySqlPool,
        table: &Arc<str>,
        column: &str,
    ) -> Result<Source> {
        let known = lock(&self.tables).get(table).cloned();
        let columns = match known {
            Some(columns) => columns,
            None => {
                let columns = Arc::new(read(pool, table).await?);
                lock(&self.tables).insert(table.clone(), columns.clone());
                columns
            }
        };
        Ok(columns.get(column).copied().unwrap_or(Source::Other))
    }

    /// The text columns of payload query `sql`, when known.
    pub(super) fn statement(&self, sql: &str) -> Option<Arc<HashMap<String, Source>>> {
        lock(&self.statements).get(sql).cloned()
    }

    /// Keeps `sources` as payload query `sql`'s text columns.
    pub(super) fn remember_statement(
        &self,
        sql: &str,
        sources: HashMap<String, Source>,
    ) -> Arc<HashMap<String, Source>> {
        let sources = Arc::new(sources);
        lock(&self.statements).insert(sql.to_owned(), sources.clone());
        sources
    }
}

/// `mutex` locked: a panic while holding it leaves a map that is whole.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The columns of `table` (`schema.table`, or a table of the connection's
/// database). Both statements name the schema and the table as constants,
/// so that the server opens that table alone, not every table of every
/// database.
async fn read(pool: &MySqlPool, table: &str) -> Result<HashMap<String, Source>> {
    let (schema, name) = match table.split_once('.') {
        Some((schema, name)) => (schema.to_owned(), name),
        None => (
            sqlx::query_scalar::<_, String>("SELECT CAST(DATABASE() AS CHAR)")
                .fetch_one(pool)
                .await?,
            table,
        ),
    };
    let columns: Vec<(String, bool)> = sqlx::query_as(
        "SELECT CAST(column_name AS CHAR), character_set_name IS NULL \
         FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
    )
    .bind(&schema)
    .bind(name)
    .fetch_all(pool)
    .await?;
    // Column checks are table constraints of type CHECK on MariaDB and
    // MySQL 8 alike.
    let checks: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(k.check_clause AS CHAR) FROM information_schema.table_constraints t \
         JOIN information_schema.check_constraints k \
           ON k.constraint_schema = t.constraint_schema AND k.constraint_name = t.constraint_name \
         WHERE t.table_schema = ? AND t.table_name = ? AND t.constraint_type = 'CHECK' \
           AND k.constraint_schema = ?",
    )
    .bind(&schema)
    .bind(name)
    .bind(&schema)
    .fetch_all(pool)
    .await?;
    Ok(columns
        .into_iter()
        .map(|(column, bytes)| {
            let source = if checks.iter().any(|check| is_json_check(check, &column)) {
                Source::Json
            } else if bytes {
                Source::Bytes
            } else {
                Source::Other
            };
            (column, source)
        })
        .collect())
}

/// Whether `check` is the one MariaDB gives a `json` column: `json_valid`
/// of it, quoted with backticks, or with double quotes for sessions in
/// `ANSI_QUOTES` (ours).
fn is_json_check(check: &str, column: &str) -> bool {
    check == format!("json_valid(`{column}`)") || check == format!("json_valid(\"{column}\")")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_a_json_columns_check_is_told_apart_in_either_quoting() {
        assert!(is_json_check("json_valid(`extra`)", "extra"));
        assert!(is_json_check("json_valid(\"extra\")", "extra"));
        assert!(!is_json_check("json_valid(`extra`)", "other"));
        assert!(!is_json_check("char_length(`extra`) < 10", "extra"));
    }
}
