//! An adapter that records every call and answers as scripted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use etlify::adapters::{id_value, Adapter, AdapterError, RemoteDelete, Throttle, UpsertRequest};
use etlify::Payload;
use tokio::sync::watch;

/// One recorded upsert.
#[derive(Debug, Clone, PartialEq)]
pub struct UpsertCall {
    pub object_type: String,
    pub payload: Payload,
    pub id_property: String,
    pub crm_id: Option<String>,
}

type Hook = Arc<dyn Fn(&UpsertCall) -> futures_hook::BoxedUnit + Send + Sync>;

/// How long a test waits for a call it expects before failing.
const EXPECTED_CALL_WITHIN: Duration = Duration::from_secs(30);

/// A gate that the adapter's calls wait at until the test opens it: a CRM
/// answering only once the test has done what it must do meanwhile.
#[derive(Clone)]
pub struct Gate(Arc<watch::Sender<bool>>);

impl Gate {
    fn closed() -> Self {
        Self(Arc::new(watch::Sender::new(false)))
    }

    /// Lets every waiting call and every later one through.
    pub fn open(&self) {
        self.0.send_replace(true);
    }

    async fn pass(&self) {
        let mut open = self.0.subscribe();
        // The sender lives in `self`: waiting cannot fail.
        let _ = open.wait_for(|open| *open).await;
    }
}

/// A count of calls that a test can wait on.
struct Counter(watch::Sender<usize>);

impl Default for Counter {
    fn default() -> Self {
        Self(watch::Sender::new(0))
    }
}

impl Counter {
    fn add(&self) {
        self.0.send_modify(|count| *count += 1);
    }

    /// Waits until `at_least` calls were made; fails the test after
    /// [`EXPECTED_CALL_WITHIN`].
    async fn reaching(&self, at_least: usize, what: &str) {
        let mut count = self.0.subscribe();
        tokio::time::timeout(EXPECTED_CALL_WITHIN, count.wait_for(|n| *n >= at_least))
            .await
            .unwrap_or_else(|_| {
                panic!("fewer than {at_least} {what} within {EXPECTED_CALL_WITHIN:?}")
            })
            .map(|_| ())
            .unwrap_or_else(|_| unreachable!("the counter's sender lives in the adapter"));
    }
}

pub mod futures_hook {
    pub type BoxedUnit = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;
}

/// Never calls its throttle: the engine counts each call in the CRM's limit.
#[derive(Default)]
pub struct RecordingAdapter {
    upserts: Mutex<Vec<UpsertCall>>,
    deletes: Mutex<Vec<(String, String)>>,
    upsert_errors: Mutex<VecDeque<AdapterError>>,
    delete_results: Mutex<VecDeque<Result<RemoteDelete, AdapterError>>>,
    delay: Mutex<Option<Duration>>,
    gate: Mutex<Option<Gate>>,
    hook: Mutex<Option<Hook>>,
    started: Counter,
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

    /// Every upsert, once recorded, waits at the gate returned until it is
    /// opened.
    pub fn hold_upserts(&self) -> Gate {
        let gate = Gate::closed();
        *self.gate.lock().unwrap() = Some(gate.clone());
        gate
    }

    /// Waits until `at_least` upserts have been recorded (they are under
    /// way, or done).
    pub async fn upserts_reaching(&self, at_least: usize) {
        self.started.reaching(at_least, "upserts").await;
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

    async fn upsert(
        &self,
        request: UpsertRequest<'_>,
        _throttle: &Throttle<'_>,
    ) -> Result<Option<String>, AdapterError> {
        let call = UpsertCall {
            object_type: request.object_type.to_owned(),
            payload: request.payload.clone(),
            id_property: request.id_property.to_owned(),
            crm_id: request.crm_id.map(str::to_owned),
        };
        self.upserts.lock().unwrap().push(call.clone());
        self.started.add();
        let gate = self.gate.lock().unwrap().clone();
        if let Some(gate) = gate {
            gate.pass().await;
        }
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

    async fn delete(
        &self,
        object_type: &str,
        crm_id: &str,
        _throttle: &Throttle<'_>,
    ) -> Result<RemoteDelete, AdapterError> {
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
}

/// One batch call: each record's payload and known CRM id.
pub type BatchCall = Vec<(Payload, Option<String>)>;

/// An adapter with a batch endpoint, recording batch calls and answering as
/// scripted by markers in the id values.
pub struct BatchRecordingAdapter {
    pub single: RecordingAdapter,
    batch_calls: Mutex<Vec<BatchCall>>,
    max_batch: usize,
    /// A batch containing an id with this marker is rejected as a whole.
    pub reject_marker: Mutex<Option<String>>,
    /// Ids with this marker are missing from the response.
    pub drop_marker: Mutex<Option<String>>,
    /// Ids with this marker get a per-input error.
    pub error_marker: Mutex<Option<String>>,
    /// Ids with this marker are reported missing (deleted in the CRM).
    pub gone_marker: Mutex<Option<String>>,
    /// Response keys are lowercased (as HubSpot does with emails).
    pub lowercase_keys: Mutex<bool>,
    /// The next batch call fails with this run error.
    pub fail_next: Mutex<Option<AdapterError>>,
    /// Runs inside every batch call, before it answers.
    pub during_batch: Mutex<Option<Arc<dyn Fn() -> futures_hook::BoxedUnit + Send + Sync>>>,
    /// Every batch call takes this long.
    batch_delay: Mutex<Option<Duration>>,
    /// Every batch call, once recorded, waits at this gate.
    batch_gate: Mutex<Option<Gate>>,
    batches_started: Counter,
    /// The n-th batch call (1-based) fails with this run error.
    pub fail_call: Mutex<Option<(usize, AdapterError)>>,
    /// Batch calls under way now, and the most seen at once.
    in_flight: std::sync::atomic::AtomicUsize,
    max_in_flight: std::sync::atomic::AtomicUsize,
}

impl BatchRecordingAdapter {
    pub fn new(max_batch: usize) -> Arc<Self> {
        Arc::new(Self {
            single: RecordingAdapter::default(),
            batch_calls: Mutex::default(),
            max_batch,
            reject_marker: Mutex::default(),
            drop_marker: Mutex::default(),
            error_marker: Mutex::default(),
            gone_marker: Mutex::default(),
            lowercase_keys: Mutex::default(),
            fail_next: Mutex::default(),
            during_batch: Mutex::default(),
            batch_delay: Mutex::default(),
            batch_gate: Mutex::default(),
            batches_started: Counter::default(),
            fail_call: Mutex::default(),
            in_flight: Default::default(),
            max_in_flight: Default::default(),
        })
    }

    /// The most batch calls seen under way at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Makes every batch call take `delay` (a slow CRM).
    pub fn delay_batches(&self, delay: Duration) {
        *self.batch_delay.lock().unwrap() = Some(delay);
    }

    /// Every batch call, once recorded, waits at the gate returned until
    /// it is opened.
    pub fn hold_batches(&self) -> Gate {
        let gate = Gate::closed();
        *self.batch_gate.lock().unwrap() = Some(gate.clone());
        gate
    }

    /// Waits until `at_least` batch calls have been recorded (they are
    /// under way, or done).
    pub async fn batch_calls_reaching(&self, at_least: usize) {
        self.batches_started.reaching(at_least, "batch calls").await;
    }

    /// Each batch call's records: payload and known crm id.
    pub fn batch_calls(&self) -> Vec<BatchCall> {
        self.batch_calls.lock().unwrap().clone()
    }

    pub fn set(&self, field: &Mutex<Option<String>>, marker: &str) {
        *field.lock().unwrap() = Some(marker.to_owned());
    }
}

fn marked(marker: &Mutex<Option<String>>, value: &str) -> bool {
    marker
        .lock()
        .unwrap()
        .as_deref()
        .is_some_and(|m| value.contains(m))
}

#[async_trait]
impl Adapter for BatchRecordingAdapter {
    fn kind(&self) -> &'static str {
        "batch-recording"
    }

    async fn upsert(
        &self,
        request: UpsertRequest<'_>,
        throttle: &Throttle<'_>,
    ) -> Result<Option<String>, AdapterError> {
        self.single.upsert(request, throttle).await
    }

    async fn delete(
        &self,
        object_type: &str,
        crm_id: &str,
        throttle: &Throttle<'_>,
    ) -> Result<RemoteDelete, AdapterError> {
        self.single.delete(object_type, crm_id, throttle).await
    }

    fn batch(&self) -> Option<&dyn etlify::adapters::BatchAdapter> {
        Some(self)
    }
}

#[async_trait]
impl etlify::adapters::BatchAdapter for BatchRecordingAdapter {
    fn max_batch_size(&self) -> usize {
        self.max_batch
    }

    async fn batch_upsert(
        &self,
        _object_type: &str,
        records: &[etlify::adapters::BatchItem<'_>],
        id_property: &str,
        _throttle: &Throttle<'_>,
    ) -> Result<etlify::adapters::BatchUpsertResult, AdapterError> {
        use std::sync::atomic::Ordering::SeqCst;
        assert!(records.len() <= self.max_batch, "the engine slices batches");
        let call = {
            let mut calls = self.batch_calls.lock().unwrap();
            calls.push(
                records
                    .iter()
                    .map(|r| (r.payload.clone(), r.crm_id.map(str::to_owned)))
                    .collect(),
            );
            calls.len()
        };
        self.batches_started.add();
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.max_in_flight.fetch_max(now, SeqCst);
        let gate = self.batch_gate.lock().unwrap().clone();
        if let Some(gate) = gate {
            gate.pass().await;
        }
        let delay = *self.batch_delay.lock().unwrap();
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        self.in_flight.fetch_sub(1, SeqCst);
        let failing = {
            let mut fail_call = self.fail_call.lock().unwrap();
            match fail_call.as_ref() {
                Some((n, _)) if *n == call => fail_call.take().map(|(_, e)| e),
                _ => None,
            }
        };
        if let Some(error) = failing {
            return Err(error);
        }
        let hook = self.during_batch.lock().unwrap().clone();
        if let Some(hook) = hook {
            hook().await;
        }
        if let Some(error) = self.fail_next.lock().unwrap().take() {
            return Err(error);
        }
        let ids: Vec<String> = records
            .iter()
            .map(|r| id_value(r.payload, id_property).unwrap_or_default())
            .collect();
        if ids.iter().any(|id| marked(&self.reject_marker, id)) {
            return Err(AdapterError::new(
                etlify::adapters::AdapterErrorKind::ValidationFailed,
                "batch rejected: invalid input",
            )
            .status(400));
        }
        let mut result = etlify::adapters::BatchUpsertResult::default();
        for (record, id) in records.iter().zip(ids) {
            if marked(&self.drop_marker, &id) {
                continue;
            }
            if marked(&self.gone_marker, &id) && record.crm_id.is_some() {
                result.errors.push(etlify::adapters::BatchItemError {
                    id_value: Some(id.clone()),
                    error: AdapterError::new(
                        etlify::adapters::AdapterErrorKind::NotFound,
                        "OBJECT_NOT_FOUND",
                    )
                    .status(207),
                });
                continue;
            }
            if marked(&self.error_marker, &id) {
                result.errors.push(etlify::adapters::BatchItemError {
                    id_value: Some(id.clone()),
                    error: AdapterError::new(
                        etlify::adapters::AdapterErrorKind::ValidationFailed,
                        format!("INVALID_EMAIL {id}"),
                    ),
                });
                continue;
            }
            let crm_id = record
                .crm_id
                .map(str::to_owned)
                .unwrap_or_else(|| format!("crm-{id}"));
            let key = if *self.lowercase_keys.lock().unwrap() {
                id.to_lowercase()
            } else {
                id
            };
            result.crm_ids.insert(key, crm_id.to_lowercase());
        }
        Ok(result)
    }

    async fn batch_delete(
        &self,
        _object_type: &str,
        _crm_ids: &[String],
        _throttle: &Throttle<'_>,
    ) -> Result<(), AdapterError> {
        Ok(())
    }
}
