//! The page's HTML (maud: markup checked at compile time, every value
//! escaped). One stylesheet inline, no script, no resource from elsewhere;
//! on a narrow screen each table row becomes a card of labelled values.

use etlify::{RunRecord, RunStatus};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::page::{AdminView, View};

const STYLE: &str = r#"
:root { color-scheme: light dark; --line: #8884; --muted: #888; --bad: #c0392b; --ok: #2e7d32; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto; padding: 1rem; max-width: 72rem; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
h2 { font-size: 1.1rem; margin: 1.6rem 0 .5rem; }
.muted { color: var(--muted); }
.flash { border: 1px solid var(--ok); padding: .5rem .75rem; border-radius: 6px; }
.note { border-left: 3px solid var(--line); padding-left: .75rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.bad { color: var(--bad); font-weight: 600; }
td.error { overflow-wrap: anywhere; }
form.inline { display: inline; margin: 0; }
button, input, select { font: inherit; padding: .2rem .5rem; }
.pager a { margin-right: 1rem; }
@media (max-width: 700px) {
  table.cards thead { display: none; }
  table.cards tr { display: block; border: 1px solid var(--line); border-radius: 6px; margin-bottom: .75rem; padding: .25rem .5rem; }
  table.cards td { display: flex; justify-content: space-between; gap: 1rem; border: 0; padding: .2rem 0; text-align: right; }
  table.cards td::before { content: attr(data-label); font-weight: 600; text-align: left; }
}
"#;

/// A time for people: UTC, to the second (as `etlify status` prints it).
fn to_the_second(time: etlify::Timestamp) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// How long a run took, as `etlify runs` says it: milliseconds under a
/// second, else seconds.
fn took(run: &RunRecord) -> String {
    match (run.duration(), run.status) {
        (Some(d), _) if d.as_secs() == 0 => format!("{}ms", d.as_millis()),
        (Some(d), _) => {
            humantime::format_duration(std::time::Duration::from_secs(d.as_secs())).to_string()
        }
        (None, RunStatus::Abandoned) => "ended without a record".to_owned(),
        (None, _) => "running".to_owned(),
    }
}

/// Whether a run's status calls for a look.
fn bad_status(status: RunStatus) -> bool {
    matches!(
        status,
        RunStatus::Interrupted | RunStatus::Failed | RunStatus::Abandoned
    )
}

/// The `<head>` of every page: its title and the inline style sheet.
fn head() -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { "Etlify status" }
            style { (PreEscaped(STYLE)) }
        }
    }
}

/// The whole page.
pub(super) fn page(view: &View) -> Markup {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    html! {
        (DOCTYPE)
        html lang="en" {
            (head())
            body {
                header {
                    h1 { "Etlify status" }
                    p.muted { (view.database) " database · read at " (now.to_string()) " · reload for the latest" }
                    @if let Some(flash) = &view.flash {
                        p.flash role="status" id="flash" { (flash) }
                    }
                    (admin_bar(&view.admin))
                }
                (standing(view))
                (failing(view))
                (runs(view))
                (queue(view))
                (crms(view))
            }
        }
    }
}

/// The sign-in form, who is signed in, or why there are no actions.
fn admin_bar(admin: &AdminView) -> Markup {
    html! {
        @match admin {
            AdminView::Off => {
                p.note.muted id="admin-off" {
                    "Read-only. Admin actions (reset errors, request a run) are off: set "
                    code { "admin_token_env" } " in the " code { "[serve]" }
                    " section and export that variable to enable them."
                }
            }
            AdminView::SignedOut => {
                form.inline id="sign-in" method="post" action="/login" {
                    label { "Admin token " input type="password" name="token" autocomplete="current-password" required; }
                    " " button type="submit" { "Sign in" }
                }
            }
            AdminView::SignedIn { csrf } => {
                p id="signed-in" {
                    "Signed in as admin. "
                    form.inline method="post" action="/logout" {
                        input type="hidden" name="csrf" value=(csrf);
                        button type="submit" { "Sign out" }
                    }
                }
            }
        }
    }
}

/// The CSRF token of a signed-in browser.
fn csrf(admin: &AdminView) -> Option<&str> {
    match admin {
        AdminView::SignedIn { csrf } => Some(csrf),
        _ => None,
    }
}

/// Per model and CRM: the columns of `etlify status`, with the same
/// meanings (each record counted once).
fn standing(view: &View) -> Markup {
    let csrf = csrf(&view.admin);
    let columns = [
        "records",
        "in sync",
        "stale",
        "never synced",
        "failing",
        "over budget",
        "waiting",
    ];
    html! {
        section id="standing" {
            h2 { "Records per model and CRM" }
            p.muted { "Each record is counted once: in sync, stale (changed since its last sync), never synced, failing (under the error budget, retried when it changes), over budget (left alone until its errors are reset), waiting for a dependency." }
            @if view.entries.is_empty() {
                p { "No model is bound to an enabled CRM." }
            } @else {
                table.cards id="status" {
                    thead { tr {
                        th { "model" } th { "crm" }
                        @for column in columns { th.n { (column) } }
                        th { "last sync" } th { "complete check" }
                        @if csrf.is_some() { th { "actions" } }
                    } }
                    tbody {
                        @for e in &view.entries {
                            @let counts = [e.records, e.in_sync, e.stale, e.never_synced, e.failing, e.over_budget, e.waiting];
                            tr data-model=(e.model) data-crm=(e.crm) {
                                td data-label="model" { (e.model) }
                                td data-label="crm" { (e.crm) }
                                @for (column, count) in columns.iter().zip(counts) {
                                    @let bad = count > 0 && (*column == "failing" || *column == "over budget");
                                    td.n.bad[bad] data-label=(column) data-column=(column.replace(' ', "_")) { (count) }
                                }
                                td data-label="last sync" { (e.last_synced_at.map_or("never".to_owned(), to_the_second)) }
                                td data-label="complete check" { (e.last_complete_check.map_or("next run".to_owned(), to_the_second)) }
                                @if let Some(csrf) = csrf {
                                    td data-label="actions" {
                                        @if e.failing + e.over_budget > 0 {
                                            form.inline.reset-model method="post" action="/admin/reset-model" {
                                                input type="hidden" name="csrf" value=(csrf);
                                                input type="hidden" name="crm" value=(e.crm);
                                                input type="hidden" name="model" value=(e.model);
                                                button type="submit" { "Reset errors" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The failing records with their last error, filtered and paged.
fn failing(view: &View) -> Markup {
    let csrf = csrf(&view.admin);
    let filters = &view.filters;
    let models = view.models();
    html! {
        section id="failing-records" {
            h2 { "Failing records" }
            form id="filter" method="get" action="/" {
                label { "CRM "
                    select name="crm" {
                        option value="" { "all" }
                        @for crm in &view.crms {
                            option value=(crm.name) selected[filters.crm.as_deref() == Some(crm.name.as_str())] { (crm.name) }
                        }
                    }
                }
                " "
                label { "Model "
                    select name="model" {
                        option value="" { "all" }
                        @for model in &models {
                            option value=(model) selected[filters.model.as_deref() == Some(*model)] { (model) }
                        }
                    }
                }
                @if filters.size != super::page::DEFAULT_PAGE_SIZE {
                    input type="hidden" name="size" value=(filters.size);
                }
                " " button type="submit" { "Filter" }
            }
            @if view.failing.is_empty() {
                p id="no-failing" { @if filters.page > 1 { "No more failing records." } @else { "No failing records." } }
            } @else {
                table.cards id="failing" {
                    thead { tr {
                        th { "crm" } th { "model" } th.n { "id" } th.n { "errors" } th { "last error" } th { "last sync" }
                        @if csrf.is_some() { th { "actions" } }
                    } }
                    tbody {
                        @for row in &view.failing {
                            tr data-crm=(row.crm_name) data-model=(row.resource_type) data-id=(row.resource_id.to_string()) {
                                td data-label="crm" { (row.crm_name) }
                                td data-label="model" { (row.resource_type) }
                                td.n data-label="id" { (row.resource_id.to_string()) }
                                td.n.bad data-label="errors" data-column="error_count" { (row.error_count) }
                                td.error data-label="last error" { (row.last_error.as_deref().unwrap_or("")) }
                                td data-label="last sync" { (row.last_synced_at.map_or("never".to_owned(), to_the_second)) }
                                @if let Some(csrf) = csrf {
                                    td data-label="actions" {
                                        form.inline.reset-record method="post" action="/admin/reset-record" {
                                            input type="hidden" name="csrf" value=(csrf);
                                            input type="hidden" name="crm" value=(row.crm_name);
                                            input type="hidden" name="model" value=(row.resource_type);
                                            input type="hidden" name="id" value=(row.resource_id.to_string());
                                            button type="submit" { "Reset errors" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.pager {
                @if filters.page > 1 {
                    a id="previous-page" href=(filters.link(filters.page - 1)) { "← newer" }
                }
                @if view.more_failing {
                    a id="next-page" href=(filters.link(filters.page + 1)) { "older →" }
                }
                span.muted { "page " (filters.page) ", " (filters.size) " a page" }
            }
        }
    }
}

/// The latest runs with their outcome, as `etlify runs` lists them.
fn runs(view: &View) -> Markup {
    html! {
        section id="recent-runs" {
            h2 { "Recent runs" @if let Some(crm) = &view.filters.crm { " of " (crm) } }
            @if view.runs.is_empty() {
                p id="no-runs" { "No runs recorded yet." }
            } @else {
                table.cards id="runs" {
                    thead { tr {
                        th { "started" } th { "crm" } th { "trigger" } th { "status" } th { "took" }
                        th.n { "records" } th.n { "errors" } th { "runner" } th { "why it stopped short" }
                    } }
                    tbody {
                        @for run in &view.runs {
                            tr data-run=(run.id) data-crm=(run.crm) data-status=(run.status.as_str()) {
                                td data-label="started" { (to_the_second(run.started_at)) }
                                td data-label="crm" { (run.crm) }
                                td data-label="trigger" { (run.trigger.as_str()) }
                                td.bad[bad_status(run.status)] data-label="status" data-column="status" { (run.status.as_str()) }
                                td data-label="took" { (took(run)) }
                                td.n data-label="records" data-column="records" { (run.records) }
                                td.n.bad[run.errors > 0] data-label="errors" data-column="errors" { (run.errors) }
                                td data-label="runner" { (run.runner) }
                                td.error data-label="why it stopped short" { (run.interruption.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The job queue, as `etlify status` counts it.
fn queue(view: &View) -> Markup {
    html! {
        section id="queue" {
            h2 { "Queue" }
            @match &view.jobs {
                Some(jobs) => {
                    p { span data-column="queued" { (jobs.queued) } " queued, " span data-column="running" { (jobs.running) } " running" }
                }
                None => { p.muted { "No [queue] section: no job queue is configured." } }
            }
        }
    }
}

/// Each CRM: its adapter, rate limit, requests in flight, error budget;
/// with the admin on, a button requesting a run.
fn crms(view: &View) -> Markup {
    let csrf = csrf(&view.admin);
    html! {
        section id="crms" {
            h2 { "CRMs and rate limits" }
            table.cards id="crm-table" {
                thead { tr {
                    th { "crm" } th { "adapter" } th { "enabled" } th { "last run" } th { "rate limit" } th { "used lately" } th.n { "in flight" } th.n { "error budget" }
                    @if csrf.is_some() { th { "actions" } }
                } }
                tbody {
                    @for crm in &view.crms {
                        tr data-crm=(crm.name) {
                            td data-label="crm" { (crm.name) }
                            td data-label="adapter" { (crm.adapter) }
                            td data-label="enabled" { @if crm.enabled { "yes" } @else { "no" } }
                            td data-label="last run" data-column="last_run" {
                                @match &crm.last_run {
                                    Some(run) => {
                                        span.bad[bad_status(run.status)] data-column="last_run_status" { (run.status.as_str()) }
                                        " · " (to_the_second(run.started_at)) " · " (took(run))
                                    }
                                    None => { "none recorded" }
                                }
                            }
                            td data-label="rate limit" {
                                @match crm.rate_limit {
                                    Some((max, period)) => { (max) " per " (humantime::format_duration(period).to_string()) }
                                    None => { "none" }
                                }
                            }
                            td data-label="used lately" data-column="rate_use" {
                                @match (&crm.rate_limit, &crm.rate_use) {
                                    (None, _) => { "no limit" }
                                    (Some(_), None) => { span.muted { "counted in each process (no shared window)" } }
                                    (Some(_), Some(used)) => {
                                        span data-column="sent" { (used.sent) } " of " (used.max_requests)
                                        " in the last " (humantime::format_duration(used.period).to_string())
                                        @if !used.paused_for.is_zero() {
                                            " · paused for " (humantime::format_duration(std::time::Duration::from_secs(used.paused_for.as_secs().max(1))).to_string()) " (the CRM asked)"
                                        }
                                    }
                                }
                            }
                            td.n data-label="in flight" { (crm.max_in_flight) }
                            td.n data-label="error budget" { (crm.error_budget) }
                            @if let Some(csrf) = csrf {
                                td data-label="actions" {
                                    @if crm.enabled {
                                        form.inline.request-run method="post" action="/admin/run" {
                                            input type="hidden" name="csrf" value=(csrf);
                                            input type="hidden" name="crm" value=(crm.name);
                                            button type="submit" { "Request a run" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A short page saying why a request was refused, with a way back.
pub(super) fn refusal(message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head())
            body {
                p id="refusal" { (message) }
                p { a href="/" { "Back to the status page" } }
            }
        }
    }
}
