//! `etlify runs`: the run history, newest first: each batch run of a CRM,
//! what started it, who ran it, how long it took, what it did, and why it
//! stopped short (docs/OPERATIONS.md, "Run history").

use etlify::{RunQuery, RunRecord, RunStatus};
use serde::Serialize;

use crate::error::{CommandResult, Completed};
use crate::session::Session;
use crate::{output, table};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Only this CRM's runs.
    #[arg(long)]
    crm: Option<String>,
    /// At most this many runs.
    #[arg(long, default_value_t = etlify::DEFAULT_RUN_QUERY_LIMIT)]
    limit: usize,
    /// Prints JSON for scripts instead of text.
    #[arg(long)]
    json: bool,
}

/// One run, for scripts (`runs --json` is an array of them, newest
/// first; docs/CLI.md, "`runs`").
#[derive(Debug, Serialize)]
struct RunReport<'a> {
    id: i64,
    crm: &'a str,
    trigger: &'static str,
    runner: &'a str,
    status: &'static str,
    /// RFC 3339, UTC.
    started_at: String,
    /// RFC 3339, UTC; none while running, or if the run died.
    finished_at: Option<String>,
    duration_ms: Option<u64>,
    records: u64,
    errors: u64,
    per_model: serde_json::Map<String, serde_json::Value>,
    interruption: Option<&'a str>,
}

impl<'a> From<&'a RunRecord> for RunReport<'a> {
    fn from(run: &'a RunRecord) -> Self {
        let per_model = run
            .per_model
            .iter()
            .map(|(model, s)| {
                (
                    model.clone(),
                    serde_json::json!({
                        "synced": s.synced,
                        "not_modified": s.not_modified,
                        "skipped": s.skipped,
                        "buffered": s.buffered,
                        "errors": s.errors,
                        "in_doubt": s.in_doubt,
                        "archived": s.archived,
                        "no_object_to_update": s.no_object_to_update,
                    }),
                )
            })
            .collect();
        Self {
            id: run.id,
            crm: &run.crm,
            trigger: run.trigger.as_str(),
            runner: &run.runner,
            status: run.status.as_str(),
            started_at: run.started_at.and_utc().to_rfc3339(),
            finished_at: run.finished_at.map(|t| t.and_utc().to_rfc3339()),
            duration_ms: run.duration().map(|d| d.as_millis() as u64),
            records: run.records,
            errors: run.errors,
            per_model,
            interruption: run.interruption.as_deref(),
        }
    }
}

/// A duration for people, to the millisecond under a second, else to the
/// second (`1m 5s`).
fn humanised(duration: std::time::Duration) -> String {
    if duration.as_secs() == 0 {
        return format!("{}ms", duration.as_millis());
    }
    humantime::format_duration(std::time::Duration::from_secs(duration.as_secs())).to_string()
}

/// What the duration column says of `run`.
fn took(run: &RunRecord) -> String {
    match (run.duration(), run.status) {
        (Some(duration), _) => humanised(duration),
        (None, RunStatus::Abandoned) => "ended without a record".to_owned(),
        (None, _) => "running".to_owned(),
    }
}

pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    let etlify = session.engine().await?;
    let mut query = RunQuery::new().limit(args.limit);
    if let Some(crm) = &args.crm {
        query = query.crm(crm);
    }
    let runs = etlify.runs(&query).await?;
    if args.json {
        let runs: Vec<_> = runs.iter().map(RunReport::from).collect();
        output::print_json(&runs)?;
        return Ok(Completed::Ok);
    }
    if runs.is_empty() {
        println!("No runs recorded yet.");
        return Ok(Completed::Ok);
    }
    let rows = runs
        .iter()
        .map(|run| {
            vec![
                run.started_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                run.crm.clone(),
                run.trigger.as_str().to_owned(),
                run.status.as_str().to_owned(),
                took(run),
                run.records.to_string(),
                run.errors.to_string(),
                run.runner.clone(),
            ]
        })
        .collect();
    let headers = [
        "started", "crm", "trigger", "status", "took", "records", "errors", "runner",
    ];
    println!("{}", table::render(&headers, &[5, 6], rows));
    for run in &runs {
        if let Some(reason) = &run.interruption {
            println!(
                "{} run of {}: {}",
                run.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                run.crm,
                reason
            );
        }
    }
    Ok(Completed::Ok)
}
