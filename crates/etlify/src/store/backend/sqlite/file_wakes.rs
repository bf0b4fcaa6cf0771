//! Whether a SQLite database's files changed: the kernel's file events
//! (inotify on Linux, through `notify`) on the main file and its `-wal`
//! and `-journal`, so that the change triggers' counters are read when a
//! commit may have moved them rather than every second.
//!
//! - The directory is watched, not the files: the `-wal` and `-journal`
//!   come and go with the connections and transactions.
//! - Any write wakes the reader, the worker's own and the queue's
//!   heartbeat included: the counters then say whether a watched table
//!   really changed, so a heartbeat costs one read, never a run.
//! - A commit's last write comes a few microseconds before other
//!   connections can see it (SQLite's WAL index): the reader waits
//!   [`SETTLE`] after a wake before reading, which also takes the rest of
//!   a burst's writes in the same read.
//! - Reads leave the files alone (the WAL index, `-shm`, is not watched),
//!   so a read never wakes the reader again.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::Notify;

/// How long after a file event the counters are read.
pub(super) const SETTLE: Duration = Duration::from_millis(50);

/// What the watcher's thread hands the reader.
#[derive(Debug, Default)]
struct Shared {
    wake: Notify,
    /// A write was seen since the last read.
    dirty: AtomicBool,
    /// The first error the watcher reported; it may miss events since.
    error: Mutex<Option<String>>,
}

/// A watch on a database's files.
pub(super) struct FileWakes {
    // Dropping it stops the watch.
    _watcher: RecommendedWatcher,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for FileWakes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileWakes").finish_non_exhaustive()
    }
}

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wake {
    /// The database's files were written to.
    Written,
    /// Nothing was written within the wait.
    TimedOut,
}

impl FileWakes {
    /// Watches the files of the database at `database` (the main file).
    pub(super) fn watch(database: &Path) -> Result<Self, String> {
        let database = database
            .canonicalize()
            .map_err(|error| format!("{}: {error}", database.display()))?;
        let (directory, names) = watched_names(&database)
            .ok_or_else(|| format!("{}: not a file in a directory", database.display()))?;
        let shared = Arc::new(Shared::default());
        let events = shared.clone();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
            match event {
                Ok(event) if is_a_write(&event, &names) => {}
                Ok(_) => return,
                Err(error) => {
                    let mut first = events.error.lock().unwrap_or_else(|e| e.into_inner());
                    first.get_or_insert_with(|| error.to_string());
                }
            }
            events.dirty.store(true, Ordering::SeqCst);
            events.wake.notify_one();
        })
        .map_err(|error| error.to_string())?;
        watcher
            .watch(&directory, RecursiveMode::NonRecursive)
            .map_err(|error| format!("{}: {error}", directory.display()))?;
        Ok(Self {
            _watcher: watcher,
            shared,
        })
    }

    /// Waits until the files were written to (then [`SETTLE`] more), or
    /// `at_most`.
    pub(super) async fn written_or(&self, at_most: Duration) -> Wake {
        let deadline = tokio::time::Instant::now() + at_most;
        loop {
            tokio::select! {
                () = self.shared.wake.notified() => {}
                () = tokio::time::sleep_until(deadline) => return Wake::TimedOut,
            }
            // A wake left by writes the last read already covered.
            if self.shared.dirty.load(Ordering::SeqCst) {
                break;
            }
        }
        tokio::time::sleep(SETTLE).await;
        Wake::Written
    }

    /// Marks every write seen so far as covered: called just before a read.
    pub(super) fn reading(&self) {
        self.shared.dirty.store(false, Ordering::SeqCst);
    }

    /// The first error the watcher reported, taken once: events may have
    /// been missed since, and the reader falls back to its period.
    pub(super) fn take_error(&self) -> Option<String> {
        self.shared
            .error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

/// The directory of `database` and the names of its files there.
fn watched_names(database: &Path) -> Option<(PathBuf, [OsString; 3])> {
    let directory = database.parent()?.to_path_buf();
    let main = database.file_name()?.to_os_string();
    let with = |suffix: &str| {
        let mut name = main.clone();
        name.push(suffix);
        name
    };
    let names = [with("-wal"), with("-journal"), main];
    Some((directory, names))
}

/// Whether `event` is a write to (or the creation or removal of) one of
/// the database's files; opening or reading one is not.
fn is_a_write(event: &Event, names: &[OsString]) -> bool {
    let written = matches!(
        event.kind,
        EventKind::Modify(_) | EventKind::Create(_) | EventKind::Remove(_) | EventKind::Any
    );
    written
        && event.paths.iter().any(|path| {
            path.file_name()
                .is_some_and(|name| names.iter().any(|watched| watched == name))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_file_and_its_journals_are_watched_not_the_wal_index() {
        let (directory, names) = watched_names(Path::new("/data/app.db")).unwrap();
        assert_eq!(directory, Path::new("/data"));
        let write = |name: &str| {
            Event::new(EventKind::Modify(notify::event::ModifyKind::Any))
                .add_path(directory.join(name))
        };
        for name in ["app.db", "app.db-wal", "app.db-journal"] {
            assert!(is_a_write(&write(name), &names), "{name}");
        }
        for name in ["app.db-shm", "other.db", "app.log"] {
            assert!(!is_a_write(&write(name), &names), "{name}");
        }
        let opened = Event::new(EventKind::Access(notify::event::AccessKind::Any))
            .add_path(directory.join("app.db-wal"));
        assert!(!is_a_write(&opened, &names));
    }
}
