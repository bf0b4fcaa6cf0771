//! SQLite: every way it differs from the shared SQL, one file per concern.
//!
//! - Timestamps are text in Rails' format `YYYY-MM-DD HH:MM:SS.ffffff`
//!   (UTC), so text comparison with the application's columns is
//!   chronological; "now" is this process's clock (SQLite has no server
//!   clock; `CURRENT_TIMESTAMP` reads the same one with less precision).
//! - Sync rows are upserted as multi-row `VALUES` with plain `?`
//!   placeholders (numbered ones cost sqlx quadratic time, docs/ARCHITECTURE.md).
//! - A payload column's declared type (`pragma_table_info` of the table it
//!   comes from) decides its meaning where SQLite's storage class cannot
//!   (booleans as 0/1, dates and timestamps as text, decimals as REAL);
//!   expressions fall back to the storage class.
//! - Change triggers count each watched table's writes in a table a
//!   worker reads (`change_triggers.rs`): SQLite cannot notify.
//! - A CRM's rate window can be kept in the file and shared by every
//!   process on it (`rate_window.rs`: an immediate write transaction per
//!   request instead of row locks).

mod bulk_writes;
mod change_triggers;
mod clock;
mod data_version;
mod ddl;
mod dialect;
mod file_wakes;
mod introspect;
mod payload_rows;
mod rate_window;
pub(super) mod rows;
mod wal_checkpoint;

use std::any::Any;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::SqlitePool;

pub(crate) use self::dialect::SqliteDialect;
pub use self::dialect::TIMESTAMP_FORMAT;
use self::rate_window::SqliteRateWindow;
use self::wal_checkpoint::{WalCheckpointer, FALLBACK_AUTOCHECKPOINT_PAGES};
use super::{Backend, ChangeTriggers, CommitCounter, Dialect, SharedRateWindow};
use crate::error::Result;
use crate::store::StoreOptions;

/// Connections per pool unless the options say otherwise. SQLite writes
/// one at a time: two connections let a read run beside the write, and
/// each more one cost memory (its page cache, a malloc arena for its
/// thread) and no speed (measured at 1M records: peak 94 → 42 MiB from 4
/// to 2, docs/BENCHMARKS.md).
const CONNECTIONS: u32 = 2;

/// A live SQLite database.
#[derive(Debug)]
pub(crate) struct SqliteBackend {
    pool: SqlitePool,
    /// Declared column types per table (`pragma_table_info`), read once.
    declared: Mutex<HashMap<String, Arc<HashMap<String, String>>>>,
    /// Copies the write-ahead log back after sync-row writes (`None`
    /// outside a tokio runtime: SQLite then checkpoints inline).
    checkpointer: Option<WalCheckpointer>,
    /// The CRMs' rate windows every process on the file shares (`None`
    /// for a database in memory, which no other process opens).
    rate_window: Option<Arc<SqliteRateWindow>>,
}

impl SqliteBackend {
    pub(crate) fn new(pool: SqlitePool) -> Self {
        Self {
            checkpointer: WalCheckpointer::start(&pool),
            rate_window: SqliteRateWindow::of(&pool.connect_options()).map(Arc::new),
            pool,
            declared: Mutex::default(),
        }
    }

    /// Opens (creating it unless `options.must_exist`) the database at `url`.
    pub(crate) async fn connect(url: &str, options: &StoreOptions) -> Result<Self> {
        let size = options.max_connections.unwrap_or(CONNECTIONS);
        Ok(Self::new(connect(url, size, !options.must_exist).await?))
    }

    /// The pool.
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

impl Backend for SqliteBackend {
    fn dialect(&self) -> &'static dyn Dialect {
        &SqliteDialect
    }

    fn shared_rate_window(&self) -> Option<Arc<dyn SharedRateWindow>> {
        self.rate_window
            .clone()
            .map(|window| window as Arc<dyn SharedRateWindow>)
    }

    fn change_triggers(&self) -> Option<Arc<dyn ChangeTriggers>> {
        Some(Arc::new(change_triggers::SqliteChangeTriggers::new(
            self.pool.clone(),
        )))
    }

    fn commit_counter(&self) -> Option<Box<dyn CommitCounter>> {
        data_version::SqliteDataVersion::of(&self.pool.connect_options())
            .map(|counter| Box::new(counter) as Box<dyn CommitCounter>)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Opens (creating if missing) the database at `url`.
async fn connect(url: &str, max_connections: u32, create: bool) -> Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)?;
    let path = options.get_filename().to_owned();
    let in_memory = path.as_os_str().is_empty() || path.as_os_str() == ":memory:";
    if !create && !in_memory && !path.exists() {
        // A relative path is read from the current folder: say which.
        let shown = match std::path::absolute(&path) {
            Ok(absolute) if path.is_relative() => format!(
                "{} (relative to the current folder: {})",
                path.display(),
                absolute.display()
            ),
            _ => path.display().to_string(),
        };
        return Err(crate::error::ConfigError::new(
            "database",
            "url",
            format!(
                "names the SQLite file {shown}, which does not exist (check the path; a migration creates it)"
            ),
        )
        .fixed_by(crate::error::Remedy::Migrate)
        .into());
    }
    let options = options
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(10))
        // WAL with NORMAL sync (Rails' default too): commits are durable
        // across a crash of the process, not of the machine; a commit no
        // longer waits for an fsync (sync state is written per CRM request).
        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
        // 8 MiB of page cache per connection (SQLite's default is 2 MiB):
        // the interior pages of the sync table and its indexes stay cached,
        // so the scattered writes of a run after a small change cost a
        // third less than with 4 MiB (16 MiB gains nothing more); peak
        // memory stays under 64 MiB at 1M records (docs/BENCHMARKS.md,
        // "A run's cost follows what changed").
        .pragma("cache_size", "-8192")
        // Checkpoints run off the writers' path (`wal_checkpoint.rs`);
        // SQLite's own, inside a commit, only if that falls behind.
        .pragma(
            "wal_autocheckpoint",
            FALLBACK_AUTOCHECKPOINT_PAGES.to_string(),
        );
    Ok(SqlitePoolOptions::new()
        .max_connections(max_connections)
        .connect_with(options)
        .await?)
}
