//! Links run as a user runs them (issue 29): processes of the `etlify`
//! binary on one SQLite file, linking the same records at once, against
//! the sandbox in its own process; no association is made twice.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;
use support::{etlify_command, sandbox_contacts, sandbox_put, start_sandbox};

fn config(dir: &Path, database_url: &str, sandbox: &str) -> PathBuf {
    let path = dir.join("etlify.toml");
    std::fs::write(
        &path,
        format!(
            r#"[database]
url = "{database_url}"

[crms.hubspot]
adapter = "hubspot"
token = "{token}"
base_url = "{sandbox}"

[models.Company]
table = "companies"

[models.Company.crms.hubspot]
object_type = "companies"
id_property = "domain"
payload = "SELECT id, domain FROM companies"

[models.User]
table = "users"

[models.User.crms.hubspot]
object_type = "contacts"
id_property = "email"
payload = "SELECT id, email FROM users"
links = [{{ model = "Company", belongs_to = "company_id" }}]
"#,
            token = etlify_sandbox::DEFAULT_HUBSPOT_TOKEN,
        ),
    )
    .unwrap();
    path
}

async fn exec(url: &str, sql: &str) {
    let store = etlify::Store::connect(url).await.unwrap();
    let pool = store.sqlite_pool().unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap();
}

fn succeeded(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn associations(sandbox: &str) -> Vec<Value> {
    let dump: Value = reqwest::get(format!("{sandbox}/_sandbox/hubspot/associations"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    dump.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn association_two_processes_syncing_each_user_at_once_link_it_once() {
    let (_sandbox, sandbox) = start_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("app.sqlite3").display());
    let config = config(dir.path(), &url, &sandbox);
    succeeded(
        &etlify_command(&config, &["migrate"]).output().unwrap(),
        "migrate",
    );
    exec(
        &url,
        "CREATE TABLE companies (id integer PRIMARY KEY, domain varchar, \
         updated_at datetime(6) NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')));
         CREATE TABLE users (id integer PRIMARY KEY, email varchar, company_id integer, \
         updated_at datetime(6) NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')));
         INSERT INTO companies (id, domain) VALUES (1, 'acme.example'), (2, 'globex.example');
         INSERT INTO users (id, email, company_id) VALUES
           (1, 'u1@example.com', 1), (2, 'u2@example.com', 2), (3, 'u3@example.com', 1),
           (4, 'u4@example.com', 2), (5, 'u5@example.com', 1);",
    )
    .await;

    // Answers slowed, so that the processes overlap.
    sandbox_put(
        &sandbox,
        "faults",
        &serde_json::json!({ "hubspot": { "latency_ms": 50 } }),
    )
    .await;
    // Two processes per user, all at once; each user's company is synced
    // first by whichever of them finds it missing.
    let children: Vec<_> = (1..=5)
        .flat_map(|id| [id, id])
        .map(|id| {
            etlify_command(
                &config,
                &["sync-record", "User", &id.to_string(), "--crm", "hubspot"],
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for child in children {
        succeeded(&child.wait_with_output().unwrap(), "sync-record");
    }

    assert_eq!(sandbox_contacts(&sandbox).await.len(), 5, "each user once");
    let linked = associations(&sandbox).await;
    assert_eq!(linked.len(), 5, "one association per user: {linked:#?}");
    let mut pairs: Vec<(String, String)> = linked
        .iter()
        .map(|a| {
            (
                a["fromId"].as_str().unwrap().to_owned(),
                a["toId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), 5, "five users, each linked once");
    let log: Value = reqwest::get(format!("{sandbox}/_sandbox/requests"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let associate_requests: u64 = log["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["route"]
                .as_str()
                .unwrap_or_default()
                .ends_with("/associate/default")
        })
        .map(|e| e["count"].as_u64().unwrap())
        .sum();
    assert_eq!(
        associate_requests, 5,
        "the second process of each user found its link made, and sent none: {log}"
    );

    // plan --diff: user 1 moved to globex, its properties unchanged.
    exec(
        &url,
        "UPDATE users SET company_id = 2, \
         updated_at = strftime('%Y-%m-%d %H:%M:%f000', 'now', '+1 second') WHERE id = 1",
    )
    .await;
    let plan = etlify_command(&config, &["plan", "--diff"])
        .output()
        .unwrap();
    succeeded(&plan, "plan --diff");
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains("#1: properties unchanged, not re-sent; its links change")
            && text.contains("link company_id: Company #2 would be linked")
            && text.contains("link company_id: Company #1 would be unlinked"),
        "{text}"
    );
    let plan = etlify_command(&config, &["plan", "--diff", "--json"])
        .output()
        .unwrap();
    succeeded(&plan, "plan --diff --json");
    let json: Value = serde_json::from_slice(&plan.stdout).unwrap();
    let users = json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["model"] == "User")
        .unwrap_or_else(|| panic!("{json}"));
    let moved = &users["sample"][0];
    assert_eq!(moved["id"], 1, "{json}");
    assert_eq!(moved["change"], "unchanged", "{json}");
    assert_eq!(
        moved["links"],
        serde_json::json!([
            { "link": "company_id", "target": "Company", "target_id": 2, "change": "added" },
            { "link": "company_id", "target": "Company", "target_id": 1, "change": "removed" },
        ]),
        "{json}"
    );
}
