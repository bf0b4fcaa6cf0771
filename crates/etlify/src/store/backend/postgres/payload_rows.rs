//! PostgreSQL's payload rows: the column's declared type decides. Enums,
//! `citext` and other text-like types are read as text; arrays element by
//! element.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_query_sqlx::SqlxValues;
use sqlx::postgres::{PgRow, PgTypeInfo, PgTypeKind};
use sqlx::types::{BigDecimal, Uuid};
use sqlx::{AssertSqlSafe, Column, Row, TypeInfo};

use super::PostgresBackend;
use crate::error::Result;
use crate::store::backend::{Cells, PayloadRows};
use crate::store::json_value::{unsupported, Cell};

#[async_trait]
impl PayloadRows for PostgresBackend {
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
                let supported = if has_json_mapping(ty) {
                    Ok(())
                } else {
                    Err(ty.name().to_owned())
                };
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
        // Prepared (and cached): sqlx looks up the types of enum and
        // extension columns while preparing, which an unnamed statement
        // does not survive. A payload query's plan does not depend on how
        // full the sync table is, unlike the finder's.
        let rows = sqlx::query_with(AssertSqlSafe(sql), values)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(row_to_cells).collect())
    }
}

/// A row's cells: the column's declared type decides. Enums, `citext` and
/// other text-like types are read as text; arrays element by element.
fn row_to_cells(row: &PgRow) -> Result<Cells, String> {
    let mut cells = Vec::with_capacity(row.columns().len());
    for (i, column) in row.columns().iter().enumerate() {
        let cell = cell(row, i, column.type_info())
            .map_err(|e| format!("column `{}`: {e}", column.name()))?
            .ok_or_else(|| unsupported(column.name(), column.type_info().name()))?;
        cells.push((column.name().to_owned(), cell));
    }
    Ok(cells)
}

/// What a PostgreSQL column type decodes as: one list, for decoding
/// (`cell`) and for checking a payload query before it runs
/// (`has_json_mapping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PgKind {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Numeric,
    Text,
    Uuid,
    Json,
    Timestamp,
    TimestampTz,
    Date,
    /// Enums and `citext`: sent by the server as their text (the label,
    /// the string), read without a type check; not as array elements.
    TextLike,
}

/// The kind of a scalar column, or `None` for a type with no JSON mapping.
fn scalar_kind(ty: &PgTypeInfo) -> Option<PgKind> {
    let name = ty.name().to_ascii_uppercase();
    Some(match name.as_str() {
        "BOOL" => PgKind::Bool,
        "INT2" => PgKind::Int2,
        "INT4" => PgKind::Int4,
        "INT8" => PgKind::Int8,
        "FLOAT4" => PgKind::Float4,
        "FLOAT8" => PgKind::Float8,
        "NUMERIC" => PgKind::Numeric,
        "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => PgKind::Text,
        "UUID" => PgKind::Uuid,
        "JSON" | "JSONB" => PgKind::Json,
        "TIMESTAMP" => PgKind::Timestamp,
        "TIMESTAMPTZ" => PgKind::TimestampTz,
        "DATE" => PgKind::Date,
        "CITEXT" => PgKind::TextLike,
        _ if matches!(ty.kind(), PgTypeKind::Enum(_)) => PgKind::TextLike,
        _ => return None,
    })
}

/// The kind of an array column's elements, or `None` when unsupported.
fn element_kind(ty: &PgTypeInfo) -> Option<PgKind> {
    let PgTypeKind::Array(element) = ty.kind() else {
        return None;
    };
    match scalar_kind(element)? {
        PgKind::TextLike => None,
        PgKind::Text if element.name().eq_ignore_ascii_case("CHAR") => None,
        kind => Some(kind),
    }
}

/// Whether `cell` decodes columns of type `ty`.
fn has_json_mapping(ty: &PgTypeInfo) -> bool {
    scalar_kind(ty).is_some() || element_kind(ty).is_some()
}

/// The cell of column `i`, or `None` for a type with no JSON mapping.
fn cell(row: &PgRow, i: usize, ty: &PgTypeInfo) -> Result<Option<Cell>, sqlx::Error> {
    if let Some(kind) = scalar_kind(ty) {
        return decode(row, i, kind, false).map(Some);
    }
    match element_kind(ty) {
        Some(kind) => decode(row, i, kind, true).map(Some),
        None => Ok(None),
    }
}

/// Column `i` as `kind`, or as an array of it.
fn decode(row: &PgRow, i: usize, kind: PgKind, array: bool) -> Result<Cell, sqlx::Error> {
    fn get<'r, T>(
        row: &'r PgRow,
        i: usize,
        array: bool,
        to_cell: impl Fn(T) -> Cell,
    ) -> Result<Cell, sqlx::Error>
    where
        T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
        Vec<Option<T>>: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        if array {
            Ok(row
                .try_get::<Option<Vec<Option<T>>>, _>(i)?
                .map_or(Cell::Null, |items| {
                    Cell::Array(
                        items
                            .into_iter()
                            .map(|item| item.map_or(Cell::Null, &to_cell))
                            .collect(),
                    )
                }))
        } else {
            Ok(row.try_get::<Option<T>, _>(i)?.map_or(Cell::Null, to_cell))
        }
    }
    match kind {
        PgKind::Bool => get(row, i, array, Cell::Bool),
        PgKind::Int2 => get(row, i, array, |v: i16| Cell::Int(i64::from(v))),
        PgKind::Int4 => get(row, i, array, |v: i32| Cell::Int(i64::from(v))),
        PgKind::Int8 => get(row, i, array, Cell::Int),
        PgKind::Float4 => get(row, i, array, |v: f32| Cell::Float(f64::from(v))),
        PgKind::Float8 => get(row, i, array, Cell::Float),
        PgKind::Numeric => get(row, i, array, |v: BigDecimal| {
            Cell::Decimal(v.to_plain_string())
        }),
        PgKind::Text => get(row, i, array, Cell::Text),
        PgKind::Uuid => get(row, i, array, |v: Uuid| Cell::Text(v.to_string())),
        PgKind::Json => get(row, i, array, Cell::Json),
        PgKind::Timestamp => get(row, i, array, Cell::Timestamp),
        PgKind::TimestampTz => get(row, i, array, |v: DateTime<Utc>| {
            Cell::Timestamp(v.naive_utc())
        }),
        PgKind::Date => get(row, i, array, Cell::Date),
        PgKind::TextLike => Ok(row
            .try_get_unchecked::<Option<String>, _>(i)?
            .map_or(Cell::Null, Cell::Text)),
    }
}
