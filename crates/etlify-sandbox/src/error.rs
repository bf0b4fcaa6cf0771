//! Errors of the sandbox library (start-up, configuration, persistence).
//! API errors returned to HTTP clients live in `hubspot::errors` and
//! `airtable::errors`.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can go wrong when starting, configuring or stopping a sandbox.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The configuration document is not valid JSON or has unknown/mistyped fields.
    #[error("invalid sandbox configuration: {source}")]
    ConfigParse {
        /// The parser's error (names the field and position).
        #[source]
        source: serde_json::Error,
    },
    /// A configuration field has an invalid value.
    #[error("invalid sandbox configuration field `{field}`: {reason}")]
    InvalidConfig {
        /// Dotted path of the field, e.g. `hubspot.faults.error_rate`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration file could not be read.
    #[error("cannot read sandbox configuration file {path}: {source}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The state file could not be read or written.
    #[error("cannot access sandbox state file {path}: {source}")]
    StateFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The state file does not hold a valid state document.
    #[error("invalid sandbox state file {path}: {source}")]
    StateFormat {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The emulated API rejected data given through the admin API.
    #[error("the sandbox rejected the data with status {status}: {body}")]
    Rejected {
        /// HTTP status the API would have answered.
        status: u16,
        /// The error body the API would have answered.
        body: serde_json::Value,
    },
    /// The server task ended abnormally.
    #[error("sandbox server task failed: {0}")]
    ServerTask(String),
}

impl SandboxError {
    pub(crate) fn rejected(status: u16, body: serde_json::Value) -> Self {
        Self::Rejected { status, body }
    }
}
