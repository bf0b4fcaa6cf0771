//! Adapter failures, classified (X-3, X-11; docs/ADAPTERS.md, "Errors").

use std::fmt;
use std::time::Duration;

/// Coarse classification of an adapter failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AdapterErrorKind {
    /// 401/403: the credentials are wrong; stops the run.
    Unauthorized,
    /// 404: the object does not exist.
    NotFound,
    /// 429: throttled; never a record error.
    RateLimited,
    /// 400/409/422 for this input: the record's fault.
    ValidationFailed,
    /// 5xx, timeout, connection failure: try again later.
    Transient,
    /// Anything else.
    Other,
}

/// A failed adapter call, with what the CRM said about it.
///
/// Never carries credentials: adapters build it from the response body
/// and status, not from the request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AdapterError {
    /// Classification.
    pub(crate) kind: AdapterErrorKind,
    /// The vendor's message (or the transport's).
    pub(crate) message: String,
    /// HTTP status, when there was a response.
    pub(crate) status: Option<u16>,
    /// Vendor error category/type, e.g. `VALIDATION_ERROR`.
    pub(crate) category: Option<String>,
    /// Vendor correlation id, for support requests.
    pub(crate) correlation_id: Option<String>,
    /// Delay the server asked for before retrying.
    pub(crate) retry_after: Option<Duration>,
    /// The vendor's structured details (per-input or per-property errors),
    /// as it sent them.
    pub(crate) details: Option<Box<serde_json::Value>>,
    /// The registered CRM the error came from, set by the engine (errors
    /// that end a run name their CRM).
    pub(crate) crm: Option<Box<str>>,
    /// A create was sent and its answer lost: the object may exist.
    pub(crate) create_outcome_unknown: bool,
    /// An update-only sync found no object to update.
    pub(crate) no_object_to_update: bool,
}

impl AdapterError {
    /// An error of `kind` with `message`.
    pub fn new(kind: AdapterErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: None,
            category: None,
            correlation_id: None,
            retry_after: None,
            details: None,
            crm: None,
            create_outcome_unknown: false,
            no_object_to_update: false,
        }
    }

    /// Names the registered CRM the error came from.
    pub fn crm(mut self, crm_name: impl Into<String>) -> Self {
        self.crm = Some(crm_name.into().into_boxed_str());
        self
    }

    /// Sets the HTTP status.
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Sets the vendor category.
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// Sets the correlation id.
    pub fn correlation_id(mut self, id: impl Into<String>) -> Self {
        self.correlation_id = Some(id.into());
        self
    }

    /// Sets the server-requested delay.
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// Sets the vendor's structured details.
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    /// Marks the error as the lost answer of a create: the request was
    /// sent, the CRM may have created the object, so repeating the create
    /// could make a second one. A batch run then counts the record as in
    /// doubt and goes on with the others; its next sync looks for the
    /// object first ([`crate::BatchStats::in_doubt`]).
    pub fn create_outcome_unknown(mut self) -> Self {
        self.create_outcome_unknown = true;
        self
    }

    /// Whether a create was sent and its answer lost
    /// ([`AdapterError::create_outcome_unknown`]).
    pub fn is_create_outcome_unknown(&self) -> bool {
        self.create_outcome_unknown
    }

    /// An update-only upsert ([`crate::WriteMode::UpdateOnly`]) found no
    /// object to update: nothing was created. Not a failure of the record:
    /// it is stamped and looked at again when it changes.
    pub fn no_object_to_update(mut self) -> Self {
        self.no_object_to_update = true;
        self
    }

    /// Whether this is an update-only upsert that found no object
    /// ([`AdapterError::no_object_to_update`]).
    pub fn is_no_object_to_update(&self) -> bool {
        self.no_object_to_update
    }

    /// Classification.
    pub fn kind(&self) -> AdapterErrorKind {
        self.kind
    }

    /// The vendor's message (or the transport's).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// HTTP status, when there was a response.
    pub fn get_status(&self) -> Option<u16> {
        self.status
    }

    /// Vendor error category/type, e.g. `VALIDATION_ERROR`.
    pub fn get_category(&self) -> Option<&str> {
        self.category.as_deref()
    }

    /// Vendor correlation id, for support requests.
    pub fn get_correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// Delay the server asked for before retrying.
    pub fn get_retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The vendor's structured details (per-input or per-property errors),
    /// as it sent them.
    pub fn get_details(&self) -> Option<&serde_json::Value> {
        self.details.as_deref()
    }

    /// The registered CRM the error came from, when the engine named it.
    pub fn get_crm(&self) -> Option<&str> {
        self.crm.as_deref()
    }

    /// Whether the same request may succeed later unchanged.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self.kind,
            AdapterErrorKind::RateLimited | AdapterErrorKind::Transient
        )
    }

    /// Whether the failure is attributable to the record itself, and so
    /// counts against its error budget.
    pub fn is_record_error(&self) -> bool {
        matches!(
            self.kind,
            AdapterErrorKind::ValidationFailed
                | AdapterErrorKind::NotFound
                | AdapterErrorKind::Other
        )
    }
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            AdapterErrorKind::Unauthorized => "unauthorized",
            AdapterErrorKind::NotFound => "not found",
            AdapterErrorKind::RateLimited => "rate limited",
            AdapterErrorKind::ValidationFailed => "validation failed",
            AdapterErrorKind::Transient => "transient failure",
            AdapterErrorKind::Other => "CRM error",
        };
        if let Some(crm) = &self.crm {
            write!(f, "{crm}: ")?;
        }
        write!(f, "{kind}")?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(category) = &self.category {
            write!(f, " [{category}]")?;
        }
        if let Some(id) = &self.correlation_id {
            write!(f, " (correlation id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AdapterError {}
