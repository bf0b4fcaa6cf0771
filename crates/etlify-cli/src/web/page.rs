//! `GET /`: what the page shows, read through the same library calls as
//! the commands (`Etlify::status` as `etlify status`, `Etlify::failing_page`
//! as `etlify errors`, `Etlify::runs` as `etlify runs`,
//! `Etlify::job_counts`), then rendered by `html.rs`.

use std::time::Duration;

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use etlify::{JobCounts, RateWindowUse, RunQuery, RunRecord, StatusEntry, SyncRow};
use serde::Deserialize;

use super::{admin, html, http, PageState};

/// Failing records per page unless `?size=` says.
pub(super) const DEFAULT_PAGE_SIZE: u64 = 25;
/// Runs listed under "Recent runs".
const RECENT_RUNS: usize = 20;
/// The largest `?size=` taken.
const MAX_PAGE_SIZE: u64 = 500;

/// The page's query: which failing records to list.
#[derive(Debug, Default, Deserialize)]
struct Query {
    crm: Option<String>,
    model: Option<String>,
    page: Option<String>,
    size: Option<String>,
}

/// The failing records' filters and page, as the links repeat them.
#[derive(Debug, Clone, Default)]
pub(super) struct Filters {
    pub crm: Option<String>,
    pub model: Option<String>,
    /// 1-based.
    pub page: u64,
    pub size: u64,
}

impl Filters {
    fn from_query(query: Query) -> Self {
        // An empty choice ("all") is no filter; a page or size that is not
        // a number is the default, not an error page.
        let chosen = |value: Option<String>| value.filter(|v| !v.is_empty());
        let number = |value: Option<String>| value.and_then(|v| v.parse::<u64>().ok());
        Self {
            crm: chosen(query.crm),
            model: chosen(query.model),
            page: number(query.page).filter(|p| *p >= 1).unwrap_or(1),
            size: number(query.size)
                .map(|s| s.clamp(1, MAX_PAGE_SIZE))
                .unwrap_or(DEFAULT_PAGE_SIZE),
        }
    }

    /// The page's URL with these filters on page `page`.
    pub(super) fn link(&self, page: u64) -> String {
        let page = page.to_string();
        let size = self.size.to_string();
        let mut pairs = Vec::new();
        if let Some(crm) = &self.crm {
            pairs.push(("crm", crm.as_str()));
        }
        if let Some(model) = &self.model {
            pairs.push(("model", model.as_str()));
        }
        pairs.push(("page", &page));
        if self.size != DEFAULT_PAGE_SIZE {
            pairs.push(("size", &size));
        }
        format!("/?{}", http::encode(&pairs))
    }
}

/// A CRM as the page shows it: nothing of its token or URL.
#[derive(Debug)]
pub(super) struct CrmView {
    pub name: String,
    pub adapter: &'static str,
    pub enabled: bool,
    /// Requests per period, when limited.
    pub rate_limit: Option<(u32, Duration)>,
    pub max_in_flight: usize,
    pub error_budget: u32,
    /// The limit's use in its last period, by every process sharing the
    /// database; `None` without a limit or a shared window.
    pub rate_use: Option<RateWindowUse>,
    /// Its latest batch run in the run history.
    pub last_run: Option<RunRecord>,
}

/// Everything the page shows.
#[derive(Debug)]
pub(super) struct View {
    /// "SQLite" or "PostgreSQL", never the URL.
    pub database: &'static str,
    pub entries: Vec<StatusEntry>,
    pub filters: Filters,
    pub failing: Vec<SyncRow>,
    /// Whether a page follows this one.
    pub more_failing: bool,
    /// The latest runs, newest first (of the filtered CRM, if any).
    pub runs: Vec<RunRecord>,
    pub crms: Vec<CrmView>,
    /// `None` without a `[queue]` section.
    pub jobs: Option<JobCounts>,
    pub admin: AdminView,
    pub flash: Option<String>,
}

/// The admin side as the page shows it.
#[derive(Debug)]
pub(super) enum AdminView {
    /// No token configured: no forms.
    Off,
    /// A token configured, this browser not signed in: the sign-in form.
    SignedOut,
    /// Signed in: the action forms, carrying the session's CSRF token.
    SignedIn { csrf: String },
}

impl View {
    async fn gather(state: &PageState, filters: Filters) -> etlify::Result<Self> {
        let etlify = &state.0.etlify;
        let entries = etlify.status().await?;
        // One more than a page: whether another page follows.
        let offset = (filters.page - 1).saturating_mul(filters.size);
        let mut failing = etlify
            .failing_page(
                filters.crm.as_deref(),
                filters.model.as_deref(),
                offset,
                filters.size + 1,
            )
            .await?;
        let more_failing = failing.len() as u64 > filters.size;
        failing.truncate(filters.size as usize);
        let jobs = match state.0.queue_configured {
            true => Some(etlify.job_counts().await?),
            false => None,
        };
        let mut crms = Vec::new();
        for crm in etlify.crms().iter() {
            crms.push(CrmView {
                name: crm.get_name().to_owned(),
                adapter: crm.get_adapter().kind(),
                enabled: crm.get_enabled(),
                rate_limit: crm
                    .get_rate_limit()
                    .map(|l| (l.get_max_requests(), l.get_period())),
                max_in_flight: crm.get_max_in_flight(),
                error_budget: etlify.max_sync_errors(crm.get_name()),
                rate_use: etlify.rate_window_use(crm.get_name()).await?,
                last_run: etlify
                    .runs(&RunQuery::new().crm(crm.get_name()).limit(1))
                    .await?
                    .pop(),
            });
        }
        let mut runs = RunQuery::new().limit(RECENT_RUNS);
        if let Some(crm) = &filters.crm {
            runs = runs.crm(crm);
        }
        let runs = etlify.runs(&runs).await?;
        Ok(Self {
            database: etlify.store().kind().name(),
            entries,
            filters,
            failing,
            more_failing,
            runs,
            crms,
            jobs,
            admin: AdminView::Off,
            flash: None,
        })
    }

    /// The model names of the status table, once each, in its order.
    pub(super) fn models(&self) -> Vec<&str> {
        let mut models: Vec<&str> = Vec::new();
        for entry in &self.entries {
            if !models.contains(&entry.model.as_str()) {
                models.push(&entry.model);
            }
        }
        models
    }
}

/// `GET /?crm=&model=&page=&size=`.
pub(super) async fn show(State(state): State<PageState>, uri: Uri, headers: HeaderMap) -> Response {
    let query = uri
        .query()
        .and_then(http::decode::<Query>)
        .unwrap_or_default();
    let filters = Filters::from_query(query);
    let mut view = match View::gather(&state, filters).await {
        Ok(view) => view,
        Err(error) => {
            tracing::error!(target: "etlify_cli::page", message = "The status page could not be read.", %error);
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(
                    html::refusal(&format!("The status could not be read: {error}")).into_string(),
                ),
            )
                .into_response();
        }
    };
    view.admin = match &state.0.admin {
        None => AdminView::Off,
        Some(admin) => match admin.csrf_of(&headers) {
            Some(csrf) => AdminView::SignedIn { csrf },
            None => AdminView::SignedOut,
        },
    };
    view.flash = admin::flash(&headers);
    let mut response = Html(html::page(&view).into_string()).into_response();
    if view.flash.is_some() {
        if let Some(clear) = admin::flash_shown() {
            response.headers_mut().append(SET_COOKIE, clear);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_filters_take_defaults_for_what_is_missing_or_wrong() {
        let filters = Filters::from_query(Query {
            crm: Some(String::new()),
            model: Some("User".into()),
            page: Some("x".into()),
            size: Some("100000".into()),
        });
        assert_eq!(filters.crm, None, "empty: every CRM");
        assert_eq!(filters.model.as_deref(), Some("User"));
        assert_eq!(filters.page, 1);
        assert_eq!(filters.size, MAX_PAGE_SIZE);
        assert_eq!(filters.link(2), "/?model=User&page=2&size=500");
    }
}
