//! JSON values of payload columns, shared by the backends' row decoders
//! (`backend/sqlite.rs`, `backend/postgres.rs`).
//!
//! The payload of a SQL payload source is "one JSON property per column":
//! integers and floats become numbers, booleans booleans, text strings, NULL
//! null, `json`/`jsonb` their value, timestamps RFC 3339 strings in UTC,
//! dates `YYYY-MM-DD`. Anything else is an error naming the column and
//! suggesting a cast.

use serde_json::{Number, Value};

/// `value` mapped to JSON, or null.
pub(crate) fn opt<T>(value: Option<T>, to_json: impl FnOnce(T) -> Value) -> Value {
    value.map_or(Value::Null, to_json)
}

/// A float as a JSON number (NaN and infinities, which JSON lacks, as null).
pub(crate) fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// The message for a column whose type has no JSON mapping.
pub(crate) fn unsupported(column: &str, type_name: &str) -> String {
    format!(
        "column `{column}` has type {type_name}, which has no JSON mapping; \
         cast it in the payload query (e.g. `{column}::text` or `CAST({column} AS REAL)`)"
    )
}
