//! Changes within seconds (issue 28, item 5), run as a user would:
//! `etlify migrate --triggers` on PostgreSQL installs the change triggers,
//! `--triggers --dry-run` says which tables have one, and `--triggers
//! --revert` leaves no trigger and no function (`pg_trigger`, `pg_proc`);
//! an `etlify worker` process whose interval is an hour sends a change
//! within seconds, listening on PostgreSQL and polling SQLite (`--watch`)
//! for what another process commits.
//! Needs `ETLIFY_TEST_POSTGRES_URL` (scripts/test.sh starts a throwaway
//! server): without it the test fails, never skips.

#![allow(clippy::unwrap_used)]

#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use support::{etlify_command, eventually, sandbox_contacts, start_sandbox, Process};

fn etlify(config: &Path, args: &[&str]) -> Output {
    etlify_command(config, args).output().unwrap()
}

fn stdout_of(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// Triggers named `etlify_changes` and functions `etlify_notify_change`
/// in `schema`.
fn triggers_and_functions(server: &str, schema: &str) -> (i64, i64) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = etlify::Store::connect(server).await.unwrap();
        let pool = store.postgres_pool().unwrap();
        let triggers: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND t.tgname = 'etlify_changes'",
        )
        .bind(schema)
        .fetch_one(pool)
        .await
        .unwrap();
        let functions: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = $1 AND p.proname = 'etlify_notify_change'",
        )
        .bind(schema)
        .fetch_one(pool)
        .await
        .unwrap();
        (triggers, functions)
    })
}

#[test]
fn fresh_cli_migrate_triggers_round_trip_on_postgres() {
    let server = support::postgres_server();
    let schema = format!("etlify_cli_fresh_{}", std::process::id());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = etlify::Store::connect(&server).await.unwrap();
        let pool = store.postgres_pool().unwrap();
        for sql in [
            format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
            format!("CREATE SCHEMA \"{schema}\""),
            format!(
                "CREATE TABLE \"{schema}\".companies (id bigserial PRIMARY KEY, name varchar, \
                 updated_at timestamp(6) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))"
            ),
            format!(
                "CREATE TABLE \"{schema}\".users (id bigserial PRIMARY KEY, email varchar, company_id bigint, \
                 created_at timestamp(6) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'), \
                 updated_at timestamp(6) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))"
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
             payload = \"SELECT id, email FROM users\"\n\
             dependencies = [{{ belongs_to = \"companies\", foreign_key = \"company_id\" }}]\n"
        ),
    )
    .unwrap();

    let installed = etlify(&config, &["migrate", "--triggers", "--json"]);
    let json: Value = serde_json::from_str(&stdout_of(&installed)).unwrap();
    assert_eq!(
        json["triggers"]["installed"],
        serde_json::json!([format!("{schema}.companies"), format!("{schema}.users")]),
        "{json}"
    );
    assert_eq!(triggers_and_functions(&server, &schema), (2, 1));

    let again = stdout_of(&etlify(&config, &["migrate", "--triggers"]));
    assert!(!again.contains("installed on"), "nothing added: {again}");
    let dry_run = stdout_of(&etlify(&config, &["migrate", "--triggers", "--dry-run"]));
    assert!(
        dry_run.contains(&format!(
            "-- Change triggers installed on: {schema}.companies, {schema}.users."
        )) && dry_run.contains("nothing to run"),
        "{dry_run}"
    );

    let removed = stdout_of(&etlify(&config, &["migrate", "--triggers", "--revert"]));
    assert!(
        removed.contains("Removed the change triggers of 2 tables"),
        "{removed}"
    );
    assert_eq!(triggers_and_functions(&server, &schema), (0, 0));
    let dry_run = stdout_of(&etlify(&config, &["migrate", "--triggers", "--dry-run"]));
    assert!(
        dry_run.contains("-- Change triggers: none installed.")
            && dry_run.contains("CREATE TRIGGER \"etlify_changes\""),
        "{dry_run}"
    );
    runtime.block_on(async {
        let store = etlify::Store::connect(&server).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{schema}\" CASCADE"
        )))
        .execute(store.postgres_pool().unwrap())
        .await
        .unwrap();
    });
}

/// A configuration syncing `users` to the sandbox at `sandbox`, with a
/// `[queue]`.
fn worker_config(dir: &Path, database_url: &str, sandbox: &str) -> PathBuf {
    let path = dir.join("etlify.toml");
    std::fs::write(
        &path,
        format!(
            r#"[database]
url = "{database_url}"

[queue]

[worker]
shutdown_timeout = "5s"

[crms.hubspot]
adapter = "hubspot"
token = "{token}"
base_url = "{sandbox}"

[models.User]
table = "users"

[models.User.crms.hubspot]
object_type = "contacts"
id_property = "email"
payload = "SELECT id, email, full_name FROM users"
"#,
            token = etlify_sandbox::DEFAULT_HUBSPOT_TOKEN,
        ),
    )
    .unwrap();
    path
}

/// `etlify worker` with `args`, its log in `log`.
fn start_worker(config: &Path, args: &[&str], log: &Path) -> Process {
    let child = etlify_command(config, &["worker"])
        .args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    Process {
        child,
        name: "worker".into(),
    }
}

/// The full name the sandbox holds for `email`.
async fn full_name(sandbox: &str, email: &str) -> Option<String> {
    sandbox_contacts(sandbox)
        .await
        .iter()
        .find(|contact| contact["properties"]["email"] == email)
        .and_then(|contact| {
            contact["properties"]["full_name"]
                .as_str()
                .map(str::to_owned)
        })
}

/// Polls the sandbox until `email` has `expected` (any name: `None`), at
/// most 30 s, far below the worker's hour; the log is shown otherwise.
async fn arrives(sandbox: &str, email: &str, expected: Option<&str>, log: &Path) {
    eventually(
        Duration::from_secs(30),
        Duration::from_millis(100),
        &format!("{email} reaches the sandbox as {expected:?}"),
        || {
            format!(
                "; worker log:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        },
        || async {
            let name = full_name(sandbox, email).await;
            name.is_some() && (expected.is_none() || name.as_deref() == expected)
        },
    )
    .await;
}

/// The worker's log says it listened for the application's changes.
fn assert_listened(log: &Path) {
    let log_text = std::fs::read_to_string(log).unwrap();
    assert!(
        log_text.contains("Listening for the application's changes."),
        "{log_text}"
    );
}

/// Runs `sql` on `url` from this process (another process than the
/// worker).
async fn exec(url: &str, sql: &str) {
    let store = etlify::Store::connect(url).await.unwrap();
    if let Some(pool) = store.postgres_pool() {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(pool)
            .await
            .unwrap();
    } else if let Some(pool) = store.sqlite_pool() {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(pool)
            .await
            .unwrap();
    }
}

const USERS_SQLITE: &str =
    "CREATE TABLE users (id integer PRIMARY KEY, email varchar, full_name varchar, \
     created_at datetime(6) NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')), \
     updated_at datetime(6) NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f000', 'now')))";

/// The acceptance item run as a user would: `etlify migrate --triggers`,
/// then an `etlify worker` process whose interval is an hour sends a
/// change committed by another process within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_cli_a_worker_process_sends_a_postgres_change_without_waiting_for_its_interval() {
    let server = support::postgres_server();
    let schema = format!("etlify_cli_fresh_worker_{}", std::process::id());
    for sql in [
        format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
        format!("CREATE SCHEMA \"{schema}\""),
        format!(
            "CREATE TABLE \"{schema}\".users (id bigserial PRIMARY KEY, email varchar, full_name varchar, \
             created_at timestamp(6) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'), \
             updated_at timestamp(6) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'))"
        ),
        format!("INSERT INTO \"{schema}\".users (email, full_name) VALUES ('ada@example.com', 'Ada')"),
    ] {
        exec(&server, &sql).await;
    }
    let (_sandbox, sandbox) = start_sandbox();
    let dir = tempfile::tempdir().unwrap();
    // apalis's tables need `hstore`, in `public`.
    let url = support::in_search_path(&server, &format!("{schema}%2Cpublic"));
    let config = worker_config(dir.path(), &url, &sandbox);
    stdout_of(&etlify(&config, &["migrate", "--triggers"]));
    let log = dir.path().join("worker.log");
    let worker = start_worker(&config, &["--interval", "1h"], &log);
    // The loop's request at start sends the user.
    arrives(&sandbox, "ada@example.com", Some("Ada"), &log).await;

    exec(
        &url,
        "UPDATE users SET full_name = 'Ada Lovelace', updated_at = now() AT TIME ZONE 'UTC'",
    )
    .await;
    arrives(&sandbox, "ada@example.com", Some("Ada Lovelace"), &log).await;
    drop(worker);
    assert_listened(&log);
    exec(&server, &format!("DROP SCHEMA \"{schema}\" CASCADE")).await;
}

/// A migrated SQLite file in `dir` whose `users` hold Ada, and a
/// configuration syncing them to `sandbox`: the file's URL and the
/// configuration's path.
async fn sqlite_app_with_ada(dir: &Path, sandbox: &str) -> (String, PathBuf) {
    let url = format!("sqlite://{}", dir.join("app.sqlite3").display());
    let config = worker_config(dir, &url, sandbox);
    stdout_of(&etlify(&config, &["migrate"]));
    exec(&url, USERS_SQLITE).await;
    exec(
        &url,
        "INSERT INTO users (email, full_name) VALUES ('ada@example.com', 'Ada')",
    )
    .await;
    (url, config)
}

/// SQLite: `etlify worker --watch 200ms` sees a row another process
/// committed, with an interval of an hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_cli_a_worker_process_watching_sqlite_sends_another_process_change() {
    let (_sandbox, sandbox) = start_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let (url, config) = sqlite_app_with_ada(dir.path(), &sandbox).await;
    let log = dir.path().join("worker.log");
    let worker = start_worker(&config, &["--interval", "1h", "--watch", "200ms"], &log);
    arrives(&sandbox, "ada@example.com", Some("Ada"), &log).await;

    exec(
        &url,
        "INSERT INTO users (email, full_name) VALUES ('grace@example.com', 'Grace')",
    )
    .await;
    arrives(&sandbox, "grace@example.com", None, &log).await;
    drop(worker);
}

/// SQLite with `etlify migrate --triggers`: a worker process on the
/// default watch reads the triggers' counters, sends a change another
/// process committed while its interval is an hour, and says so in its
/// log; `--triggers --revert` removes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_cli_a_worker_process_on_sqlite_triggers_sends_another_process_change() {
    let (_sandbox, sandbox) = start_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let (url, config) = sqlite_app_with_ada(dir.path(), &sandbox).await;
    let installed = stdout_of(&etlify(&config, &["migrate", "--triggers"]));
    assert!(installed.contains("Jobs, users"), "{installed}");
    let log = dir.path().join("worker.log");
    let worker = start_worker(&config, &["--interval", "1h"], &log);
    arrives(&sandbox, "ada@example.com", Some("Ada"), &log).await;

    exec(
        &url,
        "UPDATE users SET full_name = 'Ada Lovelace', \
         updated_at = strftime('%Y-%m-%d %H:%M:%f000', 'now')",
    )
    .await;
    arrives(&sandbox, "ada@example.com", Some("Ada Lovelace"), &log).await;
    drop(worker);
    assert_listened(&log);
    let removed = stdout_of(&etlify(&config, &["migrate", "--triggers", "--revert"]));
    assert!(removed.contains("of 2 tables"), "{removed}");
}
