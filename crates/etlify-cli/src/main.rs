//! `etlify`: keeps a subset of an application's database mirrored in CRMs,
//! configured by a TOML file beside it (`docs/CLI.md`).
//!
//! A thin shell over the `etlify` library: this file parses the command
//! line, runs one command and turns its answer into an exit status. Each
//! command is a file of `commands/`, given a `Session` (`session.rs`: the
//! configuration read by `file.rs` and `settings.rs`, and the engine built
//! when first asked for); `output.rs` prints `--json`, `table.rs` tables,
//! `logs.rs` sets up the logs on stderr.

mod commands;
mod error;
mod file;
mod logs;
mod metrics_endpoint;
mod output;
mod scaffold;
mod session;
mod settings;
mod table;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::{
    check, completions, crm_schema, crms, delete_record, demo, errors, forget, init, migrate,
    new_model, plan, runs, sandbox, schema, serve, status, sync, sync_record, worker,
};
use crate::error::{CliError, Completed, Exit};
use crate::session::Session;

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

/// The commands, in the order `--help` lists them; each one's flags are
/// in its file.
#[derive(Debug, Subcommand)]
enum Command {
    /// Creates or upgrades the sync-state tables (also a database the Rails gem created).
    Migrate(migrate::Args),
    /// Checks the configuration and the sync-state schema against the database.
    Check(check::Args),
    /// Counts what a sync would process, per model and CRM; sends and writes nothing.
    ///
    /// With --diff, a sample of each model's stale records shows what a sync
    /// would do with each: create it, send the fields that changed since its
    /// last sync (with their new values), or find it unchanged.
    Plan(plan::Args),
    /// Prints a model section for TABLE, scaffolded from its columns and
    /// foreign keys, to paste into the configuration and edit.
    NewModel(new_model::Args),
    /// Lists the configured CRMs: adapter, enabled, rate limit, error budget.
    Crms(crms::Args),
    /// Syncs one record, stale or not (its digest still decides what is sent).
    ///
    /// With a [queue] section it is queued for `etlify worker` (once while
    /// queued); --now syncs it here and now.
    SyncRecord(sync_record::Args),
    /// Deletes one record's object in the CRM (and forgets its CRM id).
    DeleteRecord(delete_record::Args),
    /// Forgets what etlify knows of a CRM's objects (CRM ids, digests,
    /// errors), for a CRM pointed at another account: the next sync sends
    /// every record again, matched by id_property. Deletes only with --yes
    Forget(forget::Args),
    /// Per model and CRM, where its records stand, each counted once: in
    /// sync, stale, never synced, failing, over the error budget, waiting
    /// for a dependency; and the last sync.
    Status(status::Args),
    /// Records whose last sync failed, with their error; `errors reset` clears them.
    Errors(errors::Args),
    /// Writes a commented starter configuration (never over an existing file).
    ///
    /// With --from-database, the database must exist: one model section is
    /// scaffolded per application table (as `new-model` does), to edit.
    Init(init::Args),
    /// Prints the JSON Schema of the configuration file (for editor completion;
    /// the repository ships it as docs/etlify.schema.json).
    Schema,
    /// Runs the local HubSpot and Airtable sandbox until Ctrl-C, with the
    /// latency, faults and rate limits its flags (or a JSON file) set.
    Sandbox(sandbox::Args),
    /// Runs the whole job on the embedded default: sample SQLite data, the
    /// local HubSpot sandbox, three syncs. Needs no configuration.
    Demo(demo::Args),
    /// Prints the completion script of a shell (bash, zsh, fish,
    /// powershell, elvish), to source from its startup file.
    ///
    /// bash: `etlify completions bash > ~/.local/share/bash-completion/completions/etlify`;
    /// zsh: `etlify completions zsh > ~/.zfunc/_etlify` (with `fpath+=~/.zfunc`);
    /// fish: `etlify completions fish > ~/.config/fish/completions/etlify.fish`.
    Completions(completions::Args),
    /// Syncs every stale record (or every record with --full).
    ///
    /// With --async, queues one batch job per enabled CRM instead (or only
    /// --crm's), for `etlify worker`; each job finds its CRM's stale records.
    Sync(sync::Args),
    /// Runs the queued sync jobs, and requests every enabled CRM's batch job
    /// on an interval, until SIGTERM or SIGINT (running jobs finish first).
    ///
    /// Flags win over the [worker] section. Logs go to stderr.
    Worker(worker::Args),
    /// Serves the status page (per model and CRM where records stand, the
    /// failing records, the queue, the CRMs) and GET /health until SIGTERM.
    ///
    /// Read-only unless [serve] admin_token_env names a variable holding
    /// the admin token. Flags win over the [serve] section. Logs go to stderr.
    Serve(serve::Args),
    /// Adds to the CRMs the properties the payloads send that their object
    /// types lack (`crm-schema create`, typed from the column types; asks
    /// first, or --yes). Never deletes or retypes one.
    CrmSchema(crm_schema::Args),
    /// The run history, newest first: each batch run of a CRM, what
    /// started it, who ran it, how long it took, its counts, and why it
    /// stopped short.
    Runs(runs::Args),
}

/// Runs the command: those that need no configuration file first, then
/// the others in a session on the file.
async fn run(cli: Cli) -> Result<Completed, CliError> {
    // The worker and serve set up their own logs (always on, text or JSON).
    if !matches!(cli.command, Command::Worker(_) | Command::Serve(_)) {
        logs::init(logs::LogFormat::Text, None)?;
    }
    let command = match cli.command {
        Command::Demo(args) => return demo::run(args).await,
        Command::Init(args) => return init::run(&cli.config, args).await,
        Command::Schema => return schema::run(),
        Command::Completions(args) => return completions::run(args),
        Command::Sandbox(args) => return sandbox::run(args).await,
        command => command,
    };
    let session = Session::load(&cli.config)?;
    let answer = match command {
        Command::Migrate(args) => migrate::run(&session, args).await,
        Command::Check(args) => check::run(&session, args).await,
        Command::Plan(args) => plan::run(&session, args).await,
        Command::NewModel(args) => new_model::run(&session, args).await,
        Command::Crms(args) => crms::run(&session, args).await,
        Command::SyncRecord(args) => sync_record::run(&session, args).await,
        Command::DeleteRecord(args) => delete_record::run(&session, args).await,
        Command::Forget(args) => forget::run(&session, args).await,
        Command::Status(args) => status::run(&session, args).await,
        Command::Errors(args) => errors::run(&session, args).await,
        Command::Sync(args) => sync::run(&session, args).await,
        Command::Worker(args) => worker::run(&session, args).await,
        Command::Serve(args) => serve::run(&session, args).await,
        Command::Runs(args) => runs::run(&session, args).await,
        Command::CrmSchema(args) => crm_schema::run(&session, args).await,
        Command::Demo(_)
        | Command::Init(_)
        | Command::Schema
        | Command::Sandbox(_)
        | Command::Completions(_) => {
            unreachable!("run above, without a configuration file")
        }
    };
    answer.map_err(|error| session.error(error))
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
        Ok(Completed::Ok) => ExitCode::SUCCESS,
        Ok(Completed::RecordsFailed) => ExitCode::from(Exit::RecordsFailed as u8),
        Err(error) => {
            eprintln!("etlify: {error}");
            ExitCode::from(error.exit as u8)
        }
    }
}

#[cfg(test)]
mod help_tests;
