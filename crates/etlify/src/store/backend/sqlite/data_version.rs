//! SQLite's commit counter: `PRAGMA data_version` on one held connection
//! changes when any other connection, of this process or another, commits
//! a change to the file (and never for this connection's own, as it makes
//! none). One light query a read; no page of any table is read.

use async_trait::async_trait;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};

use crate::error::Result;
use crate::store::backend::CommitCounter;

/// The counter of a database in a file.
pub(super) struct SqliteDataVersion {
    options: SqliteConnectOptions,
    /// Held between reads: the number is this connection's view.
    connection: Option<SqliteConnection>,
}

impl std::fmt::Debug for SqliteDataVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteDataVersion")
            .field("open", &self.connection.is_some())
            .finish()
    }
}

impl SqliteDataVersion {
    /// `None` for a database in memory, which no other connection
    /// changes unseen.
    pub(super) fn of(options: &SqliteConnectOptions) -> Option<Self> {
        if super::rate_window::is_in_memory(options) {
            return None;
        }
        Some(Self {
            options: options.clone(),
            connection: None,
        })
    }
}

#[async_trait]
impl CommitCounter for SqliteDataVersion {
    async fn read(&mut self) -> Result<i64> {
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => self
                .connection
                .insert(SqliteConnection::connect_with(&self.options).await?),
        };
        let read = sqlx::query_scalar::<_, i64>("PRAGMA data_version")
            .fetch_one(&mut *connection)
            .await;
        match read {
            Ok(version) => Ok(version),
            Err(error) => {
                // Opened again at the next read (whose number then differs:
                // the caller takes that as a change, which is safe).
                self.connection = None;
                Err(error.into())
            }
        }
    }
}
