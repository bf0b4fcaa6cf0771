//! Record locks: a record's lock ([`RecordLock`]) and a batch page's
//! ([`PageLock`]), which serialize concurrent syncs of one record without
//! holding a database transaction — or a connection — across the CRM call
//! . They are leases on ranges of one model's record ids in one
//! CRM (`etlify_record_leases`): rows in the database, so they hold across
//! engines, processes and machines, and expire when their holder dies.
//!
//! A per-record sync holds the range `[id, id]`; a batch page holds
//! `[first, last]` of its ids with one row, whatever the page size (a row
//! per record cost a thousand-row write and delete per page).
//!
//! Exclusion works as in Dekker's algorithm: each side first writes its
//! own row, then reads the other side's rows. Whichever writes second
//! sees the first, so a record is never synced by a page and a per-record
//! sync at once:
//! - a per-record sync that sees a live page covering its id keeps its
//!   own row and waits for the page to end;
//! - a page treats the ids covered by any other live row (a per-record
//!   sync, an overlapping page) as busy and leaves them to its caller.
//!
//! Two per-record syncs of one record meet on the primary key: only one
//! row `[id, id]` can be live. Rows of holders that died expire after
//! [`LEASE_TTL`](super::LEASE_TTL); a page that meets expired rows
//! deletes them.

use std::time::{Duration, Instant};

use sea_query::{Cond, Expr, ExprTrait, Iden, OnConflict, Query};

use super::{new_owner, Lease, LeaseTable};
use crate::error::Result;
use crate::id::{ResourceId, SyncKey};
use crate::store::Store;

/// Longest pause between two looks at a busy record.
const MAX_POLL: Duration = Duration::from_millis(100);

#[derive(Iden, Clone, Copy)]
pub(crate) enum EtlifyRecordLeases {
    Table,
    CrmName,
    ResourceType,
    FirstId,
    LastId,
    Owner,
    ExpiresAt,
}

use EtlifyRecordLeases as Leases;

/// A held record lock; call [`RecordLock::release`] when done.
pub(crate) struct RecordLock {
    lease: Lease,
}

impl RecordLock {
    /// Waits until no other sync of `key` runs (a per-record sync of it, a
    /// batch page covering it), then holds the lock.
    pub(crate) async fn acquire(store: &Store, key: &SyncKey) -> Result<Self> {
        Ok(Self {
            lease: acquire_record(
                store,
                &key.crm_name,
                &key.resource_type,
                key.resource_id.clone(),
            )
            .await?,
        })
    }

    /// Releases the lock.
    pub(crate) async fn release(self) -> Result<()> {
        self.lease.release().await
    }
}

/// The lock of a batch page: one lease on the range of its ids, taken
/// without waiting. Records another sync holds (a per-record sync, an
/// overlapping page) are reported busy and left to the caller.
pub(crate) struct PageLock {
    lease: Option<Lease>,
}

impl PageLock {
    /// Locks `ids` of `resource_type` in `crm_name`; returns the lock and
    /// the ids another sync holds (busy, left to the caller).
    pub(crate) async fn try_acquire(
        store: &Store,
        crm_name: &str,
        resource_type: &str,
        ids: &[ResourceId],
    ) -> Result<(Self, Vec<ResourceId>)> {
        let (Some(first), Some(last)) = (ids.iter().min(), ids.iter().max()) else {
            return Ok((Self { lease: None }, Vec::new()));
        };
        let range = IdRange {
            crm_name,
            resource_type,
            first: first.clone(),
            last: last.clone(),
        };
        let (lease, busy) = try_acquire_page(store, &range, ids).await?;
        Ok((Self { lease: Some(lease) }, busy))
    }

    /// Whether the page's range is surely still this page's
    /// ([`Lease::is_held`]); false for a page that holds nothing.
    pub(crate) fn is_held(&self) -> bool {
        self.lease.as_ref().is_some_and(Lease::is_held)
    }

    /// Releases the lock.
    pub(crate) async fn release(self) -> Result<()> {
        match self.lease {
            Some(lease) => lease.release().await,
            None => Ok(()),
        }
    }
}

/// Ids `first..=last` of one model in one CRM.
#[derive(Debug, Clone)]
struct IdRange<'a> {
    crm_name: &'a str,
    resource_type: &'a str,
    first: ResourceId,
    last: ResourceId,
}

/// Waits until no other sync covers `id`, then holds `[id, id]`.
async fn acquire_record(
    store: &Store,
    crm_name: &str,
    resource_type: &str,
    id: ResourceId,
) -> Result<Lease> {
    let range = IdRange {
        crm_name,
        resource_type,
        first: id.clone(),
        last: id,
    };
    let owner = new_owner(store);
    let mut pause = Duration::from_millis(2);
    let mut wait = || {
        let this = pause;
        pause = (pause * 2).min(MAX_POLL);
        tokio::time::sleep(this)
    };
    // Another per-record sync of the record: wait for its row to go.
    let taken_at = loop {
        let started = Instant::now();
        if take(store, &owner, &range).await? {
            break started;
        }
        wait().await;
    };
    let lease = Lease::held(store, owner, LeaseTable::Records, 1, taken_at);
    // A page covering the record: keep the row (the page, or any page
    // after it, now sees the record busy) and wait for the page to end.
    while others_overlapping(store, lease.owner(), &range)
        .await?
        .iter()
        .any(|other| other.live)
    {
        wait().await;
    }
    Ok(lease)
}

/// Holds `range` for a batch page without waiting; returns the lease and
/// the ids of `ids` that another sync holds (busy, left to the caller).
async fn try_acquire_page(
    store: &Store,
    range: &IdRange<'_>,
    ids: &[ResourceId],
) -> Result<(Lease, Vec<ResourceId>)> {
    let owner = new_owner(store);
    let taken_at = Instant::now();
    if !take(store, &owner, range).await? {
        // The very same range is held by a live page: all of it is busy.
        return Ok((
            Lease::held(store, owner, LeaseTable::Records, 0, taken_at),
            ids.to_vec(),
        ));
    }
    let lease = Lease::held(store, owner, LeaseTable::Records, 1, taken_at);
    let others = others_overlapping(store, lease.owner(), range).await?;
    if others.iter().any(|other| !other.live) {
        delete_expired(store, range).await?;
    }
    let busy = ids
        .iter()
        .filter(|id| {
            others
                .iter()
                .any(|other| other.live && other.first <= **id && **id <= other.last)
        })
        .cloned()
        .collect();
    Ok((lease, busy))
}

/// Inserts `owner`'s row for `range`, or takes over an expired row of the
/// same range; whether the row is now `owner`'s.
async fn take(store: &Store, owner: &str, range: &IdRange<'_>) -> Result<bool> {
    let dialect = store.dialect();
    let mut insert = Query::insert();
    insert
        .into_table(Leases::Table)
        .columns([
            Leases::CrmName,
            Leases::ResourceType,
            Leases::FirstId,
            Leases::LastId,
            Leases::Owner,
            Leases::ExpiresAt,
        ])
        .values([
            Expr::val(range.crm_name),
            Expr::val(range.resource_type),
            Expr::val(range.first.value()),
            Expr::val(range.last.value()),
            Expr::val(owner),
            dialect.now_plus(store.lease_ttl()),
        ])
        // Internal invariant: six values for six columns.
        .expect("values match the column list")
        .on_conflict(
            OnConflict::columns([
                Leases::CrmName,
                Leases::ResourceType,
                Leases::FirstId,
                Leases::LastId,
            ])
            .update_columns([Leases::Owner, Leases::ExpiresAt])
            .action_and_where(Expr::col((Leases::Table, Leases::ExpiresAt)).lt(dialect.now()))
            .to_owned(),
        )
        .returning_col(Leases::Owner);
    let (sql, values) = store.build(&insert);
    // The row returned is `owner`'s when it was taken: MariaDB returns the
    // row an upsert met even where it changed nothing.
    let taken: Vec<(String,)> = store.fetch_all(sql, values).await?;
    Ok(taken.iter().any(|(holder,)| holder == owner))
}

/// Another owner's row overlapping a range.
struct Other {
    first: ResourceId,
    last: ResourceId,
    live: bool,
}

/// Rows of other owners overlapping `range`, live or expired.
async fn others_overlapping(store: &Store, owner: &str, range: &IdRange<'_>) -> Result<Vec<Other>> {
    let mut select = Query::select();
    select
        .columns([Leases::FirstId, Leases::LastId])
        .expr(
            Expr::case(
                Expr::col(Leases::ExpiresAt).gt(store.dialect().now()),
                1_i32,
            )
            .finally(0_i32),
        )
        .from(Leases::Table)
        .cond_where(overlapping(range))
        .and_where(Expr::col(Leases::Owner).ne(owner));
    let (sql, values) = store.build(&select);
    let rows: Vec<(ResourceId, ResourceId, i32)> = store.fetch_all(sql, values).await?;
    Ok(rows
        .into_iter()
        .map(|(first, last, live)| Other {
            first,
            last,
            live: live == 1,
        })
        .collect())
}

/// Deletes the expired rows overlapping `range` (left by dead holders).
async fn delete_expired(store: &Store, range: &IdRange<'_>) -> Result<()> {
    let mut delete = Query::delete();
    delete
        .from_table(Leases::Table)
        .cond_where(overlapping(range))
        .and_where(Expr::col(Leases::ExpiresAt).lt(store.dialect().now()));
    let (sql, values) = store.build(&delete);
    store.execute(sql, values).await?;
    Ok(())
}

/// Rows of the same model and CRM whose range meets `range`.
fn overlapping(range: &IdRange<'_>) -> Cond {
    Cond::all()
        .add(Expr::col(Leases::CrmName).eq(range.crm_name))
        .add(Expr::col(Leases::ResourceType).eq(range.resource_type))
        .add(Expr::col(Leases::FirstId).lte(range.last.value()))
        .add(Expr::col(Leases::LastId).gte(range.first.value()))
}
