//! Finding records that left the application: sync rows of a (model, CRM)
//! holding a CRM id whose row is no longer in the model's table (deleted,
//! or no longer of the model's STI type). Only these objects are ever
//! archived (`runs/archiving.rs`): nothing is found by searching the CRM.
//!
//! The query walks the binding's sync rows by their resource index and
//! probes the table's primary key for each: its cost grows with the
//! binding's synced records, not with what changed, so runs ask for it
//! only in a complete check (docs/BEHAVIOUR.md, "Deletes").

use sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement};

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

/// How many records of `model` have a CRM id in `crm` (what a percentage
/// guard is a percentage of).
pub(crate) fn synced_count(crm: &str, model: &ResolvedModel) -> SelectStatement {
    let mut select = Query::select();
    select.expr(Expr::expr(col(SYNC, "id").count()).cast_as("bigint"));
    synced_rows(&mut select, crm, model);
    select
}
