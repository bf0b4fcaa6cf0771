//! The CRM's schema through the real binary against the sandbox (issue
//! 29): `check --crms` naming each problem's model, CRM, field and what
//! the CRM expects (exit 2), `sync` not starting a binding that fails it,
//! `crm-schema create` creating exactly the missing properties, once.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Output;

#[allow(dead_code)]
mod support;

use serde_json::{json, Value};
use support::{etlify_command, start_sandbox_with, Process};

fn etlify(config: &Path, args: &[&str]) -> Output {
    etlify_command(config, args)
        .env_remove("HUBSPOT_TOKEN")
        .output()
        .unwrap()
}

fn said(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A sandbox whose contacts declare `properties` (and require `lastname`
/// from 2026-09), in its own process; its base URL.
fn sandbox(dir: &Path, properties: Value) -> (Process, String) {
    let settings = dir.join("sandbox.json");
    let body = json!({"hubspot": {"rate_limits": {"enabled": false}, "object_types": {"contacts": {
        "type_id": "0-1",
        "unique_properties": ["email"],
        "required_properties": ["lastname"],
        "properties": properties,
    }}}});
    std::fs::write(&settings, body.to_string()).unwrap();
    let (process, banner) = start_sandbox_with(&["--settings", settings.to_str().unwrap()]);
    let url = banner[0]
        .strip_prefix("Sandbox listening on ")
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    (process, url)
}

/// A copy of the gem's fixture database and a configuration whose `User`
/// writes contacts of the sandbox at `url` with `binding` and `crm` lines.
fn config(dir: &Path, url: &str, crm: &str, binding: &str) -> PathBuf {
    let db = dir.join("app.sqlite3");
    let fixture = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../etlify/tests/fixtures/rails-gem-synced.sqlite3");
    std::fs::copy(fixture, &db).unwrap();
    let config = dir.join("etlify.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n\n[crms.hubspot]\nadapter = \"hubspot\"\n\
             base_url = \"{url}\"\ntoken = \"{}\"\n{crm}\n\n[models.User]\ntable = \"users\"\n\n\
             [models.User.crms.hubspot]\nobject_type = \"contacts\"\n{binding}\n",
            db.display(),
            etlify_sandbox::DEFAULT_HUBSPOT_TOKEN,
        ),
    )
    .unwrap();
    assert!(etlify(&config, &["migrate"]).status.success());
    config
}

#[test]
fn schema_check_crms_names_each_problem_and_exits_2_and_sync_does_not_start_the_binding() {
    let dir = tempfile::tempdir().unwrap();
    let (_sandbox, url) = sandbox(
        dir.path(),
        json!({"email": {}, "full_name": {}, "company": {}, "lastname": {},
            "score": {"type": "number", "calculated": true},
            "stage": {"type": "enumeration", "options": ["lead", "customer"]}}),
    );
    let config = config(
        dir.path(),
        &url,
        "api_version = \"2026-09\"",
        "id_property = \"full_name\"\n\
         payload = \"SELECT id, email, full_name, full_name AS compnay, 1 AS score, 1 AS stage FROM users\"\n\
         types = { stage = \"integer\" }",
    );
    let output = etlify(&config, &["check", "--crms"]);
    let text = said(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    for line in [
        "User → hubspot contacts: `compnay` is not a property; did you mean `company`?",
        "User → hubspot contacts: `score` is read-only (number/number): the CRM refuses writes to it",
        "User → hubspot contacts: `stage`: the column is declared integer, the CRM expects enumeration (enumeration/select) with options lead, customer",
        "User → hubspot contacts: `lastname` is required (string/text) and the payload never sets it",
        "User → hubspot contacts: objects are matched by `full_name`, which is not unique",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(
        text.contains("1 binding does not fit its CRM's schema"),
        "{text}"
    );

    let output = etlify(&config, &["check", "--crms", "--json"]);
    assert_eq!(output.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let kinds: Vec<(&str, &str)> = report["schemas"][0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["field"].as_str().unwrap(), p["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("compnay", "not_a_property"),
            ("score", "read_only"),
            ("stage", "type_mismatch"),
            ("lastname", "required_missing"),
            ("full_name", "match_not_unique"),
        ],
        "{report}"
    );

    // The run does not start the binding: nothing is sent.
    let output = etlify(&config, &["sync"]);
    let text = said(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains(
            "hubspot User: stopped: not started: its payload does not fit the schema of contacts: `compnay` is not a property"
        ),
        "{text}"
    );
    assert!(text.contains("some bindings were not started"), "{text}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert!(runtime.block_on(support::sandbox_contacts(&url)).is_empty());
}

#[test]
fn schema_crm_schema_create_creates_exactly_the_missing_properties_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_sandbox, url) = sandbox(
        dir.path(),
        json!({"email": {}, "full_name": {}, "lastname": {}}),
    );
    let config = config(
        dir.path(),
        &url,
        "property_group = \"app_data\"",
        "id_property = \"email\"\n\
         payload = \"SELECT id, email, full_name, full_name AS plan_name, 3 AS seats FROM users\"\n\
         types = { seats = \"integer\" }",
    );
    let output = etlify(&config, &["check", "--crms"]);
    assert_eq!(output.status.code(), Some(2), "{}", said(&output));

    // Without --yes and without a terminal: listed, nothing created.
    let output = etlify(&config, &["crm-schema", "create"]);
    let text = said(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("hubspot contacts: missing `plan_name` (text, group app_data), sent by User"),
        "{text}"
    );
    assert!(
        text.contains("hubspot contacts: missing `seats` (number, group app_data), sent by User"),
        "{text}"
    );
    assert!(text.contains("Nothing created"), "{text}");

    let output = etlify(&config, &["crm-schema", "create", "--yes"]);
    let text = said(&output);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("Created 2 properties."), "{text}");

    let output = etlify(&config, &["crm-schema", "create", "--yes", "--json"]);
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report,
        json!({"missing": [], "created": 0}),
        "a second run creates nothing"
    );

    let output = etlify(&config, &["check", "--crms"]);
    let text = said(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains("User → hubspot contacts: the payload fits the CRM's schema."),
        "{text}"
    );
}

/// A CRM that does not let the token read its schema: `check --crms`
/// says the binding is not checked, and passes.
#[test]
fn schema_check_crms_says_when_a_schema_cannot_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let (_sandbox, url) = support::start_sandbox();
    let config = config(
        dir.path(),
        &url,
        "",
        "id_property = \"email\"\npayload = \"SELECT id, email FROM users\"",
    );
    let output = etlify(&config, &["check", "--crms"]);
    let text = said(&output);
    assert!(output.status.success(), "{text}");
    assert!(
        text.contains(
            "User → hubspot contacts: schema not checked: the CRM's schema could not be read"
        ),
        "{text}"
    );
}
