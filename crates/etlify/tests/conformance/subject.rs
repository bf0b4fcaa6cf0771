//! What the scenarios need from an adapter and its sandbox.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use etlify::adapters::{Adapter, HttpSettings, RetryPolicy};
use etlify::Payload;
use etlify_sandbox::{FaultConfig, RequestLogSnapshot};
use serde_json::{json, Value};

/// The scenarios of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    Create,
    UpdateById,
    MatchByProperty,
    BatchWithOneBadRecord,
    ThrottledWithDelayHeader,
    ThrottledWithoutDelayHeader,
    ServerErrorBursts,
    LostResponse,
    HostileNames,
    ArchiveDelete,
    CheckAccess,
    RateLimitInFlight,
    SecretsAbsent,
}

/// One object the CRM stores (live ones only: archived or deleted objects
/// are left out), as the sandbox holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    /// The CRM's id of the object.
    pub id: String,
    /// The value of the id property.
    pub key: Option<String>,
    /// The value of the name property ([`Subject::payload`]'s `name`).
    pub name: Option<String>,
}

/// One adapter on its sandbox.
#[async_trait]
pub(crate) trait Subject: Sized + Send + Sync + 'static {
    /// The adapter's name, as `adapter = "…"` in the TOML file.
    const NAME: &'static str;

    /// A sandbox of its own: no rate limit, no fault, a schema under which
    /// [`Subject::invalid_payload`] is rejected.
    async fn start() -> Self;

    /// The adapter's type.
    type Adapter: Adapter + std::fmt::Debug;

    /// The adapter on the sandbox, with `credential` (the accepted one
    /// when `None`), retrying by `http`.
    fn concrete(&self, credential: Option<&str>, http: HttpSettings) -> Self::Adapter;

    /// The credential the sandbox accepts: it must appear in no log line
    /// and no error.
    fn secret(&self) -> &'static str;

    /// The object type the scenarios write.
    fn object_type(&self) -> &'static str;

    /// The property matching an object (`Binding`'s id property).
    fn id_property(&self) -> &'static str;

    /// The property holding a name ([`Stored::name`]).
    fn name_property(&self) -> &'static str;

    /// A property the CRM takes numbers in only.
    fn number_property(&self) -> &'static str;

    /// The live objects of [`Subject::object_type`].
    fn stored(&self) -> Vec<Stored>;

    /// Replaces the sandbox's faults of this API.
    fn set_faults(&self, faults: FaultConfig);

    /// The sandbox answers 429 beyond `max` requests per `window` (every
    /// bucket of this API), with `Retry-After` when `retry_after`.
    fn limit(&self, max: u64, window: Duration, retry_after: bool);

    /// The sandbox's request log.
    fn log(&self) -> RequestLogSnapshot;

    /// The highest number of requests seen in one window of the buckets
    /// [`Subject::limit`] sets.
    fn peak(&self, log: &RequestLogSnapshot) -> u64;

    /// Why this adapter cannot support `scenario`, when it cannot; the
    /// reason is given in docs/ADAPTERS.md too.
    fn unsupported(_scenario: Scenario) -> Option<&'static str> {
        None
    }

    /// [`Subject::concrete`], as the engine holds it.
    fn adapter_with(&self, credential: Option<&str>, http: HttpSettings) -> Arc<dyn Adapter> {
        Arc::new(self.concrete(credential, http))
    }

    /// The adapter with the accepted credential, retrying quickly.
    fn adapter(&self) -> Arc<dyn Adapter> {
        self.adapter_with(None, quick_retries())
    }

    /// The adapter's `Debug`, which must not show the credential.
    fn adapter_debug(&self) -> String {
        format!("{:?}", self.concrete(None, quick_retries()))
    }

    /// A payload the CRM accepts, matched by `key`, named `name`.
    fn payload(&self, key: &str, name: &str) -> Payload {
        self.payload_of(key, json!(name), json!(12))
    }

    /// A payload matched by `key` that the CRM rejects (a word where it
    /// takes a number).
    fn invalid_payload(&self, key: &str) -> Payload {
        self.payload_of(key, json!("Bad"), json!("many"))
    }

    /// The payload of `key`, `name` and `number`.
    fn payload_of(&self, key: &str, name: Value, number: Value) -> Payload {
        let mut payload = Payload::new();
        payload.insert(self.id_property().to_owned(), json!(key));
        payload.insert(self.name_property().to_owned(), name);
        payload.insert(self.number_property().to_owned(), number);
        payload
    }

    /// The live object matched by `key`, if exactly one; panics on two.
    fn stored_by_key(&self, key: &str) -> Option<Stored> {
        let mut found: Vec<Stored> = self
            .stored()
            .into_iter()
            .filter(|stored| stored.key.as_deref() == Some(key))
            .collect();
        assert!(found.len() <= 1, "two objects match {key}: {found:?}");
        found.pop()
    }
}

/// Retries of 20 ms doubling up to 2 s (so that a `Retry-After: 1` is
/// honoured whole), 8 attempts: a 300 ms window is waited out by backoff.
pub(crate) fn quick_retries() -> HttpSettings {
    HttpSettings::default().retry(
        RetryPolicy::default()
            .max_attempts(8)
            .base_delay(Duration::from_millis(20))
            .max_delay(Duration::from_secs(2)),
    )
}
