//! Per-record locks that serialize concurrent syncs of one record without
//! holding a database transaction across the CRM call (SPEC ).
//!
//! - PostgreSQL: a session-level advisory lock on a dedicated pooled
//!   connection, keyed by the record and the current schema (tenants in
//!   separate schemas do not serialize each other). Shared by every process on the database; released by the
//!   server if the process dies.
//! - SQLite: an in-process async mutex per record. SQLite has no advisory
//!   locks; the embedded default runs one engine process per database file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest as _, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::Postgres;
use tokio::sync::OwnedMutexGuard;

use super::{Pool, Store};
use crate::error::Result;
use crate::id::SyncKey;

/// In-process lock table (SQLite).
#[derive(Debug, Default)]
pub(crate) struct LocalLocks {
    locks: Mutex<HashMap<SyncKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl LocalLocks {
    /// The mutex of `key`, created on first use.
    fn mutex(&self, key: &SyncKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(key.clone()).or_default().clone()
    }
}

/// Unlocks advisory locks on `conn`; if that fails the session may still
/// hold them, so it is closed (the server then releases them) instead of
/// going back to the pool.
async fn unlock_or_close(mut conn: PoolConnection<Postgres>, keys: Vec<i64>) -> Result<()> {
    let unlocked = sqlx::query(
        "SELECT pg_advisory_unlock(k # hashtext(current_schema())::int8) FROM unnest($1::int8[]) AS t(k)",
    )
    .bind(keys)
    .execute(&mut *conn)
    .await;
    if unlocked.is_err() {
        drop(conn.detach());
    }
    unlocked?;
    Ok(())
}

/// A held record lock; call [`RecordLock::release`] when done.
pub(crate) struct RecordLock {
    held: Held,
}

enum Held {
    Local {
        guard: Option<OwnedMutexGuard<()>>,
        key: SyncKey,
        store: Store,
    },
    Postgres {
        conn: Option<PoolConnection<Postgres>>,
        key: i64,
    },
}

impl RecordLock {
    /// Waits until no other sync of `key` runs, then holds the lock.
    pub(crate) async fn acquire(store: &Store, key: &SyncKey) -> Result<Self> {
        let held = match store.pool() {
            Pool::Sqlite(_) => {
                let mutex = store.local_locks().mutex(key);
                Held::Local {
                    guard: Some(mutex.lock_owned().await),
                    key: key.clone(),
                    store: store.clone(),
                }
            }
            Pool::Postgres(pool) => {
                let lock_key = advisory_key(key);
                let mut conn = pool.acquire().await?;
                sqlx::query("SELECT pg_advisory_lock($1 # hashtext(current_schema())::int8)")
                    .bind(lock_key)
                    .execute(&mut *conn)
                    .await?;
                Held::Postgres {
                    conn: Some(conn),
                    key: lock_key,
                }
            }
        };
        Ok(Self { held })
    }

    /// Releases the lock.
    pub(crate) async fn release(mut self) -> Result<()> {
        if let Held::Postgres { conn, key } = &mut self.held {
            if let Some(conn) = conn.take() {
                unlock_or_close(conn, vec![*key]).await?;
            }
        }
        Ok(())
    }
}

impl Drop for RecordLock {
    fn drop(&mut self) {
        match &mut self.held {
            Held::Local { guard, key, store } => {
                drop(guard.take());
                let mut locks = store
                    .local_locks()
                    .locks
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                // Forget the mutex once nobody holds or waits on it, so the
                // table does not grow with the number of records synced.
                if locks.get(key).is_some_and(|m| Arc::strong_count(m) == 1) {
                    locks.remove(key);
                }
            }
            Held::Postgres { conn, .. } => {
                // Not released (cancelled or panicking task): closing the
                // session makes the server drop its advisory locks.
                if let Some(conn) = conn.take() {
                    drop(conn.detach());
                }
            }
        }
    }
}

/// A stable 64-bit advisory-lock key for one sync row.
fn advisory_key(key: &SyncKey) -> i64 {
    let mut hasher = Sha256::new();
    hasher.update(b"etlify-record-lock\0");
    hasher.update(key.crm_name.as_bytes());
    hasher.update([0]);
    hasher.update(key.resource_type.as_bytes());
    hasher.update([0]);
    hasher.update(key.resource_id.get().to_be_bytes());
    let hash = hasher.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&hash[..8]);
    i64::from_be_bytes(bytes)
}

/// Locks on many records at once, taken without waiting: records whose
/// lock is held elsewhere (a concurrent per-record sync) are reported busy
/// and left to the caller.
pub(crate) struct BatchLock {
    local: Vec<RecordLock>,
    postgres: Option<(PoolConnection<Postgres>, Vec<i64>)>,
}

impl BatchLock {
    /// Tries to lock every key; returns the lock and, per key, whether it
    /// was acquired.
    pub(crate) async fn try_acquire(store: &Store, keys: &[SyncKey]) -> Result<(Self, Vec<bool>)> {
        match store.pool() {
            Pool::Sqlite(_) => {
                let mut local = Vec::with_capacity(keys.len());
                let mut acquired = Vec::with_capacity(keys.len());
                for key in keys {
                    let mutex = store.local_locks().mutex(key);
                    let guard = mutex.try_lock_owned().ok();
                    acquired.push(guard.is_some());
                    // Kept even when busy, so the table entry is cleaned up on drop.
                    local.push(RecordLock {
                        held: Held::Local {
                            guard,
                            key: key.clone(),
                            store: store.clone(),
                        },
                    });
                }
                Ok((
                    Self {
                        local,
                        postgres: None,
                    },
                    acquired,
                ))
            }
            Pool::Postgres(pool) => {
                let lock_keys: Vec<i64> = keys.iter().map(advisory_key).collect();
                let mut conn = pool.acquire().await?;
                let acquired: Vec<bool> = sqlx::query_scalar(
                    "SELECT pg_try_advisory_lock(k # hashtext(current_schema())::int8) FROM unnest($1::int8[]) WITH ORDINALITY AS t(k, i) ORDER BY i",
                )
                .bind(&lock_keys)
                .fetch_all(&mut *conn)
                .await?;
                let held: Vec<i64> = lock_keys
                    .iter()
                    .zip(&acquired)
                    .filter(|(_, ok)| **ok)
                    .map(|(k, _)| *k)
                    .collect();
                Ok((
                    Self {
                        local: Vec::new(),
                        postgres: Some((conn, held)),
                    },
                    acquired,
                ))
            }
        }
    }

    /// Releases every lock held.
    pub(crate) async fn release(mut self) -> Result<()> {
        self.local.clear();
        if let Some((conn, keys)) = self.postgres.take() {
            unlock_or_close(conn, keys).await?;
        }
        Ok(())
    }
}

impl Drop for BatchLock {
    fn drop(&mut self) {
        // Not released: close the session so the server drops its locks.
        if let Some((conn, _)) = self.postgres.take() {
            drop(conn.detach());
        }
    }
}
