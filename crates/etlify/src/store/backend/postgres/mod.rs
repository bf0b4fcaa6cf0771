//! PostgreSQL: every way it differs from the shared SQL, one file per
//! concern.
//!
//! - Timestamps are `timestamp(6) without time zone` in UTC, like Rails'
//!   columns; "now" is the server's `clock_timestamp()`.
//! - Id lists are bound as one array (`= ANY($1)`) and sync rows are
//!   upserted from arrays (`SELECT UNNEST($1), …`): parse and bind cost do
//!   not grow with the number of rows.
//! - The sync table's statistics are refreshed during long runs, so a table
//!   that grew is read through its indexes before autovacuum gets to it.
//! - A CRM's rate window can be kept in the database and shared by every
//!   process (`rate_window.rs`).
//! - Statement-level triggers can notify a worker of the application's
//!   changes (`change_triggers.rs`).

mod bulk_writes;
mod change_triggers;
mod clock;
mod ddl;
mod dialect;
mod introspect;
mod payload_rows;
mod rate_window;
pub(super) mod rows;

use std::any::Any;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use self::change_triggers::PostgresChangeTriggers;
pub(crate) use self::dialect::PostgresDialect;
use self::rate_window::PostgresRateWindow;
use super::{Backend, ChangeTriggers, Dialect, SharedRateWindow};
use crate::error::Result;
use crate::store::StoreOptions;

/// Connections per pool unless the options say otherwise.
const CONNECTIONS: u32 = 8;

/// The database's clock in UTC, as the timestamp columns store it.
const NOW: &str = "(clock_timestamp() AT TIME ZONE 'UTC')::timestamp(6)";

/// A live PostgreSQL database.
#[derive(Debug)]
pub(crate) struct PostgresBackend {
    pool: PgPool,
    rate_window: Arc<PostgresRateWindow>,
}

impl PostgresBackend {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self {
            rate_window: Arc::new(PostgresRateWindow::new(pool.clone())),
            pool,
        }
    }

    /// Connects to the server at `url`.
    pub(crate) async fn connect(url: &str, options: &StoreOptions) -> Result<Self> {
        let size = options.max_connections.unwrap_or(CONNECTIONS);
        Ok(Self::new(connect(url, size).await?))
    }

    /// The pool.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl Backend for PostgresBackend {
    fn dialect(&self) -> &'static dyn Dialect {
        &PostgresDialect
    }

    fn shared_rate_window(&self) -> Option<Arc<dyn SharedRateWindow>> {
        Some(self.rate_window.clone())
    }

    fn change_triggers(&self) -> Option<Arc<dyn ChangeTriggers>> {
        Some(Arc::new(PostgresChangeTriggers::new(self.pool.clone())))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Connects to `url`; timestamps are compared in UTC, as Rails writes them.
///
/// One connection is opened first, so that a wrong host, port, password or
/// database fails at once with what went wrong, instead of the pool
/// retrying until its acquire timeout ("pool timed out").
async fn connect(url: &str, max_connections: u32) -> Result<PgPool> {
    use sqlx::Connection;
    let options = PgConnectOptions::from_str(url)?.options([("TimeZone", "UTC")]);
    let first = tokio::time::timeout(
        Duration::from_secs(10),
        sqlx::PgConnection::connect_with(&options),
    )
    .await;
    let at = format!("{}:{}", options.get_host(), options.get_port());
    match first {
        Ok(Ok(connection)) => {
            // Closing it is best effort; the pool opens its own.
            let _ = connection.close().await;
        }
        Ok(Err(error)) => {
            return Err(crate::error::ConfigError::new(
                "database",
                "url",
                format!(
                    "must reach a PostgreSQL server: {} at {at}",
                    super::describe_connect_error(&error)
                ),
            )
            .into())
        }
        Err(_) => {
            return Err(crate::error::ConfigError::new(
                "database",
                "url",
                format!("must reach a PostgreSQL server: no answer from {at} within 10 s"),
            )
            .into())
        }
    }
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await?)
}
