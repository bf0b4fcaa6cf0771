//! Checkpoints of SQLite's write-ahead log, off the writers' path.
//!
//! SQLite copies the log back into the database file (a checkpoint) inside
//! the commit that grows the log past `wal_autocheckpoint` pages, so that
//! writer's statement waits for the copy. After a small change, a run
//! rewrites scattered rows, a page of the log each: measured on 1M sync
//! rows, 10,000 scattered upserts took 0.41 s with SQLite's checkpoints
//! inline and 0.19 s without, the copy itself 0.15 s (docs/BENCHMARKS.md,
//! "WAL checkpoints off the writers' path").
//!
//! Here a task with a connection of its own runs a `PASSIVE` checkpoint
//! after the store writes sync rows: it copies what is committed without
//! blocking writers or readers, on another core than the writers. The
//! engine's connections keep SQLite's own checkpoint as a fallback, at a
//! larger log ([`FALLBACK_AUTOCHECKPOINT_PAGES`]), should this task fall
//! behind.

use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqlitePool};
use tokio::sync::mpsc;

/// Log pages at which an engine connection checkpoints inline anyway
/// (SQLite's default is 1,000): 16 MiB of log at 4 KiB pages.
pub(crate) const FALLBACK_AUTOCHECKPOINT_PAGES: u32 = 4_096;

/// Shortest time between two checkpoints: each syncs the log and the
/// database file to disk, so a burst of writes is copied in one go.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// Wakes the checkpoint task; the task ends when this is dropped.
#[derive(Debug)]
pub(crate) struct WalCheckpointer {
    wake: mpsc::Sender<()>,
}

impl WalCheckpointer {
    /// Starts the task for the database of `pool`, on the current tokio
    /// runtime; `None` outside one. A database not in WAL mode (in memory,
    /// or an application's pool in another journal mode) ends the task at
    /// once.
    pub(crate) fn start(pool: &SqlitePool) -> Option<Self> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let options = pool.connect_options();
        let (wake, woken) = mpsc::channel(1);
        runtime.spawn(run((*options).clone(), woken));
        Some(Self { wake })
    }

    /// Asks for a checkpoint after a write (never waits).
    pub(crate) fn wrote(&self) {
        // Full: a checkpoint is already asked for, which covers this write.
        let _ = self.wake.try_send(());
    }
}

async fn run(options: SqliteConnectOptions, mut woken: mpsc::Receiver<()>) {
    // A checkpoint reads the log and writes the file without the page
    // cache: this connection needs almost none.
    let options = options.pragma("cache_size", "-64");
    let mut connection = match options.connect().await {
        Ok(connection) => connection,
        Err(error) => {
            tracing::debug!(message = "No WAL checkpoint connection; SQLite checkpoints inline.", %error);
            return;
        }
    };
    let mode: Result<String, _> = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut connection)
        .await;
    if mode.is_ok_and(|mode| mode.eq_ignore_ascii_case("wal")) {
        while woken.recv().await.is_some() {
            if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&mut connection)
                .await
            {
                tracing::debug!(message = "WAL checkpoint failed; the next write asks again.", %error);
            }
            tokio::time::sleep(MIN_INTERVAL).await;
        }
    }
    let _ = connection.close().await;
}
