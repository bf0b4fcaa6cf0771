//! The status page: where each model and CRM stands, the failing records,
//! the queue and each CRM's rate limit, as server-rendered HTML (no
//! JavaScript, nothing loaded from elsewhere); with an admin token, forms
//! that reset errors and request runs.
//!
//! `routes` gives the page's router, which `etlify serve` serves and
//! `etlify worker --page` mounts beside `/health`. `page.rs` gathers what
//! the page shows, `html.rs` renders it (maud: every value escaped),
//! `admin.rs` checks and runs the admin actions (token, session cookie,
//! CSRF token, Origin), `http.rs` reads queries, forms and cookies.

mod admin;
mod html;
mod http;
mod page;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use etlify::Etlify;

use crate::error::CliError;
use crate::settings::Settings;

pub(crate) use admin::AdminToken;

/// What the page's handlers share: the engine, and the admin side when a
/// token is configured.
#[derive(Debug, Clone)]
pub(crate) struct PageState(Arc<Shared>);

#[derive(Debug)]
struct Shared {
    etlify: Etlify,
    /// Whether the file has a `[queue]` section (as `etlify status` shows
    /// the jobs only then).
    queue_configured: bool,
    /// `None`: read-only, every POST refused.
    admin: Option<admin::Admin>,
}

impl PageState {
    /// The page on `etlify` (built on the job queue when `admin` is set:
    /// a run request queues a batch job), for the file's `settings`.
    pub(crate) fn new(etlify: Etlify, settings: &Settings, admin: Option<AdminToken>) -> Self {
        Self(Arc::new(Shared {
            etlify,
            queue_configured: settings.queue.configured,
            admin: admin.map(admin::Admin::new),
        }))
    }

    /// Whether admin actions are on.
    pub(crate) fn admin_enabled(&self) -> bool {
        self.0.admin.is_some()
    }
}

/// The admin token from the variable `serve.admin_token_env` names, if
/// the file names one.
pub(crate) fn admin_token(settings: &Settings) -> Result<Option<AdminToken>, CliError> {
    match &settings.serve.admin_token_env {
        None => Ok(None),
        Some(name) => AdminToken::from_env(name, &settings.path).map(Some),
    }
}

/// The page at `/`, the sign-in and the admin actions (POST).
pub(crate) fn routes(state: PageState) -> Router {
    Router::new()
        .route("/", get(page::show))
        .route("/login", post(admin::login))
        .route("/logout", post(admin::logout))
        .route("/admin/reset-record", post(admin::reset_record))
        .route("/admin/reset-model", post(admin::reset_model))
        .route("/admin/run", post(admin::request_run))
        .with_state(state)
}
