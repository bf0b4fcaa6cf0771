//! Finding records that left the application, with the CRM id their sync
//! row holds: only these objects are ever archived (`runs/archiving.rs`);
//! nothing is found by searching the CRM.
//!
//! - Rows deleted from the table (or no longer of the model's STI type),
//!   and rows out of the binding's scope when it archives those: [`page`]
//!   walks the binding's sync rows by their resource index and probes the
//!   table's primary key for each. Its cost grows with the binding's
//!   synced records, not with what changed, so runs ask for it only in a
//!   complete check (docs/BEHAVIOUR.md, "Deletes").
//! - Rows soft-deleted (`Model::soft_delete_column` not NULL):
//!   [`soft_deleted_page`], since a time when a checkpoint gives one,
//!   through the column's index: as cheap as finding what changed.

use sea_query::{Alias, Expr, ExprTrait, Order, Query, SelectStatement};

use super::finder::col;
use crate::catalog::{ResolvedBinding, ResolvedModel};
use crate::delete_policy::Disposal;
use crate::id::ResourceId;
use crate::model::SyncIf;
use crate::store::sync_rows::CrmSynchronisations as Cs;

/// Alias of the sync table in these queries.
const SYNC: &str = "etlify_sync";

/// A found record's row is no longer in the table (deleted).
pub(crate) const ROW_GONE: i64 = 0;
/// Its row is in the table but out of the binding's scope.
pub(crate) const ROW_OUT_OF_SCOPE: i64 = 1;
/// Its row is in the table, marked deleted (`soft_delete_column`).
pub(crate) const ROW_MARKED_DELETED: i64 = 2;

/// Rows with a usable CRM id, of `crm` and `model`'s resource type.
fn synced_rows(select: &mut SelectStatement, crm: &str, model: &ResolvedModel) {
    select
        .from_as(Cs::Table, Alias::new(SYNC))
        .and_where(col(SYNC, "crm_name").eq(crm))
        .and_where(col(SYNC, "resource_type").eq(model.resource_type.as_str()))
        .and_where(col(SYNC, "crm_id").is_not_null())
        .and_where(col(SYNC, "crm_id").ne(""));
}

/// Up to `limit` records after `after` that left the table or, when
/// `binding` archives what leaves its scope, the scope (`stale_scope`, SQL
/// `sync_if`), ascending: `(id, crm_id, row_state)`, the state one of
/// [`ROW_GONE`], [`ROW_OUT_OF_SCOPE`], [`ROW_MARKED_DELETED`].
pub(crate) fn page(
    crm: &str,
    model: &ResolvedModel,
    binding: &ResolvedBinding,
    after: Option<ResourceId>,
    limit: u64,
) -> SelectStatement {
    let table = model.table.as_str();
    // The record's row (of the model's STI type), present or not.
    let row_of_record = || {
        let mut row = Query::select();
        row.expr(Expr::val(1)).from(Alias::new(table)).and_where(
            col(table, &model.primary_key).equals((Alias::new(SYNC), Alias::new("resource_id"))),
        );
        if let Some(sti) = &model.sti {
            row.and_where(col(table, &sti.column).eq(sti.value.as_str()));
        }
        row
    };
    // ... and not marked deleted.
    let in_table = || {
        let mut row = row_of_record();
        if let Some(deleted) = &model.soft_delete_column {
            row.and_where(col(table, deleted).is_null());
        }
        row
    };
    let mut in_scope = in_table();
    if binding.on_leave_scope == Disposal::Archive {
        // The user's SQL over their own table, as configured.
        if let Some(scope) = &binding.stale_scope {
            in_scope.and_where(Expr::cust(format!("({scope})")));
        }
        if let Some(SyncIf::Sql(condition)) = &binding.sync_if {
            in_scope.and_where(Expr::cust(format!("({condition})")));
        }
    }
    let row_state = Expr::case(Expr::exists(row_of_record()).not(), ROW_GONE)
        .case(Expr::exists(in_table()), ROW_OUT_OF_SCOPE)
        .finally(ROW_MARKED_DELETED);
    let mut select = Query::select();
    select
        .expr(col(SYNC, "resource_id").cast_as("bigint"))
        .expr(col(SYNC, "crm_id"))
        .expr(row_state);
    synced_rows(&mut select, crm, model);
    select.and_where(Expr::exists(in_scope).not());
    if let Some(after) = after {
        select.and_where(col(SYNC, "resource_id").gt(after.value()));
    }
    select
        .order_by_expr(col(SYNC, "resource_id"), Order::Asc)
        .limit(limit);
    select
}

/// Up to `limit` soft-deleted records after `after`, ascending, marked
/// deleted at or after `since` (all of them without): `(id, crm_id,
/// ROW_MARKED_DELETED)`.
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
    // The sync table under its own name: a CROSS JOIN takes no alias here.
    let sync = |column: &str| col("crm_synchronisations", column);
    let mut select = Query::select();
    select
        .expr(pk.clone().cast_as("bigint"))
        .expr(sync("crm_id"))
        .expr(Expr::val(ROW_MARKED_DELETED))
        .from(Alias::new(table))
        // Rows marked deleted first, through the column's index, then their
        // sync rows: SQLite keeps a CROSS JOIN's order (left to itself it
        // walked every sync row of the binding, docs/BENCHMARKS.md);
        // PostgreSQL plans it as any join.
        .cross_join(Cs::Table)
        .and_where(sync("crm_name").eq(crm))
        .and_where(sync("resource_type").eq(model.resource_type.as_str()))
        .and_where(sync("resource_id").equals((Alias::new(table), Alias::new(&model.primary_key))))
        .and_where(col(table, deleted).is_not_null())
        .and_where(sync("crm_id").is_not_null())
        .and_where(sync("crm_id").ne(""));
    if let Some(sti) = &model.sti {
        select.and_where(col(table, &sti.column).eq(sti.value.as_str()));
    }
    if let Some(since) = since {
        select.and_where(col(table, deleted).gte(since));
    }
    if let Some(after) = after {
        select.and_where(pk.clone().gt(after.value()));
    }
    // `pk + 0` (the same order) keeps SQLite from walking the primary key
    // to avoid a sort: the rows marked deleted are few, their sort cheap.
    select.order_by_expr(pk.add(0), Order::Asc).limit(limit);
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
