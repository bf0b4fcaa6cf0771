//! `etlify sync-record MODEL ID` with UUID and text keys (issue 31, item
//! 3), on each backend: `migrate` makes the sync-state tables for the
//! models' `key_type`, a record is synced by its key as a user types it,
//! and a text that is no such key is a usage error naming the key type.
//! `check` and `migrate` refuse a `key_type` the key column does not fit,
//! `new-model` and `init --from-database` write it, `errors reset` reads
//! its ids by it, and two processes meet on one record's lease.

#![allow(clippy::unwrap_used)]

#[path = "support/crm_run.rs"]
#[allow(dead_code)] // the helpers this binary does not use
mod crm_run;
#[allow(dead_code)] // the helpers this binary does not use
mod support;

use std::path::Path;
use std::process::Output;

use crm_run::json_of;
use serde_json::Value;

const UUID_KEY: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";
const OTHER_UUID: &str = "9c5b94b1-35ad-49bb-b118-8e8fc24abf80";
const TEXT_KEY: &str = "person-ada";
const OTHER_TEXT: &str = "person-bob";

fn etlify(config: &Path, args: &[&str]) -> Output {
    support::etlify_command(config, args).output().unwrap()
}

/// Runs `statements` on the database at `url` (connected the way the CLI
/// connects).
fn exec(url: &str, statements: &[String]) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = etlify::Store::connect(url).await.unwrap();
        for sql in statements {
            let sql = sqlx::AssertSqlSafe(sql.clone());
            if let Some(pool) = store.sqlite_pool() {
                sqlx::raw_sql(sql).execute(pool).await.unwrap();
            } else if let Some(pool) = store.postgres_pool() {
                sqlx::raw_sql(sql).execute(pool).await.unwrap();
            } else if let Some(pool) = store.mysql_pool() {
                sqlx::raw_sql(sql).execute(pool).await.unwrap();
            }
        }
    });
}

/// The count `sql` answers on the database at `url`.
async fn count(url: &str, sql: &str) -> i64 {
    let store = etlify::Store::connect(url).await.unwrap();
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if let Some(pool) = store.sqlite_pool() {
        sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
    } else if let Some(pool) = store.postgres_pool() {
        sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
    } else {
        let pool = store.mysql_pool().unwrap();
        sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
    }
}

/// The database of a test: its URL, and what drops it.
struct Database {
    url: String,
    column_types: (&'static str, &'static str),
    drop: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Drop for Database {
    fn drop(&mut self) {
        for (url, sql) in &self.drop {
            exec(url, std::slice::from_ref(sql));
        }
    }
}

#[derive(Clone, Copy)]
enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

/// An empty database on `backend` whose key columns are of `key_type`.
fn database(backend: Backend, key_type: &str, tag: &str) -> Database {
    let dir = tempfile::tempdir().unwrap();
    // One database per test: tests of one binary run side by side.
    static DATABASES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "etlify_keys_{tag}_{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let (uuid, bytes) = (key_type == "uuid", key_type == "uuid_binary");
    match backend {
        Backend::Sqlite => Database {
            url: format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("app.sqlite3").display()
            ),
            column_types: (if uuid { "varchar(36)" } else { "varchar" }, "datetime(6)"),
            drop: Vec::new(),
            _dir: dir,
        },
        Backend::Postgres => {
            let server = support::postgres_server();
            exec(&server, &[format!("CREATE SCHEMA \"{name}\"")]);
            Database {
                // `public` after it: the job queue's `hstore` is there.
                url: support::in_search_path(&server, &format!("{name},public")),
                column_types: (
                    if uuid || bytes { "uuid" } else { "varchar" },
                    "timestamp(6) without time zone",
                ),
                drop: vec![(server, format!("DROP SCHEMA \"{name}\" CASCADE"))],
                _dir: dir,
            }
        }
        Backend::Mysql => {
            let server = support::mysql_server();
            exec(
                &server,
                &[format!(
                    "DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`"
                )],
            );
            let (base, _) = server.rsplit_once('/').unwrap();
            Database {
                url: format!("{base}/{name}"),
                column_types: (
                    match (uuid, bytes) {
                        (true, _) => "char(36)",
                        (_, true) => "binary(16)",
                        _ => "varchar(64)",
                    },
                    "datetime(6)",
                ),
                drop: vec![(server, format!("DROP DATABASE IF EXISTS `{name}`"))],
                _dir: dir,
            }
        }
    }
}

/// `people` keyed by `keys` on `backend`, a configuration declaring its
/// `key_type`, then `etlify sync-record` by key: synced, then in sync; a
/// text that is no key of the model is refused (exit 2).
fn sync_record_by_key(backend: Backend, key_type: &str, keys: [&str; 2], not_a_key: &str) {
    let (database, _dir, config) = people(backend, key_type, keys, "");
    let sync = |id: &str| {
        json_of(&etlify(
            &config,
            &["sync-record", "Person", id, "--crm", "hubspot", "--json"],
        ))
    };
    let first = sync(keys[0]);
    assert_eq!(first["outcome"], "synced", "{first}");
    assert_eq!(first["id"], keys[0], "{first}");
    assert_eq!(sync(keys[0])["outcome"], "not_modified");
    assert_eq!(sync(keys[1])["outcome"], "synced");

    let refused = etlify(
        &config,
        &["sync-record", "Person", not_a_key, "--crm", "hubspot"],
    );
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(&format!("key_type is {key_type}")),
        "{stderr}"
    );
    drop(database);
}

/// `people` keyed by `keys` on `backend` and a migrated configuration
/// declaring its `key_type`, then `more` TOML; the database, the
/// configuration's directory and its path.
fn people(
    backend: Backend,
    key_type: &str,
    keys: [&str; 2],
    more: &str,
) -> (Database, tempfile::TempDir, std::path::PathBuf) {
    let database = people_table(backend, key_type, keys);
    let (dir, config) = configuration(&database, &format!("key_type = \"{key_type}\"\n"), more);
    let migrated = etlify(&config, &["migrate"]);
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    (database, dir, config)
}

/// A database on `backend` whose `people` table is keyed by two `keys` of
/// `key_type`.
fn people_table(backend: Backend, key_type: &str, keys: [&str; 2]) -> Database {
    let database = database(backend, key_type, key_type);
    let (key, ts) = database.column_types;
    exec(
        &database.url,
        &[
            format!(
                "CREATE TABLE people (id {key} NOT NULL PRIMARY KEY, email varchar(255), \
                 created_at {ts} NOT NULL, updated_at {ts} NOT NULL)"
            ),
            format!(
                "INSERT INTO people (id, email, created_at, updated_at) VALUES \
                 ({}, 'ada@x.io', '2020-01-01 00:00:00', '2020-01-01 00:00:00'), \
                 ({}, 'bob@x.io', '2020-01-01 00:00:00', '2020-01-01 00:00:00')",
                key_literal(backend, key_type, keys[0]),
                key_literal(backend, key_type, keys[1])
            ),
        ],
    );
    database
}

/// `key` as a literal of its column on `backend`: a UUID kept as 16
/// bytes is written as its bytes.
fn key_literal(backend: Backend, key_type: &str, key: &str) -> String {
    match (key_type, backend) {
        ("uuid_binary", Backend::Mysql) => format!("UNHEX(REPLACE('{key}', '-', ''))"),
        _ => format!("'{key}'"),
    }
}

/// A configuration of `database` with model `Person` over `people`, its
/// section ending in `model` TOML, then `more`: its directory and path.
fn configuration(
    database: &Database,
    model: &str,
    more: &str,
) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("etlify.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{}\"\n\
             [crms.hubspot]\nadapter = \"null\"\n\
             [models.Person]\ntable = \"people\"\n{model}\
             [models.Person.crms.hubspot]\nobject_type = \"contacts\"\nid_property = \"email\"\n\
             payload = \"SELECT id, email FROM people\"\n{more}",
            database.url
        ),
    )
    .unwrap();
    (dir, config)
}

/// Over a table keyed by `keys` of `key_type`, a model declaring no
/// `key_type` (the default, `integer`) is refused by `etlify check` and
/// by `etlify migrate` before anything runs (exit 2, naming
/// `models.Person`'s `key_type` and the type that fits); `new-model` and
/// `init --from-database` write that type.
fn key_type_read_from_the_key_column(backend: Backend, key_type: &str, keys: [&str; 2]) {
    let database = people_table(backend, key_type, keys);
    let (dir, config) = configuration(&database, "", "");
    let expected = format!("`key_type` must be \"{key_type}\" for key column `people.id`");
    for stderr in refused_by(&config, &["check", "migrate"]) {
        assert!(
            stderr.contains("models.Person") && stderr.contains(&expected),
            "{stderr}"
        );
    }

    let scaffolded = etlify(&config, &["new-model", "people"]);
    assert!(scaffolded.status.success(), "{scaffolded:?}");
    let section = String::from_utf8_lossy(&scaffolded.stdout);
    let declared = format!("table = \"people\"\nkey_type = \"{key_type}\"");
    assert!(section.contains(&declared), "{section}");

    let written = dir.path().join("init.toml");
    let init = etlify(
        &written,
        &["init", "--database", &database.url, "--from-database"],
    );
    assert!(init.status.success(), "{init:?}");
    let text = std::fs::read_to_string(&written).unwrap();
    assert!(text.contains(&declared), "{text}");

    // The declaration written is the one the checks take.
    let (_dir, fixed) = configuration(&database, &format!("key_type = \"{key_type}\"\n"), "");
    for command in ["migrate", "check"] {
        let ran = etlify(&fixed, &[command]);
        assert!(ran.status.success(), "{command}: {ran:?}");
    }
    drop(database);
}

/// `etlify errors reset IDS` reads each id as a key of the model's
/// `key_type` (`--model`) or of the models' (without): failing records
/// named by key are reset, a UUID typed in capitals included; a text that
/// is no such key is a usage error (exit 2) naming the key type.
fn errors_reset_by_key(backend: Backend, key_type: &str, keys: [&str; 2], not_a_key: &str) {
    let (database, _dir, config) = people(backend, key_type, keys, "");
    for key in keys {
        let synced = etlify(&config, &["sync-record", "Person", key, "--crm", "hubspot"]);
        assert!(synced.status.success(), "{synced:?}");
    }
    exec(
        &database.url,
        &[
            "UPDATE crm_synchronisations SET error_count = 9, last_error = 'INVALID_EMAIL'"
                .to_owned(),
        ],
    );
    let failing = || {
        let listed = json_of(&etlify(&config, &["errors", "--json"]));
        let mut ids: Vec<String> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(failing(), keys, "both fail, listed by key");

    let typed = match key_type {
        "text" => keys[0].to_owned(),
        _ => keys[0].to_uppercase(),
    };
    let reset = |args: &[&str]| {
        json_of(&etlify(
            &config,
            &[&["errors", "--json", "reset"], args].concat(),
        ))
    };
    assert_eq!(reset(&["--model", "Person", &typed])["reset"], 1);
    assert_eq!(failing(), [keys[1]], "the record named by --model's key");
    assert_eq!(reset(&[keys[1]])["reset"], 1);
    assert!(failing().is_empty(), "the record named by the models' key");

    for args in [vec!["--model", "Person", not_a_key], vec![not_a_key]] {
        let refused = etlify(&config, &[&["errors", "reset"], &args[..]].concat());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("key_type is {key_type}")),
            "{args:?}: {stderr}"
        );
    }
    drop(database);
}

#[test]
fn uuid_errors_reset_by_key_on_sqlite() {
    errors_reset_by_key(Backend::Sqlite, "uuid", [UUID_KEY, OTHER_UUID], "42");
}

#[test]
fn uuid_errors_reset_by_key_on_postgres() {
    errors_reset_by_key(Backend::Postgres, "uuid", [UUID_KEY, OTHER_UUID], "42");
}

#[test]
fn uuid_errors_reset_by_key_on_mysql() {
    errors_reset_by_key(Backend::Mysql, "uuid", [UUID_KEY, OTHER_UUID], "42");
}

#[test]
fn text_key_errors_reset_by_key_on_sqlite() {
    errors_reset_by_key(Backend::Sqlite, "text", [TEXT_KEY, OTHER_TEXT], "");
}

#[test]
fn text_key_errors_reset_by_key_on_postgres() {
    errors_reset_by_key(Backend::Postgres, "text", [TEXT_KEY, OTHER_TEXT], "");
}

#[test]
fn text_key_errors_reset_by_key_on_mysql() {
    errors_reset_by_key(Backend::Mysql, "text", [TEXT_KEY, OTHER_TEXT], "");
}

#[test]
fn uuid_key_type_read_from_the_key_column_on_sqlite() {
    key_type_read_from_the_key_column(Backend::Sqlite, "uuid", [UUID_KEY, OTHER_UUID]);
}

#[test]
fn uuid_key_type_read_from_the_key_column_on_postgres() {
    key_type_read_from_the_key_column(Backend::Postgres, "uuid", [UUID_KEY, OTHER_UUID]);
}

#[test]
fn uuid_key_type_read_from_the_key_column_on_mysql() {
    key_type_read_from_the_key_column(Backend::Mysql, "uuid", [UUID_KEY, OTHER_UUID]);
}

#[test]
fn text_key_key_type_read_from_the_key_column_on_sqlite() {
    key_type_read_from_the_key_column(Backend::Sqlite, "text", [TEXT_KEY, OTHER_TEXT]);
}

#[test]
fn text_key_key_type_read_from_the_key_column_on_postgres() {
    key_type_read_from_the_key_column(Backend::Postgres, "text", [TEXT_KEY, OTHER_TEXT]);
}

#[test]
fn text_key_key_type_read_from_the_key_column_on_mysql() {
    key_type_read_from_the_key_column(Backend::Mysql, "text", [TEXT_KEY, OTHER_TEXT]);
}

/// With a `[queue]` section, `sync-record` by key requests a job, and an
/// `etlify worker` process runs it: the record is then in sync, the other
/// never synced.
fn queued_sync_record_run_by_a_worker(backend: Backend, key_type: &str, keys: [&str; 2]) {
    let queue = format!(
        "\n[queue]\nname = \"keys-{key_type}-{}\"\n",
        std::process::id()
    );
    let (database, _dir, config) = people(backend, key_type, keys, &queue);
    let requested = json_of(&etlify(
        &config,
        &[
            "sync-record",
            "Person",
            keys[0],
            "--crm",
            "hubspot",
            "--json",
        ],
    ));
    assert_eq!(requested["enqueued"], "new", "{requested}");
    // Killed when dropped, a failed wait included.
    let _worker = support::Process {
        child: support::etlify_command(&config, &["worker", "--interval", "off"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
        name: "worker".to_owned(),
    };
    let counts = || {
        let status = json_of(&etlify(&config, &["status", "--json"]));
        (
            status[0]["in_sync"].clone(),
            status[0]["never_synced"].clone(),
        )
    };
    // Polls what the worker process writes: the job's outcome in the
    // database.
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(support::eventually(
            std::time::Duration::from_secs(60),
            std::time::Duration::from_millis(200),
            "the worker synced the record",
            || format!(": {:?}", counts()),
            || async { counts() == (Value::from(1), Value::from(1)) },
        ));
    drop(database);
}

#[test]
fn uuid_sync_record_queued_then_run_by_a_worker_process_on_sqlite() {
    queued_sync_record_run_by_a_worker(Backend::Sqlite, "uuid", [UUID_KEY, OTHER_UUID]);
}

#[test]
fn uuid_sync_record_queued_then_run_by_a_worker_process_on_postgres() {
    queued_sync_record_run_by_a_worker(Backend::Postgres, "uuid", [UUID_KEY, OTHER_UUID]);
}

#[test]
fn text_key_sync_record_queued_then_run_by_a_worker_process_on_sqlite() {
    queued_sync_record_run_by_a_worker(Backend::Sqlite, "text", [TEXT_KEY, OTHER_TEXT]);
}

#[test]
fn text_key_sync_record_queued_then_run_by_a_worker_process_on_postgres() {
    queued_sync_record_run_by_a_worker(Backend::Postgres, "text", [TEXT_KEY, OTHER_TEXT]);
}

#[test]
fn uuid_sync_record_queued_then_run_by_a_worker_process_on_mysql() {
    queued_sync_record_run_by_a_worker(Backend::Mysql, "uuid", [UUID_KEY, OTHER_UUID]);
}

#[test]
fn text_key_sync_record_queued_then_run_by_a_worker_process_on_mysql() {
    queued_sync_record_run_by_a_worker(Backend::Mysql, "text", [TEXT_KEY, OTHER_TEXT]);
}

#[test]
fn uuid_binary_sync_record_by_key_on_mysql() {
    sync_record_by_key(Backend::Mysql, "uuid_binary", [UUID_KEY, OTHER_UUID], "42");
}

#[test]
fn uuid_binary_sync_record_by_key_on_postgres() {
    sync_record_by_key(
        Backend::Postgres,
        "uuid_binary",
        [UUID_KEY, OTHER_UUID],
        "42",
    );
}

#[test]
fn uuid_binary_errors_reset_by_key_on_mysql() {
    errors_reset_by_key(Backend::Mysql, "uuid_binary", [UUID_KEY, OTHER_UUID], "42");
}

#[test]
fn uuid_binary_key_type_read_from_the_key_column_on_mysql() {
    key_type_read_from_the_key_column(Backend::Mysql, "uuid_binary", [UUID_KEY, OTHER_UUID]);
}

/// The standard errors of `commands` run alone on `config`, each of
/// which must have exited 2 (a usage or configuration error).
fn refused_by(config: &Path, commands: &[&str]) -> Vec<String> {
    commands
        .iter()
        .map(|command| {
            let refused = etlify(config, &[command]);
            let stderr = String::from_utf8_lossy(&refused.stderr).into_owned();
            assert_eq!(refused.status.code(), Some(2), "{command}: {stderr}");
            format!("{command}: {stderr}")
        })
        .collect()
}

/// An `etlify` process on `config` running `args`, its output piped;
/// killed when dropped.
fn spawned(config: &Path, args: &[&str], name: &str) -> support::Process {
    support::Process {
        child: support::etlify_command(config, args)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
        name: name.to_owned(),
    }
}

/// Waits for `process` to end, successfully; its JSON report.
fn report_of(mut process: support::Process) -> Value {
    use std::io::Read;
    let mut out = String::new();
    let mut stdout = process.child.stdout.take().unwrap();
    stdout.read_to_string(&mut out).unwrap();
    let status = process.child.wait().unwrap();
    assert!(status.success(), "{} exited {status}: {out}", process.name);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{}: {e}: {out}", process.name))
}

/// A lease conflict between two `etlify` processes over one record keyed
/// by `keys[0]`. A gate (a live page lease of a third holder, the test,
/// covering `keys[0]` only) holds it; `sync-record` (process B) takes the
/// record's lease and waits for the gate; `sync` (process A) then pages
/// both records, finds `keys[0]` held, syncs `keys[1]`, and waits for B's
/// lease to sync `keys[0]` alone. Once the gate opens, B sends the record
/// and A finds it in sync: it is sent once, by B.
fn lease_conflict_between_two_processes(backend: Backend, key_type: &str, keys: [&str; 2]) {
    let (database, _dir, config) = people(backend, key_type, keys, "");
    let literal = |key: &str| key_literal(backend, key_type, key);
    // Above keys[0], below keys[1]: the gate covers the first record only.
    let mut above = keys[0].to_owned();
    let last = above.pop().unwrap();
    above.push(char::from(last as u8 + 1));
    assert!(keys[0] < above.as_str() && above.as_str() < keys[1]);
    exec(
        &database.url,
        &[format!(
            "INSERT INTO etlify_record_leases \
             (crm_name, resource_type, first_id, last_id, owner, expires_at) \
             VALUES ('hubspot', 'Person', {}, {}, 'gate', '2999-01-01 00:00:00')",
            literal(keys[0]),
            literal(&above)
        )],
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = database.url.as_str();
    let eventually = |what: &str, sql: String| {
        runtime.block_on(support::eventually(
            std::time::Duration::from_secs(60),
            std::time::Duration::from_millis(50),
            what,
            String::new,
            || async { count(url, &sql).await == 1 },
        ));
    };
    let leases = "SELECT COUNT(*) FROM etlify_record_leases WHERE owner <> 'gate'";

    let mut b = spawned(
        &config,
        &[
            "sync-record",
            "Person",
            keys[0],
            "--crm",
            "hubspot",
            "--json",
        ],
        "sync-record",
    );
    eventually("B holds the record's lease", leases.to_owned());
    let mut a = spawned(&config, &["sync", "--json"], "sync");
    eventually(
        "A synced the record the gate does not cover",
        format!(
            "SELECT COUNT(*) FROM crm_synchronisations WHERE resource_id = {}",
            literal(keys[1])
        ),
    );
    assert!(a.child.try_wait().unwrap().is_none(), "A waits for B");
    assert!(
        b.child.try_wait().unwrap().is_none(),
        "B waits for the gate"
    );

    exec(
        &database.url,
        &["DELETE FROM etlify_record_leases WHERE owner = 'gate'".to_owned()],
    );
    let b = report_of(b);
    assert_eq!(b["outcome"], "synced", "B sent the record: {b}");
    let a = report_of(a);
    assert_eq!(a["synced"], 1, "A sent the other record only: {a}");
    assert_eq!(a["not_modified"], 1, "A found the record in sync: {a}");
    assert_eq!(
        runtime.block_on(count(url, leases)),
        0,
        "every lease released"
    );
    drop(database);
}

#[test]
fn uuid_a_lease_conflict_between_two_processes_on_sqlite() {
    lease_conflict_between_two_processes(Backend::Sqlite, "uuid", [UUID_KEY, OTHER_UUID]);
}

#[test]
fn uuid_a_lease_conflict_between_two_processes_on_postgres() {
    lease_conflict_between_two_processes(Backend::Postgres, "uuid", [UUID_KEY, OTHER_UUID]);
}

#[test]
fn uuid_a_lease_conflict_between_two_processes_on_mysql() {
    lease_conflict_between_two_processes(Backend::Mysql, "uuid", [UUID_KEY, OTHER_UUID]);
}

#[test]
fn text_key_a_lease_conflict_between_two_processes_on_sqlite() {
    lease_conflict_between_two_processes(Backend::Sqlite, "text", [TEXT_KEY, OTHER_TEXT]);
}

#[test]
fn text_key_a_lease_conflict_between_two_processes_on_postgres() {
    lease_conflict_between_two_processes(Backend::Postgres, "text", [TEXT_KEY, OTHER_TEXT]);
}

#[test]
fn text_key_a_lease_conflict_between_two_processes_on_mysql() {
    lease_conflict_between_two_processes(Backend::Mysql, "text", [TEXT_KEY, OTHER_TEXT]);
}

/// Sync-state tables a migration made for integer keys, before the model
/// declared its `key_type`: `check` and `migrate` refuse (exit 2), naming
/// the commands that make them again; after those, `check` passes.
fn state_tables_made_for_integers(backend: Backend, key_type: &str, keys: [&str; 2]) {
    let database = people_table(backend, key_type, keys);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = etlify::Store::connect(&database.url).await.unwrap();
        etlify::migrate(&store, &etlify::MigrateOptions::new())
            .await
            .unwrap();
    });
    let (_dir, config) = configuration(&database, &format!("key_type = \"{key_type}\"\n"), "");
    for stderr in refused_by(&config, &["check", "migrate"]) {
        assert!(
            stderr.contains("run `etlify migrate --revert` then `etlify migrate`"),
            "{stderr}"
        );
    }
    for args in [&["migrate", "--revert"][..], &["migrate"], &["check"]] {
        let ran = etlify(&config, args);
        assert!(ran.status.success(), "{args:?}: {ran:?}");
    }
    drop(database);
}

#[test]
fn uuid_state_tables_made_for_integers_are_refused_on_postgres() {
    state_tables_made_for_integers(Backend::Postgres, "uuid", [UUID_KEY, OTHER_UUID]);
}

#[test]
fn uuid_state_tables_made_for_integers_are_refused_on_mysql() {
    state_tables_made_for_integers(Backend::Mysql, "uuid", [UUID_KEY, OTHER_UUID]);
}

#[test]
fn text_key_state_tables_made_for_integers_are_refused_on_postgres() {
    state_tables_made_for_integers(Backend::Postgres, "text", [TEXT_KEY, OTHER_TEXT]);
}

#[test]
fn text_key_state_tables_made_for_integers_are_refused_on_mysql() {
    state_tables_made_for_integers(Backend::Mysql, "text", [TEXT_KEY, OTHER_TEXT]);
}

/// SQLite keeps UUID keys as text: `key_type = "uuid_binary"` there is
/// refused by `check` and `migrate` (exit 2), saying to declare `uuid`.
#[test]
fn uuid_binary_is_refused_on_sqlite() {
    let database = people_table(Backend::Sqlite, "uuid", [UUID_KEY, OTHER_UUID]);
    let (_dir, config) = configuration(&database, "key_type = \"uuid_binary\"\n", "");
    for stderr in refused_by(&config, &["migrate", "check"]) {
        assert!(
            stderr.contains("`key_type` must be \"uuid\" on SQLite"),
            "{stderr}"
        );
    }
}

#[test]
fn uuid_sync_record_by_key_on_sqlite() {
    sync_record_by_key(Backend::Sqlite, "uuid", [UUID_KEY, OTHER_UUID], "42");
}

#[test]
fn uuid_sync_record_by_key_on_postgres() {
    sync_record_by_key(Backend::Postgres, "uuid", [UUID_KEY, OTHER_UUID], "42");
}

#[test]
fn uuid_sync_record_by_key_on_mysql() {
    sync_record_by_key(Backend::Mysql, "uuid", [UUID_KEY, OTHER_UUID], "42");
}

#[test]
fn text_key_sync_record_by_key_on_sqlite() {
    sync_record_by_key(Backend::Sqlite, "text", [TEXT_KEY, OTHER_TEXT], "");
}

#[test]
fn text_key_sync_record_by_key_on_postgres() {
    sync_record_by_key(Backend::Postgres, "text", [TEXT_KEY, OTHER_TEXT], "");
}

#[test]
fn text_key_sync_record_by_key_on_mysql() {
    sync_record_by_key(Backend::Mysql, "text", [TEXT_KEY, OTHER_TEXT], "");
}
