//! What a sync would send for a sample of stale records, and which fields
//! changed since their last sync (`etlify plan --diff`), with the
//! canonical JSON and digest beside the stored digest (`--explain`). Reads
//! only: nothing is sent, locked or written.

use serde_json::Value;

use crate::context::Context;
use crate::digest;
use crate::error::Result;
use crate::field_digests;
use crate::id::ResourceId;
use crate::links;
use crate::stale::finder::Selection;
use crate::stale::pages::StaleIds;
use crate::store::sync_rows;
use crate::values::Payload;

/// One sampled stale record and what a sync would do with it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RecordDiff {
    /// The record's primary key.
    pub id: ResourceId,
    /// What a sync would do.
    pub change: PayloadChange,
    /// The payload a sync would send now (`None` when it cannot be built).
    pub payload: Option<Payload>,
    /// The payload as the CRM would receive it, when that differs from
    /// [`RecordDiff::payload`]: values in the form of the CRM's fields
    /// (`Crm::render_values`; the schema is read once if no batch run of
    /// this process has).
    pub sent: Option<Payload>,
    /// The payload's canonical JSON, the text the default digest hashes
    /// (keys sorted, no whitespace: as the Rails gem's
    /// `JSON.generate(Etlify::Digest.normalize(payload))`), to diff with
    /// the gem's when every digest differs (`None` without a payload).
    pub canonical_json: Option<String>,
    /// The digest a sync would store now (`None` without a payload).
    pub digest: Option<String>,
    /// The digest stored by the record's last sync (`last_digest`).
    pub stored_digest: Option<String>,
    /// How its links (associations) compare with what was linked: the
    /// links a sync would make or remove, and the targets it waits for.
    /// Links that are payload fields (Airtable) are in the payload.
    pub links: Vec<LinkDiff>,
}

/// One link a sync would change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkDiff {
    /// The link's name.
    pub link: String,
    /// The target's model.
    pub target: String,
    /// The target's id.
    pub target_id: ResourceId,
    /// What a sync would do.
    pub change: LinkChange,
}

/// What a sync would do to one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkChange {
    /// Make it (the record's target, not linked yet).
    Added,
    /// Remove it (linked, no longer the record's target).
    Removed,
    /// Nothing yet: the target has no CRM id; the record waits for it.
    Waiting,
}

/// How a stale record's payload compares with its last sync.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PayloadChange {
    /// Never synced with this CRM: every field is new.
    New,
    /// The payload changed; these fields were added, changed or removed.
    Changed(Vec<String>),
    /// The payload changed, but which fields is not known: the last sync
    /// kept no field digests (a row written by the Rails gem), or the
    /// payload's field names changed since.
    ChangedFieldsUnknown,
    /// Same digest as the last sync: it would be `not_modified`, nothing sent.
    Unchanged,
    /// The payload cannot be built (the record's sync would fail).
    PayloadError(String),
}

/// Up to `sample` records of `model` for `crm` (the stale ones, or every
/// one in scope), lowest ids first, compared with their last sync.
pub(crate) async fn sample(
    ctx: &Context,
    crm: &str,
    model: &str,
    sample: usize,
    selection: Selection,
) -> Result<Vec<RecordDiff>> {
    let (_, binding) = ctx.catalog().binding(crm, model)?;
    let store = ctx.store();
    let resolved = ctx.catalog().crm(crm)?;
    let adapter = resolved.adapter();
    let mut pages = StaleIds::new(ctx, crm, model, selection)?.page_size(sample.max(1));
    let Some(ids) = pages.next_page().await? else {
        return Ok(Vec::new());
    };
    let ids: Vec<ResourceId> = ids.into_iter().take(sample).collect();
    let mut loaded = binding.payload.load(store, &ids).await?;
    let rows = sync_rows::find_many(store, crm, model, &ids).await?;
    let mut page_links = match ctx.catalog().target(crm, model)? {
        Some(target) => links::read(ctx, target, crm, &ids).await?,
        None => links::PageLinks::default(),
    };
    let digest_strategy = &ctx.catalog().settings().digest_strategy;
    let mut diffs = Vec::with_capacity(ids.len());
    for id in ids {
        let row = rows.iter().find(|r| r.resource_id == id);
        let stored_digest = row.and_then(|r| r.last_digest.clone());
        let (work, unsynced) = page_links.take(id.clone());
        let (change, payload, digest, canonical_json) = match loaded.remove(&id) {
            // Deleted since it was found stale.
            None => continue,
            Some(Err(message)) => (PayloadChange::PayloadError(message), None, None, None),
            Some(Ok(mut payload)) => {
                work.fill_fields(&mut payload);
                let value = Value::Object(payload);
                let digest = digest_strategy.digest(&value);
                let canonical_json = digest::canonical_json(&value);
                let Value::Object(payload) = value else {
                    unreachable!("built from an object just above");
                };
                let last_digest = stored_digest.as_deref();
                let change = if last_digest.is_none() {
                    PayloadChange::New
                } else if last_digest == Some(digest.as_str()) {
                    PayloadChange::Unchanged
                } else {
                    let stored = row.and_then(|r| r.field_digests.as_deref());
                    field_digests::changed_fields(stored, last_digest, &payload)
                        .map_or(PayloadChange::ChangedFieldsUnknown, PayloadChange::Changed)
                };
                (change, Some(payload), Some(digest), Some(canonical_json))
            }
        };
        let sent = match &payload {
            Some(payload) => adapter
                .rendered(&binding.object_type, payload, &binding.match_property)
                .await
                .filter(|sent| sent != payload),
            None => None,
        };
        let from_crm_id = row.and_then(|r| r.crm_id.as_deref()).unwrap_or_default();
        let changes = work.changes(id.clone(), &binding.object_type, from_crm_id);
        let link = |link: String, target: String, target_id, change| LinkDiff {
            link,
            target,
            target_id,
            change,
        };
        let links = changes
            .create
            .into_iter()
            .map(|r| link(r.link_name, r.to_type, r.to_id, LinkChange::Added))
            .chain(
                changes
                    .archive
                    .into_iter()
                    .map(|r| link(r.link_name, r.to_type, r.to_id, LinkChange::Removed)),
            )
            .chain(unsynced.into_iter().map(|u| {
                let name = binding
                    .links
                    .iter()
                    .find(|l| l.target == u.model)
                    .map(|l| l.name.clone())
                    .unwrap_or_default();
                link(name, u.model, u.id, LinkChange::Waiting)
            }))
            .collect();
        diffs.push(RecordDiff {
            id,
            change,
            payload,
            sent,
            canonical_json,
            digest,
            stored_digest,
            links,
        });
    }
    Ok(diffs)
}
