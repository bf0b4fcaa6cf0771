//! Reads and writes of `crm_synchronisations` rows.
//!
//! Every write is an `INSERT … ON CONFLICT (crm_name, resource_type,
//! resource_id) DO UPDATE`, one statement per batch of rows of the same
//! kind, so the single-record path and the batch path share one code path
//! and a failed run never leaves a half-written row.

use sea_query::{Expr, ExprTrait, Iden, OnConflict, Query};
use sqlx::FromRow;

use super::dialect::{now_expr, null_timestamp, timestamp_value};
use super::{Pool, Store, Timestamp};
use crate::error::Result;
use crate::id::SyncKey;

/// Longest `last_error` kept, in characters (X-6).
pub const MAX_LAST_ERROR_CHARS: usize = 2_000;

/// Rows written per statement.
const WRITE_CHUNK: usize = 500;

#[derive(Iden, Clone, Copy)]
pub(crate) enum CrmSynchronisations {
    Table,
    Id,
    CrmId,
    ResourceType,
    ResourceId,
    LastDigest,
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
    pub resource_id: i64,
    /// Digest of the last payload the CRM accepted.
    pub last_digest: Option<String>,
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
        at: Timestamp,
    },
    /// Nothing to send (same digest) or not eligible (guard false): the
    /// record is in sync as of `at`; errors are cleared (X-12).
    Checked { at: Timestamp },
    /// A failure attributable to the record.
    Failed { message: String },
}

impl RowChange {
    fn rank(&self) -> u8 {
        match self {
            RowChange::Synced { .. } => 0,
            RowChange::Checked { .. } => 1,
            RowChange::Failed { .. } => 2,
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

const ROW_COLUMNS: [Cs; 8] = [
    Cs::Id,
    Cs::CrmId,
    Cs::ResourceType,
    Cs::ResourceId,
    Cs::LastDigest,
    Cs::LastSyncedAt,
    Cs::LastError,
    Cs::CrmName,
];

/// The sync row of `key`, if any.
pub(crate) async fn find(store: &Store, key: &SyncKey) -> Result<Option<SyncRow>> {
    let mut select = Query::select();
    select
        .columns(ROW_COLUMNS)
        .expr_as(Expr::col(Cs::ErrorCount).cast_as("bigint"), Cs::ErrorCount)
        .from(Cs::Table)
        .and_where(Expr::col(Cs::CrmName).eq(key.crm_name.as_str()))
        .and_where(Expr::col(Cs::ResourceType).eq(key.resource_type.as_str()))
        .and_where(Expr::col(Cs::ResourceId).eq(key.resource_id.get()));
    let (sql, values) = store.build(&select);
    Ok(store
        .fetch_all::<SyncRow>(sql, values)
        .await?
        .into_iter()
        .next())
}

/// Applies `changes`, one upsert statement per kind of change and chunk.
pub(crate) async fn write(store: &Store, changes: &[(SyncKey, RowChange)]) -> Result<()> {
    for rank in 0..3u8 {
        let group: Vec<&(SyncKey, RowChange)> =
            changes.iter().filter(|(_, c)| c.rank() == rank).collect();
        if group.is_empty() {
            continue;
        }
        if let Pool::Postgres(pool) = store.pool() {
            // One array-bound statement: parse and bind cost no longer
            // grow with the number of rows.
            write_unnest(pool, &group).await?;
            continue;
        }
        for chunk in group.chunks(WRITE_CHUNK) {
            write_chunk(store, chunk).await?;
        }
    }
    Ok(())
}

/// PostgreSQL: `INSERT … SELECT FROM UNNEST($1, …) ON CONFLICT …` with one
/// array per column. Same semantics as [`write_chunk`].
async fn write_unnest(pool: &sqlx::PgPool, group: &[&(SyncKey, RowChange)]) -> Result<()> {
    let Some((_, first)) = group.first() else {
        return Ok(());
    };
    let mut crm_names = Vec::with_capacity(group.len());
    let mut types = Vec::with_capacity(group.len());
    let mut ids = Vec::with_capacity(group.len());
    let mut crm_ids: Vec<Option<String>> = Vec::with_capacity(group.len());
    let mut digests: Vec<Option<String>> = Vec::with_capacity(group.len());
    let mut synced_at: Vec<Option<Timestamp>> = Vec::with_capacity(group.len());
    let mut errors: Vec<Option<String>> = Vec::with_capacity(group.len());
    for (key, change) in group {
        crm_names.push(key.crm_name.clone());
        types.push(key.resource_type.clone());
        ids.push(key.resource_id.get());
        let (crm_id, digest, at, error) = match change {
            RowChange::Synced { crm_id, digest, at } => {
                (crm_id.clone(), Some(digest.clone()), Some(*at), None)
            }
            RowChange::Checked { at } => (None, None, Some(*at), None),
            RowChange::Failed { message } => (None, None, None, Some(truncate_error(message))),
        };
        crm_ids.push(crm_id);
        digests.push(digest);
        synced_at.push(at);
        errors.push(error);
    }
    let sql: &'static str = match first {
        RowChange::Synced { .. } => PG_UPSERT_SYNCED,
        RowChange::Checked { .. } => PG_UPSERT_CHECKED,
        RowChange::Failed { .. } => PG_UPSERT_FAILED,
    };
    sqlx::query(sql)
        .bind(crm_names)
        .bind(types)
        .bind(ids)
        .bind(crm_ids)
        .bind(digests)
        .bind(synced_at)
        .bind(errors)
        .persistent(false)
        .execute(pool)
        .await?;
    Ok(())
}

const PG_FIND_MANY: &str = r#"SELECT "id", "crm_id", "resource_type", "resource_id", "last_digest", "last_synced_at", "last_error", "crm_name", CAST("error_count" AS bigint) AS "error_count"
FROM "crm_synchronisations" WHERE "crm_name" = $1 AND "resource_type" = $2 AND "resource_id" = ANY($3::int8[])"#;

/// The shared head of the PostgreSQL array upserts.
macro_rules! pg_unnest_upsert {
    ($set:literal) => {
        concat!(
            r#"INSERT INTO "crm_synchronisations" ("crm_name", "resource_type", "resource_id", "crm_id", "last_digest", "last_synced_at", "last_error", "error_count", "created_at", "updated_at")
SELECT t.crm_name, t.resource_type, t.resource_id, t.crm_id, t.last_digest, t.last_synced_at, t.last_error,
       CASE WHEN t.last_error IS NULL THEN 0 ELSE 1 END, (clock_timestamp() AT TIME ZONE 'UTC'), (clock_timestamp() AT TIME ZONE 'UTC')
FROM UNNEST($1::varchar[], $2::varchar[], $3::int8[], $4::varchar[], $5::varchar[], $6::timestamp[], $7::text[])
     AS t(crm_name, resource_type, resource_id, crm_id, last_digest, last_synced_at, last_error)
ON CONFLICT ("crm_name", "resource_type", "resource_id") DO UPDATE SET "#,
            $set
        )
    };
}

const PG_UPSERT_SYNCED: &str = pg_unnest_upsert!(
    r#""crm_id" = COALESCE("excluded"."crm_id", "crm_synchronisations"."crm_id"), "last_digest" = "excluded"."last_digest", "last_synced_at" = "excluded"."last_synced_at", "last_error" = NULL, "error_count" = 0, "updated_at" = "excluded"."updated_at""#
);
const PG_UPSERT_CHECKED: &str = pg_unnest_upsert!(
    r#""last_synced_at" = "excluded"."last_synced_at", "last_error" = NULL, "error_count" = 0, "updated_at" = "excluded"."updated_at""#
);
const PG_UPSERT_FAILED: &str = pg_unnest_upsert!(
    r#""last_error" = "excluded"."last_error", "error_count" = "crm_synchronisations"."error_count" + 1, "updated_at" = "excluded"."updated_at""#
);

async fn write_chunk(store: &Store, chunk: &[&(SyncKey, RowChange)]) -> Result<()> {
    let Some((_, first)) = chunk.first() else {
        return Ok(());
    };
    let mut insert = Query::insert();
    insert.into_table(Cs::Table).columns([
        Cs::CrmName,
        Cs::ResourceType,
        Cs::ResourceId,
        Cs::CrmId,
        Cs::LastDigest,
        Cs::LastSyncedAt,
        Cs::LastError,
        Cs::ErrorCount,
        Cs::CreatedAt,
        Cs::UpdatedAt,
    ]);
    for (key, change) in chunk {
        let null_text = || Expr::val(Option::<String>::None);
        let (crm_id, digest, at, error, count) = match change {
            RowChange::Synced { crm_id, digest, at } => (
                Expr::val(crm_id.clone()),
                Expr::val(digest.as_str()),
                Expr::val(timestamp_value(store, *at)),
                null_text(),
                0,
            ),
            RowChange::Checked { at } => (
                null_text(),
                null_text(),
                Expr::val(timestamp_value(store, *at)),
                null_text(),
                0,
            ),
            RowChange::Failed { message } => (
                null_text(),
                null_text(),
                Expr::val(null_timestamp(store)),
                Expr::val(truncate_error(message)),
                1,
            ),
        };
        insert
            .values([
                Expr::val(key.crm_name.as_str()),
                Expr::val(key.resource_type.as_str()),
                Expr::val(key.resource_id.get()),
                crm_id,
                digest,
                at,
                error,
                Expr::val(count),
                now_expr(store),
                now_expr(store),
            ])
            // Internal invariant: ten values for ten columns.
            .expect("values match the column list");
    }
    let mut on_conflict = OnConflict::columns([Cs::CrmName, Cs::ResourceType, Cs::ResourceId]);
    match first {
        RowChange::Synced { .. } => on_conflict
            .value(
                Cs::CrmId,
                Expr::cust(r#"COALESCE("excluded"."crm_id", "crm_synchronisations"."crm_id")"#),
            )
            .update_columns([
                Cs::LastDigest,
                Cs::LastSyncedAt,
                Cs::LastError,
                Cs::ErrorCount,
            ]),
        RowChange::Checked { .. } => {
            on_conflict.update_columns([Cs::LastSyncedAt, Cs::LastError, Cs::ErrorCount])
        }
        RowChange::Failed { .. } => on_conflict.update_column(Cs::LastError).value(
            Cs::ErrorCount,
            Expr::cust(r#""crm_synchronisations"."error_count" + 1"#),
        ),
    };
    on_conflict.update_column(Cs::UpdatedAt);
    insert.on_conflict(on_conflict);
    let (sql, values) = store.build(&insert);
    store.execute(sql, values).await?;
    Ok(())
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
            (Cs::UpdatedAt, now_expr(store)),
        ])
        .and_where(key_condition(key));
    let (sql, values) = store.build(&update);
    store.execute(sql, values).await?;
    Ok(())
}

/// Clears the error budget of one row (G-16). Returns whether a row existed.
pub(crate) async fn reset_error_count(store: &Store, key: &SyncKey) -> Result<bool> {
    let mut update = Query::update();
    update
        .table(Cs::Table)
        .values([
            (Cs::ErrorCount, Expr::val(0)),
            (Cs::LastError, Expr::val(Option::<String>::None)),
            (Cs::UpdatedAt, now_expr(store)),
        ])
        .and_where(key_condition(key));
    let (sql, values) = store.build(&update);
    Ok(store.execute(sql, values).await? > 0)
}

fn key_condition(key: &SyncKey) -> Expr {
    Expr::col(Cs::CrmName)
        .eq(key.crm_name.as_str())
        .and(Expr::col(Cs::ResourceType).eq(key.resource_type.as_str()))
        .and(Expr::col(Cs::ResourceId).eq(key.resource_id.get()))
}

/// Sync rows of many records of one CRM and resource type, in one query.
pub(crate) async fn find_many(
    store: &Store,
    crm_name: &str,
    resource_type: &str,
    ids: &[crate::id::ResourceId],
) -> Result<Vec<SyncRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    if let Pool::Postgres(pool) = store.pool() {
        // One array parameter instead of one per id (planning cost).
        let ids: Vec<i64> = ids.iter().map(|id| id.get()).collect();
        return Ok(sqlx::query_as::<_, SyncRow>(PG_FIND_MANY)
            .bind(crm_name)
            .bind(resource_type)
            .bind(ids)
            .persistent(false)
            .fetch_all(pool)
            .await?);
    }
    let mut select = Query::select();
    select
        .columns(ROW_COLUMNS)
        .expr_as(Expr::col(Cs::ErrorCount).cast_as("bigint"), Cs::ErrorCount)
        .from(Cs::Table)
        .and_where(Expr::col(Cs::CrmName).eq(crm_name))
        .and_where(Expr::col(Cs::ResourceType).eq(resource_type))
        .and_where(Expr::col(Cs::ResourceId).is_in(ids.iter().map(|id| id.get())));
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
