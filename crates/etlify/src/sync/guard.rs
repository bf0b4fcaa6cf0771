//! `sync_if`: which records are eligible for a CRM.

use std::collections::HashSet;

use sea_query::{Alias, Expr, ExprTrait, Query};

use crate::error::Result;
use crate::id::ResourceId;
use crate::model::{Model, SyncIf};
use crate::payload::Payload;
use crate::store::Store;

/// Ids among `ids` that satisfy a SQL `sync_if`, in one query:
/// `SELECT pk FROM table WHERE pk IN (…) AND (<condition>)`.
pub(crate) async fn eligible_by_sql(
    store: &Store,
    model: &Model,
    condition: &str,
    ids: &[ResourceId],
) -> Result<HashSet<ResourceId>> {
    let mut select = Query::select();
    select
        .column(Alias::new(model.get_primary_key()))
        .from(Alias::new(model.get_table()))
        .and_where(
            Expr::col(Alias::new(model.get_primary_key())).is_in(ids.iter().map(|id| id.get())),
        )
        // The condition is the user's SQL, as configured.
        .and_where(Expr::cust(format!("({condition})")));
    let (sql, values) = store.build(&select);
    let rows: Vec<(i64,)> = store.fetch_all(sql, values).await?;
    Ok(rows.into_iter().map(|(id,)| ResourceId::new(id)).collect())
}

/// Whether a record passes a payload-level `sync_if` (SQL guards are
/// evaluated before the payload is loaded).
pub(crate) fn payload_eligible(sync_if: Option<&SyncIf>, payload: &Payload) -> bool {
    match sync_if {
        Some(SyncIf::Payload(predicate)) => predicate(payload),
        Some(SyncIf::Sql(_)) | None => true,
    }
}
