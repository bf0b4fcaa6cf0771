//! The configuration's mistakes, from TOML text: each names the file and
//! the key path, and says what is expected (exit 2). The binary's own
//! tests (`tests/cli.rs`) keep one or two of each class end to end.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::time::Duration;

use super::*;
use crate::error::Exit;

/// A database and a null CRM: what every case adds to.
const BASE: &str = "[database]\nurl = \"sqlite://x.db\"\n[crms.hubspot]\nadapter = \"null\"\n";

/// A User model bound to the CRM, its binding's lines `binding`.
fn with_binding(binding: &str) -> String {
    format!(
        "{BASE}[models.User]\ntable = \"users\"\n[models.User.crms.hubspot]\n\
         object_type = \"contacts\"\nid_property = \"email\"\n\
         payload = \"SELECT id, email FROM users\"\n{binding}\n"
    )
}

/// `text` read as the file `etlify.toml`, with `vars` as its environment.
fn parse_with(text: &str, vars: &[(&str, &str)]) -> Result<Settings, CliError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse(text, "etlify.toml".to_owned(), &|name| {
        vars.get(name).cloned()
    })
}

/// The message of `text`'s refusal, which must be a configuration error
/// naming the file.
fn refused_with(text: &str, vars: &[(&str, &str)]) -> String {
    match parse_with(text, vars) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(error) => {
            assert_eq!(error.exit, Exit::Config, "{error}");
            assert!(
                error.message.starts_with("etlify.toml: "),
                "the file first: {error}"
            );
            error.message
        }
    }
}

fn refused(text: &str) -> String {
    refused_with(text, &[])
}

#[test]
fn config_an_unknown_key_is_named_with_its_key_path() {
    let message = refused(&with_binding("payload_query = \"typo\""));
    assert!(message.contains("models.User.crms.hubspot"), "{message}");
    assert!(message.contains("payload_query"), "{message}");
    let message = refused(&format!("{BASE}[worker]\nthreads = 4\n"));
    assert!(
        message.contains("worker") && message.contains("threads"),
        "{message}"
    );
}

#[test]
fn config_an_unknown_column_type_names_the_valid_ones() {
    let message = refused(&with_binding("types = { email = \"bool\" }"));
    assert!(
        message.contains("models.User.crms.hubspot.types.email"),
        "{message}"
    );
    assert!(message.contains("boolean, integer"), "{message}");
}

#[test]
fn g1_a_non_boolean_enabled_is_refused_naming_the_key() {
    let message = refused(&format!("{BASE}enabled = \"yes\"\n"));
    assert!(message.contains("crms.hubspot.enabled"), "{message}");
    let crm = &parse_with(BASE, &[]).unwrap().crms[0];
    assert!(crm.get_enabled(), "enabled by default");
}

#[test]
fn config_request_budgets_below_one_are_refused_naming_the_key() {
    let message = refused(&format!("{BASE}max_in_flight = 0\n"));
    assert!(
        message.contains("crms.hubspot.max_in_flight") && message.contains("at least 1"),
        "{message}"
    );
    // The rate limit's key path, once and whole.
    let message = refused(&format!(
        "{BASE}rate_limit = {{ max_requests = 0, period = \"10s\" }}\n"
    ));
    assert!(
        message.ends_with("crms.hubspot.rate_limit.max_requests: must be a positive number"),
        "{message}"
    );
    let message = refused(&format!(
        "{BASE}rate_limit = {{ max_requests = 10, period = \"soon\" }}\n"
    ));
    assert!(
        message.contains("crms.hubspot.rate_limit.period") && message.contains("duration"),
        "{message}"
    );
    // HubSpot's search budget: only for hubspot, at least 1.
    let message = refused(&format!("{BASE}search_requests_per_second = 10\n"));
    assert!(
        message.contains("crms.hubspot.search_requests_per_second: applies to hubspot only"),
        "{message}"
    );
    let hubspot = "[database]\nurl = \"sqlite://x.db\"\n[crms.hubspot]\nadapter = \"hubspot\"\n\
                   token = \"${ETLIFY_TEST_TOKEN}\"\nsearch_requests_per_second = 0\n";
    let message = refused_with(hubspot, &[("ETLIFY_TEST_TOKEN", "pat-x")]);
    assert!(
        message.contains("crms.hubspot.search_requests_per_second")
            && message.contains("at least 1"),
        "{message}"
    );
    assert!(!message.contains("pat-x"), "the token is never shown");
}

#[test]
fn hubspot_version_a_bad_api_version_is_refused_naming_the_key_and_the_accepted_values() {
    let hubspot = |lines: &str| {
        format!(
            "[database]\nurl = \"sqlite://x.db\"\n[crms.hubspot]\nadapter = \"hubspot\"\n\
             token = \"pat-x\"\n{lines}\n"
        )
    };
    let message = refused(&hubspot("api_version = \"2026-06\""));
    assert!(
        message.contains("crms.hubspot.api_version: must be \"v3\", \"2026-03\" or \"2026-09\""),
        "{message}"
    );
    // Refused even when the CRM is disabled and has no token yet.
    let disabled = "[database]\nurl = \"sqlite://x.db\"\n[crms.hubspot]\nadapter = \"hubspot\"\n\
                    enabled = false\napi_version = \"v4\"\n";
    assert!(refused(disabled).contains("crms.hubspot.api_version"));
    let message = refused(&format!("{BASE}api_version = \"2026-09\"\n"));
    assert!(
        message.contains("crms.hubspot.api_version: applies to hubspot only"),
        "{message}"
    );
    for good in ["v3", "2026-03", "2026-09"] {
        assert!(parse_with(&hubspot(&format!("api_version = \"{good}\"")), &[]).is_ok());
    }
    assert!(
        parse_with(&hubspot(""), &[]).is_ok(),
        "absent: the v3 paths"
    );
}

#[test]
fn config_a_token_from_a_missing_variable_is_refused_naming_the_key_and_the_variable() {
    let text = "[database]\nurl = \"sqlite://x.db\"\n[crms.hubspot]\nadapter = \"hubspot\"\n\
                token = \"${HUBSPOT_TOKEN}\"\n";
    let message = refused(text);
    assert!(
        message.contains("crms.hubspot.token") && message.contains("HUBSPOT_TOKEN is not set"),
        "{message}"
    );
    assert!(parse_with(text, &[("HUBSPOT_TOKEN", "pat-x")]).is_ok());
    // A disabled CRM sends nothing: its token is not asked for.
    let disabled = format!("{text}enabled = false\n");
    let settings = parse_with(&disabled, &[]).unwrap();
    assert!(!settings.crms[0].get_enabled());
}

#[test]
fn config_variables_are_replaced_in_the_database_url() {
    let crms = "[crms.hubspot]\nadapter = \"null\"\n";
    let text = &format!("[database]\nurl = \"postgres://etlify:${{PGPASSWORD}}@db/app\"\n{crms}");
    let settings = parse_with(text, &[("PGPASSWORD", "secret")]).unwrap();
    assert_eq!(settings.database_url, "postgres://etlify:secret@db/app");
    let message = refused(text);
    assert!(
        message.contains("database.url") && message.contains("PGPASSWORD"),
        "{message}"
    );
    let message = refused(&format!(
        "[database]\nurl = \"sqlite://${{DIR/app.db\"\n{crms}"
    ));
    assert!(
        message.contains("database.url") && message.contains("without a closing"),
        "{message}"
    );
}

#[test]
fn config_keys_of_another_adapter_are_refused() {
    let message = refused(&format!("{BASE}token = \"pat-x\"\n"));
    assert!(
        message.contains("crms.hubspot.token: applies to hubspot and airtable only"),
        "{message}"
    );
    let airtable = "[database]\nurl = \"sqlite://x.db\"\n[crms.airtable]\nadapter = \"airtable\"\n\
                    token = \"pat-x\"\n";
    let message = refused(airtable);
    assert!(
        message.contains("crms.airtable.base_id: is required for Airtable"),
        "{message}"
    );
    assert!(parse_with(&format!("{airtable}base_id = \"appAbCdEf01234567\"\n"), &[]).is_ok());
}

#[test]
fn config_bad_worker_queue_and_database_values_are_refused_naming_the_key() {
    let cases = [
        (
            "[worker]\nconcurrency = 0",
            "worker.concurrency",
            "at least 1",
        ),
        ("[worker]\ninterval = \"abc\"", "worker.interval", "\"off\""),
        (
            "[worker]\ninterval = \"0s\"",
            "worker.interval",
            "longer than 0s",
        ),
        (
            "[worker]\nshutdown_timeout = \"soon\"",
            "worker.shutdown_timeout",
            "duration",
        ),
        (
            "[worker]\nhealth_listen = \"localhost\"",
            "worker.health_listen",
            "127.0.0.1:9187",
        ),
        (
            "[metrics]\nmin_interval = \"often\"",
            "metrics.min_interval",
            "duration",
        ),
        (
            "[queue]\nmax_attempts = 0",
            "queue.max_attempts",
            "at least 1",
        ),
        (
            "[queue]\nretry_delay = \"10\"",
            "queue.retry_delay",
            "duration",
        ),
        (
            "[queue]\nheartbeat = \"100ms\"",
            "queue.heartbeat",
            "at least \"1s\"",
        ),
        (
            "[queue]\nmissed_heartbeats = 0",
            "queue.missed_heartbeats",
            "at least 1",
        ),
        ("[queue]\nname = \"\"", "queue.name", "empty"),
        (
            "[queue]\nmax_attempts = \"5\"",
            "queue.max_attempts",
            "expected u32",
        ),
        (
            "[etlify]\ncommit_margin = \"now\"",
            "etlify.commit_margin",
            "duration",
        ),
    ];
    for (section, key, expected) in cases {
        let message = refused(&format!("{BASE}{section}\n"));
        assert!(
            message.contains(key) && message.contains(expected),
            "{section}: {message}"
        );
    }
    for (lease_ttl, expected) in [("\"1s\"", "at least 3s"), ("\"soon\"", "duration")] {
        let message = refused(&format!(
            "[database]\nurl = \"sqlite://x.db\"\nlease_ttl = {lease_ttl}\n[crms.hubspot]\nadapter = \"null\"\n"
        ));
        assert!(
            message.contains("database.lease_ttl") && message.contains(expected),
            "{lease_ttl}: {message}"
        );
    }
}

#[test]
fn config_worker_and_queue_sections_are_read_with_their_defaults() {
    let settings = parse_with(BASE, &[]).unwrap();
    assert!(!settings.queue.configured);
    assert_eq!(settings.worker.concurrency, etlify::DEFAULT_CONCURRENCY);
    assert_eq!(settings.worker.interval, Some(etlify::DEFAULT_INTERVAL));
    let settings = parse_with(
        &format!(
            "{BASE}[queue]\nname = \"crm\"\n[worker]\nconcurrency = 2\ninterval = \"off\"\n\
             health_listen = \"127.0.0.1:9187\"\n"
        ),
        &[],
    )
    .unwrap();
    assert!(settings.queue.configured);
    assert_eq!(settings.queue.options.get_name(), "crm");
    assert_eq!(settings.worker.concurrency, 2);
    assert_eq!(settings.worker.interval, None, "off: no loop");
    assert_eq!(
        settings.worker.health_listen,
        Some("127.0.0.1:9187".parse().unwrap())
    );
}

#[test]
fn metrics_min_interval_is_read_with_its_default() {
    let settings = parse_with(BASE, &[]).unwrap();
    assert_eq!(
        settings.metrics_min_interval,
        etlify::DEFAULT_METRICS_MIN_INTERVAL
    );
    let settings = parse_with(&format!("{BASE}[metrics]\nmin_interval = \"1m\"\n"), &[]).unwrap();
    assert_eq!(
        settings.metrics_min_interval,
        std::time::Duration::from_secs(60)
    );
}

#[test]
fn config_a_dependency_takes_only_its_kinds_keys() {
    let cases = [
        (
            "{ has_many = \"companies\", foreign_key = \"id\", primary_key = \"x\" }",
            "dependencies[0].primary_key: does not apply to a has_many/has_one dependency",
        ),
        (
            "{ belongs_to = \"companies\", has_one = \"teams\", foreign_key = \"x\" }",
            "dependencies[0]: names exactly one of",
        ),
        (
            "{ belongs_to = \"companies\" }",
            "dependencies[0].foreign_key: is required here",
        ),
        (
            "{ habtm = \"tags\", foreign_key = \"user_id\", association_foreign_key = \"tag_id\" }",
            "dependencies[0].join_table: is required here",
        ),
        (
            "{ polymorphic_belongs_to = \"subject_id\", type_column = \"subject_type\" }",
            "dependencies[0].targets: names the tables by type",
        ),
        (
            "{ through = [{ belongs_to = \"a\", has_many = \"b\", foreign_key = \"x\" }] }",
            "dependencies[0].through[0]: a hop of `through` names exactly one of",
        ),
    ];
    for (dependency, expected) in cases {
        let message = refused(&with_binding(&format!("dependencies = [{dependency}]")));
        assert!(
            message.contains(&format!("models.User.crms.hubspot.{expected}")),
            "{dependency}: {message}"
        );
    }
}

#[test]
fn config_an_unreadable_file_says_how_to_make_one() {
    let error = load(Path::new("/nonexistent/etlify.toml")).err().unwrap();
    assert_eq!(error.exit, Exit::Config);
    assert!(
        error.message.contains("/nonexistent/etlify.toml") && error.message.contains("etlify init"),
        "{error}"
    );
}

#[test]
fn loop_interval_takes_off_and_refuses_zero() {
    assert_eq!(loop_interval("off", "x").ok(), Some(None));
    assert_eq!(
        loop_interval("2s", "x").ok(),
        Some(Some(Duration::from_secs(2)))
    );
    assert!(loop_interval("0s", "--interval")
        .err()
        .is_some_and(|e| e.message.contains("--interval")));
}

/// Issue 26 (14): a TOML syntax error says where, by line and column.
#[test]
fn probe_a_toml_syntax_error_names_its_line_and_column() {
    let message = refused("[database]\nurl = \"sqlite://x.db\n");
    assert!(
        message.contains("etlify.toml: line 2, column "),
        "{message}"
    );
    assert!(message.contains("invalid basic string"), "{message}");
}

/// Issue 26 (14): an adapter's empty token or bad base URL is named under
/// its own key, not under `crms.<name>.adapter`.
#[test]
fn probe_an_adapters_bad_value_is_named_under_its_own_key() {
    let crm = "[database]\nurl = \"sqlite://x.db\"\n[crms.hubspot]\nadapter = \"hubspot\"\n";
    let message = refused(&format!("{crm}token = \"\"\n"));
    assert!(
        message.starts_with("etlify.toml: crms.hubspot.token: "),
        "{message}"
    );
    let message = refused(&format!("{crm}token = \"t\"\nbase_url = \"not a url\"\n"));
    assert!(
        message.starts_with("etlify.toml: crms.hubspot.base_url: "),
        "{message}"
    );
}

/// Issue 26 (14): every missing environment variable is named at once,
/// each with the key that uses it, not one per run.
#[test]
fn probe_every_missing_variable_is_named_at_once() {
    let text = "[database]\nurl = \"${DB_URL}\"\n\
                [crms.hubspot]\nadapter = \"hubspot\"\ntoken = \"${HS_TOKEN}\"\n\
                [crms.airtable]\nadapter = \"airtable\"\nbase_id = \"appX\"\ntoken = \"${AT_TOKEN}\"\n";
    let message = refused(text);
    for (key, name) in [
        ("database.url", "DB_URL"),
        ("crms.hubspot.token", "HS_TOKEN"),
        ("crms.airtable.token", "AT_TOKEN"),
    ] {
        assert!(message.contains(key) && message.contains(name), "{message}");
    }
}
