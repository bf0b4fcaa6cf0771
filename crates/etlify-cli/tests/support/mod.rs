//! Processes the CLI tests start: the `etlify` binary on a configuration
//! file, the sandbox (`etlify sandbox`), killed when dropped, and its
//! admin endpoints.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// `etlify --config {config} {args}`, not yet run, without the
/// ETLIFY_CONFIG and RUST_LOG of the environment the tests run in: the
/// file and the flags a test passes are all the binary reads.
pub fn etlify_command(config: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_etlify"));
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("ETLIFY_CONFIG")
        .env_remove("RUST_LOG");
    command
}

/// A child process killed when dropped.
pub struct Process {
    pub child: Child,
    /// What the process is, for failure messages (scaleout.rs's).
    #[allow(dead_code)]
    pub name: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `etlify sandbox` on a free port, in its own process; its base URL.
pub fn start_sandbox() -> (Process, String) {
    let (process, banner) = start_sandbox_with_banner();
    let first = &banner[0];
    let url = first
        .strip_prefix("Sandbox listening on ")
        .unwrap_or_else(|| panic!("unexpected sandbox banner {first:?}"))
        .trim_end_matches('/')
        .to_owned();
    (process, url)
}

/// `etlify sandbox` on a free port, in its own process; the lines of its
/// banner, trimmed (up to "Ctrl-C stops it.").
pub fn start_sandbox_with_banner() -> (Process, Vec<String>) {
    start_sandbox_with(&[])
}

/// `etlify sandbox --port 0` with `flags`, in its own process; the lines
/// of its banner, trimmed (up to "Ctrl-C stops it.").
pub fn start_sandbox_with(flags: &[&str]) -> (Process, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_etlify"))
        .args(["sandbox", "--port", "0"])
        .args(flags)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        assert!(
            banner.read_line(&mut line).unwrap() > 0,
            "the sandbox ended its banner early: {lines:?}"
        );
        lines.push(line.trim().to_owned());
        if line.starts_with("Ctrl-C") {
            break;
        }
    }
    // Anything it prints later must be read too, or it would write into a
    // closed pipe and end.
    std::thread::spawn(move || std::io::copy(&mut banner, &mut std::io::sink()));
    (
        Process {
            child,
            name: "sandbox".into(),
        },
        lines,
    )
}

/// `PUT {sandbox}/_sandbox/{what}` (`faults`, `limits`) with `body`.
pub async fn sandbox_put(sandbox: &str, what: &str, body: &serde_json::Value) {
    let answer = reqwest::Client::new()
        .put(format!("{sandbox}/_sandbox/{what}"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    assert!(
        status.is_success(),
        "{what}: {status} {:?}",
        answer.text().await
    );
}

/// The contacts the sandbox holds.
pub async fn sandbox_contacts(sandbox: &str) -> Vec<serde_json::Value> {
    let dump: serde_json::Value =
        reqwest::get(format!("{sandbox}/_sandbox/hubspot/objects/contacts"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    dump.as_array()
        .or_else(|| dump["objects"].as_array())
        .or_else(|| dump["results"].as_array())
        .unwrap_or_else(|| panic!("unexpected dump shape: {dump}"))
        .clone()
}

/// Waits until `done` holds, checking every `poll`, at most `within`, for
/// states another process holds and nothing signals here (a sandbox's
/// objects, a browser's page, a server starting); `what` names the wait
/// in the failure, which `detail` completes (a log, say).
#[allow(dead_code)] // not every test binary waits
pub async fn eventually<F, Fut>(
    within: std::time::Duration,
    poll: std::time::Duration,
    what: &str,
    detail: impl Fn() -> String,
    mut done: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + within;
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}{}",
            detail()
        );
        tokio::time::sleep(poll).await;
    }
}

/// The throwaway PostgreSQL server `scripts/test.sh` starts: a test that
/// needs it fails without it, never skips.
#[allow(dead_code)] // not every test binary uses PostgreSQL
pub fn postgres_server() -> String {
    std::env::var("ETLIFY_TEST_POSTGRES_URL").expect(
        "ETLIFY_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, \
         which starts a throwaway PostgreSQL",
    )
}

/// The throwaway MariaDB server `scripts/test.sh` starts: a test that
/// needs it fails without it, never skips.
#[allow(dead_code)] // not every test binary uses MySQL
pub fn mysql_server() -> String {
    std::env::var("ETLIFY_TEST_MYSQL_URL").expect(
        "ETLIFY_TEST_MYSQL_URL is not set: run the tests with scripts/test.sh, \
         which starts a throwaway MariaDB",
    )
}

/// `server`'s URL with `search_path` (a test's schema, then others) set
/// for every connection.
#[allow(dead_code)]
pub fn in_search_path(server: &str, search_path: &str) -> String {
    let separator = if server.contains('?') { '&' } else { '?' };
    format!("{server}{separator}options[search_path]={search_path}")
}
