//! `--scenario fresh`: how soon a change committed by the application
//! reaches the CRM through a running worker (issue 28, item 5), and what
//! the worker costs the database while nothing changes.
//!
//! A table `fresh_users` (`--users`, default enough for the writes below)
//! is synced once to the sandbox, which answers after `--latency-ms`
//! (300) under HubSpot's limits (100 requests / 10 s, on the sandbox and
//! on the engine alike); then, after the rate window has emptied, an
//! in-process `Worker` runs with an interval of an hour, so that only its
//! change watch starts runs: on PostgreSQL it listens to the change
//! triggers (`install_change_triggers`), on SQLite it polls every
//! `--watch-ms` (1000) `PRAGMA data_version`, or with `--sqlite-triggers`
//! reads the counters of SQLite's change triggers (the job queue's table
//! included, so its fetch is woken rather than polled each second) when
//! the database's files are written to, and every `--watch-ms` if given
//! (the default watch's safety period otherwise).
//! The application's write times are printed (the steady `UPDATE`s and
//! the burst's), to compare runs with and without triggers.
//!
//! 1. **Steady**: `--rate` (50) users changed a second, one UPDATE each,
//!    for `--duration` seconds (60); each user is changed once, so the
//!    sandbox's `updated_at` of that contact (its write, after the
//!    latency) minus the instant the UPDATE returned (its commit) is that
//!    change's latency. p50 / p95 / p99 / max are printed.
//! 2. **Burst**: `--burst` (5,000) other users changed by one UPDATE: the
//!    latency of the first and the last of them to arrive, and the runs.
//! 3. **Idle**: `--idle-seconds` (10) with nothing changing: the queries
//!    this process sent a second (sqlx's own statement events, counted by
//!    kind: the change detector's, the job queue's, the rest), and on
//!    PostgreSQL the database's commits a second (`pg_stat_database`,
//!    which counts every session of the database, other clients'
//!    included).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use etlify::adapters::{HubSpotAdapter, HubSpotConfig};
use etlify::jobs::{JobQueue, QueueOptions};
use etlify::{
    BatchSyncOptions, Binding, ChangeWatch, Crm, Etlify, MigrateOptions, Model, RateLimit,
    SqlPayload, Store, Worker, WorkerOptions,
};
use etlify_sandbox::{FaultConfig, RunningSandbox, SandboxConfig, DEFAULT_HUBSPOT_TOKEN};
use serde_json::json;
use sqlx::AssertSqlSafe;
use tracing_subscriber::layer::SubscriberExt;

use etlify_bench::SandboxThread;

use crate::{Args, Pool};

type BoxError = Box<dyn std::error::Error>;

/// HubSpot's limit: 100 requests per 10 s per app.
const HUBSPOT_MAX: u32 = 100;
const HUBSPOT_WINDOW: Duration = Duration::from_secs(10);

/// The schema the PostgreSQL run uses, dropped first.
const PG_SCHEMA: &str = "etlify_bench_fresh";

/// The options of this scenario.
#[derive(Debug, Clone)]
pub(crate) struct FreshArgs {
    pub(crate) duration: Duration,
    pub(crate) rate: u32,
    pub(crate) burst: u64,
    pub(crate) latency_ms: u64,
    /// `--watch-ms`, when given.
    pub(crate) watch: Option<Duration>,
    pub(crate) idle: Duration,
    pub(crate) sqlite_triggers: bool,
}

impl Default for FreshArgs {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(60),
            rate: 50,
            burst: 5_000,
            latency_ms: 300,
            watch: None,
            idle: Duration::from_secs(10),
            sqlite_triggers: false,
        }
    }
}

/// Queries this process sent, by kind (sqlx's `sqlx::query` events).
static QUERIES: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

/// The same, by statement (its first 70 characters).
static STATEMENTS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());

fn count_query(summary: &str) {
    *STATEMENTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(summary.chars().take(70).collect())
        .or_default() += 1;
    let lower = summary.to_ascii_lowercase();
    let kind = if lower.contains("data_version") {
        "change detector (PRAGMA data_version)"
    } else if lower.starts_with("select table_name, changes from") {
        "change detector (SQLite triggers' counters)"
    } else if lower.contains("pg_stat_database") {
        "this benchmark (reading pg_stat_database)"
    } else if lower.contains("apalis")
        || lower.contains("jobs")
        || lower.contains("workers")
        || lower.starts_with("with stale as")
    {
        "job queue (apalis: fetch, heartbeat, orphans)"
    } else if matches!(lower.trim(), "begin" | "commit" | "rollback") {
        "transaction control (BEGIN / COMMIT)"
    } else {
        "etlify (finder, job requests, leases, rate window)"
    };
    *QUERIES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .entry(kind)
        .or_default() += 1;
}

fn statements() -> BTreeMap<String, u64> {
    STATEMENTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

fn queries() -> BTreeMap<&'static str, u64> {
    QUERIES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Counts sqlx's statement events; nothing else is recorded.
struct QueryCounter;

struct Summary(Option<String>);

impl tracing::field::Visit for Summary {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "summary" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for QueryCounter {
    fn enabled(
        &self,
        metadata: &tracing::Metadata<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        metadata.target() == "sqlx::query"
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut summary = Summary(None);
        event.record(&mut summary);
        count_query(summary.0.as_deref().unwrap_or(""));
    }
}

fn sandbox_config(latency_ms: u64) -> SandboxConfig {
    let mut config = SandboxConfig {
        seed: Some(1),
        ..SandboxConfig::default()
    };
    let hubspot = &mut config.hubspot.rate_limits;
    hubspot.enabled = true;
    hubspot.per_app_max = u64::from(HUBSPOT_MAX);
    hubspot.per_app_window_ms = HUBSPOT_WINDOW.as_millis() as u64;
    config.hubspot.faults = FaultConfig {
        latency_ms,
        ..FaultConfig::default()
    };
    config
}

fn model() -> Model {
    Model::new("User", "fresh_users").bind(
        "hubspot",
        Binding::new("contacts", "email").payload(SqlPayload::new(
            "SELECT id, email, full_name AS firstname FROM fresh_users",
        )),
    )
}

fn email(id: u64) -> String {
    format!("fresh{id}@example.com")
}

/// The store and the application's pool, on a fresh database: on
/// PostgreSQL a schema of its own (the job queue's tables stay in
/// apalis's schema, under a queue name of this run).
async fn open(args: &Args, store: Store, pool: &Pool) -> Result<(Store, Pool), BoxError> {
    let Pool::Postgres(admin) = pool else {
        return Ok((
            store,
            match pool {
                Pool::Sqlite(p) => Pool::Sqlite(p.clone()),
                Pool::Postgres(p) => Pool::Postgres(p.clone()),
                Pool::Mysql(p) => Pool::Mysql(p.clone()),
            },
        ));
    };
    for sql in [
        format!("DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"),
        format!("CREATE SCHEMA {PG_SCHEMA}"),
    ] {
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(admin).await?;
    }
    let url = args.postgres_url.clone().ok_or("a PostgreSQL URL")?;
    let options: sqlx::postgres::PgConnectOptions = url.parse()?;
    let search_path = format!("{PG_SCHEMA}, public");
    let options = options.options([("search_path", search_path.as_str()), ("TimeZone", "UTC")]);
    let app = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.clone())
        .await?;
    let store_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    Ok((Store::from_postgres_pool(store_pool), Pool::Postgres(app)))
}

async fn exec(pool: &Pool, sql: &str) -> Result<(), BoxError> {
    Ok(crate::exec(pool, sql).await?)
}

fn now_sql(pool: &Pool) -> &'static str {
    match pool {
        Pool::Postgres(_) => "(clock_timestamp() AT TIME ZONE 'UTC')",
        Pool::Sqlite(_) => "strftime('%Y-%m-%d %H:%M:%f000', 'now')",
        Pool::Mysql(_) => "UTC_TIMESTAMP(6)",
    }
}

async fn create_users(pool: &Pool, users: u64) -> Result<(), BoxError> {
    let (pk, ts) = match pool {
        Pool::Postgres(_) => ("bigint PRIMARY KEY", "timestamp(6) without time zone"),
        Pool::Sqlite(_) => ("integer PRIMARY KEY", "datetime(6)"),
        Pool::Mysql(_) => ("bigint PRIMARY KEY", "datetime(6)"),
    };
    for table in [
        "fresh_users",
        "crm_synchronisations",
        "etlify_pending_syncs",
        "etlify_sync_checkpoints",
    ] {
        exec(pool, &format!("DROP TABLE IF EXISTS {table}")).await?;
    }
    exec(
        pool,
        &format!(
            "CREATE TABLE fresh_users (id {pk}, email varchar, full_name varchar, \
             created_at {ts}, updated_at {ts})"
        ),
    )
    .await?;
    let now = now_sql(pool);
    let select = format!("i, 'fresh' || i || '@example.com', 'User ' || i, {now}, {now}");
    let sql = match pool {
        Pool::Postgres(_) => format!(
            "INSERT INTO fresh_users (id, email, full_name, created_at, updated_at) \
             SELECT {select} FROM generate_series(1, {users}) AS s(i)"
        ),
        Pool::Sqlite(_) => format!(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {users}) \
             INSERT INTO fresh_users (id, email, full_name, created_at, updated_at) SELECT {select} FROM s"
        ),
        Pool::Mysql(_) => format!(
            "INSERT INTO fresh_users (id, email, full_name, created_at, updated_at) \
             SELECT {select} FROM (SELECT seq AS i FROM seq_1_to_{users}) AS s"
        ),
    };
    exec(pool, &sql).await
}

/// When the sandbox last wrote each contact, by email, with its first
/// name.
fn written(sandbox: &RunningSandbox) -> BTreeMap<String, (String, SystemTime)> {
    let mut written = BTreeMap::new();
    for contact in sandbox
        .admin()
        .hubspot_objects("contacts")
        .unwrap_or_default()
    {
        let (Some(email), Some(name)) = (
            contact.properties.get("email"),
            contact.properties.get("firstname"),
        ) else {
            continue;
        };
        let Ok(at) = chrono::DateTime::parse_from_rfc3339(&contact.updated_at) else {
            continue;
        };
        written.insert(email.clone(), (name.clone(), SystemTime::from(at)));
    }
    written
}

/// Waits until the sandbox holds `expected` (email → first name) for
/// every change, at most `within`; the latency of each (sandbox write
/// minus commit), in ms.
async fn latencies(
    sandbox: &RunningSandbox,
    changes: &[(u64, String, SystemTime)],
    within: Duration,
) -> Result<Vec<f64>, BoxError> {
    let deadline = Instant::now() + within;
    loop {
        let written = written(sandbox);
        let arrived: Vec<f64> = changes
            .iter()
            .filter_map(|(id, name, committed)| {
                let (got, at) = written.get(&email(*id))?;
                (got == name).then(|| {
                    at.duration_since(*committed)
                        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
                })
            })
            .collect();
        if arrived.len() == changes.len() {
            return Ok(arrived);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {} changes reached the sandbox within {within:?}",
                arrived.len(),
                changes.len()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn queue_idle(etlify: &Etlify) -> Result<bool, BoxError> {
    let counts = etlify.job_counts().await?;
    Ok(counts.queued == 0 && counts.running == 0)
}

async fn wait_idle(etlify: &Etlify) -> Result<(), BoxError> {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !queue_idle(etlify).await? {
        if Instant::now() > deadline {
            return Err("the queue did not empty within 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

async fn commits(pool: &Pool) -> Result<Option<i64>, BoxError> {
    match pool {
        Pool::Postgres(p) => Ok(Some(
            sqlx::query_scalar(
                "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
            )
            .fetch_one(p)
            .await?,
        )),
        Pool::Sqlite(_) | Pool::Mysql(_) => Ok(None),
    }
}

pub(crate) async fn run(args: &Args, store: Store, pool: &Pool) -> Result<(), BoxError> {
    let _ =
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(QueryCounter));
    let fresh = &args.fresh;
    let steady = u64::from(fresh.rate) * fresh.duration.as_secs();
    let users = args.users.max(steady + fresh.burst);
    let (store, pool) = open(args, store, pool).await?;
    let backend = args.backend.clone();
    create_users(&pool, users).await?;
    etlify::migrate(&store, &MigrateOptions::default()).await?;
    let queue = JobQueue::open(
        &store,
        QueueOptions::new().name(format!("fresh-bench-{}", std::process::id())),
    )
    .await?;
    let sandbox = SandboxThread::start(sandbox_config(fresh.latency_ms)).await?;
    let adapter = HubSpotAdapter::new(
        HubSpotConfig::new(DEFAULT_HUBSPOT_TOKEN).base_url(sandbox.sandbox.base_url()),
    )?;
    let crm = Crm::new("hubspot", Arc::new(adapter))
        .rate_limit(RateLimit::new(HUBSPOT_MAX, HUBSPOT_WINDOW)?);
    let etlify = Etlify::builder(store.clone())
        .crm(crm)
        .model(model())
        .queue(queue.clone())
        .build()
        .await?;
    let watch = match backend.as_str() {
        "postgres" => {
            let installed = etlify.install_change_triggers().await?;
            println!("change triggers on: {:?}", installed.added);
            ChangeWatch::Auto
        }
        "sqlite" if fresh.sqlite_triggers => {
            let installed = etlify.install_change_triggers().await?;
            println!("change triggers on: {:?}", installed.added);
            // Their counters read when the files are written to (and
            // every --watch-ms if given).
            fresh.watch.map_or(ChangeWatch::Auto, ChangeWatch::Poll)
        }
        _ => ChangeWatch::Poll(fresh.watch.unwrap_or(Duration::from_secs(1))),
    };
    let first = Instant::now();
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await?;
    println!(
        "first sync: {} users in {:.1}s; waiting {}s for the rate window to empty",
        stats.outcomes.synced,
        first.elapsed().as_secs_f64(),
        HUBSPOT_WINDOW.as_secs()
    );
    tokio::time::sleep(HUBSPOT_WINDOW).await;

    let worker = Worker::with_options(
        etlify.clone(),
        queue.clone(),
        WorkerOptions::new()
            .interval(Some(Duration::from_secs(3600)))
            .watch(watch),
    );
    let health = worker.health();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(worker.run_until(async move {
        let _ = stopped.await;
    }));
    // The loop's request at start finds nothing; the watch is ready.
    tokio::time::sleep(Duration::from_secs(2)).await;
    wait_idle(&etlify).await?;

    // 1. Steady writes.
    let runs_before = health.snapshot().done;
    let requests_before = sandbox.sandbox.admin().request_log().total;
    let now = now_sql(&pool);
    let mut changes = Vec::with_capacity(steady as usize);
    let mut write_ms = Vec::with_capacity(steady as usize);
    let step = Duration::from_secs(1) / fresh.rate.max(1);
    let started = tokio::time::Instant::now();
    for i in 0..steady {
        tokio::time::sleep_until(started + step * i as u32).await;
        let id = i + 1;
        let name = format!("steady {i}");
        let write = Instant::now();
        exec(
            &pool,
            &format!(
                "UPDATE fresh_users SET full_name = '{name}', updated_at = {now} WHERE id = {id}"
            ),
        )
        .await?;
        write_ms.push(write.elapsed().as_secs_f64() * 1e3);
        changes.push((id, name, SystemTime::now()));
    }
    let writing = started.elapsed();
    let mut steady_ms = latencies(&sandbox.sandbox, &changes, Duration::from_secs(120)).await?;
    steady_ms.sort_by(f64::total_cmp);
    wait_idle(&etlify).await?;
    let steady_runs = health.snapshot().done - runs_before;
    let steady_requests = sandbox.sandbox.admin().request_log().total - requests_before;

    // 2. A burst in one statement.
    tokio::time::sleep(HUBSPOT_WINDOW).await;
    let runs_before = health.snapshot().done;
    let watch_before = health.change_watch();
    let (from, to) = (steady + 1, steady + fresh.burst);
    let burst_write = Instant::now();
    exec(
        &pool,
        &format!(
            "UPDATE fresh_users SET full_name = 'burst', updated_at = {now} WHERE id BETWEEN {from} AND {to}"
        ),
    )
    .await?;
    let burst_write_ms = burst_write.elapsed().as_secs_f64() * 1e3;
    let committed = SystemTime::now();
    let burst: Vec<(u64, String, SystemTime)> = (from..=to)
        .map(|id| (id, "burst".to_owned(), committed))
        .collect();
    let mut burst_ms = latencies(&sandbox.sandbox, &burst, Duration::from_secs(300)).await?;
    burst_ms.sort_by(f64::total_cmp);
    wait_idle(&etlify).await?;
    let burst_runs = health.snapshot().done - runs_before;
    let burst_watch = health.change_watch();

    // 3. Idle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let queries_before = queries();
    let statements_before = statements();
    let watch_before_idle = health.change_watch();
    let commits_before = commits(&pool).await?;
    tokio::time::sleep(fresh.idle).await;
    let commits_after = commits(&pool).await?;
    let queries_after = queries();
    let statements_after = statements();
    let watch_after_idle = health.change_watch();
    let idle_s = fresh.idle.as_secs_f64();
    let mut idle_queries = BTreeMap::new();
    for (kind, after) in &queries_after {
        let before = queries_before.get(kind).copied().unwrap_or(0);
        idle_queries.insert(*kind, (after - before) as f64 / idle_s);
    }
    // The commits query itself is one of them.
    let idle_commits = match (commits_before, commits_after) {
        (Some(before), Some(after)) => Some((after - before - 1).max(0) as f64 / idle_s),
        _ => None,
    };

    let _ = stop.send(());
    running.await??;
    let log = sandbox.sandbox.admin().request_log();
    let throttled: u64 = log
        .endpoints
        .iter()
        .map(|e| e.statuses.get("429").copied().unwrap_or(0))
        .sum();
    sandbox.shutdown().await?;

    let p = |sorted: &[f64], q: f64| percentile(sorted, q);
    println!(
        "fresh backend={backend} latency_ms={} rate={}/s duration={}s (writes took {:.1}s) burst={} watch={watch:?}",
        fresh.latency_ms,
        fresh.rate,
        fresh.duration.as_secs(),
        writing.as_secs_f64(),
        fresh.burst
    );
    println!(
        "steady: {} changes, change-to-CRM p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms; {} batch runs, {} CRM requests",
        steady_ms.len(),
        p(&steady_ms, 50.0),
        p(&steady_ms, 95.0),
        p(&steady_ms, 99.0),
        p(&steady_ms, 100.0),
        steady_runs,
        steady_requests
    );
    println!(
        "burst: {} users in one UPDATE, first arrived after {:.0} ms, p50 {:.0} ms, last {:.0} ms; {} batch runs, {} notifications, {} job requests",
        burst_ms.len(),
        p(&burst_ms, 0.0),
        p(&burst_ms, 50.0),
        p(&burst_ms, 100.0),
        burst_runs,
        burst_watch.notifications - watch_before.notifications,
        burst_watch.requests - watch_before.requests
    );
    write_ms.sort_by(f64::total_cmp);
    println!(
        "application writes: one-row UPDATE p50 {:.2} ms, p99 {:.2} ms; the burst's UPDATE {:.0} ms",
        p(&write_ms, 50.0),
        p(&write_ms, 99.0),
        burst_write_ms
    );
    let total_idle: f64 = idle_queries.values().sum();
    println!("idle ({idle_s:.0}s): {total_idle:.2} queries/s from this process");
    for (kind, per_second) in &idle_queries {
        println!("  {per_second:>7.2}/s  {kind}");
    }
    let mut by_statement: Vec<(u64, &String)> = statements_after
        .iter()
        .map(|(statement, after)| {
            (
                after - statements_before.get(statement).copied().unwrap_or(0),
                statement,
            )
        })
        .filter(|(count, _)| *count > 0)
        .collect();
    by_statement.sort_by(|a, b| b.cmp(a));
    for (count, statement) in by_statement.iter().take(12) {
        println!("    {count:>5} × {statement}");
    }
    println!(
        "  watch during idle: {} polls, {} probes, {} requests, {} queue wakes, {} counter reads woken by the files",
        watch_after_idle.polls - watch_before_idle.polls,
        watch_after_idle.probes - watch_before_idle.probes,
        watch_after_idle.requests - watch_before_idle.requests,
        watch_after_idle.queue_wakes - watch_before_idle.queue_wakes,
        watch_after_idle.file_wakes - watch_before_idle.file_wakes
    );
    if let Some(commits) = idle_commits {
        println!(
            "  {commits:.2} commits/s in the whole database (pg_stat_database, every session)"
        );
    }
    println!("sandbox: {} requests, {throttled} answered 429", log.total);
    println!(
        "{}",
        json!({
            "scenario": "fresh",
            "backend": backend,
            "latency_ms": fresh.latency_ms,
            "rate": fresh.rate,
            "duration_s": fresh.duration.as_secs(),
            "steady": {
                "changes": steady_ms.len(),
                "p50_ms": p(&steady_ms, 50.0),
                "p95_ms": p(&steady_ms, 95.0),
                "p99_ms": p(&steady_ms, 99.0),
                "max_ms": p(&steady_ms, 100.0),
                "batch_runs": steady_runs,
                "crm_requests": steady_requests,
            },
            "burst": {
                "records": burst_ms.len(),
                "first_ms": p(&burst_ms, 0.0),
                "p50_ms": p(&burst_ms, 50.0),
                "last_ms": p(&burst_ms, 100.0),
                "batch_runs": burst_runs,
            },
            "application_writes": {
                "update_p50_ms": p(&write_ms, 50.0),
                "update_p99_ms": p(&write_ms, 99.0),
                "burst_update_ms": burst_write_ms,
            },
            "idle_queries_per_second": idle_queries,
            "idle_db_commits_per_second": idle_commits,
            "sandbox_429": throttled,
        })
    );
    Ok(())
}
