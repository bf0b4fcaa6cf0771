//! What the adapters' binary tests share (`brevo.rs`, `intercom.rs`,
//! `salesforce.rs`, `webhook.rs`, `keys.rs`): a `users` database, the
//! binary's JSON, the sandbox's admin answers, the values of its banner,
//! and a demo's report.

use std::path::Path;
use std::process::Output;
use std::str::FromStr;

use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

/// The JSON the binary printed, after checking that it succeeded.
pub fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}: {}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `users` (`email`, `last_name` "Last i") with `count` rows in a new
/// SQLite file `db`, user `i`'s email `email(i)`.
pub fn users_database(db: &Path, count: u32, email: impl Fn(u32) -> String) {
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
            .bind(email(i))
            .bind(format!("Last {i}"))
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
    });
}

/// `GET {sandbox}/_sandbox/{path}` as JSON.
pub fn admin(sandbox: &str, path: &str) -> Value {
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

/// The value of `key = "…"` in a banner line.
pub fn quoted<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line.find(&format!("{key} = \"")).unwrap() + key.len() + 4;
    let rest = &line[start..];
    &rest[..rest.find('"').unwrap()]
}

/// The sandbox's URL, from the first line of its banner.
pub fn sandbox_url(banner: &[String]) -> String {
    banner[0]
        .strip_prefix("Sandbox listening on ")
        .unwrap()
        .trim_end_matches('/')
        .to_owned()
}

/// Requests the sandbox's `api` side (`"intercom"`, `"salesforce"`…) received.
pub fn requests_of(sandbox: &str, api: &str) -> u64 {
    admin(sandbox, "requests")["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|endpoint| endpoint["api"] == api)
        .map(|endpoint| endpoint["count"].as_u64().unwrap())
        .sum()
}

/// What `etlify demo --crm <crm> --users <users> --json` reported, in a new
/// folder, and the configuration file it wrote.
pub fn demo_of(crm: &str, users: u32) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("demo");
    let users = users.to_string();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_etlify"))
        .args(["demo", "--crm", crm, "--users", &users, "--json", "--dir"])
        .arg(&folder)
        .env_remove("ETLIFY_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let report = json_of(&output);
    let config = std::fs::read_to_string(folder.join("etlify.toml")).unwrap();
    (report, config)
}

/// The records each of a demo's three runs synced.
pub fn synced_per_run(report: &Value) -> Vec<&Value> {
    (0..3).map(|run| &report["runs"][run]["synced"]).collect()
}
