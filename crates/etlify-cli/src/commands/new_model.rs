//! `etlify new-model TABLE`: prints a model section scaffolded from the
//! table's columns and foreign keys (`scaffold.rs`), to paste into the
//! configuration and edit.

use crate::error::{CommandResult, Completed};
use crate::scaffold;
use crate::session::Session;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The application's table to scaffold a model for.
    table: String,
    /// The CRM to bind it to (default: the first configured one).
    #[arg(long)]
    crm: Option<String>,
    /// The resource type (default: the table's Rails class name).
    #[arg(long)]
    model: Option<String>,
}

pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    let store = session.store().await?;
    let crm = args
        .crm
        .or_else(|| {
            let first = session.settings().crms.first();
            first.map(|c| c.get_name().to_owned())
        })
        .unwrap_or_else(|| "hubspot".to_owned());
    let section = scaffold::new_model(&store, &args.table, &crm, args.model.as_deref()).await?;
    print!("{section}");
    Ok(Completed::Ok)
}
