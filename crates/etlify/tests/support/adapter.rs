//! An adapter that records every call and answers as scripted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use etlify::adapters::{id_value, RemoteDelete, UpsertRequest};
use etlify::{Adapter, AdapterError, Payload, RateLimiterSlot};

/// One recorded upsert.
#[derive(Debug, Clone, PartialEq)]
pub struct UpsertCall {
    pub object_type: String,
    pub payload: Payload,
    pub id_property: String,
    pub crm_id: Option<String>,
}

type Hook = Arc<dyn Fn(&UpsertCall) -> futures_hook::BoxedUnit + Send + Sync>;

pub mod futures_hook {
    pub type BoxedUnit = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
}

#[derive(Default)]
pub struct RecordingAdapter {
    upserts: Mutex<Vec<UpsertCall>>,
    deletes: Mutex<Vec<(String, String)>>,
    upsert_errors: Mutex<VecDeque<AdapterError>>,
    delete_results: Mutex<VecDeque<Result<RemoteDelete, AdapterError>>>,
    delay: Mutex<Option<Duration>>,
    hook: Mutex<Option<Hook>>,
    limiter: RateLimiterSlot,
}

impl RecordingAdapter {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub fn upserts(&self) -> Vec<UpsertCall> {
        self.upserts.lock().unwrap().clone()
    }

    pub fn deletes(&self) -> Vec<(String, String)> {
        self.deletes.lock().unwrap().clone()
    }

    /// The next upsert fails with `error`.
    pub fn fail_next_upsert(&self, error: AdapterError) {
        self.upsert_errors.lock().unwrap().push_back(error);
    }

    /// The next delete answers `result`.
    pub fn answer_next_delete(&self, result: Result<RemoteDelete, AdapterError>) {
        self.delete_results.lock().unwrap().push_back(result);
    }

    /// Every upsert waits this long before answering.
    pub fn delay_upserts(&self, delay: Duration) {
        *self.delay.lock().unwrap() = Some(delay);
    }

    /// Runs `hook` inside every upsert, after the call is recorded.
    pub fn on_upsert(
        &self,
        hook: impl Fn(&UpsertCall) -> futures_hook::BoxedUnit + Send + Sync + 'static,
    ) {
        *self.hook.lock().unwrap() = Some(Arc::new(hook));
    }
}

#[async_trait]
impl Adapter for RecordingAdapter {
    fn kind(&self) -> &'static str {
        "recording"
    }

    async fn upsert(&self, request: UpsertRequest<'_>) -> Result<Option<String>, AdapterError> {
        self.limiter.throttle().await;
        let call = UpsertCall {
            object_type: request.object_type.to_owned(),
            payload: request.payload.clone(),
            id_property: request.id_property.to_owned(),
            crm_id: request.crm_id.map(str::to_owned),
        };
        self.upserts.lock().unwrap().push(call.clone());
        let hook = self.hook.lock().unwrap().clone();
        if let Some(hook) = hook {
            hook(&call).await;
        }
        let delay = *self.delay.lock().unwrap();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        if let Some(error) = self.upsert_errors.lock().unwrap().pop_front() {
            return Err(error);
        }
        Ok(Some(match request.crm_id {
            Some(id) => id.to_owned(),
            None => format!(
                "crm-{}",
                id_value(request.payload, request.id_property).unwrap_or_else(|| "anon".into())
            ),
        }))
    }

    async fn delete(&self, object_type: &str, crm_id: &str) -> Result<RemoteDelete, AdapterError> {
        self.limiter.throttle().await;
        self.deletes
            .lock()
            .unwrap()
            .push((object_type.to_owned(), crm_id.to_owned()));
        self.delete_results
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Ok(RemoteDelete::Deleted))
    }

    fn rate_limiter_slot(&self) -> Option<&RateLimiterSlot> {
        Some(&self.limiter)
    }
}
