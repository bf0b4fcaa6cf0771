//! Leases: locks kept as rows in the database, valid until they expire
//! (X-8, X-10, G-10). Every lease the engine takes is taken in this folder:
//! - `batch_run.rs`: one batch run per CRM, a named row of `etlify_leases`
//!   (`["batch","hubspot"]`, unambiguous whatever the CRM name);
//! - `records.rs`: a record's or a batch page's lock, a row of
//!   `etlify_record_leases` on a range of one model's ids in one CRM.
//!
//! This file holds what every lease is. A lease is a row with an owner
//! token and an expiry time taken from the database's clock. Taking one is
//! a single upsert that succeeds only where no row exists or the row has
//! expired; releasing deletes the rows the owner still holds. Because the
//! state is in the database itself:
//! - it holds across every engine, process and machine sharing the
//!   database (SQLite file or PostgreSQL), not per `Store` object;
//! - no connection is held while a lease is held: a sync waiting on the CRM
//!   keeps no pooled connection, so any number of concurrent syncs complete
//!   with any pool size;
//! - a lease whose holder died (SIGKILL) expires after [`LEASE_TTL`];
//!   while its holder lives it is renewed [`RENEWALS_PER_TTL`] times per
//!   time to live, by a task of its own beside the work: a holder whose
//!   one CRM request outlasts the time to live keeps its lease;
//! - a holder whose renewals failed or came late for a whole time to live
//!   (the database unreachable, the process paused), or found a row taken
//!   over, no longer counts on its lease ([`Lease::is_held`]): it sends
//!   nothing more under it.

pub(crate) mod batch_run;
pub(crate) mod records;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sea_query::{Alias, Expr, ExprTrait, Iden, Query};
use tokio::task::JoinHandle;

use super::Store;
use crate::error::Result;

/// How long a lease lives without renewal, unless the store says otherwise
/// ([`crate::StoreOptions::lease_ttl`]): the longest a dead holder's records
/// and CRM stay locked. 15 s: the queue gives a killed worker's jobs to
/// others sooner (9 s), and a job that finds the CRM held comes back when
/// the lease ends, so the CRM is taken over about 15 s after the kill
/// (with 60 s it took about 65 s: docs/OPERATIONS.md).
pub(crate) const LEASE_TTL: Duration = Duration::from_secs(15);

/// The shortest lease time allowed (renewals every 750 ms).
pub(crate) const MIN_LEASE_TTL: Duration = Duration::from_secs(3);

/// Renewals per time to live. A renewal can be late (SQLite's write lock
/// taken by a large write, a busy server) or fail: with four, a live
/// holder keeps its leases through two missed renewals in a row.
pub(crate) const RENEWALS_PER_TTL: u32 = 4;

/// The columns both lease tables have.
#[derive(Iden, Clone, Copy)]
enum LeaseColumn {
    Owner,
    ExpiresAt,
}

/// The table a lease's rows are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeaseTable {
    /// `etlify_leases`: leases by name.
    Named,
    /// `etlify_record_leases`: leases on ranges of record ids.
    Records,
}

impl LeaseTable {
    fn iden(self) -> Alias {
        Alias::new(match self {
            LeaseTable::Named => crate::store::schema::LEASE_TABLE,
            LeaseTable::Records => crate::store::schema::RECORD_LEASE_TABLE,
        })
    }
}

/// Who takes a store's leases: an owner prefix unique among every store
/// sharing the database, and a count of its acquisitions. Held by the
/// [`Store`] (and shared by its clones), so that two engines in one
/// process never share a token nor a counter.
#[derive(Debug)]
pub(crate) struct LeaseOwner {
    prefix: String,
    acquisitions: AtomicU64,
}

impl LeaseOwner {
    /// An owner no other store has: this process's id, which tells an
    /// operator whose lease a row is, and 64 random bits, which tell apart
    /// two stores of one process (and processes of equal ids on two
    /// machines).
    pub(crate) fn unique() -> Self {
        Self::new(format!("{}-{:016x}", std::process::id(), random_u64()))
    }

    /// An owner whose tokens start with `prefix` (a worker's own).
    pub(crate) fn new(prefix: String) -> Self {
        Self {
            prefix,
            acquisitions: AtomicU64::new(0),
        }
    }

    /// The prefix of every token of this owner.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A token unique to one acquisition: the prefix and a counter.
    fn next_token(&self) -> String {
        format!(
            "{}-{}",
            self.prefix,
            self.acquisitions.fetch_add(1, Ordering::Relaxed)
        )
    }
}

/// 64 random bits without a dependency: std seeds the keys of its hashers
/// from the operating system once per thread and changes them with every
/// `RandomState`, so each call hashes the time under keys no other call used.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

/// A token unique to one acquisition, across every store and process: the
/// store's owner prefix ([`Store::with_lease_owner`] for a worker's own)
/// and the store's count of acquisitions.
pub(crate) fn new_owner(store: &Store) -> String {
    store.lease_owner.next_token()
}

/// Deletes every lease (named and on records) taken through `store`'s
/// owner prefix: for a worker whose shutdown deadline passed with syncs
/// still running, so that their records are free at once rather than
/// after [`LEASE_TTL`]. The locks of the process's other syncs (another
/// prefix) are left alone. Returns how many rows were deleted.
pub(crate) async fn release_all_of_owner(store: &Store) -> Result<u64> {
    let mut deleted = 0;
    for table in [LeaseTable::Named, LeaseTable::Records] {
        let mut delete = Query::delete();
        delete
            .from_table(table.iden())
            .and_where(Expr::col(LeaseColumn::Owner).like(format!("{}-%", store.lease_owner())));
        let (sql, values) = store.build(&delete);
        deleted += store.execute(sql, values).await?;
    }
    Ok(deleted)
}

/// Leases held by one owner; renewed in the background until released.
#[derive(Debug)]
pub(crate) struct Lease {
    store: Store,
    owner: String,
    table: LeaseTable,
    /// Rows held (renewal warns when fewer are renewed).
    rows: u64,
    /// How long the holder can count on its rows, kept by the renewals.
    hold: Arc<Hold>,
    renewal: Option<JoinHandle<()>>,
}

/// How long a holder can count on its leases, by its own monotonic clock.
#[derive(Debug)]
struct Hold {
    /// A renewal found fewer rows than held: another owner took one over.
    lost: AtomicBool,
    /// Until when every row is surely live: the start of the acquisition
    /// or of the last renewal that covered every row (the database set
    /// the expiry after it), plus the time to live.
    until: Mutex<Instant>,
}

impl Hold {
    fn held(&self) -> bool {
        !self.lost.load(Ordering::SeqCst) && Instant::now() < *lock(&self.until)
    }
}

/// `mutex`'s guard, even if a thread panicked holding it (an instant is
/// always whole).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Lease {
    /// `rows` rows of `table` that `owner` holds, taken by a statement
    /// that started at `taken_at`; renewed from now on until released.
    pub(crate) fn held(
        store: &Store,
        owner: String,
        table: LeaseTable,
        rows: u64,
        taken_at: Instant,
    ) -> Self {
        let hold = Arc::new(Hold {
            lost: AtomicBool::new(false),
            until: Mutex::new(taken_at + store.lease_ttl()),
        });
        let renewal = (rows > 0).then(|| {
            let (store, owner, hold) = (store.clone(), owner.clone(), hold.clone());
            // A task of its own, not a step between the holder's requests:
            // the lease is renewed while a slow CRM request waits. The
            // period counts from each renewal's start, so a slow renewal
            // does not push the next one later.
            tokio::spawn(async move {
                let period = store.lease_ttl() / RENEWALS_PER_TTL;
                let mut ticks =
                    tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    ticks.tick().await;
                    let started = Instant::now();
                    match renew(&store, &owner, table).await {
                        Ok(renewed) if renewed >= rows => {
                            *lock(&hold.until) = started + store.lease_ttl();
                        }
                        Ok(renewed) => {
                            hold.lost.store(true, Ordering::SeqCst);
                            tracing::error!(
                                message = "Some locks expired before their renewal and another process may hold them; nothing more is sent under them.",
                                lost = rows - renewed
                            );
                        }
                        Err(error) => {
                            tracing::warn!(message = "Renewing a lease failed.", %error);
                        }
                    }
                }
            })
        });
        Self {
            store: store.clone(),
            owner,
            table,
            rows,
            hold,
            renewal,
        }
    }

    /// The owner token of this acquisition.
    pub(crate) fn owner(&self) -> &str {
        &self.owner
    }

    /// Whether the holder can still count on every row it took: none was
    /// found taken over, and the last renewal covering them all (or the
    /// acquisition) is less than a time to live old. A holder sends nothing
    /// more once this is false: another process may hold its records.
    pub(crate) fn is_held(&self) -> bool {
        self.rows > 0 && self.hold.held()
    }

    /// Releases every lease held (only rows this owner still holds).
    pub(crate) async fn release(mut self) -> Result<()> {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        let rows = std::mem::take(&mut self.rows);
        delete(&self.store, &self.owner, self.table, rows).await
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        // Not released (a cancelled task): free the rows now if a runtime
        // is there to do it; otherwise they expire after LEASE_TTL.
        if self.rows == 0 {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (store, owner, table, rows) = (
                self.store.clone(),
                std::mem::take(&mut self.owner),
                self.table,
                std::mem::take(&mut self.rows),
            );
            runtime.spawn(async move {
                if let Err(error) = delete(&store, &owner, table, rows).await {
                    tracing::warn!(message = "Freeing a dropped lease failed; it expires on its own.", %error);
                }
            });
        }
    }
}

/// Pushes the expiry of the leases `owner` holds in `table` (one owner
/// token per acquisition, so no list of names is needed); returns how many
/// rows it still held.
async fn renew(store: &Store, owner: &str, table: LeaseTable) -> Result<u64> {
    let mut update = Query::update();
    update
        .table(table.iden())
        .value(
            LeaseColumn::ExpiresAt,
            store.dialect().now_plus(store.lease_ttl()),
        )
        .and_where(Expr::col(LeaseColumn::Owner).eq(owner));
    let (sql, values) = store.build(&update);
    store.execute(sql, values).await
}

/// Deletes every lease `owner` still holds in `table`.
async fn delete(store: &Store, owner: &str, table: LeaseTable, rows: u64) -> Result<()> {
    if rows == 0 {
        return Ok(());
    }
    let mut delete = Query::delete();
    delete
        .from_table(table.iden())
        .and_where(Expr::col(LeaseColumn::Owner).eq(owner));
    let (sql, values) = store.build(&delete);
    store.execute(sql, values).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::batch_run::batch_run_name;
    use super::*;

    /// A held lease is renewed by its holder (pushed past now) and released
    /// only by it; a renewal by another owner changes nothing.
    #[tokio::test]
    async fn x10_renewal_keeps_a_lease_and_only_its_owner_releases_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("leases.sqlite3").display());
        let store = Store::connect(&url).await.unwrap();
        crate::store::schema::migrate(&store, &Default::default())
            .await
            .unwrap();
        let name = batch_run_name("hubspot");
        let (lease, taken) = Lease::try_acquire(&store, vec![name.clone()])
            .await
            .unwrap();
        assert_eq!(taken, [true]);
        let pool = store.sqlite_pool().unwrap();
        let expire = "UPDATE etlify_leases SET expires_at = strftime('%Y-%m-%d %H:%M:%f000', 'now', '-1 seconds')";
        sqlx::query(expire).execute(pool).await.unwrap();

        // Another owner's renewal and release leave it alone...
        renew(&store, "someone-else", LeaseTable::Named)
            .await
            .unwrap();
        delete(&store, "someone-else", LeaseTable::Named, 1)
            .await
            .unwrap();
        let (_, taken) = Lease::try_acquire(&store, vec![name.clone()])
            .await
            .unwrap();
        assert_eq!(taken, [true], "expired and not renewed: taken over");

        // ...the holder's renewal keeps it.
        let (mine, taken) = Lease::try_acquire(&store, vec![batch_run_name("airtable")])
            .await
            .unwrap();
        assert_eq!(taken, [true]);
        sqlx::query(expire).execute(pool).await.unwrap();
        assert_eq!(
            renew(&store, &mine.owner, mine.table).await.unwrap(),
            mine.rows
        );
        let (_, taken) = Lease::try_acquire(&store, vec![batch_run_name("airtable")])
            .await
            .unwrap();
        assert_eq!(taken, [false], "renewed: still held");
        mine.release().await.unwrap();
        let (_, taken) = Lease::try_acquire(&store, vec![batch_run_name("airtable")])
            .await
            .unwrap();
        assert_eq!(taken, [true], "released by its owner");
        drop(lease);
    }

    /// Two stores of one process own different tokens: releasing every
    /// lease of one (a worker's deadline) leaves the other's held.
    #[tokio::test]
    async fn stores_of_one_process_release_only_their_own_leases() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("owners.sqlite3").display());
        let first = Store::connect(&url).await.unwrap();
        crate::store::schema::migrate(&first, &Default::default())
            .await
            .unwrap();
        let second = Store::connect(&url).await.unwrap();
        assert_ne!(first.lease_owner(), second.lease_owner());

        let (kept, taken) = Lease::try_acquire(&first, vec![batch_run_name("hubspot")])
            .await
            .unwrap();
        assert_eq!(taken, [true]);
        let (released, taken) = Lease::try_acquire(&second, vec![batch_run_name("airtable")])
            .await
            .unwrap();
        assert_eq!(taken, [true]);
        assert_ne!(kept.owner(), released.owner());

        assert_eq!(release_all_of_owner(&second).await.unwrap(), 1);
        let (_, taken) = Lease::try_acquire(
            &second,
            vec![batch_run_name("hubspot"), batch_run_name("airtable")],
        )
        .await
        .unwrap();
        assert_eq!(
            taken,
            [false, true],
            "the first store's lease is still held"
        );
        kept.release().await.unwrap();
        drop(released);
    }
}
