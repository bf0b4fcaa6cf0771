//! When the records a sync sends changed, for the change-to-CRM latency
//! (`etlify_change_to_crm_seconds`): their own timestamp column's value,
//! read by primary key beside the payloads (one query more, on another
//! connection, in the same round trip), none for a model without a
//! timestamp column, nor unless asked (`metrics_change_latency`: the read
//! costs a first sync about a tenth of its rate). A record whose timestamp is not newer than its last
//! sync was sent because a dependency changed, which its own timestamp
//! does not date: it is left out ([`changed_since`]).

use std::collections::HashMap;

use sea_query::{Alias, Expr, Query};

use crate::catalog::ResolvedModel;
use crate::error::Result;
use crate::id::ResourceId;
use crate::store::{Store, Timestamp};

/// When each record changed, as Unix time in seconds.
pub(crate) type ChangedAt = HashMap<ResourceId, f64>;

/// The timestamps of `ids` (those with one), as Unix time, when the
/// latency is `observed` (none read otherwise).
pub(crate) async fn read(
    store: &Store,
    model: &ResolvedModel,
    ids: &[ResourceId],
    observed: bool,
) -> Result<ChangedAt> {
    let Some(column) = model.timestamp_column.as_deref().filter(|_| observed) else {
        return Ok(ChangedAt::new());
    };
    if ids.is_empty() {
        return Ok(ChangedAt::new());
    }
    let dialect = store.dialect();
    let column_of = |name: &str| Expr::col((Alias::new(&model.table), Alias::new(name)));
    let mut select = Query::select();
    select
        .expr(column_of(&model.primary_key))
        .expr(dialect.epoch_seconds(column_of(column)))
        .from(Alias::new(&model.table))
        .and_where(dialect.id_in(column_of(&model.primary_key), ids));
    let (sql, values) = store.build(&select);
    let rows: Vec<(ResourceId, Option<f64>)> = store.fetch_all(sql, values).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, changed)| Some((id, changed?)))
        .collect())
}

/// `changed` (a record's timestamp, Unix time) if it is newer than its
/// last sync (`last_synced_at`; none: never synced).
pub(crate) fn changed_since(
    changed: Option<f64>,
    last_synced_at: Option<Timestamp>,
) -> Option<f64> {
    let changed = changed?;
    let since = last_synced_at.map_or(f64::MIN, |synced| {
        synced.and_utc().timestamp_micros() as f64 / 1e6
    });
    (changed > since).then_some(changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_only_a_change_after_the_last_sync_dates_a_send() {
        let synced = chrono::DateTime::from_timestamp(1_000, 0).map(|at| at.naive_utc());
        assert_eq!(changed_since(Some(1_000.5), synced), Some(1_000.5));
        assert_eq!(
            changed_since(Some(999.0), synced),
            None,
            "a dependency's change"
        );
        assert_eq!(changed_since(Some(1_000.0), synced), None);
        assert_eq!(changed_since(Some(5.0), None), Some(5.0), "never synced");
        assert_eq!(changed_since(None, None), None, "no timestamp");
    }
}
