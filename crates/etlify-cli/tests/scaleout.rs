//! Scale-out (workers issue, item 8): three `etlify worker` processes on one
//! PostgreSQL, and on one MariaDB (issue 31), against the sandbox running as a process of its own
//! (`etlify sandbox`). The worker holding the CRM's batch run is SIGKILLed
//! mid-run; another takes the CRM over once its locks expire, with the
//! default lease and queue settings (the take-over time is printed, not
//! asserted: docs/OPERATIONS.md records it). Records changed during the run end synced
//! with their last value, every record reaches the CRM exactly once (no
//! duplicate object, none missing), and the sandbox never sees more
//! requests in a window than the limit the workers share (X-17), nor a 429.
//!
//! `ETLIFY_SCALEOUT_RECORDS` sets the number of stale records (default
//! 4,000; the benchmark in docs/BENCHMARKS.md runs 50,000). Needs
//! `ETLIFY_TEST_POSTGRES_URL` and `ETLIFY_TEST_MYSQL_URL` (scripts/test.sh
//! starts throwaway servers): without them the tests fail, never skip.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use etlify::{MigrateOptions, Store};
use serde_json::Value;
use sqlx::AssertSqlSafe;
use support::{etlify_command, sandbox_contacts, sandbox_put, start_sandbox, Process};

/// The window the sandbox enforces and the workers share.
const WINDOW_MAX: u64 = 20;
const WINDOW_MS: u64 = 2_000;

fn records() -> usize {
    std::env::var("ETLIFY_SCALEOUT_RECORDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4_000)
}

fn etlify(config: &Path, args: &[&str]) -> Output {
    etlify_command(config, args).output().unwrap()
}

fn succeeded(output: Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn start_worker(config: &Path, n: usize, log: &Path) -> Process {
    let log = std::fs::File::create(log).unwrap();
    let child = etlify_command(config, &["worker", "--interval", "1s", "--name"])
        .arg(format!("scaleout-{}-{n}", std::process::id()))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Process {
        child,
        name: format!("worker {n}"),
    }
}

/// The database the workers share.
#[derive(Clone, Copy, Debug)]
enum Backend {
    Postgres,
    Mysql,
}

/// The test's own connections to it.
#[derive(Clone)]
enum Pool {
    Postgres(sqlx::PgPool),
    Mysql(sqlx::MySqlPool),
}

struct Database {
    url: String,
    pool: Pool,
}

/// A schema (PostgreSQL) or database (MySQL) of its own with `users`
/// filled; on PostgreSQL apalis's extensions in `public`, which the
/// workers' search path includes.
async fn database(backend: Backend, users: usize) -> Database {
    let (url, pool) = match backend {
        Backend::Postgres => postgres_schema().await,
        Backend::Mysql => mysql_database().await,
    };
    let (table, fill) = match backend {
        Backend::Postgres => (
            "CREATE TABLE users (id bigserial PRIMARY KEY, email varchar, full_name varchar, \
             created_at timestamp(6) without time zone NOT NULL, updated_at timestamp(6) without time zone NOT NULL)"
                .to_owned(),
            format!(
                "INSERT INTO users (email, full_name, created_at, updated_at) \
                 SELECT 'user' || n || '@example.com', 'User ' || n, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC' \
                 FROM generate_series(1, {users}) AS n"
            ),
        ),
        Backend::Mysql => (
            "CREATE TABLE users (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, email varchar(255), \
             full_name varchar(255), created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL)"
                .to_owned(),
            // 1..=users from digits (a recursive CTE stops at the
            // server's `max_recursive_iterations`, 1,000 by default).
            format!(
                "INSERT INTO users (email, full_name, created_at, updated_at) \
                 SELECT CONCAT('user', n, '@example.com'), CONCAT('User ', n), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) \
                 FROM (SELECT 1 + d0.d + 10 * d1.d + 100 * d2.d + 1000 * d3.d + 10000 * d4.d + 100000 * d5.d AS n \
                       FROM {digits} AS d0, {digits} AS d1, {digits} AS d2, {digits} AS d3, {digits} AS d4, {digits} AS d5) AS numbers \
                 WHERE n <= {users} ORDER BY n",
                digits = "(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 \
                          UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
            ),
        ),
    };
    let db = Database { url, pool };
    db.exec(&table).await;
    db.exec(&fill).await;
    let store = Store::connect(&db.url).await.unwrap();
    etlify::migrate(&store, &MigrateOptions::default())
        .await
        .unwrap();
    db
}

async fn postgres_schema() -> (String, Pool) {
    let server = support::postgres_server();
    let schema = format!("etlify_scaleout_{}", std::process::id());
    let admin = Store::connect(&server).await.unwrap();
    let admin = admin.postgres_pool().unwrap();
    for statement in [
        "SELECT pg_advisory_lock(4242)".to_owned(),
        "CREATE EXTENSION IF NOT EXISTS hstore WITH SCHEMA public".to_owned(),
        "CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA public".to_owned(),
        "SELECT pg_advisory_unlock(4242)".to_owned(),
        format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
        format!("CREATE SCHEMA \"{schema}\""),
    ] {
        sqlx::query(AssertSqlSafe(statement))
            .execute(admin)
            .await
            .unwrap();
    }
    let url = support::in_search_path(&server, &format!("{schema},public"));
    let store = Store::connect(&url).await.unwrap();
    let pool = store.postgres_pool().unwrap().clone();
    (url, Pool::Postgres(pool))
}

async fn mysql_database() -> (String, Pool) {
    let server = support::mysql_server();
    let name = format!("etlify_scaleout_{}", std::process::id());
    let admin = Store::connect(&server).await.unwrap();
    let admin = admin.mysql_pool().unwrap();
    for statement in [
        format!("DROP DATABASE IF EXISTS `{name}`"),
        format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"),
    ] {
        sqlx::query(AssertSqlSafe(statement))
            .execute(admin)
            .await
            .unwrap();
    }
    let (base, query) = server
        .split_once('?')
        .map_or((server.as_str(), None), |(b, q)| (b, Some(q)));
    let (host, _) = base
        .rsplit_once('/')
        .expect("a MySQL URL names its database");
    let url = match query {
        Some(query) => format!("{host}/{name}?{query}"),
        None => format!("{host}/{name}"),
    };
    let store = Store::connect(&url).await.unwrap();
    let pool = store.mysql_pool().unwrap().clone();
    (url, Pool::Mysql(pool))
}

impl Pool {
    async fn exec(&self, sql: &str) {
        match self {
            Pool::Postgres(pool) => sqlx::query(AssertSqlSafe(sql.to_owned()))
                .execute(pool)
                .await
                .map(drop),
            Pool::Mysql(pool) => sqlx::query(AssertSqlSafe(sql.to_owned()))
                .execute(pool)
                .await
                .map(drop),
        }
        .unwrap();
    }

    async fn scalar(&self, sql: &str) -> i64 {
        match self {
            Pool::Postgres(pool) => {
                sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                    .fetch_one(pool)
                    .await
            }
            Pool::Mysql(pool) => {
                sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                    .fetch_one(pool)
                    .await
            }
        }
        .unwrap()
    }

    async fn text(&self, sql: &str) -> Option<String> {
        match self {
            Pool::Postgres(pool) => {
                sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                    .fetch_optional(pool)
                    .await
            }
            Pool::Mysql(pool) => {
                sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
                    .fetch_optional(pool)
                    .await
            }
        }
        .unwrap()
    }

    /// SQL for the database's time now, in UTC.
    fn now(&self) -> &'static str {
        match self {
            Pool::Postgres(_) => "(clock_timestamp() AT TIME ZONE 'UTC')",
            Pool::Mysql(_) => "UTC_TIMESTAMP(6)",
        }
    }
}

impl Database {
    async fn exec(&self, sql: &str) {
        self.pool.exec(sql).await;
    }

    async fn scalar(&self, sql: &str) -> i64 {
        self.pool.scalar(sql).await
    }

    async fn stale(&self) -> i64 {
        self.scalar(
            "SELECT COUNT(*) FROM users u LEFT JOIN crm_synchronisations s \
             ON s.resource_id = u.id AND s.resource_type = 'User' AND s.crm_name = 'hubspot' \
             WHERE s.id IS NULL OR s.last_synced_at IS NULL OR s.last_synced_at < u.updated_at",
        )
        .await
    }

    async fn batch_lease_holder(&self) -> Option<u32> {
        batch_lease_holder(&self.pool).await
    }
}

/// The pid of the process holding the CRM's batch lease, by the database's
/// clock (lease owners start with their process's pid).
async fn batch_lease_holder(pool: &Pool) -> Option<u32> {
    let owner = pool
        .text(&format!(
            "SELECT owner FROM etlify_leases WHERE name = '[\"batch\",\"hubspot\"]' \
             AND expires_at > {}",
            pool.now()
        ))
        .await;
    owner.and_then(|o| o.split('-').next().and_then(|pid| pid.parse().ok()))
}

/// Watches, from `killed_at` on, for another process than `dead` to hold
/// the CRM's batch lease: that process's pid, and how long after the kill.
fn watch_takeover(
    pool: Pool,
    dead: u32,
    killed_at: Instant,
) -> tokio::task::JoinHandle<(u32, Duration)> {
    tokio::spawn(async move {
        loop {
            if let Some(pid) = batch_lease_holder(&pool).await.filter(|pid| *pid != dead) {
                return (pid, killed_at.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

fn config(dir: &Path, database_url: &str, sandbox: &str) -> PathBuf {
    let path = dir.join("etlify.toml");
    std::fs::write(
        &path,
        format!(
            r#"[database]
url = "{database_url}"

[queue]

[worker]
concurrency = 4
shutdown_timeout = "10s"

[crms.hubspot]
adapter = "hubspot"
token = "{token}"
base_url = "{sandbox}"
rate_limit = {{ max_requests = {WINDOW_MAX}, period = "{WINDOW_MS}ms" }}

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

async fn get(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// Where worker `k` writes its log (shown when the test times out).
fn worker_log(k: usize) -> PathBuf {
    std::env::temp_dir().join(format!("scaleout-{}-worker-{k}.log", std::process::id()))
}

/// Waits until `done` holds, at most `within`.
async fn wait_until<F, Fut>(within: Duration, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !done().await {
        if Instant::now() >= deadline {
            for k in 0..3 {
                let log = std::fs::read_to_string(worker_log(k)).unwrap_or_default();
                eprintln!("--- worker {k}:\n{log}");
            }
            panic!("timed out waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaleout_three_workers_one_killed_every_record_synced_once_within_the_shared_window() {
    three_workers_one_killed(Backend::Postgres).await;
}

/// The same on MariaDB: the queue's storage there, the leases and the
/// shared rate window across processes (issue 31).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaleout_mysql_three_workers_one_killed_every_record_synced_once_within_the_shared_window()
{
    three_workers_one_killed(Backend::Mysql).await;
}

async fn three_workers_one_killed(backend: Backend) {
    let n = records();
    let db = database(backend, n).await;
    let dir = tempfile::tempdir().unwrap();
    let (_sandbox, sandbox) = start_sandbox();
    let limits = serde_json::json!({"hubspot": {
        "enabled": true, "per_app_max": WINDOW_MAX, "per_app_window_ms": WINDOW_MS,
        "daily_max": 10_000_000, "daily_window_ms": 86_400_000,
        "search_max": 5, "search_window_ms": 1_000, "retry_after": true, "daily_headers": true
    }});
    sandbox_put(&sandbox, "limits", &limits).await;
    let config = config(dir.path(), &db.url, &sandbox);
    // The queue's tables (`etlify migrate` opens the queue of a [queue]).
    succeeded(etlify(&config, &["migrate"]), "etlify migrate");

    let started = Instant::now();
    let mut workers: Vec<Option<Process>> = (0..3)
        .map(|k| Some(start_worker(&config, k, &worker_log(k))))
        .collect();

    // Mid-run: kill the worker holding the CRM's batch run.
    wait_until(
        Duration::from_secs(60),
        "a fifth of the records are synced",
        || async {
            db.scalar("SELECT COUNT(*) FROM crm_synchronisations WHERE crm_id IS NOT NULL")
                .await as usize
                >= n / 5
        },
    )
    .await;
    for (k, worker) in workers.iter_mut().enumerate() {
        let worker = worker.as_mut().unwrap();
        if let Some(status) = worker.child.try_wait().unwrap() {
            let log = std::fs::read_to_string(worker_log(k)).unwrap_or_default();
            panic!("{} exited early ({status}): {log}", worker.name);
        }
    }
    let kill_at = started.elapsed();
    let holder = db
        .batch_lease_holder()
        .await
        .expect("a batch run holds the CRM");
    let victim = workers
        .iter()
        .position(|w| w.as_ref().is_some_and(|w| w.child.id() == holder))
        .expect("the batch run is one of the workers'");
    let synced_at_kill = db
        .scalar("SELECT COUNT(*) FROM crm_synchronisations WHERE crm_id IS NOT NULL")
        .await;
    let mut killed = workers[victim].take().unwrap();
    assert!(Command::new("kill")
        .args(["-KILL", &killed.child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let killed_at = Instant::now();
    let takeover = watch_takeover(db.pool.clone(), holder, killed_at);
    let status = killed.child.wait().unwrap();
    assert!(!status.success(), "{} was killed", killed.name);
    assert!((synced_at_kill as usize) < n, "killed mid-run");

    // Records changed during the run, already in the CRM: twice each, the
    // second value is the one that must arrive. Some are also requested
    // by hand (record jobs beside the batch job).
    let changed: Vec<i64> = (1..=30).collect();
    for round in ["first", "last"] {
        db.exec(&format!(
            "UPDATE users SET full_name = CONCAT('Renamed ', id, ' {round}'), \
             updated_at = {} WHERE id <= {}",
            db.pool.now(),
            changed.len()
        ))
        .await;
    }
    for id in changed.iter().take(10) {
        succeeded(
            etlify(
                &config,
                &["sync-record", "User", &id.to_string(), "--crm", "hubspot"],
            ),
            "etlify sync-record",
        );
    }
    let changed_at = started.elapsed();

    // The take-over: another worker holds the CRM's batch run, once the
    // killed one's lease has expired (the default lease_ttl) and its job
    // came back from the queue (the default heartbeats).
    let (taken_by, takeover) = match tokio::time::timeout(Duration::from_secs(120), takeover).await
    {
        Ok(taken) => taken.unwrap(),
        Err(_) => {
            for k in 0..3 {
                let log = std::fs::read_to_string(worker_log(k)).unwrap_or_default();
                eprintln!("--- worker {k}:\n{log}");
            }
            panic!("no worker took the CRM's batch run over within 120 s of the kill");
        }
    };
    assert!(
        workers.iter().flatten().any(|w| w.child.id() == taken_by),
        "taken over by a surviving worker"
    );

    wait_until(
        Duration::from_secs(600),
        "every record is synced",
        || async {
            db.stale().await == 0
                && db
                    .scalar("SELECT COUNT(*) FROM etlify_job_requests WHERE running")
                    .await
                    == 0
        },
    )
    .await;
    let took = started.elapsed();

    // Every record once in the CRM, with its last value.
    let contacts = sandbox_contacts(&sandbox).await;
    let mut emails: Vec<String> = contacts
        .iter()
        .map(|c| c["properties"]["email"].as_str().unwrap().to_owned())
        .collect();
    emails.sort();
    let before = emails.len();
    emails.dedup();
    assert_eq!(
        (before, emails.len()),
        (n, n),
        "no duplicate object, none missing"
    );
    for contact in &contacts {
        let email = contact["properties"]["email"].as_str().unwrap();
        let id: i64 = email
            .trim_start_matches("user")
            .trim_end_matches("@example.com")
            .parse()
            .unwrap();
        let name = contact["properties"]["full_name"].as_str().unwrap();
        if changed.contains(&id) {
            assert_eq!(name, format!("Renamed {id} last"), "{email}");
        } else {
            assert_eq!(name, format!("User {id}"), "{email}");
        }
    }

    // The shared window: never over the limit, never a 429.
    let log = get(&format!("{sandbox}/_sandbox/requests")).await;
    let peak = log["peaks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["window_ms"].as_u64() == Some(WINDOW_MS))
        .filter_map(|p| p["peak"].as_u64())
        .max()
        .expect("the per-app window is tracked");
    let too_many: u64 = log["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["statuses"]["429"].as_u64())
        .sum();
    let requests = log["total"].as_u64().unwrap();
    assert!(
        peak <= WINDOW_MAX,
        "peak {peak} in one window, limit {WINDOW_MAX}"
    );
    assert_eq!(too_many, 0, "no 429: {log}");
    eprintln!(
        "scaleout: {n} records, 3 workers (one killed at {synced_at_kill} synced, at {:.1} s; \
         CRM taken over {:.1} s after the kill; changes requested by {:.1} s), {:.1} s, \
         {:.0} records/s, {requests} requests, peak {peak}/{WINDOW_MAX} per {WINDOW_MS} ms, \
         bound {:.0} records/s, 429s {too_many}, duplicates {}",
        kill_at.as_secs_f64(),
        takeover.as_secs_f64(),
        changed_at.as_secs_f64(),
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        (WINDOW_MAX * 100) as f64 * 1000.0 / WINDOW_MS as f64,
        before - emails.len()
    );

    // The survivors stop gracefully.
    for worker in workers.iter_mut().flatten() {
        assert!(Command::new("kill")
            .args(["-TERM", &worker.child.id().to_string()])
            .status()
            .unwrap()
            .success());
    }
    for (k, worker) in workers.iter_mut().enumerate() {
        let Some(worker) = worker else { continue };
        let status = worker.child.wait().unwrap();
        let log = std::fs::read_to_string(worker_log(k)).unwrap();
        assert!(status.success(), "{} exited {status}: {log}", worker.name);
        assert!(log.contains("Worker stopped."), "{log}");
    }
}
