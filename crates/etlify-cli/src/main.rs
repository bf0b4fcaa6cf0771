//! `etlify`: keeps a subset of an application's database mirrored in CRMs,
//! configured by a TOML file beside it (`docs/CLI.md`).
//!
//! A thin shell over the `etlify` library: reading the file is `file.rs`
//! and `settings.rs`, each command below calls the library; `check.rs`,
//! `sync.rs` and `worker.rs` hold the larger ones (`etlify worker`: its
//! health endpoint); `logs.rs` sets up the logs on stderr.

mod check;
mod demo;
mod error;
mod file;
mod logs;
mod scaffold;
mod settings;
mod sync;
mod table;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use etlify::{BatchSyncOptions, Enqueued, Etlify, JobQueue, MigrateOptions, Store};
use serde_json::json;

use crate::error::{CliError, Exit};
use crate::settings::Settings;

#[derive(Debug, Parser)]
#[command(
    name = "etlify",
    version,
    about = "Keeps a subset of your database mirrored in CRMs, idempotently",
    after_help = "Examples:\n  etlify migrate                 create or upgrade the sync-state tables\n  etlify check                   check the configuration against the database\n  etlify check --crms            and ask each CRM whether it takes the token\n  etlify plan --json             what a sync would send, per model and CRM\n  etlify sync --crm hubspot      sync every stale record with one CRM\n  etlify sync --async            queue one batch job per CRM, for `etlify worker`\n  etlify worker                  run the queued jobs and a sync loop until SIGTERM\n\nExit status: 0 ok, 1 some records failed, 2 configuration, 3 run error, 130 sync stopped by Ctrl-C."
)]
struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        env = "ETLIFY_CONFIG",
        default_value = "etlify.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates or upgrades the sync-state tables (also a database the Rails gem created).
    Migrate {
        /// CRM name for rows of a gem schema older than multi-CRM support.
        #[arg(long)]
        default_crm_name: Option<String>,
        /// Undoes what `migrate` changed.
        #[arg(long)]
        revert: bool,
        /// Prints the statements it would run; changes nothing.
        #[arg(long, conflicts_with = "revert")]
        dry_run: bool,
    },
    /// Checks the configuration and the sync-state schema against the database.
    Check {
        /// Also asks each enabled CRM, with one read request per object type
        /// (nothing written), whether it takes the token and knows the type.
        #[arg(long)]
        crms: bool,
        #[arg(long)]
        json: bool,
    },
    /// Counts what a sync would process, per model and CRM; sends and writes nothing.
    ///
    /// With --diff, a sample of each model's stale records shows what a sync
    /// would do with each: create it, send the fields that changed since its
    /// last sync (with their new values), or find it unchanged.
    Plan {
        #[command(flatten)]
        selection: Selection,
        /// Show, for a sample of stale records, the fields that changed.
        #[arg(long)]
        diff: bool,
        /// Records per model and CRM in the --diff sample.
        #[arg(long, default_value_t = 5)]
        sample: usize,
        #[arg(long)]
        json: bool,
    },
    /// Prints a model section for TABLE, scaffolded from its columns and
    /// foreign keys, to paste into the configuration and edit.
    NewModel {
        table: String,
        /// The CRM to bind it to (default: the first configured one).
        #[arg(long)]
        crm: Option<String>,
        /// The resource type (default: the table's Rails class name).
        #[arg(long)]
        model: Option<String>,
    },
    /// Lists the configured CRMs: adapter, enabled, rate limit, error budget.
    Crms {
        #[arg(long)]
        json: bool,
    },
    /// Syncs one record, stale or not (its digest still decides what is sent).
    ///
    /// With a [queue] section it is queued for `etlify worker` (once while
    /// queued); --now syncs it here and now.
    SyncRecord {
        /// The model (resource type), e.g. `User`.
        model: String,
        /// The record's primary key.
        id: i64,
        #[arg(long)]
        crm: String,
        /// Sync it now, in this process, even with a [queue] section.
        #[arg(long)]
        now: bool,
        #[arg(long)]
        json: bool,
    },
    /// Deletes one record's object in the CRM (and forgets its CRM id).
    DeleteRecord {
        model: String,
        id: i64,
        #[arg(long)]
        crm: String,
        #[arg(long)]
        json: bool,
    },
    /// Forgets what etlify knows of a CRM's objects (CRM ids, digests,
    /// errors), for a CRM pointed at another account: the next sync sends
    /// every record again, matched by id_property. Deletes only with --yes
    Forget {
        /// The CRM whose sync state to forget.
        #[arg(long)]
        crm: String,
        /// Only this model's.
        #[arg(long)]
        model: Option<String>,
        /// Do it (without: say what it would do).
        #[arg(long)]
        yes: bool,
    },
    /// Per model and CRM: stale, synced, failing, over the error budget,
    /// waiting for a dependency, last sync.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Records whose last sync failed, with their error; `errors reset` clears them.
    Errors {
        #[command(subcommand)]
        action: Option<ErrorsAction>,
        #[arg(long)]
        crm: Option<String>,
        #[arg(long)]
        model: Option<String>,
        /// At most this many records.
        #[arg(long, default_value_t = 50)]
        limit: u64,
        #[arg(long)]
        json: bool,
    },
    /// Writes a commented starter configuration (never over an existing file).
    ///
    /// With --from-database, the database must exist: one model section is
    /// scaffolded per application table (as `new-model` does), to edit.
    Init {
        /// The database URL to put in it.
        #[arg(long, default_value = "sqlite://db/development.sqlite3")]
        database: String,
        /// Scaffold a model section for each table of the database.
        #[arg(long)]
        from_database: bool,
    },
    /// Prints the JSON Schema of the configuration file (for editor completion;
    /// the repository ships it as docs/etlify.schema.json).
    Schema,
    /// Runs the local HubSpot and Airtable sandbox until Ctrl-C.
    Sandbox {
        #[arg(long, default_value_t = 8787)]
        port: u16,
        /// Keeps the sandbox's objects in this file across runs.
        #[arg(long)]
        state: Option<PathBuf>,
    },
    /// Runs the whole job on the embedded default: sample SQLite data, the
    /// local HubSpot sandbox, three syncs. Needs no configuration.
    Demo {
        /// The folder for the database, the sandbox's state and the configuration.
        #[arg(long, default_value = "etlify-demo")]
        dir: PathBuf,
        /// Sample users (when the database is created).
        #[arg(long, default_value_t = 1000)]
        users: u64,
        #[arg(long)]
        json: bool,
    },
    /// Syncs every stale record (or every record with --full).
    ///
    /// With --async, queues one batch job per enabled CRM instead (or only
    /// --crm's), for `etlify worker`; each job finds its CRM's stale records.
    Sync {
        #[command(flatten)]
        selection: Selection,
        /// Records per page.
        #[arg(long)]
        batch_size: Option<usize>,
        /// Queue the batch jobs for `etlify worker` instead of syncing here.
        #[arg(long = "async")]
        enqueue: bool,
        #[arg(long)]
        json: bool,
    },
    /// Runs the queued sync jobs, and requests every enabled CRM's batch job
    /// on an interval, until SIGTERM or SIGINT (running jobs finish first).
    ///
    /// Flags win over the [worker] section. Logs go to stderr.
    Worker {
        #[command(flatten)]
        args: worker::WorkerArgs,
    },
}

#[derive(Debug, Subcommand)]
enum ErrorsAction {
    /// Clears the error budget of failing records so the next sync retries them.
    Reset {
        #[arg(long)]
        crm: Option<String>,
        #[arg(long)]
        model: Option<String>,
        /// Only these records (primary keys).
        ids: Vec<i64>,
    },
}

#[derive(Debug, clap::Args)]
struct Selection {
    /// Only this CRM.
    #[arg(long)]
    crm: Option<String>,
    /// Only these models (repeat the option).
    #[arg(long)]
    model: Vec<String>,
    /// Every record in scope, not only stale ones (a full reconcile).
    #[arg(long)]
    full: bool,
    /// Look at every record's sync state, not only at what changed since
    /// the last run (after deleting sync rows or resetting errors by hand).
    #[arg(long)]
    complete: bool,
}

impl Selection {
    fn options(&self) -> BatchSyncOptions {
        let mut options = BatchSyncOptions::new()
            .full_reconcile(self.full)
            .complete(self.complete);
        if let Some(crm) = &self.crm {
            options = options.crm(crm);
        }
        if !self.model.is_empty() {
            options = options.models(self.model.clone());
        }
        options
    }
}

/// The database, which must exist already (only `migrate` creates it).
async fn store(settings: &Settings) -> Result<Store, CliError> {
    connect(settings, true).await
}

async fn connect(settings: &Settings, must_exist: bool) -> Result<Store, CliError> {
    let options = settings.store.clone().must_exist(must_exist);
    Store::connect_with(&settings.database_url, &options)
        .await
        .map_err(|e| CliError::engine(&settings.path, e))
}

/// The engine, running everything inline.
async fn engine(settings: Settings) -> Result<Etlify, CliError> {
    let store = store(&settings).await?;
    build_engine(store, settings, None).await
}

/// The engine on the job queue (`[queue]`, or its defaults): `sync` and
/// follow-up syncs are requested as jobs, batch jobs can be requested.
/// Opening the queue creates its tables if needed.
pub(crate) async fn engine_with_queue(settings: Settings) -> Result<(Etlify, JobQueue), CliError> {
    let store = store(&settings).await?;
    // Before the queue's tables are made: an unmigrated database is
    // refused with what to run, and gets nothing of the queue's.
    etlify::store::schema::require_up_to_date(&store)
        .await
        .map_err(|e| CliError::engine(&settings.path, e))?;
    let queue = JobQueue::open(&store, settings.queue.options.clone())
        .await
        .map_err(|e| CliError::engine(&settings.path, e))?;
    let etlify = build_engine(store, settings, Some(queue.clone())).await?;
    Ok((etlify, queue))
}

async fn build_engine(
    store: Store,
    settings: Settings,
    queue: Option<JobQueue>,
) -> Result<Etlify, CliError> {
    let mut builder = Etlify::builder(store).config(settings.config);
    if let Some(queue) = queue {
        builder = builder.queue(queue).job_options(settings.queue.jobs);
    }
    for crm in settings.crms {
        builder = builder.crm(crm);
    }
    for model in settings.models {
        builder = builder.model(model);
    }
    builder
        .build()
        .await
        .map_err(|e| CliError::engine(&settings.path, e))
}

/// What a job request found, for people.
fn enqueued_text(enqueued: Enqueued) -> &'static str {
    match enqueued {
        Enqueued::New => "queued",
        Enqueued::AlreadyQueued => "already queued",
        Enqueued::AfterRunning => "queued after the running one",
        _ => enqueued.as_str(),
    }
}

async fn run(cli: Cli) -> Result<Exit0OrRecords, CliError> {
    // The worker sets up its own logs (always on, text or JSON).
    if !matches!(cli.command, Command::Worker { .. }) {
        logs::init(logs::LogFormat::Text, None)?;
    }
    match &cli.command {
        Command::Demo { dir, users, json } => {
            demo::demo(dir, *users, *json).await?;
            return Ok(Exit0OrRecords::Ok);
        }
        Command::Init {
            database,
            from_database,
        } => {
            init(&cli.config, database, *from_database).await?;
            return Ok(Exit0OrRecords::Ok);
        }
        Command::Schema => {
            let schema = schemars::schema_for!(file::File);
            let text = serde_json::to_string_pretty(&schema).map_err(|e| CliError {
                exit: Exit::Run,
                message: format!("cannot render the schema: {e}"),
            })?;
            println!("{text}");
            return Ok(Exit0OrRecords::Ok);
        }
        Command::Sandbox { port, state } => {
            sandbox(*port, state.clone()).await?;
            return Ok(Exit0OrRecords::Ok);
        }
        _ => {}
    }
    let settings = settings::load(&cli.config)?;
    let path = settings.path.clone();
    match cli.command {
        Command::Migrate {
            default_crm_name,
            revert,
            dry_run,
        } => {
            let store = connect(&settings, dry_run || revert).await?;
            if dry_run {
                let options = MigrateOptions { default_crm_name };
                let statements = etlify::migrate_dry_run(&store, &options)
                    .await
                    .map_err(|e| CliError::engine(&path, e))?;
                if statements.is_empty() {
                    println!("-- The sync-state tables are up to date: nothing to run.");
                }
                for statement in statements {
                    println!("{statement};");
                }
                if settings.queue.configured {
                    println!("-- [queue]: `etlify migrate` also creates the job queue's tables (apalis's own migrations, not shown).");
                }
            } else if revert {
                etlify::revert_migration(&store)
                    .await
                    .map_err(|e| CliError::engine(&path, e))?;
                println!("Reverted what etlify migrate changed.");
            } else {
                let options = MigrateOptions { default_crm_name };
                etlify::migrate(&store, &options)
                    .await
                    .map_err(|e| CliError::engine(&path, e))?;
                println!("The sync-state tables are up to date.");
                if settings.queue.configured {
                    // Opening the queue runs apalis's migrations (on
                    // PostgreSQL they need CREATE on the database).
                    JobQueue::open(&store, settings.queue.options.clone())
                        .await
                        .map_err(|e| CliError::engine(&path, e))?;
                    println!(
                        "The job queue's tables are up to date (queue {:?}).",
                        settings.queue.options.get_name()
                    );
                }
            }
            Ok(Exit0OrRecords::Ok)
        }
        Command::Check {
            crms: ask_crms,
            json,
        } => check::check(settings, ask_crms, json).await,
        Command::NewModel { table, crm, model } => {
            let store = store(&settings).await?;
            let crm = crm
                .or_else(|| settings.crms.first().map(|c| c.get_name().to_owned()))
                .unwrap_or_else(|| "hubspot".to_owned());
            print!(
                "{}",
                scaffold::new_model(&store, &table, &crm, model.as_deref()).await?
            );
            Ok(Exit0OrRecords::Ok)
        }
        Command::Forget { crm, model, yes } => {
            let etlify = engine(settings).await?;
            let whose = match &model {
                Some(model) => format!("{crm} ({model} only)"),
                None => crm.clone(),
            };
            if !yes {
                return Err(CliError::config(format!(
                    "forget deletes what etlify knows of {whose}: the records' CRM ids, digests \
                     and errors, so the next sync sends them again, matched by id_property. Run \
                     it again with --yes to do it (stop the workers first)."
                )));
            }
            let forgotten = etlify
                .forget(&crm, model.as_deref())
                .await
                .map_err(|e| CliError::engine(&path, e))?;
            if forgotten.busy {
                return Err(CliError {
                    exit: Exit::Run,
                    message: format!(
                        "a batch run of {crm} is under way (a worker, or another etlify sync): \
                         nothing was forgotten; stop it, then run forget again"
                    ),
                });
            }
            println!(
                "Forgot {} sync rows and {} waiting records of {whose}; the next `etlify sync` sends them again.",
                forgotten.sync_rows, forgotten.waiting
            );
            Ok(Exit0OrRecords::Ok)
        }
        Command::Status { json } => {
            let queue = settings.queue.configured;
            let etlify = engine(settings).await?;
            let entries = etlify
                .status()
                .await
                .map_err(|e| CliError::engine(&path, e))?;
            if json {
                let entries: Vec<_> = entries
                    .iter()
                    .map(|e| {
                        json!({
                            "model": e.model, "crm": e.crm, "stale": e.stale, "synced": e.synced,
                            "failing": e.failing, "over_budget": e.over_budget,
                            "pending_dependencies": e.pending_dependencies,
                            "last_synced_at": e.last_synced_at.map(|t| t.and_utc().to_rfc3339()),
                            "last_complete_check": e.last_complete_check.map(|t| t.and_utc().to_rfc3339()),
                        })
                    })
                    .collect();
                println!("{}", json!(entries));
            } else {
                let rows = entries
                    .iter()
                    .map(|e| {
                        vec![
                            e.model.clone(),
                            e.crm.clone(),
                            e.stale.to_string(),
                            e.synced.to_string(),
                            e.failing.to_string(),
                            e.over_budget.to_string(),
                            e.pending_dependencies.to_string(),
                            e.last_synced_at
                                .map_or("never".to_owned(), |t| format!("{t} UTC")),
                            e.last_complete_check
                                .map_or("next run".to_owned(), |t| format!("{t} UTC")),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table::render(
                        &[
                            "model",
                            "crm",
                            "stale",
                            "synced",
                            "failing",
                            "over budget",
                            "waiting",
                            "last sync",
                            "complete check"
                        ],
                        &[2, 3, 4, 5, 6],
                        rows
                    )
                );
                // `--json` stays the array of entries scripts read today.
                if queue {
                    let jobs = etlify
                        .job_counts()
                        .await
                        .map_err(|e| CliError::engine(&path, e))?;
                    println!("jobs: {} queued, {} running", jobs.queued, jobs.running);
                }
            }
            Ok(Exit0OrRecords::Ok)
        }
        Command::Errors {
            action,
            crm,
            model,
            limit,
            json,
        } => {
            let etlify = engine(settings).await?;
            if let Some(ErrorsAction::Reset { crm, model, ids }) = action {
                let ids: Vec<etlify::ResourceId> =
                    ids.into_iter().map(etlify::ResourceId::new).collect();
                let reset = etlify
                    .reset_errors(crm.as_deref(), model.as_deref(), &ids)
                    .await
                    .map_err(|e| CliError::engine(&path, e))?;
                if json {
                    println!("{}", json!({"reset": reset}));
                } else {
                    println!("{reset} records will be retried by the next sync.");
                }
                return Ok(Exit0OrRecords::Ok);
            }
            // One more than shown tells whether the list is cut.
            let mut rows = etlify
                .failing(crm.as_deref(), model.as_deref(), limit.saturating_add(1))
                .await
                .map_err(|e| CliError::engine(&path, e))?;
            let cut = rows.len() as u64 > limit;
            rows.truncate(limit as usize);
            if json {
                let rows: Vec<_> = rows
                    .iter()
                    .map(|r| {
                        json!({
                            "crm": r.crm_name, "model": r.resource_type, "id": r.resource_id.get(),
                            "error_count": r.error_count, "last_error": r.last_error,
                        })
                    })
                    .collect();
                println!("{}", json!(rows));
            } else if rows.is_empty() {
                println!("No failing records.");
            } else {
                let rows = rows
                    .iter()
                    .map(|r| {
                        vec![
                            r.crm_name.clone(),
                            r.resource_type.clone(),
                            r.resource_id.to_string(),
                            r.error_count.to_string(),
                            r.last_error.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table::render(
                        &["crm", "model", "id", "errors", "last error"],
                        &[2, 3],
                        rows
                    )
                );
                if cut {
                    println!(
                        "Only the {limit} most recent failures are shown; --limit N shows more (`etlify status` counts them all)."
                    );
                }
                println!("`etlify errors reset` clears their error budget so the next sync retries them.");
            }
            Ok(Exit0OrRecords::Ok)
        }
        Command::Crms { json } => {
            let etlify = engine(settings).await?;
            let crms: Vec<_> = etlify
                .crms()
                .iter()
                .map(|crm| {
                    json!({
                        "name": crm.get_name(),
                        "adapter": crm.get_adapter().kind(),
                        "enabled": crm.get_enabled(),
                        "rate_limit": crm.get_rate_limit().map(|l| json!({
                            "max_requests": l.get_max_requests(),
                            "period_ms": l.get_period().as_millis() as u64,
                        })),
                        "max_sync_errors": etlify.max_sync_errors(crm.get_name()),
                        "max_in_flight": crm.get_max_in_flight(),
                    })
                })
                .collect();
            if json {
                println!("{}", json!(crms));
            } else {
                let rows = etlify
                    .crms()
                    .iter()
                    .map(|crm| {
                        vec![
                            crm.get_name().to_owned(),
                            crm.get_adapter().kind().to_owned(),
                            if crm.get_enabled() { "yes" } else { "no" }.to_owned(),
                            crm.get_rate_limit().map_or("none".to_owned(), |l| {
                                format!(
                                    "{} per {}",
                                    l.get_max_requests(),
                                    humantime::format_duration(l.get_period())
                                )
                            }),
                            crm.get_max_in_flight().to_string(),
                            etlify.max_sync_errors(crm.get_name()).to_string(),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    table::render(
                        &[
                            "crm",
                            "adapter",
                            "enabled",
                            "rate limit",
                            "in flight",
                            "error budget"
                        ],
                        &[4, 5],
                        rows
                    )
                );
            }
            Ok(Exit0OrRecords::Ok)
        }
        Command::SyncRecord {
            model,
            id,
            crm,
            now,
            json,
        } => {
            let etlify = if settings.queue.configured && !now {
                engine_with_queue(settings).await?.0
            } else {
                engine(settings).await?
            };
            let dispatch = etlify
                .sync(&crm, &model, id)
                .await
                .map_err(|e| CliError::engine(&path, e))?;
            if let etlify::SyncDispatch::Enqueued(enqueued) = dispatch {
                if json {
                    println!(
                        "{}",
                        json!({"model": model, "id": id, "crm": crm, "enqueued": enqueued.as_str()})
                    );
                } else {
                    println!("{model} #{id} in {crm}: {}", enqueued_text(enqueued));
                }
                return Ok(Exit0OrRecords::Ok);
            }
            let (outcome, error) = match &dispatch {
                etlify::SyncDispatch::Completed(etlify::SyncOutcome::Error(e)) => {
                    ("error", Some(e.message.clone()))
                }
                etlify::SyncDispatch::Completed(outcome) => (outcome.as_str(), None),
                _ => ("disabled", None),
            };
            if json {
                println!(
                    "{}",
                    json!({"model": model, "id": id, "crm": crm, "outcome": outcome, "error": error})
                );
            } else {
                println!(
                    "{model} #{id} in {crm}: {outcome}{}",
                    error
                        .as_deref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default()
                );
            }
            Ok(if dispatch.succeeded() {
                Exit0OrRecords::Ok
            } else {
                Exit0OrRecords::RecordsFailed
            })
        }
        Command::DeleteRecord {
            model,
            id,
            crm,
            json,
        } => {
            let etlify = engine(settings).await?;
            let outcome = etlify
                .delete(&crm, &model, id)
                .await
                .map_err(|e| CliError::engine(&path, e))?;
            if json {
                println!(
                    "{}",
                    json!({"model": model, "id": id, "crm": crm, "outcome": outcome.as_str()})
                );
            } else {
                println!("{model} #{id} in {crm}: {outcome}");
            }
            Ok(Exit0OrRecords::Ok)
        }
        Command::Plan {
            selection,
            diff,
            sample,
            json,
        } => {
            let etlify = engine(settings).await?;
            let entries = etlify
                .plan(&selection.options())
                .await
                .map_err(|e| CliError::engine(&path, e))?;
            let total: usize = entries.iter().map(|e| e.records).sum();
            let mut samples = Vec::new();
            for entry in &entries {
                samples.push(if diff && entry.records > 0 {
                    etlify
                        .plan_diff(&entry.crm, &entry.model, sample)
                        .await
                        .map_err(|e| CliError::engine(&path, e))?
                } else {
                    Vec::new()
                });
            }
            if json {
                let entries: Vec<_> = entries
                    .iter()
                    .zip(&samples)
                    .map(|(e, sample)| {
                        let mut entry =
                            json!({"model": e.model, "crm": e.crm, "records": e.records});
                        if diff {
                            entry["sample"] = sample.iter().map(diff_json).collect();
                        }
                        entry
                    })
                    .collect();
                println!("{}", json!({"total": total, "entries": entries}));
            } else {
                let rows = entries
                    .iter()
                    .map(|e| vec![e.model.clone(), e.crm.clone(), e.records.to_string()])
                    .collect();
                println!(
                    "{}",
                    table::render(&["model", "crm", "records"], &[2], rows)
                );
                for (entry, sample) in entries.iter().zip(&samples) {
                    if sample.is_empty() {
                        continue;
                    }
                    println!(
                        "{} in {}, the first {} of {}:",
                        entry.model,
                        entry.crm,
                        sample.len(),
                        entry.records
                    );
                    for record in sample {
                        println!("    {}", diff_line(record));
                    }
                }
                println!("{total} records would be processed (nothing was sent or written).");
            }
            Ok(Exit0OrRecords::Ok)
        }
        Command::Demo { .. } | Command::Init { .. } | Command::Sandbox { .. } | Command::Schema => {
            unreachable!("handled before the configuration is read")
        }
        Command::Worker { args } => {
            worker::worker(settings, args).await?;
            Ok(Exit0OrRecords::Ok)
        }
        Command::Sync {
            selection,
            batch_size,
            enqueue: true,
            json,
        } => {
            sync::queued(settings, &selection, batch_size, json).await?;
            Ok(Exit0OrRecords::Ok)
        }
        Command::Sync {
            selection,
            batch_size,
            enqueue: false,
            json,
        } => sync::inline(settings, &selection, batch_size, json).await,
    }
}

/// One sampled record of `plan --diff`, for people.
fn diff_line(record: &etlify::RecordDiff) -> String {
    use etlify::PayloadChange;
    let id = record.id;
    match &record.change {
        PayloadChange::New => format!("#{id}: new, would be created"),
        PayloadChange::Changed(fields) if fields.is_empty() => {
            format!("#{id}: payload changed (no field differs by its short digest)")
        }
        PayloadChange::Changed(fields) => {
            let values: Vec<String> = fields
                .iter()
                .map(|field| {
                    let value = record
                        .payload
                        .as_ref()
                        .and_then(|p| p.get(field))
                        .map_or_else(|| "(removed)".to_owned(), ToString::to_string);
                    format!("{field} = {value}")
                })
                .collect();
            format!("#{id}: changed {}", values.join(", "))
        }
        PayloadChange::ChangedFieldsUnknown => format!(
            "#{id}: changed (which fields is unknown: its last sync kept no field digests, e.g. the Rails gem synced it, or the payload's fields were renamed)"
        ),
        PayloadChange::Unchanged => {
            format!("#{id}: unchanged, would not be sent (same payload as the last sync)")
        }
        PayloadChange::PayloadError(message) => format!("#{id}: payload error: {message}"),
        _ => format!("#{id}: {:?}", record.change),
    }
}

/// One sampled record of `plan --diff`, for scripts.
fn diff_json(record: &etlify::RecordDiff) -> serde_json::Value {
    use etlify::PayloadChange;
    let (change, fields, error) = match &record.change {
        PayloadChange::New => ("new", None, None),
        PayloadChange::Changed(fields) => ("changed", Some(fields.clone()), None),
        PayloadChange::ChangedFieldsUnknown => ("changed_fields_unknown", None, None),
        PayloadChange::Unchanged => ("unchanged", None, None),
        PayloadChange::PayloadError(message) => ("payload_error", None, Some(message.clone())),
        _ => ("other", None, None),
    };
    json!({
        "id": record.id.get(),
        "change": change,
        "fields": fields,
        "error": error,
        "payload": record.payload,
    })
}

/// A completed command: everything fine, or some records failed.
enum Exit0OrRecords {
    Ok,
    RecordsFailed,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("etlify: cannot start: {error}");
            return ExitCode::from(Exit::Run as u8);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(Exit0OrRecords::Ok) => ExitCode::SUCCESS,
        Ok(Exit0OrRecords::RecordsFailed) => ExitCode::from(Exit::RecordsFailed as u8),
        Err(error) => {
            eprintln!("etlify: {error}");
            ExitCode::from(error.exit as u8)
        }
    }
}

const STARTER: &str = r#"# etlify configuration: see docs/CLI.md and docs/MODELS.md.
[database]
url = {url}                # or "${DATABASE_URL}"; postgres://… works too

[crms.hubspot]
adapter = "hubspot"             # hubspot | airtable | null
token = "${HUBSPOT_TOKEN}"      # secrets only from the environment
rate_limit = { max_requests = 100, period = "10s" }
# enabled = false               # a disabled CRM reads, sends and writes nothing

# One section per model (a table of your application), and one binding per CRM:
# [models.User]
# table = "users"
#
# [models.User.crms.hubspot]
# object_type = "contacts"
# id_property = "email"
# payload = """
#   SELECT users.id, users.email, users.full_name, companies.name AS company
#   FROM users LEFT JOIN companies ON companies.id = users.company_id
# """
# dependencies = [{ belongs_to = "companies", foreign_key = "company_id" }]
"#;

/// Writes the starter configuration at `path`; with `from_database`, a
/// model section per application table of `database`.
async fn init(path: &std::path::Path, database: &str, from_database: bool) -> Result<(), CliError> {
    if path.exists() {
        return Err(CliError::config(format!(
            "{} already exists; edit it, or pass --config for another file",
            path.display()
        )));
    }
    let url = toml::Value::String(database.to_owned()).to_string();
    let mut text = STARTER.replacen("{url}", &url, 1);
    let mut tables = Vec::new();
    if from_database {
        let options = etlify::StoreOptions::new().must_exist(true);
        let store = Store::connect_with(database, &options)
            .await
            .map_err(|e| CliError::engine("--database", e))?;
        tables = store
            .application_tables()
            .await
            .map_err(|e| CliError::engine("--database", e))?;
        text.push_str(
            "\n# Scaffolded from the database's tables: keep the models to sync, set each\n\
             # object_type and id_property, trim the payloads, then run `etlify check`.\n",
        );
        for table in &tables {
            text.push('\n');
            text.push_str(&scaffold::new_model(&store, table, "hubspot", None).await?);
        }
    }
    std::fs::write(path, text).map_err(|e| CliError {
        exit: Exit::Run,
        message: format!("cannot write {}: {e}", path.display()),
    })?;
    if from_database {
        println!(
            "Wrote {} with {} model sections ({}). Next: edit them, then `etlify migrate` and `etlify check`.",
            path.display(),
            tables.len(),
            tables.join(", ")
        );
    } else {
        println!(
            "Wrote {}. Next: declare your models (or `etlify new-model TABLE`), then `etlify migrate` and `etlify check`.",
            path.display()
        );
    }
    Ok(())
}

/// Runs the sandbox until Ctrl-C.
async fn sandbox(port: u16, state: Option<PathBuf>) -> Result<(), CliError> {
    let run_error = |message: String| CliError {
        exit: Exit::Run,
        message,
    };
    let sandbox = etlify_sandbox::Sandbox::start(etlify_sandbox::SandboxConfig {
        port,
        state_file: state,
        ..etlify_sandbox::SandboxConfig::default()
    })
    .await
    .map_err(|e| run_error(format!("cannot start the sandbox: {e}")))?;
    println!("Sandbox listening on {}", sandbox.base_url());
    println!(
        "  HubSpot:  base_url = \"{}\", token = \"{}\"",
        sandbox.hubspot_base_url(),
        etlify_sandbox::DEFAULT_HUBSPOT_TOKEN
    );
    // The values for etlify.toml: the Airtable adapter adds `/v0` itself.
    println!(
        "  Airtable: base_url = \"{}\", token = \"{}\", any base_id (app…)",
        sandbox.base_url().trim_end_matches('/'),
        etlify_sandbox::DEFAULT_AIRTABLE_TOKEN
    );
    println!("  Admin:    {}", sandbox.admin_url());
    println!("Ctrl-C stops it.");
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| run_error(format!("cannot wait for Ctrl-C: {e}")))?;
    sandbox
        .shutdown()
        .await
        .map_err(|e| run_error(format!("cannot stop the sandbox: {e}")))
}
