//! Record locks that serialize concurrent syncs of one record without
//! holding a database transaction across the CRM call (SPEC ).
//!
//! How a lock is held is the backend's business: an advisory lock on a
//! pooled session on PostgreSQL (`backend/postgres.rs`), an in-process
//! mutex on SQLite (`backend/sqlite.rs`).

use async_trait::async_trait;

use super::Store;
use crate::error::Result;
use crate::id::SyncKey;

/// Locks held by a backend; dropping them without [`HeldLocks::release`]
/// must release them too (a cancelled task).
#[async_trait]
pub(crate) trait HeldLocks: Send {
    /// Releases every lock held.
    async fn release(self: Box<Self>) -> Result<()>;
}

/// A held record lock; call [`RecordLock::release`] when done.
pub(crate) struct RecordLock {
    held: Box<dyn HeldLocks>,
}

impl RecordLock {
    pub(crate) fn new(held: impl HeldLocks + 'static) -> Self {
        Self {
            held: Box::new(held),
        }
    }

    /// Waits until no other sync of `key` runs, then holds the lock.
    pub(crate) async fn acquire(store: &Store, key: &SyncKey) -> Result<Self> {
        store.backend().lock_record(key).await
    }

    /// Releases the lock.
    pub(crate) async fn release(self) -> Result<()> {
        self.held.release().await
    }
}

/// Locks on many records, taken without waiting: records whose lock is
/// held elsewhere (a concurrent per-record sync) are reported busy and left
/// to the caller.
pub(crate) struct BatchLock {
    held: Box<dyn HeldLocks>,
}

impl BatchLock {
    pub(crate) fn new(held: impl HeldLocks + 'static) -> Self {
        Self {
            held: Box::new(held),
        }
    }

    /// Tries to lock every key; returns the lock and, per key, whether it
    /// was acquired.
    pub(crate) async fn try_acquire(store: &Store, keys: &[SyncKey]) -> Result<(Self, Vec<bool>)> {
        store.backend().try_lock_records(keys).await
    }

    /// Releases every lock held.
    pub(crate) async fn release(self) -> Result<()> {
        self.held.release().await
    }
}
