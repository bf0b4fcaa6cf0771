//! The access token and the instance it is valid on (SALESFORCE-1): asked
//! for with the client-credentials flow on first use, and again when a
//! request answers 401 — once per expired token, however many requests
//! were in flight with it.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use reqwest::Url;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::adapters::http::{redact_url, HttpClient, HttpConnections, HttpSettings, Secret};
use crate::adapters::{AdapterError, AdapterErrorKind};
use crate::error::ConfigError;

/// A token and the client that sends it to its instance.
#[derive(Debug)]
pub(super) struct Session {
    pub(super) http: HttpClient,
    /// Which token this is, to renew it only once.
    pub(super) generation: u64,
}

/// The connected app's credentials and the current session.
pub(super) struct Sessions {
    login: reqwest::Client,
    token_url: Url,
    client_id: Secret,
    client_secret: Secret,
    /// Settings of the data requests' client (retries are the adapter's).
    settings: HttpSettings,
    connections: HttpConnections,
    current: Mutex<Option<Arc<Session>>>,
    /// Tokens asked for so far.
    logins: AtomicU64,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("token_url", &redact_url(self.token_url.as_str()))
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    pub(super) fn new(
        login_url: &str,
        client_id: Secret,
        client_secret: Secret,
        settings: HttpSettings,
        connections: HttpConnections,
    ) -> Result<Self, ConfigError> {
        let refused = |why: String| ConfigError::new("salesforce", "login_url", why);
        let mut token_url =
            Url::parse(login_url).map_err(|e| refused(format!("must be an absolute URL ({e})")))?;
        if token_url.cannot_be_a_base() {
            return Err(refused("must be an http(s) URL".to_owned()));
        }
        if let Ok(mut path) = token_url.path_segments_mut() {
            path.pop_if_empty().extend(["services", "oauth2", "token"]);
        }
        let login = reqwest::Client::builder()
            .connect_timeout(settings.get_connect_timeout())
            .timeout(settings.get_request_timeout())
            .user_agent(concat!("etlify-rs/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ConfigError::new(
                    "salesforce",
                    "http",
                    format!("client could not be built: {e}"),
                )
            })?;
        Ok(Self {
            login,
            token_url,
            client_id,
            client_secret,
            settings,
            connections,
            current: Mutex::new(None),
            logins: AtomicU64::new(0),
        })
    }

    /// The current session, logging in first when there is none.
    pub(super) async fn current(&self) -> Result<Arc<Session>, AdapterError> {
        let mut current = self.current.lock().await;
        if let Some(session) = current.as_ref() {
            return Ok(session.clone());
        }
        let generation = 1 + self.logins.fetch_add(1, Ordering::Relaxed);
        let session = Arc::new(self.log_in(generation).await?);
        *current = Some(session.clone());
        Ok(session)
    }

    /// The token of `generation` was refused: the next request logs in
    /// again, unless another request already did.
    pub(super) async fn expired(&self, generation: u64) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|s| s.generation == generation) {
            *current = None;
        }
    }

    /// `POST {login_url}/services/oauth2/token`, client credentials.
    async fn log_in(&self, generation: u64) -> Result<Session, AdapterError> {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.expose()),
            ("client_secret", self.client_secret.expose()),
        ];
        let response = self
            .login
            .post(self.token_url.clone())
            .form(&form)
            .send()
            .await
            .map_err(|error| self.unreachable(error))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|error| self.unreachable(error))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            return Err(refused_login(status, &body));
        }
        let field = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        let (Some(token), Some(instance)) = (field("access_token"), field("instance_url")) else {
            return Err(AdapterError::new(
                AdapterErrorKind::Other,
                "Salesforce's token answer has no access_token or instance_url",
            )
            .status(status));
        };
        let http = HttpClient::new(
            instance,
            &Secret::new(token),
            self.settings,
            Some(&self.connections),
        )
        .map_err(|error| {
            AdapterError::new(
                AdapterErrorKind::Other,
                format!(
                    "Salesforce's instance_url cannot be used: {}",
                    error.expected()
                ),
            )
        })?;
        tracing::debug!(message = "Logged in to Salesforce.", instance = %redact_url(instance));
        Ok(Session { http, generation })
    }

    /// A login that got no answer: the host and the innermost cause, no URL.
    fn unreachable(&self, error: reqwest::Error) -> AdapterError {
        let host = self
            .token_url
            .host_str()
            .unwrap_or("the login URL")
            .to_owned();
        let timeout = error.is_timeout();
        let error = error.without_url();
        let mut cause: &dyn std::error::Error = &error;
        while let Some(source) = cause.source() {
            cause = source;
        }
        let what = if timeout { "timed out" } else { "failed" };
        AdapterError::new(
            AdapterErrorKind::Transient,
            format!("logging in to Salesforce at {host} {what}: {cause}"),
        )
    }
}

/// A refused login: `{error, error_description}` (SALESFORCE-1). Refused
/// credentials stop the run; a server error may pass.
fn refused_login(status: u16, body: &Value) -> AdapterError {
    let text = |key: &str| body.get(key).and_then(Value::as_str);
    let code = text("error").unwrap_or("login_failed");
    let description = text("error_description").unwrap_or("no description");
    let kind = match status {
        400..=403 => AdapterErrorKind::Unauthorized,
        429 | 500..=599 => AdapterErrorKind::Transient,
        _ => AdapterErrorKind::Other,
    };
    AdapterError::new(
        kind,
        format!("Salesforce refused the connected app's login: {description}"),
    )
    .status(status)
    .category(code)
}
