//! `etlify errors`: the records whose last sync failed, with their error;
//! `errors reset` clears their error budget so the next sync retries them.

use etlify::{ResourceId, SyncRow};
use serde::Serialize;

use crate::error::{CliError, CommandResult, Completed};
use crate::session::Session;
use crate::{output, table};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// Only the failing records of this CRM.
    #[arg(long)]
    crm: Option<String>,
    /// Only the failing records of this model.
    #[arg(long)]
    model: Option<String>,
    /// At most this many records.
    #[arg(long, default_value_t = 50)]
    limit: u64,
    /// Prints JSON for scripts instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Clears the error budget of failing records so the next sync retries them.
    Reset {
        /// Only the failing records of this CRM.
        #[arg(long)]
        crm: Option<String>,
        /// Only the failing records of this model.
        #[arg(long)]
        model: Option<String>,
        /// Only these records (primary keys, read as the `--model`'s
        /// `key_type`, else as the models' non-integer one if any).
        ids: Vec<String>,
    },
}

/// One failing record, for scripts (`errors --json` is an array of them).
#[derive(Debug, Serialize)]
struct FailureReport<'a> {
    crm: &'a str,
    model: &'a str,
    id: etlify::ResourceId,
    error_count: i64,
    last_error: Option<&'a str>,
}

impl<'a> From<&'a SyncRow> for FailureReport<'a> {
    fn from(row: &'a SyncRow) -> Self {
        Self {
            crm: &row.crm_name,
            model: &row.resource_type,
            id: row.resource_id.clone(),
            error_count: row.error_count,
            last_error: row.last_error.as_deref(),
        }
    }
}

/// `errors reset --json`.
#[derive(Debug, Serialize)]
struct ResetReport {
    /// Records whose error budget was cleared.
    reset: u64,
}

/// The keys `texts` name, read as `model`'s key type; without a model, as
/// the key type of the sync-state tables (a model's non-integer one, as
/// `etlify migrate` types them, else integers). A text that is no such key
/// is a usage error (exit 2).
fn record_ids(
    etlify: &etlify::Etlify,
    model: Option<&str>,
    texts: &[String],
) -> Result<Vec<ResourceId>, CliError> {
    if let Some(model) = model {
        return texts
            .iter()
            .map(|text| super::sync_record::record_id(etlify, model, text))
            .collect();
    }
    let keyed_by = etlify
        .models()
        .find(|m| m.get_key_type() != etlify::KeyType::Integer)
        .or_else(|| etlify.models().next());
    texts
        .iter()
        .map(|text| {
            let id = match keyed_by {
                Some(m) => etlify.record_id(m.get_resource_type(), text),
                None => text.parse().ok().map(ResourceId::new),
            };
            id.ok_or_else(|| {
                let key_type = keyed_by.map_or(etlify::KeyType::Integer, |m| m.get_key_type());
                CliError::config(format!(
                    "{text:?} is not a record key: the models' key_type is {key_type} (--model reads it as one model's)"
                ))
            })
        })
        .collect()
}

pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    let etlify = session.engine().await?;
    if let Some(Action::Reset { crm, model, ids }) = args.action {
        let ids = record_ids(etlify, model.as_deref(), &ids)?;
        let reset = etlify
            .reset_errors(crm.as_deref(), model.as_deref(), &ids)
            .await?;
        if args.json {
            output::print_json(&ResetReport { reset })?;
        } else {
            println!(
                "{} will be retried by the next sync.",
                output::counted(reset, "record", "records")
            );
        }
        return Ok(Completed::Ok);
    }
    let limit = args.limit;
    // One more than shown tells whether the list is cut.
    let mut rows = etlify
        .failing(
            args.crm.as_deref(),
            args.model.as_deref(),
            limit.saturating_add(1),
        )
        .await?;
    let cut = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    if args.json {
        let rows: Vec<_> = rows.iter().map(FailureReport::from).collect();
        output::print_json(&rows)?;
        return Ok(Completed::Ok);
    }
    if rows.is_empty() {
        println!("No failing records.");
        return Ok(Completed::Ok);
    }
    let rows = rows
        .iter()
        .map(|r| {
            vec![
                r.crm_name.clone(),
                r.resource_type.clone(),
                r.resource_id.to_string(),
                r.error_count.to_string(),
                r.last_error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let headers = ["crm", "model", "id", "errors", "last error"];
    println!("{}", table::render(&headers, &[2, 3], rows));
    if cut {
        let shown = match limit {
            1 => "Only the most recent failure is shown".to_owned(),
            n => format!("Only the {n} most recent failures are shown"),
        };
        println!("{shown}; --limit N shows more (`etlify status` counts them all).");
    }
    println!("`etlify errors reset` clears their error budget so the next sync retries them.");
    Ok(Completed::Ok)
}
