//! `etlify migrate`: creates or upgrades the sync-state tables (and the job
//! queue's, with a `[queue]` section); `--dry-run` prints the statements,
//! `--revert` undoes them.

use etlify::jobs::JobQueue;
use etlify::MigrateOptions;

use crate::error::{CommandResult, Completed};
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
        etlify::migrate(&store, &options).await?;
        println!("The sync-state tables are up to date.");
        if queue.configured {
            // Opening the queue runs apalis's migrations (on PostgreSQL
            // they need CREATE on the database).
            JobQueue::open(&store, queue.options.clone()).await?;
            println!(
                "The job queue's tables are up to date (queue {:?}).",
                queue.options.get_name()
            );
        }
    }
    Ok(Completed::Ok)
}
