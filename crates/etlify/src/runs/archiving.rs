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
use crate::delete_policy::{self, DeleteLimit, Disposal};
use crate::error::{Error, Result};
use crate::id::ResourceId;
use crate::stale::gone;
use crate::store::{sync_rows, Store, Timestamp};

/// Gone records read per query.
const GONE_PAGE: u64 = 1_000;

/// Why a record's object is archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Departure {
    /// Its row was deleted (or marked deleted): `on_delete`.
    Deleted,
    /// Its row is out of the binding's scope: `on_leave_scope`.
    LeftScope,
}

/// A record whose object a run archives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Leaving {
    pub(crate) id: ResourceId,
    pub(crate) crm_id: String,
    pub(crate) why: Departure,
    /// Its row is still in the table (out of scope, or marked deleted): it
    /// may come back, so its sync row stays, without the CRM id, and the
    /// next change finds it as any change (a removed row would be found
    /// only by a complete check).
    pub(crate) row_remains: bool,
}

/// Archives a binding's guard held back in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeldDeletes {
    /// The CRM.
    pub crm: String,
    /// The model.
    pub model: String,
    /// Records whose object would be archived: their row deleted, or out
    /// of the binding's scope.
    pub records: usize,
    /// Of which out of scope (`on_leave_scope`).
    pub left_scope: usize,
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
    /// A complete check: rows deleted from the table or out of scope, and
    /// every soft-deleted row.
    Everywhere,
    /// A run from a checkpoint: rows soft-deleted since its time.
    SoftDeletedSince(Timestamp),
    /// A binding's first sync: none of its records had an object when the
    /// run began, so none can have left; only those the run's pages found
    /// out of scope (none have an object either, unless another process
    /// synced them meanwhile). A row deleted or soft-deleted during the run
    /// is found by the next run (its checkpoint is the run's start).
    FirstSync,
}

/// The records of `target` whose objects its binding archives, found in
/// the database (rows deleted or out of scope, as `looking` says), plus
/// `seen` (out of scope, decided by the run's pages), ascending by id.
pub(crate) async fn leaving_records(
    ctx: &Context,
    target: Target<'_>,
    looking: Looking,
    seen: Vec<(ResourceId, String)>,
) -> Result<Vec<Leaving>> {
    let store = ctx.store();
    let Target { model, binding, .. } = target;
    let crm = target.crm.name.as_str();
    let since = match looking {
        Looking::SoftDeletedSince(at) => Some(Expr::val(store.dialect().timestamp_value(at))),
        Looking::Everywhere | Looking::FirstSync => None,
    };
    let mut found = Vec::new();
    if looking == Looking::Everywhere {
        walk(store, &mut found, |after| {
            Some(gone::page(crm, model, binding, after, GONE_PAGE))
        })
        .await?;
    }
    if looking != Looking::FirstSync {
        walk(store, &mut found, |after| {
            gone::soft_deleted_page(crm, model, since.clone(), after, GONE_PAGE)
        })
        .await?;
    }
    let mut leaving: Vec<Leaving> = found
        .into_iter()
        .map(|(id, crm_id, row_state)| Leaving {
            id,
            crm_id,
            why: match row_state {
                gone::ROW_OUT_OF_SCOPE => Departure::LeftScope,
                _ => Departure::Deleted,
            },
            row_remains: row_state != gone::ROW_GONE,
        })
        .chain(seen.into_iter().map(|(id, crm_id)| Leaving {
            id,
            crm_id,
            why: Departure::LeftScope,
            row_remains: true,
        }))
        .filter(|leaving| {
            let disposal = match leaving.why {
                Departure::Deleted => binding.on_delete,
                Departure::LeftScope => binding.on_leave_scope,
            };
            disposal == Disposal::Archive
        })
        .collect();
    leaving.sort_by(|a, b| a.id.cmp(&b.id));
    leaving.dedup_by(|a, b| a.id == b.id);
    Ok(leaving)
}

/// What a complete check would archive for one binding (`etlify plan`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlannedArchive {
    /// Records whose row was deleted (or marked deleted).
    pub deleted: Vec<ResourceId>,
    /// Records out of the binding's `stale_scope` or SQL `sync_if` (those
    /// failing a payload `sync_if` are found when they change: `plan
    /// --diff` shows them).
    pub left_scope: Vec<ResourceId>,
    /// The binding's guard allows this many this run.
    pub allowed: u64,
    /// The guard would hold the run back: nothing archived.
    pub held: bool,
}

/// What a complete check would archive for `target`, `None` when its
/// binding archives nothing; `allowed_once` as the run would be.
pub(crate) async fn plan(
    ctx: &Context,
    target: Target<'_>,
    allowed_once: bool,
) -> Result<Option<PlannedArchive>> {
    let binding = target.binding;
    if binding.on_delete != Disposal::Archive && binding.on_leave_scope != Disposal::Archive {
        return Ok(None);
    }
    let leaving = leaving_records(ctx, target, Looking::Everywhere, Vec::new()).await?;
    let synced = synced_count(ctx, target).await?;
    let limit = binding.max_deletes_per_run;
    let (deleted, left_scope): (Vec<&Leaving>, Vec<&Leaving>) = leaving
        .iter()
        .partition(|leaving| leaving.why == Departure::Deleted);
    Ok(Some(PlannedArchive {
        deleted: deleted.iter().map(|l| l.id.clone()).collect(),
        left_scope: left_scope.iter().map(|l| l.id.clone()).collect(),
        allowed: limit.allowed(synced),
        held: !delete_policy::may_archive(limit, synced, leaving.len() as u64, allowed_once),
    }))
}

/// Runs the keyset-paged query `page(after)` to its end (none when it
/// gives no statement), adding its rows to `found`.
async fn walk(
    store: &Store,
    found: &mut Vec<(ResourceId, String, i64)>,
    page: impl Fn(Option<ResourceId>) -> Option<SelectStatement>,
) -> Result<()> {
    let mut after = None;
    while let Some(statement) = page(after) {
        let (sql, values) = store.build(&statement);
        let rows: Vec<(ResourceId, String, i64)> = store.fetch_all(sql, values).await?;
        let full = rows.len() as u64 == GONE_PAGE;
        after = rows.last().map(|(id, _, _)| id.clone());
        found.extend(rows);
        if !full {
            break;
        }
    }
    Ok(())
}

/// Archives what left the application (or the scope) for `target`, when
/// its binding asks for it, within its guard (or past it, when
/// `allowed_once`); `seen` are the records out of scope its pages decided.
pub(crate) async fn archive_leaving(
    ctx: &Context,
    target: Target<'_>,
    looking: Looking,
    seen: Vec<(ResourceId, String)>,
    allowed_once: bool,
) -> Result<Archived> {
    let binding = target.binding;
    if binding.on_delete != Disposal::Archive && binding.on_leave_scope != Disposal::Archive {
        return Ok(Archived::Done(0));
    }
    let leaving = leaving_records(ctx, target, looking, seen).await?;
    if leaving.is_empty() {
        return Ok(Archived::Done(0));
    }
    let crm = target.crm.name.as_str();
    let model = target.model.resource_type.as_str();
    let synced = synced_count(ctx, target).await?;
    let limit = binding.max_deletes_per_run;
    if !delete_policy::may_archive(limit, synced, leaving.len() as u64, allowed_once) {
        let held = HeldDeletes {
            crm: crm.to_owned(),
            model: model.to_owned(),
            records: leaving.len(),
            left_scope: leaving
                .iter()
                .filter(|l| l.why == Departure::LeftScope)
                .count(),
            limit,
            allowed: limit.allowed(synced),
        };
        tracing::warn!(
            message = "More records left than max_deletes_per_run allows: nothing archived; `etlify sync --allow-deletes` archives them.",
            crm,
            model,
            records = held.records,
            left_scope = held.left_scope,
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
    for chunk in leaving.chunks(batch_size) {
        let ids = |remains: bool| -> Vec<(ResourceId, String)> {
            chunk
                .iter()
                .filter(|leaving| leaving.row_remains == remains)
                .map(|leaving| (leaving.id.clone(), leaving.crm_id.clone()))
                .collect()
        };
        let (removed, kept) = (ids(false), ids(true));
        let all: Vec<(ResourceId, String)> = removed.iter().chain(&kept).cloned().collect();
        archive_chunk(target, &all).await?;
        sync_rows::remove_archived(ctx.store(), crm, model, &removed).await?;
        sync_rows::forget_archived(ctx.store(), crm, model, &kept).await?;
        archived += chunk.len();
        tracing::info!(
            message = "Archived the CRM objects of records that left.",
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
