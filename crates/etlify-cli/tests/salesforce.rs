//! The Salesforce adapter through the real binary (issue 30, items 2 and
//! 7): from a TOML file to Contacts in `etlify sandbox`'s org, then a
//! second run that sends nothing; a wrong secret is refused and shown
//! nowhere.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;
use std::str::FromStr;

use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

// Only its sandbox and `etlify_command` here.
#[allow(dead_code)]
mod support;

use support::etlify_command;

const ID_VAR: &str = "SALESFORCE_CLIENT_ID";
const SECRET_VAR: &str = "SALESFORCE_CLIENT_SECRET";

fn etlify(config: &Path, args: &[&str], id: &str, secret: &str) -> Output {
    etlify_command(config, args)
        .env(ID_VAR, id)
        .env(SECRET_VAR, secret)
        .output()
        .unwrap()
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}: {}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `users` with `count` rows in a new SQLite file `db`.
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
        sqlx::query(
            "CREATE TABLE users (id integer PRIMARY KEY AUTOINCREMENT NOT NULL, \
             email varchar NOT NULL, last_name varchar NOT NULL, \
             created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL)",
        )
        .execute(&pool)
        .await
        .unwrap();
        for i in 1..=count {
            sqlx::query(
                "INSERT INTO users (email, last_name, created_at, updated_at) \
                 VALUES (?, ?, datetime('now'), datetime('now'))",
            )
            .bind(format!("user{i}@example.com"))
            .bind(format!("Last {i}"))
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    });
}

/// `GET {sandbox}/_sandbox/{path}` as JSON.
fn admin(sandbox: &str, path: &str) -> Value {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        reqwest::get(format!("{sandbox}/_sandbox/{path}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

/// Requests the Salesforce side received (the token's included).
fn salesforce_requests(sandbox: &str) -> u64 {
    admin(sandbox, "requests")["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|endpoint| endpoint["api"] == "salesforce")
        .map(|endpoint| endpoint["count"].as_u64().unwrap())
        .sum()
}

/// The value of `key = "…"` in a banner line.
fn quoted<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line.find(&format!("{key} = \"")).unwrap() + key.len() + 4;
    let rest = &line[start..];
    &rest[..rest.find('"').unwrap()]
}

#[test]
fn salesforce_the_binary_sends_a_toml_files_records_to_the_org_then_nothing_more() {
    // The banner's values are what goes into etlify.toml.
    let (sandbox_process, banner) = support::start_sandbox_with_banner();
    let sandbox = banner[0]
        .strip_prefix("Sandbox listening on ")
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let line = banner
        .iter()
        .find(|line| line.starts_with("Salesforce: "))
        .unwrap_or_else(|| panic!("no Salesforce line in {banner:?}"));
    let (login_url, id, secret) = (
        quoted(line, "login_url"),
        quoted(line, "client_id"),
        quoted(line, "client_secret"),
    );

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.sqlite3");
    users_database(&db, 250);
    let config = dir.path().join("etlify.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n\n\
             [crms.salesforce]\nadapter = \"salesforce\"\nlogin_url = \"{login_url}\"\n\
             client_id = \"${{{ID_VAR}}}\"\nclient_secret = \"${{{SECRET_VAR}}}\"\n\
             api_version = \"v62.0\"\n\n\
             [models.User]\ntable = \"users\"\n\n\
             [models.User.crms.salesforce]\nobject_type = \"Contact\"\n\
             id_property = \"Etlify_Id__c\"\n\
             payload = \"SELECT id, 'user-' || id AS Etlify_Id__c, email AS Email, \
             last_name AS LastName FROM users\"\n",
            db.display()
        ),
    )
    .unwrap();
    assert!(etlify(&config, &["migrate"], id, secret).status.success());
    let checked = etlify(&config, &["check", "--crms"], id, secret);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );

    let sync = json_of(&etlify(&config, &["sync", "--json"], id, secret));
    assert_eq!(sync["synced"], 250, "{sync}");
    let contacts = admin(&sandbox, "salesforce/sobjects/Contact/records");
    let contacts = contacts.as_array().unwrap();
    assert_eq!(contacts.len(), 250);
    let first = contacts
        .iter()
        .find(|c| c["fields"]["Etlify_Id__c"] == "user-1")
        .unwrap();
    assert_eq!(first["fields"]["Email"], "user1@example.com");
    assert_eq!(first["fields"]["LastName"], "Last 1");
    let log = admin(&sandbox, "requests");
    let upserts = log["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["route"] == "/services/data/{version}/composite/sobjects/{sobject}/{field}")
        .unwrap()["count"]
        .as_u64()
        .unwrap();
    assert_eq!(upserts, 2, "250 records, 200 a request: {log}");
    let sent = salesforce_requests(&sandbox);

    let again = json_of(&etlify(&config, &["sync", "--json"], id, secret));
    assert_eq!(again["synced"], 0, "{again}");
    assert_eq!(
        salesforce_requests(&sandbox),
        sent,
        "the second run sent nothing (not even a login)"
    );

    // A wrong secret: the login is refused, and the secret shows nowhere.
    let refused = etlify(&config, &["check", "--crms"], id, "not-the-secret-42");
    assert!(!refused.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(said.contains("login"), "{said}");
    assert!(!said.contains("not-the-secret-42"), "{said}");
    drop(sandbox_process);
}
