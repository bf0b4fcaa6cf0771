//! Reading a test's run of the binary and of `etlify sandbox`: a command's
//! JSON, the sandbox's admin API, its banner's values. Included by the
//! tests that drive the binary against the sandbox's CRM sides.

/// The JSON a successful command printed (its output shown when it failed).
pub fn json_of_output(output: &std::process::Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "exit {:?}: {}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// `GET {sandbox}/_sandbox/{path}` as JSON, from a test without a runtime.
pub fn sandbox_get(sandbox: &str, path: &str) -> serde_json::Value {
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

/// Requests the sandbox's `api` side (`"intercom"`, `"salesforce"`…) received.
pub fn sandbox_requests_of(sandbox: &str, api: &str) -> u64 {
    sandbox_get(sandbox, "requests")["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|endpoint| endpoint["api"] == api)
        .map(|endpoint| endpoint["count"].as_u64().unwrap())
        .sum()
}

/// The value of `key = "…"` in a line of the sandbox's banner.
pub fn banner_value<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line.find(&format!("{key} = \"")).unwrap() + key.len() + 4;
    let rest = &line[start..];
    &rest[..rest.find('"').unwrap()]
}

/// What `etlify demo --crm <crm> --users <users> --json` reported, in a new
/// folder, and the configuration file it wrote.
pub fn demo_of(crm: &str, users: u32) -> (serde_json::Value, String) {
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
    let report = json_of_output(&output);
    let config = std::fs::read_to_string(folder.join("etlify.toml")).unwrap();
    (report, config)
}

/// The records each of a demo's three runs synced.
pub fn synced_per_run(report: &serde_json::Value) -> Vec<&serde_json::Value> {
    (0..3).map(|run| &report["runs"][run]["synced"]).collect()
}
