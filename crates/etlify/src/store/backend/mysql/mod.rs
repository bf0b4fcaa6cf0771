//! MySQL and MariaDB: every way they differ from the shared SQL, one file
//! per concern.
//!
//! - Timestamps are `datetime(6)` in UTC, as Rails' mysql2 adapter writes
//!   them (sessions run with `time_zone = '+00:00'`); "now" is the
//!   server's `UTC_TIMESTAMP(6)`. A gem's `last_synced_at` may be a plain
//!   `datetime` (whole seconds): it is then truncated, which the commit
//!   margin covers as it covers coarse writers.
//! - Sessions add `ANSI_QUOTES` to the server's SQL mode, so that the
//!   shared statements' double-quoted identifiers read as identifiers;
//!   sea-query's own output uses backticks, which read the same.
//! - Upserts and `RETURNING` in MariaDB's form (`dialect.rs`); id lists as
//!   one placeholder per id; sync rows upserted as multi-row `VALUES`.
//! - A CRM's rate window is kept in the database and shared by every
//!   process, with row locks (`FOR UPDATE SKIP LOCKED`, MariaDB 10.6 and
//!   later: `rate_window.rs`).

mod bulk_writes;
mod clock;
mod ddl;
mod dialect;
mod incidents;
mod introspect;
mod payload_rows;
mod rate_window;
pub(super) mod rows;
mod source_columns;

use std::any::Any;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::{Executor, MySqlPool};

pub(crate) use self::dialect::MysqlDialect;
use self::rate_window::MysqlRateWindow;
use super::{Backend, Dialect, SharedRateWindow};
use crate::error::Result;
use crate::store::StoreOptions;

/// Connections per pool unless the options say otherwise.
const CONNECTIONS: u32 = 8;

/// The database's clock in UTC, to the microsecond.
const NOW: &str = "UTC_TIMESTAMP(6)";

/// What each session adds to the server's SQL mode: double quotes around
/// identifiers (the shared statements'), strict types.
const SESSION_SETUP: &str =
    "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES,STRICT_TRANS_TABLES')";

/// A live MySQL or MariaDB database.
#[derive(Debug)]
pub(crate) struct MysqlBackend {
    pool: MySqlPool,
    rate_window: Arc<MysqlRateWindow>,
    /// What payloads' text columns are in their tables (`source_columns.rs`).
    source_columns: source_columns::SourceColumns,
}

impl MysqlBackend {
    pub(crate) fn new(pool: MySqlPool) -> Self {
        Self {
            rate_window: Arc::new(MysqlRateWindow::new(pool.clone())),
            source_columns: source_columns::SourceColumns::default(),
            pool,
        }
    }

    /// Connects to the server at `url`.
    pub(crate) async fn connect(url: &str, options: &StoreOptions) -> Result<Self> {
        let size = options.max_connections.unwrap_or(CONNECTIONS);
        Ok(Self::new(connect(url, size).await?))
    }

    /// The pool.
    pub(crate) fn pool(&self) -> &MySqlPool {
        &self.pool
    }
}

impl Backend for MysqlBackend {
    fn dialect(&self) -> &'static dyn Dialect {
        &MysqlDialect
    }

    fn shared_rate_window(&self) -> Option<Arc<dyn SharedRateWindow>> {
        Some(self.rate_window.clone())
    }

    fn incident_writes(&self) -> Option<&dyn super::IncidentWrites> {
        Some(self)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The options of `url`, with this crate's session settings: UTC, utf8mb4.
pub(crate) fn connect_options(url: &str) -> Result<MySqlConnectOptions> {
    Ok(MySqlConnectOptions::from_str(url)?
        .timezone(Some("+00:00".to_owned()))
        .charset("utf8mb4"))
}

/// A pool on `options` whose sessions are set up for the shared SQL
/// ([`SESSION_SETUP`]).
pub(crate) fn pool_options(max_connections: u32) -> MySqlPoolOptions {
    MySqlPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|connection, _| {
            Box::pin(async move {
                connection.execute(SESSION_SETUP).await?;
                Ok(())
            })
        })
}

/// Connects to `url`.
///
/// One connection is opened first, so that a wrong host, port, password or
/// database fails at once with what went wrong, instead of the pool
/// retrying until its acquire timeout ("pool timed out").
async fn connect(url: &str, max_connections: u32) -> Result<MySqlPool> {
    use sqlx::Connection;
    let options = connect_options(url)?;
    let at = format!("{}:{}", options.get_host(), options.get_port());
    let first = tokio::time::timeout(
        Duration::from_secs(10),
        sqlx::MySqlConnection::connect_with(&options),
    )
    .await;
    let problem = match first {
        Ok(Ok(connection)) => {
            // Closing it is best effort; the pool opens its own.
            let _ = connection.close().await;
            None
        }
        Ok(Err(error)) => Some(format!(
            "must reach a MySQL server: {} at {at}",
            super::describe_connect_error(&error)
        )),
        Err(_) => Some(format!(
            "must reach a MySQL server: no answer from {at} within 10 s"
        )),
    };
    if let Some(problem) = problem {
        return Err(crate::error::ConfigError::new("database", "url", problem).into());
    }
    Ok(pool_options(max_connections).connect_with(options).await?)
}
