//! `etlify status`: where the records of each model and CRM stand — in
//! sync, stale, never synced, failing, over the error budget, waiting for
//! a dependency, each record in one column, so they add up to the records
//! in scope — the last sync and the last complete check; with a
//! `[queue]`, the jobs queued and running.

use etlify::StatusEntry;
use serde::Serialize;

use crate::error::{CommandResult, Completed};
use crate::session::Session;
use crate::{output, table};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Prints JSON for scripts instead of text.
    #[arg(long)]
    json: bool,
}

/// One model and CRM, for scripts (`status --json` is an array of them);
/// the six counts add up to `records` (docs/CLI.md, "`status`").
#[derive(Debug, Serialize)]
struct EntryReport<'a> {
    model: &'a str,
    crm: &'a str,
    records: u64,
    in_sync: u64,
    stale: u64,
    never_synced: u64,
    failing: u64,
    over_budget: u64,
    waiting: u64,
    /// RFC 3339, UTC.
    last_synced_at: Option<String>,
    /// RFC 3339, UTC; none: the next run reads the whole table.
    last_complete_check: Option<String>,
    /// Bindings that archive what leaves: what a complete check would
    /// archive, and whether max_deletes_per_run holds it back.
    #[serde(skip_serializing_if = "Option::is_none")]
    archive: Option<ArchiveReport>,
}

/// `status --json`: a binding's records to archive.
#[derive(Debug, Serialize)]
struct ArchiveReport {
    deleted: usize,
    left_scope: usize,
    allowed: u64,
    held: bool,
}

impl<'a> From<&'a StatusEntry> for EntryReport<'a> {
    fn from(e: &'a StatusEntry) -> Self {
        Self {
            model: &e.model,
            crm: &e.crm,
            records: e.records,
            in_sync: e.in_sync,
            stale: e.stale,
            never_synced: e.never_synced,
            failing: e.failing,
            over_budget: e.over_budget,
            waiting: e.waiting,
            last_synced_at: e.last_synced_at.map(|t| t.and_utc().to_rfc3339()),
            last_complete_check: e.last_complete_check.map(|t| t.and_utc().to_rfc3339()),
            archive: e.archive.as_ref().map(|a| ArchiveReport {
                deleted: a.deleted.len(),
                left_scope: a.left_scope.len(),
                allowed: a.allowed,
                held: a.held,
            }),
        }
    }
}

/// A time for people: UTC, to the second (`--json` keeps the microseconds).
fn to_the_second(time: etlify::Timestamp) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    let etlify = session.engine().await?;
    let entries = etlify.status().await?;
    if args.json {
        // The array of entries scripts read, with or without a queue.
        let entries: Vec<_> = entries.iter().map(EntryReport::from).collect();
        output::print_json(&entries)?;
        return Ok(Completed::Ok);
    }
    let rows = entries
        .iter()
        .map(|e| {
            vec![
                e.model.clone(),
                e.crm.clone(),
                e.records.to_string(),
                e.in_sync.to_string(),
                e.stale.to_string(),
                e.never_synced.to_string(),
                e.failing.to_string(),
                e.over_budget.to_string(),
                e.waiting.to_string(),
                e.last_synced_at.map_or("never".to_owned(), to_the_second),
                e.last_complete_check
                    .map_or("next run".to_owned(), to_the_second),
            ]
        })
        .collect();
    let headers = [
        "model",
        "crm",
        "records",
        "in sync",
        "stale",
        "never synced",
        "failing",
        "over budget",
        "waiting",
        "last sync",
        "complete check",
    ];
    println!("{}", table::render(&headers, &[2, 3, 4, 5, 6, 7, 8], rows));
    for e in &entries {
        let Some(archive) = &e.archive else {
            continue;
        };
        let leaving = archive.deleted.len() + archive.left_scope.len();
        if leaving == 0 {
            continue;
        }
        let held = if archive.held {
            format!(
                "; more than max_deletes_per_run allows ({}): held back until `etlify sync --allow-deletes`",
                archive.allowed
            )
        } else {
            String::new()
        };
        println!(
            "{} in {}: {} to archive ({} deleted, {} out of scope){held}.",
            e.model,
            e.crm,
            output::counted(leaving as u64, "record", "records"),
            archive.deleted.len(),
            archive.left_scope.len()
        );
    }
    if session.settings().queue.configured {
        let jobs = etlify.job_counts().await?;
        println!("jobs: {} queued, {} running", jobs.queued, jobs.running);
    }
    Ok(Completed::Ok)
}
