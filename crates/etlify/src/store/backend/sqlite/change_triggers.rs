//! SQLite's change triggers: SQLite cannot notify another connection, so
//! each watched table's writes are counted instead, in one row per table
//! of `etlify_changes`, and a worker reads that table after the
//! database's files were written to (one light statement: a few rows,
//! whatever the application's size).
//!
//! - SQLite's triggers are row-level only: three per table (`AFTER
//!   INSERT`, `UPDATE`, `DELETE`, named `etlify_changes_<op>_<table>`),
//!   each adding one to its table's row in the application's own
//!   transaction, so a counter moves at the commit, never for a rollback.
//!   A 5,000-row `UPDATE` adds 5,000 to one row (what that costs the
//!   application's writes: docs/OPERATIONS.md).
//! - The job queue's table (apalis's `Jobs`) gets the same triggers when it
//!   exists, so that a job another process queues wakes a worker's fetch
//!   instead of waiting for its poll.
//! - Only the worker's reads of the counters are light; the counters are
//!   distinct per table, so the queue's heartbeat (another table) and the
//!   worker's own sync-row writes move none of them.
//! - The counters are read when the database's files are written to
//!   (`file_wakes.rs`), and at least every period (a safety net); every
//!   second when the files cannot be watched.
//!
//! The database's catalog (`sqlite_master`) is the record of what was
//! installed: the triggers whose name starts with `etlify_changes_`.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, SqlitePool};

use super::file_wakes::{FileWakes, Wake};
use crate::error::Result;
use crate::store::backend::change_feed::{plan_triggers, still_to_run, TRIGGER_NAME};
use crate::store::backend::{ChangeListener, ChangeTriggers, CounterReads, TriggerChanges};

/// The table counting each watched table's writes.
const COUNTER_TABLE: &str = "etlify_changes";

/// apalis's table of jobs on SQLite.
const QUEUE_TABLE: &str = "Jobs";

/// The operations a row-level trigger is created for.
const OPERATIONS: [&str; 3] = ["insert", "update", "delete"];

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn trigger_name(operation: &str, table: &str) -> String {
    format!("{TRIGGER_NAME}_{operation}_{table}")
}

fn create_counter_table() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {} (table_name TEXT PRIMARY KEY NOT NULL, changes INTEGER NOT NULL DEFAULT 0)",
        ident(COUNTER_TABLE)
    )
}

/// The statements giving `table` its row and its three triggers.
fn create_triggers(table: &str) -> Vec<String> {
    let mut statements = vec![format!(
        "INSERT OR IGNORE INTO {} (table_name, changes) VALUES ({}, 0)",
        ident(COUNTER_TABLE),
        literal(table)
    )];
    for operation in OPERATIONS {
        statements.push(format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER {} ON {} BEGIN UPDATE {} SET changes = changes + 1 WHERE table_name = {}; END",
            ident(&trigger_name(operation, table)),
            operation.to_ascii_uppercase(),
            ident(table),
            ident(COUNTER_TABLE),
            literal(table)
        ));
    }
    statements
}

/// The statements removing `table`'s triggers and row.
fn drop_triggers(table: &str) -> Vec<String> {
    let mut statements: Vec<String> = OPERATIONS
        .iter()
        .map(|operation| {
            format!(
                "DROP TRIGGER IF EXISTS {}",
                ident(&trigger_name(operation, table))
            )
        })
        .collect();
    statements.push(format!(
        "DELETE FROM {} WHERE table_name = {}",
        ident(COUNTER_TABLE),
        literal(table)
    ));
    statements
}

/// The tables with a trigger of ours (`_` escaped: a LIKE wildcard).
const INSTALLED: &str = "SELECT DISTINCT tbl_name FROM sqlite_master \
     WHERE type = 'trigger' AND name LIKE 'etlify\\_changes\\_%' ESCAPE '\\' ORDER BY 1";

/// A table as the file names it (SQLite's names are case-insensitive).
const QUALIFIED: &str =
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?1 COLLATE NOCASE";

/// The change triggers of a SQLite database.
#[derive(Debug)]
pub(super) struct SqliteChangeTriggers {
    pool: SqlitePool,
}

impl SqliteChangeTriggers {
    pub(super) fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// The statements that make the triggers those of `tables`, given
    /// those `installed`: what was added, kept and removed.
    fn plan(tables: &[String], installed: &[String]) -> (Vec<String>, TriggerChanges) {
        plan_triggers(
            tables,
            installed,
            create_counter_table(),
            create_triggers,
            drop_triggers,
        )
    }

    async fn installed_on(
        executor: impl sqlx::Executor<'_, Database = sqlx::Sqlite>,
    ) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(INSTALLED).fetch_all(executor).await?)
    }
}

#[async_trait]
impl ChangeTriggers for SqliteChangeTriggers {
    async fn installed(&self) -> Result<Vec<String>> {
        Self::installed_on(&self.pool).await
    }

    async fn qualified(&self, table: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(QUALIFIED)
            .bind(table)
            .fetch_optional(&self.pool)
            .await?)
    }

    fn queue_table(&self) -> Option<&'static str> {
        Some(QUEUE_TABLE)
    }

    async fn install_statements(&self, tables: &[String]) -> Result<Vec<String>> {
        let installed = self.installed().await?;
        Ok(still_to_run(Self::plan(tables, &installed), &installed))
    }

    async fn install(&self, tables: &[String]) -> Result<TriggerChanges> {
        // An immediate transaction: two installs at once run one after the
        // other, the second seeing the first's triggers.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let installed = Self::installed_on(&mut *tx).await?;
        let (statements, changes) = Self::plan(tables, &installed);
        for statement in statements {
            sqlx::raw_sql(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(changes)
    }

    async fn remove(&self) -> Result<Vec<String>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let removed = Self::installed_on(&mut *tx).await?;
        for table in &removed {
            for statement in drop_triggers(table) {
                sqlx::raw_sql(AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        // The triggers go first: no write of the application can meet a
        // trigger whose counter table is missing.
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP TABLE IF EXISTS {}",
            ident(COUNTER_TABLE)
        )))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(removed)
    }

    async fn listen(&self, _name: &str, reads: CounterReads) -> Result<Box<dyn ChangeListener>> {
        let files = self.watch_files();
        let mut listener = SqliteCounterReader {
            pool: self.pool.clone(),
            period: if files.is_some() {
                reads.period
            } else {
                unwatched(reads.period)
            },
            files,
            file_wakes: reads.file_wakes,
            seen: HashMap::new(),
            changed: VecDeque::new(),
        };
        // The first read only sets what was seen: once this returns,
        // every later commit is reported (the files are watched already).
        listener.read().await?;
        listener.changed.clear();
        Ok(Box::new(listener))
    }
}

impl SqliteChangeTriggers {
    /// A watch on the database's files, or `None` (logged) when they
    /// cannot be watched: the counters are then read every
    /// [`UNWATCHED_PERIOD`].
    fn watch_files(&self) -> Option<FileWakes> {
        let options = self.pool.connect_options();
        let database = options.get_filename();
        match FileWakes::watch(database) {
            Ok(files) => Some(files),
            Err(error) => {
                tracing::warn!(
                    message = "The database's files cannot be watched; the change counters are read every second instead.",
                    %error
                );
                None
            }
        }
    }
}

/// How often the counters are read when the files cannot be watched (an
/// in-memory database, no inotify watch left), or after the watch
/// reported an error: as before the files were watched.
const UNWATCHED_PERIOD: Duration = Duration::from_secs(1);

/// The period of reads of unwatched files, given the one asked.
fn unwatched(period: Duration) -> Duration {
    period.min(UNWATCHED_PERIOD)
}

/// Reads the counters when the database's files were written to, and at
/// least every period, and reports the tables whose counter moved.
struct SqliteCounterReader {
    pool: SqlitePool,
    period: Duration,
    files: Option<FileWakes>,
    file_wakes: Arc<AtomicU64>,
    seen: HashMap<String, i64>,
    changed: VecDeque<String>,
}

impl SqliteCounterReader {
    /// One read of every counter: the tables whose counter moved since
    /// the last are queued.
    async fn read(&mut self) -> Result<()> {
        if let Some(files) = &self.files {
            files.reading();
        }
        let rows: Vec<(String, i64)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT table_name, changes FROM {}",
            ident(COUNTER_TABLE)
        )))
        .fetch_all(&self.pool)
        .await?;
        for (table, changes) in rows {
            if self.seen.insert(table.clone(), changes) != Some(changes) {
                self.changed.push_back(table);
            }
        }
        Ok(())
    }

    /// Waits until the files were written to or the period passed.
    async fn wait(&mut self) {
        let Some(files) = &self.files else {
            tokio::time::sleep(self.period).await;
            return;
        };
        if files.written_or(self.period).await == Wake::Written {
            self.file_wakes.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(error) = files.take_error() {
            tracing::warn!(
                message = "Watching the database's files failed; the change counters are read every second instead.",
                %error
            );
            self.files = None;
            self.period = unwatched(self.period);
        }
    }
}

#[async_trait]
impl ChangeListener for SqliteCounterReader {
    async fn next(&mut self) -> Result<String> {
        loop {
            if let Some(table) = self.changed.pop_front() {
                return Ok(table);
            }
            self.wait().await;
            self.read().await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_gets_its_counter_row_and_three_triggers_and_loses_them() {
        let created = create_triggers("companies");
        assert_eq!(
            created[0],
            "INSERT OR IGNORE INTO \"etlify_changes\" (table_name, changes) VALUES ('companies', 0)"
        );
        assert_eq!(
            created[2],
            "CREATE TRIGGER IF NOT EXISTS \"etlify_changes_update_companies\" AFTER UPDATE ON \"companies\" \
             BEGIN UPDATE \"etlify_changes\" SET changes = changes + 1 WHERE table_name = 'companies'; END"
        );
        let dropped = drop_triggers("old");
        assert_eq!(
            dropped,
            vec![
                "DROP TRIGGER IF EXISTS \"etlify_changes_insert_old\"",
                "DROP TRIGGER IF EXISTS \"etlify_changes_update_old\"",
                "DROP TRIGGER IF EXISTS \"etlify_changes_delete_old\"",
                "DELETE FROM \"etlify_changes\" WHERE table_name = 'old'",
            ]
        );
    }

    /// A database whose files cannot be watched (in memory: no file) is
    /// read every [`UNWATCHED_PERIOD`] at most, whatever period was
    /// asked: a committed change is still reported.
    #[tokio::test]
    async fn fresh_sqlite_unwatched_files_fall_back_to_reading_every_second() {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE users (id integer PRIMARY KEY, email text)")
            .execute(&pool)
            .await
            .unwrap();
        let triggers = SqliteChangeTriggers::new(pool.clone());
        triggers.install(&["users".to_owned()]).await.unwrap();
        let reads = CounterReads {
            period: Duration::from_secs(3600),
            file_wakes: Arc::new(AtomicU64::new(0)),
        };
        let mut listener = triggers.listen("etlify", reads).await.unwrap();
        sqlx::raw_sql("INSERT INTO users (email) VALUES ('ada@x.io')")
            .execute(&pool)
            .await
            .unwrap();
        let changed = tokio::time::timeout(UNWATCHED_PERIOD * 10, listener.next())
            .await
            .expect("reported within the unwatched period, not the hour asked")
            .unwrap();
        assert_eq!(changed, "users");
    }

    #[test]
    fn names_with_quotes_are_doubled() {
        assert_eq!(
            create_triggers("we'i\"rd")[1],
            "CREATE TRIGGER IF NOT EXISTS \"etlify_changes_insert_we'i\"\"rd\" AFTER INSERT ON \"we'i\"\"rd\" \
             BEGIN UPDATE \"etlify_changes\" SET changes = changes + 1 WHERE table_name = 'we''i\"rd'; END"
        );
    }
}
