//! An adapter that talks to nothing, for tests, dry runs and benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde_json::Value;

use super::{
    id_value, Adapter, AdapterError, BatchAdapter, BatchItem, BatchUpsertResult, RemoteDelete,
    Throttle, UpsertRequest,
};
use crate::digest::stable_sha256;
use crate::payload::Payload;

/// Accepts every call and returns deterministic ids (unlike the gem's
/// random UUIDs, which changed on every sync): the known `crm_id`, else the id
/// property's value, else a hash of the object type and payload.
#[derive(Debug, Default)]
pub struct NullAdapter {
    calls: NullAdapterCounters,
}

#[derive(Debug, Default)]
struct NullAdapterCounters {
    upserts: AtomicU64,
    deletes: AtomicU64,
    batch_upserts: AtomicU64,
    batch_upserted_records: AtomicU64,
    batch_deletes: AtomicU64,
}

/// How many calls a [`NullAdapter`] received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NullAdapterCalls {
    /// Single upserts.
    pub upserts: u64,
    /// Single deletes.
    pub deletes: u64,
    /// Batch upsert calls.
    pub batch_upserts: u64,
    /// Records received through batch upserts.
    pub batch_upserted_records: u64,
    /// Batch delete calls.
    pub batch_deletes: u64,
}

impl NullAdapter {
    /// A fresh adapter with zeroed counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Calls received so far.
    pub fn calls(&self) -> NullAdapterCalls {
        let c = &self.calls;
        NullAdapterCalls {
            upserts: c.upserts.load(Ordering::Relaxed),
            deletes: c.deletes.load(Ordering::Relaxed),
            batch_upserts: c.batch_upserts.load(Ordering::Relaxed),
            batch_upserted_records: c.batch_upserted_records.load(Ordering::Relaxed),
            batch_deletes: c.batch_deletes.load(Ordering::Relaxed),
        }
    }

    fn derive_id(object_type: &str, payload: &Payload, id_property: &str) -> String {
        id_value(payload, id_property).unwrap_or_else(|| {
            let seed = serde_json::json!([object_type, Value::Object(payload.clone())]);
            format!("null-{}", &stable_sha256(&seed)[..16])
        })
    }
}

#[async_trait]
impl Adapter for NullAdapter {
    fn kind(&self) -> &'static str {
        "null"
    }

    async fn upsert(
        &self,
        request: UpsertRequest<'_>,
        throttle: &Throttle<'_>,
    ) -> Result<Option<String>, AdapterError> {
        throttle.request().await;
        self.calls.upserts.fetch_add(1, Ordering::Relaxed);
        Ok(Some(match request.crm_id {
            Some(known) => known.to_owned(),
            None => Self::derive_id(request.object_type, request.payload, request.id_property),
        }))
    }

    async fn delete(
        &self,
        _object_type: &str,
        _crm_id: &str,
        throttle: &Throttle<'_>,
    ) -> Result<RemoteDelete, AdapterError> {
        throttle.request().await;
        self.calls.deletes.fetch_add(1, Ordering::Relaxed);
        Ok(RemoteDelete::Deleted)
    }

    fn batch(&self) -> Option<&dyn BatchAdapter> {
        Some(self)
    }
}

#[async_trait]
impl BatchAdapter for NullAdapter {
    fn max_batch_size(&self) -> usize {
        100
    }

    async fn batch_upsert(
        &self,
        object_type: &str,
        records: &[BatchItem<'_>],
        id_property: &str,
        throttle: &Throttle<'_>,
    ) -> Result<BatchUpsertResult, AdapterError> {
        let mut result = BatchUpsertResult::default();
        for chunk in records.chunks(self.max_batch_size()) {
            throttle.request().await;
            self.calls.batch_upserts.fetch_add(1, Ordering::Relaxed);
            self.calls
                .batch_upserted_records
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            for item in chunk {
                let crm_id = match item.crm_id {
                    Some(known) => known.to_owned(),
                    None => Self::derive_id(object_type, item.payload, id_property),
                };
                let key = id_value(item.payload, id_property).unwrap_or_else(|| crm_id.clone());
                result.crm_ids.insert(key, crm_id);
            }
        }
        Ok(result)
    }

    async fn batch_delete(
        &self,
        _object_type: &str,
        crm_ids: &[String],
        throttle: &Throttle<'_>,
    ) -> Result<(), AdapterError> {
        for _ in crm_ids.chunks(self.max_batch_size()) {
            throttle.request().await;
            self.calls.batch_deletes.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::adapters::WriteMode;

    fn payload(v: Value) -> Payload {
        match v {
            Value::Object(map) => map,
            _ => Payload::new(),
        }
    }

    #[tokio::test]
    async fn null_adapter_ids_are_deterministic() {
        let adapter = NullAdapter::new();
        let p = payload(json!({"name": "Acme"}));
        let req = UpsertRequest {
            object_type: "companies",
            payload: &p,
            id_property: "domain",
            crm_id: None,
            id_property_only_on_create: false,
            mode: WriteMode::Upsert,
        };
        let unlimited = Throttle::unlimited();
        let first = adapter.upsert(req, &unlimited).await.unwrap();
        let second = adapter.upsert(req, &unlimited).await.unwrap();
        assert_eq!(first, second);
        assert!(first.unwrap().starts_with("null-"));

        let with_id = payload(json!({"email": "a@b.c"}));
        let req = UpsertRequest {
            object_type: "contacts",
            payload: &with_id,
            id_property: "email",
            crm_id: None,
            id_property_only_on_create: false,
            mode: WriteMode::Upsert,
        };
        assert_eq!(
            adapter.upsert(req, &unlimited).await.unwrap().as_deref(),
            Some("a@b.c")
        );
        let known = UpsertRequest {
            crm_id: Some("42"),
            id_property_only_on_create: false,
            mode: WriteMode::Upsert,
            ..req
        };
        assert_eq!(
            adapter.upsert(known, &unlimited).await.unwrap().as_deref(),
            Some("42")
        );
        assert_eq!(adapter.calls().upserts, 4);
    }
}
