//! `etlify delete-record MODEL ID --crm CRM`: deletes one record's object
//! in the CRM and forgets its CRM id.

use serde::Serialize;

use crate::error::{CommandResult, Completed};
use crate::output;
use crate::session::Session;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The model (resource type), e.g. `User`.
    model: String,
    /// The record's primary key.
    id: i64,
    /// The CRM to delete its object from.
    #[arg(long)]
    crm: String,
    /// Prints JSON for scripts instead of text.
    #[arg(long)]
    json: bool,
}

/// `delete-record --json`.
#[derive(Debug, Serialize)]
struct Report<'a> {
    model: &'a str,
    id: i64,
    crm: &'a str,
    /// `etlify::DeleteOutcome::as_str`.
    outcome: &'static str,
}

pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    let etlify = session.engine().await?;
    let outcome = etlify.delete(&args.crm, &args.model, args.id).await?;
    let (model, id, crm) = (&args.model, args.id, &args.crm);
    if args.json {
        output::print_json(&Report {
            model,
            id,
            crm,
            outcome: outcome.as_str(),
        })?;
    } else {
        println!("{model} #{id} in {crm}: {outcome}");
    }
    Ok(Completed::Ok)
}
