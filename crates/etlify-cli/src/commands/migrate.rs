//! `etlify migrate`: creates or upgrades the sync-state tables (and the job
//! queue's, with a `[queue]` section); `--dry-run` prints the statements,
//! `--revert` undoes them. It says what it applied (`--json`: the list).

use etlify::jobs::JobQueue;
use etlify::MigrateOptions;
use serde::Serialize;

use crate::error::{CommandResult, Completed};
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
}

pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    let queue = &session.settings().queue;
    // Only a migration creates a missing SQLite file.
    let store = session.connect(args.dry_run || args.revert).await?;
    let options = match args.default_crm_name {
        Some(crm_name) => MigrateOptions::new().default_crm_name(crm_name),
        None => MigrateOptions::new(),
    };
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
        if args.json {
            output::print_json(&Applied {
                applied: migrated.applied,
                queue: queue_name,
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
    }
    Ok(Completed::Ok)
}
