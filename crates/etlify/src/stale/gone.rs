//! Finding records that left the application, with the CRM id their sync
//! row holds: only these objects are ever archived (`runs/archiving.rs`);
//! nothing is found by searching the CRM.
//!
//! - Rows deleted from the table (or no longer of the model's STI type):
//!   [`page`] walks the binding's sync rows by their resource index and
//!   probes the table's primary key for each. Its cost grows with the
//!   binding's synced records, not with what changed, so runs ask for it
//!   only in a complete check (docs/BEHAVIOUR.md, "Deletes").
//! - Rows soft-deleted (`Model::soft_delete_column` not NULL):
//!   [`soft_deleted_page`], since a time when a checkpoint gives one,
//!   through the column's index: as cheap as finding what changed.

use sea_query::{Alias, Expr, ExprTrait, JoinType, Order, Query, SelectStatement};

use super::finder::col;
use crate::catalog::ResolvedModel;
use crate::id::ResourceId;
use crate::store::sync_rows::CrmSynchronisations as Cs;

/// Alias of the sync table in these queries.
const SYNC: &str = "etlify_sync";

/// Rows with a usable CRM id, of `crm` and `model`'s resource type.
fn synced_rows(select: &mut SelectStatement, crm: &str, model: &ResolvedModel) {
    select
        .from_as(Cs::Table, Alias::new(SYNC))
        .and_where(col(SYNC, "crm_name").eq(crm))
        .and_where(col(SYNC, "resource_type").eq(model.resource_type.as_str()))
        .and_where(col(SYNC, "crm_id").is_not_null())
        .and_where(col(SYNC, "crm_id").ne(""));
}

/// Up to `limit` gone records after `after`, ascending: `(id, crm_id)`.
pub(crate) fn page(
    crm: &str,
    model: &ResolvedModel,
    after: Option<ResourceId>,
    limit: u64,
) -> SelectStatement {
    let mut row = Query::select();
    row.expr(Expr::val(1))
        .from(Alias::new(&model.table))
        .and_where(
            col(&model.table, &model.primary_key)
                .equals((Alias::new(SYNC), Alias::new("resource_id"))),
        );
    if let Some(sti) = &model.sti {
        row.and_where(col(&model.table, &sti.column).eq(sti.value.as_str()));
    }
    let mut select = Query::select();
    select
        .expr(col(SYNC, "resource_id").cast_as("bigint"))
        .expr(col(SYNC, "crm_id"));
    synced_rows(&mut select, crm, model);
    select.and_where(Expr::exists(row).not());
    if let Some(after) = after {
        select.and_where(col(SYNC, "resource_id").gt(after.get()));
    }
    select
        .order_by_expr(col(SYNC, "resource_id"), Order::Asc)
        .limit(limit);
    select
}

/// Up to `limit` soft-deleted records after `after`, ascending, marked
/// deleted at or after `since` (all of them without): `(id, crm_id)`.
/// `None` when the model declares no soft-delete column.
pub(crate) fn soft_deleted_page(
    crm: &str,
    model: &ResolvedModel,
    since: Option<Expr>,
    after: Option<ResourceId>,
    limit: u64,
) -> Option<SelectStatement> {
    let deleted = model.soft_delete_column.as_deref()?;
    let table = model.table.as_str();
    let pk = col(table, &model.primary_key);
    let on = col(SYNC, "crm_name")
        .eq(crm)
        .and(col(SYNC, "resource_type").eq(model.resource_type.as_str()))
        .and(col(SYNC, "resource_id").equals((Alias::new(table), Alias::new(&model.primary_key))));
    let mut select = Query::select();
    select
        .expr(pk.clone().cast_as("bigint"))
        .expr(col(SYNC, "crm_id"))
        .from(Alias::new(table))
        .join_as(JoinType::InnerJoin, Cs::Table, Alias::new(SYNC), on)
        .and_where(col(table, deleted).is_not_null())
        .and_where(col(SYNC, "crm_id").is_not_null())
        .and_where(col(SYNC, "crm_id").ne(""));
    if let Some(sti) = &model.sti {
        select.and_where(col(table, &sti.column).eq(sti.value.as_str()));
    }
    if let Some(since) = since {
        select.and_where(col(table, deleted).gte(since));
    }
    if let Some(after) = after {
        select.and_where(pk.clone().gt(after.get()));
    }
    select.order_by_expr(pk, Order::Asc).limit(limit);
    Some(select)
}

/// How many records of `model` have a CRM id in `crm` (what a percentage
/// guard is a percentage of).
pub(crate) fn synced_count(crm: &str, model: &ResolvedModel) -> SelectStatement {
    let mut select = Query::select();
    select.expr(Expr::expr(col(SYNC, "id").count()).cast_as("bigint"));
    synced_rows(&mut select, crm, model);
    select
}
