//! SQLite's payload rows: a column's declared type (`pragma_table_info` of
//! the table it comes from) decides its meaning where SQLite's storage
//! class cannot (booleans as 0/1, dates and timestamps as text, decimals as
//! REAL); expressions fall back to the storage class.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use sea_query_sqlx::SqlxValues;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, TypeInfo, ValueRef};

use super::SqliteBackend;
use crate::error::Result;
use crate::store::backend::{Cells, PayloadRows};
use crate::store::json_value::{parse_date, parse_timestamp, unsupported, Cell};

#[async_trait]
impl PayloadRows for SqliteBackend {
    async fn describe_columns(&self, sql: &str) -> Result<Vec<(String, Result<(), String>)>> {
        use sqlx::{Column, Executor, Statement};
        let described = (&self.pool)
            .prepare(sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(
                sql.to_owned(),
            )))
            .await?;
        Ok(described
            .columns()
            .iter()
            .map(|column| {
                let ty = column.type_info().name().to_ascii_uppercase();
                let supported = if ty == "BLOB" { Err(ty) } else { Ok(()) };
                (column.name().to_owned(), supported)
            })
            .collect())
    }

    async fn fetch_payload_rows(
        &self,
        _payload_sql: &str,
        sql: String,
        values: SqlxValues,
    ) -> Result<Vec<Result<Cells, String>>> {
        let rows = sqlx::query_with(AssertSqlSafe(sql), values)
            .fetch_all(&self.pool)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        let kinds = self.declared_types(first).await?;
        Ok(rows.iter().map(|row| row_to_cells(row, &kinds)).collect())
    }
}

/// What a column's declared type (as Rails writes SQLite schemas) says it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declared {
    Boolean,
    Date,
    Timestamp,
    Decimal,
    Json,
    Other,
}

fn declared(decl: &str) -> Declared {
    let decl = decl.trim().to_ascii_lowercase();
    if decl.starts_with("bool") {
        Declared::Boolean
    } else if decl == "date" {
        Declared::Date
    } else if decl.starts_with("datetime") || decl.starts_with("timestamp") {
        Declared::Timestamp
    } else if decl.starts_with("decimal") || decl.starts_with("numeric") {
        Declared::Decimal
    } else if decl == "json" || decl == "jsonb" {
        Declared::Json
    } else {
        Declared::Other
    }
}

impl SqliteBackend {
    /// The declared type of each column of `row` that comes straight from
    /// a table column (expressions have none), read once per table.
    async fn declared_types(&self, row: &SqliteRow) -> Result<Vec<Declared>> {
        use sqlx::Column;
        let mut kinds = Vec::with_capacity(row.columns().len());
        for column in row.columns() {
            let kind = match column.origin() {
                sqlx::ColumnOrigin::Table(origin) => {
                    let table = origin.table.strip_prefix("main.").unwrap_or(&origin.table);
                    self.declared_type(table, &origin.name)
                        .await?
                        .map_or(Declared::Other, |d| declared(&d))
                }
                _ => Declared::Other,
            };
            kinds.push(kind);
        }
        Ok(kinds)
    }

    async fn declared_type(&self, table: &str, column: &str) -> Result<Option<String>> {
        let cached = self
            .declared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(table)
            .cloned();
        let columns = match cached {
            Some(columns) => columns,
            None => {
                let rows: Vec<(String, String)> =
                    sqlx::query_as("SELECT name, type FROM pragma_table_info(?)")
                        .bind(table)
                        .fetch_all(&self.pool)
                        .await?;
                let columns: Arc<HashMap<String, String>> = Arc::new(rows.into_iter().collect());
                self.declared
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .insert(table.to_owned(), columns.clone());
                columns
            }
        };
        Ok(columns.get(column).cloned())
    }
}

/// A row's cells: the declared type decides where the table has one
/// (booleans kept as 0/1, dates and timestamps kept as text, decimals kept
/// as REAL), else the value's storage class.
fn row_to_cells(row: &SqliteRow, kinds: &[Declared]) -> Result<Cells, String> {
    use sqlx::Column;
    let mut cells = Vec::with_capacity(row.columns().len());
    for (i, column) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(i).map_err(|e| e.to_string())?;
        let err = |e: sqlx::Error| format!("column `{}`: {e}", column.name());
        let cell = if raw.is_null() {
            Cell::Null
        } else {
            let storage = raw.type_info().name().to_ascii_uppercase();
            let kind = kinds.get(i).copied().unwrap_or(Declared::Other);
            match (kind, storage.as_str()) {
                (Declared::Boolean, "INTEGER") => {
                    Cell::Bool(row.try_get::<i64, _>(i).map_err(err)? != 0)
                }
                (Declared::Decimal, "INTEGER") => {
                    Cell::Decimal(row.try_get::<i64, _>(i).map_err(err)?.to_string())
                }
                // The shortest digits that read back as the stored REAL, as
                // Rails casts it into a BigDecimal.
                (Declared::Decimal, "REAL") => {
                    Cell::Decimal(format!("{}", row.try_get::<f64, _>(i).map_err(err)?))
                }
                (_, "INTEGER") => Cell::Int(row.try_get::<i64, _>(i).map_err(err)?),
                (_, "REAL") => Cell::Float(row.try_get::<f64, _>(i).map_err(err)?),
                (kind, "TEXT") => {
                    let text: String = row.try_get(i).map_err(err)?;
                    text_cell(kind, text)
                }
                (_, other) => return Err(unsupported(column.name(), other)),
            }
        };
        cells.push((column.name().to_owned(), cell));
    }
    Ok(cells)
}

/// Text read under a declared type; kept as text when it does not parse.
fn text_cell(kind: Declared, text: String) -> Cell {
    match kind {
        Declared::Boolean => match text.to_ascii_lowercase().as_str() {
            "t" | "true" | "1" => Cell::Bool(true),
            "f" | "false" | "0" => Cell::Bool(false),
            _ => Cell::Text(text),
        },
        Declared::Date => parse_date(&text).map_or(Cell::Text(text), Cell::Date),
        Declared::Timestamp => parse_timestamp(&text).map_or(Cell::Text(text), Cell::Timestamp),
        Declared::Decimal if text.trim().parse::<f64>().is_ok() => {
            Cell::Decimal(text.trim().to_owned())
        }
        Declared::Json => serde_json::from_str(&text).map_or(Cell::Text(text), Cell::Json),
        _ => Cell::Text(text),
    }
}
