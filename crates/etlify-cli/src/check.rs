//! `etlify check`: the configuration and the sync-state schema against
//! the database, as every command builds the engine; with `--crms`, each
//! enabled CRM asked, with one read per object type, whether it takes the
//! token and knows the type.

use etlify::adapters::Access;
use etlify::Etlify;
use serde_json::json;

use crate::error::{CliError, Exit};
use crate::settings::Settings;
use crate::{engine, Exit0OrRecords};

/// Checks the file against the database (and the CRMs, with `ask_crms`).
pub(crate) async fn check(
    settings: Settings,
    ask_crms: bool,
    json: bool,
) -> Result<Exit0OrRecords, CliError> {
    let path = settings.path.clone();
    settings.print_warnings();
    let etlify = engine(settings).await?;
    let models = etlify.models().count();
    let crms = etlify.crms().names().count();
    let access = match ask_crms {
        true => check_crm_access(&etlify).await,
        false => Vec::new(),
    };
    let refusal = access.iter().find_map(|a| a.result.as_ref().err());
    if json {
        let ok = refusal.is_none();
        let access: Vec<_> = access
            .iter()
            .map(|a| {
                json!({
                    "crm": a.crm, "object_type": a.object_type,
                    "ok": a.result.is_ok(),
                    "checked": matches!(a.result, Ok(Access::Granted)),
                    "error": a.result.as_ref().err().map(ToString::to_string),
                })
            })
            .collect();
        let mut report = json!({"ok": ok, "models": models, "crms": crms});
        if ask_crms {
            report["access"] = json!(access);
        }
        println!("{report}");
    } else {
        let models = count(models, "model", "models");
        let crms = count(crms, "CRM", "CRMs");
        println!("{path}: {models}, {crms}, schema up to date.");
        for a in &access {
            match &a.result {
                Ok(Access::Granted) => println!(
                    "{} {}: the CRM takes the token and reads the object type.",
                    a.crm, a.object_type
                ),
                Ok(_) => println!(
                    "{} {}: not checked (its adapter has no way to ask the CRM).",
                    a.crm, a.object_type
                ),
                Err(error) => println!("{} {}: {error}", a.crm, a.object_type),
            }
        }
    }
    match refusal {
        None => Ok(Exit0OrRecords::Ok),
        // A CRM that cannot be reached is not the file's fault.
        Some(error) if error.is_retriable() => Err(CliError {
            exit: Exit::Run,
            message: format!(
                "{path}: a CRM could not be reached (above): check its base_url and the network, then try again"
            ),
        }),
        Some(_) => Err(CliError::config(format!(
            "{path}: a CRM refused the check (above): fix its token, base_id or object_type"
        ))),
    }
}

/// What one CRM said of one object type (`check --crms`).
struct AccessCheck {
    crm: String,
    object_type: String,
    result: Result<Access, etlify::AdapterError>,
}

/// Asks each enabled CRM about each object type bound to it, once.
async fn check_crm_access(etlify: &Etlify) -> Vec<AccessCheck> {
    let mut asked: Vec<(String, String)> = Vec::new();
    for model in etlify.models() {
        for crm in model.get_crm_names() {
            let Some(binding) = model.get_binding(crm) else {
                continue;
            };
            let pair = (crm.to_owned(), binding.get_object_type().to_owned());
            if etlify.crm_enabled(crm) && !asked.contains(&pair) {
                asked.push(pair);
            }
        }
    }
    let mut checks = Vec::new();
    for (crm, object_type) in asked {
        let Some(registered) = etlify.crms().get(&crm) else {
            continue;
        };
        let result = registered.adapter().check_access(&object_type).await;
        checks.push(AccessCheck {
            crm,
            object_type,
            result,
        });
    }
    checks
}

/// `1 model`, `2 models`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
