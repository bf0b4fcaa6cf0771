//! Record locks that serialize concurrent syncs of one record without
//! holding a database transaction — or a connection — across the CRM call
//! (SPEC ). They are leases (`lease.rs`): rows in the database, so
//! they hold across engines, processes and machines, and expire when their
//! holder dies.

use super::lease::{record_name, Lease};
use super::Store;
use crate::error::Result;
use crate::id::SyncKey;

/// A held record lock; call [`RecordLock::release`] when done.
pub(crate) struct RecordLock {
    lease: Lease,
}

impl RecordLock {
    /// Waits until no other sync of `key` runs, then holds the lock.
    pub(crate) async fn acquire(store: &Store, key: &SyncKey) -> Result<Self> {
        Ok(Self {
            lease: Lease::acquire(store, record_name(key)).await?,
        })
    }

    /// Releases the lock.
    pub(crate) async fn release(self) -> Result<()> {
        self.lease.release().await
    }
}

/// Locks on many records at once, taken without waiting: records whose
/// lock is held elsewhere (a concurrent per-record sync, another batch) are
/// reported busy and left to the caller.
pub(crate) struct BatchLock {
    lease: Lease,
}

impl BatchLock {
    /// Tries to lock every key; returns the lock and, per key, whether it
    /// was acquired.
    pub(crate) async fn try_acquire(store: &Store, keys: &[SyncKey]) -> Result<(Self, Vec<bool>)> {
        let (lease, acquired) =
            Lease::try_acquire(store, keys.iter().map(record_name).collect()).await?;
        Ok((Self { lease }, acquired))
    }

    /// Releases every lock held.
    pub(crate) async fn release(self) -> Result<()> {
        self.lease.release().await
    }
}
