//! SQL `sync_if`: which records of a page pass the condition, in one query
//! (a payload `sync_if` is a rule of `decision.rs`).

use std::collections::HashSet;

use sea_query::{Alias, Expr, ExprTrait, Query};

use crate::catalog::ResolvedModel;
use crate::error::Result;
use crate::id::ResourceId;
use crate::store::Store;

/// Ids among `ids` that satisfy a SQL `sync_if`, in one query:
/// `SELECT pk FROM table WHERE pk IN (…) AND (<condition>)`.
pub(crate) async fn eligible_by_sql(
    store: &Store,
    model: &ResolvedModel,
    condition: &str,
    ids: &[ResourceId],
) -> Result<HashSet<ResourceId>> {
    let mut select = Query::select();
    select
        .column(Alias::new(&model.primary_key))
        .from(Alias::new(&model.table))
        .and_where(Expr::col(Alias::new(&model.primary_key)).is_in(ids.iter().map(|id| id.get())))
        // The condition is the user's SQL, as configured.
        .and_where(Expr::cust(format!("({condition})")));
    let (sql, values) = store.build(&select);
    let rows: Vec<(i64,)> = store.fetch_all(sql, values).await?;
    Ok(rows.into_iter().map(|(id,)| ResourceId::new(id)).collect())
}
