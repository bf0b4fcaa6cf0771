//! Payloads and where they come from.
//!
//! A payload is the JSON object of CRM properties for one record. A
//! [`PayloadSource`] loads the payloads of many records in one query:
//! - [`SqlPayload`]: a `SELECT` whose columns are the properties (the CLI's way);
//! - [`RowPayload`]: a `SELECT` decoded into a typed row, mapped by a Rust closure.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use sea_query::{Alias, Asterisk, Expr, ExprTrait, Query};
use serde_json::{Map, Value};
use sqlx::Row;

use crate::error::{Error, Result};
use crate::id::ResourceId;
use crate::store::json_row::{pg_row_to_json, sqlite_row_to_json};
use crate::store::{FromAnyRow, Rows, Store};

/// The properties sent to the CRM for one record.
pub type Payload = Map<String, Value>;

/// Payloads of a batch, by record id. A record missing from the map was not
/// found; an `Err` is a failure attributable to that record only.
pub type LoadedPayloads = HashMap<ResourceId, Result<Payload, String>>;

/// Name under which the user's query is wrapped.
const SOURCE_ALIAS: &str = "etlify_payload";

/// Loads the payloads of many records of one model in one round trip.
#[async_trait]
pub trait PayloadSource: Send + Sync + fmt::Debug {
    /// Payloads of `ids`. A query-level failure (bad SQL) is an `Err` for the
    /// whole batch; a failure of one record is an `Err` entry in the map.
    async fn load(&self, store: &Store, ids: &[ResourceId]) -> Result<LoadedPayloads>;

    /// The column that identifies the record in this source's rows.
    fn key_column(&self) -> &str;

    /// The SQL of this source, for checks (`etlify check`).
    fn sql(&self) -> &str;
}

/// Wraps `sql` so that only `ids` are read: `WITH etlify_payload AS (<sql>)
/// SELECT * FROM etlify_payload WHERE <key> IN (…)`. The key column name is
/// quoted by sea-query; `sql` is the user's own query, run as written.
fn select_ids(
    store: &Store,
    sql: &str,
    key_column: &str,
    ids: &[ResourceId],
) -> (String, sea_query_sqlx::SqlxValues) {
    let mut select = Query::select();
    select
        .column(Asterisk)
        .from(Alias::new(SOURCE_ALIAS))
        .and_where(
            Expr::col((Alias::new(SOURCE_ALIAS), Alias::new(key_column)))
                .is_in(ids.iter().map(|id| id.get())),
        );
    let (filter, values) = store.build(&select);
    (
        format!("WITH \"{SOURCE_ALIAS}\" AS ({sql}) {filter}"),
        values,
    )
}

/// Post-processing of a SQL payload row, see [`SqlPayload::map`].
type PayloadMap = dyn Fn(Payload) -> Result<Payload, String> + Send + Sync;

/// A payload query: each column is a CRM property, and the key column
/// (default `id`) identifies the record.
///
/// ```
/// # use etlify::SqlPayload;
/// let payload = SqlPayload::new(
///     "SELECT users.id, users.email, users.full_name, companies.name AS company \
///      FROM users LEFT JOIN companies ON companies.id = users.company_id",
/// );
/// assert_eq!(payload.key_column_name(), "id");
/// ```
#[derive(Clone)]
pub struct SqlPayload {
    sql: String,
    key_column: String,
    key_in_payload: bool,
    map: Option<Arc<PayloadMap>>,
}

impl fmt::Debug for SqlPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlPayload")
            .field("sql", &self.sql)
            .field("key_column", &self.key_column)
            .field("key_in_payload", &self.key_in_payload)
            .field("map", &self.map.as_ref().map(|_| "<closure>"))
            .finish()
    }
}

impl SqlPayload {
    /// A payload read by `sql`; the record's key is the column `id`.
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            key_column: "id".to_owned(),
            key_in_payload: false,
            map: None,
        }
    }

    /// Names the column that holds the record's primary key.
    pub fn key_column(mut self, column: impl Into<String>) -> Self {
        self.key_column = column.into();
        self
    }

    /// Also sends the key column as a property (off by default).
    pub fn key_in_payload(mut self, keep: bool) -> Self {
        self.key_in_payload = keep;
        self
    }

    /// Post-processes each row's properties in Rust (rename, nest, compute).
    pub fn map(
        mut self,
        f: impl Fn(Payload) -> Result<Payload, String> + Send + Sync + 'static,
    ) -> Self {
        self.map = Some(Arc::new(f));
        self
    }

    /// The key column's name.
    pub fn key_column_name(&self) -> &str {
        &self.key_column
    }

    fn finish(&self, mut row: Payload) -> Result<(ResourceId, Result<Payload, String>)> {
        let key = match row.get(&self.key_column) {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .ok_or_else(|| {
            Error::Payload(format!(
                "payload query must return the integer key column `{}` for every row",
                self.key_column
            ))
        })?;
        if !self.key_in_payload {
            row.remove(&self.key_column);
        }
        let payload = match &self.map {
            Some(f) => f(row),
            None => Ok(row),
        };
        Ok((ResourceId(key), payload))
    }
}

#[async_trait]
impl PayloadSource for SqlPayload {
    async fn load(&self, store: &Store, ids: &[ResourceId]) -> Result<LoadedPayloads> {
        let mut loaded = LoadedPayloads::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(loaded);
        }
        let (sql, values) = select_ids(store, &self.sql, &self.key_column, ids);
        let rows = store.fetch_rows(sql, values).await?;
        let decoded: Vec<Result<Payload, String>> = match &rows {
            Rows::Sqlite(rows) => rows.iter().map(sqlite_row_to_json).collect(),
            Rows::Postgres(rows) => rows.iter().map(pg_row_to_json).collect(),
        };
        for row in decoded {
            // A column without a JSON mapping fails for every row alike: it
            // is a mistake in the query, not in one record.
            let row = row.map_err(Error::Payload)?;
            let (id, payload) = self.finish(row)?;
            loaded.insert(id, payload);
        }
        Ok(loaded)
    }

    fn key_column(&self) -> &str {
        &self.key_column
    }

    fn sql(&self) -> &str {
        &self.sql
    }
}

/// A payload built in Rust from a typed row: `sql` is decoded into `T`
/// (e.g. `#[derive(sqlx::FromRow)]`) and `f` turns it into properties.
///
/// ```
/// # use etlify::{Payload, RowPayload};
/// #[derive(sqlx::FromRow)]
/// struct UserRow { id: i64, email: String, first: String, last: String }
///
/// let source = RowPayload::new("SELECT id, email, first, last FROM users", |u: UserRow| {
///     let mut p = Payload::new();
///     p.insert("email".into(), u.email.into());
///     p.insert("full_name".into(), format!("{} {}", u.first, u.last).into());
///     Ok(p)
/// });
/// # let _ = source;
/// ```
pub struct RowPayload<T, F> {
    sql: String,
    key_column: String,
    build: F,
    row: PhantomData<fn() -> T>,
}

impl<T, F> fmt::Debug for RowPayload<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowPayload")
            .field("sql", &self.sql)
            .field("key_column", &self.key_column)
            .finish()
    }
}

impl<T, F> RowPayload<T, F>
where
    T: FromAnyRow,
    F: Fn(T) -> Result<Payload, String> + Send + Sync + 'static,
{
    /// Rows of `sql` (which must return the key column `id`) mapped by `build`.
    pub fn new(sql: impl Into<String>, build: F) -> Self {
        Self {
            sql: sql.into(),
            key_column: "id".to_owned(),
            build,
            row: PhantomData,
        }
    }

    /// Names the column that holds the record's primary key.
    pub fn key_column(mut self, column: impl Into<String>) -> Self {
        self.key_column = column.into();
        self
    }
}

#[async_trait]
impl<T, F> PayloadSource for RowPayload<T, F>
where
    T: FromAnyRow,
    F: Fn(T) -> Result<Payload, String> + Send + Sync + 'static,
{
    async fn load(&self, store: &Store, ids: &[ResourceId]) -> Result<LoadedPayloads> {
        let mut loaded = LoadedPayloads::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(loaded);
        }
        let (sql, values) = select_ids(store, &self.sql, &self.key_column, ids);
        let key_error = |e: sqlx::Error| {
            Error::Payload(format!(
                "payload query must return the integer key column `{}`: {e}",
                self.key_column
            ))
        };
        match store.fetch_rows(sql, values).await? {
            Rows::Sqlite(rows) => {
                for row in rows {
                    let id: i64 = row.try_get(self.key_column.as_str()).map_err(key_error)?;
                    let built = T::from_row(&row)
                        .map_err(|e| e.to_string())
                        .and_then(&self.build);
                    loaded.insert(ResourceId(id), built);
                }
            }
            Rows::Postgres(rows) => {
                for row in rows {
                    // `serial` keys are int4, `bigserial` keys int8.
                    let key = self.key_column.as_str();
                    let id: i64 = match row.try_get::<i64, _>(key) {
                        Ok(id) => id,
                        Err(_) => row
                            .try_get::<i32, _>(key)
                            .map(i64::from)
                            .map_err(key_error)?,
                    };
                    let built = T::from_row(&row)
                        .map_err(|e| e.to_string())
                        .and_then(&self.build);
                    loaded.insert(ResourceId(id), built);
                }
            }
        }
        Ok(loaded)
    }

    fn key_column(&self) -> &str {
        &self.key_column
    }

    fn sql(&self) -> &str {
        &self.sql
    }
}
