//! Leases of live and dead holders (X-10, G-10): a
//! holder whose one CRM request outlasts the lease's time to live keeps
//! its CRM, a killed holder's CRM is taken over once its time to live has
//! passed, by default within 15 s of its death, and a holder that lost a
//! lock sends nothing more under it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use etlify::BatchSyncOptions;
use tokio::sync::oneshot;

use crate::support::adapter::BatchRecordingAdapter;
use crate::support::{engine_on, hubspot_users, hubspot_users_on, user_model, TestDb};

/// The lease tables: a CRM's batch run, and record and page locks.
const LEASE_TABLES: [&str; 2] = ["etlify_leases", "etlify_record_leases"];

/// How long a test waits for something it expects before failing.
const EXPECTED_WITHIN: Duration = Duration::from_secs(60);

async fn users(db: &TestDb, n: usize) {
    for i in 0..n {
        db.insert_user(&format!("u{i:03}@x.io"), None).await;
    }
}

/// SQL for the database's "now" plus `seconds`, in lease-expiry format.
fn now_plus(db: &TestDb, seconds: u64) -> String {
    if db.is_postgres() {
        format!("({} + interval '{seconds} seconds')", db.now_sql())
    } else {
        format!("strftime('%Y-%m-%d %H:%M:%f000', 'now', '+{seconds} seconds')")
    }
}

/// Lease rows (of both tables) that the database's clock says are live.
async fn live_leases(db: &TestDb) -> i64 {
    leases_expiring_after(db, 0).await
}

/// Lease rows (of both tables) that expire later than `seconds` from now.
async fn leases_expiring_after(db: &TestDb, seconds: u64) -> i64 {
    let mut rows = 0;
    for table in LEASE_TABLES {
        rows += db
            .scalar_i64(&format!(
                "SELECT COUNT(*) FROM {table} WHERE expires_at > {}",
                now_plus(db, seconds)
            ))
            .await;
    }
    rows
}

/// Keeps the expiry times the leases have now in `marks` (a table of the
/// test's own), to compare the database's clock with them later.
async fn mark_expiry_times(db: &TestDb, marks: &str) {
    db.exec(&format!(
        "CREATE TABLE {marks} AS SELECT expires_at FROM etlify_leases \
         UNION ALL SELECT expires_at FROM etlify_record_leases"
    ))
    .await;
}

/// Marked expiry times the database's clock has not reached yet.
async fn marks_in_the_future(db: &TestDb, marks: &str) -> i64 {
    db.scalar_i64(&format!(
        "SELECT COUNT(*) FROM {marks} WHERE expires_at >= {}",
        db.now_sql()
    ))
    .await
}

/// Waits, by the database's clock, until every marked expiry time has
/// passed.
async fn until_marks_passed(db: &TestDb, marks: &str) {
    let deadline = Instant::now() + EXPECTED_WITHIN;
    while marks_in_the_future(db, marks).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the database's clock did not pass the marks within {EXPECTED_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Records sent to `adapter`, over all its batch calls.
fn records_sent(adapter: &BatchRecordingAdapter) -> usize {
    adapter.batch_calls().iter().map(Vec::len).sum()
}

/// A batch run on a tokio runtime of its own, as in another process.
/// Killing it drops that runtime with the run in it: its lease renewals
/// stop, and nothing releases its locks, as after a SIGKILL (a lease
/// dropped then asks the dying runtime to free its rows, which runs
/// nothing any more).
struct RunInAnotherProcess {
    kill: oneshot::Sender<()>,
    dead: oneshot::Receiver<()>,
}

impl RunInAnotherProcess {
    fn start(db: Arc<TestDb>, adapter: Arc<BatchRecordingAdapter>, lease_ttl: Duration) -> Self {
        let (kill, killed) = oneshot::channel();
        let (died, dead) = oneshot::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let store = db.another_store(2).await.with_lease_ttl(lease_ttl);
                let etlify = hubspot_users_on(store, adapter).await;
                let _run =
                    tokio::spawn(async move { etlify.batch_sync(&BatchSyncOptions::new()).await });
                let _ = killed.await;
            });
            drop(runtime);
            let _ = died.send(());
        });
        Self { kill, dead }
    }

    /// Kills the run; returns once its runtime is gone.
    async fn kill(self) {
        let _ = self.kill.send(());
        self.dead.await.unwrap();
    }
}

// The database tests, compiled once per backend: `leases::sqlite::…` and
// `leases::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
