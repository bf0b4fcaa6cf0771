//! `etlify forget --crm CRM [--model M] --yes`: forgets what etlify knows
//! of a CRM's objects (CRM ids, digests, errors), for a CRM pointed at
//! another account; without `--yes`, says what it would do.

use crate::error::{CliError, CommandResult, Completed};
use crate::output;
use crate::session::Session;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The CRM whose sync state to forget.
    #[arg(long)]
    crm: String,
    /// Only this model's.
    #[arg(long)]
    model: Option<String>,
    /// Do it (without: say what it would do).
    #[arg(long)]
    yes: bool,
}

pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    // Built first: an unknown CRM or model is refused, with a suggestion.
    let etlify = session.engine().await?;
    let crm = &args.crm;
    let whose = match &args.model {
        Some(model) => format!("{crm} ({model} only)"),
        None => crm.clone(),
    };
    if !args.yes {
        let preview = etlify.forget_preview(crm, args.model.as_deref()).await?;
        return Err(CliError::config(format!(
            "forget would delete what etlify knows of {whose}: {} and {} (the \
             records' CRM ids, digests and errors), so the next sync sends them again, \
             matched by id_property. Run it again with --yes to do it (stop the workers \
             first).",
            output::counted(preview.sync_rows, "sync row", "sync rows"),
            output::counted(preview.waiting, "waiting record", "waiting records"),
        ))
        .into());
    }
    let forgotten = etlify.forget(crm, args.model.as_deref()).await?;
    if forgotten.busy {
        return Err(CliError::run(format!(
            "a batch run of {crm} is under way (a worker, or another etlify sync): \
             nothing was forgotten; stop it, then run forget again"
        ))
        .into());
    }
    println!(
        "Forgot {} and {} of {whose}; the next `etlify sync` sends them again.",
        output::counted(forgotten.sync_rows, "sync row", "sync rows"),
        output::counted(forgotten.waiting, "waiting record", "waiting records"),
    );
    Ok(Completed::Ok)
}
