//! Several real processes on one database (X-8, X-10, G-10): record
//! locks and batch-run leases hold across processes, on SQLite and on
//! PostgreSQL, and each record is sent to the CRM once.
//!
//! The PostgreSQL cases need `ETLIFY_TEST_POSTGRES_URL` (set by
//! `scripts/test.sh`, which starts a throwaway server); without it they
//! fail, never skip.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use etlify::{MigrateOptions, Store};
use etlify_sandbox::{RunningSandbox, Sandbox, SandboxConfig, DEFAULT_HUBSPOT_TOKEN};

use sqlx::AssertSqlSafe;

// The schema guard of etlify's own tests, shared rather than copied.
#[path = "../../etlify/tests/support/drop_schema.rs"]
mod drop_schema;
use drop_schema::DropSchema;

const USERS: usize = 150;

/// A database for one test: a SQLite file or a PostgreSQL schema, with the
/// `users` table filled and the sync-state tables created.
struct Database {
    url: String,
    /// The PostgreSQL schema of this test, dropped with it.
    _schema: Option<DropSchema>,
    _dir: Option<tempfile::TempDir>,
}

/// A database of [`USERS`] users.
async fn database(postgres: bool) -> Database {
    database_of(postgres, USERS).await
}

async fn database_of(postgres: bool, users: usize) -> Database {
    let (url, schema, dir, ts, pk) = if postgres {
        let server = std::env::var("ETLIFY_TEST_POSTGRES_URL").expect(
            "ETLIFY_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh, \
             which starts a throwaway PostgreSQL",
        );
        let schema = format!("etlify_processes_{}_{}", std::process::id(), rand_suffix());
        let admin = Store::connect(&server).await.unwrap();
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .execute(admin.postgres_pool().unwrap())
            .await
            .unwrap();
        let separator = if server.contains('?') { '&' } else { '?' };
        (
            format!("{server}{separator}options[search_path]={schema}"),
            Some(DropSchema {
                admin: server.parse().unwrap(),
                name: schema,
            }),
            None,
            "timestamp(6) without time zone",
            "bigserial PRIMARY KEY",
        )
    } else {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("app.sqlite3").display());
        (
            url,
            None,
            Some(dir),
            "datetime(6)",
            "integer PRIMARY KEY AUTOINCREMENT NOT NULL",
        )
    };
    let store = Store::connect(&url).await.unwrap();
    let now = if postgres {
        "(clock_timestamp() AT TIME ZONE 'UTC')"
    } else {
        "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
    };
    let statements = [
        format!(
            "CREATE TABLE users (id {pk}, email varchar, full_name varchar, \
             created_at {ts} NOT NULL, updated_at {ts} NOT NULL)"
        ),
        format!(
            "INSERT INTO users (email, full_name, created_at, updated_at) \
             WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers WHERE n < {users}) \
             SELECT 'user' || n || '@example.com', 'User ' || n, {now}, {now} FROM numbers"
        ),
    ];
    for statement in statements {
        match (store.sqlite_pool(), store.postgres_pool()) {
            (Some(pool), _) => {
                sqlx::query(AssertSqlSafe(statement))
                    .execute(pool)
                    .await
                    .unwrap();
            }
            (_, Some(pool)) => {
                sqlx::query(AssertSqlSafe(statement))
                    .execute(pool)
                    .await
                    .unwrap();
            }
            _ => unreachable!("a store is on one backend"),
        }
    }
    etlify::migrate(&store, &MigrateOptions::default())
        .await
        .unwrap();
    Database {
        url,
        _schema: schema,
        _dir: dir,
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

async fn sandbox() -> RunningSandbox {
    let mut config = SandboxConfig::default();
    config.hubspot.rate_limits.enabled = false;
    Sandbox::start(config).await.unwrap()
}

fn report(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "process failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Two processes sync every record one by one, at the same time: each
/// record is created once in the CRM; the process that comes second finds
/// it in sync (same digest) and sends nothing.
async fn two_processes_sync_each_record_once(postgres: bool) {
    let db = database(postgres).await;
    let sandbox = sandbox().await;
    let reports = run_processes(&db, &sandbox, "records", 2).await;
    let synced: u64 = reports.iter().map(|r| r["synced"].as_u64().unwrap()).sum();
    assert_eq!(
        synced, USERS as u64,
        "each record synced by one process: {reports:?}"
    );
    let log = sandbox.admin().request_log();
    assert_eq!(
        log.count("POST", "/crm/v3/objects/{objectType}"),
        USERS as u64,
        "one create per record"
    );
    assert_eq!(
        log.count_status(409),
        0,
        "no create met an existing contact"
    );
    assert_eq!(
        sandbox.admin().hubspot_objects("contacts").unwrap().len(),
        USERS
    );
}

/// Two batch runs of the same CRM in two processes: one runs, the other
/// finds the CRM busy (G-10) or nothing left to do; nothing is sent twice.
async fn two_processes_never_run_one_crm_twice(postgres: bool) {
    let db = database(postgres).await;
    let sandbox = sandbox().await;
    let reports = run_processes(&db, &sandbox, "batch", 2).await;
    let synced: u64 = reports.iter().map(|r| r["synced"].as_u64().unwrap()).sum();
    assert_eq!(synced, USERS as u64, "{reports:?}");
    let contacts = sandbox.admin().hubspot_objects("contacts").unwrap();
    assert_eq!(contacts.len(), USERS);
    let log = sandbox.admin().request_log();
    let sent_twice = log.count_status(409);
    assert_eq!(sent_twice, 0, "no record sent by both processes");
}

/// two processes on one database (PostgreSQL, or one SQLite file:
/// issue 26, item 4), each allowed the CRM's whole limit (8 requests per
/// second, below what one process sends) and each syncing half of the
/// records (a search and a create each): together they stay within one
/// window of the CRM, as the sandbox counts, and none is refused.
async fn x17_two_processes_keep_to_one_rate_window(postgres: bool) {
    const RECORDS: usize = 30;
    const PER_SECOND: usize = 8;
    let db = database_of(postgres, RECORDS).await;
    let mut config = SandboxConfig::default();
    config.hubspot.rate_limits.search_max = 100_000;
    let sandbox = Sandbox::start(config).await.unwrap();
    let modes = (0..2)
        .map(|k| vec![format!("records:{k}/2"), PER_SECOND.to_string()])
        .collect();
    let reports = run_processes_with(&db, &sandbox, modes).await;
    let synced: u64 = reports.iter().map(|r| r["synced"].as_u64().unwrap()).sum();
    assert_eq!(synced, RECORDS as u64, "{reports:?}");
    // Every request (searches and creates) counts against the CRM's limit.
    let log = sandbox.admin().request_log();
    let arrivals: Vec<u64> = log.recent.iter().map(|r| r.at_ms).collect();
    assert_eq!(arrivals.len() as u64, log.total, "every request logged");
    let peak = arrivals
        .iter()
        .map(|start| {
            arrivals
                .iter()
                .filter(|at| **at >= *start && **at < start + 1_000)
                .count()
        })
        .max();
    assert_eq!(
        peak,
        Some(PER_SECOND),
        "both processes together reach the limit in a second, never more: {arrivals:?}"
    );
}

/// Runs `processes` sync processes at once against `sandbox` (in this
/// process; the children only need its address) and returns their reports.
async fn run_processes(
    db: &Database,
    sandbox: &RunningSandbox,
    mode: &str,
    processes: usize,
) -> Vec<serde_json::Value> {
    let modes = vec![vec![mode.to_owned()]; processes];
    run_processes_with(db, sandbox, modes).await
}

/// Runs one process per entry of `extra_args` (its mode and options).
async fn run_processes_with(
    db: &Database,
    sandbox: &RunningSandbox,
    extra_args: Vec<Vec<String>>,
) -> Vec<serde_json::Value> {
    let args = [
        db.url.clone(),
        sandbox.hubspot_base_url(),
        DEFAULT_HUBSPOT_TOKEN.to_owned(),
    ];
    let outputs = tokio::task::spawn_blocking(move || {
        let children: Vec<_> = extra_args
            .iter()
            .map(|extra| {
                Command::new(env!("CARGO_BIN_EXE_etlify-sync-process"))
                    .args(&args)
                    .args(extra)
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        children
            .into_iter()
            .map(|child| child.wait_with_output().unwrap())
            .collect::<Vec<Output>>()
    })
    .await
    .unwrap();
    outputs.iter().map(report).collect()
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrency_two_processes_on_one_sqlite_file_send_each_record_once() {
        super::two_processes_sync_each_record_once(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn g10_two_processes_never_run_one_crm_twice() {
        super::two_processes_never_run_one_crm_twice(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn probe_two_processes_on_one_sqlite_file_keep_to_one_rate_window() {
        super::x17_two_processes_keep_to_one_rate_window(false).await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrency_two_processes_on_one_postgres_send_each_record_once() {
        super::two_processes_sync_each_record_once(true).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn g10_two_processes_never_run_one_crm_twice() {
        super::two_processes_never_run_one_crm_twice(true).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn x17_two_processes_on_one_postgres_keep_to_one_rate_window() {
        super::x17_two_processes_keep_to_one_rate_window(true).await;
    }
}
