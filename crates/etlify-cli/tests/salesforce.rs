//! The Salesforce adapter through the real binary (issue 30, items 2 and
//! 7): from a TOML file to Contacts in `etlify sandbox`'s org, then a
//! second run that sends nothing; a wrong secret is refused and shown
//! nowhere.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Output;

// Only its sandbox and `etlify_command` here; `crm_run` what the adapters' tests share.
#[path = "support/crm_run.rs"]
#[allow(dead_code)] // the helpers this binary does not use
mod crm_run;
#[allow(dead_code)]
mod support;

use crm_run::{
    admin, demo_of, json_of, quoted, requests_of, sandbox_url, synced_per_run, users_database,
};
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

/// Requests the Salesforce side received (the token's included).
fn salesforce_requests(sandbox: &str) -> u64 {
    requests_of(sandbox, "salesforce")
}

#[test]
fn salesforce_the_binary_sends_a_toml_files_records_to_the_org_then_nothing_more() {
    // The banner's values are what goes into etlify.toml.
    let (sandbox_process, banner) = support::start_sandbox_with_banner();
    let sandbox = sandbox_url(&banner);
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
    users_database(&db, 250, |i| format!("user{i}@example.com"));
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

/// `etlify demo --crm salesforce`: the companies as Accounts and the users
/// as Contacts of the sandbox's org, by the external-id field; the second
/// sync sends nothing, the renamed company and its users are sent again
/// (a contact carries its company's name: the adapter makes no links).
#[test]
fn salesforce_the_demo_sends_companies_and_users_to_the_org() {
    let (report, text) = demo_of("salesforce", 20);
    // One company and its twenty users: its rename sends it and all of
    // them again (their Department is its name).
    assert_eq!(synced_per_run(&report), [21, 0, 21], "{report}");
    assert_eq!(report["sandbox_contacts"], 20, "{report}");
    assert!(
        text.contains("[crms.salesforce]\nadapter = \"salesforce\""),
        "{text}"
    );
    assert!(text.contains("object_type = \"Account\""), "{text}");
    assert!(text.contains("object_type = \"Contact\""), "{text}");
    assert!(!text.contains("links ="), "no links on Salesforce: {text}");
}
