//! Syncs many records of one model with one CRM (REFERENCE BS-*, SPEC G-5,
//! G-11, X-4, X-5, X-8, X-12).
//!
//! The pipeline, top to bottom:
//! 1. disabled CRM → everything skipped, nothing read or written (G-5);
//! 2. lock the records without waiting; records busy in a concurrent
//!    per-record sync are synced one by one afterwards;
//! 3. database time before the read; SQL `sync_if` in one query;
//! 4. payloads in one query; per-record pre-checks (payload error, payload
//!    guard, sync dependencies, same digest);
//! 5. one adapter batch upsert per chunk of the CRM's batch size (per-record
//!    upserts when the adapter has no batch endpoint); an atomic rejection is
//!    split in halves until the offending records are isolated; each
//!    record's result is reconciled by its id value;
//! 6. sync-state writes: what was decided without the CRM first, then each
//!    CRM request's results as soon as it answers (one statement per kind of
//!    change), so a crash leaves at most one request's records in doubt;
//! 7. after the locks: dependents waiting on synced records, and
//!    dependencies of buffered records, go to the follow-up seam.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::dependencies::{self, MissingDependency};
use super::guard::{eligible_by_sql, payload_eligible};
use super::{write_synced, Synchronizer};
use crate::adapters::{
    id_value, AdapterError, AdapterErrorKind, BatchAdapter, BatchItem, UpsertRequest,
};
use crate::catalog::Target;
use crate::context::Context;
use crate::crm::Crm;
use crate::error::{Error, Result};
use crate::id::{ResourceId, SyncKey};
use crate::model::{Binding, SyncIf};
use crate::outcome::BatchStats;
use crate::payload::Payload;
use crate::store::lock::PageLock;
use crate::store::sync_rows::{self, RowChange};

/// Syncs a batch of records of one model with one CRM, inline.
#[derive(Debug, Clone, Copy)]
pub struct BatchSynchronizer<'a> {
    ctx: &'a Context,
}

/// A record ready to be sent.
struct Ready {
    id: ResourceId,
    payload: Payload,
    digest: String,
    crm_id: Option<String>,
}

/// What the locked part produced.
#[derive(Default)]
struct Locked {
    stats: BatchStats,
    in_sync: Vec<ResourceId>,
    buffered: Vec<MissingDependency>,
}

impl<'a> BatchSynchronizer<'a> {
    pub(crate) fn new(ctx: &'a Context) -> Self {
        Self { ctx }
    }

    /// Syncs `ids` of `resource_type` with `crm_name` and counts outcomes.
    ///
    /// Record failures are counted and recorded on their rows; a run error
    /// (authentication, throttling or outage after retries, database) is
    /// returned after the rows of records already handled are written.
    pub async fn call(
        &self,
        crm_name: &str,
        resource_type: &str,
        ids: &[ResourceId],
    ) -> Result<BatchStats> {
        let Some(target) = self.ctx.catalog().target(crm_name, resource_type)? else {
            return Ok(BatchStats {
                skipped: ids.len(),
                disabled: true,
                ..BatchStats::default()
            });
        };
        if ids.is_empty() {
            return Ok(BatchStats::default());
        }
        let store = self.ctx.store();
        let (lock, acquired) = PageLock::try_acquire(store, crm_name, resource_type, ids).await?;
        let (mine, busy): (Vec<_>, Vec<_>) = ids.iter().zip(acquired).partition(|(_, ok)| *ok);
        let mine: Vec<ResourceId> = mine.into_iter().map(|(id, _)| *id).collect();
        let locked = self.sync_locked(target, crm_name, &mine).await;
        let released = lock.release().await;
        let locked = locked?;
        released?;

        let mut stats = locked.stats;
        dependencies::flush(self.ctx, crm_name, resource_type, &locked.in_sync).await?;
        dependencies::sync_missing(self.ctx, crm_name, &locked.buffered).await;
        // Busy records: a per-record sync holds them; wait for it, then sync.
        for (id, _) in busy {
            match Synchronizer::new(self.ctx)
                .call(crm_name, resource_type, *id)
                .await
            {
                Ok(outcome) => stats.record(&outcome),
                Err(Error::RecordNotFound { .. }) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(stats)
    }

    async fn sync_locked(
        &self,
        target: Target<'_>,
        crm_name: &str,
        ids: &[ResourceId],
    ) -> Result<Locked> {
        let Target {
            crm,
            resolved,
            binding,
        } = target;
        let store = self.ctx.store();
        let resource_type = resolved.model.get_resource_type();
        let key = |id: ResourceId| SyncKey::new(crm_name, resource_type, id);
        let mut out = Locked::default();
        let mut changes: Vec<(SyncKey, RowChange)> = Vec::new();
        if ids.is_empty() {
            return Ok(out);
        }

        // the time before the read is the time the records are in sync as of.
        let read_at = store
            .in_sync_as_of(self.ctx.catalog().config().get_commit_margin())
            .await?;

        let eligible: Vec<ResourceId> = match binding.get_sync_if() {
            Some(SyncIf::Sql(condition)) => {
                let passing = eligible_by_sql(store, &resolved.model, condition, ids).await?;
                ids.iter()
                    .copied()
                    .filter(|id| passing.contains(id))
                    .collect()
            }
            _ => ids.to_vec(),
        };
        for id in ids.iter().filter(|id| !eligible.contains(id)) {
            changes.push((key(*id), RowChange::Checked { at: read_at }));
            out.stats.skipped += 1;
        }

        let Some(source) = binding.get_payload() else {
            unreachable!("binding validated without a payload source");
        };
        let mut loaded = source.load(store, &eligible).await?;
        let sync_deps = resolved.sync_dependencies_for(crm_name);
        let mut candidates: Vec<(ResourceId, Payload)> = Vec::with_capacity(eligible.len());
        for id in &eligible {
            match loaded.remove(id) {
                // Deleted since it was found stale: nothing to send.
                None => {
                    tracing::debug!(message = "Record vanished before its sync.", crm = crm_name, resource_type, id = %id)
                }
                Some(Err(message)) => {
                    changes.push((
                        key(*id),
                        RowChange::Failed {
                            message: format!("payload: {message}"),
                        },
                    ));
                    out.stats.errors += 1;
                }
                Some(Ok(payload)) if !payload_eligible(binding.get_sync_if(), &payload) => {
                    changes.push((key(*id), RowChange::Checked { at: read_at }));
                    out.stats.skipped += 1;
                }
                Some(Ok(payload)) => {
                    let missing =
                        dependencies::missing(self.ctx, crm_name, resource_type, *id, sync_deps)
                            .await?;
                    if missing.is_empty() {
                        candidates.push((*id, payload));
                    } else {
                        dependencies::buffer(store, crm_name, resource_type, *id, &missing).await?;
                        out.stats.buffered += 1;
                        out.buffered.extend(missing);
                    }
                }
            }
        }

        let candidate_ids: Vec<ResourceId> = candidates.iter().map(|(id, _)| *id).collect();
        let rows: HashMap<ResourceId, sync_rows::SyncRow> =
            sync_rows::find_many(store, crm_name, resource_type, &candidate_ids)
                .await?
                .into_iter()
                .map(|row| (row.resource_id, row))
                .collect();
        let digest_strategy = self.ctx.catalog().config().get_digest_strategy();
        let mut ready = Vec::new();
        for (id, payload) in candidates {
            let payload = Value::Object(payload);
            let digest = digest_strategy.digest(&payload);
            let Value::Object(payload) = payload else {
                unreachable!("built from an object just above");
            };
            let row = rows.get(&id);
            if row.and_then(|r| r.last_digest.as_deref()) == Some(digest.as_str()) {
                changes.push((key(id), RowChange::Checked { at: read_at }));
                out.stats.not_modified += 1;
                out.in_sync.push(id);
            } else {
                let crm_id = row
                    .and_then(|r| r.crm_id.clone())
                    .filter(|c| !c.trim().is_empty());
                ready.push(Ready {
                    id,
                    payload: binding.with_external_id(resource_type, id, payload),
                    digest,
                    crm_id,
                });
            }
        }

        // Sync state of the records decided so far, before anything is sent.
        sync_rows::write(store, &changes).await?;
        let mut recorder = Recorder {
            store,
            crm_name,
            resource_type,
            read_at,
            out: &mut out,
        };
        self.send(crm, binding, &ready, &mut recorder).await?;
        Ok(out)
    }

    /// Sends `ready` records, one CRM request at a time, and writes each
    /// request's results before the next request (so after a crash at most
    /// one request's records are in doubt). A run error stops the sending;
    /// records not attempted keep their rows.
    async fn send(
        &self,
        crm: &Crm,
        binding: &Binding,
        ready: &[Ready],
        recorder: &mut Recorder<'_, '_>,
    ) -> Result<()> {
        let id_property = binding.match_property();
        let adapter = crm.get_adapter();
        // Records the CRM can match in a batch: with an id value, no duplicate.
        let mut batchable = Vec::new();
        let mut single = Vec::new();
        let mut seen = HashSet::new();
        for (index, item) in ready.iter().enumerate() {
            match (adapter.batch(), id_value(&item.payload, id_property)) {
                (Some(_), Some(value)) if seen.insert(value.to_lowercase()) => {
                    batchable.push(index)
                }
                _ => single.push(index),
            }
        }
        if let Some(batch) = adapter.batch() {
            for chunk in batchable.chunks(batch.max_batch_size().max(1)) {
                let mut results: Vec<(usize, Result<Option<String>, AdapterError>)> = Vec::new();
                let sent = self
                    .send_batch(batch, binding, ready, chunk, &mut results)
                    .await;
                // an object the CRM no longer has under its known id goes
                // through the single upsert, which falls back to search/create.
                let (gone, decided): (Vec<_>, Vec<_>) = results.into_iter().partition(|(i, r)| {
                    matches!(r, Err(e) if e.kind() == AdapterErrorKind::NotFound)
                        && ready[*i].crm_id.is_some()
                });
                single.extend(gone.into_iter().map(|(i, _)| i));
                recorder.record(ready, decided).await?;
                if let Err(error) = sent {
                    return Err(Error::from_crm(crm.get_name(), error));
                }
            }
        }
        for index in single {
            let item = &ready[index];
            let request = UpsertRequest {
                object_type: binding.get_object_type(),
                payload: &item.payload,
                id_property,
                crm_id: item.crm_id.as_deref(),
            };
            match adapter.upsert(request).await {
                Ok(crm_id) => recorder.record(ready, vec![(index, Ok(crm_id))]).await?,
                Err(error) if error.is_record_error() => {
                    recorder.record(ready, vec![(index, Err(error))]).await?
                }
                Err(error) => return Err(Error::from_crm(crm.get_name(), error)),
            }
        }
        Ok(())
    }

    /// One chunk through the batch endpoint, bisecting atomic rejections.
    async fn send_batch(
        &self,
        batch: &dyn BatchAdapter,
        binding: &Binding,
        ready: &[Ready],
        chunk: &[usize],
        results: &mut Vec<(usize, Result<Option<String>, AdapterError>)>,
    ) -> Result<(), AdapterError> {
        let id_property = binding.match_property();
        let mut pending: Vec<&[usize]> = vec![chunk];
        while let Some(part) = pending.pop() {
            let items: Vec<BatchItem<'_>> = part
                .iter()
                .map(|&i| BatchItem {
                    payload: &ready[i].payload,
                    crm_id: ready[i].crm_id.as_deref(),
                })
                .collect();
            match batch
                .batch_upsert(binding.get_object_type(), &items, id_property)
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
                Err(error)
                    if error.kind() == AdapterErrorKind::ValidationFailed && part.len() > 1 =>
                {
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
}

/// Writes the sync state of each CRM request's records as they come back.
struct Recorder<'a, 'o> {
    store: &'a crate::store::Store,
    crm_name: &'a str,
    resource_type: &'a str,
    read_at: crate::store::Timestamp,
    out: &'o mut Locked,
}

impl Recorder<'_, '_> {
    /// Records the CRM's answer for `results` (indices into `ready`): CRM
    /// ids and digests of the accepted ones, errors of the rejected ones.
    async fn record(
        &mut self,
        ready: &[Ready],
        results: Vec<(usize, Result<Option<String>, AdapterError>)>,
    ) -> Result<()> {
        let key = |id: ResourceId| SyncKey::new(self.crm_name, self.resource_type, id);
        let mut synced = Vec::new();
        let mut failed = Vec::new();
        for (index, result) in results {
            let item = &ready[index];
            match result {
                Ok(crm_id) => synced.push((
                    key(item.id),
                    RowChange::Synced {
                        crm_id: crm_id.filter(|c| !c.trim().is_empty()),
                        digest: item.digest.clone(),
                        at: self.read_at,
                    },
                )),
                Err(error) => failed.push((
                    key(item.id),
                    RowChange::Failed {
                        message: error.to_string(),
                    },
                )),
            }
        }
        self.out.stats.errors += failed.len();
        sync_rows::write(self.store, &failed).await?;
        let (written, conflicts) = write_synced(self.store, synced).await?;
        self.out.stats.synced += written.len();
        self.out.stats.errors += conflicts.len();
        self.out.in_sync.extend(written);
        Ok(())
    }
}
