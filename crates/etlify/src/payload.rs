//! Payloads and where they come from: declarations only (loading rows is
//! the store's, `store/mod.rs` and `store/backend/`).
//!
//! A payload is the JSON object of CRM properties for one record. A
//! [`PayloadSource`] loads the payloads of many records in one query:
//! - [`SqlPayload`]: a `SELECT` whose columns are the properties (the CLI's way);
//! - [`RowPayload`]: a `SELECT` decoded into a typed row, mapped by a Rust closure;
//! - your own type: implement [`PayloadSource`] with the store's public
//!   queries ([`Store::select_json_by_ids`], [`Store::select_rows_by_ids`],
//!   or its sqlx pools).

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::id::ResourceId;
use crate::store::{FromAnyRow, Store};
pub(crate) use crate::values::Payload;
use crate::values::{ColumnMapping, ColumnType, Rendering};

/// Payloads of a batch, by record id. A record missing from the map was not
/// found; an `Err` is a failure attributable to that record only.
pub type LoadedPayloads = HashMap<ResourceId, Result<Payload, String>>;

/// Loads the payloads of many records of one model in one round trip.
///
/// Implementable outside this crate: everything a source needs is public
/// on [`Store`]. For example, a source that adds a computed property to a
/// SQL payload:
///
/// ```
/// use async_trait::async_trait;
/// use etlify::{LoadedPayloads, PayloadSource, ResourceId, Store};
///
/// #[derive(Debug)]
/// struct Greeting;
///
/// #[async_trait]
/// impl PayloadSource for Greeting {
///     async fn load(&self, store: &Store, ids: &[ResourceId]) -> etlify::Result<LoadedPayloads> {
///         let rows = store
///             .select_json_by_ids("SELECT id, full_name FROM users", "id", ids)
///             .await?;
///         let mut loaded = LoadedPayloads::new();
///         for row in rows {
///             let mut row = row.map_err(etlify::Error::payload)?;
///             let Some(id) = row.remove("id").and_then(|id| id.as_i64()) else {
///                 continue;
///             };
///             let name = row.get("full_name").and_then(|n| n.as_str()).unwrap_or("");
///             row.insert("greeting".into(), format!("Hello, {name}").into());
///             loaded.insert(ResourceId::new(id), Ok(row));
///         }
///         Ok(loaded)
///     }
///
///     fn key_column(&self) -> &str {
///         "id"
///     }
/// }
/// # async fn run() -> etlify::Result<()> {
/// # let store = Store::connect("sqlite::memory:").await?;
/// # sqlx::query("CREATE TABLE users (id integer primary key, full_name text)")
/// #     .execute(store.sqlite_pool().unwrap()).await?;
/// # sqlx::query("INSERT INTO users VALUES (1, 'Ada')").execute(store.sqlite_pool().unwrap()).await?;
/// let loaded = Greeting.load(&store, &[ResourceId::new(1)]).await?;
/// let payload = loaded[&ResourceId::new(1)].as_ref().unwrap();
/// assert_eq!(payload["greeting"], "Hello, Ada");
/// # Ok(())
/// # }
/// # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
/// ```
#[async_trait]
pub trait PayloadSource: Send + Sync + fmt::Debug {
    /// Payloads of `ids`. A query-level failure (bad SQL) is an `Err` for the
    /// whole batch; a failure of one record is an `Err` entry in the map.
    async fn load(&self, store: &Store, ids: &[ResourceId]) -> Result<LoadedPayloads>;

    /// The column that identifies the record in this source's rows (named
    /// in configuration errors).
    fn key_column(&self) -> &str;

    /// The CRM properties this source sends, when it can tell without
    /// reading data; `build()` checks the binding's id property against
    /// them. `None` (the default) skips that check.
    async fn properties(&self, store: &Store) -> Result<Option<Vec<String>>> {
        let _ = store;
        Ok(None)
    }

    /// The column types and renderings declared for the properties, when
    /// the source has them (the schema check compares the declared types
    /// with the CRM's). `None` (the default): nothing declared.
    fn column_mapping(&self) -> Option<&ColumnMapping> {
        None
    }
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
/// assert_eq!(payload.get_key_column(), "id");
/// ```
#[derive(Clone)]
pub struct SqlPayload {
    sql: String,
    key_column: String,
    key_in_payload: bool,
    mapping: ColumnMapping,
    map: Option<Arc<PayloadMap>>,
}

impl fmt::Debug for SqlPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlPayload")
            .field("sql", &self.sql)
            .field("key_column", &self.key_column)
            .field("key_in_payload", &self.key_in_payload)
            .field("mapping", &self.mapping)
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
            mapping: ColumnMapping::default(),
            map: None,
        }
    }

    /// Declares what `column` holds, where the database cannot tell (JSON
    /// in text, an expression): see [`ColumnType`].
    pub fn column_type(mut self, column: impl Into<String>, column_type: ColumnType) -> Self {
        self.mapping = self.mapping.column_type(column, column_type);
        self
    }

    /// How decimals and timestamps are written (default ISO 8601; `Rails`
    /// to keep the digests of a database the gem synced).
    pub fn rendering(mut self, rendering: Rendering) -> Self {
        self.mapping = self.mapping.rendering(rendering);
        self
    }

    /// The rendering of one column, overriding the payload's.
    pub fn column_rendering(mut self, column: impl Into<String>, rendering: Rendering) -> Self {
        self.mapping = self.mapping.column_rendering(column, rendering);
        self
    }

    /// Column types and renderings.
    pub fn get_mapping(&self) -> &ColumnMapping {
        &self.mapping
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

    /// The SQL query, as written.
    pub fn get_sql(&self) -> &str {
        &self.sql
    }

    /// The key column's name.
    pub fn get_key_column(&self) -> &str {
        &self.key_column
    }

    /// The row's key (`read` when the store read it from the key column,
    /// of the kind the rows were asked for) and its payload.
    fn finish(
        &self,
        mut row: Payload,
        read: Option<ResourceId>,
    ) -> Result<(ResourceId, Result<Payload, String>)> {
        let key = read
            .or_else(|| match row.get(&self.key_column) {
                Some(Value::Number(n)) => n.as_i64().map(ResourceId::new),
                Some(Value::String(s)) => s.parse().ok().map(ResourceId::new),
                _ => None,
            })
            .ok_or_else(|| {
                Error::payload(format!(
                    "payload query must return the key column `{}` for every row",
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
        Ok((key, payload))
    }
}

#[async_trait]
impl PayloadSource for SqlPayload {
    async fn load(&self, store: &Store, ids: &[ResourceId]) -> Result<LoadedPayloads> {
        let mut loaded = LoadedPayloads::with_capacity(ids.len());
        let rows = store
            .select_payloads_by_ids(&self.sql, &self.key_column, ids, &self.mapping)
            .await?;
        for (key, row) in rows {
            match (key, row) {
                (key, Ok(row)) => {
                    let (id, payload) = self.finish(row, key)?;
                    loaded.insert(id, payload);
                }
                // A value that does not fit: that record fails, the others go on.
                (Some(id), Err(message)) => {
                    loaded.insert(id, Err(message));
                }
                // A row without a readable key, or a column without a JSON
                // mapping: a mistake in the query, the same for every row.
                (None, Err(message)) => return Err(Error::payload(message)),
            }
        }
        Ok(loaded)
    }

    fn key_column(&self) -> &str {
        &self.key_column
    }

    /// The query's columns (minus the key unless it is sent), refusing a
    /// column whose type has no JSON mapping before any row is read.
    async fn properties(&self, store: &Store) -> Result<Option<Vec<String>>> {
        let mut properties = Vec::new();
        for (column, supported) in store.describe_columns(&self.sql).await? {
            if let Err(type_name) = supported {
                return Err(Error::payload(crate::store::json_value::unsupported(
                    &column, &type_name,
                )));
            }
            if self.key_in_payload || column != self.key_column {
                properties.push(column);
            }
        }
        // A `map` closure may rename or add properties: not known here.
        Ok(self.map.is_none().then_some(properties))
    }

    fn column_mapping(&self) -> Option<&ColumnMapping> {
        Some(&self.mapping)
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
        let rows = store
            .select_rows_by_ids::<T>(&self.sql, &self.key_column, ids)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, row)| (id, row.and_then(&self.build)))
            .collect())
    }

    fn key_column(&self) -> &str {
        &self.key_column
    }
}
