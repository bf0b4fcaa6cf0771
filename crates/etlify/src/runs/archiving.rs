//! A batch run's archives (docs/BEHAVIOUR.md, "Deletes"): for a binding
//! with `on_delete = archive`, the CRM objects of the records that left
//! the application (`stale/gone.rs`: rows deleted, looked for in a
//! complete check; rows soft-deleted, in every run) are archived in
//! batches within the CRM's rate limit, and their sync rows removed, unless
//! there are more than the binding's guard allows
//! ([`crate::DeleteLimit`]): then nothing is archived and the run says so
//! ([`HeldDeletes`]), until an operator allows it once
//! ([`crate::BatchSyncOptions::allow_deletes`]).

use sea_query::{Expr, SelectStatement};

use crate::adapters::{AdapterErrorKind, RemoteDelete};
use crate::catalog::Target;
use crate::context::Context;
use crate::delete_policy::{self, DeleteLimit, OnDelete};
use crate::error::{Error, Result};
use crate::id::ResourceId;
use crate::stale::gone;
use crate::store::{sync_rows, Store, Timestamp};

/// Gone records read per query.
const GONE_PAGE: u64 = 1_000;

/// Archives a binding's guard held back in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeldDeletes {
    /// The CRM.
    pub crm: String,
    /// The model.
    pub model: String,
    /// Records whose row is gone and whose object would be archived.
    pub records: usize,
    /// The binding's guard (`max_deletes_per_run`).
    pub limit: DeleteLimit,
    /// What the guard allowed this run.
    pub allowed: u64,
}

/// What a run's archiving step did for one binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Archived {
    /// These many objects archived (or found already gone), their sync rows removed.
    Done(usize),
    /// More than the guard allows: nothing archived.
    Held(HeldDeletes),
}

/// Where a run looks for records that left the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Looking {
    /// A complete check: rows deleted from the table, and every
    /// soft-deleted row.
    Everywhere,
    /// A run from a checkpoint: rows soft-deleted since its time.
    SoftDeletedSince(Timestamp),
}

/// The records of `target` that left the application, with the CRM id
/// their sync row holds, ascending.
pub(crate) async fn gone_records(
    ctx: &Context,
    target: Target<'_>,
    looking: Looking,
) -> Result<Vec<(ResourceId, String)>> {
    let store = ctx.store();
    let (crm, model) = (target.crm.name.as_str(), target.model);
    let since = match looking {
        Looking::Everywhere => None,
        Looking::SoftDeletedSince(at) => Some(Expr::val(store.dialect().timestamp_value(at))),
    };
    let mut gone = Vec::new();
    if looking == Looking::Everywhere {
        walk(store, &mut gone, |after| {
            Some(gone::page(crm, model, after, GONE_PAGE))
        })
        .await?;
    }
    walk(store, &mut gone, |after| {
        gone::soft_deleted_page(crm, model, since.clone(), after, GONE_PAGE)
    })
    .await?;
    gone.sort_by_key(|(id, _)| *id);
    gone.dedup_by_key(|(id, _)| *id);
    Ok(gone)
}

/// Runs the keyset-paged query `page(after)` to its end (none when it
/// gives no statement), adding its rows to `gone`.
async fn walk(
    store: &Store,
    gone: &mut Vec<(ResourceId, String)>,
    page: impl Fn(Option<ResourceId>) -> Option<SelectStatement>,
) -> Result<()> {
    let mut after = None;
    while let Some(statement) = page(after) {
        let (sql, values) = store.build(&statement);
        let rows: Vec<(i64, String)> = store.fetch_all(sql, values).await?;
        let full = rows.len() as u64 == GONE_PAGE;
        after = rows.last().map(|(id, _)| ResourceId::new(*id));
        gone.extend(
            rows.into_iter()
                .map(|(id, crm_id)| (ResourceId::new(id), crm_id)),
        );
        if !full {
            break;
        }
    }
    Ok(())
}

/// Archives what left the application for `target`, when its binding
/// asks for it, within its guard (or past it, when `allowed_once`).
pub(crate) async fn archive_gone(
    ctx: &Context,
    target: Target<'_>,
    looking: Looking,
    allowed_once: bool,
) -> Result<Archived> {
    let binding = target.binding;
    if binding.on_delete != OnDelete::Archive {
        return Ok(Archived::Done(0));
    }
    let gone = gone_records(ctx, target, looking).await?;
    if gone.is_empty() {
        return Ok(Archived::Done(0));
    }
    let crm = target.crm.name.as_str();
    let model = target.model.resource_type.as_str();
    let synced = synced_count(ctx, target).await?;
    let limit = binding.max_deletes_per_run;
    if !delete_policy::may_archive(limit, synced, gone.len() as u64, allowed_once) {
        let held = HeldDeletes {
            crm: crm.to_owned(),
            model: model.to_owned(),
            records: gone.len(),
            limit,
            allowed: limit.allowed(synced),
        };
        tracing::warn!(
            message = "More records left the application than max_deletes_per_run allows: nothing archived; `etlify sync --allow-deletes` archives them.",
            crm,
            model,
            records = held.records,
            allowed = held.allowed,
            limit = %limit
        );
        return Ok(Archived::Held(held));
    }
    let batch_size = target
        .crm
        .adapter()
        .batch()
        .map_or(1, |batch| batch.max_batch_size().max(1));
    let mut archived = 0;
    for chunk in gone.chunks(batch_size) {
        archive_chunk(target, chunk).await?;
        sync_rows::remove_archived(ctx.store(), crm, model, chunk).await?;
        archived += chunk.len();
        tracing::info!(
            message = "Archived CRM objects of deleted records.",
            crm,
            model,
            records = chunk.len()
        );
    }
    Ok(Archived::Done(archived))
}

/// How many records of `target` have a CRM id.
async fn synced_count(ctx: &Context, target: Target<'_>) -> Result<u64> {
    let store = ctx.store();
    let (sql, values) = store.build(&gone::synced_count(&target.crm.name, target.model));
    let rows: Vec<(i64,)> = store.fetch_all(sql, values).await?;
    Ok(rows
        .first()
        .map_or(0, |(n,)| u64::try_from(*n).unwrap_or(0)))
}

/// Archives the objects of `chunk`: one batch request when the adapter has
/// one (idempotent: a repeated archive after a lost answer changes
/// nothing), else one delete each; an object the CRM no longer has counts
/// as archived. Any other failure is a run error.
async fn archive_chunk(target: Target<'_>, chunk: &[(ResourceId, String)]) -> Result<()> {
    let crm = &target.crm.name;
    let object_type = &target.binding.object_type;
    let adapter = target.crm.adapter();
    if let Some(batch) = adapter.batch() {
        let crm_ids: Vec<String> = chunk.iter().map(|(_, crm_id)| crm_id.clone()).collect();
        match batch.batch_delete(object_type, &crm_ids).await {
            Ok(()) => return Ok(()),
            // One of them is gone already (Airtable refuses the whole
            // request): one by one below.
            Err(error) if error.kind() == AdapterErrorKind::NotFound => {}
            Err(error) => return Err(Error::from_crm(crm, error)),
        }
    }
    for (_, crm_id) in chunk {
        match adapter.delete(object_type, crm_id).await {
            Ok(RemoteDelete::Deleted | RemoteDelete::NotFound) => {}
            Err(error) if error.kind() == AdapterErrorKind::NotFound => {}
            Err(error) => return Err(Error::from_crm(crm, error)),
        }
    }
    Ok(())
}
