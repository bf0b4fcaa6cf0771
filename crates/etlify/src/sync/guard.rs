//! The SQL conditions a record must pass to be sent: the binding's SQL
//! `sync_if`, and not being soft-deleted (`Model::soft_delete_column`);
//! which records of a page pass them, in one query (a payload `sync_if` is
//! a rule of `decision.rs`).

use std::collections::HashSet;

use sea_query::{Alias, Expr, ExprTrait, Query};

use crate::catalog::{ResolvedBinding, ResolvedModel};
use crate::error::Result;
use crate::id::ResourceId;
use crate::model::SyncIf;
use crate::store::Store;

/// Ids among `ids` that pass `binding`'s SQL conditions, in one query:
/// `SELECT pk FROM table WHERE pk IN (…) AND (<sync_if>) AND deleted IS NULL`;
/// `None` when there is no such condition (every id passes).
pub(crate) async fn passing_sql_conditions(
    store: &Store,
    model: &ResolvedModel,
    binding: &ResolvedBinding,
    ids: &[ResourceId],
) -> Result<Option<HashSet<ResourceId>>> {
    let sync_if = match &binding.sync_if {
        Some(SyncIf::Sql(condition)) => Some(condition),
        _ => None,
    };
    if sync_if.is_none() && model.soft_delete_column.is_none() {
        return Ok(None);
    }
    let mut select = Query::select();
    select
        .column(Alias::new(&model.primary_key))
        .from(Alias::new(&model.table))
        .and_where(Expr::col(Alias::new(&model.primary_key)).is_in(ids.iter().map(|id| id.get())));
    if let Some(condition) = sync_if {
        // The condition is the user's SQL, as configured.
        select.and_where(Expr::cust(format!("({condition})")));
    }
    if let Some(deleted) = &model.soft_delete_column {
        select.and_where(Expr::col(Alias::new(deleted)).is_null());
    }
    let (sql, values) = store.build(&select);
    let rows: Vec<(i64,)> = store.fetch_all(sql, values).await?;
    Ok(Some(
        rows.into_iter().map(|(id,)| ResourceId::new(id)).collect(),
    ))
}
