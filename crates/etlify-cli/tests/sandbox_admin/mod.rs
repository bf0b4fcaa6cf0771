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
