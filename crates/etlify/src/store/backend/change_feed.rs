//! Two capabilities telling a worker that the application committed
//! changes, so that its runs start within seconds instead of at its next
//! interval (docs/OPERATIONS.md "Changes within seconds"):
//!
//! - [`ChangeTriggers`]: PostgreSQL's statement-level triggers calling
//!   `pg_notify`, and a listener on their channel
//!   (`postgres/change_triggers.rs`); SQLite's row-level triggers counting
//!   each table's writes, and a reader of those counters
//!   (`sqlite/change_triggers.rs`);
//! - [`CommitCounter`]: a number that moves when another connection
//!   commits, read with one light query (SQLite's `PRAGMA data_version`:
//!   `sqlite/data_version.rs`).
//!
//! Both are accessors answering `None` where the database has no such
//! thing (`Backend::change_triggers`, `Backend::commit_counter`).

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;

/// The trigger every watched table gets, on every database.
pub(crate) const TRIGGER_NAME: &str = "etlify_changes";

/// The function the triggers call, which sends the notification.
pub(crate) const FUNCTION_NAME: &str = "etlify_notify_change";

/// The channel the notifications go to; their payload is the changed
/// table, as `schema.table`.
pub(crate) const CHANNEL: &str = "etlify_changes";

/// What installing the triggers changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TriggerChanges {
    /// Tables that got a trigger now (`schema.table`).
    pub added: Vec<String>,
    /// Tables that had one already.
    pub kept: Vec<String>,
    /// Tables no longer watched whose trigger was removed.
    pub removed: Vec<String>,
}

/// The statements that make the triggers exactly those of `tables`,
/// given those `installed`: `setup` first (the function or the counter
/// table), `create` for each table missing one, `drop` for each table no
/// longer watched; and what was added, kept and removed.
pub(crate) fn plan_triggers(
    tables: &[String],
    installed: &[String],
    setup: String,
    create: impl Fn(&str) -> Vec<String>,
    drop: impl Fn(&str) -> Vec<String>,
) -> (Vec<String>, TriggerChanges) {
    let mut statements = vec![setup];
    let mut changes = TriggerChanges::default();
    for table in tables {
        if installed.contains(table) {
            changes.kept.push(table.clone());
        } else if !changes.added.contains(table) {
            statements.extend(create(table));
            changes.added.push(table.clone());
        }
    }
    for table in installed {
        if !tables.contains(table) {
            statements.extend(drop(table));
            changes.removed.push(table.clone());
        }
    }
    (statements, changes)
}

/// What [`ChangeTriggers::install_statements`] shows of a plan: nothing
/// when every trigger is in place.
pub(crate) fn still_to_run(
    (statements, changes): (Vec<String>, TriggerChanges),
    installed: &[String],
) -> Vec<String> {
    if changes.added.is_empty() && changes.removed.is_empty() && !installed.is_empty() {
        return Vec::new();
    }
    statements
}

/// Triggers notifying a channel of each statement that changes a watched
/// table, and listeners on that channel.
#[async_trait]
pub(crate) trait ChangeTriggers: Send + Sync + fmt::Debug {
    /// The tables (`schema.table`) whose trigger calls the function, as
    /// the database's catalog says: the record of what was installed.
    async fn installed(&self) -> Result<Vec<String>>;

    /// `table` as the database resolves it (`schema.table`), or `None`
    /// when there is no such table.
    async fn qualified(&self, table: &str) -> Result<Option<String>>;

    /// The job queue's table, watched too where the queue has no
    /// notification of its own (SQLite's): a job another process queues
    /// then wakes a worker's fetch.
    fn queue_table(&self) -> Option<&'static str> {
        None
    }

    /// The statements [`ChangeTriggers::install`] would run for `tables`
    /// (`schema.table`), changing nothing.
    async fn install_statements(&self, tables: &[String]) -> Result<Vec<String>>;

    /// Makes the triggers exactly those of `tables` (`schema.table`), in
    /// one transaction: missing ones created, those of other tables
    /// removed, the others left alone.
    async fn install(&self, tables: &[String]) -> Result<TriggerChanges>;

    /// Removes every trigger calling the function, and the function: the
    /// tables they were on.
    async fn remove(&self) -> Result<Vec<String>>;

    /// A listener on the channel, on its own connection, named `name` in
    /// the server's list of sessions; where the database cannot notify
    /// (SQLite), a reader of the triggers' counters as `reads` says. Once
    /// it is returned, every later commit is reported.
    async fn listen(&self, name: &str, reads: CounterReads) -> Result<Box<dyn ChangeListener>>;
}

/// When a database that cannot notify (SQLite) has its triggers' counters
/// read: when its files are written to, and at least every `period` (a
/// safety net: a file event missed, or the files not watchable).
#[derive(Debug, Clone)]
pub(crate) struct CounterReads {
    pub(crate) period: Duration,
    /// Counted up for each read a write to the files caused.
    pub(crate) file_wakes: Arc<AtomicU64>,
}

/// A connection listening on the triggers' channel.
#[async_trait]
pub(crate) trait ChangeListener: Send {
    /// The next table changed (`schema.table`); an error when the
    /// connection was lost (notifications may have been missed).
    async fn next(&mut self) -> Result<String>;
}

/// A number that changes when another connection commits a change to the
/// database, read on one held connection.
#[async_trait]
pub(crate) trait CommitCounter: Send + fmt::Debug {
    /// The number now (the first read opens the connection).
    async fn read(&mut self) -> Result<i64>;
}
