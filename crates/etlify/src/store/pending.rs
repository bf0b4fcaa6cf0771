//! Rows of `etlify_pending_syncs`: records waiting for a sync dependency
//! to obtain a CRM id (the gem's table; G-18).

use sea_query::{Cond, Condition, Expr, ExprTrait, Iden, OnConflict, Query};
use sqlx::FromRow;

use super::Store;
use crate::error::Result;
use crate::id::ResourceId;

#[derive(Iden, Clone, Copy)]
enum EtlifyPendingSyncs {
    Table,
    Id,
    DependentType,
    DependentId,
    DependencyType,
    DependencyId,
    CrmName,
    CreatedAt,
    UpdatedAt,
}

use EtlifyPendingSyncs as Ps;

/// A record (`dependent`) waiting for another (`dependency`) in one CRM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingEdge<'a> {
    pub crm_name: &'a str,
    pub dependent_type: &'a str,
    pub dependent_id: ResourceId,
    pub dependency_type: &'a str,
    pub dependency_id: ResourceId,
}

/// A dependent to sync once its dependency has synced.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub(crate) struct PendingRow {
    pub id: i64,
    pub dependent_type: String,
    pub dependent_id: ResourceId,
}

/// Records the edge; a second identical edge is a no-op.
pub(crate) async fn insert(store: &Store, edge: &PendingEdge<'_>) -> Result<()> {
    let mut insert = Query::insert();
    insert
        .into_table(Ps::Table)
        .columns([
            Ps::DependentType,
            Ps::DependentId,
            Ps::DependencyType,
            Ps::DependencyId,
            Ps::CrmName,
            Ps::CreatedAt,
            Ps::UpdatedAt,
        ])
        .values([
            Expr::val(edge.dependent_type),
            Expr::val(edge.dependent_id.value()),
            Expr::val(edge.dependency_type),
            Expr::val(edge.dependency_id.value()),
            Expr::val(edge.crm_name),
            store.dialect().now(),
            store.dialect().now(),
        ])
        // Internal invariant: seven values for seven columns.
        .expect("values match the column list")
        .on_conflict(
            OnConflict::columns([
                Ps::DependentType,
                Ps::DependentId,
                Ps::DependencyType,
                Ps::DependencyId,
                Ps::CrmName,
            ])
            .do_nothing()
            .to_owned(),
        );
    let (sql, values) = store.build(&insert);
    store.execute(sql, values).await?;
    Ok(())
}

/// Whether `edge` exists (used reversed, for cycle detection, as in the gem).
pub(crate) async fn exists(store: &Store, edge: &PendingEdge<'_>) -> Result<bool> {
    let mut select = Query::select();
    select
        .column(Ps::Id)
        .from(Ps::Table)
        .and_where(Expr::col(Ps::CrmName).eq(edge.crm_name))
        .and_where(Expr::col(Ps::DependentType).eq(edge.dependent_type))
        .and_where(Expr::col(Ps::DependentId).eq(edge.dependent_id.value()))
        .and_where(Expr::col(Ps::DependencyType).eq(edge.dependency_type))
        .and_where(Expr::col(Ps::DependencyId).eq(edge.dependency_id.value()))
        .limit(1);
    let (sql, values) = store.build(&select);
    Ok(!store.fetch_all::<(i64,)>(sql, values).await?.is_empty())
}

/// Deletes exactly these rows; rows added meanwhile survive (as in the gem).
pub(crate) async fn delete(store: &Store, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut delete = Query::delete();
    delete
        .from_table(Ps::Table)
        .and_where(Expr::col(Ps::Id).is_in(ids.iter().copied()));
    let (sql, values) = store.build(&delete);
    store.execute(sql, values).await?;
    Ok(())
}

/// Deletes the waits of `crm_name` (of dependents of one type, or all);
/// returns how many.
pub(crate) async fn forget(
    store: &Store,
    crm_name: &str,
    dependent_type: Option<&str>,
) -> Result<u64> {
    let mut delete = Query::delete();
    delete
        .from_table(Ps::Table)
        .cond_where(of_crm(crm_name, dependent_type));
    let (sql, values) = store.build(&delete);
    store.execute(sql, values).await
}

/// How many rows [`forget`] would delete.
pub(crate) async fn count_of_crm(
    store: &Store,
    crm_name: &str,
    dependent_type: Option<&str>,
) -> Result<u64> {
    let mut select = Query::select();
    select
        .expr(Expr::col(Ps::Id).count().cast_as("bigint"))
        .from(Ps::Table)
        .cond_where(of_crm(crm_name, dependent_type));
    let (sql, values) = store.build(&select);
    let rows: Vec<(i64,)> = store.fetch_all(sql, values).await?;
    Ok(rows
        .first()
        .map_or(0, |(n,)| u64::try_from(*n).unwrap_or(0)))
}

/// The rows of `crm_name`, of `dependent_type` only when given.
fn of_crm(crm_name: &str, dependent_type: Option<&str>) -> Condition {
    let crm = Cond::all().add(Expr::col(Ps::CrmName).eq(crm_name));
    match dependent_type {
        Some(dependent_type) => crm.add(Expr::col(Ps::DependentType).eq(dependent_type)),
        None => crm,
    }
}

/// Dependents waiting on any of `dependency_ids`, in one query.
pub(crate) async fn waiting_on_any(
    store: &Store,
    crm_name: &str,
    dependency_type: &str,
    dependency_ids: &[ResourceId],
) -> Result<Vec<PendingRow>> {
    if dependency_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut select = Query::select();
    select
        .columns([Ps::Id, Ps::DependentType, Ps::DependentId])
        .from(Ps::Table)
        .and_where(Expr::col(Ps::CrmName).eq(crm_name))
        .and_where(Expr::col(Ps::DependencyType).eq(dependency_type))
        .and_where(Expr::col(Ps::DependencyId).is_in(dependency_ids.iter().map(|id| id.value())))
        .order_by(Ps::Id, sea_query::Order::Asc);
    let (sql, values) = store.build(&select);
    store.fetch_all::<PendingRow>(sql, values).await
}
