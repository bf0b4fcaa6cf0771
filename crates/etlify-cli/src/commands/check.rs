//! `etlify check`: the configuration and the sync-state schema against
//! the database, as every command builds the engine; with `--crms`, each
//! enabled CRM asked, with one read per object type, whether it takes the
//! token and knows the type (`Etlify::check_crm_access`), and each
//! binding's payload checked against the object type's schema where the
//! CRM lets the token read it (`Etlify::check_crm_schemas`).

use etlify::adapters::Access;
use etlify::{BindingSchema, BindingSchemaStatus, CrmAccess};
use serde::Serialize;

use crate::error::{CliError, CommandResult, Completed};
use crate::output;
use crate::session::Session;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Also asks each enabled CRM, with one read request per object type
    /// (nothing written), whether it takes the token and knows the type.
    #[arg(long)]
    crms: bool,
    /// Prints JSON for scripts instead of text.
    #[arg(long)]
    json: bool,
}

/// `check --json`.
#[derive(Debug, Serialize)]
struct Report {
    /// No CRM refused or failed the access check.
    ok: bool,
    models: usize,
    crms: usize,
    /// With `--crms` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    access: Option<Vec<AccessReport>>,
    /// With `--crms` only: each binding's payload against the CRM's schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    schemas: Option<Vec<SchemaReport>>,
}

/// One binding's schema check, for scripts.
#[derive(Debug, Serialize)]
struct SchemaReport {
    model: String,
    crm: String,
    object_type: String,
    /// `checked`, `unreadable` (the CRM refused or was unreachable) or
    /// `not_supported` (the adapter cannot read schemas).
    status: &'static str,
    problems: Vec<ProblemReport>,
    error: Option<String>,
}

/// One schema problem, for scripts.
#[derive(Debug, Serialize)]
struct ProblemReport {
    field: String,
    kind: &'static str,
    expected: String,
    message: String,
}

impl From<&BindingSchema> for SchemaReport {
    fn from(checked: &BindingSchema) -> Self {
        let (status, error) = match &checked.status {
            BindingSchemaStatus::Checked(_) => ("checked", None),
            BindingSchemaStatus::Unreadable(error) => ("unreadable", Some(error.to_string())),
            _ => ("not_supported", None),
        };
        Self {
            model: checked.model.clone(),
            crm: checked.crm.clone(),
            object_type: checked.object_type.clone(),
            status,
            problems: checked
                .problems()
                .iter()
                .map(|p| ProblemReport {
                    field: p.field.clone(),
                    kind: p.kind.as_str(),
                    expected: p.expected.clone(),
                    message: p.to_string(),
                })
                .collect(),
            error,
        }
    }
}

/// One binding's schema check, for people.
fn print_schema(checked: &BindingSchema) {
    let at = format!(
        "{} → {} {}",
        checked.model, checked.crm, checked.object_type
    );
    match &checked.status {
        BindingSchemaStatus::Checked(problems) if problems.is_empty() => {
            println!("{at}: the payload fits the CRM's schema.")
        }
        BindingSchemaStatus::Checked(problems) => {
            for problem in problems {
                println!("{at}: {problem}");
            }
        }
        BindingSchemaStatus::Unreadable(error) => println!(
            "{at}: schema not checked: the CRM's schema could not be read ({error}); syncs run this binding unchecked unless schema_check = \"require\"."
        ),
        _ => println!("{at}: schema not checked (its adapter cannot read schemas)."),
    }
}

/// What one CRM said of one object type, for scripts.
#[derive(Debug, Serialize)]
struct AccessReport {
    crm: String,
    object_type: String,
    /// Not refused (granted, or not checked).
    ok: bool,
    /// The CRM was asked and granted access.
    checked: bool,
    error: Option<String>,
}

impl From<&CrmAccess> for AccessReport {
    fn from(access: &CrmAccess) -> Self {
        Self {
            crm: access.crm.clone(),
            object_type: access.object_type.clone(),
            ok: access.result.is_ok(),
            checked: matches!(access.result, Ok(Access::Granted)),
            error: access.result.as_ref().err().map(ToString::to_string),
        }
    }
}

/// Checks the file against the database (and the CRMs, with `--crms`).
pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    let path = session.path();
    let etlify = session.engine().await?;
    output::print_warnings(path, &etlify.warnings());
    output::print_timestamp_warnings(path, &etlify.timestamp_warnings().await?);
    let models = etlify.models().count();
    let crms = etlify.crms().names().count();
    let access = match args.crms {
        true => etlify.check_crm_access().await,
        false => Vec::new(),
    };
    let refusal = access.iter().find_map(|a| a.result.as_ref().err());
    // Schemas are read only of CRMs that took the token.
    let schemas = match args.crms && refusal.is_none() {
        true => etlify.check_crm_schemas().await?,
        false => Vec::new(),
    };
    let misfits = schemas.iter().filter(|s| !s.problems().is_empty()).count();
    if args.json {
        output::print_json(&Report {
            ok: refusal.is_none() && misfits == 0,
            models,
            crms,
            access: args
                .crms
                .then(|| access.iter().map(AccessReport::from).collect()),
            schemas: args
                .crms
                .then(|| schemas.iter().map(SchemaReport::from).collect()),
        })?;
    } else {
        let models = output::counted(models as u64, "model", "models");
        let crms = output::counted(crms as u64, "CRM", "CRMs");
        println!("{path}: {models}, {crms}, schema up to date.");
        for a in &access {
            match &a.result {
                Ok(Access::Granted) => println!(
                    "{} {}: {}",
                    a.crm,
                    a.object_type,
                    granted(etlify.crms().get(&a.crm).map(|crm| crm.adapter().kind()))
                ),
                Ok(_) => println!(
                    "{} {}: not checked (its adapter has no way to ask the CRM).",
                    a.crm, a.object_type
                ),
                Err(error) => println!("{} {}: {error}", a.crm, a.object_type),
            }
        }
        for checked in &schemas {
            print_schema(checked);
        }
    }
    match refusal {
        None if misfits > 0 => Err(CliError::config(format!(
            "{path}: {} does not fit its CRM's schema (above): fix the payload or the CRM (`etlify crm-schema create` adds missing properties), or set the CRM's schema_check = \"skip\"",
            output::counted(misfits as u64, "binding", "bindings")
        ))
        .into()),
        None => Ok(Completed::Ok),
        // A CRM that cannot be reached is not the file's fault.
        Some(error) if error.is_retriable() => Err(CliError::run(format!(
            "{path}: a CRM could not be reached (above): check its base_url and the network, then try again"
        ))
        .into()),
        Some(_) => Err(CliError::config(format!(
            "{path}: a CRM refused the check (above): fix its token, base_id or object_type"
        ))
        .into()),
    }
}

/// What a granted access check proved, in the adapter's terms: the webhook
/// has no token nor object types, only a receiver that took a signed ping;
/// Brevo's check reads the account the key belongs to.
fn granted(adapter_kind: Option<&str>) -> &'static str {
    match adapter_kind {
        Some("webhook") => "the receiver took a signed ping.",
        // Brevo's check reads the account: contacts is its only object type.
        Some("brevo") => {
            "Brevo takes the API key (its account read; contacts is its only object type)."
        }
        // `GET /me` reads no object type: the type is only checked to be one
        // the adapter writes.
        Some("intercom") => "the workspace takes the token (contacts and companies only).",
        _ => "the CRM takes the token and reads the object type.",
    }
}
