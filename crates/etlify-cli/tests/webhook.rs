//! The webhook adapter through the real binary (issue 30, item 5): from a
//! TOML file to the events the sandbox's receiver applied, then a second
//! run that sends nothing.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;

#[path = "support/crm_run.rs"]
#[allow(dead_code)]
mod crm_run;
// Only its sandbox and `etlify_command` here.
#[allow(dead_code)]
mod support;

use crm_run::{admin, demo_of, json_of, requests_of, synced_per_run, users_database};
use support::etlify_command;

const SECRET_VAR: &str = "WEBHOOK_SIGNING_SECRET";

fn etlify(config: &Path, args: &[&str], secret: &str) -> Output {
    etlify_command(config, args)
        .env(SECRET_VAR, secret)
        .output()
        .unwrap()
}

/// Requests the receiver answered.
fn webhook_requests(sandbox: &str) -> u64 {
    requests_of(sandbox, "webhook")
}

#[test]
fn webhook_the_binary_sends_a_toml_files_records_to_the_receiver_then_nothing_more() {
    // The banner's values are what goes into etlify.toml.
    let (sandbox_process, banner) = support::start_sandbox_with_banner();
    let sandbox = banner[0]
        .strip_prefix("Sandbox listening on ")
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let webhook = banner
        .iter()
        .find_map(|line| line.strip_prefix("Webhook: "))
        .unwrap_or_else(|| panic!("no Webhook line in {banner:?}"));
    let (url_line, secret_line) = webhook.trim().split_once(", ").unwrap();
    let secret = secret_line
        .strip_prefix("signing_secret = \"")
        .unwrap()
        .trim_end_matches('"');

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.sqlite3");
    users_database(&db, 5, |i| format!("user{i}@example.com"));
    let config = dir.path().join("etlify.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n\n\
             [crms.hooks]\nadapter = \"webhook\"\n{url_line}\n\
             signing_secret = \"${{{SECRET_VAR}}}\"\nbatch_size = 2\n\
             rate_limit = {{ max_requests = 50, period = \"1s\" }}\n\n\
             [crms.hooks.response]\nitems = \"/results\"\nid = \"/id\"\n\
             status = \"/status\"\nerror = \"/error\"\n\n\
             [models.User]\ntable = \"users\"\n\n\
             [models.User.crms.hooks]\nobject_type = \"contacts\"\nid_property = \"email\"\n\
             payload = \"SELECT id, email, last_name AS name FROM users\"\n",
            db.display()
        ),
    )
    .unwrap();
    assert!(etlify(&config, &["migrate"], secret).status.success());
    let checked = etlify(&config, &["check", "--crms"], secret);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    // What the check proved, in the webhook's terms (it has no token to
    // take nor object types to read).
    let told = String::from_utf8_lossy(&checked.stdout);
    assert!(
        told.contains("hooks contacts: the receiver took a signed ping."),
        "{told}"
    );

    let sync = json_of(&etlify(&config, &["sync", "--json"], secret));
    assert_eq!(sync["synced"], 5, "{sync}");
    assert_eq!(sync["per_crm"]["hooks"]["synced"], 5, "{sync}");
    let objects = admin(&sandbox, "webhook/objects/contacts");
    let mut received: Vec<(String, String)> = objects
        .as_array()
        .unwrap()
        .iter()
        .map(|object| {
            (
                object["id_value"].as_str().unwrap().to_owned(),
                object["data"]["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    received.sort();
    let expected: Vec<(String, String)> = (1..=5)
        .map(|i| (format!("user{i}@example.com"), format!("Last {i}")))
        .collect();
    assert_eq!(received, expected);
    let events = admin(&sandbox, "webhook/events");
    assert_eq!(events.as_array().unwrap().len(), 5, "{events}");
    let sent = webhook_requests(&sandbox);
    // The ping of `check --crms`, then five records two by two.
    assert_eq!(sent, 1 + 3, "{}", admin(&sandbox, "requests"));

    let again = json_of(&etlify(&config, &["sync", "--json"], secret));
    assert_eq!(again["synced"], 0, "{again}");
    assert_eq!(
        webhook_requests(&sandbox),
        sent,
        "the second run sent nothing"
    );

    // A wrong signing secret: the receiver refuses the requests (401), and
    // the secret shows nowhere in what the binary says.
    let refused = etlify(&config, &["check", "--crms"], "not-the-secret-42");
    assert!(!refused.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(said.contains("401"), "{said}");
    assert!(!said.contains("not-the-secret-42"), "{said}");
    drop(sandbox_process);
}

/// `etlify demo --crm webhook`: the same three syncs, to the sandbox's
/// webhook receiver.
#[test]
fn webhook_the_demo_sends_its_users_to_the_receiver() {
    let (report, text) = demo_of("webhook", 20);
    // One company and its twenty users: its rename sends it and all of
    // them again.
    assert_eq!(synced_per_run(&report), [21, 0, 21], "{report}");
    assert_eq!(report["sandbox_contacts"], 20, "{report}");
    assert!(
        text.contains("[crms.webhook]\nadapter = \"webhook\""),
        "{text}"
    );
    assert!(text.contains("[models.User.crms.webhook]"), "{text}");
}
