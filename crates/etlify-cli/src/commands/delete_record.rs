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
    /// The record's primary key (an integer, a UUID or a text, as the
    /// model's `key_type` says).
    id: String,
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
    id: etlify::ResourceId,
    crm: &'a str,
    /// `etlify::DeleteOutcome::as_str`.
    outcome: &'static str,
}

pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    let etlify = session.engine().await?;
    let id = super::sync_record::record_id(etlify, &args.model, &args.id)?;
    let outcome = etlify.delete(&args.crm, &args.model, id.clone()).await?;
    let (model, crm) = (&args.model, &args.crm);
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
