//! A signed webhook: records POSTed as JSON events to the team's own
//! service (issue 30, item 5; docs/ADAPTERS.md, "Webhook").
//!
//! Files: `config.rs` (settings and the response mapping), `events.rs`
//! (the body and its idempotency keys), `signature.rs` (the
//! `Etlify-Signature` header), `response.rs` (the answer's outcomes), this
//! file (the adapter: one request per call, or per slice of a batch).
//!
//! Every attempt of a request is safe to repeat: its events carry keys a
//! receiver applies once, so unlike a CRM's create, a lost answer is
//! retried rather than left to the next sync.

mod config;
mod events;
mod response;
mod signature;

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Method;

pub use self::config::{ResponseMapping, WebhookConfig, DEFAULT_BATCH_SIZE, MAX_BATCH_SIZE};
use self::events::{call_nonce, envelope, Event};
use self::response::{classify, outcomes, Outcome};
pub use self::signature::{signature_header, SIGNATURE_HEADER};
use super::http::{HttpClient, HttpRequest, Secret};
use super::{
    id_value, Access, Adapter, AdapterError, AdapterErrorKind, BatchAdapter, BatchItem,
    BatchItemError, BatchUpsertResult, RemoteDelete, Throttle, UpsertRequest,
};
use crate::error::ConfigError;

/// The header carrying the request's idempotency key.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// The webhook adapter.
#[derive(Debug)]
pub struct WebhookAdapter {
    http: HttpClient,
    signing_secret: Secret,
    batch_size: usize,
    response: Option<ResponseMapping>,
}

impl WebhookAdapter {
    /// An adapter POSTing to `config.url`.
    pub fn new(config: WebhookConfig) -> Result<Self, ConfigError> {
        if !(1..=MAX_BATCH_SIZE).contains(&config.batch_size) {
            return Err(ConfigError::new(
                "webhook",
                "batch_size",
                format!("must be between 1 and {MAX_BATCH_SIZE}"),
            ));
        }
        if config.signing_secret.expose().trim().is_empty() {
            return Err(ConfigError::new(
                "webhook",
                "signing_secret",
                "must not be empty (set it from the environment, e.g. WEBHOOK_SIGNING_SECRET)",
            ));
        }
        for (key, pointer) in config.response.iter().flat_map(ResponseMapping::pointers) {
            if !pointer.starts_with('/') {
                return Err(ConfigError::new(
                    "webhook",
                    key,
                    format!("must be a JSON pointer such as \"/results\", got {pointer:?}"),
                ));
            }
        }
        let http =
            HttpClient::without_credential(&config.url, config.http, config.connections.as_ref())
                .map_err(|error| match error.field() {
                    "base_url" => ConfigError::new("webhook", "url", error.expected()),
                    _ => error,
                })?
                .hide_path();
        Ok(Self {
            http,
            signing_secret: config.signing_secret,
            batch_size: config.batch_size,
            response: config.response,
        })
    }

    /// POSTs `events`, signed, and reads each one's outcome.
    async fn post(
        &self,
        events: &[Event<'_>],
        throttle: &Throttle<'_>,
    ) -> Result<Vec<Outcome>, AdapterError> {
        let envelope = envelope(events, &call_nonce())?;
        // Signed once: every attempt sends the same bytes, key and time.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let signature = signature_header(&self.signing_secret, now, &envelope.body);
        let header = |name: &'static str, value: &str| {
            HeaderValue::from_str(value)
                .map(|value| (HeaderName::from_static(name), value))
                .map_err(|_| {
                    AdapterError::new(AdapterErrorKind::Other, format!("{name} is not a header"))
                })
        };
        let (signature_name, signature_value) = header(SIGNATURE_HEADER, &signature)?;
        let (key_name, key_value) = header(IDEMPOTENCY_KEY_HEADER, &envelope.key)?;
        let request = HttpRequest::new(Method::POST, Vec::<String>::new())
            .json_bytes(envelope.body)
            .header(signature_name, signature_value)
            .header(key_name, key_value);
        let response = self.http.send(&request, classify, throttle).await?;
        outcomes(self.response.as_ref(), &response.body, events.len())
    }

    /// The outcome of a request of one event.
    async fn post_one(
        &self,
        event: Event<'_>,
        throttle: &Throttle<'_>,
    ) -> Result<Outcome, AdapterError> {
        self.post(&[event], throttle)
            .await?
            .pop()
            .ok_or_else(|| AdapterError::new(AdapterErrorKind::Other, "no outcome for the event"))
    }
}

#[async_trait]
impl Adapter for WebhookAdapter {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    async fn upsert(
        &self,
        request: UpsertRequest<'_>,
        throttle: &Throttle<'_>,
    ) -> Result<Option<String>, AdapterError> {
        let event = Event::Upsert {
            object_type: request.object_type,
            id_property: request.id_property,
            crm_id: request.crm_id.map(str::trim).filter(|id| !id.is_empty()),
            data: request.payload,
        };
        let outcome = self.post_one(event, throttle).await?;
        match outcome.error {
            Some(error) => Err(error),
            // Without an id in the answer, the receiver knows the object
            // by its id property's value.
            None => Ok(outcome
                .id
                .or_else(|| id_value(request.payload, request.id_property))),
        }
    }

    async fn delete(
        &self,
        object_type: &str,
        crm_id: &str,
        throttle: &Throttle<'_>,
    ) -> Result<RemoteDelete, AdapterError> {
        let event = Event::Delete {
            object_type,
            crm_id,
        };
        match self.post_one(event, throttle).await?.error {
            None => Ok(RemoteDelete::Deleted),
            Some(error) if error.kind() == AdapterErrorKind::NotFound => Ok(RemoteDelete::NotFound),
            Some(error) => Err(error),
        }
    }

    /// A `ping` event: signed like the others, applied to nothing.
    async fn check_access(
        &self,
        object_type: &str,
        throttle: &Throttle<'_>,
    ) -> Result<Access, AdapterError> {
        match self
            .post_one(Event::Ping { object_type }, throttle)
            .await?
            .error
        {
            None => Ok(Access::Granted),
            Some(error) => Err(error),
        }
    }

    fn batch(&self) -> Option<&dyn BatchAdapter> {
        Some(self)
    }
}

#[async_trait]
impl BatchAdapter for WebhookAdapter {
    fn max_batch_size(&self) -> usize {
        self.batch_size
    }

    /// One request per slice of `batch_size`; an event the receiver
    /// rejects fails its record only. A slice rejected as a whole is the
    /// call's error; slices sent before it stay applied.
    async fn batch_upsert(
        &self,
        object_type: &str,
        records: &[BatchItem<'_>],
        id_property: &str,
        throttle: &Throttle<'_>,
    ) -> Result<BatchUpsertResult, AdapterError> {
        let mut result = BatchUpsertResult::default();
        // Batched records are told apart by their id property's value.
        let mut keyed = Vec::with_capacity(records.len());
        for record in records {
            match id_value(record.payload, id_property) {
                Some(value) => keyed.push((value, record)),
                None => result.errors.push(BatchItemError {
                    id_value: None,
                    error: AdapterError::new(
                        AdapterErrorKind::ValidationFailed,
                        format!("no value of the id property {id_property:?} to match it by"),
                    ),
                }),
            }
        }
        for slice in keyed.chunks(self.batch_size) {
            let events: Vec<Event<'_>> = slice
                .iter()
                .map(|(_, record)| Event::Upsert {
                    object_type,
                    id_property,
                    crm_id: record.crm_id,
                    data: record.payload,
                })
                .collect();
            let outcomes = self.post(&events, throttle).await?;
            for ((value, _), outcome) in slice.iter().zip(outcomes) {
                match outcome.error {
                    Some(error) => result.errors.push(BatchItemError {
                        id_value: Some(value.clone()),
                        error,
                    }),
                    None => {
                        let id = outcome.id.unwrap_or_else(|| value.clone());
                        result.crm_ids.insert(value.clone(), id);
                    }
                }
            }
        }
        Ok(result)
    }

    /// Delete events in slices; an object already gone is no error.
    async fn batch_delete(
        &self,
        object_type: &str,
        crm_ids: &[String],
        throttle: &Throttle<'_>,
    ) -> Result<(), AdapterError> {
        for slice in crm_ids.chunks(self.batch_size) {
            let events: Vec<Event<'_>> = slice
                .iter()
                .map(|crm_id| Event::Delete {
                    object_type,
                    crm_id,
                })
                .collect();
            for outcome in self.post(&events, throttle).await? {
                match outcome.error {
                    Some(error) if error.kind() != AdapterErrorKind::NotFound => return Err(error),
                    _ => {}
                }
            }
        }
        Ok(())
    }
}
