//! What several commands print alike: `--json` documents (each command's
//! output types derive `Serialize`), counts of things ("1 record", "2
//! records"), what a job request found, and the configuration's warnings.
//! Tables are `table.rs`'s.

use etlify::jobs::Enqueued;
use etlify::{ConfigWarning, SuggestedFix, WarningKind, WholeSecondTimestamps};
use serde::Serialize;

use crate::error::CliError;

/// Prints `document` as one line of JSON on stdout, its object keys in
/// alphabetical order (through a `serde_json::Value`, whose objects are
/// sorted), as the CLI's JSON has always been.
pub(crate) fn print_json(document: &impl Serialize) -> Result<(), CliError> {
    let value = serde_json::to_value(document)
        .map_err(|e| CliError::run(format!("cannot render the JSON output: {e}")))?;
    println!("{value}");
    Ok(())
}

/// `n` and the noun, singular for one: `counted(1, "record", "records")`
/// is "1 record", `counted(2, …)` "2 records". Every count the CLI prints
/// in a sentence goes through it.
pub(crate) fn counted(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What a job request found, for people.
pub(crate) fn enqueued_text(enqueued: Enqueued) -> &'static str {
    match enqueued {
        Enqueued::New => "queued",
        Enqueued::AlreadyQueued => "already queued",
        Enqueued::AfterRunning => "queued after the running one",
        _ => enqueued.as_str(),
    }
}

/// The configuration's warnings on stderr (`check`, `sync`; the worker
/// logs them).
pub(crate) fn print_warnings(path: &str, warnings: &[ConfigWarning]) {
    for warning in warnings {
        eprintln!("etlify: warning: {}", warning_text(path, warning));
    }
}

/// Warns of each model whose writer seems to store whole-second
/// timestamps while `commit_margin` is under a second, with the key to set.
pub(crate) fn print_timestamp_warnings(path: &str, warnings: &[WholeSecondTimestamps]) {
    for warning in warnings {
        eprintln!(
            "etlify: warning: {path}: models.{}: the latest {} values of {}.{} are whole seconds, \
             and commit_margin is {}: a change stamped in the same second as a sync, after its read, \
             would not be sent until the record changes again; if a writer stores whole seconds, \
             set `commit_margin = \"1s\"` under [etlify]",
            warning.model,
            warning.sampled,
            warning.table,
            warning.column,
            humantime::format_duration(warning.commit_margin)
        );
    }
}

/// A warning of the configuration file `path`, with the line to add.
pub(crate) fn warning_text(path: &str, warning: &ConfigWarning) -> String {
    let crm = &warning.crm;
    let problem = match warning.kind {
        WarningKind::NoRateLimit => {
            format!("crms.{crm} has no rate_limit, so nothing throttles its requests")
        }
        _ => format!("crms.{crm}: {:?}", warning.kind),
    };
    let fix = match warning.fix {
        SuggestedFix::RateLimit {
            limit,
            vendor_limit,
        } => format!(
            "{vendor_limit}: add `rate_limit = {{ max_requests = {}, period = \"{}\" }}`",
            limit.get_max_requests(),
            humantime::format_duration(limit.get_period())
        ),
        _ => format!("{:?}", warning.fix),
    };
    format!("{path}: {problem}; {fix}")
}
