//! Log lines on stderr: how they are written, and at which level
//! (`RUST_LOG`'s). The worker logs at `info` unless told otherwise; the
//! other commands only when `RUST_LOG` asks, so that their own output
//! stays all they print.

use crate::error::{CliError, Exit};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// One line per event, for people.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the logs at `RUST_LOG`'s level, else at `default` (none: no
/// logs). A `RUST_LOG` that does not parse is a configuration error.
pub(crate) fn init(format: LogFormat, default: Option<&str>) -> Result<(), CliError> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
            .map_err(|e| {
                CliError::config(format!(
                    "RUST_LOG: {e} (e.g. RUST_LOG=info or RUST_LOG=etlify=debug)"
                ))
            })?,
        _ => match default {
            Some(level) => EnvFilter::new(level),
            None => return Ok(()),
        },
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => logs.try_init(),
        LogFormat::Json => logs.json().flatten_event(true).try_init(),
    };
    installed.map_err(|e| CliError {
        exit: Exit::Run,
        message: format!("cannot set up the logs: {e}"),
    })
}
