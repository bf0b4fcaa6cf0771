//! Rows of `etlify_sync_checkpoints`: how far the last complete batch run
//! of one (model, CRM) looked, so that the next run only looks at what
//! changed since (`stale/pages.rs`, docs/ARCHITECTURE.md "Checkpoints").
//!
//! A checkpoint says: every change stamped up to `changes_through` and
//! every record with an id up to `ids_through` was seen by a run that went
//! to the end. `complete_at` is when the last run that read the whole table
//! began; `finder` fingerprints the finder's SQL, so a changed definition
//! (scope, dependencies, error budget) starts from a complete run again;
//! `lowest_synced_id` is the lowest id with a sync row when the run ended,
//! so sync rows deleted wholesale (a truncated or restored table, a CRM's
//! rows deleted to sync it again) do too.

use sea_query::{Expr, ExprTrait, Iden, OnConflict, Query};

use super::{Store, Timestamp};
use crate::error::Result;
use crate::id::ResourceId;

#[derive(Iden, Clone, Copy)]
enum EtlifySyncCheckpoints {
    Table,
    CrmName,
    ResourceType,
    Finder,
    ChangesThrough,
    IdsThrough,
    LowestSyncedId,
    CompleteAt,
}

use EtlifySyncCheckpoints as Cp;

/// Where the next run of one (model, CRM) may start looking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// Fingerprint of the finder's SQL the checkpoint was taken with.
    pub finder: String,
    /// Changes stamped at or before this were seen.
    pub changes_through: Timestamp,
    /// Records with an id at or below this were seen (`None`: the table
    /// was empty).
    pub ids_through: Option<ResourceId>,
    /// The lowest id with a sync row when the run ended.
    pub lowest_synced_id: Option<ResourceId>,
    /// When the last complete run (one that read every record) began.
    pub complete_at: Timestamp,
}

impl Checkpoint {
    /// Whether what changed since this checkpoint is all a look at
    /// `finder`'s records needs at `at`: taken with the same finder
    /// queries, its complete run less than `complete_check_interval` ago,
    /// and the lowest id with a sync row still `lowest_synced_now` (sync
    /// rows deleted wholesale call for the whole table again). Batch runs
    /// (`runs/checkpointing.rs`) and the metrics' counts
    /// (`stale/standing.rs`) both ask it.
    pub(crate) fn applies(
        &self,
        finder: &str,
        at: Timestamp,
        complete_check_interval: std::time::Duration,
        lowest_synced_now: &Option<ResourceId>,
    ) -> bool {
        let interval =
            chrono::Duration::from_std(complete_check_interval).unwrap_or(chrono::Duration::MAX);
        self.finder == finder
            && at.signed_duration_since(self.complete_at) < interval
            && *lowest_synced_now == self.lowest_synced_id
    }
}

/// The id a one-value query (`MAX`, `MIN`) returns, if any.
pub(crate) async fn one_id(
    store: &Store,
    statement: &sea_query::SelectStatement,
) -> Result<Option<ResourceId>> {
    let (sql, values) = store.build(statement);
    let rows: Vec<(Option<ResourceId>,)> = store.fetch_all(sql, values).await?;
    Ok(rows.into_iter().next().and_then(|(id,)| id))
}

/// A row of the table, as stored.
#[derive(sqlx::FromRow)]
struct CheckpointRow {
    finder: String,
    changes_through: Timestamp,
    ids_through: Option<ResourceId>,
    lowest_synced_id: Option<ResourceId>,
    complete_at: Timestamp,
}

/// The checkpoint of `(crm_name, resource_type)`, if a run left one.
pub(crate) async fn load(
    store: &Store,
    crm_name: &str,
    resource_type: &str,
) -> Result<Option<Checkpoint>> {
    let mut select = Query::select();
    select
        .columns([
            Cp::Finder,
            Cp::ChangesThrough,
            Cp::IdsThrough,
            Cp::LowestSyncedId,
            Cp::CompleteAt,
        ])
        .from(Cp::Table)
        .and_where(Expr::col(Cp::CrmName).eq(crm_name))
        .and_where(Expr::col(Cp::ResourceType).eq(resource_type));
    let (sql, values) = store.build(&select);
    let rows: Vec<CheckpointRow> = store.fetch_all(sql, values).await?;
    Ok(rows.into_iter().next().map(|row| Checkpoint {
        finder: row.finder,
        changes_through: row.changes_through,
        ids_through: row.ids_through,
        lowest_synced_id: row.lowest_synced_id,
        complete_at: row.complete_at,
    }))
}

/// Records `checkpoint` for `(crm_name, resource_type)`, replacing the
/// previous one.
pub(crate) async fn save(
    store: &Store,
    crm_name: &str,
    resource_type: &str,
    checkpoint: &Checkpoint,
) -> Result<()> {
    let dialect = store.dialect();
    let mut insert = Query::insert();
    insert
        .into_table(Cp::Table)
        .columns([
            Cp::CrmName,
            Cp::ResourceType,
            Cp::Finder,
            Cp::ChangesThrough,
            Cp::IdsThrough,
            Cp::LowestSyncedId,
            Cp::CompleteAt,
        ])
        .values([
            Expr::val(crm_name),
            Expr::val(resource_type),
            Expr::val(checkpoint.finder.as_str()),
            Expr::val(dialect.timestamp_value(checkpoint.changes_through)),
            key_or_null(checkpoint.ids_through.as_ref()),
            key_or_null(checkpoint.lowest_synced_id.as_ref()),
            Expr::val(dialect.timestamp_value(checkpoint.complete_at)),
        ])
        // Internal invariant: seven values for seven columns.
        .expect("values match the column list")
        .on_conflict(
            OnConflict::columns([Cp::CrmName, Cp::ResourceType])
                .update_columns([
                    Cp::Finder,
                    Cp::ChangesThrough,
                    Cp::IdsThrough,
                    Cp::LowestSyncedId,
                    Cp::CompleteAt,
                ])
                .to_owned(),
        );
    let (sql, values) = store.build(&insert);
    store.execute(sql, values).await?;
    Ok(())
}

/// Forgets the checkpoints of a CRM, of a model, or all (`None`): the
/// next run of each reads its whole table. For changes to sync rows that
/// no timestamp shows (error budgets reset by hand).
pub(crate) async fn forget(
    store: &Store,
    crm_name: Option<&str>,
    resource_type: Option<&str>,
) -> Result<()> {
    let mut delete = Query::delete();
    delete.from_table(Cp::Table);
    if let Some(crm_name) = crm_name {
        delete.and_where(Expr::col(Cp::CrmName).eq(crm_name));
    }
    if let Some(resource_type) = resource_type {
        delete.and_where(Expr::col(Cp::ResourceType).eq(resource_type));
    }
    let (sql, values) = store.build(&delete);
    store.execute(sql, values).await?;
    Ok(())
}

/// A key, or an untyped NULL: a NULL bound as a `bigint` would not go into
/// a `uuid` column.
fn key_or_null(id: Option<&ResourceId>) -> Expr {
    id.map_or(Expr::cust("NULL"), |id| Expr::val(id.value()))
}
