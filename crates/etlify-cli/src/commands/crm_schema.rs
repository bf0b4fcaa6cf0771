//! `etlify crm-schema create [--yes]`: the properties (Airtable fields)
//! the payloads send that their CRM object types lack, listed, then
//! created from the columns' declared types after a confirmation (asked on
//! a terminal, or `--yes`). Nothing is ever deleted or retyped, and a
//! second run finds nothing missing.

use std::io::{BufRead, IsTerminal, Write};

use etlify::MissingFields;
use serde::Serialize;

use crate::error::{CliError, CommandResult, Completed};
use crate::output;
use crate::session::Session;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Lists the properties the payloads send that the CRMs lack and
    /// creates them (HubSpot: in the CRM's property_group, `etlify` by
    /// default; Airtable: fields of the table), typed from the payload's
    /// column_types (text when undeclared). Asks first on a terminal.
    Create(CreateArgs),
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// Creates them without asking.
    #[arg(long)]
    yes: bool,
    /// Prints JSON for scripts instead of text (creates only with --yes).
    #[arg(long)]
    json: bool,
}

/// `crm-schema create --json`.
#[derive(Debug, Serialize)]
struct Report {
    missing: Vec<MissingReport>,
    created: usize,
}

#[derive(Debug, Serialize)]
struct MissingReport {
    crm: String,
    object_type: String,
    models: Vec<String>,
    fields: Vec<FieldReport>,
}

#[derive(Debug, Serialize)]
struct FieldReport {
    name: String,
    kind: &'static str,
    group: Option<String>,
}

impl From<&MissingFields> for MissingReport {
    fn from(missing: &MissingFields) -> Self {
        Self {
            crm: missing.crm.clone(),
            object_type: missing.object_type.clone(),
            models: missing.models.clone(),
            fields: missing
                .fields
                .iter()
                .map(|f| FieldReport {
                    name: f.name.clone(),
                    kind: f.kind.as_str(),
                    group: f.group.clone(),
                })
                .collect(),
        }
    }
}

pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    let Action::Create(args) = args.action;
    let etlify = session.engine().await?;
    let missing = etlify.missing_crm_fields().await?;
    let count: usize = missing.iter().map(|m| m.fields.len()).sum();
    if !args.json {
        print_missing(&missing, count);
    }
    let confirmed = count > 0 && (args.yes || (!args.json && ask(count)?));
    let created = match confirmed {
        true => etlify.create_crm_fields(&missing).await?,
        false => 0,
    };
    if args.json {
        output::print_json(&Report {
            missing: missing.iter().map(MissingReport::from).collect(),
            created,
        })?;
    } else if confirmed {
        println!(
            "Created {}.",
            output::counted(created as u64, "property", "properties")
        );
    } else if count > 0 {
        println!("Nothing created: run `etlify crm-schema create --yes` to create them.");
    }
    Ok(Completed::Ok)
}

fn print_missing(missing: &[MissingFields], count: usize) {
    if count == 0 {
        println!("Every property the payloads send exists in its CRM.");
        return;
    }
    for object in missing {
        for field in &object.fields {
            let group = field
                .group
                .as_deref()
                .map(|g| format!(", group {g}"))
                .unwrap_or_default();
            println!(
                "{} {}: missing `{}` ({}{group}), sent by {}",
                object.crm,
                object.object_type,
                field.name,
                field.kind.as_str(),
                object.models.join(", ")
            );
        }
    }
}

/// Asks on a terminal whether to create `count` properties; elsewhere, no.
fn ask(count: usize) -> Result<bool, CliError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(false);
    }
    print!(
        "Create {} in the CRM? [y/N] ",
        output::counted(count as u64, "property", "properties")
    );
    std::io::stdout()
        .flush()
        .map_err(|e| CliError::run(format!("cannot write to the terminal: {e}")))?;
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::run(format!("cannot read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
