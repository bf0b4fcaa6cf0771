//! `etlify migrate`: creates or upgrades the sync-state tables (and the job
//! queue's, with a `[queue]` section); `--dry-run` prints the statements,
//! `--revert` undoes them. It says what it applied (`--json`: the list).
//! `--triggers` (PostgreSQL) also installs the change triggers a worker
//! listens to; `--triggers --revert` removes only them, and `--revert`
//! removes them with the rest.

use etlify::jobs::JobQueue;
use etlify::MigrateOptions;
use serde::Serialize;

use crate::error::{CliError, CommandResult, Completed};
use crate::output;
use crate::session::Session;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// CRM name for rows of a gem schema older than multi-CRM support.
    #[arg(long)]
    default_crm_name: Option<String>,
    /// Undoes what `migrate` changed.
    #[arg(long)]
    revert: bool,
    /// Prints the statements it would run; changes nothing.
    #[arg(long, conflicts_with = "revert")]
    dry_run: bool,
    /// Also installs change triggers on every table the models read:
    /// PostgreSQL's notify the worker, SQLite's count the writes (and the
    /// job queue's) in `etlify_changes`, which the worker reads (with
    /// --revert: removes only the triggers; with --dry-run: prints their
    /// statements).
    #[arg(long)]
    triggers: bool,
    /// Prints what was applied as JSON (`{"applied": [...], "queue": ...}`).
    #[arg(long, conflicts_with_all = ["revert", "dry_run"])]
    json: bool,
}

/// What `migrate --json` prints.
#[derive(Debug, Serialize)]
struct Applied {
    /// Each change, as recorded in `etlify_schema_migrations`, in order.
    applied: Vec<&'static str>,
    /// The job queue whose tables are up to date, with a `[queue]` section.
    queue: Option<String>,
    /// With --triggers: the tables (`schema.table`) given a change trigger
    /// now, and every table that has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    triggers: Option<Triggers>,
}

/// The change triggers after `migrate --triggers --json`.
#[derive(Debug, Serialize)]
struct Triggers {
    added: Vec<String>,
    removed: Vec<String>,
    installed: Vec<String>,
}

pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    let queue = &session.settings().queue;
    // Only a migration creates a missing SQLite file.
    let store = session.connect(args.dry_run || args.revert).await?;
    let options = match args.default_crm_name {
        Some(crm_name) => MigrateOptions::new().default_crm_name(crm_name),
        None => MigrateOptions::new(),
    }
    .key_type(key_type(session)?);
    // The key type types the tables a migration creates: a misdeclared
    // one is refused before they are.
    if !args.revert {
        etlify::check_key_types(&store, &session.settings().models).await?;
    }
    if args.triggers && args.revert {
        let removed = etlify::remove_change_triggers(&store).await?;
        match removed.len() {
            0 => println!("No change trigger was installed: nothing to remove."),
            count => println!(
                "Removed the change triggers of {}: {}.",
                output::counted(count as u64, "table", "tables"),
                removed.join(", ")
            ),
        }
        return Ok(Completed::Ok);
    }
    if args.dry_run {
        let statements = etlify::migrate_dry_run(&store, &options).await?;
        if statements.is_empty() {
            println!("-- The sync-state tables are up to date: nothing to run.");
        }
        for statement in statements {
            println!("{statement};");
        }
        if queue.configured {
            println!("-- [queue]: `etlify migrate` also creates the job queue's tables (apalis's own migrations, not shown).");
        }
        if args.triggers {
            print_trigger_plan(session, &store).await?;
        }
    } else if args.revert {
        etlify::revert_migration(&store).await?;
        println!("Reverted what etlify migrate changed.");
    } else {
        let migrated = etlify::migrate(&store, &options).await?;
        let queue_name = if queue.configured {
            // Opening the queue runs apalis's migrations (on PostgreSQL
            // they need CREATE on the database).
            JobQueue::open(&store, queue.options.clone()).await?;
            Some(queue.options.get_name().to_owned())
        } else {
            None
        };
        let triggers = match args.triggers {
            true => {
                let changes = session.engine().await?.install_change_triggers().await?;
                Some(Triggers {
                    added: changes.added,
                    removed: changes.removed,
                    installed: etlify::change_trigger_tables(&store).await?,
                })
            }
            false => None,
        };
        if args.json {
            output::print_json(&Applied {
                applied: migrated.applied,
                queue: queue_name,
                triggers,
            })?;
            return Ok(Completed::Ok);
        }
        match migrated.applied.len() {
            0 => println!("The sync-state tables are up to date: nothing to apply."),
            count => {
                println!(
                    "Applied {} to the sync-state tables:",
                    output::counted(count as u64, "change", "changes")
                );
                for change in &migrated.applied {
                    println!("  {change}");
                }
            }
        }
        if let Some(name) = queue_name {
            println!("The job queue's tables are up to date (queue {name:?}).");
        }
        if let Some(triggers) = triggers {
            for table in &triggers.added {
                println!("Change trigger installed on {table}.");
            }
            for table in &triggers.removed {
                println!("Change trigger removed from {table} (no model reads it).");
            }
            println!(
                "Change triggers are on {}: {}.",
                output::counted(triggers.installed.len() as u64, "table", "tables"),
                triggers.installed.join(", ")
            );
        }
    }
    Ok(Completed::Ok)
}

/// `--triggers --dry-run`: which tables have a change trigger, and the
/// statements that would install the missing ones.
async fn print_trigger_plan(session: &Session, store: &etlify::Store) -> CommandResult {
    let installed = etlify::change_trigger_tables(store).await?;
    match installed.len() {
        0 => println!("-- Change triggers: none installed."),
        _ => println!("-- Change triggers installed on: {}.", installed.join(", ")),
    }
    // The models are read against an up-to-date schema only.
    if etlify::require_schema_up_to_date(store).await.is_err() {
        println!("-- The change triggers' statements are shown once the schema is up to date.");
        return Ok(Completed::Ok);
    }
    let statements = session.engine().await?.change_trigger_statements().await?;
    if statements.is_empty() {
        println!("-- Every table the models read has its change trigger: nothing to run.");
    }
    for statement in statements {
        println!("{statement};");
    }
    Ok(Completed::Ok)
}

/// The record keys of the tables a migration creates: the models' own
/// when they are not integers (a UUID application), else integers. The
/// tables hold keys of one type, so two other types are refused.
fn key_type(session: &Session) -> Result<etlify::KeyType, CliError> {
    let mut declared = session
        .settings()
        .models
        .iter()
        .map(etlify::Model::get_key_type)
        .filter(|key_type| *key_type != etlify::KeyType::Integer);
    let Some(first) = declared.next() else {
        return Ok(etlify::KeyType::Integer);
    };
    match declared.find(|other| *other != first) {
        None => Ok(first),
        Some(other) => Err(CliError::config(format!(
            "models.*.key_type: the sync-state tables hold keys of one type, and the models \
             declare both {first} and {other}"
        ))),
    }
}
