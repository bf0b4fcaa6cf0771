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
pub(super) fn parse_with(text: &str, vars: &[(&str, &str)]) -> Result<Settings, CliError> {
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
pub(super) fn refused_with(text: &str, vars: &[(&str, &str)]) -> String {
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
        message
            .contains("crms.hubspot.api_version: applies to hubspot, salesforce and intercom only"),
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
        message.contains("crms.hubspot.token: applies to hubspot, airtable and intercom only"),
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
            "[worker]\nwatch = \"often\"",
            "worker.watch",
            "\"auto\", \"off\" or a duration",
        ),
        ("[worker]\nwatch = \"1ms\"", "worker.watch", "at least 10ms"),
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
            "[queue]\npoll_interval = \"1ms\"",
            "queue.poll_interval",
            "at least \"10ms\"",
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
    assert_eq!(
        settings.queue.options.get_poll_interval(),
        None,
        "the backend's default"
    );
    let polled = parse_with(&format!("{BASE}[queue]\npoll_interval = \"1s\"\n"), &[]).unwrap();
    assert_eq!(
        polled.queue.options.get_poll_interval(),
        Some(Duration::from_secs(1))
    );
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
    assert!(!settings.metrics_change_latency, "off by default");
    let settings = parse_with(
        &format!("{BASE}[metrics]\nmin_interval = \"1m\"\nchange_latency = true\n"),
        &[],
    )
    .unwrap();
    assert_eq!(
        settings.metrics_min_interval,
        std::time::Duration::from_secs(60)
    );
    assert!(settings.metrics_change_latency);
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

#[test]
fn page_serve_section_is_read_with_its_defaults() {
    let settings = parse_with(BASE, &[]).unwrap();
    assert_eq!(
        settings.serve.listen,
        super::DEFAULT_SERVE_LISTEN.parse().unwrap()
    );
    assert_eq!(settings.serve.admin_token_env, None, "read-only by default");
    assert!(!settings.worker.page, "no page on the worker by default");
    let settings = parse_with(
        &format!(
            "{BASE}[serve]\nlisten = \"127.0.0.1:0\"\nadmin_token_env = \"ETLIFY_ADMIN_TOKEN\"\n\
             [worker]\nhealth_listen = \"127.0.0.1:9187\"\npage = true\n"
        ),
        &[],
    )
    .unwrap();
    assert_eq!(settings.serve.listen, "127.0.0.1:0".parse().unwrap());
    assert_eq!(
        settings.serve.admin_token_env.as_deref(),
        Some("ETLIFY_ADMIN_TOKEN")
    );
    assert!(settings.worker.page);
}

/// A token written in the file instead of a variable's name is refused
/// without being echoed back.
#[test]
fn page_serve_bad_values_are_refused_naming_the_key() {
    let message = refused(&format!("{BASE}[serve]\nlisten = \"localhost\"\n"));
    assert!(message.contains("serve.listen"), "{message}");
    let message = refused(&format!(
        "{BASE}[serve]\nadmin_token_env = \"s3cr3t-t0ken!\"\n"
    ));
    assert!(message.contains("serve.admin_token_env"), "{message}");
    assert!(message.contains("environment variable"), "{message}");
    assert!(!message.contains("s3cr3t-t0ken"), "{message}");
    let message = refused(&format!("{BASE}[serve]\nport = 1\n"));
    assert!(message.contains("port"), "{message}");
}

#[test]
fn runs_history_retention_is_read_and_bad_keys_are_named() {
    let defaults = parse_with(BASE, &[]).unwrap();
    assert_eq!(defaults.config.get_keep_runs(), etlify::DEFAULT_KEEP_RUNS);
    assert_eq!(
        defaults.config.get_keep_runs_per_crm(),
        etlify::DEFAULT_KEEP_RUNS_PER_CRM
    );
    let settings = parse_with(
        &format!("{BASE}[history]\nkeep_runs = \"7d\"\nkeep_runs_per_crm = 500\n"),
        &[],
    )
    .unwrap();
    assert_eq!(
        settings.config.get_keep_runs(),
        Duration::from_secs(7 * 24 * 3_600)
    );
    assert_eq!(settings.config.get_keep_runs_per_crm(), 500);
    let message = refused(&format!("{BASE}[history]\nkeep_runs = \"a month\"\n"));
    assert!(message.contains("history.keep_runs"), "{message}");
    let message = refused(&format!("{BASE}[history]\nkeep_runs_per_crm = 0\n"));
    assert!(
        message.contains("history.keep_runs_per_crm") && message.contains("at least 1"),
        "{message}"
    );
    let message = refused(&format!("{BASE}[history]\nkeep = \"1d\"\n"));
    assert!(
        message.contains("history") && message.contains("keep"),
        "{message}"
    );
}

const HOOK: &str = "https://hooks.slack.com/services/T0/B0/SECRET-PART";

#[test]
fn alert_webhooks_and_thresholds_are_read() {
    let settings = parse_with(
        &format!(
            "{BASE}[alerts]\nerror_share = 0.2\nworker_silent = \"2m\"\ncheck_interval = \"10s\"\noldest_stale = \"1h\"\n\
             [[alerts.webhooks]]\nurl_env = \"SLACK_URL\"\n\
             [[alerts.webhooks]]\nurl = \"${{OTHER_URL}}\"\nformat = \"json\"\n"
        ),
        &[
            ("SLACK_URL", HOOK),
            ("OTHER_URL", "http://127.0.0.1:9000/alerts"),
        ],
    )
    .unwrap();
    let alerts = settings.alerts.unwrap();
    assert_eq!(alerts.get_webhooks().len(), 2);
    assert_eq!(
        alerts.get_webhooks()[0].format(),
        etlify::AlertFormat::Slack
    );
    assert_eq!(alerts.get_webhooks()[1].format(), etlify::AlertFormat::Json);
    assert_eq!(alerts.get_error_share(), Some(0.2));
    assert_eq!(alerts.get_worker_silent(), Some(Duration::from_secs(120)));
    assert_eq!(alerts.get_check_interval(), Duration::from_secs(10));
    assert_eq!(alerts.get_oldest_stale(), Some(Duration::from_secs(3_600)));
    assert!(!format!("{alerts:?}").contains("SECRET-PART"), "{alerts:?}");
    assert!(parse_with(BASE, &[]).unwrap().alerts.is_none());
}

#[test]
fn alert_bad_keys_are_refused_naming_the_key_never_the_url() {
    let hook = |lines: &str| format!("{BASE}[alerts]\n[[alerts.webhooks]]\n{lines}\n");
    for (text, key) in [
        (
            format!("{BASE}[alerts]\nerror_share = 0.2\n"),
            "alerts.webhooks",
        ),
        (
            hook("url = \"not a url SECRET-PART\""),
            "alerts.webhooks[0].url",
        ),
        (
            hook("url_env = \"UNSET_HOOK\""),
            "alerts.webhooks[0].url_env",
        ),
        (
            hook(&format!("url = \"{HOOK}\"\nurl_env = \"X\"")),
            "alerts.webhooks[0].url",
        ),
        (
            hook(&format!("url = \"{HOOK}\"\nformat = \"teams\"")),
            "format",
        ),
        (
            hook(&format!("url = \"{HOOK}\"\nchannel = \"#ops\"")),
            "channel",
        ),
        (
            format!("{BASE}[alerts]\nerror_share = 1.5\n[[alerts.webhooks]]\nurl = \"{HOOK}\"\n"),
            "alerts.error_share",
        ),
        (
            format!(
                "{BASE}[alerts]\nworker_silent = \"soon\"\n[[alerts.webhooks]]\nurl = \"{HOOK}\"\n"
            ),
            "alerts.worker_silent",
        ),
        (
            format!("{BASE}[alerts]\noldest = \"1h\"\n[[alerts.webhooks]]\nurl = \"{HOOK}\"\n"),
            "oldest",
        ),
        (
            format!(
                "{BASE}[alerts]\noldest_stale = \"0s\"\n[[alerts.webhooks]]\nurl = \"{HOOK}\"\n"
            ),
            "alerts.oldest_stale",
        ),
    ] {
        let message = refused(&text);
        assert!(message.contains(key), "{key}: {message}");
        assert!(!message.contains("SECRET-PART"), "{message}");
    }
}

#[test]
fn fresh_worker_watch_defaults_to_auto_and_reads_off_or_a_period() {
    let settings = parse_with(BASE, &[]).unwrap();
    assert_eq!(settings.worker.watch, etlify::ChangeWatch::Auto);
    for (text, expected) in [
        ("auto", etlify::ChangeWatch::Auto),
        ("off", etlify::ChangeWatch::Off),
        (
            "1s",
            etlify::ChangeWatch::Poll(std::time::Duration::from_secs(1)),
        ),
    ] {
        let settings = parse_with(&format!("{BASE}[worker]\nwatch = \"{text}\"\n"), &[]).unwrap();
        assert_eq!(settings.worker.watch, expected, "{text}");
    }
}

/// A webhook CRM `hooks` with the lines `lines`.
fn webhook(lines: &str) -> String {
    format!("[database]\nurl = \"sqlite://x.db\"\n[crms.hooks]\nadapter = \"webhook\"\n{lines}\n")
}

#[test]
fn webhook_keys_are_checked_before_anything_runs_naming_the_key() {
    let secret = [("WEBHOOK_SIGNING_SECRET", "whsec-1")];
    let complete = "url = \"https://hooks.example.com/etlify\"\n\
                    signing_secret = \"${WEBHOOK_SIGNING_SECRET}\"";
    assert!(parse_with(&webhook(complete), &secret).is_ok());
    let cases = [
        (
            "signing_secret = \"${WEBHOOK_SIGNING_SECRET}\"".to_owned(),
            "crms.hooks.url: is required",
        ),
        (
            "url = \"https://hooks.example.com/etlify\"".to_owned(),
            "crms.hooks.signing_secret: is required",
        ),
        (
            format!("{complete}\nsigning_secret_env = \"X\""),
            "signing_secret_env",
        ),
        (
            "url = \"not a url\"\nsigning_secret = \"${WEBHOOK_SIGNING_SECRET}\"".to_owned(),
            "crms.hooks.url: must be an absolute URL",
        ),
        (
            format!("{complete}\nbatch_size = 0"),
            "crms.hooks.batch_size: must be between 1 and 1000",
        ),
        (
            format!("{complete}\n[crms.hooks.response]\nitems = \"results\""),
            "crms.hooks.response.items: must be a JSON pointer",
        ),
        (
            format!("{complete}\n[crms.hooks.response]\nitems = \"/results\"\nids = \"/id\""),
            "ids",
        ),
        (
            format!("{complete}\ntoken = \"x\""),
            "crms.hooks.token: applies to hubspot, airtable and intercom only",
        ),
    ];
    for (lines, expected) in cases {
        let message = refused_with(&webhook(&lines), &secret);
        assert!(message.contains(expected), "{lines}\n=> {message}");
        assert!(!message.contains("whsec-1"), "{message}");
    }
    let message = refused(&format!(
        "{BASE}[crms.crm]\nadapter = \"hubspot\"\ntoken = \"t\"\nurl = \"https://x.io\"\n"
    ));
    assert!(
        message.contains("crms.crm.url: applies to webhook only"),
        "{message}"
    );
}

#[test]
fn webhook_unset_variables_are_named_with_their_keys() {
    let message = refused(&webhook(
        "url = \"${HOOK_URL}\"\nsigning_secret = \"${WEBHOOK_SIGNING_SECRET}\"",
    ));
    assert!(
        message.contains("crms.hooks.url: HOOK_URL")
            && message.contains("crms.hooks.signing_secret: WEBHOOK_SIGNING_SECRET"),
        "{message}"
    );
}

#[test]
fn webhook_a_disabled_webhook_needs_neither_url_nor_secret() {
    let settings = parse_with(&webhook("enabled = false"), &[]).unwrap();
    assert_eq!(settings.crms.len(), 1);
    assert!(!settings.crms[0].get_enabled());
}

#[test]
fn link_declarations_are_read_with_their_kinds_and_association_types() {
    let settings = parse_with(
        &with_binding(
            "links = [\n\
             { model = \"Company\", belongs_to = \"company_id\", name = \"company\" },\n\
             { model = \"Deal\", join_table = { table = \"contacts_deals\", owner_column = \"user_id\", target_column = \"deal_id\" }, association = { category = \"USER_DEFINED\", type_id = 12 } },\n\
             { model = \"Org\", polymorphic = { type_column = \"owner_type\", id_column = \"owner_id\" } },\n\
             { model = \"Company\", belongs_to = \"company_id\", name = \"boss\", association = { label = \"Decision maker\" } },\n\
             ]",
        ),
        &[],
    )
    .unwrap();
    let binding = settings.models[0].get_binding("hubspot").unwrap();
    let links = binding.get_links();
    assert_eq!(links.len(), 4);
    assert_eq!(links[3].get_association_label(), Some("Decision maker"));
    assert_eq!(links[0].get_name(), "company");
    assert_eq!(links[0].get_target(), "Company");
    assert_eq!(links[0].get_association(), AssociationType::Default);
    assert_eq!(links[1].get_name(), "contacts_deals");
    assert_eq!(
        links[1].get_association(),
        AssociationType::Typed {
            category: AssociationCategory::UserDefined,
            type_id: 12
        }
    );
    assert!(matches!(
        links[2].get_via(),
        etlify::LinkVia::Polymorphic { type_value, .. } if type_value == "Org"
    ));
}

#[test]
fn link_mistakes_are_refused_naming_the_key_path() {
    let cases = [
        (
            "{ model = \"Company\" }",
            "links[0]: expected exactly one of belongs_to, has_many, join_table or polymorphic",
        ),
        (
            "{ model = \"Company\", belongs_to = \"company_id\", has_many = \"user_id\" }",
            "links[0]: expected exactly one of",
        ),
        (
            "{ model = \"Company\", belongs_to = \"company_id\", association = { category = \"MINE\", type_id = 1 } }",
            "links[0].association.category",
        ),
        (
            "{ model = \"Company\", belongs_to = \"company_id\", label = \"x\" }",
            "links[0]",
        ),
        (
            "{ model = \"Company\", belongs_to = \"company_id\", association = { label = \"Boss\", type_id = 3 } }",
            "links[0].association: expected a category and a type_id",
        ),
        (
            "{ model = \"Company\", belongs_to = \"company_id\", association = { type_id = 3 } }",
            "links[0].association: expected a category and a type_id",
        ),
    ];
    for (link, expected) in cases {
        let message = refused(&with_binding(&format!("links = [{link}]")));
        assert!(
            message.contains(&format!("models.User.crms.hubspot.{expected}")),
            "{link}: {message}"
        );
    }
}

#[test]
fn schema_check_and_the_crm_value_keys_are_read_and_a_bad_check_named() {
    let message = refused(&format!("{BASE}schema_check = \"sometimes\"\n"));
    assert!(
        message.contains(
            "crms.hubspot.schema_check: must be \"auto\", \"require\" or \"skip\", got \"sometimes\""
        ),
        "{message}"
    );
    let settings = parse_with(
        &format!(
            "{BASE}schema_check = \"require\"\nproperty_group = \"app_data\"\n\
             render_values = false\nvalues_as_is = {{ contacts = [\"birthday\"] }}\n"
        ),
        &[],
    )
    .unwrap();
    let crm = &settings.crms[0];
    assert_eq!(crm.get_schema_check(), SchemaCheck::Require);
    assert_eq!(crm.get_property_group(), Some("app_data"));
    let shown = format!("{crm:?}");
    assert!(
        shown.contains("render_values: false") && shown.contains("birthday"),
        "{shown}"
    );
    let defaults = parse_with(BASE, &[]).unwrap();
    assert_eq!(defaults.crms[0].get_schema_check(), SchemaCheck::Auto);
}
