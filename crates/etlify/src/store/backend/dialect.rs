//! What differs in the text of SQL between databases; needs no connection.
//!
//! The finder renders its queries from a dialect alone, so its golden
//! tests (`stale/sql_tests.rs`) need no database.

use std::fmt;
use std::time::Duration;

use sea_query::{DeleteStatement, Expr, InsertStatement, SelectStatement, UpdateStatement, Value};
use sea_query_sqlx::SqlxValues;

use super::Ddl;
use crate::id::ResourceId;
use crate::store::{BackendKind, Timestamp};

/// A statement built by the shared code, to render for one backend.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Statement<'a> {
    Select(&'a SelectStatement),
    Insert(&'a InsertStatement),
    Update(&'a UpdateStatement),
    Delete(&'a DeleteStatement),
}

macro_rules! statement_from {
    ($($variant:ident($type:ty)),*) => {
        $(impl<'a> From<&'a $type> for Statement<'a> {
            fn from(statement: &'a $type) -> Self {
                Statement::$variant(statement)
            }
        })*
    };
}
statement_from!(
    Select(SelectStatement),
    Insert(InsertStatement),
    Update(UpdateStatement),
    Delete(DeleteStatement)
);

/// What differs in SQL text between backends; needs no connection.
pub(crate) trait Dialect: Ddl + Send + Sync + fmt::Debug {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;

    /// Renders `statement` with placeholders and its bound values.
    fn build(&self, statement: Statement<'_>) -> (String, SqlxValues);

    /// Renders `statement` with its values inlined (golden tests, dry runs).
    fn render(&self, statement: Statement<'_>) -> String;

    /// How a timestamp is bound so that it compares correctly with the
    /// application's Rails-written columns.
    fn timestamp_value(&self, ts: Timestamp) -> Value;

    /// A NULL of the timestamp columns' type.
    fn null_timestamp(&self) -> Value;

    /// The epoch, comparable with timestamp columns (missing and NULL
    /// timestamps count as the epoch: docs/BEHAVIOUR.md, "Stale records").
    fn epoch(&self) -> Expr;

    /// "Now" evaluated by the database, in the timestamp columns' format
    /// (for `created_at` / `updated_at` of sync-state rows).
    fn now(&self) -> Expr;

    /// "Now" plus `duration`, in the same format (lease expiry times).
    fn now_plus(&self, duration: Duration) -> Expr;

    /// "Now" minus `duration`, in the same format.
    fn now_minus(&self, duration: Duration) -> Expr;

    /// `column IN (ids)`, in the form this backend plans best.
    fn id_in(&self, column: Expr, ids: &[ResourceId]) -> Expr;

    /// Whether the timestamp in `column` has a fraction of a second (to
    /// the microsecond), as an SQL condition.
    fn has_fraction_of_second(&self, column: Expr) -> Expr;

    /// The timestamp in `column` as Unix time in seconds (a double), its
    /// value read as UTC when it carries no time zone (for the
    /// change-to-CRM latency).
    fn epoch_seconds(&self, column: Expr) -> Expr;

    /// In an upsert's update, the value `column` would have had in the
    /// row it tried to insert (SQL text, the column quoted).
    fn excluded(&self, column: &str) -> String {
        format!("\"excluded\".\"{column}\"")
    }
}
