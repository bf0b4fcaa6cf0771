//! MySQL's payload rows: the column type the server sends decides.
//! `tinyint(1)` is a boolean (Rails' `boolean`), `FLOAT` is read as MySQL
//! prints it (6 significant digits, [`float_as_printed`]), `BINARY(16)` is a
//! UUID; `ENUM`, `SET` and JSON (text on MariaDB) are text, read as JSON
//! where the model declares the column so. A binary string (text in a
//! `_bin` collation, MariaDB's `json`) reads as text when it is UTF-8.

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveTime};
use sea_query_sqlx::SqlxValues;
use sqlx::mysql::{MySqlRow, MySqlTypeInfo};
use sqlx::types::{BigDecimal, Uuid};
use sqlx::{AssertSqlSafe, Column, Row, TypeInfo};

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
        Ok(described
            .columns()
            .iter()
            .map(|column| {
                let ty = column.type_info();
                let supported = match kind(ty) {
                    Some(_) => Ok(()),
                    None => Err(ty.name().to_owned()),
                };
                (column.name().to_owned(), supported)
            })
            .collect())
    }

    async fn fetch_payload_rows(
        &self,
        sql: String,
        values: SqlxValues,
    ) -> Result<Vec<Result<Cells, String>>> {
        let rows = sqlx::query_with(AssertSqlSafe(sql), values)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(row_to_cells).collect())
    }
}

/// A row's cells, after each column's type.
fn row_to_cells(row: &MySqlRow) -> Result<Cells, String> {
    let mut cells = Vec::with_capacity(row.columns().len());
    for (i, column) in row.columns().iter().enumerate() {
        let ty = column.type_info();
        let kind = kind(ty).ok_or_else(|| unsupported(column.name(), ty.name()))?;
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
