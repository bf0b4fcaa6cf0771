//! The admin actions: reset a record's or a model's errors, request a run
//! of a CRM. Only with an admin token configured (`serve.admin_token_env`);
//! without one every POST is refused (403) with how to enable them.
//!
//! Each action is checked twice (docs/OPERATIONS.md, "Status page"):
//! - who: a session cookie set by signing in with the token (HttpOnly,
//!   SameSite=Strict), or the token itself in `Authorization: Bearer`;
//!   tokens are compared in constant time;
//! - from where: the request's Origin (else Referer) must name this host,
//!   and a session's forms carry its CSRF token, compared in constant time.
//!   A Bearer caller is a script, not a browser: another site cannot make
//!   a browser send that header, so it needs no CSRF token.
//!
//! Every action and every refusal is logged (who: "admin", what, which
//! CRM, model, record), never a token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, HOST, LOCATION, ORIGIN, REFERER, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use etlify::jobs::Enqueued;
use etlify::BatchSyncOptions;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{html, http, PageState};
use crate::error::CliError;

/// The cookie naming a signed-in browser's session.
pub(super) const SESSION_COOKIE: &str = "etlify_session";
/// The cookie carrying the message shown once after a redirect.
pub(super) const FLASH_COOKIE: &str = "etlify_flash";
/// How long a sign-in lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at most; the oldest go first (each sign-in makes one).
const MAX_SESSIONS: usize = 64;
/// The shortest admin token taken: a guessable one would open the actions.
const MIN_TOKEN_CHARS: usize = 16;

/// The admin token, from the environment; never shown (`Debug` hides it).
#[derive(Clone)]
pub(crate) struct AdminToken(String);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<hidden>)")
    }
}

impl AdminToken {
    /// The token in the variable `name` (`serve.admin_token_env` of the
    /// file `shown`): set, and at least 16 characters.
    pub(crate) fn from_env(name: &str, shown: &str) -> Result<Self, CliError> {
        let at = format!("{shown}: serve.admin_token_env");
        let token = std::env::var(name).unwrap_or_default();
        if token.trim().is_empty() {
            return Err(CliError::config(format!(
                "{at}: the environment variable {name} is not set (export it with a long random token, e.g. `export {name}=$(openssl rand -hex 32)`, or remove admin_token_env for a read-only page)"
            )));
        }
        if token.chars().count() < MIN_TOKEN_CHARS {
            return Err(CliError::config(format!(
                "{at}: the token in {name} is too short: at least {MIN_TOKEN_CHARS} characters (e.g. `openssl rand -hex 32`)"
            )));
        }
        Ok(Self(token))
    }

    /// Whether `given` is the token, in time that does not depend on
    /// where they differ.
    fn matches(&self, given: &str) -> bool {
        same_secret(&self.0, given)
    }
}

/// Constant-time equality of two secrets (their lengths aside).
fn same_secret(expected: &str, given: &str) -> bool {
    expected.as_bytes().ct_eq(given.as_bytes()).into()
}

/// The admin side of a page: its token and the signed-in sessions.
#[derive(Debug)]
pub(super) struct Admin {
    token: AdminToken,
    /// Session id (the cookie's value) → its CSRF token and start.
    sessions: Mutex<HashMap<String, Session>>,
}

#[derive(Debug)]
struct Session {
    csrf: String,
    started: Instant,
}

impl Admin {
    pub(super) fn new(token: AdminToken) -> Self {
        Self {
            token,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// A new session: its id (for the cookie); `None` if the system gave
    /// no random bytes.
    fn start_session(&self) -> Option<String> {
        let id = random_token()?;
        let csrf = random_token()?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, s| s.started.elapsed() < SESSION_TTL);
        while sessions.len() >= MAX_SESSIONS {
            let oldest = sessions
                .iter()
                .min_by_key(|(_, s)| s.started)
                .map(|(id, _)| id.clone());
            match oldest {
                Some(oldest) => sessions.remove(&oldest),
                None => break,
            };
        }
        sessions.insert(
            id.clone(),
            Session {
                csrf,
                started: Instant::now(),
            },
        );
        Some(id)
    }

    /// The CSRF token of the request's session, if it carries a live one.
    pub(super) fn csrf_of(&self, headers: &HeaderMap) -> Option<String> {
        let id = http::cookie(headers, SESSION_COOKIE)?;
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(id)
            .filter(|s| s.started.elapsed() < SESSION_TTL)
            .map(|s| s.csrf.clone())
    }

    fn end_session(&self, headers: &HeaderMap) {
        if let Some(id) = http::cookie(headers, SESSION_COOKIE) {
            let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
            sessions.remove(id);
        }
    }
}

/// 32 random bytes from the operating system, in hex.
fn random_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// How an admin action was authorized, for the log.
#[derive(Debug, Clone, Copy)]
enum Caller {
    /// A browser signed in with the token (cookie and CSRF token).
    Session,
    /// A script sending the token in `Authorization: Bearer`.
    Bearer,
}

impl Caller {
    fn name(self) -> &'static str {
        match self {
            Caller::Session => "session",
            Caller::Bearer => "bearer",
        }
    }
}

/// Why an admin request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// No admin token configured: the page is read-only.
    AdminOff,
    /// The Origin (or Referer) names another site, or none was sent.
    CrossSite,
    /// Neither a session nor a Bearer token.
    NotSignedIn,
    /// The form's CSRF token is missing or not the session's.
    BadCsrf,
    /// The token given is not the admin token.
    WrongToken,
}

impl Refusal {
    fn reason(self) -> &'static str {
        match self {
            Refusal::AdminOff => "admin actions are off",
            Refusal::CrossSite => "cross-site request",
            Refusal::NotSignedIn => "not signed in",
            Refusal::BadCsrf => "bad CSRF token",
            Refusal::WrongToken => "wrong admin token",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Refusal::AdminOff => {
                "Admin actions are off: this page is read-only. To enable them, add \
                 admin_token_env = \"ETLIFY_ADMIN_TOKEN\" to the [serve] section of the \
                 configuration file, export ETLIFY_ADMIN_TOKEN with a long random token \
                 (e.g. openssl rand -hex 32), and restart etlify serve."
            }
            Refusal::CrossSite => {
                "Refused: the request did not come from this page (its Origin or Referer \
                 names another site, or none was sent)."
            }
            Refusal::NotSignedIn => {
                "Refused: sign in with the admin token first (or send it in an \
                 Authorization: Bearer header)."
            }
            Refusal::BadCsrf => {
                "Refused: the form's security token is missing or stale. Reload the page \
                 and try again."
            }
            Refusal::WrongToken => "Refused: that is not the admin token.",
        }
    }
}

/// A 403 page saying why, logged.
fn refused(refusal: Refusal, action: &str) -> Response {
    tracing::warn!(
        target: "etlify_cli::admin",
        message = "Admin action refused.",
        action,
        reason = refusal.reason()
    );
    (
        StatusCode::FORBIDDEN,
        Html(html::refusal(refusal.message()).into_string()),
    )
        .into_response()
}

/// Whether the request comes from this host: its Origin, else its
/// Referer, names the Host it was sent to. `required`: a request with
/// neither is refused (browsers send Origin with every POST).
fn same_origin(headers: &HeaderMap, required: bool) -> Result<(), Refusal> {
    let Some(source) = headers.get(ORIGIN).or_else(|| headers.get(REFERER)) else {
        return if required {
            Err(Refusal::CrossSite)
        } else {
            Ok(())
        };
    };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let source = source
        .to_str()
        .ok()
        .and_then(|s| s.parse::<Uri>().ok())
        .and_then(|uri| uri.authority().map(|a| a.as_str().to_owned()));
    match (host, source) {
        (Some(host), Some(source)) if host.eq_ignore_ascii_case(&source) => Ok(()),
        _ => Err(Refusal::CrossSite),
    }
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Checks an admin request: a token is configured, the caller has it
/// (Bearer, or a session whose CSRF token the form carries), and it comes
/// from this host.
fn check(state: &PageState, headers: &HeaderMap, csrf: Option<&str>) -> Result<Caller, Refusal> {
    let admin = state.0.admin.as_ref().ok_or(Refusal::AdminOff)?;
    if let Some(token) = bearer(headers) {
        if !admin.token.matches(token) {
            return Err(Refusal::WrongToken);
        }
        same_origin(headers, false)?;
        return Ok(Caller::Bearer);
    }
    same_origin(headers, true)?;
    let expected = admin.csrf_of(headers).ok_or(Refusal::NotSignedIn)?;
    match csrf {
        Some(given) if same_secret(&expected, given) => Ok(Caller::Session),
        _ => Err(Refusal::BadCsrf),
    }
}

/// A cookie for this page only, out of scripts' and other sites' reach.
fn cookie(name: &str, value: &str, max_age: Option<u64>) -> Option<HeaderValue> {
    let max_age = max_age.map_or(String::new(), |s| format!("; Max-Age={s}"));
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict{max_age}"
    ))
    .ok()
}

/// 303 back to the page, which shows `flash` once; with `cookies` set.
fn back(flash: &str, cookies: &[HeaderValue]) -> Response {
    let mut response = (StatusCode::SEE_OTHER, [(LOCATION, "/")]).into_response();
    let value = http::encode(&[("m", flash)]);
    let value = value.strip_prefix("m=").unwrap_or_default();
    let headers = response.headers_mut();
    if let Some(flash) = cookie(FLASH_COOKIE, value, Some(60)) {
        headers.append(SET_COOKIE, flash);
    }
    for cookie in cookies {
        headers.append(SET_COOKIE, cookie.clone());
    }
    response
}

/// The message a redirect left for the page, if any.
pub(super) fn flash(headers: &HeaderMap) -> Option<String> {
    #[derive(Deserialize)]
    struct Flash {
        m: String,
    }
    let value = http::cookie(headers, FLASH_COOKIE)?;
    http::decode::<Flash>(&format!("m={value}")).map(|f| f.m)
}

/// Clears the flash once shown.
pub(super) fn flash_shown() -> Option<HeaderValue> {
    cookie(FLASH_COOKIE, "", Some(0))
}

/// Any form's CSRF field.
#[derive(Debug, Default, Deserialize)]
struct CsrfField {
    csrf: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

/// `POST /login`: the admin token, from the sign-in form; a session
/// cookie when it is the right one.
pub(super) async fn login(
    State(state): State<PageState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let Some(admin) = state.0.admin.as_ref() else {
        return refused(Refusal::AdminOff, "sign_in");
    };
    // A sign-in from another site would put this browser in a session
    // its user did not open.
    if let Err(refusal) = same_origin(&headers, true) {
        return refused(refusal, "sign_in");
    }
    let given = http::decode::<LoginForm>(&body).map(|f| f.token);
    if !given.is_some_and(|token| admin.token.matches(&token)) {
        return refused(Refusal::WrongToken, "sign_in");
    }
    let Some(id) = admin.start_session() else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Html(html::refusal("The system gave no random bytes for a session.").into_string()),
        )
            .into_response();
    };
    tracing::info!(target: "etlify_cli::admin", message = "Admin signed in.", who = "admin");
    let session = cookie(SESSION_COOKIE, &id, Some(SESSION_TTL.as_secs()));
    back("Signed in: admin actions are on.", session.as_slice())
}

/// `POST /logout`: ends the session.
pub(super) async fn logout(
    State(state): State<PageState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let csrf = http::decode::<CsrfField>(&body).unwrap_or_default().csrf;
    if let Err(refusal) = check(&state, &headers, csrf.as_deref()) {
        return refused(refusal, "sign_out");
    }
    if let Some(admin) = &state.0.admin {
        admin.end_session(&headers);
    }
    tracing::info!(target: "etlify_cli::admin", message = "Admin signed out.", who = "admin");
    let cleared = cookie(SESSION_COOKIE, "", Some(0));
    back("Signed out.", cleared.as_slice())
}

#[derive(Debug, Deserialize)]
struct RecordForm {
    crm: String,
    model: String,
    id: i64,
}

/// `POST /admin/reset-record`: clears one record's error budget.
pub(super) async fn reset_record(
    State(state): State<PageState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    const ACTION: &str = "reset_record";
    let csrf = http::decode::<CsrfField>(&body).unwrap_or_default().csrf;
    let caller = match check(&state, &headers, csrf.as_deref()) {
        Ok(caller) => caller,
        Err(refusal) => return refused(refusal, ACTION),
    };
    let Some(form) = http::decode::<RecordForm>(&body) else {
        return bad_form("crm, model and id (a number)");
    };
    let (crm, model, id) = (&form.crm, &form.model, form.id);
    tracing::info!(target: "etlify_cli::admin", message = "Admin action.", who = "admin", via = caller.name(), action = ACTION, crm, model, id);
    let flash = match state.0.etlify.reset_error_count(crm, model, id).await {
        Ok(true) => format!("Errors of {model} {id} in {crm} reset: the next run retries it."),
        Ok(false) => format!("{model} {id} has no sync row in {crm}: nothing to reset."),
        Err(error) => failed(ACTION, &error),
    };
    back(&flash, &[])
}

#[derive(Debug, Deserialize)]
struct ModelForm {
    crm: String,
    model: String,
}

/// `POST /admin/reset-model`: clears the error budget of a model's
/// failing records in one CRM.
pub(super) async fn reset_model(
    State(state): State<PageState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    const ACTION: &str = "reset_model";
    let csrf = http::decode::<CsrfField>(&body).unwrap_or_default().csrf;
    let caller = match check(&state, &headers, csrf.as_deref()) {
        Ok(caller) => caller,
        Err(refusal) => return refused(refusal, ACTION),
    };
    let Some(form) = http::decode::<ModelForm>(&body) else {
        return bad_form("crm and model");
    };
    let (crm, model) = (&form.crm, &form.model);
    tracing::info!(target: "etlify_cli::admin", message = "Admin action.", who = "admin", via = caller.name(), action = ACTION, crm, model);
    let flash = match state
        .0
        .etlify
        .reset_errors(Some(crm), Some(model), &[])
        .await
    {
        Ok(reset) => format!(
            "Errors of {} of {model} in {crm} reset: the next run retries them.",
            crate::output::counted(reset, "record", "records")
        ),
        Err(error) => failed(ACTION, &error),
    };
    back(&flash, &[])
}

#[derive(Debug, Deserialize)]
struct RunForm {
    crm: String,
}

/// `POST /admin/run`: queues a batch job of one CRM for the workers, as
/// `etlify sync --async --crm` does.
pub(super) async fn request_run(
    State(state): State<PageState>,
    headers: HeaderMap,
    body: String,
) -> Response {
    const ACTION: &str = "request_run";
    let csrf = http::decode::<CsrfField>(&body).unwrap_or_default().csrf;
    let caller = match check(&state, &headers, csrf.as_deref()) {
        Ok(caller) => caller,
        Err(refusal) => return refused(refusal, ACTION),
    };
    let Some(form) = http::decode::<RunForm>(&body) else {
        return bad_form("crm");
    };
    let crm = &form.crm;
    tracing::info!(target: "etlify_cli::admin", message = "Admin action.", who = "admin", via = caller.name(), action = ACTION, crm);
    let options = BatchSyncOptions::new().crm(crm);
    let flash = match state.0.etlify.batch_sync_async(&options).await {
        Ok(enqueued) => match enqueued.crms.first().map(|(_, e)| e) {
            Some(Enqueued::New) => format!("Run of {crm} requested: a worker runs it."),
            Some(Enqueued::AlreadyQueued) => {
                format!("A run of {crm} was already queued: it reads the latest data.")
            }
            Some(Enqueued::AfterRunning) => {
                format!("A run of {crm} is under way: another one runs after it.")
            }
            Some(_) | None => format!("{crm} is disabled: no run requested."),
        },
        Err(error) => failed(ACTION, &error),
    };
    back(&flash, &[])
}

/// An action the engine refused, logged, for the flash.
fn failed(action: &str, error: &etlify::Error) -> String {
    tracing::error!(target: "etlify_cli::admin", message = "Admin action failed.", action, %error);
    format!("Failed: {error}")
}

fn bad_form(expected: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(html::refusal(&format!("Bad form: expected {expected}.")).into_string()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(axum::http::HeaderName, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(name.clone(), HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn page_same_origin_takes_only_this_host() {
        let here = |source| headers(&[(HOST, "127.0.0.1:9188"), (ORIGIN, source)]);
        assert_eq!(same_origin(&here("http://127.0.0.1:9188"), true), Ok(()));
        assert_eq!(
            same_origin(&here("http://evil.example"), true),
            Err(Refusal::CrossSite)
        );
        assert_eq!(same_origin(&here("null"), true), Err(Refusal::CrossSite));
        let referer = headers(&[
            (HOST, "127.0.0.1:9188"),
            (REFERER, "http://127.0.0.1:9188/?crm=hubspot"),
        ]);
        assert_eq!(same_origin(&referer, true), Ok(()));
        let neither = headers(&[(HOST, "127.0.0.1:9188")]);
        assert_eq!(same_origin(&neither, true), Err(Refusal::CrossSite));
        assert_eq!(
            same_origin(&neither, false),
            Ok(()),
            "a script's Bearer call"
        );
    }

    #[test]
    fn page_admin_token_debug_hides_it() {
        let token = AdminToken("0123456789abcdef-secret".into());
        assert!(!format!("{token:?}").contains("secret"));
        assert!(token.matches("0123456789abcdef-secret"));
        assert!(!token.matches("0123456789abcdef-secreT"));
        assert!(!token.matches(""));
    }
}
