//! What a command answers: done, some records failed, or a failure with a
//! sentence saying what to do, and the exit status of each.

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
    /// The run went to the end but archived nothing for some bindings:
    /// more records left the application than `max_deletes_per_run`
    /// allows (`sync --allow-deletes` lets it once).
    DeletesHeld = 4,
    /// Stopped by Ctrl-C or SIGTERM before the end (128 + SIGINT, as
    /// shells report an interrupted command); what was sent is recorded.
    Interrupted = 130,
}

/// A command that ran to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Completed {
    /// Everything went fine (exit 0).
    Ok,
    /// Some records failed; the others were synced (exit 1).
    RecordsFailed,
}

/// A failure of the command: a sentence saying what to do, and its status.
#[derive(Debug)]
pub(crate) struct CliError {
    pub exit: Exit,
    pub message: String,
}

impl CliError {
    /// The configuration (file, flag or environment) is wrong: exit 2.
    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Config,
            message: message.into(),
        }
    }

    /// The run could not go on: exit 3.
    pub(crate) fn run(message: impl fmt::Display) -> Self {
        Self {
            exit: Exit::Run,
            message: message.to_string(),
        }
    }

    /// An engine error, its configuration mistakes prefixed by `path`
    /// (the file, or the flag that named the database): those exit 2, as
    /// an unmigrated schema does; the rest 3.
    pub(crate) fn engine(path: &str, error: etlify::Error) -> Self {
        let message = with_remedy(&error);
        match error.kind() {
            etlify::ErrorKind::Config => Self::config(format!("{path}: {message}")),
            etlify::ErrorKind::Schema => Self::config(message),
            _ => Self::run(message),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a command that reads the configuration fails with: its own
/// failure, already worded, or an engine error, which the session words
/// with the configuration file's path (`Session::error`), so that a
/// command's engine calls need only `?`.
#[derive(Debug)]
pub(crate) enum CommandError {
    /// The command's own failure.
    Cli(CliError),
    /// The engine's.
    Engine(etlify::Error),
}

impl From<CliError> for CommandError {
    fn from(error: CliError) -> Self {
        Self::Cli(error)
    }
}

impl From<etlify::Error> for CommandError {
    fn from(error: etlify::Error) -> Self {
        Self::Engine(error)
    }
}

/// What a command answers.
pub(crate) type CommandResult = Result<Completed, CommandError>;

/// `error`, then what fixes it as the command to run: the one place the
/// library's remedies (data, [`etlify::Remedy`]) become CLI commands, so
/// no hint names a Rust call (`etlify::migrate`, `Etlify::…`).
fn with_remedy(error: &etlify::Error) -> String {
    match error.remedy() {
        Some(etlify::Remedy::Migrate) => format!("{error}\nPlease run: etlify migrate"),
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
