//! The status page (`etlify serve`) in a real headless Chromium, driven
//! through chromedriver (WebDriver): on SQLite and PostgreSQL, a database
//! synced through the HubSpot sandbox with failing records; the page's
//! numbers against `etlify status --json`, a record's errors reset with
//! the admin token (and refused without it, with a wrong CSRF token, from
//! another site), failing records filtered and paged, a screenshot, no
//! external resource and no secret in the HTML.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs
//! them); without them the tests fail saying so, never skip.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::Value;

// Only its `Process` and `etlify_command` here: the sandboxes run in this process.
#[allow(dead_code)]
mod support;

use support::{etlify_command, eventually, Process};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The admin token `etlify serve` reads from ETLIFY_ADMIN_TOKEN.
const ADMIN_TOKEN: &str = "page-test-admin-token-5f3a9c1e";
/// A user whose email is markup: its error must show as text.
const MARKUP_EMAIL: &str = "<b>bold</b>";

/// Where the application's tables are.
enum Database {
    Sqlite,
    Postgres,
}

/// A configured database with users and leads, some of them with emails
/// HubSpot refuses, and two sandboxes (one per CRM).
struct Scenario {
    dir: tempfile::TempDir,
    config: PathBuf,
    sandboxes: Vec<etlify_sandbox::RunningSandbox>,
}

fn etlify(config: &Path, args: &[&str]) -> Output {
    tokio::task::block_in_place(|| {
        etlify_command(config, args)
            .env_remove("ETLIFY_ADMIN_TOKEN")
            .output()
            .unwrap()
    })
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.code().is_some_and(|c| c <= 1),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The application's tables: 12 users (3, 7 and 9 with emails HubSpot
/// refuses, 9's being markup) and 5 leads (2's refused).
fn application_tables(timestamp: &str) -> Vec<String> {
    let mut statements = vec![
        format!("CREATE TABLE users (id integer PRIMARY KEY, email varchar, name varchar, updated_at {timestamp})"),
        format!("CREATE TABLE leads (id integer PRIMARY KEY, email varchar, updated_at {timestamp})"),
    ];
    for id in 1..=12 {
        let email = match id {
            3 | 7 => format!("not-an-email-{id}"),
            9 => MARKUP_EMAIL.to_owned(),
            _ => format!("user{id}@example.com"),
        };
        statements.push(format!(
            "INSERT INTO users VALUES ({id}, '{email}', 'User {id}', '2026-01-01 00:00:00')"
        ));
    }
    for id in 1..=5 {
        let email = match id {
            2 => "lead-without-at".to_owned(),
            _ => format!("lead{id}@example.com"),
        };
        statements.push(format!(
            "INSERT INTO leads VALUES ({id}, '{email}', '2026-01-01 00:00:00')"
        ));
    }
    statements
}

async fn execute(url: &str, statements: &[String]) {
    let store = etlify::Store::connect(url).await.unwrap();
    for sql in statements {
        let sql = sqlx::AssertSqlSafe(sql.as_str());
        match (store.sqlite_pool(), store.postgres_pool()) {
            (Some(pool), _) => sqlx::query(sql).execute(pool).await.map(|_| ()),
            (_, Some(pool)) => sqlx::query(sql).execute(pool).await.map(|_| ()),
            _ => unreachable!("a SQLite or PostgreSQL store"),
        }
        .unwrap();
    }
}

impl Scenario {
    /// The database, the sandboxes, the file; migrated and synced once.
    async fn synced(database: Database) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = match database {
            Database::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("app.sqlite3").display());
                let store = etlify::Store::connect_with(
                    &url,
                    &etlify::StoreOptions::new().must_exist(false),
                )
                .await
                .unwrap();
                drop(store);
                execute(&url, &application_tables("datetime(6)")).await;
                url
            }
            Database::Postgres => {
                let server = support::postgres_server();
                let schema = format!(
                    "etlify_page_{}_{}",
                    std::process::id(),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .subsec_nanos()
                );
                execute(&server, &[format!("CREATE SCHEMA \"{schema}\"")]).await;
                // public too: the job queue's types (hstore) are there.
                let url = support::in_search_path(&server, &format!("{schema},public"));
                execute(&url, &application_tables("timestamp(6)")).await;
                url
            }
        };
        let mut sandboxes = Vec::new();
        for _ in 0..2 {
            sandboxes.push(
                etlify_sandbox::Sandbox::start(etlify_sandbox::SandboxConfig::default())
                    .await
                    .unwrap(),
            );
        }
        let config = dir.path().join("etlify.toml");
        std::fs::write(
            &config,
            format!(
                r#"[database]
url = "{url}"

[crms.hubspot]
adapter = "hubspot"
base_url = "{us}"
token = "{token}"
rate_limit = {{ max_requests = 1000, period = "1h" }}

[crms.hubspot_eu]
adapter = "hubspot"
base_url = "{eu}"
token = "{token}"

[queue]

[serve]
admin_token_env = "ETLIFY_ADMIN_TOKEN"

[models.User]
table = "users"

[models.User.crms.hubspot]
object_type = "contacts"
id_property = "email"
payload = "SELECT id, email, name AS firstname FROM users"

[models.User.crms.hubspot_eu]
object_type = "contacts"
id_property = "email"
payload = "SELECT id, email, name AS firstname FROM users"

[models.Lead]
table = "leads"

[models.Lead.crms.hubspot]
object_type = "contacts"
id_property = "email"
payload = "SELECT id, email FROM leads"
"#,
                us = sandboxes[0].hubspot_base_url(),
                eu = sandboxes[1].hubspot_base_url(),
                token = etlify_sandbox::DEFAULT_HUBSPOT_TOKEN,
            ),
        )
        .unwrap();
        let migrate = etlify(&config, &["migrate"]);
        assert!(
            migrate.status.success(),
            "{}",
            String::from_utf8_lossy(&migrate.stderr)
        );
        // Some records fail: exit 1, the others synced.
        let sync = json_of(&etlify(&config, &["sync", "--json"]));
        assert_eq!(sync["errors"], 7, "3 users in each CRM, 1 lead: {sync}");
        Self {
            dir,
            config,
            sandboxes,
        }
    }

    /// `etlify status --json`, by (model, crm).
    fn status(&self) -> Vec<Value> {
        json_of(&etlify(&self.config, &["status", "--json"]))
            .as_array()
            .unwrap()
            .clone()
    }

    /// The error count of one record's sync row (`etlify errors --json`).
    fn error_count(&self, crm: &str, model: &str, id: i64) -> Option<i64> {
        let errors = json_of(&etlify(
            &self.config,
            &["errors", "--json", "--crm", crm, "--model", model],
        ));
        errors
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .map(|e| e["error_count"].as_i64().unwrap())
    }
}

/// `etlify serve --listen 127.0.0.1:0` on the scenario's file, with the
/// admin token in its environment or not; its logs kept.
struct Serve {
    _process: Process,
    url: String,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    fn start(config: &Path, admin_token: Option<&str>) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_etlify"));
        command
            .arg("--config")
            .arg(config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_remove("RUST_LOG")
            .env_remove("ETLIFY_ADMIN_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(token) = admin_token {
            command.env("ETLIFY_ADMIN_TOKEN", token);
        }
        let mut child = command.spawn().unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (listening, address) = std::sync::mpsc::channel();
        let kept = logs.clone();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if line.contains("Status page listening.") {
                    let address = line
                        .split_once("addr=")
                        .map(|(_, rest)| rest.split_whitespace().next().unwrap_or("").to_owned());
                    let _ = address.map(|a| listening.send(a));
                }
                kept.lock().unwrap().push(line);
            }
        });
        let process = Process {
            child,
            name: "etlify serve".into(),
        };
        let address = address
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("etlify serve did not start: {:?}", logs.lock().unwrap()));
        Self {
            _process: process,
            url: format!("http://{address}"),
            logs,
        }
    }

    fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }
}

/// Chromium, headless, through chromedriver on a free port.
struct Browser {
    _driver: Process,
    client: Client,
}

impl Browser {
    async fn start(dir: &Path) -> Self {
        for (path, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
            assert!(
                Path::new(path).exists(),
                "{path} is missing: the page_ tests drive a real headless Chromium; install it with \
                 `apt-get install -y chromium chromium-driver` (Debian's {package}; .ci/run does it)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Process {
            child: driver,
            name: "chromedriver".into(),
        };
        let webdriver = format!("http://127.0.0.1:{port}");
        // Ready once it answers its status.
        eventually(
            Duration::from_secs(30),
            Duration::from_millis(100),
            "chromedriver answers",
            String::new,
            || async {
                reqwest::get(format!("{webdriver}/status"))
                    .await
                    .is_ok_and(|r| r.status().is_success())
            },
        )
        .await;
        let profile = dir.join("chromium-profile");
        let capabilities = serde_json::json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        });
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities.as_object().unwrap().clone())
            .connect(&webdriver)
            .await
            .unwrap_or_else(|e| panic!("cannot start a Chromium session: {e}"));
        Self {
            _driver: driver,
            client,
        }
    }

    async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Clicks `css` (a link or a form's button) and waits for the page it
    /// leads to: until the current document is gone.
    async fn click_and_load(&self, css: &str) {
        let old = self.client.find(Locator::Css("html")).await.unwrap();
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap();
        eventually(
            Duration::from_secs(30),
            Duration::from_millis(20),
            &format!("{css} loads a new page"),
            String::new,
            || async { old.tag_name().await.is_err() },
        )
        .await;
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .unwrap()
    }

    async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// The failing records listed, as (crm, model, id).
    async fn failing_rows(&self) -> Vec<(String, String, i64)> {
        let mut rows = Vec::new();
        for row in self
            .client
            .find_all(Locator::Css("#failing tbody tr"))
            .await
            .unwrap()
        {
            let attr = |name: &'static str| {
                let row = row.clone();
                async move { row.attr(name).await.unwrap().unwrap() }
            };
            rows.push((
                attr("data-crm").await,
                attr("data-model").await,
                attr("data-id").await.parse().unwrap(),
            ));
        }
        rows
    }
}

/// The page's counts of every (model, crm) equal `etlify status --json`'s.
async fn assert_counts_match_status(browser: &Browser, scenario: &Scenario) {
    let status = scenario.status();
    assert_eq!(
        browser.count("#status tbody tr").await,
        status.len(),
        "one row per model and CRM: {status:?}"
    );
    for entry in &status {
        for column in [
            "records",
            "in_sync",
            "stale",
            "never_synced",
            "failing",
            "over_budget",
            "waiting",
        ] {
            let css = format!(
                "#status tr[data-model=\"{}\"][data-crm=\"{}\"] td[data-column=\"{column}\"]",
                entry["model"].as_str().unwrap(),
                entry["crm"].as_str().unwrap()
            );
            assert_eq!(
                browser.text(&css).await,
                entry[column].to_string(),
                "{css} against {entry}"
            );
        }
    }
}

/// The page's recent runs are `etlify runs --json`'s, in its order, with
/// their outcome.
async fn assert_runs_match_history(browser: &Browser, scenario: &Scenario) {
    let runs = json_of(&etlify(&scenario.config, &["runs", "--json"]));
    let runs = runs.as_array().unwrap();
    assert!(!runs.is_empty(), "the sync was recorded");
    let rows = browser
        .client
        .find_all(Locator::Css("#runs tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), runs.len(), "{runs:?}");
    for (row, run) in rows.iter().zip(runs) {
        assert_eq!(
            row.attr("data-run").await.unwrap().unwrap(),
            run["id"].to_string()
        );
        assert_eq!(
            row.attr("data-status").await.unwrap().unwrap(),
            run["status"].as_str().unwrap()
        );
        for column in ["records", "errors"] {
            let cell = row
                .find(Locator::Css(&format!("td[data-column=\"{column}\"]")))
                .await
                .unwrap();
            assert_eq!(cell.text().await.unwrap(), run[column].to_string(), "{run}");
        }
    }
}

/// No `src`/`href` leaves the page's origin, nothing is imported by CSS,
/// no script; neither the admin token nor a CRM token nor the database URL.
fn assert_self_contained_and_secret_free(html: &str, page_url: &str) {
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attribute) {
            let value = &html[at + attribute.len()..];
            let value = &value[..value.find('"').unwrap()];
            let external = value.starts_with("http://")
                || value.starts_with("https://")
                || value.starts_with("//");
            assert!(
                !external || value.starts_with(page_url),
                "external resource {value:?}"
            );
        }
    }
    assert!(!html.contains("<script"), "no script");
    assert!(
        !html.contains("@import") && !html.contains("url("),
        "no CSS import"
    );
    for secret in [
        ADMIN_TOKEN,
        etlify_sandbox::DEFAULT_HUBSPOT_TOKEN,
        "postgres://",
        "sqlite://",
    ] {
        assert!(!html.contains(secret), "the page shows {secret:?}");
    }
}

/// A raw POST, as another site's page or a script would send it.
async fn post(
    url: &str,
    form: &[(&str, &str)],
    headers: &[(&str, String)],
) -> (reqwest::StatusCode, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut request = client.post(url).form(form);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let answer = request.send().await.unwrap();
    (answer.status(), answer.text().await.unwrap())
}

async fn scenario(database: Database) {
    let scenario = Scenario::synced(database).await;
    let serve = Serve::start(&scenario.config, Some(ADMIN_TOKEN));
    let browser = Browser::start(scenario.dir.path()).await;
    let page = format!("{}/", serve.url);

    // The numbers of `etlify status`, and the failing records with their
    // last error, escaped.
    browser.goto(&page).await;
    assert_eq!(browser.client.title().await.unwrap(), "Etlify status");
    assert_counts_match_status(&browser, &scenario).await;
    let failing = browser.failing_rows().await;
    assert_eq!(failing.len(), 7, "{failing:?}");
    let markup_error = browser
        .text("#failing tr[data-crm=\"hubspot\"][data-model=\"User\"][data-id=\"9\"] td.error")
        .await;
    assert!(markup_error.contains(MARKUP_EMAIL), "{markup_error}");
    assert_eq!(browser.count("#failing td.error b").await, 0, "escaped");
    let signed_out = browser.client.source().await.unwrap();
    assert_self_contained_and_secret_free(&signed_out, &serve.url);
    assert_eq!(
        browser.count("form.reset-record").await,
        0,
        "no action before signing in"
    );
    // The runs of the sync, and each CRM's last one.
    assert_runs_match_history(&browser, &scenario).await;
    assert_eq!(
        browser
            .text("#crm-table tr[data-crm=\"hubspot\"] [data-column=\"last_run_status\"]")
            .await,
        "succeeded"
    );
    // Each CRM's rate limit, and its use: the requests the sandbox got.
    let sent = browser
        .text("#crm-table tr[data-crm=\"hubspot\"] [data-column=\"sent\"]")
        .await;
    let received = scenario.sandboxes[0].admin().request_log().total;
    assert!(received > 0);
    assert_eq!(sent, received.to_string(), "the requests of the last hour");
    let unlimited = browser
        .text("#crm-table tr[data-crm=\"hubspot_eu\"] td[data-column=\"rate_use\"]")
        .await;
    assert_eq!(unlimited, "no limit");
    assert_eq!(browser.text("#queue [data-column=\"queued\"]").await, "0");

    // Filters, by the page's own form (no script) and by the query.
    let crm_select = browser
        .client
        .find(Locator::Css("#filter select[name=crm]"))
        .await
        .unwrap();
    crm_select.select_by_value("hubspot_eu").await.unwrap();
    browser.click_and_load("#filter button[type=submit]").await;
    let eu = browser.failing_rows().await;
    assert_eq!(eu.len(), 3, "{eu:?}");
    assert!(eu
        .iter()
        .all(|(crm, model, _)| crm == "hubspot_eu" && model == "User"));
    browser.goto(&format!("{page}?model=Lead")).await;
    assert_eq!(
        browser.failing_rows().await,
        vec![("hubspot".to_owned(), "Lead".to_owned(), 2)]
    );
    browser
        .goto(&format!("{page}?crm=hubspot&model=User"))
        .await;
    let us_users = browser.failing_rows().await;
    assert_eq!(us_users.len(), 3, "{us_users:?}");
    // Pages of 2: every failing record once, over 4 pages.
    browser.goto(&format!("{page}?size=2")).await;
    let mut seen = BTreeSet::new();
    let mut pages = 0;
    loop {
        let rows = browser.failing_rows().await;
        assert!(rows.len() <= 2, "{rows:?}");
        pages += 1;
        for row in rows {
            assert!(seen.insert(row.clone()), "{row:?} twice");
        }
        if browser.count("#next-page").await == 0 {
            break;
        }
        browser.click_and_load("#next-page").await;
    }
    assert_eq!((seen.len(), pages), (7, 4));

    // Without the token: refused, nothing reset.
    let reset = format!("{}/admin/reset-record", serve.url);
    let record = [("crm", "hubspot"), ("model", "User"), ("id", "3")];
    let same_origin = [("Origin", serve.url.clone())];
    let (status, body) = post(&reset, &record, &same_origin).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("sign in"), "{body}");
    let wrong_bearer = [(
        "Authorization",
        "Bearer not-the-admin-token-at-all".to_owned(),
    )];
    assert_eq!(post(&reset, &record, &wrong_bearer).await.0, 403);
    assert_eq!(scenario.error_count("hubspot", "User", 3), Some(1));

    // Signed in through the page's form.
    browser.goto(&page).await;
    let token = browser
        .client
        .find(Locator::Css("#sign-in input[name=token]"))
        .await
        .unwrap();
    token.send_keys(ADMIN_TOKEN).await.unwrap();
    browser.click_and_load("#sign-in button").await;
    assert!(browser.text("#flash").await.contains("Signed in"));
    assert!(browser.count("form.reset-record").await >= 7);
    let signed_in = browser.client.source().await.unwrap();
    assert_self_contained_and_secret_free(&signed_in, &serve.url);

    // The session's cookie with a wrong CSRF token, or from another site:
    // refused.
    let session = browser
        .client
        .get_named_cookie("etlify_session")
        .await
        .unwrap();
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(format!("{:?}", session.same_site()), "Some(Strict)");
    let cookie = format!("etlify_session={}", session.value());
    let csrf = browser
        .client
        .find(Locator::Css("form.reset-record input[name=csrf]"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap()
        .unwrap();
    let with = |csrf: &str| {
        vec![
            ("crm", "hubspot".to_owned()),
            ("model", "User".to_owned()),
            ("id", "3".to_owned()),
            ("csrf", csrf.to_owned()),
        ]
    };
    let wrong_csrf = with("0000000000000000000000000000000000000000000000000000000000000000");
    let headers = [("Cookie", cookie.clone()), ("Origin", serve.url.clone())];
    let (status, body) = post_owned(&reset, &wrong_csrf, &headers).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("security token"), "{body}");
    let cross_site = [
        ("Cookie", cookie.clone()),
        ("Origin", "http://evil.example".to_owned()),
    ];
    let (status, body) = post_owned(&reset, &with(&csrf), &cross_site).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("did not come from this page"), "{body}");
    assert_eq!(
        scenario.error_count("hubspot", "User", 3),
        Some(1),
        "still failing"
    );

    // Reset through the page: gone from the failing records, in the
    // database and on the page, whose numbers still match `status`.
    let failing_before = scenario
        .status()
        .iter()
        .map(|e| e["failing"].as_u64().unwrap())
        .sum::<u64>();
    browser.click_and_load("#failing tr[data-crm=\"hubspot\"][data-model=\"User\"][data-id=\"3\"] form.reset-record button").await;
    let flash = browser.text("#flash").await;
    assert!(flash.contains("User 3 in hubspot reset"), "{flash}");
    assert_eq!(
        scenario.error_count("hubspot", "User", 3),
        None,
        "reset in the database"
    );
    assert!(
        !browser
            .failing_rows()
            .await
            .contains(&("hubspot".to_owned(), "User".to_owned(), 3)),
        "gone from the page"
    );
    let failing_after = scenario
        .status()
        .iter()
        .map(|e| e["failing"].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(failing_after, failing_before - 1);
    assert_counts_match_status(&browser, &scenario).await;
    let logs = serve.logs();
    assert!(
        logs.contains("Admin action.")
            && logs.contains("action=\"reset_record\"")
            && logs.contains("who=\"admin\""),
        "{logs}"
    );
    assert!(logs.contains("Admin action refused."), "{logs}");
    assert!(
        !logs.contains(ADMIN_TOKEN),
        "the token is never logged: {logs}"
    );

    // A model's errors reset, and a run requested: queued for the workers,
    // as `etlify status` counts it.
    browser
        .click_and_load(
            "#status tr[data-model=\"Lead\"][data-crm=\"hubspot\"] form.reset-model button",
        )
        .await;
    let flash = browser.text("#flash").await;
    assert!(
        flash.contains("1 record of Lead in hubspot reset"),
        "{flash}"
    );
    assert_eq!(scenario.error_count("hubspot", "Lead", 2), None);
    browser
        .click_and_load("#crm-table tr[data-crm=\"hubspot_eu\"] form.request-run button")
        .await;
    let flash = browser.text("#flash").await;
    assert!(flash.contains("Run of hubspot_eu requested"), "{flash}");
    assert_eq!(browser.text("#queue [data-column=\"queued\"]").await, "1");
    let status = etlify(&scenario.config, &["status"]);
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("jobs: 1 queued, 0 running"),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
    assert_counts_match_status(&browser, &scenario).await;
    let logs = serve.logs();
    for action in ["reset_model", "request_run"] {
        assert!(logs.contains(&format!("action=\"{action}\"")), "{logs}");
    }

    // A screenshot, on a desktop and on a phone (no sideways scrolling).
    let desktop = browser.client.screenshot().await.unwrap();
    let path = scenario.dir.path().join("status-page.png");
    std::fs::write(&path, &desktop).unwrap();
    let saved = std::fs::read(&path).unwrap();
    assert!(
        saved.len() > 1000 && saved.starts_with(b"\x89PNG\r\n\x1a\n"),
        "a PNG"
    );
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.goto(&page).await;
    let width = browser
        .client
        .execute("return document.documentElement.scrollWidth", vec![])
        .await
        .unwrap();
    let viewport = browser
        .client
        .execute("return window.innerWidth", vec![])
        .await
        .unwrap();
    assert!(
        width.as_u64().unwrap() <= viewport.as_u64().unwrap(),
        "the page fits a phone's width: {width} > {viewport}"
    );
    let phone = browser.client.screenshot().await.unwrap();
    std::fs::write(scenario.dir.path().join("status-page-phone.png"), &phone).unwrap();
    assert!(phone.starts_with(b"\x89PNG"));

    // Without an admin token configured: read-only, POSTs refused saying
    // how to enable them.
    let read_only = scenario.dir.path().join("read-only.toml");
    let text = std::fs::read_to_string(&scenario.config).unwrap();
    std::fs::write(
        &read_only,
        text.replace("admin_token_env = \"ETLIFY_ADMIN_TOKEN\"\n", ""),
    )
    .unwrap();
    let plain = Serve::start(&read_only, None);
    browser.goto(&format!("{}/", plain.url)).await;
    assert!(browser.text("#admin-off").await.contains("admin_token_env"));
    assert_eq!(browser.count("form[method=post]").await, 0);
    let (status, body) = post(
        &format!("{}/admin/reset-record", plain.url),
        &[("crm", "hubspot"), ("model", "User"), ("id", "7")],
        &[
            ("Origin", plain.url.clone()),
            ("Authorization", format!("Bearer {ADMIN_TOKEN}")),
        ],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("admin_token_env"), "{body}");
    assert_eq!(scenario.error_count("hubspot", "User", 7), Some(1));

    browser.client.close().await.unwrap();
}

async fn post_owned(
    url: &str,
    form: &[(&str, String)],
    headers: &[(&str, String)],
) -> (reqwest::StatusCode, String) {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post(url, &pairs, headers).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_on_sqlite_matches_status_resets_with_the_admin_token_only() {
    scenario(Database::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_on_postgres_matches_status_resets_with_the_admin_token_only() {
    scenario(Database::Postgres).await;
}

/// `etlify worker --page` serves the page beside `/health`, on its
/// health address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_worker_serves_the_page_beside_health_when_asked() {
    let scenario = Scenario::synced(Database::Sqlite).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_etlify"))
        .arg("--config")
        .arg(&scenario.config)
        .args([
            "worker",
            "--interval",
            "off",
            "--health-listen",
            "127.0.0.1:0",
            "--page",
        ])
        .env_remove("RUST_LOG")
        .env("ETLIFY_ADMIN_TOKEN", ADMIN_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let _worker = Process {
        child,
        name: "etlify worker".into(),
    };
    let (listening, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if let Some((_, rest)) = line.split_once("Health endpoint listening.") {
                let addr = rest
                    .split_once("addr=")
                    .map(|(_, a)| a.split_whitespace().next().unwrap_or("").to_owned());
                let _ = addr.map(|a| listening.send(a));
            }
        }
    });
    let address = address.recv_timeout(Duration::from_secs(60)).unwrap();
    let health = reqwest::get(format!("http://{address}/health"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let health: Value = health.json().await.unwrap();
    assert_eq!(health["healthy"], true, "{health}");
    let page = reqwest::get(format!("http://{address}/")).await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Etlify status") && html.contains("id=\"sign-in\""),
        "{html}"
    );
    assert_self_contained_and_secret_free(&html, &format!("http://{address}"));

    // The page needs the health address to be served on.
    let refused = etlify(&scenario.config, &["worker", "--page"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--health-listen"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}
