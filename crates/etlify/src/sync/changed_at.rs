//! When the records a sync sends changed, for the change-to-CRM latency
//! (`etlify_change_to_crm_seconds`): their own timestamp column's value,
//! read in one query for the records a page (or a one-record sync) sends,
//! and none for a model without a timestamp column or records needing no
//! request. A record whose timestamp is not newer than its last sync was
//! sent because a dependency changed, which its own timestamp does not
//! date: it is left out.

use std::collections::HashMap;

use sea_query::{Alias, Expr, ExprTrait, Query};

use crate::catalog::ResolvedModel;
use crate::error::Result;
use crate::id::ResourceId;
use crate::store::{Store, Timestamp};

/// When each record changed, as Unix time in seconds.
pub(crate) type ChangedAt = HashMap<ResourceId, f64>;

/// Of `sent` (records to send, each with its last sync's time), those
/// whose timestamp is newer than it (or never synced), with that time.
pub(crate) async fn load(
    store: &Store,
    model: &ResolvedModel,
    sent: &[(ResourceId, Option<Timestamp>)],
) -> Result<ChangedAt> {
    let Some(column) = model.timestamp_column.as_deref() else {
        return Ok(ChangedAt::new());
    };
    if sent.is_empty() {
        return Ok(ChangedAt::new());
    }
    let ids: Vec<ResourceId> = sent.iter().map(|(id, _)| *id).collect();
    let dialect = store.dialect();
    let column_of = |name: &str| Expr::col((Alias::new(&model.table), Alias::new(name)));
    let mut select = Query::select();
    select
        .expr(column_of(&model.primary_key).cast_as("bigint"))
        .expr(dialect.epoch_seconds(column_of(column)))
        .from(Alias::new(&model.table))
        .and_where(dialect.id_in(column_of(&model.primary_key), &ids));
    let (sql, values) = store.build(&select);
    let rows: Vec<(i64, Option<f64>)> = store.fetch_all(sql, values).await?;
    let last_synced: HashMap<ResourceId, Option<Timestamp>> = sent.iter().copied().collect();
    Ok(rows
        .into_iter()
        .filter_map(|(id, changed)| {
            let id = ResourceId::new(id);
            let changed = changed?;
            let since = match last_synced.get(&id)? {
                Some(synced) => synced.and_utc().timestamp_micros() as f64 / 1e6,
                None => f64::MIN,
            };
            (changed > since).then_some((id, changed))
        })
        .collect())
}
