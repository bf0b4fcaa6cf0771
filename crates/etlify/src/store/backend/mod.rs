//! Every difference between the databases, behind one trait object.
//!
//! A database is a [`Backend`]: a small core (its [`Dialect`], what it
//! offers beyond the core) over one trait per concern, each declared in its
//! own file here and implemented in the file of the same name in each
//! backend's folder (`sqlite/`, `postgres/`):
//!
//! - [`Dialect`] and [`Ddl`] (`dialect.rs`, `ddl.rs`): the text of SQL and
//!   the column types of the sync-state tables, needing no connection, so
//!   that the finder's and the schema's golden tests need no database;
//! - [`Executor`] (`rows.rs`): running the statements the shared code
//!   built, and handing their rows to generic decoders ([`FromAnyRow`]);
//! - [`Clock`] (`clock.rs`): the database's time, and the times of what a
//!   read sees;
//! - [`Introspect`] (`introspect.rs`): tables, columns, indexes, keys;
//! - [`BulkWrites`] (`bulk_writes.rs`): statements of many rows (sync rows,
//!   leases), fed the way each database takes them fastest;
//! - [`PayloadRows`] (`payload_rows.rs`): payload queries decoded into
//!   typed cells.
//!
//! A capability only some databases have is an accessor answering `None`
//! where it is absent, never a method that fails: [`SharedRateWindow`]
//! (`rate_window.rs`: PostgreSQL's, and SQLite's for a database in a file);
//! [`ChangeTriggers`] and [`CommitCounter`] (`change_feed.rs`: PostgreSQL's
//! notifying triggers, SQLite's `data_version`); [`IncidentWrites`]
//! (`incidents.rs`: MySQL's, which lacks `UPDATE … RETURNING`).
//!
//! Every call goes through `dyn Backend`; the one place that names each
//! backend is where a URL picks one ([`connect`]) and the row types a
//! generic decoder reads ([`AnyRow`]). MySQL was added as one more folder
//! here plus those two places (docs/DECISIONS.md, "Adding a database").

mod bulk_writes;
pub(crate) mod change_feed;
mod clock;
mod ddl;
mod dialect;
mod incidents;
mod introspect;
pub(crate) mod mysql;
mod payload_rows;
pub(crate) mod postgres;
mod rate_window;
mod rows;
pub(crate) mod sqlite;

use std::any::Any;
use std::fmt;
use std::sync::Arc;

pub(crate) use self::bulk_writes::BulkWrites;
pub use self::change_feed::TriggerChanges;
pub(crate) use self::change_feed::{ChangeListener, ChangeTriggers, CommitCounter, CounterReads};
pub(crate) use self::clock::Clock;
pub use self::clock::DEFAULT_COMMIT_MARGIN;
pub(crate) use self::ddl::{ColumnKind, Ddl, StateTable};
pub(crate) use self::dialect::{Dialect, Statement};
pub(crate) use self::incidents::{IncidentIdentity, IncidentWrites};
pub(crate) use self::introspect::{Introspect, KeyColumn, KeyValues};
pub(crate) use self::payload_rows::{Cells, PayloadRows};
pub(crate) use self::rate_window::{SharedRateWindow, Take, WindowUsage};
pub use self::rows::FromAnyRow;
pub(crate) use self::rows::{AnyRow, Executor};
use super::StoreOptions;
use crate::error::{ConfigError, Result};

/// One database: every concern each database has, and accessors to the
/// capabilities only some have.
pub(crate) trait Backend:
    Executor + Clock + Introspect + BulkWrites + PayloadRows + Send + Sync + fmt::Debug
{
    /// The text of this database's SQL.
    fn dialect(&self) -> &'static dyn Dialect;

    /// A rate window kept in the database and shared by every process
    /// using it, where the database offers one.
    fn shared_rate_window(&self) -> Option<Arc<dyn SharedRateWindow>> {
        None
    }

    /// Triggers notifying a listener of the application's changes, where
    /// the database offers them.
    fn change_triggers(&self) -> Option<Arc<dyn ChangeTriggers>> {
        None
    }

    /// A counter of other connections' commits, where the database keeps
    /// one.
    fn commit_counter(&self) -> Option<Box<dyn CommitCounter>> {
        None
    }

    /// Incident statements of the database's own, where the shared ones
    /// (`store/alert_incidents.rs`) do not hold (MySQL's).
    fn incident_writes(&self) -> Option<&dyn IncidentWrites> {
        None
    }

    /// This backend, for [`crate::Store::sqlite_pool`] and
    /// [`crate::Store::postgres_pool`] to hand out its pool.
    fn as_any(&self) -> &dyn Any;
}

/// Connects to the database `url` names (`sqlite:`, `postgres:` or
/// `mysql:`, which MariaDB answers too).
pub(crate) async fn connect(url: &str, options: &StoreOptions) -> Result<Arc<dyn Backend>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(
            sqlite::SqliteBackend::connect(url, options).await?,
        ))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(
            postgres::PostgresBackend::connect(url, options).await?,
        ))
    } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
        Ok(Arc::new(
            mysql::MysqlBackend::connect(&url.replacen("mariadb:", "mysql:", 1), options).await?,
        ))
    } else {
        Err(ConfigError::new(
            "database",
            "url",
            "must start with sqlite:, postgres: or mysql: (e.g. sqlite://etlify.db)",
        )
        .into())
    }
}

/// The dialect of `kind` (golden tests render SQL without a database).
#[cfg(test)]
pub(crate) fn dialect(kind: super::BackendKind) -> &'static dyn Dialect {
    use super::BackendKind;
    match kind {
        BackendKind::Sqlite => &sqlite::SqliteDialect,
        BackendKind::Postgres => &postgres::PostgresDialect,
        BackendKind::Mysql => &mysql::MysqlDialect,
    }
}

/// What a failed first connection to a database server means, for people
/// (PostgreSQL's and MySQL's `connect`).
pub(super) fn describe_connect_error(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused (is the server running? check the host and port)".to_owned()
        }
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}

/// Why a payload query's key column could not be read.
pub(crate) fn key_error(key_column: &str, error: impl fmt::Display) -> crate::Error {
    crate::Error::payload(format!(
        "payload query must return the key column `{key_column}` for every row: {error}"
    ))
}
