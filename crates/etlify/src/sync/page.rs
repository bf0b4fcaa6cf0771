//! Syncs a page of records of one model with one CRM (the gem's `BatchSynchronizer`;
//! G-5, G-11, X-4, X-5, X-8, X-12).
//!
//! A page goes through three steps; the pipeline (`pipeline.rs`) runs
//! them for a stream of pages with a bounded number of CRM requests in
//! flight, so the next page is prepared while requests wait on the CRM:
//! 1. [`prepare`]: lock the page's records without waiting (records busy
//!    in a concurrent sync are left for step 3, X-8); database time before
//!    the read; SQL `sync_if` in one query; payloads and sync rows in
//!    one query each; each record decided by [`decision::decide`] (the
//!    rules the per-record path follows too), the sync state of those
//!    needing no request written at once; the rest becomes CRM requests;
//! 2. [`send`]: one request (a batch upsert of up to the CRM's batch size,
//!    or one record's upsert when the adapter has no batch endpoint or the
//!    record no id value); an atomic rejection is split in halves until the
//!    offending records are isolated; each record's result is
//!    reconciled by its id value; [`record`] writes the answers'
//!    sync state (the pipeline, of all the requests that answered during
//!    its previous write at once);
//! 3. [`finish`], once every request of the page has answered: records
//!    sharing an id value with another of the page, one by one (never two
//!    requests for one CRM object at once); the lock released; dependents
//!    waiting on synced records and dependencies of buffered records go to
//!    the follow-up seam; busy records are synced one by one, or, in a
//!    batch run, left for the next run when there are many of them
//!    ([`IdsFrom`]).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::changed_at::{self, ChangedAt};
use super::decision::{self, Decision, Known, Loaded, Outgoing, SqlGuard};
use super::dependencies::{self, MissingDependency};
use super::failure_log::FailureLog;
use super::guard::sql_conditions;
use super::{lock, write_synced, Synchronizer};
use crate::adapters::{id_value, AdapterError, AdapterErrorKind, BatchItem, UpsertRequest};
use crate::catalog::Target;
use crate::context::Context;
use crate::crm::ThrottledBatch;
use crate::delete_policy::Disposal;
use crate::error::{Error, Result};
use crate::id::{ResourceId, SyncKey};
use crate::links::{self, ToLink};
use crate::outcome::{BatchStats, RecordError};
use crate::store::leases::records::PageLock;
use crate::store::sync_rows::{self, RowChange};
use crate::store::{Store, Timestamp};
use crate::values::Payload;

/// Busy records a batch run's page syncs one by one; more are left for the
/// next run. A few are a per-record sync under way (a job, an application
/// call); a page's worth is the page of a run that died holding it, whose
/// lease expires after its time to live: syncing hundreds of them one
/// request each (and a search each, on HubSpot) would take minutes.
pub(crate) const MAX_BUSY_SYNCED_ONE_BY_ONE: usize = 10;

/// Where a page's ids come from, which decides what the page does with
/// records another sync holds and which conditions it checks again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdsFrom {
    /// A caller named them: each record another sync holds is waited for
    /// and synced alone, and every SQL condition is checked.
    Caller,
    /// The finder (a batch run over stale records): up to
    /// [`MAX_BUSY_SYNCED_ONE_BY_ONE`] busy records are synced alone, more
    /// are left for the next run (which then leaves no checkpoint, so the
    /// next run finds them again). Rows marked deleted are not checked
    /// again: the finder's query excluded them, and one more query a page
    /// cost a first sync a quarter of its rate (docs/BENCHMARKS.md). A row
    /// marked deleted between the find and the read is sent once more, as
    /// it was when deleted; the next run's look at rows marked deleted
    /// finds it (`on_delete = archive` archives it then).
    Finder,
}

impl IdsFrom {
    /// Whether the page checks again that its rows are not marked deleted.
    fn checks_soft_deletes(self) -> bool {
        self == IdsFrom::Caller
    }
}

/// Syncs a batch of records of one model with one CRM, inline.
#[derive(Debug, Clone, Copy)]
pub struct BatchSynchronizer<'a> {
    ctx: &'a Context,
}

/// A record ready to be sent.
pub(crate) type Ready = Outgoing;

/// One CRM request of a page: indices into the page's ready records.
pub(crate) enum Request {
    /// Through the batch endpoint (records with distinct id values).
    Batch(Vec<usize>),
    /// One record's upsert.
    Single(usize),
    /// Records whose links alone changed: no property sent.
    Links(Vec<usize>),
}

/// A page locked and decided; its requests are sent by [`send`].
pub(crate) struct Page<'a> {
    ctx: &'a Context,
    target: Target<'a>,
    crm: &'a str,
    model: &'a str,
    /// Records in the page (for progress).
    pub(crate) records: usize,
    /// Records of the page to send that had no sync row yet: the rows the
    /// page adds to the sync table (for its statistics).
    pub(crate) new_rows: usize,
    read_at: Timestamp,
    ready: Vec<Ready>,
    /// Records sharing an id value with an earlier one: sent one by one
    /// once the page's requests have answered.
    later: Vec<usize>,
    busy: Vec<ResourceId>,
    ids_from: IdsFrom,
    lock: Mutex<Option<PageLock>>,
    state: Mutex<PageState>,
}

/// What a page has produced so far.
#[derive(Default)]
struct PageState {
    stats: BatchStats,
    in_sync: Vec<ResourceId>,
    buffered: Vec<MissingDependency>,
    new_rows: usize,
    /// The page's failed records logged so far (a few, then counted).
    failures: FailureLog,
    /// Records out of the binding's scope whose objects the run archives
    /// (`on_leave_scope = archive`), with their CRM ids.
    leaving: Vec<(ResourceId, String)>,
    /// When the records sent changed, for the change-to-CRM latency.
    changed_at: ChangedAt,
}

impl<'a> BatchSynchronizer<'a> {
    pub(crate) fn new(ctx: &'a Context) -> Self {
        Self { ctx }
    }

    /// Syncs `ids` of `model` with `crm` and counts outcomes.
    ///
    /// Record failures are counted and recorded on their rows; a run error
    /// (authentication, throttling or outage after retries, database) is
    /// returned after the rows of records already handled are written.
    pub async fn call(&self, crm: &str, model: &str, ids: &[ResourceId]) -> Result<BatchStats> {
        let Some(target) = self.ctx.catalog().target(crm, model)? else {
            return Ok(BatchStats {
                skipped: ids.len(),
                disabled: true,
                ..BatchStats::default()
            });
        };
        let mut stats = BatchStats::default();
        if ids.is_empty() {
            return Ok(stats);
        }
        let page = super::pipeline::Pages {
            ids: futures_util::stream::iter([Ok(ids.to_vec())]),
            stopping: &|| false,
        };
        super::pipeline::run(
            self.ctx,
            target,
            crm,
            model,
            page,
            IdsFrom::Caller,
            |done| {
                stats.merge(&done.stats);
                // Out of scope, to archive: left stale for the next batch run,
                // which archives within the binding's guard.
                stats.skipped += done.leaving.len();
            },
        )
        .await?;
        Ok(stats)
    }
}

/// Step 1: locks `ids`, reads and decides them; returns the page and its
/// requests.
pub(crate) async fn prepare<'a>(
    ctx: &'a Context,
    target: Target<'a>,
    crm: &'a str,
    model: &'a str,
    ids: Vec<ResourceId>,
    ids_from: IdsFrom,
) -> Result<(Page<'a>, Vec<Request>)> {
    let store = ctx.store();
    let (lock, busy) = PageLock::try_acquire(store, crm, model, &ids).await?;
    let held_elsewhere: HashSet<ResourceId> = busy.iter().cloned().collect();
    let mine: Vec<ResourceId> = ids
        .iter()
        .filter(|id| !held_elsewhere.contains(*id))
        .cloned()
        .collect();
    let decided = read_and_decide(ctx, target, crm, &mine, ids_from).await;
    let (read_at, ready, state) = match decided {
        Ok(decided) => decided,
        Err(error) => {
            lock.release().await?;
            return Err(error);
        }
    };
    let (requests, later) = plan_requests(target, &ready);
    Ok((
        Page {
            ctx,
            target,
            crm,
            model,
            records: ids.len(),
            new_rows: state.new_rows,
            read_at,
            ready,
            later,
            busy,
            ids_from,
            lock: Mutex::new(Some(lock)),
            state: Mutex::new(state),
        },
        requests,
    ))
}

/// Reads `ids` and decides each ([`decision::decide`]); writes at once the
/// sync state of what needs no CRM request; returns the read time and the
/// records to send.
async fn read_and_decide(
    ctx: &Context,
    target: Target<'_>,
    crm: &str,
    ids: &[ResourceId],
    ids_from: IdsFrom,
) -> Result<(Timestamp, Vec<Ready>, PageState)> {
    let Target {
        model: resolved,
        binding,
        ..
    } = target;
    let store = ctx.store();
    let model = resolved.resource_type.as_str();
    let key = |id: ResourceId| SyncKey::new(crm, model, id);
    let mut out = PageState::default();
    let mut changes: Vec<(SyncKey, RowChange)> = Vec::new();

    // the time before the read is the time the records are in sync as of.
    let read_at = store
        .in_sync_as_of(ctx.catalog().settings().commit_margin)
        .await?;
    if ids.is_empty() {
        return Ok((read_at, Vec::new(), out));
    }

    let soft_deletes = ids_from.checks_soft_deletes();
    let conditions = sql_conditions(store, resolved, binding, ids, soft_deletes).await?;
    let eligible: Vec<ResourceId> = ids
        .iter()
        .filter(|id| conditions.passes(id))
        .cloned()
        .collect();

    let source = &binding.payload;
    // Both after the lock and the read time, so they need no
    // order between them: side by side, on two pooled connections.
    // The rows of records out of scope too, when their objects may be
    // archived (`on_leave_scope`): whether they have one is on the row.
    let with_rows = match binding.on_leave_scope {
        Disposal::Archive => ids,
        _ => &eligible,
    };
    let (mut loaded, rows, mut timestamps) = futures_util::try_join!(
        source.load(store, &eligible),
        sync_rows::find_many(store, crm, model, with_rows),
        changed_at::read(
            store,
            resolved,
            &eligible,
            ctx.metrics().observes_change_latency()
        ),
    )?;
    let rows: HashMap<ResourceId, sync_rows::SyncRow> = rows
        .into_iter()
        .map(|row| (row.resource_id.clone(), row))
        .collect();
    let mut page_links = links::read(ctx, target, crm, &eligible).await?;
    let sync_deps = &binding.sync_dependencies;
    let rules = decision::Rules {
        binding,
        model,
        digest: ctx.catalog().settings().digest_strategy.as_ref(),
        read_at,
    };
    let mut ready = Vec::new();
    for id in ids.iter().cloned() {
        let sql_guard = conditions.guard(&id);
        let loaded = match sql_guard {
            SqlGuard::Passes => Loaded::from(loaded.remove(&id)),
            // Not loaded: any payload would do, the guard decides first.
            _ => Loaded::Payload(Payload::new()),
        };
        let (links, unsynced) = page_links.take(id.clone());
        let missing = match &loaded {
            Loaded::Payload(_) if sql_guard == SqlGuard::Passes => {
                let mut missing =
                    dependencies::missing(ctx, crm, model, id.clone(), sync_deps).await?;
                dependencies::add_missing_targets(
                    ctx,
                    crm,
                    (model, id.clone()),
                    unsynced,
                    &mut missing,
                )
                .await?;
                missing
            }
            _ => Vec::new(),
        };
        let known = Known {
            id: id.clone(),
            row: rows.get(&id),
            sql_guard,
            loaded,
            missing,
            links,
        };
        match decision::decide(&rules, known) {
            Decision::Vanished => {
                tracing::debug!(message = "Record vanished before its sync.", crm, resource_type = model, id = %id)
            }
            Decision::Skip(change) => {
                changes.push((key(id), change));
                out.stats.skipped += 1;
            }
            // Nothing written: the run archives it, within the guard.
            Decision::Leave(crm_id) => out.leaving.push((id, crm_id)),
            Decision::Fail(error) => {
                out.failures.failed(
                    (crm, model),
                    id.clone(),
                    error.kind.as_str(),
                    &error.message,
                );
                changes.push((
                    key(id),
                    RowChange::Failed {
                        message: error.message,
                    },
                ));
                out.stats.errors += 1;
            }
            Decision::Buffer(missing) => {
                dependencies::buffer(store, crm, model, id, &missing).await?;
                out.stats.buffered += 1;
                out.buffered.extend(missing);
            }
            Decision::InSync(change) => {
                changes.push((key(id.clone()), change));
                out.stats.not_modified += 1;
                out.in_sync.push(id);
            }
            Decision::Send(outgoing) => {
                out.new_rows += usize::from(outgoing.new_row);
                let last_synced_at = rows.get(&id).and_then(|row| row.last_synced_at);
                if let Some(changed) =
                    changed_at::changed_since(timestamps.remove(&id), last_synced_at)
                {
                    out.changed_at.insert(id, changed);
                }
                ready.push(outgoing);
            }
        }
    }

    // Sync state of the records decided so far, before anything is sent.
    sync_rows::write(store, &changes).await?;
    Ok((read_at, ready, out))
}

/// The requests of `ready`: chunks of the CRM's batch size for records it
/// can match in a batch (an id value, distinct in the page), one request
/// per record otherwise. Records whose id value an earlier record has are
/// returned apart, to be sent after the rest.
fn plan_requests(target: Target<'_>, ready: &[Ready]) -> (Vec<Request>, Vec<usize>) {
    let id_property = target.binding.match_property.as_str();
    let batch = target.crm.adapter().batch();
    let mut batchable = Vec::new();
    let mut requests = Vec::new();
    let mut later = Vec::new();
    let mut seen = HashSet::new();
    let mode = target.binding.mode;
    let mut links_only = Vec::new();
    for (index, item) in ready.iter().enumerate() {
        if !item.send_properties {
            links_only.push(index);
            continue;
        }
        if item.crm_id.is_none() && !mode.may_batch_unknown_objects() {
            requests.push(Request::Single(index));
            continue;
        }
        match id_value(&item.payload, id_property) {
            Some(value) if !seen.insert(value.to_lowercase()) => later.push(index),
            Some(_) if batch.is_some() => batchable.push(index),
            _ => requests.push(Request::Single(index)),
        }
    }
    if let Some(batch) = batch {
        let mut chunks: Vec<Request> = batchable
            .chunks(batch.max_batch_size().max(1))
            .map(|chunk| Request::Batch(chunk.to_vec()))
            .collect();
        chunks.append(&mut requests);
        requests = chunks;
    }
    let per_request = target
        .crm
        .adapter()
        .associations()
        .map_or(1, |associations| associations.max_per_request());
    requests.extend(
        links_only
            .chunks(per_request)
            .map(|chunk| Request::Links(chunk.to_vec())),
    );
    (requests, later)
}

/// What the CRM answered for some records of a page: each one's result,
/// by index into the page's ready records.
pub(crate) type Answers = Vec<(usize, Result<Option<String>, AdapterError>)>;

/// Step 2: sends one request of `page`; returns its records' answers, to
/// be written by [`record`], and the run error that cut the request short
/// (the answers received before it stand).
pub(crate) async fn send(page: &Page<'_>, request: Request) -> (Answers, Result<()>) {
    if let Err(lost) = still_locked(page) {
        return (Answers::new(), Err(lost));
    }
    let crm = page.target.crm;
    let mut answers = Answers::new();
    let sent = match request {
        Request::Batch(chunk) => {
            let Some(batch) = crm.adapter().batch() else {
                unreachable!("batch requests are planned only with a batch endpoint");
            };
            let sent = send_batch(&batch, page, &chunk, &mut answers).await;
            // an object the CRM no longer has under its known id goes
            // through the single upsert, which falls back to search/create.
            let mut gone = Vec::new();
            answers.retain(|(i, r)| {
                let is_gone = matches!(r, Err(e) if e.kind() == AdapterErrorKind::NotFound)
                    && page.ready[*i].crm_id.is_some();
                if is_gone {
                    gone.push(*i);
                }
                !is_gone
            });
            match sent {
                Err(error) => Err(Error::from_crm(&crm.name, error)),
                Ok(()) => upsert_each(page, gone, &mut answers).await,
            }
        }
        Request::Single(index) => upsert_each(page, [index], &mut answers).await,
        // The object is known and its properties unchanged.
        Request::Links(indices) => {
            answers.extend(
                indices
                    .into_iter()
                    .map(|i| (i, Ok(page.ready[i].crm_id.clone()))),
            );
            Ok(())
        }
    };
    let linked = link_answered(page, &mut answers).await;
    (answers, sent.and(linked))
}

/// Brings in step the links of the records `answers` accepted (their
/// objects now known); a record whose links the CRM refused gets that
/// refusal as its answer, so its row is not stamped in sync and it is
/// synced again. On a run error, the answers of records with links to
/// bring in step are dropped: they stay stale for the next run.
async fn link_answered(page: &Page<'_>, answers: &mut Answers) -> Result<()> {
    let linking: Vec<(usize, String)> = answers
        .iter()
        .filter_map(|(i, answer)| {
            let item = &page.ready[*i];
            let answered = answer.as_ref().ok()?;
            let crm_id = answered.clone().or_else(|| item.crm_id.clone())?;
            (!item.links.is_idle()).then_some((*i, crm_id))
        })
        .collect();
    if linking.is_empty() {
        return Ok(());
    }
    let records: Vec<ToLink<'_>> = linking
        .iter()
        .map(|(i, crm_id)| ToLink {
            id: page.ready[*i].id.clone(),
            from_crm_id: crm_id,
            work: &page.ready[*i].links,
        })
        .collect();
    match links::apply(page.ctx, page.target, &records).await {
        Ok(mut refused) => {
            for (i, answer) in answers.iter_mut() {
                if let Some(error) = refused.remove(&page.ready[*i].id) {
                    *answer = Err(error);
                }
            }
            Ok(())
        }
        Err(error) => {
            answers.retain(|(i, _)| !linking.iter().any(|(linked, _)| linked == i));
            Err(error)
        }
    }
}

/// The records at `indices` upserted one by one, their answers added to
/// `answers`, until a run error.
async fn upsert_each(
    page: &Page<'_>,
    indices: impl IntoIterator<Item = usize>,
    answers: &mut Answers,
) -> Result<()> {
    for index in indices {
        let answer = upsert_one(page, index).await?;
        answers.push((index, answer));
    }
    Ok(())
}

/// One record's upsert: its answer (a record error or a lost create
/// included), or a run error.
async fn upsert_one(page: &Page<'_>, index: usize) -> Result<Result<Option<String>, AdapterError>> {
    let Target { crm, binding, .. } = page.target;
    let item = &page.ready[index];
    let request = UpsertRequest {
        object_type: &binding.object_type,
        payload: &item.payload,
        id_property: &binding.match_property,
        crm_id: item.crm_id.as_deref(),
        id_property_only_on_create: item.id_property_only_on_create,
        mode: binding.mode,
    };
    match crm.adapter().upsert(request).await {
        Ok(crm_id) => Ok(Ok(crm_id)),
        // A lost create is this record's outcome (in doubt), not the
        // CRM's: the page goes on with the others.
        Err(error) if error.is_record_error() || error.is_create_outcome_unknown() => {
            Ok(Err(error))
        }
        Err(error) => Err(Error::from_crm(&crm.name, error)),
    }
}

/// What a finished page produced.
pub(crate) struct Finished {
    /// Its records' outcomes.
    pub(crate) stats: BatchStats,
    /// Busy records left for the next run.
    pub(crate) deferred: usize,
    /// Records out of scope whose objects the run archives, with their CRM ids.
    pub(crate) leaving: Vec<(ResourceId, String)>,
}

/// Nothing is sent under a page lock that may be another sync's now: its
/// renewals failed or came late for a whole time to live (the database
/// unreachable, the process paused), or another process took it over.
/// The run stops; the page's records left stay stale.
fn still_locked(page: &Page<'_>) -> Result<()> {
    if lock(&page.lock).as_ref().is_some_and(PageLock::is_held) {
        return Ok(());
    }
    Err(Error::Incomplete(format!(
        "the lock on a page of {} {} expired before its next request was sent (its renewals \
         failed or came late for longer than the lease's time to live); its records are left \
         for the next run",
        page.crm, page.model
    )))
}

/// Step 3, once every request of `page` has answered: the records left
/// for later, the lock released, follow-up work, busy records; returns
/// the page's outcomes and how many busy records it left for the next run.
pub(crate) async fn finish(page: &Page<'_>) -> Result<Finished> {
    let mut sent = Ok(());
    for &index in &page.later {
        sent = async {
            still_locked(page)?;
            let mut answers = vec![(index, upsert_one(page, index).await?)];
            link_answered(page, &mut answers).await?;
            record(page.ctx.store(), &[(page, &answers)]).await
        }
        .await;
        if sent.is_err() {
            break;
        }
    }
    release(page).await?;
    sent?;
    let Page {
        ctx, crm, model, ..
    } = *page;
    let PageState {
        mut stats,
        in_sync,
        buffered,
        failures,
        leaving,
        ..
    } = std::mem::take(&mut *lock(&page.state));
    // The busy records synced below count as the one-record syncs they are.
    ctx.metrics()
        .count_outcomes(crm, model, &stats.by_outcome());
    failures.summarize((crm, model));
    dependencies::flush(ctx, crm, model, &in_sync).await?;
    dependencies::sync_missing(ctx, crm, &buffered).await;
    if page.ids_from == IdsFrom::Finder && page.busy.len() > MAX_BUSY_SYNCED_ONE_BY_ONE {
        tracing::info!(
            message = "Records held by another sync (a run that died holding them?) are left for the next run.",
            crm,
            model,
            records = page.busy.len()
        );
        return Ok(Finished {
            stats,
            deferred: page.busy.len(),
            leaving,
        });
    }
    // Busy records: another sync holds them; wait for it, then sync.
    for id in page.busy.iter().cloned() {
        match Synchronizer::new(ctx).call(crm, model, id).await {
            Ok(outcome) => stats.record(&outcome),
            Err(Error::RecordNotFound { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(Finished {
        stats,
        deferred: 0,
        leaving,
    })
}

impl Page<'_> {
    /// The outcomes counted so far, taken out of the page (of a page a run
    /// error cut short: the records its answered requests covered).
    pub(crate) fn take_stats(&self) -> BatchStats {
        let stats = std::mem::take(&mut lock(&self.state).stats);
        self.ctx
            .metrics()
            .count_outcomes(self.crm, self.model, &stats.by_outcome());
        stats
    }

    /// Whether the page's lock is released (the page is finished).
    pub(crate) fn is_released(&self) -> bool {
        lock(&self.lock).is_none()
    }
}

/// Releases `page`'s lock (a page a run error cut short, or a finished one).
pub(crate) async fn release(page: &Page<'_>) -> Result<()> {
    let lock = lock(&page.lock).take();
    match lock {
        Some(lock) => lock.release().await,
        None => Ok(()),
    }
}

/// One chunk through the batch endpoint, bisecting atomic rejections.
async fn send_batch(
    batch: &ThrottledBatch<'_>,
    page: &Page<'_>,
    chunk: &[usize],
    results: &mut Vec<(usize, Result<Option<String>, AdapterError>)>,
) -> Result<(), AdapterError> {
    let binding = page.target.binding;
    let ready = &page.ready;
    let id_property = binding.match_property.as_str();
    let mut pending: Vec<&[usize]> = vec![chunk];
    while let Some(part) = pending.pop() {
        let items: Vec<BatchItem<'_>> = part
            .iter()
            .map(|&i| BatchItem {
                payload: &ready[i].payload,
                crm_id: ready[i].crm_id.as_deref(),
                id_property_only_on_create: ready[i].id_property_only_on_create,
            })
            .collect();
        match batch
            .batch_upsert(&binding.object_type, &items, id_property)
            .await
        {
            Ok(response) => {
                let lowercase: HashMap<String, &String> = response
                    .crm_ids
                    .iter()
                    .map(|(k, v)| (k.to_lowercase(), v))
                    .collect();
                for &i in part {
                    let value = id_value(&ready[i].payload, id_property).unwrap_or_default();
                    let crm_id = response
                        .crm_ids
                        .get(&value)
                        .or_else(|| lowercase.get(&value.to_lowercase()).copied());
                    let rejected = response.errors.iter().find(|e| {
                        e.id_value
                            .as_deref()
                            .is_some_and(|v| v.eq_ignore_ascii_case(&value))
                    });
                    results.push((i, match (crm_id, rejected) {
                        (_, Some(rejection)) => Err(rejection.error.clone()),
                        (Some(crm_id), None) => Ok(Some(crm_id.clone())),
                        // never a silent success without an id.
                        (None, None) => Err(AdapterError::new(
                            AdapterErrorKind::Other,
                            format!("the CRM's batch response has no result for {id_property} = {value}"),
                        )),
                    }));
                }
            }
            Err(error) if error.kind() == AdapterErrorKind::ValidationFailed && part.len() > 1 => {
                let (left, right) = part.split_at(part.len() / 2);
                pending.push(right);
                pending.push(left);
            }
            Err(error) if error.is_record_error() => {
                for &i in part {
                    results.push((i, Err(error.clone())));
                }
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Writes the answers of requests of one page or several: one statement
/// per kind of change for all of them (CRM ids and digests of the accepted
/// records, errors of the rejected ones), then each page's outcomes.
pub(crate) async fn record(store: &Store, answered: &[(&Page<'_>, &Answers)]) -> Result<()> {
    let mut synced = Vec::new();
    let mut failed = Vec::new();
    // Per page: its failures, its records in doubt, and the ids it sent to `synced`.
    let mut per_page: Vec<(usize, usize, usize, Vec<ResourceId>)> =
        Vec::with_capacity(answered.len());
    let mut stamped = Vec::new();
    for (page, answers) in answered {
        let key = |id: ResourceId| SyncKey::new(page.crm, page.model, id);
        let mut failures = 0;
        let mut in_doubt = 0;
        let mut no_object = 0;
        let mut accepted = Vec::new();
        for (index, answer) in answers.iter() {
            let item = &page.ready[*index];
            match answer {
                // update_only, no object: stamped, looked at again when
                // it changes.
                Err(error) if error.is_no_object_to_update() => {
                    stamped.push((
                        key(item.id.clone()),
                        RowChange::Checked {
                            at: page.read_at,
                            field_digests: None,
                        },
                    ));
                    no_object += 1;
                }
                // Nothing written: the record stays stale, and its next
                // sync looks for the object the create may have made.
                Err(error) if error.is_create_outcome_unknown() => {
                    lock(&page.state).failures.in_doubt(
                        (page.crm, page.model),
                        item.id.clone(),
                        &error.to_string(),
                    );
                    in_doubt += 1;
                }
                Ok(crm_id) => {
                    let change = decision::after_answer(item, crm_id.clone(), page.read_at);
                    synced.push((key(item.id.clone()), change));
                    accepted.push(item.id.clone());
                }
                Err(error) => {
                    let kind = RecordError::from_adapter(error).kind;
                    lock(&page.state).failures.failed(
                        (page.crm, page.model),
                        item.id.clone(),
                        kind.as_str(),
                        &error.to_string(),
                    );
                    failed.push((
                        key(item.id.clone()),
                        RowChange::Failed {
                            message: error.to_string(),
                        },
                    ));
                    failures += 1;
                }
            }
        }
        per_page.push((failures, in_doubt, no_object, accepted));
    }
    sync_rows::write(store, &failed).await?;
    sync_rows::write(store, &stamped).await?;
    let conflicts = write_synced(store, synced).await?;
    let conflicting: HashSet<ResourceId> = conflicts.iter().map(|(id, _)| id.clone()).collect();
    let answered_at = crate::metrics::unix_now();
    for ((page, _), (failures, in_doubt, no_object, accepted)) in answered.iter().zip(per_page) {
        let (written, conflicts): (Vec<ResourceId>, Vec<ResourceId>) = accepted
            .into_iter()
            .partition(|id| !conflicting.contains(id));
        let mut state = lock(&page.state);
        if let Some(metrics) = page.ctx.metrics().binding(page.crm, page.model) {
            for id in &written {
                if let Some(changed) = state.changed_at.remove(id) {
                    metrics.changed_to_crm(answered_at - changed);
                }
            }
        }
        state.stats.errors += failures + conflicts.len();
        state.stats.in_doubt += in_doubt;
        state.stats.no_object_to_update += no_object;
        state.stats.synced += written.len();
        state.in_sync.extend(written);
    }
    Ok(())
}
