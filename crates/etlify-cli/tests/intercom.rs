//! The Intercom adapter through the real binary (issue 30, items 3 and
//! 7): from a TOML file to contacts in `etlify sandbox`'s workspace, then
//! a second run that sends nothing; a wrong token is refused and shown
//! nowhere; `etlify demo --crm intercom`.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

// Only its sandbox and `etlify_command` here.
#[allow(dead_code)]
mod support;
// A command's JSON, the sandbox's admin API, a demo's report.
#[path = "support/crm_run.rs"]
#[allow(dead_code)]
mod crm_run;

use crm_run::{admin, demo_of, json_of, quoted as banner_value, requests_of, synced_per_run};
use support::etlify_command;

const TOKEN_VAR: &str = "INTERCOM_TOKEN";

fn etlify(config: &Path, args: &[&str], token: &str) -> Output {
    etlify_command(config, args)
        .env(TOKEN_VAR, token)
        .output()
        .unwrap()
}

/// `companies` (one) and `users` with `count` rows of it in a new SQLite file `db`.
fn users_database(db: &Path, count: u32) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))
            .unwrap()
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .unwrap();
        for sql in [
            "CREATE TABLE companies (id integer PRIMARY KEY AUTOINCREMENT NOT NULL, \
             name varchar NOT NULL, created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL)",
            "CREATE TABLE users (id integer PRIMARY KEY AUTOINCREMENT NOT NULL, \
             email varchar NOT NULL, name varchar NOT NULL, company_id integer, \
             created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL)",
            "INSERT INTO companies (name, created_at, updated_at) \
             VALUES ('Acme', datetime('now'), datetime('now'))",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
        for i in 1..=count {
            sqlx::query(
                "INSERT INTO users (email, name, company_id, created_at, updated_at) \
                 VALUES (?, ?, 1, datetime('now'), datetime('now'))",
            )
            .bind(format!("user{i}@example.com"))
            .bind(format!("User {i}"))
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    });
}

/// Requests the Intercom side received.
fn intercom_requests(sandbox: &str) -> u64 {
    requests_of(sandbox, "intercom")
}

#[test]
fn intercom_the_binary_sends_a_toml_files_records_to_the_workspace_then_nothing_more() {
    // The banner's values are what goes into etlify.toml.
    let (sandbox_process, banner) = support::start_sandbox_with_banner();
    let sandbox = banner[0]
        .strip_prefix("Sandbox listening on ")
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let line = banner
        .iter()
        .find(|line| line.starts_with("Intercom: "))
        .unwrap_or_else(|| panic!("no Intercom line in {banner:?}"));
    let (base_url, token) = (banner_value(line, "base_url"), banner_value(line, "token"));

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.sqlite3");
    users_database(&db, 30);
    let config = dir.path().join("etlify.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n\n\
             [crms.intercom]\nadapter = \"intercom\"\nbase_url = \"{base_url}\"\n\
             token = \"${{{TOKEN_VAR}}}\"\nregion = \"eu\"\napi_version = \"2.11\"\n\
             rate_limit = {{ max_requests = 1666, period = \"10s\" }}\n\n\
             [models.Company]\ntable = \"companies\"\n\n\
             [models.Company.crms.intercom]\nobject_type = \"companies\"\n\
             id_property = \"company_id\"\n\
             payload = \"SELECT id, 'company-' || id AS company_id, name FROM companies\"\n\n\
             [models.User]\ntable = \"users\"\n\n\
             [models.User.crms.intercom]\nobject_type = \"contacts\"\n\
             id_property = \"external_id\"\n\
             payload = \"SELECT id, 'user-' || id AS external_id, email, name FROM users\"\n\
             dependencies = [{{ belongs_to = \"companies\", foreign_key = \"company_id\" }}]\n\
             links = [{{ model = \"Company\", belongs_to = \"company_id\" }}]\n",
            db.display()
        ),
    )
    .unwrap();
    assert!(etlify(&config, &["migrate"], token).status.success());
    let checked = etlify(&config, &["check", "--crms"], token);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(
        said.contains("intercom contacts: the workspace takes the token"),
        "{said}"
    );

    let sync = json_of(&etlify(&config, &["sync", "--json"], token));
    assert_eq!(sync["synced"], 31, "{sync}");
    let contacts = admin(&sandbox, "intercom/contacts");
    let contacts = contacts.as_array().unwrap();
    assert_eq!(contacts.len(), 30);
    let company = admin(&sandbox, "intercom/companies")[0].clone();
    assert_eq!(company["attributes"]["company_id"], "company-1");
    let first = contacts
        .iter()
        .find(|c| c["attributes"]["external_id"] == "user-1")
        .unwrap();
    assert_eq!(first["attributes"]["email"], "user1@example.com");
    assert_eq!(first["attributes"]["name"], "User 1");
    assert_eq!(first["companies"], serde_json::json!([company["id"]]));
    assert_eq!(
        admin(&sandbox, "intercom/versions"),
        serde_json::json!({ "2.11": intercom_requests(&sandbox) }),
        "every request names the version"
    );
    let sent = intercom_requests(&sandbox);

    let again = json_of(&etlify(&config, &["sync", "--json"], token));
    assert_eq!(again["synced"], 0, "{again}");
    assert_eq!(
        intercom_requests(&sandbox),
        sent,
        "the second run sent nothing"
    );

    // A wrong token: refused, and shown nowhere.
    let refused = etlify(&config, &["check", "--crms"], "not-the-token-42");
    assert!(!refused.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(said.contains("Access Token Invalid"), "{said}");
    assert!(!said.contains("not-the-token-42"), "{said}");
    drop(sandbox_process);
}

/// `etlify demo --crm intercom`: the same three syncs, to the sandbox's
/// Intercom workspace, each contact attached to its company.
#[test]
fn intercom_the_demo_sends_its_users_to_the_workspace() {
    let (report, config) = demo_of("intercom", 20);
    // One company and its twenty users: its rename sends it and all of
    // them again (their payload holds its name).
    assert_eq!(synced_per_run(&report), [21, 0, 21], "{report}");
    assert_eq!(report["sandbox_contacts"], 20, "{report}");
    assert_eq!(report["sandbox_associations"], 20, "{report}");
    assert!(
        config.contains("[crms.intercom]\nadapter = \"intercom\""),
        "{config}"
    );
}

/// `etlify sandbox --intercom-limit 2/1m`: the banner says it, and the
/// third request of a window is a 429 with the window's headers.
#[test]
fn intercom_the_sandbox_flag_sets_the_apps_window() {
    let (sandbox_process, banner) = support::start_sandbox_with(&["--intercom-limit", "2/1m"]);
    let text = banner.join("\n");
    assert!(text.contains("Intercom 2 requests / 1m per app"), "{text}");
    let line = banner
        .iter()
        .find(|line| line.starts_with("Intercom: "))
        .unwrap();
    let (base_url, token) = (banner_value(line, "base_url"), banner_value(line, "token"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let answers: Vec<(u16, Option<String>)> = runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut answers = Vec::new();
        for _ in 0..3 {
            let response = client
                .get(format!("{base_url}/me"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let remaining = response
                .headers()
                .get("x-ratelimit-remaining")
                .map(|v| v.to_str().unwrap().to_owned());
            answers.push((response.status().as_u16(), remaining));
        }
        answers
    });
    let remaining = |n: &str| Some(n.to_owned());
    assert_eq!(
        answers,
        [
            (200, remaining("1")),
            (200, remaining("0")),
            (429, remaining("0"))
        ]
    );
    drop(sandbox_process);
}
