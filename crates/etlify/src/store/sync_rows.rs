//! Reads and writes of `crm_synchronisations` rows.
//!
//! Every write is an `INSERT … ON CONFLICT (crm_name, resource_type,
//! resource_id) DO UPDATE`, one statement per batch of rows of the same
//! kind, so the single-record path and the batch path share one code path
//! and a failed run never leaves a half-written row. The statement is
//! built here once ([`upsert_statement`]); how the rows are fed to it is the
//! backend's (`backend/sqlite.rs`: `VALUES`, `backend/postgres.rs`: arrays).

use sea_query::{
    Cond, Condition, Expr, ExprTrait, Iden, InsertStatement, OnConflict, Query, Value,
};
use sqlx::FromRow;

use super::backend::Dialect;
use super::{Store, Timestamp};
use crate::error::Result;
use crate::id::{ResourceId, SyncKey};

/// Longest `last_error` kept, in characters (X-6).
pub(crate) const MAX_LAST_ERROR_CHARS: usize = 2_000;

#[derive(Iden, Clone, Copy)]
pub(crate) enum CrmSynchronisations {
    Table,
    Id,
    CrmId,
    ResourceType,
    ResourceId,
    LastDigest,
    FieldDigests,
    LastSyncedAt,
    LastError,
    CrmName,
    ErrorCount,
    CreatedAt,
    UpdatedAt,
}

use CrmSynchronisations as Cs;

/// One row of `crm_synchronisations`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SyncRow {
    /// Row id.
    pub id: i64,
    /// The object's id in the CRM, once known.
    pub crm_id: Option<String>,
    /// Declared resource type.
    pub resource_type: String,
    /// Primary key of the record.
    pub resource_id: ResourceId,
    /// Digest of the last payload the CRM accepted.
    pub last_digest: Option<String>,
    /// Short digests of that payload's fields (which fields changed since;
    /// no value is kept). `None` for rows synced before etlify kept them.
    pub field_digests: Option<String>,
    /// When the record was last found in sync (database time before the read).
    pub last_synced_at: Option<Timestamp>,
    /// Message of the last failure, cleared on success.
    pub last_error: Option<String>,
    /// CRM name.
    pub crm_name: String,
    /// Consecutive failures.
    pub error_count: i64,
}

/// What happened to a record, as far as its sync row is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RowChange {
    /// The CRM accepted the payload: store its id (when given) and digest.
    Synced {
        crm_id: Option<String>,
        digest: String,
        field_digests: String,
        at: Timestamp,
    },
    /// Nothing to send (same digest) or not eligible (guard false): the
    /// record is in sync as of `at`; errors are cleared (X-12). The field
    /// digests of an unchanged payload, when known, fill a row that has
    /// none (one synced by the Rails gem).
    Checked {
        at: Timestamp,
        field_digests: Option<String>,
    },
    /// A failure attributable to the record.
    Failed { message: String },
    /// Like `Synced`, for a row that exists, holds no error and keeps its
    /// CRM id (`crm_id`, written only if the row vanished meanwhile): only
    /// its digests and time are written. Fewer columns written is fewer
    /// index entries rewritten: the CRM id's index is left alone, the
    /// scattered writes of a run after a small change cost about a third
    /// less (docs/BENCHMARKS.md).
    Resynced {
        crm_id: Option<String>,
        digest: String,
        field_digests: String,
        at: Timestamp,
    },
    /// Like `Checked`, for a row that exists, holds no error and has its
    /// field digests: only its time is written.
    Rechecked { at: Timestamp },
}

impl RowChange {
    fn rank(&self) -> u8 {
        match self {
            RowChange::Synced { .. } => 0,
            RowChange::Checked { .. } => 1,
            RowChange::Failed { .. } => 2,
            RowChange::Resynced { .. } => 3,
            RowChange::Rechecked { .. } => 4,
        }
    }
}

/// Truncates an error message to [`MAX_LAST_ERROR_CHARS`].
pub(crate) fn truncate_error(message: &str) -> String {
    match message.char_indices().nth(MAX_LAST_ERROR_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

const ROW_COLUMNS: [Cs; 9] = [
    Cs::Id,
    Cs::CrmId,
    Cs::ResourceType,
    Cs::ResourceId,
    Cs::LastDigest,
    Cs::FieldDigests,
    Cs::LastSyncedAt,
    Cs::LastError,
    Cs::CrmName,
];

/// `SELECT <every SyncRow column> FROM crm_synchronisations`, to filter.
fn rows_select() -> sea_query::SelectStatement {
    let mut select = Query::select();
    select
        .columns(ROW_COLUMNS)
        .expr_as(Expr::col(Cs::ErrorCount).cast_as("bigint"), Cs::ErrorCount)
        .from(Cs::Table);
    select
}

/// `UPDATE crm_synchronisations SET` no error, no error count, to filter.
fn clear_errors(store: &Store) -> sea_query::UpdateStatement {
    let mut update = Query::update();
    update.table(Cs::Table).values([
        (Cs::ErrorCount, Expr::val(0)),
        (Cs::LastError, Expr::val(Option::<String>::None)),
        (Cs::UpdatedAt, store.dialect().now()),
    ]);
    update
}

/// The sync row of `key`, if any.
pub(crate) async fn find(store: &Store, key: &SyncKey) -> Result<Option<SyncRow>> {
    let mut select = rows_select();
    select
        .and_where(Expr::col(Cs::CrmName).eq(key.crm_name.as_str()))
        .and_where(Expr::col(Cs::ResourceType).eq(key.resource_type.as_str()))
        .and_where(Expr::col(Cs::ResourceId).eq(key.resource_id.value()));
    let (sql, values) = store.build(&select);
    Ok(store
        .fetch_all::<SyncRow>(sql, values)
        .await?
        .into_iter()
        .next())
}

/// The record whose sync row with `crm_name` claims `crm_id` for
/// `resource_type`, if any (who holds an id another record was given).
pub(crate) async fn holder_of(
    store: &Store,
    crm_name: &str,
    resource_type: &str,
    crm_id: &str,
) -> Result<Option<ResourceId>> {
    let mut select = Query::select();
    select
        .expr(Expr::col(Cs::ResourceId).cast_as("bigint"))
        .from(Cs::Table)
        .and_where(Expr::col(Cs::CrmName).eq(crm_name))
        .and_where(Expr::col(Cs::ResourceType).eq(resource_type))
        .and_where(Expr::col(Cs::CrmId).eq(crm_id))
        .limit(1);
    let (sql, values) = store.build(&select);
    Ok(store
        .fetch_all::<(ResourceId,)>(sql, values)
        .await?
        .into_iter()
        .next()
        .map(|(id,)| id))
}

/// Applies `changes`, one upsert statement per kind of change (and chunk,
/// where the backend needs it).
pub(crate) async fn write(store: &Store, changes: &[(SyncKey, RowChange)]) -> Result<()> {
    for rank in 0..5u8 {
        let group: Vec<&(SyncKey, RowChange)> =
            changes.iter().filter(|(_, c)| c.rank() == rank).collect();
        if !group.is_empty() {
            store.backend().upsert_sync_rows(&group).await?;
        }
    }
    Ok(())
}

/// The columns an upsert writes, in order.
pub(crate) const UPSERT_COLUMNS: [Cs; 11] = [
    Cs::CrmName,
    Cs::ResourceType,
    Cs::ResourceId,
    Cs::CrmId,
    Cs::LastDigest,
    Cs::FieldDigests,
    Cs::LastSyncedAt,
    Cs::LastError,
    Cs::ErrorCount,
    Cs::CreatedAt,
    Cs::UpdatedAt,
];

/// `INSERT INTO crm_synchronisations (UPSERT_COLUMNS)`, without rows: a
/// plain insert, or the start of [`upsert_statement`].
pub(crate) fn insert_statement() -> InsertStatement {
    let mut insert = Query::insert();
    insert.into_table(Cs::Table).columns(UPSERT_COLUMNS);
    insert
}

/// Adds the values of `rows` to `insert` (of [`UPSERT_COLUMNS`]), each
/// row's times written as `written_at`.
pub(crate) fn add_rows(
    insert: &mut InsertStatement,
    dialect: &dyn Dialect,
    rows: &[&(SyncKey, RowChange)],
    written_at: &Value,
) {
    for (key, change) in rows {
        insert
            .values(row_values(dialect, key, change, written_at))
            // Internal invariant: one value per column.
            .expect("values match the column list");
    }
}

/// `INSERT INTO crm_synchronisations (UPSERT_COLUMNS) … ON CONFLICT
/// (crm_name, resource_type, resource_id) DO UPDATE …` for rows carrying the
/// same kind of change as `kind`; the backend adds the rows.
///
/// - synced: CRM id (kept when the CRM gave none), digest, time; errors cleared;
/// - checked: time; errors cleared (X-12);
/// - failed: the message, and one more consecutive error.
pub(crate) fn upsert_statement(dialect: &dyn Dialect, kind: &RowChange) -> InsertStatement {
    let mut insert = insert_statement();
    let mut on_conflict = OnConflict::columns([Cs::CrmName, Cs::ResourceType, Cs::ResourceId]);
    match kind {
        RowChange::Synced { .. } => on_conflict
            .value(
                Cs::CrmId,
                Expr::cust(format!(
                    r#"COALESCE({}, "crm_synchronisations"."crm_id")"#,
                    dialect.excluded("crm_id")
                )),
            )
            .update_columns([
                Cs::LastDigest,
                Cs::FieldDigests,
                Cs::LastSyncedAt,
                Cs::LastError,
                Cs::ErrorCount,
            ]),
        RowChange::Checked { .. } => on_conflict
            .value(
                Cs::FieldDigests,
                Expr::cust(format!(
                    r#"COALESCE({}, "crm_synchronisations"."field_digests")"#,
                    dialect.excluded("field_digests")
                )),
            )
            .update_columns([Cs::LastSyncedAt, Cs::LastError, Cs::ErrorCount]),
        RowChange::Failed { .. } => on_conflict.update_column(Cs::LastError).value(
            Cs::ErrorCount,
            Expr::cust(r#""crm_synchronisations"."error_count" + 1"#),
        ),
        RowChange::Resynced { .. } => {
            on_conflict.update_columns([Cs::LastDigest, Cs::FieldDigests, Cs::LastSyncedAt])
        }
        RowChange::Rechecked { .. } => on_conflict.update_column(Cs::LastSyncedAt),
    };
    on_conflict.update_column(Cs::UpdatedAt);
    insert.on_conflict(on_conflict);
    insert
}

/// The values of one upserted row, in [`UPSERT_COLUMNS`] order;
/// `written_at` fills `created_at` and `updated_at`.
fn row_values(
    dialect: &dyn Dialect,
    key: &SyncKey,
    change: &RowChange,
    written_at: &Value,
) -> [Expr; 11] {
    let fields = RowFields::of(change);
    [
        Expr::val(key.crm_name.as_str()),
        Expr::val(key.resource_type.as_str()),
        Expr::val(key.resource_id.value()),
        Expr::val(fields.crm_id),
        Expr::val(fields.digest),
        Expr::val(fields.field_digests),
        Expr::val(match fields.at {
            Some(at) => dialect.timestamp_value(at),
            None => dialect.null_timestamp(),
        }),
        Expr::val(fields.error),
        Expr::val(fields.error_count),
        Expr::val(written_at.clone()),
        Expr::val(written_at.clone()),
    ]
}

/// What a change writes into the columns that vary.
struct RowFields {
    crm_id: Option<String>,
    digest: Option<String>,
    field_digests: Option<String>,
    at: Option<Timestamp>,
    error: Option<String>,
    error_count: i32,
}

impl RowFields {
    fn of(change: &RowChange) -> Self {
        match change {
            RowChange::Synced {
                crm_id,
                digest,
                field_digests,
                at,
            }
            | RowChange::Resynced {
                crm_id,
                digest,
                field_digests,
                at,
            } => Self {
                crm_id: crm_id.clone(),
                digest: Some(digest.clone()),
                field_digests: Some(field_digests.clone()),
                at: Some(*at),
                error: None,
                error_count: 0,
            },
            RowChange::Checked { at, field_digests } => Self {
                crm_id: None,
                digest: None,
                field_digests: field_digests.clone(),
                at: Some(*at),
                error: None,
                error_count: 0,
            },
            RowChange::Rechecked { at } => Self {
                crm_id: None,
                digest: None,
                field_digests: None,
                at: Some(*at),
                error: None,
                error_count: 0,
            },
            RowChange::Failed { message } => Self {
                crm_id: None,
                digest: None,
                field_digests: None,
                at: None,
                error: Some(truncate_error(message)),
                error_count: 1,
            },
        }
    }
}

/// Upserted rows column by column, for backends that bind arrays.
pub(crate) struct RowColumns {
    pub crm_names: Vec<String>,
    pub resource_types: Vec<String>,
    pub resource_ids: Vec<ResourceId>,
    pub crm_ids: Vec<Option<String>>,
    pub digests: Vec<Option<String>>,
    pub field_digests: Vec<Option<String>>,
    pub synced_at: Vec<Option<Timestamp>>,
    pub errors: Vec<Option<String>>,
    pub error_counts: Vec<i32>,
}

impl RowColumns {
    pub(crate) fn of(rows: &[&(SyncKey, RowChange)]) -> Self {
        let mut columns = Self {
            crm_names: Vec::with_capacity(rows.len()),
            resource_types: Vec::with_capacity(rows.len()),
            resource_ids: Vec::with_capacity(rows.len()),
            crm_ids: Vec::with_capacity(rows.len()),
            digests: Vec::with_capacity(rows.len()),
            field_digests: Vec::with_capacity(rows.len()),
            synced_at: Vec::with_capacity(rows.len()),
            errors: Vec::with_capacity(rows.len()),
            error_counts: Vec::with_capacity(rows.len()),
        };
        for (key, change) in rows {
            let fields = RowFields::of(change);
            columns.crm_names.push(key.crm_name.clone());
            columns.resource_types.push(key.resource_type.clone());
            columns.resource_ids.push(key.resource_id.clone());
            columns.crm_ids.push(fields.crm_id);
            columns.digests.push(fields.digest);
            columns.field_digests.push(fields.field_digests);
            columns.synced_at.push(fields.at);
            columns.errors.push(fields.error);
            columns.error_counts.push(fields.error_count);
        }
        columns
    }
}

/// After a remote delete: the row no longer claims a CRM object or digest,
/// so a later sync creates the object again (X-11).
pub(crate) async fn forget_remote(store: &Store, key: &SyncKey) -> Result<()> {
    let mut update = Query::update();
    update
        .table(Cs::Table)
        .values([
            (Cs::CrmId, Expr::val(Option::<String>::None)),
            (Cs::LastDigest, Expr::val(Option::<String>::None)),
            (Cs::FieldDigests, Expr::val(Option::<String>::None)),
            (Cs::UpdatedAt, store.dialect().now()),
        ])
        .and_where(key_condition(key));
    let (sql, values) = store.build(&update);
    store.execute(sql, values).await?;
    Ok(())
}

/// After an archive: removes the rows of `crm` and `resource_type` whose
/// record left the application, each only while it still holds the CRM id
/// that was archived (a row a concurrent sync rewrote stays). Returns how
/// many were removed.
pub(crate) async fn remove_archived(
    store: &Store,
    crm_name: &str,
    resource_type: &str,
    archived: &[(ResourceId, String)],
) -> Result<u64> {
    if archived.is_empty() {
        return Ok(0);
    }
    let mut delete = Query::delete();
    delete
        .from_table(Cs::Table)
        .cond_where(of_crm(crm_name, Some(resource_type)))
        .cond_where(holding(archived));
    let (sql, values) = store.build(&delete);
    store.execute(sql, values).await
}

/// After an archive of records whose rows remain in the table (out of
/// scope, marked deleted): their sync rows stay, no longer claiming a CRM
/// object or digest, each only while it still holds the archived CRM id.
/// A record that comes back is then a change like any other, and is
/// created anew. Returns how many rows changed.
pub(crate) async fn forget_archived(
    store: &Store,
    crm_name: &str,
    resource_type: &str,
    archived: &[(ResourceId, String)],
) -> Result<u64> {
    if archived.is_empty() {
        return Ok(0);
    }
    let mut update = Query::update();
    update
        .table(Cs::Table)
        .values([
            (Cs::CrmId, Expr::val(Option::<String>::None)),
            (Cs::LastDigest, Expr::val(Option::<String>::None)),
            (Cs::FieldDigests, Expr::val(Option::<String>::None)),
            (Cs::UpdatedAt, store.dialect().now()),
        ])
        .cond_where(of_crm(crm_name, Some(resource_type)))
        .cond_where(holding(archived));
    let (sql, values) = store.build(&update);
    store.execute(sql, values).await
}

/// Rows of these records, each still holding the given CRM id. The
/// `resource_id IN (…)` restates the pairs so that SQLite uses its unique
/// index (without it, it walked every sync row of the binding per chunk:
/// 1.86 s a chunk at a million rows, docs/BENCHMARKS.md).
fn holding(archived: &[(ResourceId, String)]) -> Condition {
    let mut matching = Cond::any();
    for (id, crm_id) in archived {
        matching = matching.add(
            Expr::col(Cs::ResourceId)
                .eq(id.value())
                .and(Expr::col(Cs::CrmId).eq(crm_id.as_str())),
        );
    }
    Cond::all()
        .add(Expr::col(Cs::ResourceId).is_in(archived.iter().map(|(id, _)| id.value())))
        .add(matching)
}

/// Clears the error budget of one row (G-16). Returns whether a row existed.
pub(crate) async fn reset_error_count(store: &Store, key: &SyncKey) -> Result<bool> {
    let mut update = clear_errors(store);
    update.and_where(key_condition(key));
    let (sql, values) = store.build(&update);
    Ok(store.execute(sql, values).await? > 0)
}

/// Rows of records with errors (`error_count > 0`), newest first,
/// restricted to a CRM and a resource type when given.
pub(crate) async fn failing(
    store: &Store,
    crm_name: Option<&str>,
    resource_type: Option<&str>,
    limit: u64,
) -> Result<Vec<SyncRow>> {
    failing_page(store, crm_name, resource_type, 0, limit).await
}

/// [`failing`] from the `offset`-th row on: rows updated at the same time
/// are ordered by their key, so that pages neither repeat nor skip a row.
pub(crate) async fn failing_page(
    store: &Store,
    crm_name: Option<&str>,
    resource_type: Option<&str>,
    offset: u64,
    limit: u64,
) -> Result<Vec<SyncRow>> {
    let mut select = rows_select();
    select
        .and_where(Expr::col(Cs::ErrorCount).gt(0))
        .order_by(Cs::UpdatedAt, sea_query::Order::Desc)
        .order_by(Cs::CrmName, sea_query::Order::Asc)
        .order_by(Cs::ResourceType, sea_query::Order::Asc)
        .order_by(Cs::ResourceId, sea_query::Order::Asc)
        .limit(limit)
        .offset(offset);
    if let Some(crm) = crm_name {
        select.and_where(Expr::col(Cs::CrmName).eq(crm));
    }
    if let Some(resource_type) = resource_type {
        select.and_where(Expr::col(Cs::ResourceType).eq(resource_type));
    }
    let (sql, values) = store.build(&select);
    store.fetch_all::<SyncRow>(sql, values).await
}

/// Clears the error budget of the failing rows selected (all of a CRM, of
/// a type, or these ids); returns how many rows were reset.
pub(crate) async fn reset_errors(
    store: &Store,
    crm_name: Option<&str>,
    resource_type: Option<&str>,
    ids: &[crate::id::ResourceId],
) -> Result<u64> {
    let mut update = clear_errors(store);
    update.and_where(Expr::col(Cs::ErrorCount).gt(0));
    if let Some(crm) = crm_name {
        update.and_where(Expr::col(Cs::CrmName).eq(crm));
    }
    if let Some(resource_type) = resource_type {
        update.and_where(Expr::col(Cs::ResourceType).eq(resource_type));
    }
    if !ids.is_empty() {
        update.and_where(store.dialect().id_in(Expr::col(Cs::ResourceId), ids));
    }
    let (sql, values) = store.build(&update);
    store.execute(sql, values).await
}

/// Deletes the rows of `crm_name` (of one resource type, or all); returns
/// how many.
pub(crate) async fn forget(
    store: &Store,
    crm_name: &str,
    resource_type: Option<&str>,
) -> Result<u64> {
    let mut delete = Query::delete();
    delete
        .from_table(Cs::Table)
        .cond_where(of_crm(crm_name, resource_type));
    let (sql, values) = store.build(&delete);
    store.execute(sql, values).await
}

/// How many rows [`forget`] would delete.
pub(crate) async fn count_of_crm(
    store: &Store,
    crm_name: &str,
    resource_type: Option<&str>,
) -> Result<u64> {
    let mut select = Query::select();
    select
        .expr(Expr::col(Cs::Id).count().cast_as("bigint"))
        .from(Cs::Table)
        .cond_where(of_crm(crm_name, resource_type));
    let (sql, values) = store.build(&select);
    let rows: Vec<(i64,)> = store.fetch_all(sql, values).await?;
    Ok(rows
        .first()
        .map_or(0, |(n,)| u64::try_from(*n).unwrap_or(0)))
}

/// The rows of `crm_name`, of `resource_type` only when given.
fn of_crm(crm_name: &str, resource_type: Option<&str>) -> Condition {
    let crm = Cond::all().add(Expr::col(Cs::CrmName).eq(crm_name));
    match resource_type {
        Some(resource_type) => crm.add(Expr::col(Cs::ResourceType).eq(resource_type)),
        None => crm,
    }
}

fn key_condition(key: &SyncKey) -> Expr {
    Expr::col(Cs::CrmName)
        .eq(key.crm_name.as_str())
        .and(Expr::col(Cs::ResourceType).eq(key.resource_type.as_str()))
        .and(Expr::col(Cs::ResourceId).eq(key.resource_id.value()))
}

/// Sync rows of many records of one CRM and resource type, in one query.
pub(crate) async fn find_many(
    store: &Store,
    crm_name: &str,
    resource_type: &str,
    ids: &[ResourceId],
) -> Result<Vec<SyncRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut select = rows_select();
    select
        .and_where(Expr::col(Cs::CrmName).eq(crm_name))
        .and_where(Expr::col(Cs::ResourceType).eq(resource_type))
        .and_where(store.dialect().id_in(Expr::col(Cs::ResourceId), ids));
    let (sql, values) = store.build(&select);
    store.fetch_all::<SyncRow>(sql, values).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_errors_are_truncated_on_a_char_boundary() {
        let long = "é".repeat(MAX_LAST_ERROR_CHARS + 10);
        let cut = truncate_error(&long);
        assert_eq!(cut.chars().count(), MAX_LAST_ERROR_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate_error("short"), "short");
    }
}
