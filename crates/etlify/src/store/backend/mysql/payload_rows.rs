//! MySQL's payload rows: the column type the server sends decides.
//! `tinyint(1)` is a boolean (Rails' `boolean`), `FLOAT` is read as MySQL
//! prints it (6 significant digits, [`float_as_printed`]), `BINARY(16)` is a
//! UUID; `ENUM` and `SET` are text. Text selected from a table is read
//! after that table's column (`source_columns.rs`): MariaDB's `json`, which
//! the server sends as text, as JSON (as the gem's payload parsed it);
//! a `blob` has no JSON mapping. Another binary string (text in a `_bin`
//! collation, an expression's bytes) reads as text when it is UTF-8.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveTime};
use sea_query_sqlx::SqlxValues;
use sqlx::mysql::{MySqlColumn, MySqlRow, MySqlTypeInfo};
use sqlx::types::{BigDecimal, Uuid};
use sqlx::{AssertSqlSafe, Column, Row, TypeInfo};

use super::source_columns::Source;
use super::MysqlBackend;
use crate::error::Result;
use crate::store::backend::{Cells, PayloadRows};
use crate::store::json_value::{unsupported, Cell};

#[async_trait]
impl PayloadRows for MysqlBackend {
    async fn describe_columns(&self, sql: &str) -> Result<Vec<(String, Result<(), String>)>> {
        use sqlx::{Executor, Statement};
        let described = (&self.pool)
            .prepare(sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(
                sql.to_owned(),
            )))
            .await?;
        let sources = self.sources_of(described.columns()).await?;
        let kinds = kinds_of(described.columns(), &sources);
        Ok(described
            .columns()
            .iter()
            .zip(kinds)
            .map(|(column, kind)| {
                let supported = match kind {
                    Some(_) => Ok(()),
                    None => Err(type_name(column)),
                };
                (column.name().to_owned(), supported)
            })
            .collect())
    }

    async fn fetch_payload_rows(
        &self,
        payload_sql: &str,
        sql: String,
        values: SqlxValues,
    ) -> Result<Vec<Result<Cells, String>>> {
        let rows = sqlx::query_with(AssertSqlSafe(sql), values)
            .fetch_all(&self.pool)
            .await?;
        let Some(first) = rows.first() else {
            return Ok(Vec::new());
        };
        // The wrapped query's columns come from `etlify_payload`: their
        // tables are the payload query's.
        let sources = match self.source_columns.statement(payload_sql) {
            Some(sources) => sources,
            None => {
                use sqlx::{Executor, Statement};
                let described = (&self.pool)
                    .prepare(sqlx::SqlSafeStr::into_sql_str(AssertSqlSafe(
                        payload_sql.to_owned(),
                    )))
                    .await?;
                let sources = self.sources_of(described.columns()).await?;
                self.source_columns.remember_statement(payload_sql, sources)
            }
        };
        let kinds = kinds_of(first.columns(), &sources);
        Ok(rows.iter().map(|row| row_to_cells(row, &kinds)).collect())
    }
}

impl MysqlBackend {
    /// What each text column of `columns` selected from a table is in
    /// that table, by the column's name in the result.
    async fn sources_of(&self, columns: &[MySqlColumn]) -> Result<HashMap<String, Source>> {
        let mut sources = HashMap::new();
        for column in columns {
            let origin = column.origin();
            let (Some(MysqlKind::Text | MysqlKind::BinaryText), Some(source)) =
                (kind(column.type_info()), origin.table_column())
            else {
                continue;
            };
            let of = self
                .source_columns
                .of(&self.pool, &source.table, &source.name)
                .await?;
            sources.insert(column.name().to_owned(), of);
        }
        Ok(sources)
    }
}

/// How each of `columns` is read (`None`: no JSON mapping): after the
/// type the server sends, and for text, after its table's column
/// (`sources`, by name).
fn kinds_of(columns: &[MySqlColumn], sources: &HashMap<String, Source>) -> Vec<Option<MysqlKind>> {
    columns
        .iter()
        .map(|column| {
            let sent = kind(column.type_info());
            match (sent, sources.get(column.name())) {
                (Some(MysqlKind::Text | MysqlKind::BinaryText), Some(Source::Json)) => {
                    Some(MysqlKind::Json)
                }
                (Some(MysqlKind::Text | MysqlKind::BinaryText), Some(Source::Bytes)) => None,
                _ => sent,
            }
        })
        .collect()
}

/// The type a column is reported with when it has no JSON mapping.
fn type_name(column: &MySqlColumn) -> String {
    column.type_info().name().to_owned()
}

/// A row's cells, after each column's kind (`None`: no JSON mapping).
fn row_to_cells(row: &MySqlRow, kinds: &[Option<MysqlKind>]) -> Result<Cells, String> {
    let mut cells = Vec::with_capacity(row.columns().len());
    for (i, (column, kind)) in row.columns().iter().zip(kinds).enumerate() {
        let kind = kind.ok_or_else(|| unsupported(column.name(), &type_name(column)))?;
        let cell = decode(row, i, kind).map_err(|e| format!("column `{}`: {e}", column.name()))?;
        cells.push((column.name().to_owned(), cell));
    }
    Ok(cells)
}

/// What a MySQL column type decodes as: one list, for decoding and for
/// checking a payload query before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MysqlKind {
    Null,
    Bool,
    Int,
    Unsigned,
    Float,
    Double,
    Decimal,
    Text,
    Json,
    Date,
    Time,
    DateTime,
    Uuid,
    /// A binary string: text in a `_bin` collation (MariaDB's `json`
    /// among them) reads as text; bytes that are not UTF-8 are refused.
    BinaryText,
}

fn kind(ty: &MySqlTypeInfo) -> Option<MysqlKind> {
    Some(match ty.name() {
        "NULL" => MysqlKind::Null,
        "BOOLEAN" => MysqlKind::Bool,
        "TINYINT" | "SMALLINT" | "MEDIUMINT" | "INT" | "BIGINT" | "YEAR" => MysqlKind::Int,
        "TINYINT UNSIGNED" | "SMALLINT UNSIGNED" | "MEDIUMINT UNSIGNED" | "INT UNSIGNED"
        | "BIGINT UNSIGNED" => MysqlKind::Unsigned,
        "FLOAT" => MysqlKind::Float,
        "DOUBLE" => MysqlKind::Double,
        "DECIMAL" => MysqlKind::Decimal,
        "CHAR" | "VARCHAR" | "TINYTEXT" | "TEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET" => {
            MysqlKind::Text
        }
        "JSON" => MysqlKind::Json,
        "DATE" => MysqlKind::Date,
        "TIME" => MysqlKind::Time,
        "DATETIME" | "TIMESTAMP" => MysqlKind::DateTime,
        // `BINARY(16)`: a UUID as Rails' and Django's MySQL keys store it.
        "BINARY" => MysqlKind::Uuid,
        "VARBINARY" | "TINYBLOB" | "BLOB" | "MEDIUMBLOB" | "LONGBLOB" => MysqlKind::BinaryText,
        _ => return None,
    })
}

fn decode(row: &MySqlRow, i: usize, kind: MysqlKind) -> Result<Cell, sqlx::Error> {
    fn get<'r, T>(
        row: &'r MySqlRow,
        i: usize,
        to_cell: impl Fn(T) -> Cell,
    ) -> Result<Cell, sqlx::Error>
    where
        T: sqlx::Decode<'r, sqlx::MySql> + sqlx::Type<sqlx::MySql>,
    {
        Ok(row
            .try_get_unchecked::<Option<T>, _>(i)?
            .map_or(Cell::Null, to_cell))
    }
    match kind {
        MysqlKind::Null => Ok(Cell::Null),
        MysqlKind::Bool => get(row, i, Cell::Bool),
        MysqlKind::Int => get(row, i, Cell::Int),
        MysqlKind::Unsigned => get(row, i, |v: u64| match i64::try_from(v) {
            Ok(v) => Cell::Int(v),
            Err(_) => Cell::Decimal(v.to_string()),
        }),
        MysqlKind::Float => get(row, i, |v: f32| Cell::Float(float_as_printed(v))),
        MysqlKind::Double => get(row, i, Cell::Float),
        MysqlKind::Decimal => get(row, i, |v: BigDecimal| Cell::Decimal(v.to_plain_string())),
        MysqlKind::Text => get(row, i, Cell::Text),
        MysqlKind::Json => get(row, i, Cell::Json),
        MysqlKind::Date => get(row, i, |v: NaiveDate| Cell::Date(v)),
        MysqlKind::Time => get(row, i, |v: NaiveTime| Cell::Text(v.to_string())),
        MysqlKind::DateTime => get(row, i, Cell::Timestamp),
        MysqlKind::BinaryText => match row.try_get_unchecked::<Option<Vec<u8>>, _>(i)? {
            None => Ok(Cell::Null),
            Some(bytes) => String::from_utf8(bytes)
                .map(Cell::Text)
                .map_err(|e| sqlx::Error::Decode(Box::new(e))),
        },
        MysqlKind::Uuid => get(row, i, |v: Vec<u8>| match Uuid::from_slice(&v) {
            Ok(uuid) => Cell::Text(uuid.to_string()),
            // Not 16 bytes: the bytes as hex, never lost.
            Err(_) => Cell::Text(v.iter().map(|b| format!("{b:02x}")).collect()),
        }),
    }
}

/// A 4-byte `FLOAT` as MySQL prints it, with 6 significant digits (499/3
/// is `166.333`): the text Rails' mysql2 adapter reads and the gem hashed.
/// Widening the binary value instead gives `166.33332824707031`, and
/// another digest.
pub(super) fn float_as_printed(value: f32) -> f64 {
    if !value.is_finite() {
        return f64::from(value);
    }
    // Scientific notation with 5 decimals is 6 significant digits; read
    // back as a double, it is the shortest decimal those digits make.
    format!("{value:.5e}")
        .parse::<f64>()
        .unwrap_or(f64::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MySQL prints a FLOAT with 6 significant digits; the gem hashed that.
    #[test]
    fn mysql_float_reads_as_mysql_prints_it() {
        for (value, printed) in [
            (499.0_f32 / 3.0, 166.333),
            (1.5, 1.5),
            (0.1, 0.1),
            (-2.0 / 3.0, -0.666667),
            (1234567.0, 1234570.0),
            (0.0, 0.0),
        ] {
            assert_eq!(float_as_printed(value), printed, "{value}");
        }
    }
}
