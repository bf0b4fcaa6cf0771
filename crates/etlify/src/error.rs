//! Error types of the library.
//!
//! One enum for the whole crate, classified with [`Error::kind`] so callers
//! never downcast. Adapter failures keep their own type, [`AdapterError`],
//! which the engine wraps unchanged; a foreign error (the job queue's, the
//! database driver's) stays reachable through `source()`. What fixes an
//! error, when one command or call does, is data, [`Error::remedy`], that
//! the caller renders in its own words (the CLI as the command to run).

use std::fmt;

pub use crate::adapters::AdapterError;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A foreign error kept as the cause of one of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, coarsely: what a caller branches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is invalid; nothing was touched.
    Config,
    /// The sync-state tables are missing, outdated or in a state the
    /// operation refuses; [`Error::remedy`] says what fixes it, if anything.
    Schema,
    /// The database refused or failed a statement.
    Database,
    /// The record does not exist (or is outside the payload query).
    RecordNotFound,
    /// The CRM or its adapter failed; see [`crate::adapters::AdapterErrorKind`].
    Adapter,
    /// The payload source could not produce a payload.
    Payload,
    /// The job queue refused or failed an operation.
    Queue,
    /// The database lacks what the operation needs; no migration adds it.
    Unsupported,
    /// A batch run did not run every selected (model, CRM) to the end
    /// ([`crate::RunStats::into_result`]).
    Incomplete,
}

/// What fixes an error: one command of the CLI, or one call from Rust.
/// The library says which; the caller says how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Remedy {
    /// Create or upgrade the sync-state tables (and a SQLite file that
    /// does not exist yet): `etlify migrate`, or [`crate::migrate`].
    Migrate,
    /// Migrate, naming the CRM of the sync rows that have none:
    /// `etlify migrate --default-crm-name <name>`, or
    /// [`crate::MigrateOptions`]' default CRM name.
    MigrateWithDefaultCrmName,
    /// Create or upgrade the job queue's tables as a role that may create
    /// schemas and extensions: `etlify migrate` with a `[queue]` section,
    /// or [`crate::jobs::JobQueue::open`] (docs/OPERATIONS.md, "Database roles").
    MigrateQueueAsOwner,
}

/// Every error the library returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Invalid configuration, found before any record is touched.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The sync-state schema is not usable.
    #[error("{message}")]
    #[non_exhaustive]
    Schema {
        /// What is wrong.
        message: String,
        /// What fixes it, when one command does.
        remedy: Option<Remedy>,
    },
    /// A database statement failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The record was not found by the model's payload source.
    #[error("{resource_type} #{id} not found")]
    RecordNotFound {
        /// Declared resource type, e.g. `User`.
        resource_type: String,
        /// Primary key looked up.
        id: crate::id::ResourceId,
    },
    /// An adapter call failed in a way that is not the record's fault
    /// (authentication, throttling after retries, transient outage).
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    /// The payload source failed for the whole batch (bad query, unsupported column type).
    #[error("payload error: {message}")]
    #[non_exhaustive]
    Payload {
        /// What failed.
        message: String,
        /// The error that made it fail, when a foreign one did.
        #[source]
        source: Option<BoxError>,
    },
    /// The job queue failed (enqueueing, its tables, a worker).
    #[error("job queue error: {message}")]
    #[non_exhaustive]
    Queue {
        /// What failed, with the queue's own words.
        message: String,
        /// The queue's own error (apalis's, its database's), when it gave one.
        #[source]
        source: Option<BoxError>,
        /// What fixes it, when one command does.
        remedy: Option<Remedy>,
    },
    /// The database does not offer what the operation needs (a rate window
    /// shared between processes on SQLite); no migration adds it.
    #[error("{0}")]
    Unsupported(String),
    /// A batch run did not run every selected (model, CRM) to the end: a
    /// CRM refused or could not be reached, a payload query failed, another
    /// run held a CRM, the run was stopped ([`crate::RunStats::into_result`]).
    #[error("the run did not finish: {0}")]
    Incomplete(String),
}

impl Error {
    /// A run error of the CRM `crm_name`, naming it.
    pub(crate) fn from_crm(crm_name: &str, error: AdapterError) -> Self {
        Error::Adapter(error.crm(crm_name))
    }

    /// The payload source failed for the whole batch, for the reason
    /// `message` (for [`crate::PayloadSource`] implementations).
    pub fn payload(message: impl Into<String>) -> Self {
        Error::Payload {
            message: message.into(),
            source: None,
        }
    }

    /// The payload source failed because of `source`.
    pub fn payload_caused_by(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Payload {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The sync-state schema is not usable: `message`, fixed by `remedy`.
    pub(crate) fn schema(message: impl Into<String>, remedy: Option<Remedy>) -> Self {
        Error::Schema {
            message: message.into(),
            remedy,
        }
    }

    /// The job queue failed: `message`, caused by `source` when given.
    pub(crate) fn queue(message: impl Into<String>, source: Option<BoxError>) -> Self {
        Error::Queue {
            message: message.into(),
            source,
            remedy: None,
        }
    }

    /// Coarse classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) => ErrorKind::Config,
            Error::Schema { .. } => ErrorKind::Schema,
            Error::Database(_) => ErrorKind::Database,
            Error::RecordNotFound { .. } => ErrorKind::RecordNotFound,
            Error::Adapter(_) => ErrorKind::Adapter,
            Error::Payload { .. } => ErrorKind::Payload,
            Error::Queue { .. } => ErrorKind::Queue,
            Error::Unsupported(_) => ErrorKind::Unsupported,
            Error::Incomplete(_) => ErrorKind::Incomplete,
        }
    }

    /// What fixes this error, when one command or call does: data for the
    /// caller to render (the CLI names the command, a Rust caller the call).
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            Error::Schema { remedy, .. } | Error::Queue { remedy, .. } => *remedy,
            Error::Config(config) => config.remedy,
            _ => None,
        }
    }

    /// Whether trying again later may succeed without any change.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Adapter(e) => e.is_retriable(),
            Error::Database(e) => matches!(
                e,
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
            ),
            _ => false,
        }
    }
}

/// A configuration mistake: names the item, the field and what is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigError {
    pub(crate) location: String,
    pub(crate) field: String,
    pub(crate) expected: String,
    /// What fixes it, when one command does (a SQLite file a migration
    /// creates).
    pub(crate) remedy: Option<Remedy>,
}

impl ConfigError {
    /// Builds a configuration error for `location`.`field`.
    pub fn new(
        location: impl Into<String>,
        field: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Self {
            location: location.into(),
            field: field.into(),
            expected: expected.into(),
            remedy: None,
        }
    }

    /// The mistake is fixed by `remedy` ([`Error::remedy`] answers it).
    pub(crate) fn fixed_by(mut self, remedy: Remedy) -> Self {
        self.remedy = Some(remedy);
        self
    }

    /// Where the mistake is, e.g. `crms.hubspot` or `models.User.crms.hubspot`.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The offending field, e.g. `rate_limit.max_requests` (empty when the
    /// whole item is wrong).
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is expected instead.
    pub fn expected(&self) -> &str {
        &self.expected
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(
                f,
                "invalid configuration at {}: {}",
                self.location, self.expected
            )
        } else {
            write!(
                f,
                "invalid configuration at {}: `{}` {}",
                self.location, self.field, self.expected
            )
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn errors_a_missing_capability_is_unsupported_not_a_schema_problem() {
        let error = Error::Unsupported("no shared window on SQLite".to_owned());
        assert_eq!(error.kind(), ErrorKind::Unsupported);
        assert_eq!(error.remedy(), None, "no migration adds it");
    }

    #[test]
    fn errors_a_payload_error_keeps_its_cause() {
        let cause = std::io::Error::other("bad row");
        let error = Error::payload_caused_by("the query failed", cause);
        assert_eq!(error.kind(), ErrorKind::Payload);
        assert_eq!(error.to_string(), "payload error: the query failed");
        assert_eq!(
            error.source().map(ToString::to_string).as_deref(),
            Some("bad row")
        );
        assert!(Error::payload("no key").source().is_none());
    }

    #[test]
    fn errors_config_errors_are_read_through_accessors() {
        let error = ConfigError::new("crms.hubspot", "max_sync_errors", "must be positive");
        assert_eq!(
            (error.location(), error.field(), error.expected()),
            ("crms.hubspot", "max_sync_errors", "must be positive")
        );
    }
}
