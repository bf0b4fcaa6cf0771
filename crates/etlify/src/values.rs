//! Value types the declarations and the store share, kept in a leaf so
//! neither imports the other for them: a payload, what a payload column
//! holds and how its values are written, and which column says when a row
//! changed.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// The properties sent to the CRM for one record.
pub type Payload = Map<String, Value>;

/// What a payload column holds, declared where the database cannot tell
/// (JSON kept in text, booleans kept as 0/1 by an expression, values built
/// by SQL functions). Where the database knows the column's type, it is used
/// (table in `docs/MODELS.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ColumnType {
    /// `true` / `false` (from booleans, 0/1, `t`/`f`, `true`/`false`).
    Boolean,
    /// A JSON integer.
    Integer,
    /// A JSON number.
    Float,
    /// An exact decimal, sent as a string (`"12.5"`).
    Decimal,
    /// A JSON string.
    String,
    /// JSON kept as text: parsed and sent as JSON.
    Json,
    /// `YYYY-MM-DD`.
    Date,
    /// A point in time, in UTC (see [`Rendering`]).
    Timestamp,
}

impl ColumnType {
    /// Its name in configuration (`boolean`, `timestamp`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::Boolean => "boolean",
            ColumnType::Integer => "integer",
            ColumnType::Float => "float",
            ColumnType::Decimal => "decimal",
            ColumnType::String => "string",
            ColumnType::Json => "json",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
        }
    }
}

/// How values JSON has no type for (decimals, timestamps) are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Rendering {
    /// For CRMs: timestamps in ISO 8601 UTC (`2024-05-06T07:08:09.5Z`),
    /// decimals as their digits (`"12.5"`, `"100"`).
    #[default]
    Iso8601,
    /// As the Rails gem's digest saw them (Ruby `to_s`), so that a database
    /// the gem synced is taken over without re-sending anything: timestamps
    /// `2024-05-06 07:08:09 UTC` (sub-seconds dropped), decimals
    /// `BigDecimal#to_s("F")` (`"12.5"`, `"100.0"`).
    Rails,
}

/// Column types and renderings of a SQL payload: declared per column, with
/// one rendering for the columns that declare none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMapping {
    types: HashMap<String, ColumnType>,
    renderings: HashMap<String, Rendering>,
    rendering: Rendering,
}

impl ColumnMapping {
    /// The database's types, ISO 8601 rendering.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares what `column` holds.
    pub fn column_type(mut self, column: impl Into<String>, column_type: ColumnType) -> Self {
        self.types.insert(column.into(), column_type);
        self
    }

    /// The rendering of `column`, overriding the payload's.
    pub fn column_rendering(mut self, column: impl Into<String>, rendering: Rendering) -> Self {
        self.renderings.insert(column.into(), rendering);
        self
    }

    /// The rendering of every column that declares none.
    pub fn rendering(mut self, rendering: Rendering) -> Self {
        self.rendering = rendering;
        self
    }

    /// The declared type of `column`, if any.
    pub fn get_column_type(&self, column: &str) -> Option<ColumnType> {
        self.types.get(column).copied()
    }

    /// The rendering that applies to `column`.
    pub fn get_rendering(&self, column: &str) -> Rendering {
        self.renderings
            .get(column)
            .copied()
            .unwrap_or(self.rendering)
    }

    /// The columns with a declared type.
    pub fn get_column_types(&self) -> impl Iterator<Item = (&str, ColumnType)> {
        self.types.iter().map(|(c, t)| (c.as_str(), *t))
    }
}

/// Which column says when a row last changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TimestampColumn {
    /// `updated_at` if the table has it, else `created_at`, else none
    /// (as in the gem; docs/BEHAVIOUR.md, "Words").
    #[default]
    Auto,
    /// This column.
    Column(String),
    /// No timestamp: the row counts as changed at the epoch.
    None,
}

impl TimestampColumn {
    /// A named column.
    pub fn column(name: impl Into<String>) -> Self {
        Self::Column(name.into())
    }

    /// Resolves `Auto` against the table's columns.
    pub(crate) fn resolve(&self, columns: &[String]) -> Option<String> {
        let has = |name: &str| columns.iter().any(|c| c == name);
        match self {
            TimestampColumn::Auto => ["updated_at", "created_at"]
                .into_iter()
                .find(|c| has(c))
                .map(str::to_owned),
            TimestampColumn::Column(name) => Some(name.clone()),
            TimestampColumn::None => None,
        }
    }
}
