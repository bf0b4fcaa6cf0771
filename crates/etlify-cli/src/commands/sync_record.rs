//! `etlify sync-record MODEL ID --crm CRM`: syncs one record, stale or not;
//! with a `[queue]` section, requests its job instead (unless `--now`).

use etlify::{SyncDispatch, SyncOutcome};
use serde::Serialize;

use crate::error::{CliError, CommandResult, Completed};
use crate::output;
use crate::session::Session;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The model (resource type), e.g. `User`.
    model: String,
    /// The record's primary key (an integer, a UUID or a text, as the
    /// model's `key_type` says).
    id: String,
    /// The CRM to sync it with.
    #[arg(long)]
    crm: String,
    /// Sync it now, in this process, even with a [queue] section.
    #[arg(long)]
    now: bool,
    /// Prints JSON for scripts instead of text.
    #[arg(long)]
    json: bool,
}

/// `sync-record --json`.
#[derive(Debug, Serialize)]
struct Report<'a> {
    model: &'a str,
    id: etlify::ResourceId,
    crm: &'a str,
    #[serde(flatten)]
    result: RecordResult,
}

/// Whether the record was synced here or its job requested.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum RecordResult {
    /// `etlify::jobs::Enqueued::as_str`.
    Enqueued { enqueued: &'static str },
    /// `etlify::SyncOutcome::as_str` (or `disabled`), and the record's
    /// error when it failed.
    Synced {
        outcome: &'static str,
        error: Option<String>,
    },
}

pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    let queued = session.settings().queue.configured && !args.now;
    let etlify = if queued {
        session.engine_with_queue().await?.0
    } else {
        session.engine().await?
    };
    let id = record_id(etlify, &args.model, &args.id)?;
    if !queued {
        // Synced here: values in the CRM's form as a batch run sends them.
        etlify.learn_crm_schema(&args.crm, &args.model).await?;
    }
    let dispatch = etlify.sync(&args.crm, &args.model, id.clone()).await?;
    let (model, crm) = (&args.model, &args.crm);
    let result = match &dispatch {
        SyncDispatch::Enqueued(enqueued) => {
            if !args.json {
                println!(
                    "{model} #{id} in {crm}: {}",
                    output::enqueued_text(*enqueued)
                );
            }
            RecordResult::Enqueued {
                enqueued: enqueued.as_str(),
            }
        }
        SyncDispatch::Completed(SyncOutcome::Error(e)) => RecordResult::Synced {
            outcome: "error",
            error: Some(e.message.clone()),
        },
        SyncDispatch::Completed(outcome) => RecordResult::Synced {
            outcome: outcome.as_str(),
            error: None,
        },
        _ => RecordResult::Synced {
            outcome: "disabled",
            error: None,
        },
    };
    if args.json {
        output::print_json(&Report {
            model,
            id,
            crm,
            result,
        })?;
    } else if let RecordResult::Synced { outcome, error } = &result {
        let error = error.as_deref().map(|e| format!(" ({e})"));
        println!(
            "{model} #{id} in {crm}: {outcome}{}",
            error.unwrap_or_default()
        );
    }
    // A requested job succeeds here: whether it then does is the worker's.
    Ok(if dispatch.succeeded() {
        Completed::Ok
    } else {
        Completed::RecordsFailed
    })
}

/// The key of the `model` record a command names, read as the model's
/// `key_type`; a key that is not one is a usage error (exit 2).
pub(crate) fn record_id(
    etlify: &etlify::Etlify,
    model: &str,
    text: &str,
) -> Result<etlify::ResourceId, CliError> {
    // An unknown model is the library's to report, as for integer keys.
    let key_type = etlify
        .model(model)
        .map_or(etlify::KeyType::Integer, etlify::Model::get_key_type);
    let id = match etlify.model(model) {
        Some(_) => etlify.record_id(model, text),
        None => text.parse().ok().map(etlify::ResourceId::new),
    };
    id.ok_or_else(|| {
        CliError::config(format!(
            "{text:?} is not a key of {model}: its key_type is {key_type}"
        ))
    })
}
