//! Record locks that serialize concurrent syncs of one record without
//! holding a database transaction — or a connection — across the CRM call
//! . They are leases on ranges of ids (`record_lease.rs`):
//! rows in the database, so they hold across engines, processes and
//! machines, and expire when their holder dies.

use super::lease::Lease;
use super::record_lease::{acquire_record, try_acquire_page, IdRange};
use super::Store;
use crate::error::Result;
use crate::id::{ResourceId, SyncKey};

/// A held record lock; call [`RecordLock::release`] when done.
pub(crate) struct RecordLock {
    lease: Lease,
}

impl RecordLock {
    /// Waits until no other sync of `key` runs (a per-record sync of it, a
    /// batch page covering it), then holds the lock.
    pub(crate) async fn acquire(store: &Store, key: &SyncKey) -> Result<Self> {
        Ok(Self {
            lease: acquire_record(store, &key.crm_name, &key.resource_type, key.resource_id)
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
            first: *first,
            last: *last,
        };
        let (lease, busy) = try_acquire_page(store, range, ids).await?;
        Ok((Self { lease: Some(lease) }, busy))
    }

    /// Releases the lock.
    pub(crate) async fn release(self) -> Result<()> {
        match self.lease {
            Some(lease) => lease.release().await,
            None => Ok(()),
        }
    }
}
