//! The Brevo adapter through the real binary (issue 30, items 4 and 7):
//! from a TOML file to contacts in `etlify sandbox`'s account, then a
//! second run that sends nothing; a wrong key is refused and shown
//! nowhere.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;

use serde_json::json;

// Only its sandbox and `etlify_command` here; `crm_run` what the adapters' tests share.
#[path = "support/crm_run.rs"]
#[allow(dead_code)] // the helpers this binary does not use
mod crm_run;
#[allow(dead_code)]
mod support;

use crm_run::{admin, demo_of, json_of, quoted, sandbox_url, synced_per_run, users_database};
use support::etlify_command;

const KEY_VAR: &str = "BREVO_API_KEY";

fn etlify(config: &Path, args: &[&str], key: &str) -> Output {
    etlify_command(config, args)
        .env(KEY_VAR, key)
        .output()
        .unwrap()
}

/// Requests the Brevo side received, and how many were answered 429.
fn brevo_requests(sandbox: &str) -> (u64, u64) {
    let log = admin(sandbox, "requests");
    let endpoints = log["endpoints"].as_array().unwrap();
    let brevo = endpoints
        .iter()
        .filter(|endpoint| endpoint["api"] == "brevo");
    let total = brevo
        .clone()
        .map(|endpoint| endpoint["count"].as_u64().unwrap())
        .sum();
    let throttled = brevo
        .filter_map(|endpoint| endpoint["statuses"]["429"].as_u64())
        .sum();
    (total, throttled)
}

#[test]
fn brevo_the_binary_sends_a_toml_files_users_to_contacts_then_nothing_more() {
    // The banner's values are what goes into etlify.toml.
    let (sandbox_process, banner) = support::start_sandbox_with_banner();
    let sandbox = sandbox_url(&banner);
    let line = banner
        .iter()
        .find(|line| line.starts_with("Brevo: "))
        .unwrap_or_else(|| panic!("no Brevo line in {banner:?}"));
    let (base_url, key) = (quoted(line, "base_url"), quoted(line, "api_key"));

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.sqlite3");
    users_database(&db, 25, |i| format!("User{i}@Example.com"));
    let config = dir.path().join("etlify.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n\n\
             [crms.brevo]\nadapter = \"brevo\"\nbase_url = \"{base_url}\"\n\
             api_key = \"${{{KEY_VAR}}}\"\nlist_ids = [2]\n\
             rate_limit = {{ max_requests = 10, period = \"1s\" }}\n\n\
             [models.User]\ntable = \"users\"\n\n\
             [models.User.crms.brevo]\nobject_type = \"contacts\"\n\
             id_property = \"email\"\n\
             payload = \"SELECT id, email, last_name AS lastname FROM users\"\n",
            db.display()
        ),
    )
    .unwrap();
    assert!(etlify(&config, &["migrate"], key).status.success());
    let checked = etlify(&config, &["check", "--crms"], key);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(said.contains("Brevo takes the API key"), "{said}");

    let sync = json_of(&etlify(&config, &["sync", "--json"], key));
    assert_eq!(sync["synced"], 25, "{sync}");
    let contacts = admin(&sandbox, "brevo/contacts");
    let contacts = contacts.as_array().unwrap();
    assert_eq!(contacts.len(), 25);
    let first = contacts
        .iter()
        .find(|c| c["email"] == "user1@example.com")
        .unwrap_or_else(|| panic!("emails in lower case: {contacts:?}"));
    assert_eq!(first["attributes"]["LASTNAME"], "Last 1");
    assert_eq!(first["list_ids"], serde_json::json!([2]));
    let (sent, throttled) = brevo_requests(&sandbox);
    assert_eq!(throttled, 0, "within the contacts window");

    let again = json_of(&etlify(&config, &["sync", "--json"], key));
    assert_eq!(again["synced"], 0, "{again}");
    assert_eq!(
        brevo_requests(&sandbox).0,
        sent,
        "the second run sent nothing"
    );

    // A wrong key: refused, and shown nowhere.
    let refused = etlify(&config, &["check", "--crms"], "xkeysib-not-the-key-42");
    assert!(!refused.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(said.contains("Key not found"), "{said}");
    assert!(!said.contains("not-the-key-42"), "{said}");
    drop(sandbox_process);
}

/// `etlify demo --crm brevo`: the users go to the sandbox's Brevo
/// contacts (their company's name as an attribute), a second sync sends
/// nothing, a renamed company sends only its users again.
#[test]
fn brevo_the_demo_sends_users_to_contacts() {
    let (report, config) = demo_of("brevo", 40);
    // 2 companies, users in turn: company 1 holds every second user.
    assert_eq!(
        synced_per_run(&report),
        [&json!(40), &json!(0), &json!(20)],
        "{report}"
    );
    assert_eq!(report["sandbox_contacts"], 40);
    assert!(config.contains("adapter = \"brevo\""), "{config}");
}
