//! `etlify sync`: one batch run here, with a progress line, a summary and
//! a graceful stop on Ctrl-C or SIGTERM; or, with `--async`, one batch job
//! requested per CRM for the workers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;

use crate::error::{CliError, Exit};
use crate::settings::Settings;
use crate::{engine, engine_with_queue, enqueued_text, Exit0OrRecords, Selection};

/// Syncs every stale record selected, here and now.
pub(crate) async fn inline(
    settings: Settings,
    selection: &Selection,
    batch_size: Option<usize>,
    json: bool,
) -> Result<Exit0OrRecords, CliError> {
    let path = settings.path.clone();
    settings.print_warnings();
    let etlify = engine(settings).await?;
    let mut options = selection.options();
    if let Some(size) = batch_size {
        options = options.batch_size(size);
    }
    let started = std::time::Instant::now();
    // Progress on stderr, drawn only on a terminal (indicatif hides it otherwise).
    let progress = indicatif::ProgressBar::new_spinner();
    if !json {
        let bar = progress.clone();
        progress.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        options = options.progress(move |p| {
            let rate = p.total as f64 / started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{} {}: {} records processed, {rate:.0}/s",
                p.crm, p.model, p.total
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
    let stats = stats.map_err(|e| CliError::engine(&path, e))?;
    progress.finish_and_clear();
    let counts = |s: &etlify::BatchStats| {
        json!({
            "synced": s.synced, "not_modified": s.not_modified, "skipped": s.skipped,
            "buffered": s.buffered, "errors": s.errors, "disabled": s.disabled,
        })
    };
    if json {
        let per_crm: serde_json::Map<String, serde_json::Value> = stats
            .per_crm
            .iter()
            .map(|(crm, s)| (crm.clone(), counts(s)))
            .collect();
        let interrupted: Vec<_> = stats
            .interrupted
            .iter()
            .map(|i| json!({"crm": i.crm, "model": i.model, "retriable": i.retriable, "message": i.message}))
            .collect();
        let mut report = counts(&stats.outcomes);
        if let Some(object) = report.as_object_mut() {
            object.insert("total".into(), json!(stats.total));
            object.insert("per_crm".into(), json!(per_crm));
            let per_model: serde_json::Map<String, serde_json::Value> = stats
                .per_model
                .iter()
                .map(|(model, n)| (model.clone(), json!(n)))
                .collect();
            object.insert("per_model".into(), json!(per_model));
            object.insert("busy".into(), json!(stats.busy));
            object.insert("interrupted".into(), json!(interrupted));
            object.insert("deferred".into(), json!(stats.deferred));
            object.insert("stopped".into(), json!(stats.stopped));
        }
        println!("{report}");
    } else {
        let outcomes = |s: &etlify::BatchStats| {
            format!(
                "{} synced, {} not modified, {} skipped, {} buffered, {} errors",
                s.synced, s.not_modified, s.skipped, s.buffered, s.errors
            )
        };
        let mut overall = stats.outcomes;
        overall.errors = stats.errors;
        println!(
            "{} records in {took:.1} s: {}",
            stats.total,
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
            println!(
                "{} records were held by another sync (one that died holding them?); left for the next run, once their locks expire (database.lease_ttl).",
                stats.deferred
            );
        }
    }
    if stats.stopped {
        return Err(CliError {
            exit: Exit::Interrupted,
            message: "stopped before the end; what was sent is recorded: run `etlify sync` again to go on".into(),
        });
    }
    if !stats.interrupted.is_empty() {
        return Err(CliError {
            exit: Exit::Run,
            message: "the run stopped short for some CRMs; run again later (records already synced are not sent again)".into(),
        });
    }
    Ok(if stats.errors > 0 {
        Exit0OrRecords::RecordsFailed
    } else {
        Exit0OrRecords::Ok
    })
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
pub(crate) async fn queued(
    settings: Settings,
    selection: &Selection,
    batch_size: Option<usize>,
    json: bool,
) -> Result<(), CliError> {
    // A batch job covers every model of its CRM from its checkpoint, with
    // the default page size: what it cannot honour is refused here.
    let refused = [
        (!selection.model.is_empty(), "--model"),
        (selection.full, "--full"),
        (selection.complete, "--complete"),
        (batch_size.is_some(), "--batch-size"),
    ];
    if let Some((_, flag)) = refused.iter().find(|(set, _)| *set) {
        return Err(CliError::config(format!(
            "{flag} cannot be used with --async: a batch job syncs every model of its CRM, \
             from its checkpoint; run `etlify sync {flag} …` without --async to do this here"
        )));
    }
    let path = settings.path.clone();
    let (etlify, _queue) = engine_with_queue(settings).await?;
    let queued = etlify
        .batch_sync_async(&selection.options())
        .await
        .map_err(|e| CliError::engine(&path, e))?;
    if json {
        let per_model: serde_json::Map<String, serde_json::Value> = queued
            .per_model
            .iter()
            .map(|(model, n)| (model.clone(), json!(n)))
            .collect();
        let crms: Vec<_> = queued
            .crms
            .iter()
            .map(|(crm, enqueued)| json!({"crm": crm, "enqueued": enqueued.as_str()}))
            .collect();
        println!(
            "{}",
            json!({"total": queued.total, "per_model": per_model, "errors": queued.errors, "crms": crms})
        );
        return Ok(());
    }
    if queued.crms.is_empty() {
        println!("No enabled CRM selected: nothing queued.");
        return Ok(());
    }
    for (crm, enqueued) in &queued.crms {
        println!("{crm}: {}", enqueued_text(*enqueued));
    }
    println!(
        "{} stale records now, which the queued jobs will find. Run `etlify worker` to process them (a worker already running picks them up).",
        queued.total
    );
    Ok(())
}
