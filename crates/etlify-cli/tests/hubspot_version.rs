//! HubSpot's API version in the configuration file, through the real
//! binary (HUBSPOT-1): what `init` and `demo` write, and a bad value
//! refused before anything runs (exit 2), naming the key and the values.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

// Only its `etlify_command` here.
#[allow(dead_code)]
mod support;

use support::etlify_command;

fn etlify(config: &Path, args: &[&str]) -> Output {
    etlify_command(config, args)
        // The token is there: the version is what the loader refuses.
        .env("HUBSPOT_TOKEN", "pat-na1-test")
        .output()
        .unwrap()
}

#[test]
fn hubspot_version_init_writes_2026_09_and_a_bad_value_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etlify.toml");
    let db = format!("sqlite://{}", dir.path().join("app.db").display());
    let output = etlify(&config, &["init", "--database", &db]);
    assert!(output.status.success(), "{output:?}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("\napi_version = \"2026-09\""), "{text}");

    std::fs::write(&config, text.replace("\"2026-09\"", "\"2026-06\"")).unwrap();
    let output = etlify(&config, &["check"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("crms.hubspot.api_version: must be \"v3\", \"2026-03\" or \"2026-09\""),
        "{stderr}"
    );
    assert!(!dir.path().join("app.db").exists(), "nothing ran");
}

/// The demo's configuration calls the dated API, which the sandbox serves.
#[test]
fn hubspot_version_the_demo_syncs_through_the_2026_09_paths() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("demo");
    let output = Command::new(env!("CARGO_BIN_EXE_etlify"))
        .args(["demo", "--users", "20", "--json", "--dir"])
        .arg(&folder)
        .env_remove("ETLIFY_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["runs"][0]["synced"], 21,
        "a company, 20 users: {report}"
    );
    assert_eq!(report["sandbox_contacts"], 20, "{report}");
    assert_eq!(report["sandbox_associations"], 20, "{report}");
    let text = std::fs::read_to_string(folder.join("etlify.toml")).unwrap();
    assert!(text.contains("\napi_version = \"2026-09\""), "{text}");
}
