//! The SQL conditions a record must pass to be sent: the binding's SQL
//! `sync_if`, and not being soft-deleted (`Model::soft_delete_column`);
//! how the records of a page fare, in one query (a payload `sync_if` is a
//! rule of `decision.rs`).

use std::collections::HashSet;

use sea_query::{Alias, Expr, ExprTrait, Query};

use super::decision::SqlGuard;
use crate::catalog::{ResolvedBinding, ResolvedModel};
use crate::error::Result;
use crate::id::ResourceId;
use crate::model::SyncIf;
use crate::store::Store;

/// How some records fare against a binding's SQL conditions.
#[derive(Debug, Default)]
pub(crate) struct SqlConditions {
    /// Those that fail the SQL `sync_if` (none without one).
    pub failing_sync_if: HashSet<ResourceId>,
    /// Those marked deleted (none without a soft-delete column).
    pub soft_deleted: HashSet<ResourceId>,
}

impl SqlConditions {
    /// Whether record `id` passes both conditions.
    pub(crate) fn passes(&self, id: &ResourceId) -> bool {
        self.guard(id) == SqlGuard::Passes
    }

    /// How record `id` fares (marked deleted first).
    pub(crate) fn guard(&self, id: &ResourceId) -> SqlGuard {
        if self.soft_deleted.contains(id) {
            SqlGuard::SoftDeleted
        } else if self.failing_sync_if.contains(id) {
            SqlGuard::FailsSyncIf
        } else {
            SqlGuard::Passes
        }
    }
}

#[derive(sqlx::FromRow)]
struct Fared {
    id: ResourceId,
    passes_sync_if: i64,
    soft_deleted: i64,
}

/// How `ids` fare against `binding`'s SQL conditions, in one query:
/// `SELECT pk, CASE WHEN (<sync_if>) …, CASE WHEN deleted IS NOT NULL …
/// FROM table WHERE pk IN (…)` (no query when there is no condition).
/// Rows marked deleted are looked for only when `soft_deletes` (ids the
/// finder found are known not to be).
pub(crate) async fn sql_conditions(
    store: &Store,
    model: &ResolvedModel,
    binding: &ResolvedBinding,
    ids: &[ResourceId],
    soft_deletes: bool,
) -> Result<SqlConditions> {
    let sync_if = match &binding.sync_if {
        Some(SyncIf::Sql(condition)) => Some(condition),
        _ => None,
    };
    let soft_delete_column = model.soft_delete_column.as_deref().filter(|_| soft_deletes);
    if ids.is_empty() || (sync_if.is_none() && soft_delete_column.is_none()) {
        return Ok(SqlConditions::default());
    }
    let flag = |condition: Option<Expr>| match condition {
        Some(condition) => Expr::case(condition, 1i64).finally(0i64).into(),
        None => Expr::val(0i64),
    };
    // The condition is the user's SQL, as configured.
    let passes_sync_if = match sync_if {
        Some(condition) => flag(Some(Expr::cust(format!("({condition})")))),
        None => Expr::val(1i64),
    };
    let soft_deleted =
        flag(soft_delete_column.map(|deleted| Expr::col(Alias::new(deleted)).is_not_null()));
    let mut select = Query::select();
    select
        .expr_as(
            Expr::col(Alias::new(&model.primary_key)).cast_as("bigint"),
            Alias::new("id"),
        )
        .expr_as(passes_sync_if, Alias::new("passes_sync_if"))
        .expr_as(soft_deleted, Alias::new("soft_deleted"))
        .from(Alias::new(&model.table))
        .and_where(
            Expr::col(Alias::new(&model.primary_key)).is_in(ids.iter().map(|id| id.value())),
        );
    let (sql, values) = store.build(&select);
    let rows: Vec<Fared> = store.fetch_all(sql, values).await?;
    let mut fared = SqlConditions::default();
    for row in rows {
        let id = row.id;
        if row.passes_sync_if == 0 {
            fared.failing_sync_if.insert(id.clone());
        }
        if row.soft_deleted != 0 {
            fared.soft_deleted.insert(id);
        }
    }
    Ok(fared)
}
