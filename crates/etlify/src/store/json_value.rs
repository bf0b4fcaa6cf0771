//! What a payload column's value means as JSON, shared by both backends.
//!
//! A backend decodes each column into a [`Cell`]: the value as the database
//! knows it, typed by the column's declared type where the database keeps
//! one (`backend/sqlite.rs`, `backend/postgres.rs`). Here a cell becomes
//! JSON, after the column's declared [`ColumnType`] (for what the database
//! cannot tell: JSON kept in text, booleans in integers, expressions) and
//! its [`Rendering`] (ISO 8601 for CRMs, or the Rails gem's `to_s`
//! forms so that a database the gem synced keeps its digests). The table of
//! mappings is in `docs/MODELS.md`.

use chrono::{NaiveDate, NaiveDateTime, SecondsFormat};
use serde_json::{Number, Value};

use crate::values::{ColumnMapping, ColumnType, Rendering};

/// One column's value, as the database knows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// An exact decimal, as its digits (`"12.50"`, `"-3"`).
    Decimal(String),
    Text(String),
    Json(Value),
    Date(NaiveDate),
    /// In UTC.
    Timestamp(NaiveDateTime),
    Array(Vec<Cell>),
}

/// A row's cells as a JSON object, after `mapping`; an error names the
/// column and what to do.
pub(crate) fn row_to_json(
    cells: Vec<(String, Cell)>,
    mapping: &ColumnMapping,
) -> Result<serde_json::Map<String, Value>, String> {
    let mut map = serde_json::Map::with_capacity(cells.len());
    for (column, cell) in cells {
        let declared = mapping.get_column_type(&column);
        let rendering = mapping.get_rendering(&column);
        let value = to_json(cell, declared, rendering)
            .map_err(|expected| format!("column `{column}`: {expected}"))?;
        map.insert(column, value);
    }
    Ok(map)
}

fn to_json(
    cell: Cell,
    declared: Option<ColumnType>,
    rendering: Rendering,
) -> Result<Value, String> {
    let cell = match declared {
        Some(declared) => coerce(cell, declared)?,
        None => cell,
    };
    Ok(match cell {
        Cell::Null => Value::Null,
        Cell::Bool(b) => Value::Bool(b),
        Cell::Int(i) => Value::from(i),
        Cell::Float(f) => float(f),
        Cell::Decimal(digits) => Value::String(render_decimal(&digits, rendering)),
        Cell::Text(text) => Value::String(text),
        Cell::Json(value) => value,
        Cell::Date(date) => Value::String(date.format("%Y-%m-%d").to_string()),
        Cell::Timestamp(ts) => Value::String(render_timestamp(ts, rendering)),
        Cell::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| to_json(item, None, rendering))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// `cell` as `declared`, or what was expected.
fn coerce(cell: Cell, declared: ColumnType) -> Result<Cell, String> {
    let refuse = |cell: &Cell| {
        Err(format!(
            "is declared {} but holds {}",
            declared.as_str(),
            describe(cell)
        ))
    };
    if cell == Cell::Null {
        return Ok(Cell::Null);
    }
    Ok(match declared {
        ColumnType::Boolean => match &cell {
            Cell::Bool(_) => cell,
            Cell::Int(i) if *i == 0 || *i == 1 => Cell::Bool(*i == 1),
            Cell::Text(t) => match t.to_ascii_lowercase().as_str() {
                "t" | "true" | "1" => Cell::Bool(true),
                "f" | "false" | "0" => Cell::Bool(false),
                _ => return refuse(&cell),
            },
            _ => return refuse(&cell),
        },
        ColumnType::Integer => match &cell {
            Cell::Int(_) => cell,
            Cell::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Cell::Int(*f as i64),
            Cell::Text(t) | Cell::Decimal(t) => match t.trim().parse::<i64>() {
                Ok(i) => Cell::Int(i),
                Err(_) => return refuse(&cell),
            },
            _ => return refuse(&cell),
        },
        ColumnType::Float => match &cell {
            Cell::Float(_) => cell,
            Cell::Int(i) => Cell::Float(*i as f64),
            Cell::Text(t) | Cell::Decimal(t) => match t.trim().parse::<f64>() {
                Ok(f) => Cell::Float(f),
                Err(_) => return refuse(&cell),
            },
            _ => return refuse(&cell),
        },
        ColumnType::Decimal => match &cell {
            Cell::Decimal(_) => cell,
            Cell::Int(i) => Cell::Decimal(i.to_string()),
            // The shortest digits that read back as this float, as Rails
            // does when it casts a SQLite REAL into a BigDecimal.
            Cell::Float(f) if f.is_finite() => Cell::Decimal(format!("{f}")),
            Cell::Text(t) if is_decimal(t.trim()) => Cell::Decimal(t.trim().to_owned()),
            _ => return refuse(&cell),
        },
        ColumnType::String => match cell {
            Cell::Text(_) => cell,
            Cell::Int(i) => Cell::Text(i.to_string()),
            Cell::Float(f) => Cell::Text(format!("{f}")),
            Cell::Decimal(d) => Cell::Text(d),
            Cell::Bool(b) => Cell::Text(b.to_string()),
            Cell::Json(Value::String(s)) => Cell::Text(s),
            Cell::Json(v) => Cell::Text(v.to_string()),
            other => other,
        },
        ColumnType::Json => match &cell {
            Cell::Text(t) => match serde_json::from_str(t) {
                Ok(value) => Cell::Json(value),
                Err(e) => return Err(format!("is declared json but its text is not JSON ({e})")),
            },
            _ => cell,
        },
        ColumnType::Date => match &cell {
            Cell::Date(_) => cell,
            Cell::Timestamp(ts) => Cell::Date(ts.date()),
            Cell::Text(t) => match parse_date(t) {
                Some(d) => Cell::Date(d),
                None => return refuse(&cell),
            },
            _ => return refuse(&cell),
        },
        ColumnType::Timestamp => match &cell {
            Cell::Timestamp(_) => cell,
            Cell::Date(d) => Cell::Timestamp(d.and_time(chrono::NaiveTime::MIN)),
            Cell::Text(t) => match parse_timestamp(t) {
                Some(ts) => Cell::Timestamp(ts),
                None => return refuse(&cell),
            },
            _ => return refuse(&cell),
        },
    })
}

fn describe(cell: &Cell) -> String {
    match cell {
        Cell::Null => "NULL".into(),
        Cell::Bool(b) => format!("the boolean {b}"),
        Cell::Int(i) => format!("the integer {i}"),
        Cell::Float(f) => format!("the number {f}"),
        Cell::Decimal(d) => format!("the decimal {d}"),
        Cell::Text(t) => format!("the text {:?}", truncate(t)),
        Cell::Json(v) => format!("the JSON {}", truncate(&v.to_string())),
        Cell::Date(d) => format!("the date {d}"),
        Cell::Timestamp(ts) => format!("the timestamp {ts}"),
        Cell::Array(_) => "an array".into(),
    }
}

fn truncate(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or("");
    let fraction = parts.next().unwrap_or("");
    !(whole.is_empty() && fraction.is_empty())
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// `"12.50"` → `"12.5"`; `"100"` stays; Rails: `BigDecimal#to_s("F")`,
/// which keeps one fractional digit (`"100.0"`).
fn render_decimal(digits: &str, rendering: Rendering) -> String {
    let (sign, unsigned) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits.strip_prefix('+').unwrap_or(digits)),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    let fraction = fraction.trim_end_matches('0');
    let sign = if whole == "0" && fraction.is_empty() {
        ""
    } else {
        sign
    };
    match (fraction.is_empty(), rendering) {
        (true, Rendering::Rails) => format!("{sign}{whole}.0"),
        (true, _) => format!("{sign}{whole}"),
        (false, _) => format!("{sign}{whole}.{fraction}"),
    }
}

/// ISO 8601 in UTC (`2024-05-06T07:08:09.123456Z`); Rails: the `to_s` of a
/// UTC `TimeWithZone`, without sub-seconds (`2024-05-06 07:08:09 UTC`).
fn render_timestamp(ts: NaiveDateTime, rendering: Rendering) -> String {
    match rendering {
        Rendering::Rails => ts.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        _ => ts.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true),
    }
}

/// `YYYY-MM-DD`, or the date part of a timestamp text.
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    let text = text.trim();
    NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

/// Rails' SQLite text (`YYYY-MM-DD HH:MM:SS[.ffffff]`, UTC), ISO 8601 with
/// `T`, with or without an offset (converted to UTC).
pub(crate) fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if let Ok(ts) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(ts.naive_utc());
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(ts) = NaiveDateTime::parse_from_str(text, format) {
            return Some(ts);
        }
    }
    None
}

/// A float as a JSON number (NaN and infinities, which JSON lacks, as null).
pub(crate) fn float(f: f64) -> Value {
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// The message for a column whose type has no JSON mapping.
pub(crate) fn unsupported(column: &str, type_name: &str) -> String {
    format!(
        "column `{column}` has type {type_name}, which {NO_JSON_MAPPING}; \
         cast it in the payload query (e.g. `{column}::text` or `CAST({column} AS TEXT)`)"
    )
}

/// What [`unsupported`] says of a value, by which a record's payload
/// error is told apart as the query's fault.
const NO_JSON_MAPPING: &str = "has no JSON mapping";

/// Whether a record's payload error is [`unsupported`]'s: a column of the
/// query with no JSON mapping, not the record's own problem.
pub(crate) fn is_unsupported(message: &str) -> bool {
    message.contains(NO_JSON_MAPPING)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_types_decimals_render_like_the_application_means_them() {
        for (digits, plain, rails) in [
            ("12.50", "12.5", "12.5"),
            ("0.1", "0.1", "0.1"),
            ("100", "100", "100.0"),
            ("100.00", "100", "100.0"),
            ("-0.50", "-0.5", "-0.5"),
            ("007.250", "7.25", "7.25"),
            ("-0", "0", "0.0"),
        ] {
            assert_eq!(
                render_decimal(digits, Rendering::Iso8601),
                plain,
                "{digits}"
            );
            assert_eq!(render_decimal(digits, Rendering::Rails), rails, "{digits}");
        }
    }

    #[test]
    fn payload_types_timestamps_render_iso_or_as_rails_does() {
        let ts = parse_timestamp("2024-05-06 07:08:09.123456").unwrap();
        assert_eq!(
            render_timestamp(ts, Rendering::Iso8601),
            "2024-05-06T07:08:09.123456Z"
        );
        assert_eq!(
            render_timestamp(ts, Rendering::Rails),
            "2024-05-06 07:08:09 UTC"
        );
        let offset = parse_timestamp("2024-05-06T09:08:09+02:00").unwrap();
        assert_eq!(
            render_timestamp(offset, Rendering::Rails),
            "2024-05-06 07:08:09 UTC"
        );
    }

    #[test]
    fn payload_types_declared_types_coerce_or_name_what_they_found() {
        assert_eq!(
            coerce(Cell::Int(1), ColumnType::Boolean),
            Ok(Cell::Bool(true))
        );
        assert_eq!(
            coerce(Cell::Text("f".into()), ColumnType::Boolean),
            Ok(Cell::Bool(false))
        );
        assert_eq!(
            coerce(Cell::Text("[1,\"t1\"]".into()), ColumnType::Json),
            Ok(Cell::Json(serde_json::json!([1, "t1"])))
        );
        assert_eq!(
            coerce(Cell::Float(12.5), ColumnType::Decimal),
            Ok(Cell::Decimal("12.5".into()))
        );
        assert_eq!(coerce(Cell::Null, ColumnType::Integer), Ok(Cell::Null));
        assert_eq!(
            coerce(Cell::Text(" 42 ".into()), ColumnType::Integer),
            Ok(Cell::Int(42))
        );
        assert_eq!(
            coerce(Cell::Float(3.0), ColumnType::Integer),
            Ok(Cell::Int(3))
        );
        assert_eq!(
            coerce(Cell::Int(2), ColumnType::Float),
            Ok(Cell::Float(2.0))
        );
        assert_eq!(
            coerce(Cell::Int(7), ColumnType::String),
            Ok(Cell::Text("7".into()))
        );
        assert_eq!(
            coerce(Cell::Text("2024-05-06 07:08:09".into()), ColumnType::Date),
            Ok(Cell::Date(NaiveDate::from_ymd_opt(2024, 5, 6).unwrap()))
        );
        assert!(coerce(Cell::Float(2.5), ColumnType::Integer).is_err());
        let refused = coerce(Cell::Int(7), ColumnType::Boolean).unwrap_err();
        assert!(
            refused.contains("boolean") && refused.contains('7'),
            "{refused}"
        );
        assert!(coerce(Cell::Text("{".into()), ColumnType::Json).is_err());
    }
}
