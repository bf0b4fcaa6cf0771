//! Starting and stopping the server: one loopback listener serving both
//! APIs and the admin API. Connections are served by hyper directly (not
//! `axum::serve`) so that a response marked [`DropConnection`] can close
//! the socket without an answer.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::admin::SandboxAdmin;
use crate::airtable;
use crate::airtable::errors::AirtableError;
use crate::config::SandboxConfig;
use crate::error::SandboxError;
use crate::gate::{DropConnection, RequestFacts};
use crate::hubspot;
use crate::persist;
use crate::request_log::Api;
use crate::state::{AppState, SharedState};

/// Entry point: starts sandboxes.
#[derive(Debug)]
pub struct Sandbox;

impl Sandbox {
    /// Validates `config`, loads the state file if any, binds the listener
    /// and serves until [`RunningSandbox::shutdown`] (or drop).
    pub async fn start(config: SandboxConfig) -> Result<RunningSandbox, SandboxError> {
        config.validate()?;
        let addr = SocketAddr::new(config.host, config.port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let state: SharedState = Arc::new(AppState::new(config));
        if let Some(path) = &state.config.state_file {
            persist::load(&state, path)?;
        }
        let router = build_router(state.clone());
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let connections = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(accept_loop(
            listener,
            router,
            shutdown_rx,
            connections.clone(),
        ));
        Ok(RunningSandbox {
            addr: local_addr,
            state,
            shutdown_tx,
            task: Some(task),
            connections,
        })
    }
}

/// A sandbox serving on a loopback port.
#[derive(Debug)]
pub struct RunningSandbox {
    addr: SocketAddr,
    state: SharedState,
    shutdown_tx: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    connections: Arc<AtomicU64>,
}

impl RunningSandbox {
    /// TCP connections accepted so far: lets a test check that clients
    /// reuse pooled connections.
    pub fn connections_accepted(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// The bound address (with the real port when 0 was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stands for `https://api.hubapi.com` (paths `/crm/v3/objects/…` are appended).
    pub fn hubspot_base_url(&self) -> String {
        self.base_url()
    }

    /// Stands for `https://api.airtable.com/v0` (paths `/{baseId}/{table}` are appended).
    pub fn airtable_base_url(&self) -> String {
        format!("{}/v0", self.base_url())
    }

    /// The webhook receiver's URL (`webhook.path`, default `/webhook`).
    pub fn webhook_url(&self) -> String {
        format!("{}{}", self.base_url(), self.state.config.webhook.path)
    }

    /// Stands for `https://login.salesforce.com` (the token endpoint; its
    /// answer names this server as the instance).
    pub fn salesforce_login_url(&self) -> String {
        self.base_url()
    }

    /// Stands for `https://api.brevo.com/v3` (paths `/contacts/…` are appended).
    pub fn brevo_base_url(&self) -> String {
        format!("{}/v3", self.base_url())
    }

    /// Stands for `https://api.intercom.io` (paths `/contacts`, `/companies`
    /// are appended).
    pub fn intercom_base_url(&self) -> String {
        format!("{}/intercom", self.base_url())
    }

    /// `http://127.0.0.1:<port>/_sandbox`.
    pub fn admin_url(&self) -> String {
        format!("{}/_sandbox", self.base_url())
    }

    /// The configuration the sandbox runs with.
    pub fn config(&self) -> &SandboxConfig {
        &self.state.config
    }

    /// In-process access to state, request log, faults and limits.
    pub fn admin(&self) -> SandboxAdmin {
        SandboxAdmin::new(self.state.clone())
    }

    /// Stops accepting, finishes open requests, then writes the state file if configured.
    pub async fn shutdown(mut self) -> Result<(), SandboxError> {
        self.shutdown_tx.send_replace(true);
        if let Some(task) = self.task.take() {
            task.await
                .map_err(|e| SandboxError::ServerTask(e.to_string()))?;
        }
        match &self.state.config.state_file {
            Some(path) => persist::save(&self.state, path),
            None => Ok(()),
        }
    }

    /// Resolves when the server stops (for the binary: runs until a signal).
    pub async fn wait(&mut self) -> Result<(), SandboxError> {
        if let Some(task) = self.task.as_mut() {
            task.await
                .map_err(|e| SandboxError::ServerTask(e.to_string()))?;
            self.task = None;
        }
        Ok(())
    }
}

impl Drop for RunningSandbox {
    fn drop(&mut self) {
        // Stops the server when the handle is dropped without `shutdown`.
        self.shutdown_tx.send_replace(true);
    }
}

fn build_router(state: SharedState) -> Router {
    let hubspot = hubspot::routes::router(&state.config.hubspot.path_prefix)
        .merge(hubspot::properties::router())
        .layer(from_fn_with_state(state.clone(), hubspot::gate::gate));
    let airtable =
        airtable::routes::router().layer(from_fn_with_state(state.clone(), airtable::gate::gate));
    let webhook = crate::webhook::routes::router(&state.config.webhook.path);
    Router::new()
        .merge(hubspot)
        .merge(airtable)
        .merge(webhook)
        .merge(crate::salesforce::routes::router(&state))
        .merge(crate::brevo::routes::router(&state))
        .merge(crate::intercom::routes::router().layer(from_fn_with_state(
            state.clone(),
            crate::intercom::gate::gate,
        )))
        .nest("/_sandbox", crate::admin::router())
        .nest("/_sandbox/salesforce", crate::salesforce::admin::router())
        .nest("/_sandbox/brevo", crate::brevo::admin::router())
        .nest("/_sandbox/intercom", crate::intercom::admin::router())
        .fallback(fallback)
        .with_state(state)
}

/// Unknown paths: Airtable's bare 404 under `/v0`, a HubSpot-style 404 elsewhere.
async fn fallback(State(state): State<SharedState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/_sandbox") {
        return (
            axum::http::StatusCode::NOT_FOUND,
            Json(json!({ "error": "unknown admin endpoint" })),
        )
            .into_response();
    }
    let api = if path.starts_with("/v0/") {
        Api::Airtable
    } else if path.starts_with("/crm/") {
        Api::Hubspot
    } else if path.starts_with("/services/") {
        Api::Salesforce
    } else if path.starts_with("/v3/") {
        Api::Brevo
    } else if path.starts_with("/intercom/") {
        Api::Intercom
    } else {
        Api::Unknown
    };
    let facts = RequestFacts::of(api, &request);
    let response = match api {
        Api::Airtable => AirtableError::route_not_found().into_response(),
        Api::Salesforce => crate::salesforce::errors::SalesforceError::NotFound.into_response(),
        Api::Brevo => crate::brevo::errors::BrevoError::RouteNotFound.into_response(),
        Api::Intercom => {
            crate::intercom::errors::IntercomError::NotFound("Resource").into_response()
        }
        _ => hubspot::errors::HubSpotError::NotFound.into_response(),
    };
    facts.log(&state, &response);
    response
}

/// The error hyper gets to close a connection without a response.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
struct ConnectionDropped;

async fn accept_loop(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
    connections: Arc<AtomicU64>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                // A failed accept (e.g. too many open files) only loses that connection.
                if let Ok((stream, _peer)) = accepted {
                    connections.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(serve_connection(stream, router.clone(), shutdown.clone()));
                }
            }
            _ = shutdown.changed() => break,
        }
    }
}

async fn serve_connection(stream: TcpStream, router: Router, mut shutdown: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let router = router.clone();
        async move {
            let response = match router.oneshot(request.map(axum::body::Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if response.extensions().get::<DropConnection>().is_some() {
                Err(ConnectionDropped)
            } else {
                Ok(response)
            }
        }
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = shutdown.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
