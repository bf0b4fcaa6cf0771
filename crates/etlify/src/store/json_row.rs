//! Decoding database rows into JSON payloads, per backend.
//!
//! The payload of a SQL payload source is "one JSON property per column".
//! Column types map to JSON as follows: integers and floats to numbers,
//! booleans to booleans, text to strings, NULL to null, `json`/`jsonb` to
//! their value, timestamps to RFC 3339 strings in UTC, dates to
//! `YYYY-MM-DD`. Anything else (blobs, numerics, arrays) is an error that
//! names the column and suggests a cast.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Number, Value};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Column, Row, TypeInfo, ValueRef};

/// A row as a JSON object, or a message naming the column that failed.
pub(crate) fn sqlite_row_to_json(row: &SqliteRow) -> Result<Map<String, Value>, String> {
    let mut map = Map::with_capacity(row.columns().len());
    for (i, column) in row.columns().iter().enumerate() {
        let raw = row.try_get_raw(i).map_err(|e| e.to_string())?;
        let value = if raw.is_null() {
            Value::Null
        } else {
            let type_name = raw.type_info().name().to_ascii_uppercase();
            match type_name.as_str() {
                "INTEGER" | "INT" | "BIGINT" | "BOOLEAN" => {
                    Value::from(row.try_get::<i64, _>(i).map_err(|e| e.to_string())?)
                }
                "REAL" | "FLOAT" | "DOUBLE" | "NUMERIC" => {
                    float(row.try_get::<f64, _>(i).map_err(|e| e.to_string())?)
                }
                "TEXT" | "DATETIME" | "DATE" | "TIME" => {
                    Value::String(row.try_get::<String, _>(i).map_err(|e| e.to_string())?)
                }
                other => return Err(unsupported(column.name(), other)),
            }
        };
        map.insert(column.name().to_owned(), value);
    }
    Ok(map)
}

/// A row as a JSON object, or a message naming the column that failed.
pub(crate) fn pg_row_to_json(row: &PgRow) -> Result<Map<String, Value>, String> {
    let mut map = Map::with_capacity(row.columns().len());
    for (i, column) in row.columns().iter().enumerate() {
        let type_name = column.type_info().name().to_owned();
        let err = |e: sqlx::Error| format!("column `{}`: {e}", column.name());
        let value = match type_name.as_str() {
            "BOOL" => opt(row.try_get::<Option<bool>, _>(i).map_err(err)?, Value::Bool),
            "INT2" => opt(row.try_get::<Option<i16>, _>(i).map_err(err)?, Value::from),
            "INT4" => opt(row.try_get::<Option<i32>, _>(i).map_err(err)?, Value::from),
            "INT8" => opt(row.try_get::<Option<i64>, _>(i).map_err(err)?, Value::from),
            "FLOAT4" => opt(row.try_get::<Option<f32>, _>(i).map_err(err)?, |f| {
                float(f64::from(f))
            }),
            "FLOAT8" => opt(row.try_get::<Option<f64>, _>(i).map_err(err)?, float),
            "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" | "CHAR" => opt(
                row.try_get::<Option<String>, _>(i).map_err(err)?,
                Value::String,
            ),
            "JSON" | "JSONB" => row
                .try_get::<Option<Value>, _>(i)
                .map_err(err)?
                .unwrap_or(Value::Null),
            "TIMESTAMP" => opt(
                row.try_get::<Option<NaiveDateTime>, _>(i).map_err(err)?,
                |ts| Value::String(ts.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            ),
            "TIMESTAMPTZ" => opt(
                row.try_get::<Option<DateTime<Utc>>, _>(i).map_err(err)?,
                |ts| Value::String(ts.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            ),
            "DATE" => opt(row.try_get::<Option<NaiveDate>, _>(i).map_err(err)?, |d| {
                Value::String(d.format("%Y-%m-%d").to_string())
            }),
            other => return Err(unsupported(column.name(), other)),
        };
        map.insert(column.name().to_owned(), value);
    }
    Ok(map)
}

fn opt<T>(value: Option<T>, to_json: impl FnOnce(T) -> Value) -> Value {
    value.map_or(Value::Null, to_json)
}

fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn unsupported(column: &str, type_name: &str) -> String {
    format!(
        "column `{column}` has type {type_name}, which has no JSON mapping; \
         cast it in the payload query (e.g. `{column}::text` or `CAST({column} AS REAL)`)"
    )
}
