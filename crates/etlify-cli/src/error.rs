//! What the command says when it fails, and its exit status.

use std::fmt;

/// Exit statuses scripts can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Some records failed (the run went on with the others).
    RecordsFailed = 1,
    /// The configuration is wrong; nothing ran.
    Config = 2,
    /// The run could not go on (database, CRM unreachable or refusing us).
    Run = 3,
    /// Stopped by Ctrl-C or SIGTERM before the end (128 + SIGINT, as
    /// shells report an interrupted command); what was sent is recorded.
    Interrupted = 130,
}

/// A failure of the command: a sentence saying what to do, and its status.
#[derive(Debug)]
pub(crate) struct CliError {
    pub exit: Exit,
    pub message: String,
}

impl CliError {
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Config,
            message: message.into(),
        }
    }

    /// An engine error: configuration mistakes exit 2, the rest 3.
    pub(crate) fn engine(path: &str, error: etlify::Error) -> Self {
        let message = with_remedy(&error);
        match error.kind() {
            etlify::ErrorKind::Config => Self::config(format!("{path}: {message}")),
            etlify::ErrorKind::Schema => Self {
                exit: Exit::Config,
                message,
            },
            _ => Self {
                exit: Exit::Run,
                message,
            },
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// `error`, then what fixes it as the command to run.
fn with_remedy(error: &etlify::Error) -> String {
    match error.remedy() {
        Some(etlify::Remedy::Migrate) => format!(
            "{error}\nPlease run: {}",
            etlify::store::schema::FIX_COMMAND
        ),
        Some(etlify::Remedy::MigrateWithDefaultCrmName) => format!(
            "{error}; run `etlify migrate --default-crm-name <name>` to assign them to a CRM"
        ),
        Some(etlify::Remedy::MigrateQueueAsOwner) => format!(
            "{error}; run `etlify migrate` (with a [queue] section) as a role that may create \
             schemas and extensions (docs/OPERATIONS.md, \"Database roles\")"
        ),
        _ => error.to_string(),
    }
}
