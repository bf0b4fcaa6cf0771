//! The HTTP client shared by the CRM adapters (G-15).
//!
//! A pooled `reqwest` client per adapter, or per [`HttpConnections`]
//! handed to several adapters (rustls, gzip), a connect
//! timeout of 5 s and a request timeout of 30 s by default, JSON bodies,
//! response headers kept (for `Retry-After` and rate-limit headers), the
//! call's [`Throttle`] awaited before **every** request (G-8), retries of
//! throttled and transient failures with backoff (X-3), and path segments
//! URL-encoded (X-16). The credential is a [`Secret`]: it is sent in the
//! `Authorization` header, marked sensitive, and appears in no `Debug`,
//! `Display`, log line or error.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Url};
use serde_json::Value;

use super::retry::RetryPolicy;
use super::{AdapterError, AdapterErrorKind};
use crate::error::ConfigError;
use crate::ratelimit::Throttle;

/// A credential (API token). Shown as `***` everywhere.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<&str> for Secret {
    fn from(token: &str) -> Self {
        Self::new(token)
    }
}

impl From<String> for Secret {
    fn from(token: String) -> Self {
        Self::new(token)
    }
}

/// Timeouts and retries of an HTTP adapter.
///
/// ```
/// # use std::time::Duration;
/// # use etlify::adapters::{HttpSettings, RetryPolicy};
/// let http = HttpSettings::default()
///     .request_timeout(Duration::from_secs(20))
///     .retry(RetryPolicy::none());
/// assert_eq!(http.get_retry().get_max_attempts(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    connect_timeout: Duration,
    request_timeout: Duration,
    retry: RetryPolicy,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

impl HttpSettings {
    /// Time allowed to open a connection (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for a whole request (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Retries of throttled and transient failures.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Time allowed to open a connection.
    pub fn get_connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Time allowed for a whole request.
    pub fn get_request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Retries of throttled and transient failures.
    pub fn get_retry(&self) -> &RetryPolicy {
        &self.retry
    }
}

/// A response, body parsed as JSON (`Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// Parsed body.
    pub body: Value,
    /// Raw body text (for error messages when the body is not JSON).
    pub text: String,
}

impl HttpResponse {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `Retry-After` in seconds, when given.
    pub fn retry_after(&self) -> Option<Duration> {
        let value = self.header("retry-after")?.trim();
        value
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
    }
}

/// Turns a non-success response into a classified error (vendor-specific).
pub type Classify = fn(&HttpResponse) -> AdapterError;

/// One request: method, path segments (encoded here), query, JSON body.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    method: Method,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    body: Option<Value>,
    /// A JSON body sent as these exact bytes (a signature covers them).
    raw_body: Option<Vec<u8>>,
    /// Headers of this request only (a signature, an idempotency key).
    headers: Vec<(HeaderName, HeaderValue)>,
    creates: bool,
    /// A vendor budget of this kind of request, besides the CRM's limit
    /// (HubSpot's searches).
    budget: Option<&'static str>,
}

impl HttpRequest {
    /// A request to the base URL plus `segments`, each percent-encoded.
    pub fn new<I, S>(method: Method, segments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            method,
            segments: segments.into_iter().map(Into::into).collect(),
            query: Vec::new(),
            body: None,
            raw_body: None,
            headers: Vec::new(),
            creates: false,
            budget: None,
        }
    }

    /// Counts the request against the vendor budget `budget` too (a
    /// separate limit of this kind of request, such as HubSpot's search
    /// limit per second; [`crate::ratelimit::Budget::some_requests`]).
    pub fn budget(mut self, budget: &'static str) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Marks the request as creating an object: repeating it after an
    /// unknown outcome (the connection dropped after sending, a timeout, a
    /// 5xx) could create a second object, so it is then not retried; the
    /// error says so, and the next sync looks for the object first.
    pub fn creates(mut self) -> Self {
        self.creates = true;
        self
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Sets the JSON body.
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Sets a JSON body already serialized: these bytes are sent as they
    /// are, on every attempt (a signature over them stays valid).
    pub fn json_bytes(mut self, body: Vec<u8>) -> Self {
        self.raw_body = Some(body);
        self
    }

    /// Adds a header to this request (on every attempt).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// Reads "(remaining, of)" requests in the CRM's window from a response.
pub type RemainingInWindow = fn(&HttpResponse) -> Option<(u32, Option<u32>)>;

/// A CRM's HTTP client.
pub struct HttpClient {
    client: reqwest::Client,
    base_url: Url,
    /// `None`: the requests carry no `Authorization` (a signed webhook).
    authorization: Option<HeaderValue>,
    settings: HttpSettings,
    /// Whether logs may show the request's path (not when the URL's path
    /// may hold a secret, as a webhook's can).
    show_path: bool,
    /// Reads how many requests the CRM still allows in its window, and of
    /// how many when it says.
    remaining: Option<RemainingInWindow>,
}

/// `url` with any user name and password replaced by `***`, for `Debug`,
/// logs and errors (a base URL may carry credentials).
pub(crate) fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            // Both only fail for URLs that cannot carry credentials.
            let _ = parsed.set_username("***");
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        // Not a URL: it could still hold a secret, so it is not shown.
        Err(_) => "<not a URL>".to_owned(),
    }
}

/// `scheme://host:port/…` of `url`: its path and query left out, as they
/// may hold a secret (a webhook URL's often do).
pub(crate) fn origin_of(url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed) if parsed.has_host() => format!("{}/…", parsed.origin().ascii_serialization()),
        _ => "<not a URL>".to_owned(),
    }
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field(
                "base_url",
                &if self.show_path {
                    redact_url(self.base_url.as_str())
                } else {
                    origin_of(self.base_url.as_str())
                },
            )
            .field("authorization", &"<redacted>")
            .field("settings", &self.settings)
            .finish()
    }
}

/// A pool of HTTP connections that adapters share when they are handed
/// clones of it (G-15): their requests to one host reuse the same
/// connections. An adapter given none has a pool of its own, so two
/// engines (or adapters) in one process share no connection by accident.
/// Adapters with another connect timeout get another pool.
#[derive(Clone, Default)]
pub struct HttpConnections {
    clients: Arc<Mutex<HashMap<Duration, reqwest::Client>>>,
}

impl fmt::Debug for HttpConnections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HttpConnections")
    }
}

impl HttpConnections {
    /// An empty pool, to hand to the adapters that should share it.
    pub fn new() -> Self {
        Self::default()
    }

    /// The pooled client for `connect_timeout`, built on first use.
    fn client(&self, connect_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = clients.get(&connect_timeout) {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(concat!("etlify-rs/", env!("CARGO_PKG_VERSION")))
            .build()?;
        clients.insert(connect_timeout, client.clone());
        Ok(client)
    }
}

impl HttpClient {
    /// A client for `base_url`, sending `Authorization: Bearer <token>`,
    /// on the pooled connections of `connections` (a pool of its own when
    /// `None`).
    pub fn new(
        base_url: &str,
        token: &Secret,
        settings: HttpSettings,
        connections: Option<&HttpConnections>,
    ) -> Result<Self, ConfigError> {
        if token.expose().trim().is_empty() {
            return Err(ConfigError::new(
                "adapter",
                "token",
                "must not be empty (set it from the environment, e.g. HUBSPOT_TOKEN)",
            ));
        }
        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| ConfigError::new("adapter", "token", "must be printable ASCII"))?;
        authorization.set_sensitive(true);
        let mut client = Self::build(base_url, settings, connections)?;
        // Segments are appended to the base path: drop a trailing slash.
        if client.base_url.path().ends_with('/') {
            let trimmed = client.base_url.path().trim_end_matches('/').to_owned();
            client.base_url.set_path(&trimmed);
        }
        client.authorization = Some(authorization);
        Ok(client)
    }

    /// A client for `base_url` whose requests carry no `Authorization`
    /// (each request proves itself, e.g. by a signature header), sent to
    /// `base_url` exactly as given (a trailing slash kept) when they name
    /// no segment.
    pub fn without_credential(
        base_url: &str,
        settings: HttpSettings,
        connections: Option<&HttpConnections>,
    ) -> Result<Self, ConfigError> {
        Self::build(base_url, settings, connections)
    }

    fn build(
        base_url: &str,
        settings: HttpSettings,
        connections: Option<&HttpConnections>,
    ) -> Result<Self, ConfigError> {
        let base_url = Url::parse(base_url).map_err(|e| {
            ConfigError::new(
                "adapter",
                "base_url",
                format!("must be an absolute URL ({e})"),
            )
        })?;
        if base_url.cannot_be_a_base() {
            return Err(ConfigError::new(
                "adapter",
                "base_url",
                "must be an http(s) URL",
            ));
        }
        if settings.retry.get_max_attempts() == 0 {
            return Err(ConfigError::new(
                "adapter",
                "retry.max_attempts",
                "must be at least 1",
            ));
        }
        let client = connections
            .cloned()
            .unwrap_or_default()
            .client(settings.connect_timeout)
            .map_err(|e| {
                ConfigError::new("adapter", "http", format!("client could not be built: {e}"))
            })?;
        Ok(Self {
            client,
            base_url,
            authorization: None,
            settings,
            show_path: true,
            remaining: None,
        })
    }

    /// Keeps the request's path out of log lines: the URL's path may hold
    /// a secret (a webhook URL often does).
    pub fn hide_path(mut self) -> Self {
        self.show_path = false;
        self
    }

    /// Reads the CRM's "requests remaining in the window" from each
    /// response, to slow the CRM's limiter down before a 429.
    pub fn with_remaining_header(mut self, remaining: RemainingInWindow) -> Self {
        self.remaining = Some(remaining);
        self
    }

    /// The URL of `segments` under the base URL, each segment encoded.
    pub fn url(&self, segments: &[String]) -> Url {
        let mut url = self.base_url.clone();
        if segments.is_empty() {
            return url;
        }
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(segments);
        }
        url
    }

    /// Sends `request`, each attempt waiting for `throttle` and retried; a
    /// non-success response is turned into an error by `classify`.
    pub async fn send(
        &self,
        request: &HttpRequest,
        classify: Classify,
        throttle: &Throttle<'_>,
    ) -> Result<HttpResponse, AdapterError> {
        // X-16: `.` and `..` would be resolved away by URL normalisation and
        // the request sent to another endpoint.
        if let Some(bad) = request.segments.iter().find(|s| *s == "." || *s == "..") {
            return Err(AdapterError::new(
                AdapterErrorKind::ValidationFailed,
                format!(
                    "`{bad}` cannot be an object type or id in a CRM URL: \
                     it would send the request to another endpoint"
                ),
            ));
        }
        let url = self.url(&request.segments);
        let policy = self.settings.retry;
        let mut attempt = 1;
        loop {
            let (error, outcome_unknown) = match self.send_once(&url, request, throttle).await {
                Ok(response) if (200..300).contains(&response.status) => return Ok(response),
                Ok(response) if response.status == 429 => {
                    // Every request of this CRM waits, not only this one.
                    let error = classify(&response);
                    if let Some(delay) = error.retry_after {
                        throttle.pause(delay);
                    }
                    (error, false)
                }
                Ok(response) => {
                    let error = classify(&response);
                    // A 503 says the server did not take the request; other
                    // 5xx (500, 502, 504: a gateway gave up) may follow a
                    // write that was applied.
                    let unknown = response.status >= 500 && response.status != 503;
                    (error, unknown)
                }
                Err(Unsent(error)) => (error, false),
                Err(MaybeSent(error)) => (error, true),
            };
            if request.creates && outcome_unknown && error.is_retriable() {
                // Never blindly repeated: the CRM may have created it.
                let message = format!(
                    "{}; the create may have been applied, so it is not repeated \
                     (the next sync looks for the object first)",
                    error.message
                );
                return Err(AdapterError { message, ..error }.create_outcome_unknown());
            }
            if !error.is_retriable() || attempt >= policy.get_max_attempts() {
                return Err(error);
            }
            let wait = policy.delay(attempt, error.retry_after);
            if error.kind() == AdapterErrorKind::RateLimited {
                // Waiting out a 429 is waiting on the CRM's rate limit.
                if let Some(metrics) = throttle.metrics() {
                    metrics.waited(wait);
                }
            }
            tracing::warn!(
                message = "CRM request failed; retrying.",
                method = %request.method,
                path = if self.show_path { url.path() } else { "<hidden>" },
                status = error.status,
                error = %error,
                attempt,
                wait_ms = wait.as_millis() as u64
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn send_once(
        &self,
        url: &Url,
        request: &HttpRequest,
        throttle: &Throttle<'_>,
    ) -> Result<HttpResponse, Failed> {
        // The body is written before a slot is taken: the window counts a
        // request from its slot's time, so what happens between the slot
        // and the wire (writing a batch's JSON: milliseconds, more on a
        // loaded machine) widens the spread its margin must cover.
        let body = match &request.body {
            Some(body) => Some(serde_json::to_vec(body).map_err(|error| {
                Unsent(AdapterError::new(
                    AdapterErrorKind::Other,
                    format!("cannot write the request's JSON: {error}"),
                ))
            })?),
            None => None,
        };
        let counted = match request.budget {
            Some(budget) => throttle.request_in(budget).await,
            None => throttle.request().await,
        };
        let sent_at = tokio::time::Instant::now();
        // Each attempt counted once, retries included (`etlify_crm_requests_total`).
        let metrics = throttle.metrics();
        let _in_flight = metrics.map(|metrics| metrics.sending());
        let mut builder = self
            .client
            .request(request.method.clone(), url.clone())
            .timeout(self.settings.request_timeout);
        if let Some(authorization) = &self.authorization {
            builder = builder.header(AUTHORIZATION, authorization.clone());
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.clone(), value.clone());
        }
        if !request.query.is_empty() {
            builder = builder.query(&request.query);
        }
        if let Some(body) = body {
            builder = builder
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body);
        }
        if let Some(body) = &request.raw_body {
            builder = builder
                .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
                .body(body.clone());
        }
        let response = builder.send().await.map_err(|error| {
            if let Some(metrics) = metrics {
                metrics.failed(sent_at.elapsed());
            }
            // A refused connection never reached the server.
            let unsent = error.is_connect();
            let error = transport_error(error);
            if unsent {
                Unsent(error)
            } else {
                MaybeSent(error)
            }
        })?;
        // The window's margin follows the time to the response's head: what
        // comes after (reading and parsing a batch's answer) is this
        // process's own work, not the CRM's counting. Told at once, so the
        // request's place in the window frees as early as it can.
        let answered_after = sent_at.elapsed();
        throttle.answered(&counted, answered_after);
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|error| {
            if let Some(metrics) = metrics {
                metrics.failed(sent_at.elapsed());
            }
            MaybeSent(transport_error(error))
        })?;
        let body = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::Null)
        };
        let response = HttpResponse {
            status,
            headers,
            body,
            text,
        };
        let latency = sent_at.elapsed();
        if let Some(metrics) = metrics {
            metrics.answered(status, latency);
        }
        if let Some((remaining, of)) = self.remaining.and_then(|read| read(&response)) {
            throttle.observe_remaining(remaining, of);
        }
        Ok(response)
    }
}

/// A request that got no response.
enum Failed {
    /// It never reached the server (the connection was refused).
    Unsent(AdapterError),
    /// It may have reached the server and been applied.
    MaybeSent(AdapterError),
}

use Failed::{MaybeSent, Unsent};

/// A response as a test would receive it (status and JSON body).
#[cfg(test)]
pub(crate) fn test_response(status: u16, body: Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: HeaderMap::new(),
        text: if body.is_null() {
            String::new()
        } else {
            body.to_string()
        },
        body,
    }
}

/// A failure before a response arrived: timeout, refused or dropped
/// connection. Retriable. The message names the server's host and port,
/// the first thing to check; the rest of the URL (a path or query may
/// carry an account's identifiers, a URL credentials) is left out.
fn transport_error(error: reqwest::Error) -> AdapterError {
    let server = error
        .url()
        .and_then(|url| {
            Some(format!(
                "{}:{}",
                url.host_str()?,
                url.port_or_known_default()?
            ))
        })
        .unwrap_or_else(|| "the CRM".to_owned());
    let what = if error.is_timeout() {
        format!("request to {server} timed out")
    } else if error.is_connect() {
        format!("could not connect to {server}")
    } else {
        format!("connection to {server} failed")
    };
    // reqwest's own message ("error sending request") says less than the
    // innermost cause ("Connection refused (os error 111)").
    let error = error.without_url();
    let mut cause: &dyn std::error::Error = &error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    AdapterError::new(AdapterErrorKind::Transient, format!("{what}: {cause}"))
}

/// The classification shared by both CRMs (the gem's, docs/ADAPTERS.md): 401/403
/// unauthorized, 404 not found, 409/422 validation, 429 rate limited, 5xx
/// (and 423) transient, 400 validation, anything else other.
pub fn kind_of_status(status: u16) -> AdapterErrorKind {
    match status {
        401 | 403 => AdapterErrorKind::Unauthorized,
        404 => AdapterErrorKind::NotFound,
        400 | 409 | 422 => AdapterErrorKind::ValidationFailed,
        429 => AdapterErrorKind::RateLimited,
        423 | 500..=599 => AdapterErrorKind::Transient,
        _ => AdapterErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show_in_debug() {
        let secret = Secret::new("pat-na1-very-secret");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        let client = HttpClient::new(
            "http://127.0.0.1:1/api/",
            &secret,
            HttpSettings::default(),
            None,
        )
        .unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("very-secret"), "{debug}");
    }

    #[test]
    fn path_segments_are_encoded() {
        let client = HttpClient::new(
            "http://127.0.0.1:1/crm/v3/",
            &Secret::new("t"),
            HttpSettings::default(),
            None,
        )
        .unwrap();
        let url = client.url(&["objects".into(), "con tacts/../x".into(), "a?b#c".into()]);
        assert_eq!(url.path(), "/crm/v3/objects/con%20tacts%2F..%2Fx/a%3Fb%23c");
    }

    #[test]
    fn a_url_without_segments_is_sent_as_given() {
        let hook = "http://127.0.0.1:1/hooks/etlify/?token=t";
        let client = HttpClient::without_credential(hook, HttpSettings::default(), None).unwrap();
        assert_eq!(client.url(&[]).as_str(), hook);
        assert_eq!(
            format!("{:?}", client.hide_path()),
            "HttpClient { base_url: \"http://127.0.0.1:1/…\", authorization: \"<redacted>\", \
             settings: HttpSettings { connect_timeout: 5s, request_timeout: 30s, retry: \
             RetryPolicy { max_attempts: 5, base_delay: 500ms, max_delay: 60s } } }"
        );
    }

    #[test]
    fn statuses_are_classified_like_the_gem() {
        assert_eq!(kind_of_status(401), AdapterErrorKind::Unauthorized);
        assert_eq!(kind_of_status(403), AdapterErrorKind::Unauthorized);
        assert_eq!(kind_of_status(404), AdapterErrorKind::NotFound);
        assert_eq!(kind_of_status(409), AdapterErrorKind::ValidationFailed);
        assert_eq!(kind_of_status(422), AdapterErrorKind::ValidationFailed);
        assert_eq!(kind_of_status(429), AdapterErrorKind::RateLimited);
        assert_eq!(kind_of_status(503), AdapterErrorKind::Transient);
        assert_eq!(kind_of_status(302), AdapterErrorKind::Other);
    }
}
