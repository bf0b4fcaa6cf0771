//! `etlify sync`: one batch run here, with a progress line, a summary and
//! a graceful stop on Ctrl-C or SIGTERM; or, with `--async`, one batch job
//! requested per CRM for the workers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use etlify::{BatchEnqueued, BatchStats, ErrorKind, Interruption, RunStats};
use serde::Serialize;

use crate::commands::Selection;
use crate::error::{CliError, CommandResult, Completed, Exit};
use crate::output;
use crate::session::Session;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    selection: Selection,
    /// Records per page.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Queue the batch jobs for `etlify worker` instead of syncing here.
    #[arg(long = "async")]
    enqueue: bool,
    /// Prints JSON for scripts instead of text.
    #[arg(long)]
    json: bool,
    /// Archive what left the application past each binding's
    /// max_deletes_per_run guard, this once (bindings with
    /// on_delete = "archive"; looks for deleted rows now).
    #[arg(long)]
    allow_deletes: bool,
    /// Refused: a sync always sends; `etlify plan` (and `plan --diff`)
    /// shows what it would send, writing nothing.
    #[arg(long)]
    dry_run: bool,
}

/// What one CRM (or the whole run) did with its records, for scripts.
#[derive(Debug, Serialize)]
struct Counts {
    synced: usize,
    not_modified: usize,
    skipped: usize,
    buffered: usize,
    errors: usize,
    /// Creates whose answer was lost: not repeated, looked up next run.
    in_doubt: usize,
    /// Objects of records whose row is gone, archived.
    archived: usize,
    /// `mode = update_only`: records the CRM has no object for (stamped).
    no_object_to_update: usize,
    disabled: bool,
}

impl From<&BatchStats> for Counts {
    fn from(s: &BatchStats) -> Self {
        Self {
            synced: s.synced,
            not_modified: s.not_modified,
            skipped: s.skipped,
            buffered: s.buffered,
            errors: s.errors,
            in_doubt: s.in_doubt,
            archived: s.archived,
            no_object_to_update: s.no_object_to_update,
            disabled: s.disabled,
        }
    }
}

/// `sync --json`: the run's counts, then the run's details.
#[derive(Debug, Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    outcomes: Counts,
    total: usize,
    per_crm: BTreeMap<&'a str, Counts>,
    per_model: BTreeMap<&'a str, usize>,
    /// CRMs skipped because another run of theirs was under way.
    busy: &'a [String],
    interrupted: Vec<InterruptionReport<'a>>,
    /// Records held by another run's locks, left for the next run.
    deferred: usize,
    /// Stopped by Ctrl-C or SIGTERM.
    stopped: bool,
    /// Bindings whose archives the max_deletes_per_run guard held back.
    deletes_held: Vec<HeldReport<'a>>,
}

/// Archives a binding's guard held back, for scripts.
#[derive(Debug, Serialize)]
struct HeldReport<'a> {
    crm: &'a str,
    model: &'a str,
    records: usize,
    allowed: u64,
    max_deletes_per_run: String,
}

/// A (model, CRM) whose run stopped short, for scripts.
#[derive(Debug, Serialize)]
struct InterruptionReport<'a> {
    crm: &'a str,
    model: &'a str,
    retriable: bool,
    message: &'a str,
}

impl<'a> From<&'a RunStats> for Report<'a> {
    fn from(stats: &'a RunStats) -> Self {
        Self {
            outcomes: Counts::from(&stats.outcomes),
            total: stats.total,
            per_crm: stats
                .per_crm
                .iter()
                .map(|(crm, s)| (crm.as_str(), Counts::from(s)))
                .collect(),
            per_model: stats
                .per_model
                .iter()
                .map(|(model, n)| (model.as_str(), *n))
                .collect(),
            busy: &stats.busy,
            interrupted: stats
                .interrupted
                .iter()
                .map(InterruptionReport::from)
                .collect(),
            deferred: stats.deferred,
            stopped: stats.stopped,
            deletes_held: stats
                .deletes_held
                .iter()
                .map(|held| HeldReport {
                    crm: &held.crm,
                    model: &held.model,
                    records: held.records,
                    allowed: held.allowed,
                    max_deletes_per_run: held.limit.to_string(),
                })
                .collect(),
        }
    }
}

impl<'a> From<&'a Interruption> for InterruptionReport<'a> {
    fn from(i: &'a Interruption) -> Self {
        Self {
            crm: &i.crm,
            model: &i.model,
            retriable: i.retriable,
            message: &i.message,
        }
    }
}

/// `sync --async --json`: the gem's `{ total, per_model, errors }`, and
/// what each CRM's job request found.
#[derive(Debug, Serialize)]
struct QueuedReport<'a> {
    total: usize,
    per_model: BTreeMap<&'a str, usize>,
    errors: usize,
    crms: Vec<QueuedCrm<'a>>,
}

#[derive(Debug, Serialize)]
struct QueuedCrm<'a> {
    crm: &'a str,
    /// `etlify::jobs::Enqueued::as_str`.
    enqueued: &'static str,
}

impl<'a> From<&'a BatchEnqueued> for QueuedReport<'a> {
    fn from(queued: &'a BatchEnqueued) -> Self {
        Self {
            total: queued.total,
            per_model: queued
                .per_model
                .iter()
                .map(|(model, n)| (model.as_str(), *n))
                .collect(),
            errors: queued.errors,
            crms: queued
                .crms
                .iter()
                .map(|(crm, enqueued)| QueuedCrm {
                    crm,
                    enqueued: enqueued.as_str(),
                })
                .collect(),
        }
    }
}

pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    if args.dry_run {
        return Err(CliError::config(
            "sync has no --dry-run: `etlify plan` counts what a sync would send and \
             `etlify plan --diff` shows it field by field; neither sends or writes anything",
        )
        .into());
    }
    match args.enqueue {
        true => queued(session, &args).await,
        false => inline(session, &args).await,
    }
}

/// Syncs every stale record selected, here and now.
async fn inline(session: &Session, args: &Args) -> CommandResult {
    let etlify = session.engine().await?;
    output::print_warnings(session.path(), &etlify.warnings());
    let mut options = args.selection.options();
    if let Some(size) = args.batch_size {
        options = options.batch_size(size);
    }
    options = options.allow_deletes(args.allow_deletes);
    let started = std::time::Instant::now();
    // Progress on stderr, drawn only on a terminal (indicatif hides it otherwise).
    let progress = indicatif::ProgressBar::new_spinner();
    if !args.json {
        let bar = progress.clone();
        progress.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        options = options.progress(move |p| {
            let rate = p.total as f64 / started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{} {}: {} processed, {rate:.0}/s",
                p.crm,
                p.model,
                output::counted(p.total as u64, "record", "records")
            ));
            bar.tick();
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    options = options.stop_when(stop.clone());
    let on_signal = tokio::spawn(stop_on_signal(stop, progress.clone()));
    let stats = etlify.batch_sync(&options).await;
    let took = started.elapsed().as_secs_f64();
    on_signal.abort();
    let stats = stats?;
    progress.finish_and_clear();
    if args.json {
        output::print_json(&Report::from(&stats))?;
    } else {
        print_summary(&stats, took);
    }
    if stats.stopped {
        return Err(CliError {
            exit: Exit::Interrupted,
            message: "stopped before the end; what was sent is recorded: run `etlify sync` again to go on".into(),
        }
        .into());
    }
    // Bindings whose payload the CRM's schema refuses: running again
    // changes nothing until the file or the CRM does.
    let not_started = |stop: &Interruption| stop.kind == ErrorKind::Config && !stop.retriable;
    if !stats.interrupted.is_empty() && stats.interrupted.iter().all(not_started) {
        return Err(CliError::config(
            "some bindings were not started (above): fix the payload or the CRM (`etlify check --crms` lists the problems), then sync again",
        )
        .into());
    }
    if !stats.interrupted.is_empty() {
        return Err(CliError::run(
            "the run stopped short for some CRMs; run again later (records already synced are not sent again)",
        )
        .into());
    }
    if !stats.deletes_held.is_empty() {
        return Err(CliError {
            exit: Exit::DeletesHeld,
            message: "nothing was archived for some models: more records left the application than max_deletes_per_run allows (above); check that the rows were meant to go, then run `etlify sync --allow-deletes` to archive them".into(),
        }
        .into());
    }
    Ok(if stats.errors > 0 {
        Completed::RecordsFailed
    } else {
        Completed::Ok
    })
}

/// The run's summary for people: the total, each CRM's when there are
/// several, and what was left for another run.
fn print_summary(stats: &RunStats, took: f64) {
    let outcomes = |s: &BatchStats| {
        let in_doubt = if s.in_doubt > 0 {
            format!(
                ", {} in doubt (a create's answer was lost: the next sync looks for the object first)",
                s.in_doubt
            )
        } else {
            String::new()
        };
        let no_object = if s.no_object_to_update > 0 {
            format!(
                ", {} with no object to update (mode update_only: nothing created)",
                s.no_object_to_update
            )
        } else {
            String::new()
        };
        let archived = if s.archived > 0 {
            format!(", {} archived (their rows were deleted)", s.archived)
        } else {
            String::new()
        };
        format!(
            "{} synced, {} not modified, {} skipped, {} buffered, {}{in_doubt}{archived}{no_object}",
            s.synced,
            s.not_modified,
            s.skipped,
            s.buffered,
            output::counted(s.errors as u64, "error", "errors")
        )
    };
    let mut overall = stats.outcomes;
    overall.errors = stats.errors;
    println!(
        "{} in {took:.1} s: {}",
        output::counted(stats.total as u64, "record", "records"),
        outcomes(&overall)
    );
    if stats.per_crm.len() > 1 {
        for (crm, s) in &stats.per_crm {
            println!("  {crm}: {}", outcomes(s));
        }
    }
    for crm in &stats.busy {
        println!("{crm}: another sync of this CRM is running; skipped (run again later).");
    }
    for stop in &stats.interrupted {
        println!("{} {}: stopped: {}", stop.crm, stop.model, stop.message);
    }
    if stats.deferred > 0 {
        let held = match stats.deferred {
            1 => "1 record was".to_owned(),
            n => format!("{n} records were"),
        };
        println!(
            "{held} held by another sync (one that died holding them?); left for the next run, once their locks expire (database.lease_ttl)."
        );
    }
    for held in &stats.deletes_held {
        println!(
            "{} {}: {} records left the application, more than max_deletes_per_run = {} allows ({}): nothing archived.",
            held.crm, held.model, held.records, held.limit, held.allowed
        );
    }
}

/// Ctrl-C or SIGTERM during `sync`: the first stops the run gracefully (no
/// new page; the requests in flight finish and are recorded; the locks are
/// released), the second quits at once.
async fn stop_on_signal(stop: Arc<AtomicBool>, progress: indicatif::ProgressBar) {
    etlify::shutdown_signal().await;
    stop.store(true, Ordering::SeqCst);
    progress.suspend(|| {
        eprintln!(
            "etlify: stopping: the requests in flight finish and are recorded (Ctrl-C again quits at once)"
        )
    });
    etlify::shutdown_signal().await;
    progress.suspend(|| {
        eprintln!(
            "etlify: quit; the answers of requests still in flight are lost, and the next run sends those records again"
        )
    });
    std::process::exit(Exit::Interrupted as i32);
}

/// `sync --async`: one batch job requested per enabled CRM (or `--crm`'s).
async fn queued(session: &Session, args: &Args) -> CommandResult {
    // A batch job covers every model of its CRM from its checkpoint, with
    // the default page size: what it cannot honour is refused here.
    let selection = &args.selection;
    let refused = [
        (!selection.model.is_empty(), "--model"),
        (selection.full, "--full"),
        (selection.complete, "--complete"),
        (args.batch_size.is_some(), "--batch-size"),
        (args.allow_deletes, "--allow-deletes"),
    ];
    if let Some((_, flag)) = refused.iter().find(|(set, _)| *set) {
        return Err(CliError::config(format!(
            "{flag} cannot be used with --async: a batch job syncs every model of its CRM, \
             from its checkpoint; run `etlify sync {flag} …` without --async to do this here"
        ))
        .into());
    }
    let (etlify, _queue) = session.engine_with_queue().await?;
    let queued = etlify.batch_sync_async(&selection.options()).await?;
    if args.json {
        output::print_json(&QueuedReport::from(&queued))?;
        return Ok(Completed::Ok);
    }
    if queued.crms.is_empty() {
        println!("No enabled CRM selected: nothing queued.");
        return Ok(Completed::Ok);
    }
    for (crm, enqueued) in &queued.crms {
        println!("{crm}: {}", output::enqueued_text(*enqueued));
    }
    println!(
        "{} now, which the queued jobs will find. Run `etlify worker` to process them (a worker already running picks them up).",
        output::counted(queued.total as u64, "stale record", "stale records")
    );
    Ok(Completed::Ok)
}
