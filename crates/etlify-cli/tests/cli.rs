//! The `etlify` binary, run as a user would: a TOML file beside a
//! database, `migrate`, `plan`, `sync`, on SQLite, PostgreSQL and MySQL; bad
//! configurations exit 2 naming the key path.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod support;

use support::etlify_command;

/// The binding of the gem fixtures' users: the gem's payload, as SQL.
const USERS_BINDING: &str = r#"payload = "SELECT users.id, users.email, users.full_name, companies.name AS company FROM users LEFT JOIN companies ON companies.id = users.company_id""#;

fn etlify(config: &Path, args: &[&str]) -> Output {
    etlify_command(config, args)
        .env_remove("HUBSPOT_TOKEN")
        .output()
        .unwrap()
}

fn json_of(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Runs `statements` on the copied fixture's `app.sqlite3` in `dir`.
fn exec_on_app_db(dir: &Path, statements: &[&str]) {
    let db = dir.join("app.sqlite3");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = etlify::Store::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        for sql in statements {
            sqlx::query(sqlx::AssertSqlSafe(*sql))
                .execute(store.sqlite_pool().unwrap())
                .await
                .unwrap();
        }
    });
}

/// The count `sql` answers on the copied fixture's `app.sqlite3` in `dir`.
fn count_on_app_db(dir: &Path, sql: &str) -> u64 {
    let db = dir.join("app.sqlite3");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = etlify::Store::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let (count,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(store.sqlite_pool().unwrap())
            .await
            .unwrap();
        u64::try_from(count).unwrap()
    })
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../etlify/tests/fixtures")
        .join(name)
}

fn expected(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

/// A copy of a gem fixture and a configuration file beside it, with the
/// gem's dependency on companies.
fn gem_copy(fixture_name: &str, binding: &str) -> (tempfile::TempDir, PathBuf) {
    gem_copy_with(
        fixture_name,
        &format!("dependencies = [{{ belongs_to = \"companies\", foreign_key = \"company_id\" }}]\n{binding}"),
    )
}

/// A copy of a gem fixture and a configuration whose User binding is `binding`.
fn gem_copy_with(fixture_name: &str, binding: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.sqlite3");
    std::fs::copy(fixture(fixture_name), &db).unwrap();
    let config = dir.path().join("etlify.toml");
    std::fs::write(
        &config,
        format!(
            r#"[database]
url = "sqlite://{}"

[crms.hubspot]
adapter = "null"

[models.User]
table = "users"

[models.User.crms.hubspot]
object_type = "contacts"
id_property = "email"
{binding}
"#,
            db.display()
        ),
    )
    .unwrap();
    (dir, config)
}

/// A copy of the gem fixture with the users binding, its CRM (`hubspot`)
/// declared by `crm` (TOML lines) instead of the null adapter.
fn gem_copy_with_crm(crm: &str) -> (tempfile::TempDir, PathBuf) {
    let (dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("adapter = \"null\"", crm);
    std::fs::write(&config, text).unwrap();
    (dir, config)
}

/// plan, then sync, on a database the gem synced: the stale counts and the
/// sends of its `.expect.json`; a second sync sends nothing.
fn takes_over(fixture_name: &str, expect_name: &str, binding: &str) {
    let (_dir, config) = gem_copy(fixture_name, binding);
    let expect = expected(expect_name);
    let migrated = etlify(&config, &["migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let plan = json_of(&etlify(&config, &["plan", "--json"]));
    assert_eq!(plan["total"], expect["stale_count"]);
    // `plan --diff` over every stale record predicts exactly what is sent.
    let stale = expect["stale_count"].as_u64().unwrap().to_string();
    let diff = json_of(&etlify(
        &config,
        &["plan", "--diff", "--sample", &stale, "--json"],
    ));
    let sample = diff["entries"][0]["sample"].as_array().unwrap();
    assert_eq!(sample.len().to_string(), stale);
    let would_send = sample.iter().filter(|r| r["change"] != "unchanged").count();
    assert_eq!(
        would_send as u64,
        expect["expected_crm_upserts_for_stale_run"]
            .as_u64()
            .unwrap(),
        "{diff}"
    );
    let sync = json_of(&etlify(&config, &["sync", "--json"]));
    assert_eq!(sync["total"], expect["stale_count"]);
    assert_eq!(sync["synced"], expect["expected_crm_upserts_for_stale_run"]);
    assert_eq!(sync["errors"], 0);
    assert_eq!(sync["per_crm"]["hubspot"]["synced"], sync["synced"]);
    let again = json_of(&etlify(&config, &["sync", "--json", "--full"]));
    assert_eq!(again["synced"], 0, "a full reconcile sends nothing more");
}

#[test]
fn cli_interop_rails_gem_synced_plan_and_sync_report_the_expected_counts() {
    takes_over(
        "rails-gem-synced.sqlite3",
        "rails-gem-synced.expect.json",
        USERS_BINDING,
    );
}

#[test]
fn cli_interop_rails_gem_typed_plan_and_sync_report_the_expected_counts() {
    takes_over(
        "rails-gem-typed.sqlite3",
        "rails-gem-typed.expect.json",
        r#"payload = """
  SELECT users.id, users.email, users.full_name, companies.name AS company,
         users.vip, users.score, users.balance, users.birthday, users.signed_up_at,
         users.preferences, json_array(users.id % 3, 't' || (users.id % 2)) AS tags
  FROM users LEFT JOIN companies ON companies.id = users.company_id
"""
rendering = "rails"
types = { preferences = "json", tags = "json" }"#,
    );
}

/// A MySQL database on the test server made out of the gem fixture by
/// `scripts/gem-fixture-to-mysql.py` (the gem's column types and stored
/// digests), dropped with the value; its URL.
struct GemMysqlDatabase {
    server: String,
    name: String,
    url: String,
}

impl GemMysqlDatabase {
    fn new(tag: &str) -> Self {
        let server = support::mysql_server();
        let name = format!("etlify_cli_{tag}_{}", std::process::id());
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let made = Command::new("python3")
            .arg(root.join("scripts/gem-fixture-to-mysql.py"))
            .arg(fixture("rails-gem-synced.sqlite3"))
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let (base, _) = server.rsplit_once('/').unwrap();
        let url = format!("{base}/{name}");
        Self::run(
            &server,
            &format!("DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`"),
        );
        Self::run(&url, &String::from_utf8(made.stdout).unwrap());
        Self { server, name, url }
    }

    fn run(url: &str, sql: &str) {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            use sqlx::Connection;
            let mut connection = sqlx::MySqlConnection::connect(url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut connection)
                .await
                .unwrap();
        });
    }
}

impl Drop for GemMysqlDatabase {
    fn drop(&mut self) {
        Self::run(
            &self.server,
            &format!("DROP DATABASE IF EXISTS `{}`", self.name),
        );
    }
}

/// Issue 31 (4): a gem-synced MySQL database taken over by the CLI:
/// `migrate`, `check`, then `sync` sends exactly the records that
/// changed, and a full reconcile nothing more.
#[test]
fn cli_interop_mysql_gem_synced_sync_sends_only_the_changed_records() {
    let database = GemMysqlDatabase::new("gem");
    let (dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    let text = std::fs::read_to_string(&config).unwrap();
    let sqlite_url = format!("sqlite://{}", dir.path().join("app.sqlite3").display());
    std::fs::write(&config, text.replace(&sqlite_url, &database.url)).unwrap();
    let expect = expected("rails-gem-synced.expect.json");

    let migrated = etlify(&config, &["migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let check = etlify(&config, &["check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let sync = json_of(&etlify(&config, &["sync", "--json"]));
    assert_eq!(
        sync["synced"], expect["expected_crm_upserts_for_stale_run"],
        "{sync}"
    );
    assert_eq!(sync["errors"], 0);
    let again = json_of(&etlify(&config, &["sync", "--json", "--full"]));
    assert_eq!(again["total"], expect["users"]);
    assert_eq!(again["synced"], 0, "a full reconcile sends nothing more");
}

/// Issue 31 (1): MySQL's catalog for `init --from-database` (one model per
/// application table, the dependency on companies found from
/// `company_id`) and `new-model`.
#[test]
fn mysql_cli_init_from_the_database_and_new_model_read_the_catalog() {
    let database = GemMysqlDatabase::new("init");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etlify.toml");
    let output = etlify(
        &config,
        &["init", "--database", &database.url, "--from-database"],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("2 model sections (companies, users)"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&config).unwrap();
    for wanted in [
        "[models.User]",
        "[models.Company]",
        r#"{ belongs_to = "companies", foreign_key = "company_id" }"#,
    ] {
        assert!(text.contains(wanted), "{wanted} in {text}");
    }
    assert!(!text.contains("crm_synchronisations"), "{text}");
    // `new-model` on a configuration of the database, migrated.
    let (copy, config) = gem_copy(
        "rails-gem-synced.sqlite3",
        "payload = \"SELECT id, email FROM users\"",
    );
    let text = std::fs::read_to_string(&config).unwrap();
    let sqlite_url = format!("sqlite://{}", copy.path().join("app.sqlite3").display());
    std::fs::write(&config, text.replace(&sqlite_url, &database.url)).unwrap();
    assert!(etlify(&config, &["migrate"]).status.success());
    let users = String::from_utf8_lossy(
        &etlify(&config, &["new-model", "users", "--model", "Member"]).stdout,
    )
    .into_owned();
    assert!(
        users.contains("belongs_to = \"companies\", foreign_key = \"company_id\""),
        "{users}"
    );
    assert!(users.contains("id_property = \"email\""), "{users}");
}

/// G-25 from the CLI: one record synced by hand; G-26: `migrate` on a
/// database the gem created, then `migrate --revert` gives its schema back.
#[test]
fn g25_g26_one_record_by_hand_and_a_reverted_migration() {
    let (_dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    assert!(etlify(&config, &["migrate"]).status.success());
    let one = json_of(&etlify(
        &config,
        &["sync-record", "User", "2", "--crm", "hubspot", "--json"],
    ));
    assert!(
        one["outcome"] == "synced" || one["outcome"] == "not_modified",
        "{one}"
    );
    let reverted = etlify(&config, &["migrate", "--revert"]);
    assert!(
        reverted.status.success(),
        "{}",
        String::from_utf8_lossy(&reverted.stderr)
    );
    // The gem's schema again: etlify's own tables are gone, so check asks for a migration.
    let (code, stderr) = failure(&config, &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("etlify_leases") && stderr.contains("etlify migrate"),
        "{stderr}"
    );
}

#[test]
fn cli_sync_record_and_crms_report_what_they_did() {
    let (_dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    assert!(etlify(&config, &["migrate"]).status.success());
    let changed = expected("rails-gem-synced.expect.json")["changed_ids"][0]
        .as_i64()
        .unwrap();
    let id = changed.to_string();
    let first = json_of(&etlify(
        &config,
        &["sync-record", "User", &id, "--crm", "hubspot", "--json"],
    ));
    assert_eq!(first["outcome"], "synced");
    let again = json_of(&etlify(
        &config,
        &["sync-record", "User", &id, "--crm", "hubspot", "--json"],
    ));
    assert_eq!(again["outcome"], "not_modified");
    let crms = json_of(&etlify(&config, &["crms", "--json"]));
    assert_eq!(crms[0]["name"], "hubspot");
    assert_eq!(crms[0]["adapter"], "null");
    assert_eq!(crms[0]["enabled"], true);
    let (code, stderr) = failure(&config, &["sync-record", "Nope", "1", "--crm", "hubspot"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("models.Nope"), "{stderr}");
}

fn failure(config: &Path, args: &[&str]) -> (i32, String) {
    let output = etlify(config, args);
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn cli_config_an_unknown_key_exits_2_naming_its_key_path() {
    let (_dir, config) = gem_copy(
        "rails-gem-synced.sqlite3",
        "payload = \"SELECT id, email FROM users\"\npayload_query = \"typo\"",
    );
    let (code, stderr) = failure(&config, &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("models.User.crms.hubspot"), "{stderr}");
    assert!(stderr.contains("payload_query"), "{stderr}");
    assert!(stderr.contains("etlify.toml"), "{stderr}");
}

/// A value out of range exits 2 naming its key (the others: settings'
/// unit tests).
#[test]
fn cli_config_request_budgets_below_one_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etlify.toml");
    std::fs::write(
        &config,
        "[database]\nurl = \"sqlite://x.db\"\n[crms.hubspot]\nadapter = \"null\"\nmax_in_flight = 0\n",
    )
    .unwrap();
    let (code, stderr) = failure(&config, &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("crms.hubspot.max_in_flight"), "{stderr}");
    assert!(stderr.contains("at least 1"), "{stderr}");
}

/// Issue 28 (4): a bad `[alerts]` key exits 2 naming it; a webhook's URL
/// is a secret, never echoed.
#[test]
fn alert_cli_bad_alerts_keys_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etlify.toml");
    let base = "[database]\nurl = \"sqlite://x.db\"\n[crms.hubspot]\nadapter = \"null\"\n";
    for (alerts, key) in [
        (
            "[alerts]\nerror_share = 2.0\n[[alerts.webhooks]]\nurl = \"https://hooks.slack.com/services/SECRET-PART\"\n",
            "alerts.error_share",
        ),
        (
            "[alerts]\n[[alerts.webhooks]]\nurl = \"hooks.slack.com/SECRET-PART\"\n",
            "alerts.webhooks[0].url",
        ),
        ("[alerts]\nthreshold = 1\n", "threshold"),
    ] {
        std::fs::write(&config, format!("{base}{alerts}")).unwrap();
        let (code, stderr) = failure(&config, &["check"]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(key), "{key}: {stderr}");
        assert!(!stderr.contains("SECRET-PART"), "{stderr}");
    }
}

#[test]
fn cli_config_a_token_from_a_missing_variable_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etlify.toml");
    std::fs::write(
        &config,
        "[database]\nurl = \"sqlite://x.db\"\n[crms.hubspot]\nadapter = \"hubspot\"\ntoken = \"${ETLIFY_TEST_SURELY_UNSET_TOKEN}\"\n",
    )
    .unwrap();
    let (code, stderr) = failure(&config, &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("crms.hubspot.token"), "{stderr}");
    assert!(
        stderr.contains("ETLIFY_TEST_SURELY_UNSET_TOKEN"),
        "{stderr}"
    );
}

#[test]
fn cli_config_a_missing_column_exits_2_naming_the_binding() {
    let (_dir, config) = gem_copy(
        "rails-gem-synced.sqlite3",
        "payload = \"SELECT id, email FROM users\"\nstale_scope = \"users.no_such_column = 1\"",
    );
    assert!(etlify(&config, &["migrate"]).status.success());
    let (code, stderr) = failure(&config, &["sync"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("models.User.crms.hubspot"), "{stderr}");
    assert!(stderr.contains("stale_scope"), "{stderr}");
}

/// The same commands on PostgreSQL (a schema of the throwaway server that
/// `scripts/test.sh` starts; without it the test fails, never skips).
#[test]
fn cli_migrate_plan_and_sync_on_postgres() {
    let server = support::postgres_server();
    let schema = format!("etlify_cli_{}", std::process::id());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = etlify::Store::connect(&server).await.unwrap();
        let pool = store.postgres_pool().unwrap();
        for sql in [
            format!("CREATE SCHEMA \"{schema}\""),
            format!(
                "CREATE TABLE \"{schema}\".users (id bigserial PRIMARY KEY, email varchar, vip boolean, \
                 created_at timestamp(6) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'), \
                 updated_at timestamp(6) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))"
            ),
            format!(
                "INSERT INTO \"{schema}\".users (email, vip) SELECT 'u' || n || '@x.io', n % 2 = 0 FROM generate_series(1, 25) AS n"
            ),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.unwrap();
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etlify.toml");
    let url = support::in_search_path(&server, &schema);
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{url}\"\n\
             [crms.hubspot]\nadapter = \"null\"\n\
             [models.User]\ntable = \"users\"\n\
             [models.User.crms.hubspot]\nobject_type = \"contacts\"\nid_property = \"email\"\n\
             payload = \"SELECT id, email, vip FROM users\"\n"
        ),
    )
    .unwrap();
    assert!(etlify(&config, &["migrate"]).status.success());
    assert_eq!(json_of(&etlify(&config, &["plan", "--json"]))["total"], 25);
    let sync = json_of(&etlify(&config, &["sync", "--json"]));
    assert_eq!(
        (sync["synced"].as_u64(), sync["errors"].as_u64()),
        (Some(25), Some(0))
    );
    // Nothing is sent again. (`plan` may still count them: on a PostgreSQL
    // server shared with other tests, a sync is in sync as of before the
    // oldest transaction open on the server, X-1.)
    let again = json_of(&etlify(&config, &["sync", "--json"]));
    assert_eq!(
        (again["synced"].as_u64(), again["errors"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
}

/// `etlify demo` needs no configuration; run twice, the second run sends
/// nothing (the database and the sandbox's objects are kept in its folder).
#[test]
fn demo_running_twice_sends_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("demo");
    let run = || {
        let output = Command::new(env!("CARGO_BIN_EXE_etlify"))
            .args(["demo", "--users", "120", "--json", "--dir"])
            .arg(&folder)
            .current_dir(dir.path())
            .output()
            .unwrap();
        json_of(&output)
    };
    let first = run();
    assert_eq!(first["created"], true);
    assert_eq!(first["runs"][0]["synced"], 126, "6 companies, 120 users");
    assert_eq!(
        first["runs"][1]["synced"], 0,
        "nothing changed, nothing sent"
    );
    assert_eq!(
        first["runs"][2]["synced"], 21,
        "only the renamed company and its users: {first}"
    );
    assert_eq!(first["sandbox_contacts"], 120);
    assert_eq!(
        first["sandbox_associations"], 120,
        "each user linked to its company"
    );
    assert!(folder.join("etlify.toml").exists());

    let second = run();
    assert_eq!(second["created"], false);
    assert_eq!(
        second["runs"][0]["synced"], 0,
        "the second demo sends nothing: {second}"
    );
    assert_eq!(
        second["runs"][2]["synced"], 21,
        "only the renamed company and its users: {second}"
    );
    assert_eq!(second["sandbox_associations"], 120, "kept by the sandbox");
    assert_eq!(
        second["sandbox_contacts"], 120,
        "the sandbox kept its contacts"
    );
}

/// The README's walk-through: `etlify demo` in a folder named relatively,
/// then `etlify status` and `etlify plan` from inside that folder read the
/// same database (the written configuration does not depend on where the
/// demo ran).
#[test]
fn demo_configuration_works_from_inside_the_demo_folder() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Command::new(env!("CARGO_BIN_EXE_etlify"))
        .args(["demo", "--users", "40", "--json", "--dir", "etlify-demo"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        json_of(&demo)["runs"][0]["synced"],
        42,
        "2 companies, 40 users"
    );

    let folder = dir.path().join("etlify-demo");
    let inside = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_etlify"))
            .args(args)
            .current_dir(&folder)
            .env_remove("ETLIFY_CONFIG")
            .output()
            .unwrap()
    };
    let status = json_of(&inside(&["status", "--json"]));
    let users = status
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["model"] == "User")
        .unwrap();
    assert_eq!(users["records"], 40, "{status}");
    assert_eq!(
        (&users["never_synced"], &users["failing"]),
        (&Value::from(0), &Value::from(0)),
        "{status}"
    );
    assert_eq!(json_of(&inside(&["plan", "--json"]))["total"], 0);
}

/// Issue 28 (1): `etlify runs --json` lists the demo's runs, newest first,
/// each with its trigger, status, counts per model and duration; `--crm`
/// and `--limit` narrow it, and the text table shows them.
#[test]
fn runs_cli_lists_the_run_history_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Command::new(env!("CARGO_BIN_EXE_etlify"))
        .args(["demo", "--users", "30", "--json", "--dir", "etlify-demo"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        json_of(&demo)["runs"][0]["synced"],
        31,
        "a company, 30 users"
    );
    let config = dir.path().join("etlify-demo").join("etlify.toml");
    let runs = json_of(&etlify(&config, &["runs", "--json"]));
    let runs = runs.as_array().unwrap();
    assert!(runs.len() >= 3, "the demo's runs: {runs:?}");
    let first = runs.last().unwrap();
    assert_eq!(first["trigger"], "command", "{first}");
    assert_eq!(first["status"], "succeeded", "{first}");
    assert_eq!(first["records"], 31, "{first}");
    let synced: u64 = first["per_model"]
        .as_object()
        .unwrap()
        .values()
        .map(|counts| counts["synced"].as_u64().unwrap())
        .sum();
    assert_eq!(synced, 31, "{first}");
    assert!(first["duration_ms"].is_u64(), "{first}");
    assert!(first["finished_at"].is_string(), "{first}");
    assert!(
        runs[0]["id"].as_i64() > first["id"].as_i64(),
        "newest first"
    );
    let crm = first["crm"].as_str().unwrap();
    let one = json_of(&etlify(
        &config,
        &["runs", "--json", "--crm", crm, "--limit", "1"],
    ));
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["id"], runs[0]["id"]);
    let none = json_of(&etlify(&config, &["runs", "--json", "--crm", "elsewhere"]));
    assert_eq!(none, serde_json::json!([]));
    let text = etlify(&config, &["runs"]);
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("trigger") && text.contains("command") && text.contains("succeeded"),
        "{text}"
    );
}

/// Ctrl-C during `etlify sync`: the requests in flight finish and are
/// recorded, the locks are released, and it exits 130 saying how to go on.
/// A run started right after takes the rest over (not skipped as busy
/// until the locks expire), and every record reaches the CRM once.
#[test]
fn cli_sync_ctrl_c_stops_gracefully_and_the_next_run_goes_on() {
    let n = 3_000;
    let dir = tempfile::tempdir().unwrap();
    exec_on_app_db(
        dir.path(),
        &[
            "CREATE TABLE users (id integer PRIMARY KEY, email varchar, updated_at datetime)",
            &format!(
                "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n}) \
                 INSERT INTO users SELECT i, 'user' || i || '@example.com', '2026-01-01 00:00:00' FROM k"
            ),
        ],
    );
    let (_sandbox, sandbox) = support::start_sandbox();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // Each request answers after 200 ms: the run's 30 requests, two at a
    // time, take seconds.
    let faults = serde_json::json!({"hubspot": {"latency_ms": 200}});
    runtime.block_on(support::sandbox_put(&sandbox, "faults", &faults));
    let config = dir.path().join("etlify.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n\
             [crms.hubspot]\nadapter = \"hubspot\"\nbase_url = \"{sandbox}\"\ntoken = \"{}\"\nmax_in_flight = 2\n\
             [models.User]\ntable = \"users\"\n\
             [models.User.crms.hubspot]\nobject_type = \"contacts\"\nid_property = \"email\"\n\
             payload = \"SELECT id, email FROM users\"\n",
            dir.path().join("app.sqlite3").display(),
            etlify_sandbox::DEFAULT_HUBSPOT_TOKEN,
        ),
    )
    .unwrap();
    assert!(etlify(&config, &["migrate"]).status.success());

    let run = Command::new(env!("CARGO_BIN_EXE_etlify"))
        .arg("--config")
        .arg(&config)
        .args(["sync", "--json", "--batch-size", "200"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-run: once the sandbox has answered a few requests.
    runtime.block_on(async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let log: Value = reqwest::get(format!("{sandbox}/_sandbox/requests"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if log["total"].as_u64().unwrap_or(0) >= 3 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no request: {log}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    assert!(Command::new("kill")
        .args(["-INT", &run.id().to_string()])
        .status()
        .unwrap()
        .success());
    let stopped = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&stopped.stderr);
    assert_eq!(stopped.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("run `etlify sync` again"), "{stderr}");
    let first: Value = serde_json::from_slice(&stopped.stdout).unwrap();
    assert_eq!(first["stopped"], true, "{first}");
    let sent_first = first["synced"].as_u64().unwrap();
    assert!(sent_first > 0 && sent_first < n, "stopped mid-run: {first}");

    let second = json_of(&etlify(&config, &["sync", "--json"]));
    assert_eq!(second["busy"], serde_json::json!([]), "{second}");
    assert_eq!(second["stopped"], false, "{second}");
    assert_eq!(
        sent_first + second["synced"].as_u64().unwrap(),
        n,
        "every record sent once: {first} {second}"
    );
    let contacts = runtime.block_on(support::sandbox_contacts(&sandbox)).len();
    assert_eq!(contacts as u64, n, "one contact per user");
}

/// `check --crms` asks each enabled CRM, with one read per object type,
/// whether it takes the token and knows the object type: the sandbox with
/// its token passes; a wrong token or an unknown object type exits 2
/// naming the CRM and the object type, and the token is never shown.
#[test]
fn cli_check_crms_asks_each_crm_for_its_object_types() {
    let (sandbox_process, sandbox) = support::start_sandbox();
    let with = |token: &str, object_type: &str| {
        let (dir, config) = gem_copy_with_crm(&format!(
            "adapter = \"hubspot\"\nbase_url = \"{sandbox}\"\ntoken = \"{token}\""
        ));
        let text = std::fs::read_to_string(&config).unwrap().replace(
            "object_type = \"contacts\"",
            &format!("object_type = \"{object_type}\""),
        );
        std::fs::write(&config, text).unwrap();
        (dir, config)
    };
    let said = |output: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };
    let (_dir, config) = with(etlify_sandbox::DEFAULT_HUBSPOT_TOKEN, "contacts");
    assert!(etlify(&config, &["migrate"]).status.success());
    let output = etlify(&config, &["check", "--crms"]);
    assert!(output.status.success(), "{}", said(&output));
    assert!(
        said(&output)
            .contains("hubspot contacts: the CRM takes the token and reads the object type"),
        "{}",
        said(&output)
    );

    let (_dir, config) = with("pat-wrong-token-4242", "contacts");
    assert!(etlify(&config, &["migrate"]).status.success());
    let output = etlify(&config, &["check", "--crms"]);
    let text = said(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("hubspot contacts: ") && text.contains("401"),
        "{text}"
    );
    assert!(
        !text.contains("pat-wrong-token-4242"),
        "the token is never shown: {text}"
    );

    let (_dir, config) = with(etlify_sandbox::DEFAULT_HUBSPOT_TOKEN, "contracts");
    assert!(etlify(&config, &["migrate"]).status.success());
    let output = etlify(&config, &["check", "--crms"]);
    let text = said(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("hubspot contracts: "), "{text}");
    // The same in JSON, for scripts: not ok, and why.
    let output = etlify(&config, &["check", "--crms", "--json"]);
    assert_eq!(output.status.code(), Some(2));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["access"][0]["object_type"], "contracts", "{report}");
    assert!(report["access"][0]["error"].is_string(), "{report}");

    // A CRM that cannot be reached (after its retries) is not the file's
    // fault: exit 3, saying what to check.
    drop(sandbox_process);
    let (_dir, config) = with(etlify_sandbox::DEFAULT_HUBSPOT_TOKEN, "contacts");
    assert!(etlify(&config, &["migrate"]).status.success());
    let output = etlify(&config, &["check", "--crms"]);
    let text = said(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(text.contains("could not connect to 127.0.0.1:"), "{text}");
    assert!(text.contains("check its base_url"), "{text}");
}

/// The values `etlify sandbox` prints for Airtable are the ones that work
/// in `etlify.toml`: `check --crms` with them reads the table.
#[test]
fn cli_sandbox_banner_gives_a_working_airtable_configuration() {
    let (sandbox, banner) = support::start_sandbox_with_banner();
    let airtable = banner
        .iter()
        .find_map(|line| line.strip_prefix("Airtable: "))
        .unwrap_or_else(|| panic!("no Airtable line in {banner:?}"));
    // `base_url = "…", token = "…", …`: the first two as TOML lines.
    let settings: Vec<&str> = airtable.split(", ").take(2).collect();
    let (_dir, config) = gem_copy_with_crm(&format!(
        "adapter = \"airtable\"\nbase_id = \"appAbCdEf01234567\"\n{}\n{}\n\
         rate_limit = {{ max_requests = 5, period = \"1s\" }}",
        settings[0], settings[1]
    ));
    assert!(etlify(&config, &["migrate"]).status.success());
    let output = etlify(&config, &["check", "--crms"]);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{airtable}: {said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        said.contains("hubspot contacts: the CRM takes the token"),
        "{said}"
    );
    drop(sandbox);
}

/// A HubSpot or Airtable CRM without `rate_limit` is not throttled (G-8),
/// so `check` warns and gives the line to add, with the CRM's own limit;
/// with one, it says nothing of it.
#[test]
fn cli_check_warns_of_a_crm_without_a_rate_limit() {
    let airtable = "adapter = \"airtable\"\nbase_id = \"appAbCdEf01234567\"\ntoken = \"pat-x\"";
    let (_dir, config) = gem_copy_with_crm(airtable);
    assert!(etlify(&config, &["migrate"]).status.success());
    let output = etlify(&config, &["check"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("crms.hubspot has no rate_limit")
            && stderr.contains("rate_limit = { max_requests = 5, period = \"1s\" }"),
        "{stderr}"
    );
    let (_dir, config) = gem_copy_with_crm(&format!(
        "{airtable}\nrate_limit = {{ max_requests = 5, period = \"1s\" }}"
    ));
    assert!(etlify(&config, &["migrate"]).status.success());
    let output = etlify(&config, &["check"]);
    assert!(output.status.success());
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A writer that stores whole seconds (here every `updated_at` truncated
/// to the second) with the default 1 ms `commit_margin`: `check` warns,
/// naming the model, its column and the key to set; with
/// `commit_margin = "1s"` it says nothing of it.
#[test]
fn probe_check_warns_of_whole_second_timestamps_naming_commit_margin() {
    let (dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    assert!(etlify(&config, &["migrate"]).status.success());
    let quiet = etlify(&config, &["check"]);
    assert!(
        !String::from_utf8_lossy(&quiet.stderr).contains("commit_margin"),
        "the gem's microsecond timestamps need no margin: {}",
        String::from_utf8_lossy(&quiet.stderr)
    );
    exec_on_app_db(
        dir.path(),
        &["UPDATE users SET updated_at = strftime('%Y-%m-%d %H:%M:%S', updated_at)"],
    );
    let output = etlify(&config, &["check"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "a warning, not an error: {stderr}");
    assert!(
        stderr.contains("models.User")
            && stderr.contains("users.updated_at")
            && stderr.contains("whole seconds")
            && stderr.contains("commit_margin = \"1s\""),
        "{stderr}"
    );
    append(&config, "\n[etlify]\ncommit_margin = \"1s\"\n");
    let output = etlify(&config, &["check"]);
    assert!(output.status.success());
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("commit_margin"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// With more than one CRM at work, `sync` says what each did below the
/// total, and how long the run took.
#[test]
fn cli_sync_reports_each_crm_and_the_time_taken() {
    let (_dir, config) = gem_copy(
        "rails-gem-synced.sqlite3",
        "payload = \"SELECT id, email FROM users\"\n\
         [crms.archive]\nadapter = \"null\"\n\
         [models.User.crms.archive]\nobject_type = \"contacts\"\nid_property = \"email\"\n\
         payload = \"SELECT id, email FROM users\"",
    );
    assert!(etlify(&config, &["migrate"]).status.success());
    let output = etlify(&config, &["sync"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("330 records in ")
            && lines[0]
                .ends_with(" s: 330 synced, 0 not modified, 0 skipped, 0 buffered, 0 errors"),
        "{stdout}"
    );
    // The gem's 30 stale records in hubspot; every record in the new CRM.
    for (crm, synced) in [("hubspot", 30), ("archive", 300)] {
        let line =
            format!("  {crm}: {synced} synced, 0 not modified, 0 skipped, 0 buffered, 0 errors");
        assert!(lines.contains(&line.as_str()), "{stdout}");
    }
}

/// Every command logs to stderr when RUST_LOG asks (the worker always
/// does); without it, a command prints only its own output.
#[test]
fn cli_rust_log_turns_on_the_logs_of_any_command() {
    let (_dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    assert!(etlify(&config, &["migrate"]).status.success());
    let with_logs = |rust_log: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_etlify"))
            .arg("--config")
            .arg(&config)
            .args(args)
            .env("RUST_LOG", rust_log)
            .output()
            .unwrap()
    };
    let quiet = etlify(&config, &["plan"]);
    assert!(
        quiet.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stderr)
    );

    let logged = with_logs("etlify=info", &["sync"]);
    let stderr = String::from_utf8_lossy(&logged.stderr);
    assert!(logged.status.success(), "{stderr}");
    assert!(stderr.contains("Synced a page."), "{stderr}");

    let (code, stderr) = {
        let output = with_logs("etlify=loud", &["plan"]);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("RUST_LOG"), "{stderr}");
}

/// `init` writes a starter file that the loader reads, and never
/// overwrites one.
#[test]
fn cli_init_writes_a_starter_configuration_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etlify.toml");
    let db = format!("sqlite://{}", dir.path().join("app.db").display());
    let output = etlify(&config, &["init", "--database", &db]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains(&db) && text.contains("${HUBSPOT_TOKEN}"),
        "{text}"
    );
    let (code, stderr) = failure(&config, &["init"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("already exists"), "{stderr}");
    // The starter is valid TOML for the loader: what is missing is the token.
    let (code, stderr) = failure(&config, &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("HUBSPOT_TOKEN"), "{stderr}");
}

/// `plan --diff` after a sync: the field that changed, with its new
/// value; a record only touched is shown unchanged; nothing is sent.
/// Rows the gem wrote get their field digests from a full reconcile.
#[test]
fn cli_plan_diff_shows_the_changed_fields_and_their_new_values() {
    let (dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    assert!(etlify(&config, &["migrate"]).status.success());
    // The gem's rows have no field digests: a full reconcile fills them
    // (for unchanged records, without sending anything).
    assert!(etlify(&config, &["sync", "--full"]).status.success());
    exec_on_app_db(
        dir.path(),
        &[
            "UPDATE users SET full_name = 'Renamed Person', updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '+1 seconds') WHERE id = 3",
            "UPDATE users SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '+1 seconds') WHERE id = 4",
        ],
    );
    let output = etlify(&config, &["plan", "--diff"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(r#"#3: changed full_name = "Renamed Person""#),
        "{stdout}"
    );
    assert!(
        stdout.contains("#4: unchanged, would not be sent"),
        "{stdout}"
    );
    assert!(stdout.contains("2 records would be processed"), "{stdout}");
    let sync = json_of(&etlify(&config, &["sync", "--json"]));
    assert_eq!(
        sync["synced"], 1,
        "the diff sent nothing: the sync sends #3"
    );
}

/// Taking over a gem database: `plan --explain` shows, for each sampled
/// record, the canonical JSON Etlify digests, its digest now and the one
/// the gem stored. With the gem's payload the two digests agree for a
/// record only touched; with a payload that differs (a renamed key) they
/// differ and the canonical JSON shows why. The text names the Rails
/// console line that prints the gem's side.
#[test]
fn probe_plan_explain_shows_canonical_json_and_both_digests() {
    let (dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    assert!(etlify(&config, &["migrate"]).status.success());
    exec_on_app_db(
        dir.path(),
        &["UPDATE users SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '+1 seconds') WHERE id = 4"],
    );
    let report = json_of(&etlify(&config, &["plan", "--explain", "--json"]));
    let sample = report["entries"][0]["sample"].as_array().unwrap().clone();
    let record = sample
        .iter()
        .find(|r| r["id"] == 4)
        .unwrap_or_else(|| panic!("#4 is sampled: {sample:?}"));
    let explain = &record["explain"];
    assert_eq!(record["change"], "unchanged", "{record}");
    assert!(
        explain["stored_digest"]
            .as_str()
            .is_some_and(|d| d.len() == 64),
        "{record}"
    );
    assert_eq!(explain["digest"], explain["stored_digest"], "{record}");
    let canonical = explain["canonical_json"].as_str().unwrap();
    assert!(
        canonical.starts_with(r#"{"company":"#),
        "keys sorted: {canonical}"
    );

    // A payload that renames one key: every digest differs from the gem's.
    let renamed = USERS_BINDING.replace("users.full_name", "users.full_name AS name");
    let (_dir, config) = gem_copy("rails-gem-synced.sqlite3", &renamed);
    assert!(etlify(&config, &["migrate"]).status.success());
    let report = json_of(&etlify(&config, &["plan", "--explain", "--full", "--json"]));
    let sample = report["entries"][0]["sample"].as_array().unwrap().clone();
    assert!(!sample.is_empty());
    for record in &sample {
        let explain = &record["explain"];
        assert_ne!(explain["digest"], explain["stored_digest"], "{record}");
        assert!(
            explain["canonical_json"]
                .as_str()
                .unwrap()
                .contains(r#""name":"#),
            "{record}"
        );
    }
    let output = etlify(&config, &["plan", "--explain", "--full"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("canonical JSON: {") && stdout.contains("stored digest:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("User.find(")
            && stdout.contains(".hubspot_build_payload")
            && stdout.contains("JSON.generate(Etlify::Digest.normalize(p))"),
        "{stdout}"
    );
}

/// `on_delete = "archive"` from the file: rows deleted from the gem's
/// `users` are archived by a complete check, unless more went than
/// `max_deletes_per_run` allows: then nothing is archived, `sync` exits 4
/// naming `--allow-deletes`, and `sync --allow-deletes` archives them.
/// A bad value of either key exits 2 naming it, before anything runs.
#[test]
fn delete_cli_archives_deleted_rows_within_the_guard_and_allow_deletes_proceeds() {
    let binding = format!("{USERS_BINDING}\non_delete = \"archive\"\nmax_deletes_per_run = 3");
    let (dir, config) = gem_copy("rails-gem-synced.sqlite3", &binding);
    assert!(etlify(&config, &["migrate"]).status.success());
    assert!(etlify(&config, &["sync"]).status.success());
    let rows = |dir: &Path| {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let db = format!("sqlite://{}", dir.join("app.sqlite3").display());
            let store = etlify::Store::connect(&db).await.unwrap();
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM crm_synchronisations WHERE crm_name = 'hubspot' AND resource_type = 'User'",
            )
            .fetch_one(store.sqlite_pool().unwrap())
            .await
            .unwrap();
            n
        })
    };
    let before = rows(dir.path());
    exec_on_app_db(
        dir.path(),
        &["DELETE FROM users WHERE id IN (1, 2, 3, 4, 5)"],
    );

    // plan says what a complete check would archive, and that the guard holds it.
    let plan = json_of(&etlify(&config, &["plan", "--json"]));
    let archive = &plan["entries"][0]["archive"];
    assert_eq!(
        (
            &archive["deleted"],
            &archive["left_scope"],
            &archive["held"],
            &archive["allowed"]
        ),
        (
            &serde_json::json!(5),
            &serde_json::json!(0),
            &serde_json::json!(true),
            &serde_json::json!(3)
        ),
        "{plan}"
    );
    let diff = etlify(&config, &["plan", "--diff", "--sample", "2"]);
    let stdout = String::from_utf8_lossy(&diff.stdout);
    assert!(
        stdout.contains("5 records (5 deleted, 0 out of scope) would be archived")
            && stdout.contains("max_deletes_per_run allows (3)")
            && stdout.contains("#1: would be archived (its row was deleted)")
            && !stdout.contains("#3: would be archived"),
        "{stdout}"
    );

    let held = etlify(&config, &["sync", "--complete"]);
    let stdout = String::from_utf8_lossy(&held.stdout);
    let stderr = String::from_utf8_lossy(&held.stderr);
    assert_eq!(held.status.code(), Some(4), "{stdout}{stderr}");
    assert!(
        stdout.contains("5 records left the application, more than max_deletes_per_run = 3"),
        "{stdout}"
    );
    assert!(stderr.contains("etlify sync --allow-deletes"), "{stderr}");
    assert_eq!(rows(dir.path()), before, "nothing archived");
    let status = etlify(&config, &["status"]);
    let stdout = String::from_utf8_lossy(&status.stdout);
    assert!(
        stdout.contains("User in hubspot: 5 records to archive (5 deleted, 0 out of scope); more than max_deletes_per_run allows (3)"),
        "{stdout}"
    );
    let status = json_of(&etlify(&config, &["status", "--json"]));
    assert_eq!(status[0]["archive"]["held"], true, "{status}");

    let allowed = etlify(&config, &["sync", "--allow-deletes", "--json"]);
    assert!(
        allowed.status.success(),
        "{}",
        String::from_utf8_lossy(&allowed.stderr)
    );
    let report = json_of(&allowed);
    assert_eq!(report["archived"], 5, "{report}");
    assert_eq!(rows(dir.path()), before - 5, "their sync rows are removed");

    for (line, key) in [
        ("on_delete = \"delete\"", "on_delete"),
        ("on_leave_scope = \"drop\"", "on_leave_scope"),
        ("max_deletes_per_run = \"ten\"", "max_deletes_per_run"),
        ("max_deletes_per_run = \"150%\"", "max_deletes_per_run"),
    ] {
        let (_dir, config) = gem_copy(
            "rails-gem-synced.sqlite3",
            &format!("{USERS_BINDING}\n{line}"),
        );
        let (code, stderr) = failure(&config, &["check"]);
        assert_eq!(code, 2, "{line}: {stderr}");
        assert!(
            stderr.contains(&format!("models.User.crms.hubspot.{key}")),
            "{line}: {stderr}"
        );
    }
}

/// `soft_delete_column` from the file: users marked deleted are archived
/// by the next ordinary `sync` and never sent; a column the table does not
/// have exits 2 naming the key.
#[test]
fn delete_cli_soft_deleted_rows_are_archived_by_the_next_sync() {
    let binding = format!("{USERS_BINDING}\non_delete = \"archive\"");
    let (dir, config) = gem_copy("rails-gem-synced.sqlite3", &binding);
    assert!(etlify(&config, &["migrate"]).status.success());
    let (code, stderr) = {
        let text = std::fs::read_to_string(&config).unwrap().replace(
            "table = \"users\"",
            "table = \"users\"\nsoft_delete_column = \"deleted_at\"",
        );
        std::fs::write(&config, text).unwrap();
        failure(&config, &["check"])
    };
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("at models.User: `soft_delete_column` names column `deleted_at`"),
        "{stderr}"
    );

    exec_on_app_db(
        dir.path(),
        &["ALTER TABLE users ADD COLUMN deleted_at datetime(6)"],
    );
    assert!(etlify(&config, &["migrate"]).status.success());
    assert!(etlify(&config, &["sync"]).status.success());
    exec_on_app_db(
        dir.path(),
        &[
            "UPDATE users SET deleted_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '+1 seconds'), \
           updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '+1 seconds') WHERE id IN (7, 8)",
        ],
    );
    let report = json_of(&etlify(&config, &["sync", "--json"]));
    assert_eq!(report["archived"], 2, "{report}");
    assert_eq!(report["synced"], 0, "{report}");
}

/// `on_leave_scope = "archive"` from the file: a synced user whose
/// `sync_if` no longer holds is archived by the next `sync` once it changes.
#[test]
fn scope_cli_a_record_leaving_sync_if_is_archived() {
    let (dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    assert!(etlify(&config, &["migrate"]).status.success());
    assert!(etlify(&config, &["sync"]).status.success());
    append(
        &config,
        "sync_if = \"users.id <> 3\"\non_leave_scope = \"archive\"\n",
    );
    exec_on_app_db(
        dir.path(),
        &["UPDATE users SET updated_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '+1 seconds') WHERE id = 3"],
    );
    let report = json_of(&etlify(&config, &["sync", "--json"]));
    assert_eq!(report["archived"], 1, "{report}");
    let again = json_of(&etlify(&config, &["sync", "--json"]));
    assert_eq!(again["archived"], 0, "{again}");
}

/// `mode` from the file: `update_only` against the sandbox, which has
/// none of the gem's users, creates nothing and says so per record; a mode
/// the null adapter cannot honour, or a bad value, exits 2 naming the key.
#[test]
fn mode_cli_update_only_creates_nothing_and_bad_modes_exit_2() {
    let (_sandbox_process, sandbox) = support::start_sandbox();
    let (_dir, config) = gem_copy_with_crm(&format!(
        "adapter = \"hubspot\"\nbase_url = \"{sandbox}\"\ntoken = \"{}\"",
        etlify_sandbox::DEFAULT_HUBSPOT_TOKEN
    ));
    append(&config, "mode = \"update_only\"\n");
    assert!(etlify(&config, &["migrate"]).status.success());
    let output = etlify(&config, &["sync", "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = json_of(&output);
    assert_eq!(report["synced"], 0, "{report}");
    assert!(
        report["no_object_to_update"].as_u64().unwrap() > 0,
        "{report}"
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(
        runtime.block_on(support::sandbox_contacts(&sandbox)).len(),
        0,
        "nothing created"
    );
    let text = etlify(&config, &["sync"]);
    assert!(text.status.success());
    exec_on_app_db(
        _dir.path(),
        &["INSERT INTO users (id, email, full_name, created_at, updated_at) VALUES (100000, 'new@corp.io', 'New', strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now'))"],
    );
    let diff = etlify(&config, &["plan", "--diff"]);
    let stdout = String::from_utf8_lossy(&diff.stdout);
    assert!(
        stdout.contains("#100000: new: updated if the CRM has an object matching it, else nothing (mode update_only creates none)"),
        "{stdout}"
    );

    for (crm, line) in [
        ("adapter = \"null\"", "mode = \"update_only\""),
        ("adapter = \"null\"", "mode = \"insert\""),
    ] {
        let (_dir, config) = gem_copy_with_crm(crm);
        assert!(etlify(&config, &["migrate"]).status.success());
        append(&config, &format!("{line}\n"));
        let (code, stderr) = failure(&config, &["check"]);
        assert_eq!(code, 2, "{line}: {stderr}");
        assert!(
            stderr.contains("models.User.crms.hubspot") && stderr.contains("mode"),
            "{line}: {stderr}"
        );
    }
}

/// `match_by` from the file: the gem's users synced by it against the
/// sandbox; with id_property set too, or a column the payload does not
/// return, it exits 2 naming the key.
#[test]
fn match_by_cli_matches_apart_from_the_payload_and_bad_declarations_exit_2() {
    let (_sandbox_process, sandbox) = support::start_sandbox();
    let crm = format!(
        "adapter = \"hubspot\"\nbase_url = \"{sandbox}\"\ntoken = \"{}\"",
        etlify_sandbox::DEFAULT_HUBSPOT_TOKEN
    );
    let (_dir, config) = gem_copy_with_crm(&crm);
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "id_property = \"email\"",
        "match_by = { property = \"email\", column = \"email\" }",
    );
    std::fs::write(&config, text).unwrap();
    assert!(etlify(&config, &["migrate"]).status.success());
    let output = etlify(&config, &["sync", "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = json_of(&output);
    assert!(report["synced"].as_u64().unwrap() > 0, "{report}");

    for (from, to, says) in [
        (
            "id_property = \"email\"",
            "id_property = \"email\"\nmatch_by = { property = \"email\", column = \"email\" }",
            "id_property is set too",
        ),
        (
            "id_property = \"email\"",
            "match_by = { property = \"email\", column = \"mail\" }",
            "`mail`",
        ),
    ] {
        let (_dir, config) = gem_copy_with_crm(&crm);
        assert!(etlify(&config, &["migrate"]).status.success());
        let text = std::fs::read_to_string(&config).unwrap().replace(from, to);
        std::fs::write(&config, text).unwrap();
        let (code, stderr) = failure(&config, &["check"]);
        assert_eq!(code, 2, "{to}: {stderr}");
        assert!(
            stderr.contains("models.User.crms.hubspot")
                && stderr.contains("match_by")
                && stderr.contains(says),
            "{to}: {stderr}"
        );
    }
}

/// A sync row deleted by hand is not seen by a run from the last run's
/// checkpoint; `sync --complete` looks at every record's sync state.
#[test]
fn cli_sync_complete_finds_a_sync_row_deleted_by_hand() {
    let (dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    assert!(etlify(&config, &["migrate"]).status.success());
    assert!(etlify(&config, &["sync"]).status.success());
    exec_on_app_db(
        dir.path(),
        &["DELETE FROM crm_synchronisations WHERE resource_type = 'User' AND resource_id = 3"],
    );
    let status = json_of(&etlify(&config, &["status", "--json"]));
    assert!(
        status[0]["last_complete_check"].is_string(),
        "the first sync read the whole table: {status}"
    );
    let from_checkpoint = json_of(&etlify(&config, &["sync", "--json"]));
    assert_eq!(from_checkpoint["total"], 0, "{from_checkpoint}");
    let complete = json_of(&etlify(&config, &["sync", "--complete", "--json"]));
    assert_eq!(complete["total"], 1, "{complete}");
}

/// `init --from-database` scaffolds one model per application table (not
/// the sync state's or Rails' own tables), with the gem's dependency on
/// companies found from `company_id`; a missing database is refused.
#[test]
fn cli_init_from_the_database_scaffolds_a_model_per_application_table() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.sqlite3");
    std::fs::copy(fixture("rails-gem-synced.sqlite3"), &db).unwrap();
    let config = dir.path().join("etlify.toml");
    let url = format!("sqlite://{}", db.display());
    let output = etlify(&config, &["init", "--database", &url, "--from-database"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("2 model sections (companies, users)"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&config).unwrap();
    for wanted in [
        "[models.User]",
        "[models.Company]",
        "[models.User.crms.hubspot]",
        r#"{ belongs_to = "companies", foreign_key = "company_id" }"#,
        // The starter's hint is left as written, whatever the URL.
        r#"# or "${DATABASE_URL}""#,
        // HubSpot's standard object for a table of companies.
        "object_type = \"companies\"",
    ] {
        assert!(text.contains(wanted), "{wanted} in {text}");
    }
    for unwanted in [
        "crm_synchronisations",
        "etlify_pending_syncs",
        "ar_internal_metadata",
    ] {
        assert!(!text.contains(unwanted), "{unwanted} in {text}");
    }
    // The file parses; what is left to do is named (the token first).
    let (code, stderr) = failure(&config, &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("HUBSPOT_TOKEN"), "{stderr}");

    let elsewhere = dir.path().join("other.toml");
    let missing = format!("sqlite://{}", dir.path().join("tpyo.sqlite3").display());
    let (code, stderr) = failure(
        &elsewhere,
        &["init", "--database", &missing, "--from-database"],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("tpyo.sqlite3"), "{stderr}");
    assert!(!elsewhere.exists(), "nothing written");
}

/// `status` and `errors` report where records stand; `errors reset`
/// clears the budget of failing ones.
#[test]
fn cli_status_errors_and_errors_reset() {
    let (dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    assert!(etlify(&config, &["migrate"]).status.success());
    exec_on_app_db(
        dir.path(),
        &["UPDATE crm_synchronisations SET error_count = 3, last_error = 'INVALID_EMAIL' WHERE resource_id IN (1, 2)"],
    );
    // A list cut at --limit says so, and how to see the rest.
    let cut = etlify(&config, &["errors", "--limit", "1"]);
    let said = String::from_utf8_lossy(&cut.stdout);
    assert!(cut.status.success(), "{said}");
    assert!(
        said.contains("Only the most recent failure is shown; --limit N shows more"),
        "{said}"
    );
    assert!(
        !String::from_utf8_lossy(&etlify(&config, &["errors"]).stdout).contains("--limit"),
        "the whole list has no such line"
    );
    let status = json_of(&etlify(&config, &["status", "--json"]));
    assert_eq!(status[0]["model"], "User");
    assert_eq!(status[0]["over_budget"], 2);
    assert!(
        status[0]["last_complete_check"].is_null(),
        "no run yet: {status}"
    );
    let errors = json_of(&etlify(&config, &["errors", "--json"]));
    let mut ids: Vec<u64> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, [1, 2], "{errors}");
    assert_eq!(errors[0]["last_error"], "INVALID_EMAIL");
    let reset = json_of(&etlify(&config, &["errors", "--json", "reset", "1", "2"]));
    assert_eq!(reset["reset"], 2);
    assert_eq!(
        json_of(&etlify(&config, &["errors", "--json"])),
        serde_json::json!([])
    );
}

/// `forget --crm` drops what etlify knows of a CRM's objects (for a CRM
/// pointed at another account): only with --yes; the next sync sends every
/// record again; an unknown CRM gets a suggestion.
#[test]
fn cli_forget_a_crm_needs_yes_then_the_next_sync_sends_everything() {
    let (_dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    assert!(etlify(&config, &["migrate"]).status.success());
    assert!(etlify(&config, &["sync"]).status.success());
    assert_eq!(json_of(&etlify(&config, &["plan", "--json"]))["total"], 0);

    let (code, stderr) = failure(&config, &["forget", "--crm", "hubspot"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");
    // Issue 26 (15): it says how much it would forget.
    assert!(stderr.contains("300 sync rows"), "{stderr}");
    assert_eq!(
        json_of(&etlify(&config, &["plan", "--json"]))["total"],
        0,
        "nothing forgotten without --yes"
    );

    let forgot = etlify(&config, &["forget", "--crm", "hubspot", "--yes"]);
    let said = String::from_utf8_lossy(&forgot.stdout);
    assert!(forgot.status.success(), "{said}");
    assert!(said.contains("Forgot 300 sync rows"), "{said}");
    assert_eq!(json_of(&etlify(&config, &["plan", "--json"]))["total"], 300);

    let (code, stderr) = failure(&config, &["forget", "--crm", "hubspto", "--yes"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("did you mean `hubspot`?"), "{stderr}");
}

/// The JSON Schema shipped for editors is the one the loader's types give
/// (regenerate with `etlify schema > docs/etlify.schema.json`).
#[test]
fn cli_the_shipped_json_schema_matches_the_loader() {
    let output = Command::new(env!("CARGO_BIN_EXE_etlify"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(output.status.success());
    let generated: Value = serde_json::from_slice(&output.stdout).unwrap();
    let shipped: Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/etlify.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        generated, shipped,
        "docs/etlify.schema.json is stale: run `cargo run -p etlify-cli -- schema > docs/etlify.schema.json`"
    );
    // Unknown keys are refused by the schema too.
    assert_eq!(generated["additionalProperties"], false);
}

/// `migrate --dry-run` prints what `migrate` would run on a database the
/// gem created, and changes nothing.
#[test]
fn cli_migrate_dry_run_prints_the_statements_and_changes_nothing() {
    let (_dir, config) = gem_copy(
        "rails-gem-synced.sqlite3",
        "payload = \"SELECT id, email FROM users\"",
    );
    let output = etlify(&config, &["migrate", "--dry-run"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        printed.contains("CREATE TABLE IF NOT EXISTS \"etlify_leases\""),
        "{printed}"
    );
    assert!(printed.contains("CREATE INDEX IF NOT EXISTS"), "{printed}");
    // Nothing changed: the schema still needs the migration.
    let (code, stderr) = failure(&config, &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("etlify migrate"), "{stderr}");
    // After the real migration, a dry run has nothing left to do.
    assert!(etlify(&config, &["migrate"]).status.success());
    let again = etlify(&config, &["migrate", "--dry-run"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to run"));
}

/// `new-model TABLE` scaffolds a section the loader accepts and the
/// database validates as it is.
#[test]
fn cli_new_model_scaffolds_a_section_that_checks() {
    let (_dir, config) = gem_copy(
        "rails-gem-synced.sqlite3",
        "payload = \"SELECT id, email FROM users\"",
    );
    assert!(etlify(&config, &["migrate"]).status.success());
    let output = etlify(&config, &["new-model", "companies"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let section = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(section.contains("[models.Company]"), "{section}");
    assert!(section.contains("object_type = \"companies\""), "{section}");
    let users = String::from_utf8_lossy(
        &etlify(&config, &["new-model", "users", "--model", "Member"]).stdout,
    )
    .into_owned();
    assert!(
        users.contains("belongs_to = \"companies\", foreign_key = \"company_id\""),
        "{users}"
    );
    assert!(users.contains("id_property = \"email\""), "{users}");
    // Appended to the configuration, it passes `check`.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push('\n');
    text.push_str(&section);
    std::fs::write(&config, text).unwrap();
    let check = etlify(&config, &["check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        said.contains(": 2 models, 1 CRM, schema up to date"),
        "{said}"
    );
}

/// Each class of bad input gives exit status 2 and names where it is,
/// before anything runs (the library's checks, through the binary).
#[test]
fn cli_config_each_bad_input_class_exits_2_naming_its_key() {
    let cases: [(&str, &str); 8] = [
        (
            "payload = \"SELECT id, email FROM users\"\ndependencies = [{ has_many = \"companies\", foreign_key = \"id\", primary_key = \"x\" }]",
            "dependencies[0].primary_key",
        ),
        (
            "payload = \"SELECT id, email FROM users\"\ndependencies = [{ belongs_to = \"companies\", foreign_key = \"no_such_id\" }]",
            "foreign_key",
        ),
        ("payload = \"SELECT id, email FROM users\"\ndependencies = [{ through = [] }]", "through"),
        ("payload = \"SELECT id, email FROM users\"\nsync_if = \"email IS NOT\"", "sync_if"),
        ("payload = \"SELECT id, email FROM users\"\nstale_scope = \"nope = 1\"", "stale_scope"),
        ("payload = \"SELECT id, full_name FROM users\"", "id_property"),
        ("payload = \"SELECT id, email FROM no_such_table\"", "payload"),
        ("payload = \"SELECT id, email FROM users\"\nexternal_id = \"\"", "external_id"),
    ];
    for (binding, key) in cases {
        let (_dir, config) = gem_copy_with("rails-gem-synced.sqlite3", binding);
        // Mistakes in the file itself stop `migrate` too; the others are
        // found against the migrated database.
        let _ = etlify(&config, &["migrate"]);
        let (code, stderr) = failure(&config, &["sync"]);
        assert_eq!(code, 2, "{binding}: {stderr}");
        assert!(
            stderr.contains("models.User.crms.hubspot"),
            "{binding}: {stderr}"
        );
        assert!(stderr.contains(key), "{binding}: {stderr}");
    }
}

/// A relative SQLite path is read from the current folder, not the
/// configuration file's: when it names no file, the error says where it
/// looked.
#[test]
fn cli_config_a_missing_relative_database_file_names_the_folder_it_was_looked_for_in() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etlify.toml");
    std::fs::write(
        &config,
        "[database]\nurl = \"sqlite://db/app.sqlite3\"\n[crms.hubspot]\nadapter = \"null\"\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_etlify"))
        .arg("--config")
        .arg(&config)
        .arg("check")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let looked_in = dir.path().canonicalize().unwrap().join("db/app.sqlite3");
    assert!(
        stderr.contains(&looked_in.display().to_string()),
        "{looked_in:?} in {stderr}"
    );
}

/// A mistyped SQLite path is an error naming it, not a new empty database;
/// a disabled CRM needs no token.
#[test]
fn cli_config_a_missing_database_file_is_refused_and_a_disabled_crm_needs_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etlify.toml");
    let db = dir.path().join("tpyo.sqlite3");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[crms.hubspot]\nadapter = \"hubspot\"\nenabled = false\ntoken = \"${{ETLIFY_TEST_SURELY_UNSET_TOKEN}}\"\n",
            db.display()
        ),
    )
    .unwrap();
    let (code, stderr) = failure(&config, &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("does not exist") && stderr.contains("tpyo.sqlite3"),
        "{stderr}"
    );
    assert!(!db.exists(), "no empty database was created");
    // `migrate` creates it; the disabled CRM's token is not asked for.
    let migrated = etlify(&config, &["migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let crms = json_of(&etlify(&config, &["crms", "--json"]));
    assert_eq!(crms[0]["enabled"], false);
}

// Jobs and workers: `[queue]`, `[worker]`, `etlify worker`, `sync --async`,
// `sync-record` enqueueing (SQLite only; the engine's queue tests cover
// PostgreSQL).

/// A running `etlify worker`, its stderr lines handed over as they come.
struct RunningWorker {
    child: std::process::Child,
    /// Each stderr line, sent by the reader thread; it hangs up at the end
    /// of the pipe (the worker exited).
    lines: std::sync::mpsc::Receiver<String>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// The lines received so far.
    seen: String,
}

impl RunningWorker {
    fn start(config: &Path, args: &[&str]) -> Self {
        use std::io::BufRead as _;
        let mut child = etlify_command(config, &["worker"])
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pipe = child.stderr.take().unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { return };
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines,
            reader: Some(reader),
            seen: String::new(),
        }
    }

    /// The next stderr line, waiting up to `within`.
    fn next_line(&mut self, within: std::time::Duration) -> NextLine {
        match self.lines.recv_timeout(within) {
            Ok(line) => {
                self.seen.push_str(&line);
                self.seen.push('\n');
                NextLine::Line(line)
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => NextLine::Ended,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => NextLine::Quiet,
        }
    }

    /// The first stderr line (received already, or within `within`)
    /// containing `wanted`.
    fn line_with(&mut self, wanted: &str, within: std::time::Duration) -> String {
        if let Some(line) = self.seen.lines().find(|l| l.contains(wanted)) {
            return line.to_owned();
        }
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.next_line(left) {
                NextLine::Line(line) if line.contains(wanted) => return line,
                NextLine::Line(_) => {}
                NextLine::Ended => panic!("the worker exited: {}", self.seen),
                NextLine::Quiet => panic!("no {wanted:?} on stderr: {}", self.seen),
            }
        }
    }

    /// SIGTERM, then (waiting up to `within` for its stderr to end) its
    /// exit status and stderr.
    fn terminate(mut self, within: std::time::Duration) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.next_line(left) {
                NextLine::Line(_) => {}
                NextLine::Ended => break,
                NextLine::Quiet => panic!("still running {within:?} after SIGTERM: {}", self.seen),
            }
        }
        // Every line is in: the reader has nothing left to read.
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let status = self.child.wait().unwrap();
        (status.code(), std::mem::take(&mut self.seen))
    }
}

/// What a running worker's stderr gave within a wait.
enum NextLine {
    Line(String),
    /// Its stderr ended: the worker exited.
    Ended,
    /// Nothing within the wait.
    Quiet,
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        // A failed test leaves no worker behind.
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `config`'s file with `extra` appended.
fn append(config: &Path, extra: &str) {
    let mut text = std::fs::read_to_string(config).unwrap();
    text.push_str(extra);
    std::fs::write(config, text).unwrap();
}

/// What a sync would pick up now, as `plan` counts it.
fn to_sync_of(config: &Path) -> u64 {
    json_of(&etlify(config, &["plan", "--json"]))["total"]
        .as_u64()
        .unwrap()
}

/// `etlify.toml` in `dir`: a worker looping every second over the users
/// of `dir`'s `app.sqlite3`, sent to `sandbox`'s HubSpot; `more` (whole
/// tables) follows the `[worker]` table.
fn worker_config(dir: &Path, sandbox: &etlify_sandbox::RunningSandbox, more: &str) -> PathBuf {
    let config = dir.join("etlify.toml");
    std::fs::write(
        &config,
        format!(
            r#"[database]
url = "sqlite://{db}"

[crms.hubspot]
adapter = "hubspot"
base_url = "{base}"
token = "{token}"

[worker]
interval = "1s"
shutdown_timeout = "5s"
{more}
[models.User]
table = "users"

[models.User.crms.hubspot]
object_type = "contacts"
id_property = "email"
payload = "SELECT id, email, full_name AS firstname FROM users"
"#,
            db = dir.join("app.sqlite3").display(),
            base = sandbox.hubspot_base_url(),
            token = etlify_sandbox::DEFAULT_HUBSPOT_TOKEN,
        ),
    )
    .unwrap();
    config
}

/// The `users` table in `dir`'s `app.sqlite3`, with users 1 to `count`
/// (`user{i}@example.com`, "User {i}"), none synced.
fn create_stale_users(dir: &Path, count: u32) {
    let now = "strftime('%Y-%m-%d %H:%M:%f', 'now')";
    exec_on_app_db(
        dir,
        &[
            "CREATE TABLE users (id integer PRIMARY KEY, email varchar, full_name varchar, created_at datetime(6), updated_at datetime(6))",
            &format!("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {count}) INSERT INTO users SELECT i, 'user' || i || '@example.com', 'User ' || i, {now}, {now} FROM s"),
        ],
    );
}

/// `etlify worker` on a fresh SQLite database and the HubSpot sandbox: its
/// loop syncs every stale record, SIGTERM stops it with status 0, and its
/// logs carry the engine's "Batch run finished." lines, never the URL.
#[test]
fn worker_cli_syncs_stale_records_and_stops_on_sigterm() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime
        .block_on(etlify_sandbox::Sandbox::start(
            etlify_sandbox::SandboxConfig::default(),
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = worker_config(dir.path(), &sandbox, "");
    assert!(etlify(&config, &["migrate"]).status.success());
    create_stale_users(dir.path(), 30);
    assert_eq!(to_sync_of(&config), 30);

    let mut worker = RunningWorker::start(&config, &[]);
    let started = worker.line_with("etlify worker:", std::time::Duration::from_secs(30));
    assert!(
        started.contains("SQLite database")
            && started.contains("queue \"etlify\"")
            && started.contains("4 jobs at once")
            && started.contains("every 1s"),
        "{started}"
    );
    // The loop's batch run of every stale record, logged once it ended.
    worker.line_with("synced=30", std::time::Duration::from_secs(30));
    assert_eq!(to_sync_of(&config), 0);
    let contacts = sandbox.admin().hubspot_objects("contacts").unwrap();
    assert_eq!(contacts.len(), 30);

    let (code, stderr) = worker.terminate(std::time::Duration::from_secs(15));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("Batch run finished."), "{stderr}");
    assert!(stderr.contains("synced=30"), "{stderr}");
    assert!(stderr.contains("Worker stopped."), "{stderr}");
    assert!(
        !stderr.contains("sqlite://"),
        "no URL in the logs: {stderr}"
    );
    runtime.block_on(sandbox.shutdown()).unwrap();
}

/// Issue 28 (1, 4): a worker process's loop records its runs as
/// `schedule` under its `--name` (`etlify runs --json`); with `[alerts]`,
/// records over the error budget open an incident, and the deliveries to
/// a webhook nobody answers are logged as failed without its URL.
#[test]
fn runs_cli_worker_records_schedule_and_its_name_and_alerts_never_log_the_url() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime
        .block_on(etlify_sandbox::Sandbox::start(
            etlify_sandbox::SandboxConfig::default(),
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = worker_config(
        dir.path(),
        &sandbox,
        r#"
[alerts]
check_interval = "200ms"

[[alerts.webhooks]]
url = "http://127.0.0.1:9/services/T0/B0/SECRET-HOOK-PATH"
format = "json"
"#,
    );
    assert!(etlify(&config, &["migrate"]).status.success());
    create_stale_users(dir.path(), 10);
    let now = "strftime('%Y-%m-%d %H:%M:%f', 'now')";
    exec_on_app_db(
        dir.path(),
        &[
            // One user over the error budget: left alone, and an incident.
            &format!("INSERT INTO crm_synchronisations (crm_name, resource_type, resource_id, error_count, last_error, created_at, updated_at) VALUES ('hubspot', 'User', 10, 3, 'rejected', {now}, {now})"),
        ],
    );
    let name = format!("runs-cli-{}", std::process::id());
    let mut worker = RunningWorker::start(&config, &["--name", &name]);
    worker.line_with("synced=9", std::time::Duration::from_secs(30));
    worker.line_with("Alert delivery failed", std::time::Duration::from_secs(30));
    let (code, stderr) = worker.terminate(std::time::Duration::from_secs(15));
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("over_budget"), "{stderr}");
    assert!(stderr.contains(r#"host="127.0.0.1""#), "{stderr}");
    assert!(
        !stderr.contains("SECRET-HOOK-PATH"),
        "no URL in the logs: {stderr}"
    );

    let runs = json_of(&etlify(&config, &["runs", "--json"]));
    let synced = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|run| run["records"] == 9)
        .unwrap_or_else(|| panic!("the run that synced the users: {runs}"));
    assert_eq!(synced["trigger"], "schedule", "{synced}");
    assert_eq!(synced["runner"], name.as_str(), "{synced}");
    assert_eq!(synced["status"], "succeeded", "{synced}");
    assert_eq!(synced["per_model"]["User"]["synced"], 9, "{synced}");
    assert_eq!(
        count_on_app_db(
            dir.path(),
            "SELECT COUNT(*) FROM etlify_alert_incidents WHERE kind = 'over_budget' AND resolved_at IS NULL"
        ),
        1
    );
    runtime.block_on(sandbox.shutdown()).unwrap();
}

/// `--health-listen` serves GET /health: 200 and `"healthy":true` while the
/// worker runs; the flags win over the file; JSON logs are one object a line.
#[test]
fn worker_cli_health_endpoint_answers() {
    use std::io::{Read as _, Write as _};
    let (_dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    assert!(etlify(&config, &["migrate"]).status.success());
    append(
        &config,
        "\n[worker]\nconcurrency = 2\ninterval = \"off\"\nshutdown_timeout = \"5s\"\n",
    );
    let mut worker = RunningWorker::start(
        &config,
        &[
            "--health-listen",
            "127.0.0.1:0",
            "--interval",
            "1s",
            "--concurrency",
            "3",
            "--log-format",
            "json",
        ],
    );
    let listening = worker.line_with(
        "Health endpoint listening.",
        std::time::Duration::from_secs(30),
    );
    let listening: Value = serde_json::from_str(&listening).unwrap();
    let address = listening["addr"].as_str().unwrap().to_owned();
    let started = worker.line_with("etlify worker:", std::time::Duration::from_secs(5));
    assert!(
        started.contains("3 jobs at once") && started.contains("every 1s"),
        "{started}"
    );

    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["healthy"], true, "{body}");
    assert_eq!(body["stopping"], false, "{body}");
    for key in ["running", "done", "rescheduled", "failed"] {
        assert!(body[key].is_u64(), "{key} in {body}");
    }
    assert!(body["last_loop_at"].is_string() || body["last_loop_at"].is_null());

    let (code, stderr) = worker.terminate(std::time::Duration::from_secs(15));
    assert_eq!(code, Some(0), "{stderr}");
    for line in stderr.lines() {
        let event: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        assert!(event["message"].is_string(), "{line}");
    }
}

/// The configuration's warnings reach a worker's JSON logs as log events,
/// so that every line stays one JSON object.
#[test]
fn worker_cli_warnings_are_json_log_events_in_json_logs() {
    let (_dir, config) = gem_copy_with_crm(
        "adapter = \"airtable\"\nbase_id = \"appAbCdEf01234567\"\ntoken = \"pat-x\"\nbase_url = \"http://127.0.0.1:9\"",
    );
    assert!(etlify(&config, &["migrate"]).status.success());
    let mut worker = RunningWorker::start(&config, &["--interval", "off", "--log-format", "json"]);
    worker.line_with("Worker started.", std::time::Duration::from_secs(30));
    let (code, stderr) = worker.terminate(std::time::Duration::from_secs(15));
    assert_eq!(code, Some(0), "{stderr}");
    let events: Vec<Value> = stderr
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"))
        })
        .collect();
    assert!(
        events.iter().any(|e| e["level"] == "WARN"
            && e["message"]
                .as_str()
                .unwrap_or("")
                .contains("has no rate_limit")),
        "{stderr}"
    );
    assert!(!stderr.contains("pat-x"), "the token is never shown");
}

/// With a `[queue]` section, `sync-record` requests a job (once while it is
/// queued); `--now` syncs inline as without a queue; `status` counts jobs.
#[test]
fn jobs_cli_sync_record_enqueues_when_a_queue_is_configured() {
    let (_dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    append(&config, "\n[queue]\nname = \"crm\"\nmax_attempts = 3\n");
    let migrated = etlify(&config, &["migrate"]);
    assert!(
        String::from_utf8_lossy(&migrated.stdout).contains("job queue's tables"),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let id = expected("rails-gem-synced.expect.json")["changed_ids"][0]
        .as_i64()
        .unwrap()
        .to_string();
    let args = ["sync-record", "User", id.as_str(), "--crm", "hubspot"];
    let first = etlify(&config, &args);
    assert!(first.status.success());
    assert_eq!(
        String::from_utf8_lossy(&first.stdout).trim(),
        format!("User #{id} in hubspot: queued")
    );
    let again = etlify(&config, &args);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("already queued"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let json = json_of(&etlify(&config, &[&args[..], &["--json"]].concat()));
    assert_eq!(json["enqueued"], "already_queued", "{json}");
    let status = etlify(&config, &["status"]);
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("jobs: 1 queued, 0 running"),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
    // `status --json` stays the array of entries.
    assert!(json_of(&etlify(&config, &["status", "--json"])).is_array());
    let now = json_of(&etlify(
        &config,
        &[&args[..], &["--now", "--json"]].concat(),
    ));
    assert_eq!(now["outcome"], "synced", "{now}");
}

/// A database not migrated yet is refused with what to run before the
/// queue's tables are made in it.
#[test]
fn jobs_cli_an_unmigrated_database_is_refused_before_the_queue_is_made() {
    let (dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    let (code, stderr) = failure(&config, &["sync", "--async"]);
    assert_ne!(code, 0, "{stderr}");
    assert!(stderr.contains("etlify migrate"), "{stderr}");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let tables: Vec<String> = runtime.block_on(async {
        let db = dir.path().join("app.sqlite3");
        let store = etlify::Store::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(store.sqlite_pool().unwrap())
            .await
            .unwrap()
    });
    assert!(
        !tables.iter().any(|t| t == "Jobs" || t == "Workers"),
        "{tables:?}"
    );
}

/// `sync --async` requests one batch job per CRM, in the gem's shape plus
/// each CRM's answer; a second request finds it queued; selections the
/// job cannot honour exit 2. No `[queue]` section: the defaults.
#[test]
fn jobs_cli_sync_async_queues_one_job_per_crm() {
    let (_dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    assert!(etlify(&config, &["migrate"]).status.success());
    let stale = expected("rails-gem-synced.expect.json")["stale_count"].clone();
    let first = json_of(&etlify(&config, &["sync", "--async", "--json"]));
    assert_eq!(first["total"], stale, "{first}");
    assert_eq!(first["per_model"]["User"], stale, "{first}");
    assert_eq!(
        first["crms"],
        serde_json::json!([{"crm": "hubspot", "enqueued": "new"}])
    );
    let again = etlify(&config, &["sync", "--async", "--crm", "hubspot"]);
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{text}");
    assert!(text.contains("hubspot: already queued"), "{text}");
    assert!(text.contains("etlify worker"), "{text}");
    assert_eq!(to_sync_of(&config), stale.as_u64().unwrap(), "nothing ran");
    for flag in [
        &["--model", "User"][..],
        &["--full"],
        &["--complete"],
        &["--batch-size", "10"],
    ] {
        let (code, stderr) = failure(&config, &[&["sync", "--async"][..], flag].concat());
        assert_eq!(code, 2, "{flag:?}: {stderr}");
        assert!(
            stderr.contains(flag[0]) && stderr.contains("--async"),
            "{stderr}"
        );
    }
}

/// A bad `[worker]` value, and bad worker flags, exit 2 naming the key
/// (or the flag) and what is expected (the other values: settings' unit
/// tests).
#[test]
fn config_rejects_bad_worker_settings() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etlify.toml");
    let base = "[database]\nurl = \"sqlite://x.db\"\n[crms.hubspot]\nadapter = \"null\"\n";
    std::fs::write(&config, format!("{base}[worker]\ninterval = \"0s\"\n")).unwrap();
    let (code, stderr) = failure(&config, &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("etlify.toml: worker.interval") && stderr.contains("longer than 0s"),
        "{stderr}"
    );
    std::fs::write(&config, base).unwrap();
    for (flags, named) in [
        (&["--interval", "soon"][..], "--interval"),
        (&["--concurrency", "0"], "--concurrency"),
        (&["--health-listen", "nowhere"], "--health-listen"),
        (&["--log-format", "xml"], "--log-format"),
    ] {
        let (code, stderr) = failure(&config, &[&["worker"][..], flags].concat());
        assert_eq!(code, 2, "{flags:?}: {stderr}");
        assert!(stderr.contains(named), "{flags:?}: {stderr}");
    }
}

/// Issue 26 (10): `migrate` says what it applied, not only that the tables
/// are up to date, and `--json` lists it; a second run applies nothing.
#[test]
fn probe_migrate_says_what_it_applied() {
    let (_dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    let first = etlify(&config, &["migrate"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(
        text.contains("Applied") && text.contains("create_table:etlify_leases"),
        "{text}"
    );
    let again = json_of(&etlify(&config, &["migrate", "--json"]));
    assert_eq!(again["applied"], serde_json::json!([]), "{again}");
    let text = String::from_utf8_lossy(&etlify(&config, &["migrate"]).stdout).into_owned();
    assert!(text.contains("up to date: nothing to apply"), "{text}");
}

/// Issue 26 (14), through the binary: a TOML syntax error says its line
/// and column; every unset variable is named at once; an adapter's bad
/// value is named under its own key. Each exits 2 before anything runs.
#[test]
fn probe_configuration_mistakes_say_where_and_all_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etlify.toml");
    let refused = |text: &str| {
        std::fs::write(&config, text).unwrap();
        let (code, stderr) = failure(&config, &["check"]);
        assert_eq!(code, 2, "{stderr}");
        stderr
    };
    let stderr = refused("[database]\nurl = \"sqlite://x.db\n");
    assert!(stderr.contains("line 2, column"), "{stderr}");
    let stderr = refused(
        "[database]\nurl = \"${ETLIFY_TEST_SURELY_UNSET_URL}\"\n[crms.hubspot]\nadapter = \"hubspot\"\n\
         token = \"${ETLIFY_TEST_SURELY_UNSET_TOKEN}\"\n",
    );
    assert!(
        stderr.contains("database.url: ETLIFY_TEST_SURELY_UNSET_URL")
            && stderr.contains("crms.hubspot.token: ETLIFY_TEST_SURELY_UNSET_TOKEN"),
        "{stderr}"
    );
    let stderr = refused(
        "[database]\nurl = \"sqlite://x.db\"\n[crms.hubspot]\nadapter = \"hubspot\"\ntoken = \"\"\n",
    );
    assert!(
        stderr.contains("crms.hubspot.token: must not be empty"),
        "{stderr}"
    );
}

/// Issue 26 (15): `sync --dry-run` sends nothing and points to `plan`.
#[test]
fn probe_sync_dry_run_points_to_plan() {
    let (_dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    assert!(etlify(&config, &["migrate"]).status.success());
    let before = json_of(&etlify(&config, &["plan", "--json"]));
    let (code, stderr) = failure(&config, &["sync", "--dry-run"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("etlify plan --diff"), "{stderr}");
    let after = json_of(&etlify(&config, &["plan", "--json"]));
    assert_eq!(before["total"], after["total"], "nothing was synced");
}

/// Issue 26 (13): the demo says that its sandbox ends with it and prints
/// the command that serves it again on the port its configuration names.
#[test]
fn probe_demo_says_how_to_serve_its_sandbox_again() {
    let dir = tempfile::tempdir().unwrap();
    let demo = Command::new(env!("CARGO_BIN_EXE_etlify"))
        .args(["demo", "--users", "20", "--dir", "etlify-demo"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    let text = String::from_utf8_lossy(&demo.stdout);
    let config = std::fs::read_to_string(dir.path().join("etlify-demo/etlify.toml")).unwrap();
    let port = config
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    assert!(
        text.contains(&format!(
            "etlify sandbox --port {port} --state etlify-demo/sandbox-state.json"
        )),
        "{text}"
    );
}

/// Issue 26 (15): with a `[queue]`, `sync-record` of a record that does not
/// exist is refused when asked, naming it, and queues nothing (before: a
/// job was queued, to find nothing later).
#[test]
fn probe_sync_record_of_a_missing_row_is_refused_at_enqueue() {
    let (_dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    append(&config, "\n[queue]\nname = \"crm\"\nmax_attempts = 3\n");
    assert!(etlify(&config, &["migrate"]).status.success());
    let missing = etlify(
        &config,
        &["sync-record", "User", "987654", "--crm", "hubspot"],
    );
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("User #987654 not found"), "{stderr}");
    let status = etlify(&config, &["status"]);
    assert!(
        String::from_utf8_lossy(&status.stdout).contains("jobs: 0 queued, 0 running"),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
}

/// Issue 26 (11): `status` counts each record once — in sync, stale,
/// never synced, failing, over budget, waiting — so the columns add up to
/// the model's rows (before: "stale 10000, synced 50000" for 50,000 rows).
#[test]
fn probe_status_columns_add_up_to_the_rows() {
    let (dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    assert!(etlify(&config, &["migrate"]).status.success());
    assert!(etlify(&config, &["sync"]).status.success());
    let synced = json_of(&etlify(&config, &["status", "--json"]));
    assert_eq!(
        (&synced[0]["records"], &synced[0]["in_sync"]),
        (&Value::from(300), &Value::from(300)),
        "{synced}"
    );
    exec_on_app_db(
        dir.path(),
        &[
            // Changed since their sync: 5 users, and the 25 users of company 1.
            "UPDATE users SET updated_at = '2999-01-01 00:00:00.000000' WHERE id BETWEEN 1 AND 5",
            "UPDATE companies SET updated_at = '2999-01-01 00:00:00.000000' WHERE id = 1",
            // Failing (under the budget of 3) and over the budget.
            "UPDATE crm_synchronisations SET error_count = 1, last_error = 'INVALID_EMAIL' WHERE resource_id IN (10, 11)",
            "UPDATE crm_synchronisations SET error_count = 3, last_error = 'INVALID_EMAIL' WHERE resource_id = 12",
            // Never synced: a sync row deleted, and a new user.
            "DELETE FROM crm_synchronisations WHERE resource_id = 13",
            "INSERT INTO users (id, email, full_name, company_id, created_at, updated_at) VALUES (301, 'new@example.com', 'New', NULL, '2999-01-01 00:00:00', '2999-01-01 00:00:00')",
        ],
    );
    let stale_company_users = count_on_app_db(
        dir.path(),
        "SELECT COUNT(*) FROM users WHERE company_id = 1 AND id NOT BETWEEN 1 AND 5 AND id NOT IN (10, 11, 12, 13)",
    );
    assert!(stale_company_users > 0, "company 1 has users");
    let status = json_of(&etlify(&config, &["status", "--json"]));
    let entry = &status[0];
    let column = |name: &str| entry[name].as_u64().unwrap();
    let rows = count_on_app_db(dir.path(), "SELECT COUNT(*) FROM users");
    assert_eq!(column("records"), rows, "{entry}");
    let columns = [
        "in_sync",
        "stale",
        "never_synced",
        "failing",
        "over_budget",
        "waiting",
    ];
    assert_eq!(
        columns.iter().map(|c| column(c)).sum::<u64>(),
        rows,
        "the columns add up to the rows: {entry}"
    );
    assert_eq!(column("stale"), 5 + stale_company_users, "{entry}");
    assert_eq!(column("never_synced"), 2, "{entry}");
    assert_eq!(column("failing"), 2, "{entry}");
    assert_eq!(column("over_budget"), 1, "{entry}");
    assert_eq!(column("waiting"), 0, "{entry}");

    // The table for people names the same columns.
    let text = etlify(&config, &["status"]);
    let text = String::from_utf8_lossy(&text.stdout);
    for header in [
        "records",
        "in sync",
        "stale",
        "never synced",
        "failing",
        "over budget",
        "waiting",
    ] {
        assert!(text.contains(header), "{header}: {text}");
    }
}

/// Issue 26 (15): counts read "1 record", "2 records".
#[test]
fn probe_counts_of_one_are_singular() {
    let (dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    assert!(etlify(&config, &["migrate"]).status.success());
    assert!(etlify(&config, &["sync"]).status.success());
    exec_on_app_db(
        dir.path(),
        &["UPDATE users SET full_name = 'Renamed', updated_at = '2999-01-01 00:00:00.000000' WHERE id = 1"],
    );
    let plan = etlify(&config, &["plan"]);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(text.contains("1 record would be processed"), "{text}");
    let sync = etlify(&config, &["sync"]);
    let text = String::from_utf8_lossy(&sync.stdout);
    assert!(text.contains("1 record in "), "{text}");
    assert!(text.contains(", 0 errors"), "{text}");

    exec_on_app_db(
        dir.path(),
        &["UPDATE crm_synchronisations SET error_count = 3, last_error = 'INVALID_EMAIL' WHERE resource_id = 1"],
    );
    let cut = etlify(&config, &["errors", "--limit", "1"]);
    let text = String::from_utf8_lossy(&cut.stdout);
    assert!(!text.contains("Only the"), "one failure, all shown: {text}");
    let reset = etlify(&config, &["errors", "reset", "1"]);
    let text = String::from_utf8_lossy(&reset.stdout);
    assert!(
        text.contains("1 record will be retried by the next sync."),
        "{text}"
    );
    let check = etlify(&config, &["check"]);
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        text.contains(": 1 model, 1 CRM, schema up to date."),
        "{text}"
    );
}

/// Issue 26 (15): hints name CLI commands, not Rust calls: an unmigrated
/// database and a SQLite file that does not exist both say `etlify
/// migrate`, never `etlify::migrate`.
#[test]
fn probe_hints_name_cli_commands_not_rust_calls() {
    let (_dir, config) = gem_copy("rails-gem-synced.sqlite3", USERS_BINDING);
    let (code, stderr) = failure(&config, &["sync"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("Please run: etlify migrate"), "{stderr}");
    assert!(
        !stderr.contains("etlify::") && !stderr.contains("MigrateOptions"),
        "no Rust call: {stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etlify.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[crms.hubspot]\nadapter = \"null\"\n",
            dir.path().join("missing.sqlite3").display()
        ),
    )
    .unwrap();
    let (code, stderr) = failure(&config, &["status"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("missing.sqlite3") && stderr.contains("etlify migrate"),
        "{stderr}"
    );
    assert!(!stderr.contains("etlify::"), "no Rust call: {stderr}");

    // A `through` dependency without hops: the file's words, not the builder's.
    let (_dir, config) = gem_copy_with(
        "rails-gem-synced.sqlite3",
        &format!("dependencies = [{{ through = [] }}]\n{USERS_BINDING}"),
    );
    let (code, stderr) = failure(&config, &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("dependencies[0].through") && stderr.contains("has_many = "),
        "{stderr}"
    );
    assert!(!stderr.contains("Hop::"), "no Rust call: {stderr}");
}

/// Issue 26 (15): `etlify completions bash` prints a script that completes
/// the subcommands; an unknown shell is refused with the list of shells.
#[test]
fn probe_completions_print_a_script_and_refuse_an_unknown_shell() {
    let bash = Command::new(env!("CARGO_BIN_EXE_etlify"))
        .args(["completions", "bash"])
        .output()
        .unwrap();
    let script = String::from_utf8_lossy(&bash.stdout);
    assert!(bash.status.success(), "{script}");
    assert!(script.contains("complete -F"), "a bash script: {script}");
    for command in [
        "migrate",
        "sync",
        "status",
        "worker",
        "sync-record",
        "completions",
        "runs",
    ] {
        assert!(script.contains(command), "{command} in {script}");
    }
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let answer = Command::new(env!("CARGO_BIN_EXE_etlify"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(answer.status.success(), "{shell}");
        assert!(
            String::from_utf8_lossy(&answer.stdout).contains("sync-record"),
            "{shell}"
        );
    }
    let tcsh = Command::new(env!("CARGO_BIN_EXE_etlify"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(tcsh.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&tcsh.stderr);
    assert!(stderr.contains("tcsh"), "{stderr}");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        assert!(stderr.contains(shell), "{shell} listed: {stderr}");
    }
}

/// `GET` on the sandbox `url` with `token`: the status, and how long the
/// answer took.
async fn timed_get(url: &str, token: &str) -> (u16, std::time::Duration) {
    let started = std::time::Instant::now();
    let answer = reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), started.elapsed())
}

/// `etlify sandbox` takes its latency (and its jitter), faults and limits
/// from flags: its banner says them, every answer waits the latency, and a
/// request over a limit gets 429.
#[test]
fn probe_sandbox_flags_set_latency_faults_and_limits() {
    let (_process, banner) = support::start_sandbox_with(&[
        "--latency-ms",
        "150",
        "--latency-jitter-ms",
        "20",
        "--hubspot-limit",
        "2/1m",
        "--airtable-limit",
        "1/1m",
    ]);
    let text = banner.join("\n");
    assert!(
        text.contains("Faults:   150 ms latency + up to 20 ms"),
        "{text}"
    );
    assert!(
        text.contains("HubSpot 2 requests / 1m per token")
            && text.contains("Airtable 1 request / 1m per base"),
        "{text}"
    );
    let base = banner[0]
        .strip_prefix("Sandbox listening on ")
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let contacts = format!("{base}/crm/v3/objects/contacts");
        let hubspot = "sandbox-hubspot-token";
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let (status, took) = timed_get(&contacts, hubspot).await;
            assert!(
                took >= std::time::Duration::from_millis(150),
                "the latency is added: {took:?}"
            );
            statuses.push(status);
        }
        assert_eq!(statuses, [200, 200, 429], "2 requests a minute");
        let table = format!("{base}/v0/appSandbox0000001/Contacts");
        let airtable = "sandbox-airtable-token";
        assert_eq!(timed_get(&table, airtable).await.0, 200);
        assert_eq!(timed_get(&table, airtable).await.0, 429, "1 a minute");
    });

    // Every request fails with a server error at a rate of 1; the settings
    // file's limit holds where no flag says otherwise.
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("sandbox.json");
    std::fs::write(
        &settings,
        r#"{"hubspot": {"rate_limits": {"per_app_max": 7}}, "airtable": {"rate_limits": {"per_base_max": 9}}}"#,
    )
    .unwrap();
    let settings = settings.display().to_string();
    let (_process, banner) = support::start_sandbox_with(&[
        "--error-rate",
        "1",
        "--settings",
        &settings,
        "--airtable-limit",
        "off",
    ]);
    let text = banner.join("\n");
    assert!(
        text.contains("Faults:   100% server errors")
            && text.contains("HubSpot 7 requests / 10s per token, Airtable off"),
        "{text}"
    );
    let base = banner[0]
        .strip_prefix("Sandbox listening on ")
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    runtime.block_on(async {
        let (status, _) = timed_get(
            &format!("{base}/crm/v3/objects/contacts"),
            "sandbox-hubspot-token",
        )
        .await;
        assert!([502, 503, 504].contains(&status), "{status}");
    });
}

/// Issue 26 (15): a sandbox flag out of range is refused, naming the flag
/// and what it takes.
#[test]
fn probe_sandbox_flags_are_checked_naming_the_flag() {
    for (flag, value, expected) in [
        ("--error-rate", "1.5", "from 0 to 1"),
        ("--drop-rate", "2", "from 0 to 1"),
        ("--hubspot-limit", "0/10s", "at least 1"),
        ("--airtable-limit", "5", "REQUESTS/PERIOD"),
        ("--hubspot-limit", "100/soon", "not a period"),
    ] {
        let answer = Command::new(env!("CARGO_BIN_EXE_etlify"))
            .args(["sandbox", "--port", "0", flag, value])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&answer.stderr);
        assert_eq!(answer.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(
            stderr.contains(flag) && stderr.contains(expected),
            "{flag} {value}: {stderr}"
        );
    }
    // A settings file's mistake names the file and its key.
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("sandbox.json");
    std::fs::write(&settings, r#"{"hubspot": {"faults": {"error_rate": 2}}}"#).unwrap();
    let answer = Command::new(env!("CARGO_BIN_EXE_etlify"))
        .args(["sandbox", "--port", "0", "--settings"])
        .arg(&settings)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&answer.stderr);
    assert_eq!(answer.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--settings") && stderr.contains("hubspot.faults.error_rate"),
        "{stderr}"
    );
}

/// A whole HTTP/1.1 response to `GET path` on `address`.
fn http_get(address: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// A real `etlify worker` serves GET /metrics beside /health: after its
/// loop synced 30 records, the scrape counts them as synced, its CRM
/// requests are the requests the sandbox received, and no email shows.
#[test]
fn metrics_worker_serves_metrics_beside_health() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime
        .block_on(etlify_sandbox::Sandbox::start(
            etlify_sandbox::SandboxConfig::default(),
        ))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = worker_config(dir.path(), &sandbox, "");
    assert!(etlify(&config, &["migrate"]).status.success());
    create_stale_users(dir.path(), 30);
    let mut worker = RunningWorker::start(
        &config,
        &["--health-listen", "127.0.0.1:0", "--log-format", "json"],
    );
    let listening = worker.line_with(
        "Health endpoint listening.",
        std::time::Duration::from_secs(30),
    );
    let listening: Value = serde_json::from_str(&listening).unwrap();
    let address = listening["addr"].as_str().unwrap().to_owned();
    worker.line_with("Batch run finished.", std::time::Duration::from_secs(30));
    assert_eq!(to_sync_of(&config), 0);

    let response = http_get(&address, "/metrics");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let (head, text) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0; charset=utf-8"),
        "{head}"
    );
    assert!(text.contains("# EOF"), "{text}");
    assert!(
        text.contains(
            r#"etlify_records_synced_total{crm="hubspot",model="User",outcome="synced"} 30"#
        ),
        "{text}"
    );
    let log = sandbox.admin().request_log();
    let requests: u64 = text
        .lines()
        .filter(|line| line.starts_with("etlify_crm_requests_total{"))
        .map(|line| line.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert_eq!(requests, log.total, "{text}");
    assert!(
        text.contains(r#"etlify_records{crm="hubspot",model="User",standing="in_sync"} 30"#),
        "{text}"
    );
    assert!(!text.contains("@example.com"), "{text}");
    assert!(
        text.contains("etlify_last_successful_run_timestamp_seconds{crm=\"hubspot\"}"),
        "{text}"
    );
    let health = http_get(&address, "/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");

    let (code, stderr) = worker.terminate(std::time::Duration::from_secs(15));
    assert_eq!(code, Some(0), "{stderr}");
    runtime.block_on(sandbox.shutdown()).unwrap();
}
