//! Settings of the webhook adapter.

use crate::adapters::http::{origin_of, HttpConnections, HttpSettings, Secret};

/// Events per request by default.
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// Most events one request may carry.
pub const MAX_BATCH_SIZE: usize = 1_000;

/// Where in the receiver's answer each event's outcome is, as JSON
/// pointers (RFC 6901): `items` to an array with one entry per event, in
/// the order sent; within an entry, `id` to the object's id, `status` to
/// an HTTP-like status (2xx accepted, 404 not found, 4xx rejected) and
/// `error` to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseMapping {
    pub(super) items: String,
    pub(super) id: Option<String>,
    pub(super) status: Option<String>,
    pub(super) error: Option<String>,
}

impl ResponseMapping {
    /// Entries of the array at `items` (e.g. `/results`).
    pub fn new(items: impl Into<String>) -> Self {
        Self {
            items: items.into(),
            id: None,
            status: None,
            error: None,
        }
    }

    /// The object's id within an entry (e.g. `/id`).
    pub fn id(mut self, pointer: impl Into<String>) -> Self {
        self.id = Some(pointer.into());
        self
    }

    /// The event's status within an entry (e.g. `/status`).
    pub fn status(mut self, pointer: impl Into<String>) -> Self {
        self.status = Some(pointer.into());
        self
    }

    /// The event's error message within an entry (e.g. `/error`); an entry
    /// where it is set (not null) failed, whatever its status.
    pub fn error(mut self, pointer: impl Into<String>) -> Self {
        self.error = Some(pointer.into());
        self
    }

    /// Each pointer with the key naming it, for validation.
    pub(super) fn pointers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("response.items", Some(self.items.as_str())),
            ("response.id", self.id.as_deref()),
            ("response.status", self.status.as_deref()),
            ("response.error", self.error.as_deref()),
        ]
        .into_iter()
        .filter_map(|(key, pointer)| pointer.map(|pointer| (key, pointer)))
    }
}

/// How to reach one receiving service.
#[derive(Clone)]
pub struct WebhookConfig {
    pub(super) url: String,
    pub(super) signing_secret: Secret,
    pub(super) batch_size: usize,
    pub(super) response: Option<ResponseMapping>,
    pub(super) http: HttpSettings,
    pub(super) connections: Option<HttpConnections>,
}

impl WebhookConfig {
    /// Events POSTed to `url`, signed with `signing_secret`.
    pub fn new(url: impl Into<String>, signing_secret: impl Into<Secret>) -> Self {
        Self {
            url: url.into(),
            signing_secret: signing_secret.into(),
            batch_size: DEFAULT_BATCH_SIZE,
            response: None,
            http: HttpSettings::default(),
            connections: None,
        }
    }

    /// Events per request (1 to 1,000; default 100).
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size;
        self
    }

    /// Reads ids and per-event outcomes from the answer; without it, a
    /// 2xx accepts every event and the object's id is its id property's
    /// value.
    pub fn response(mut self, mapping: ResponseMapping) -> Self {
        self.response = Some(mapping);
        self
    }

    /// Timeouts and retries.
    pub fn http(mut self, http: HttpSettings) -> Self {
        self.http = http;
        self
    }

    /// Shares the pooled connections of `connections` (G-15).
    pub fn connections(mut self, connections: HttpConnections) -> Self {
        self.connections = Some(connections);
        self
    }

    /// Events per request.
    pub fn get_batch_size(&self) -> usize {
        self.batch_size
    }

    /// Where the answer's outcomes are, if read.
    pub fn get_response(&self) -> Option<&ResponseMapping> {
        self.response.as_ref()
    }

    /// Timeouts and retries.
    pub fn get_http(&self) -> &HttpSettings {
        &self.http
    }
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret is redacted by `Secret`; a webhook URL's path or
        // query often holds a token of its own.
        f.debug_struct("WebhookConfig")
            .field("url", &origin_of(&self.url))
            .field("signing_secret", &self.signing_secret)
            .field("batch_size", &self.batch_size)
            .field("response", &self.response)
            .field("http", &self.http)
            .field("connections", &self.connections.is_some())
            .finish()
    }
}
