//! `etlify plan`: what a sync would process, per model and CRM; with
//! `--diff`, what it would do with a sample of each one's stale records.
//! Sends and writes nothing.

use etlify::{LinkChange, PayloadChange, PlanEntry, PlannedArchive, RecordDiff, WriteMode};
use serde::Serialize;

use crate::commands::Selection;
use crate::error::{CommandResult, Completed};
use crate::session::Session;
use crate::{output, table};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    selection: Selection,
    /// Show, for a sample of stale records, the fields that changed.
    #[arg(long)]
    diff: bool,
    /// With --diff (implied): each sampled record's canonical JSON and
    /// digest beside the digest stored by its last sync, to compare with
    /// the Rails gem's (the console line to print it is shown).
    #[arg(long)]
    explain: bool,
    /// Records per model and CRM in the --diff sample.
    #[arg(long, default_value_t = 5)]
    sample: usize,
    /// Prints JSON for scripts instead of text.
    #[arg(long)]
    json: bool,
}

/// `plan --json`.
#[derive(Debug, Serialize)]
struct Report {
    /// Records a sync would process.
    total: usize,
    entries: Vec<EntryReport>,
}

/// One model and CRM, for scripts.
#[derive(Debug, Serialize)]
struct EntryReport {
    model: String,
    crm: String,
    records: usize,
    /// With `--diff` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    sample: Option<Vec<DiffReport>>,
    /// What a complete check would archive (bindings that archive only).
    #[serde(skip_serializing_if = "Option::is_none")]
    archive: Option<ArchiveReport>,
}

/// `plan --json`: what a complete check would archive for one binding.
#[derive(Debug, Serialize)]
struct ArchiveReport {
    /// Records whose row was deleted.
    deleted: usize,
    /// Records out of the binding's scope.
    left_scope: usize,
    /// What `max_deletes_per_run` allows now.
    allowed: u64,
    /// The guard would hold a sync back: nothing archived, exit 4.
    held: bool,
    /// With `--diff`: the first ids of each kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    sample: Option<ArchiveSample>,
}

#[derive(Debug, Serialize)]
struct ArchiveSample {
    deleted: Vec<etlify::ResourceId>,
    left_scope: Vec<etlify::ResourceId>,
}

impl ArchiveReport {
    fn new(archive: &PlannedArchive, sample: Option<usize>) -> Self {
        let first = |ids: &[etlify::ResourceId], n: usize| ids.iter().take(n).cloned().collect();
        Self {
            deleted: archive.deleted.len(),
            left_scope: archive.left_scope.len(),
            allowed: archive.allowed,
            held: archive.held,
            sample: sample.map(|n| ArchiveSample {
                deleted: first(&archive.deleted, n),
                left_scope: first(&archive.left_scope, n),
            }),
        }
    }
}

/// One sampled record of `plan --diff`, for scripts.
#[derive(Debug, Serialize)]
struct DiffReport {
    id: etlify::ResourceId,
    /// `new`, `changed`, `changed_fields_unknown`, `unchanged`,
    /// `payload_error`.
    change: &'static str,
    /// The fields that changed (`changed` only).
    fields: Option<Vec<String>>,
    /// Why the payload could not be built (`payload_error` only).
    error: Option<String>,
    /// The payload a sync would send now.
    payload: Option<etlify::Payload>,
    /// The payload as the CRM would receive it, when its values are
    /// rendered in the form of the CRM's fields (`render_values`).
    #[serde(skip_serializing_if = "Option::is_none")]
    sent: Option<etlify::Payload>,
    /// The links a sync would make or remove, or waits for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<LinkReport>,
    /// `--explain`: the canonical JSON the digest hashes, the digest now,
    /// and the one stored by the last sync.
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<Explain>,
}

/// One link of `plan --diff`, for scripts.
#[derive(Debug, Serialize)]
struct LinkReport {
    link: String,
    target: String,
    target_id: etlify::ResourceId,
    /// `added`, `removed` or `waiting` (the target has no CRM id yet).
    change: &'static str,
}

/// What a sync would do to a link, in words of `plan --json`.
fn link_change(change: LinkChange) -> &'static str {
    match change {
        LinkChange::Added => "added",
        LinkChange::Removed => "removed",
        LinkChange::Waiting => "waiting",
        _ => "other",
    }
}

/// `plan --explain`, for scripts.
#[derive(Debug, Serialize)]
struct Explain {
    canonical_json: Option<String>,
    digest: Option<String>,
    stored_digest: Option<String>,
}

impl DiffReport {
    fn new(record: &RecordDiff, explain: bool) -> Self {
        let mut report = Self::from(record);
        if explain {
            report.explain = Some(Explain {
                canonical_json: record.canonical_json.clone(),
                digest: record.digest.clone(),
                stored_digest: record.stored_digest.clone(),
            });
        }
        report
    }
}

impl From<&RecordDiff> for DiffReport {
    fn from(record: &RecordDiff) -> Self {
        let (change, fields, error) = match &record.change {
            PayloadChange::New => ("new", None, None),
            PayloadChange::Changed(fields) => ("changed", Some(fields.clone()), None),
            PayloadChange::ChangedFieldsUnknown => ("changed_fields_unknown", None, None),
            PayloadChange::Unchanged => ("unchanged", None, None),
            PayloadChange::PayloadError(message) => ("payload_error", None, Some(message.clone())),
            _ => ("other", None, None),
        };
        Self {
            id: record.id.clone(),
            change,
            fields,
            error,
            payload: record.payload.clone(),
            sent: record.sent.clone(),
            links: record
                .links
                .iter()
                .map(|link| LinkReport {
                    link: link.link.clone(),
                    target: link.target.clone(),
                    target_id: link.target_id.clone(),
                    change: link_change(link.change),
                })
                .collect(),
            explain: None,
        }
    }
}

pub(crate) async fn run(session: &Session, args: Args) -> CommandResult {
    let etlify = session.engine().await?;
    let diff = args.diff || args.explain;
    let entries = etlify.plan(&args.selection.options()).await?;
    let total: usize = entries.iter().map(|e| e.records).sum();
    let mut samples = Vec::new();
    for entry in &entries {
        samples.push(if diff && entry.records > 0 {
            if args.selection.full {
                etlify
                    .plan_diff_every_record(&entry.crm, &entry.model, args.sample)
                    .await?
            } else {
                etlify
                    .plan_diff(&entry.crm, &entry.model, args.sample)
                    .await?
            }
        } else {
            Vec::new()
        });
    }
    if args.json {
        let entries = entries
            .iter()
            .zip(&samples)
            .map(|(e, sample)| EntryReport {
                model: e.model.clone(),
                crm: e.crm.clone(),
                records: e.records,
                sample: diff.then(|| {
                    sample
                        .iter()
                        .map(|record| DiffReport::new(record, args.explain))
                        .collect()
                }),
                archive: e
                    .archive
                    .as_ref()
                    .map(|archive| ArchiveReport::new(archive, diff.then_some(args.sample))),
            })
            .collect();
        output::print_json(&Report { total, entries })?;
    } else {
        let modes: Vec<WriteMode> = entries
            .iter()
            .map(|e| {
                etlify
                    .model(&e.model)
                    .and_then(|model| model.get_binding(&e.crm))
                    .map_or(WriteMode::Upsert, |binding| binding.get_mode())
            })
            .collect();
        print_table(&entries, &samples, &modes, args.explain);
        print_archives(&entries, diff.then_some(args.sample));
        println!(
            "{} would be processed (nothing was sent or written).",
            output::counted(total as u64, "record", "records")
        );
    }
    Ok(Completed::Ok)
}

/// The counts as a table, then each sample below it (with `explain`,
/// each record's canonical JSON and digests, and how to print the gem's).
fn print_table(
    entries: &[PlanEntry],
    samples: &[Vec<RecordDiff>],
    modes: &[WriteMode],
    explain: bool,
) {
    let rows = entries
        .iter()
        .map(|e| vec![e.model.clone(), e.crm.clone(), e.records.to_string()])
        .collect();
    println!(
        "{}",
        table::render(&["model", "crm", "records"], &[2], rows)
    );
    for ((entry, sample), mode) in entries.iter().zip(samples).zip(modes) {
        if sample.is_empty() {
            continue;
        }
        println!(
            "{} in {}, the first {} of {}:",
            entry.model,
            entry.crm,
            sample.len(),
            entry.records
        );
        for record in sample {
            println!("    {}", diff_line(record, *mode));
            for link in &record.links {
                let what = match link.change {
                    LinkChange::Added => "would be linked",
                    LinkChange::Removed => "would be unlinked",
                    _ => "waits for it to be synced",
                };
                println!(
                    "        link {}: {} #{} {what}",
                    link.link, link.target, link.target_id
                );
            }
            if explain {
                print_explanation(record);
            }
        }
        if let (true, Some(record)) = (explain, sample.first()) {
            println!(
                "    To compare with the Rails gem, print its canonical JSON and digest of the same record in a Rails console:\n      \
                 p = {}.find({}).{}_build_payload; puts JSON.generate(Etlify::Digest.normalize(p)); puts Etlify::Digest.stable_sha256(p)",
                entry.model, record.id, entry.crm
            );
        }
    }
}

/// `--explain`: what the digest of one sampled record is made of.
fn print_explanation(record: &RecordDiff) {
    let or_none = |value: &Option<String>| value.clone().unwrap_or_else(|| "(none)".to_owned());
    println!(
        "        canonical JSON: {}",
        or_none(&record.canonical_json)
    );
    println!("        digest now:     {}", or_none(&record.digest));
    println!("        stored digest:  {}", or_none(&record.stored_digest));
}

/// What a complete check would archive, per binding that archives: the
/// counts and why, whether the guard would hold the sync back, and with
/// `--diff` the first ids.
fn print_archives(entries: &[PlanEntry], sample: Option<usize>) {
    for entry in entries {
        let Some(archive) = &entry.archive else {
            continue;
        };
        let total = archive.deleted.len() + archive.left_scope.len();
        if total == 0 {
            continue;
        }
        println!(
            "{} in {}: {} ({} deleted, {} out of scope) would be archived by a complete check.",
            entry.model,
            entry.crm,
            output::counted(total as u64, "record", "records"),
            archive.deleted.len(),
            archive.left_scope.len()
        );
        if archive.held {
            println!(
                "    More than max_deletes_per_run allows ({}): a sync would archive none of them and exit 4; `etlify sync --allow-deletes` archives them.",
                archive.allowed
            );
        }
        if let Some(n) = sample {
            for id in archive.deleted.iter().take(n) {
                println!("    #{id}: would be archived (its row was deleted)");
            }
            for id in archive.left_scope.iter().take(n) {
                println!("    #{id}: would be archived (out of the binding's scope)");
            }
        }
    }
}

/// One sampled record of `plan --diff`, for people, as the binding's
/// `mode` would treat it.
fn diff_line(record: &RecordDiff, mode: WriteMode) -> String {
    let id = record.id.clone();
    match (&record.change, mode) {
        (PayloadChange::New, WriteMode::UpdateOnly) => format!(
            "#{id}: new: updated if the CRM has an object matching it, else nothing (mode update_only creates none)"
        ),
        (PayloadChange::New, WriteMode::CreateOnly) => format!(
            "#{id}: new, would be created (or a match adopted with nothing written: mode create_only)"
        ),
        (PayloadChange::Changed(_) | PayloadChange::ChangedFieldsUnknown, WriteMode::CreateOnly) => {
            format!("#{id}: changed, not sent (mode create_only never updates an object that exists)")
        }
        _ => diff_line_upsert(record),
    }
}

/// One sampled record of `plan --diff` in `upsert` mode.
fn diff_line_upsert(record: &RecordDiff) -> String {
    let id = record.id.clone();
    match &record.change {
        PayloadChange::New => format!("#{id}: new, would be created"),
        PayloadChange::Changed(fields) if fields.is_empty() => {
            format!("#{id}: payload changed (no field differs by its short digest)")
        }
        PayloadChange::Changed(fields) => {
            let values: Vec<String> = fields
                .iter()
                .map(|field| {
                    // As the CRM would receive it (in its fields' form).
                    let value = record
                        .sent
                        .as_ref()
                        .or(record.payload.as_ref())
                        .and_then(|p| p.get(field))
                        .map_or_else(|| "(removed)".to_owned(), ToString::to_string);
                    format!("{field} = {value}")
                })
                .collect();
            format!("#{id}: changed {}", values.join(", "))
        }
        PayloadChange::ChangedFieldsUnknown => format!(
            "#{id}: changed (which fields is unknown: its last sync kept no field digests, e.g. the Rails gem synced it, or the payload's fields were renamed)"
        ),
        PayloadChange::Unchanged if !record.links.is_empty() => {
            format!("#{id}: properties unchanged, not re-sent; its links change")
        }
        PayloadChange::Unchanged => {
            format!("#{id}: unchanged, would not be sent (same payload as the last sync)")
        }
        PayloadChange::PayloadError(message) => format!("#{id}: payload error: {message}"),
        _ => format!("#{id}: {:?}", record.change),
    }
}
