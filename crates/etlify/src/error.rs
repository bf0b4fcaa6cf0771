//! Error types of the library.
//!
//! One enum for the whole crate, classified with [`Error::kind`] so callers
//! never downcast. Adapter failures keep their own type, [`AdapterError`],
//! which the engine wraps unchanged.

use std::fmt;

pub use crate::adapters::AdapterError;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, coarsely: what a caller branches on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration is invalid; nothing was touched.
    Config,
    /// The sync-state tables are missing or outdated (`etlify migrate` fixes it).
    Schema,
    /// The database refused or failed a statement.
    Database,
    /// The record does not exist (or is outside the payload query).
    RecordNotFound,
    /// The CRM or its adapter failed; see [`crate::AdapterErrorKind`].
    Adapter,
    /// The payload source could not produce a payload.
    Payload,
    /// The job queue refused or failed an operation.
    Queue,
}

/// Every error the library returns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Invalid configuration, found before any record is touched.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The sync-state schema is not usable; the message says what to run.
    #[error("{0}")]
    Schema(String),
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
    #[error("payload error: {0}")]
    Payload(String),
    /// The job queue failed (enqueueing, its tables, a worker).
    #[error("job queue error: {0}")]
    Queue(String),
}

impl Error {
    /// A run error of the CRM `crm_name`, naming it.
    pub(crate) fn from_crm(crm_name: &str, error: AdapterError) -> Self {
        Error::Adapter(error.crm(crm_name))
    }

    /// Coarse classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) => ErrorKind::Config,
            Error::Schema(_) => ErrorKind::Schema,
            Error::Database(_) => ErrorKind::Database,
            Error::RecordNotFound { .. } => ErrorKind::RecordNotFound,
            Error::Adapter(_) => ErrorKind::Adapter,
            Error::Payload(_) => ErrorKind::Payload,
            Error::Queue(_) => ErrorKind::Queue,
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
pub struct ConfigError {
    /// Where the mistake is, e.g. `crms.hubspot` or `models.User.crms.hubspot`.
    pub location: String,
    /// The offending field, e.g. `rate_limit.max_requests`.
    pub field: String,
    /// What is expected instead.
    pub expected: String,
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
        }
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
