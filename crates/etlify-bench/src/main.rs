//! End-to-end benchmark of the engine (issue: finder and inline batch sync).
//!
//! Generates users / companies / notes / tags at the requested scale, then
//! measures, with the Null adapter:
//! (a) the first full sync (records/s);
//! (b) a run where nothing changed, twice with the default plan (cold, then
//!     warm: both from the first sync's checkpoint) and once with the
//!     reference plan;
//! (c) a run after touching 1% of the companies (names changed), then one
//!     where nothing changed since, and the periodic complete check (a run
//!     that reads the whole table);
//! the peak RSS of each phase (VmHWM, reset between phases) and its CPU
//! time (this process's user + system seconds: SQLite runs in it, a
//! PostgreSQL server does not); and, in
//! the same run, the bare pipeline (`bare.rs`: find → load → digest →
//! upsert with sqlx alone) as the baseline of the first full sync, and the
//! bare touched run (the same, for what each touched round changed) as
//! the baseline of the touched runs.
//!
//! Usage: `etlify-bench --backend sqlite|postgres|mysql --users N [--batch-size N]
//! [--postgres-url URL] [--mysql-url URL] [--path FILE] [--touch-rounds N]`. With
//! `--touch-rounds N`, (c) is followed by N - 1 more runs, each after
//! touching another 1% of the companies, and the touched rate reported is
//! their median (several samples in one process, for comparisons on a
//! noisy machine). `scripts/bench.sh` runs the matrix.
//!
//! `--scenario deletes` measures instead what finding records that left
//! the application costs (`deletes.rs`), each comparison `--repetitions`
//! times. `--scenario metrics` measures what a Prometheus scrape costs
//! (`metrics.rs`).
//!
//! `--scenario fresh` measures how soon a change reaches the CRM through a
//! running worker, and what an idle worker costs the database (`fresh.rs`).
//!
//! `--scenario uuid-keys` (PostgreSQL) measures the first full sync of a
//! table keyed by UUIDs against the same keyed by integers (`keys.rs`).

mod bare;
mod deletes;
mod fresh;
mod keys;
mod metrics;

use etlify_bench::{cpu_seconds, peak_rss_mib, reset_peak_rss};
use std::sync::Arc;
use std::time::Instant;

use etlify::adapters::NullAdapter;
use etlify::{
    BatchSyncOptions, Binding, Config, Crm, Dependency, Etlify, FinderPlan, MigrateOptions, Model,
    RunStats, SqlPayload, Store,
};
use serde_json::json;
use sqlx::AssertSqlSafe;

/// HubSpot's batch bound with the default limit: 100 requests per 10 s,
/// 100 records per batch request.
const HUBSPOT_RECORDS_PER_SECOND: f64 = 1_000.0;

pub(crate) struct Args {
    backend: String,
    users: u64,
    batch_size: usize,
    postgres_url: Option<String>,
    mysql_url: Option<String>,
    path: String,
    touch_rounds: u32,
    scenario: Scenario,
    repetitions: u32,
    rotate: usize,
    first_syncs_only: bool,
    fresh: fresh::FreshArgs,
}

/// What a run measures.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// The phases above.
    Throughput,
    /// Finding records that left (`deletes.rs`).
    Deletes,
    /// Changes within seconds (`fresh.rs`).
    Fresh,
    /// A Prometheus scrape (`metrics.rs`).
    Metrics,
    /// UUID keys against integer keys (`keys.rs`).
    UuidKeys,
}

const USAGE: &str = "usage: etlify-bench [--backend sqlite|postgres|mysql] [--mysql-url URL (or ETLIFY_BENCH_MYSQL_URL)] [--users N (10000)] \
[--batch-size N (1000)] [--touch-rounds N (1)] [--path FILE (SQLite, in the temp dir)] \
[--postgres-url URL (or ETLIFY_BENCH_POSTGRES_URL)] [--scenario throughput|deletes|fresh|metrics|uuid-keys] \
[--repetitions N (5, deletes, metrics, uuid-keys)] \
[--rotate N (0, deletes: the first syncs' order)] \
[--first-syncs-only (deletes)] \
[--duration S (60, fresh)] [--rate N/s (50, fresh)] [--burst N (5000, fresh)] \
[--latency-ms MS (300, fresh)] [--watch-ms MS (fresh on SQLite: 1000, with --sqlite-triggers the safety period, 30000)] [--sqlite-triggers (fresh)] [--idle-seconds S (10, fresh)]; ETLIFY_BENCH_TRACE=1 prints every statement \
(docs/BENCHMARKS.md)";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        backend: "sqlite".into(),
        users: 10_000,
        batch_size: 1_000,
        postgres_url: std::env::var("ETLIFY_BENCH_POSTGRES_URL").ok(),
        mysql_url: std::env::var("ETLIFY_BENCH_MYSQL_URL").ok(),
        path: std::env::temp_dir()
            .join("etlify-bench.sqlite3")
            .display()
            .to_string(),
        touch_rounds: 1,
        scenario: Scenario::Throughput,
        repetitions: 5,
        rotate: 0,
        first_syncs_only: false,
        fresh: fresh::FreshArgs::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--backend" => args.backend = value()?,
            "--users" => args.users = value()?.parse().map_err(|e| format!("--users: {e}"))?,
            "--batch-size" => {
                args.batch_size = value()?.parse().map_err(|e| format!("--batch-size: {e}"))?
            }
            "--postgres-url" => args.postgres_url = Some(value()?),
            "--mysql-url" => args.mysql_url = Some(value()?),
            "--path" => args.path = value()?,
            "--touch-rounds" => {
                args.touch_rounds = value()?
                    .parse::<u32>()
                    .map_err(|e| format!("--touch-rounds: {e}"))?
                    .clamp(1, 100)
            }
            "--scenario" => {
                args.scenario = match value()?.as_str() {
                    "throughput" => Scenario::Throughput,
                    "deletes" => Scenario::Deletes,
                    "fresh" => Scenario::Fresh,
                    "metrics" => Scenario::Metrics,
                    "uuid-keys" => Scenario::UuidKeys,
                    other => return Err(format!("--scenario: unknown scenario {other}")),
                }
            }
            "--repetitions" => {
                args.repetitions = value()?
                    .parse::<u32>()
                    .map_err(|e| format!("--repetitions: {e}"))?
                    .clamp(1, 100)
            }
            "--first-syncs-only" => args.first_syncs_only = true,
            "--sqlite-triggers" => args.fresh.sqlite_triggers = true,
            "--duration" | "--rate" | "--burst" | "--latency-ms" | "--watch-ms"
            | "--idle-seconds" => {
                let number: u64 = value()?.parse().map_err(|e| format!("{flag}: {e}"))?;
                let fresh = &mut args.fresh;
                match flag.as_str() {
                    "--duration" => fresh.duration = std::time::Duration::from_secs(number.max(1)),
                    "--rate" => fresh.rate = number.clamp(1, 1_000) as u32,
                    "--burst" => fresh.burst = number,
                    "--latency-ms" => fresh.latency_ms = number,
                    "--watch-ms" => {
                        fresh.watch = Some(std::time::Duration::from_millis(number.max(10)))
                    }
                    _ => fresh.idle = std::time::Duration::from_secs(number.max(1)),
                }
            }
            "--rotate" => args.rotate = value()?.parse().map_err(|e| format!("--rotate: {e}"))?,
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if !matches!(args.backend.as_str(), "sqlite" | "postgres" | "mysql") {
        return Err("--backend must be sqlite, postgres or mysql".into());
    }
    Ok(args)
}

pub(crate) async fn exec(pool: &Pool, sql: &str) -> Result<(), sqlx::Error> {
    match pool {
        Pool::Sqlite(p) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(p)
            .await
            .map(|_| ()),
        Pool::Postgres(p) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(p)
            .await
            .map(|_| ()),
        Pool::Mysql(p) => sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
            .execute(p)
            .await
            .map(|_| ()),
    }
}

pub(crate) enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    Mysql(sqlx::MySqlPool),
}

/// Creates and fills the application tables with set-based SQL.
pub(crate) async fn generate(pool: &Pool, users: u64) -> Result<(), sqlx::Error> {
    let companies = (users / 10).max(1);
    let tags = 100;
    let postgres = matches!(pool, Pool::Postgres(_));
    let mysql = matches!(pool, Pool::Mysql(_));
    let (pk, ts, now) = if mysql {
        (
            "bigint PRIMARY KEY",
            "datetime(6)",
            "(UTC_TIMESTAMP(6) - INTERVAL 1 DAY)",
        )
    } else if postgres {
        (
            "bigint PRIMARY KEY",
            "timestamp(6) without time zone",
            "(now() AT TIME ZONE 'UTC' - interval '1 day')",
        )
    } else {
        (
            "integer PRIMARY KEY",
            "datetime(6)",
            "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-1 day')",
        )
    };
    for table in [
        "tags_users",
        "tags",
        "notes",
        "users",
        "companies",
        "bare_sync_rows",
        "crm_synchronisations",
        "etlify_pending_syncs",
        "etlify_sync_checkpoints",
    ] {
        exec(pool, &format!("DROP TABLE IF EXISTS {table}")).await?;
    }
    let varchar = if mysql { "varchar(255)" } else { "varchar" };
    exec(pool, &format!("CREATE TABLE companies (id {pk}, name {varchar}, domain {varchar}, created_at {ts}, updated_at {ts})")).await?;
    exec(pool, &format!("CREATE TABLE users (id {pk}, email {varchar}, full_name {varchar}, company_id bigint, created_at {ts}, updated_at {ts})")).await?;
    exec(pool, &format!("CREATE TABLE notes (id {pk}, user_id bigint, body {varchar}, created_at {ts}, updated_at {ts})")).await?;
    exec(
        pool,
        &format!("CREATE TABLE tags (id {pk}, name {varchar}, created_at {ts}, updated_at {ts})"),
    )
    .await?;
    exec(
        pool,
        "CREATE TABLE tags_users (user_id bigint, tag_id bigint)",
    )
    .await?;
    let series = |n: u64, body: &str| {
        if mysql {
            // MariaDB's sequence engine.
            format!("{body} FROM (SELECT seq AS i FROM seq_1_to_{n}) AS s")
        } else if postgres {
            format!("{body} FROM generate_series(1, {n}) AS s(i)")
        } else {
            format!("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) {body} FROM s")
        }
    };
    let fill = |table: &str, columns: &str, n: u64, select: &str| {
        let body = format!("SELECT {select}");
        let query = series(n, &body);
        if postgres || mysql {
            format!("INSERT INTO {table} ({columns}) {query}")
        } else {
            // SQLite: the CTE goes first.
            let (with, rest) = query.split_at(query.find(") SELECT").map_or(0, |i| i + 2));
            format!("{with}INSERT INTO {table} ({columns}) {rest}")
        }
    };
    exec(
        pool,
        &fill(
            "companies",
            "id, name, domain, created_at, updated_at",
            companies,
            &format!("i, 'Company ' || i, 'c' || i || '.example', {now}, {now}"),
        ),
    )
    .await?;
    exec(pool, &fill("users", "id, email, full_name, company_id, created_at, updated_at", users, &format!("i, 'user' || i || '@example.com', 'User ' || i, (i % {companies}) + 1, {now}, {now}"))).await?;
    exec(
        pool,
        &fill(
            "notes",
            "id, user_id, body, created_at, updated_at",
            users,
            &format!("i, ((i * 7) % {users}) + 1, 'note', {now}, {now}"),
        ),
    )
    .await?;
    exec(
        pool,
        &fill(
            "tags",
            "id, name, created_at, updated_at",
            tags,
            &format!("i, 'tag' || i, {now}, {now}"),
        ),
    )
    .await?;
    exec(
        pool,
        &fill(
            "tags_users",
            "user_id, tag_id",
            users / 2,
            &format!("(i * 2) % {users} + 1, (i % {tags}) + 1"),
        ),
    )
    .await?;
    for index in [
        "CREATE INDEX idx_users_company ON users (company_id)",
        "CREATE INDEX idx_users_updated ON users (updated_at)",
        "CREATE INDEX idx_companies_updated ON companies (updated_at)",
        "CREATE INDEX idx_notes_user ON notes (user_id)",
        "CREATE INDEX idx_notes_updated ON notes (updated_at)",
        "CREATE INDEX idx_tags_updated ON tags (updated_at)",
        "CREATE INDEX idx_tags_users_user ON tags_users (user_id)",
        "CREATE INDEX idx_tags_users_tag ON tags_users (tag_id)",
    ] {
        exec(pool, index).await?;
    }
    if postgres {
        exec(pool, "ANALYZE").await?;
    }
    if mysql {
        exec(
            pool,
            "ANALYZE TABLE companies, users, notes, tags, tags_users",
        )
        .await?;
    }
    Ok(())
}

fn model() -> Model {
    Model::new("User", "users").bind("hubspot", binding())
}

/// The binding of the model `User` to the CRM `hubspot`.
pub(crate) fn binding() -> Binding {
    Binding::new("contacts", "email")
        .payload(SqlPayload::new(
            "SELECT users.id, users.email, users.full_name, companies.name AS company \
             FROM users LEFT JOIN companies ON companies.id = users.company_id",
        ))
        .dependency(Dependency::belongs_to("companies", "company_id"))
        .dependency(Dependency::has_many("notes", "user_id"))
        .dependency(Dependency::habtm("tags_users", "user_id", "tag_id", "tags"))
}

/// The median of `rates` (the upper one of an even count; 0 when empty).
pub(crate) fn median(rates: &[f64]) -> f64 {
    let mut sorted = rates.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

struct Phase {
    name: &'static str,
    seconds: f64,
    peak_rss_mib: f64,
    cpu_seconds: f64,
    stats: RunStats,
}

async fn phase(
    name: &'static str,
    etlify: &Etlify,
    options: BatchSyncOptions,
) -> Result<Phase, etlify::Error> {
    reset_peak_rss();
    if std::env::var_os("ETLIFY_BENCH_TRACE").is_some() {
        eprintln!("=== phase {name}");
    }
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    let stats = etlify.batch_sync(&options).await?;
    Ok(Phase {
        name,
        seconds: started.elapsed().as_secs_f64(),
        peak_rss_mib: peak_rss_mib(),
        cpu_seconds: cpu_seconds() - cpu_before,
        stats,
    })
}

#[tokio::main]
async fn main() {
    // ETLIFY_BENCH_TRACE=1: every statement with its time (sqlx logs them).
    if std::env::var_os("ETLIFY_BENCH_TRACE").is_some() {
        tracing_subscriber::fmt()
            .with_max_level(tracing_subscriber::filter::LevelFilter::DEBUG)
            .with_writer(std::io::stderr)
            .init();
    }
    if std::env::args().any(|arg| arg == "--help" || arg == "-h") {
        println!("{USAGE}");
        return;
    }
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("etlify-bench: {message}");
            std::process::exit(2);
        }
    };
    if let Err(error) = run(args).await {
        eprintln!("etlify-bench: {error}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (store, pool) = match args.backend.as_str() {
        "postgres" => {
            let url = args
                .postgres_url
                .clone()
                .ok_or("--postgres-url or ETLIFY_BENCH_POSTGRES_URL is required")?;
            let store = Store::connect(&url).await?;
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .connect(&url)
                .await?;
            (store, Pool::Postgres(pool))
        }
        "mysql" => {
            let url = args
                .mysql_url
                .clone()
                .ok_or("--mysql-url or ETLIFY_BENCH_MYSQL_URL is required")?;
            let store = Store::connect(&url).await?;
            // Sessions in UTC as the engine's; PIPES_AS_CONCAT (sqlx's
            // default) for the generator's `||`.
            let pool = sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(2)
                .after_connect(|connection, _| {
                    Box::pin(async move {
                        use sqlx::Executor;
                        connection
                            .execute("SET SESSION time_zone = '+00:00'")
                            .await?;
                        Ok(())
                    })
                })
                .connect(&url)
                .await?;
            (store, Pool::Mysql(pool))
        }
        _ => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", args.path));
            }
            let url = format!("sqlite://{}", args.path);
            let store = Store::connect(&url).await?;
            // The engine's journal settings (`store/backend/sqlite.rs`), so
            // that the bare runs compare like with like (SQLite's default
            // `synchronous = FULL` syncs the log at every commit); its
            // default page cache, as this pool's memory counts in every
            // phase's peak RSS.
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(
                    url.parse::<sqlx::sqlite::SqliteConnectOptions>()?
                        .create_if_missing(true)
                        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                        .synchronous(sqlx::sqlite::SqliteSynchronous::Normal),
                )
                .await?;
            (store, Pool::Sqlite(pool))
        }
    };
    if matches!(pool, Pool::Mysql(_))
        && !matches!(args.scenario, Scenario::Throughput | Scenario::Metrics)
    {
        return Err(
            "on MySQL only the throughput and metrics scenarios are measured so far".into(),
        );
    }
    if args.scenario == Scenario::Deletes {
        return deletes::run(&args, store, &pool).await;
    }
    if args.scenario == Scenario::Fresh {
        return fresh::run(&args, store, &pool).await;
    }
    if args.scenario == Scenario::Metrics {
        return metrics::run(&args, store, &pool).await;
    }
    if args.scenario == Scenario::UuidKeys {
        let url = args
            .postgres_url
            .clone()
            .filter(|_| matches!(pool, Pool::Postgres(_)))
            .ok_or("--scenario uuid-keys runs on PostgreSQL (--backend postgres)")?;
        return keys::run(&args, &url).await;
    }
    let started = Instant::now();
    generate(&pool, args.users).await?;
    let generated = started.elapsed();
    etlify::migrate(&store, &MigrateOptions::default()).await?;
    let adapter = Arc::new(NullAdapter::new());
    let etlify = Etlify::builder(store)
        .crm(Crm::new("hubspot", adapter.clone()))
        .model(model())
        .build()
        .await?;
    let options = || BatchSyncOptions::new().batch_size(args.batch_size);

    reset_peak_rss();
    let mut bare_since = bare::now_text(&pool).await?;
    let (bare_records, bare_seconds) = bare::first_full_sync(&pool).await?;
    let bare_peak = peak_rss_mib();
    let bare_rate = bare_records as f64 / bare_seconds.max(f64::EPSILON);
    let mut phases = vec![phase("first_full_sync", &etlify, options()).await?];
    phases.push(
        phase(
            "nothing_changed",
            &etlify,
            options().plan(FinderPlan::ChangedSince),
        )
        .await?,
    );
    // Again, warm: the first read after a large write also pays for a cold
    // page cache (and SQLite's WAL).
    phases.push(
        phase(
            "nothing_changed_again",
            &etlify,
            options().plan(FinderPlan::ChangedSince),
        )
        .await?,
    );
    phases.push(
        phase(
            "nothing_changed_reference_plan",
            &etlify,
            options().plan(FinderPlan::Reference),
        )
        .await?,
    );
    // Round k touches the companies whose id is k modulo 100, stamped to
    // the microsecond by the engine's clock (SQLite's `strftime('%f')`
    // keeps milliseconds: a touch in the millisecond after the last run
    // began would look older than its checkpoint).
    let touch = async |round: u32| -> Result<String, etlify::Error> {
        let now = etlify
            .store()
            .now()
            .await?
            .format(etlify::SQLITE_TIMESTAMP_FORMAT);
        Ok(format!(
            "UPDATE companies SET name = name || '*', updated_at = '{now}' WHERE id % 100 = {round}"
        ))
    };
    // Each touched round is also synced by the bare touched run, in
    // alternating order (the first to read after the touch pays for it).
    let mut bare_touched_rates: Vec<f64> = Vec::new();
    for round in 0..args.touch_rounds {
        exec(&pool, &touch(round).await?).await?;
        let name = if round == 0 {
            "after_touching_1pct_of_companies"
        } else {
            "after_touching_another_1pct"
        };
        let bare_first = round % 2 == 1;
        let mut bare_touched = async |since: &str| -> Result<String, sqlx::Error> {
            let (records, seconds, next) = bare::touched_sync(&pool, since).await?;
            bare_touched_rates.push(records as f64 / seconds.max(f64::EPSILON));
            Ok(next)
        };
        if bare_first {
            bare_since = bare_touched(&bare_since).await?;
        }
        phases.push(phase(name, &etlify, options()).await?);
        if !bare_first {
            bare_since = bare_touched(&bare_since).await?;
        }
        if round == 0 {
            phases.push(phase("nothing_changed_after_touching", &etlify, options()).await?);
        }
    }
    // What the periodic complete check costs (every run with no interval).
    let complete = Etlify::builder(etlify.store().clone())
        .config(Config::default().complete_check_interval(std::time::Duration::ZERO))
        .crm(Crm::new("hubspot", adapter.clone()))
        .model(model())
        .build()
        .await?;
    phases.push(phase("nothing_changed_complete_check", &complete, options()).await?);

    println!(
        "backend={} users={} batch_size={} generate={:.1}s",
        args.backend,
        args.users,
        args.batch_size,
        generated.as_secs_f64()
    );
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>12} {:>10} {:>9} {:>7}",
        "phase", "seconds", "found", "synced", "records/s", "x HubSpot", "peak MiB", "cpu s"
    );
    for p in &phases {
        let rate = p.stats.total as f64 / p.seconds.max(f64::EPSILON);
        println!(
            "{:<34} {:>9.3} {:>9} {:>9} {:>12.0} {:>10.1} {:>9.1} {:>7.2}",
            p.name,
            p.seconds,
            p.stats.total,
            p.stats.outcomes.synced,
            rate,
            rate / HUBSPOT_RECORDS_PER_SECOND,
            p.peak_rss_mib,
            p.cpu_seconds
        );
    }
    let first_rate = phases[0].stats.total as f64 / phases[0].seconds.max(f64::EPSILON);
    println!(
        "{:<34} {:>9.3} {:>9} {:>9} {:>12.0} {:>10.1} {:>9.1}",
        "bare_pipeline (baseline)",
        bare_seconds,
        bare_records,
        bare_records,
        bare_rate,
        bare_rate / HUBSPOT_RECORDS_PER_SECOND,
        bare_peak
    );
    println!(
        "first full sync: engine {:.0} records/s = {:.2}x the bare pipeline",
        first_rate,
        first_rate / bare_rate.max(f64::EPSILON)
    );
    let seconds_of = |name: &str| {
        phases
            .iter()
            .find(|p| p.name == name)
            .map_or(f64::NAN, |p| p.seconds)
    };
    let touched_rates: Vec<f64> = phases
        .iter()
        .filter(|p| p.name.starts_with("after_touching"))
        .map(|p| p.stats.total as f64 / p.seconds.max(f64::EPSILON))
        .collect();
    let touched = median(&touched_rates);
    let peak = phases.iter().map(|p| p.peak_rss_mib).fold(0.0, f64::max);
    let bare_touched = median(&bare_touched_rates);
    println!(
        "bare touched run (baseline): {:.0} records/s (median of {}) = {:.2}x the bare first sync; the engine's touched run = {:.2}x it",
        bare_touched,
        bare_touched_rates.len(),
        bare_touched / bare_rate.max(f64::EPSILON),
        touched / bare_touched.max(f64::EPSILON),
    );
    println!(
        "nothing changed (warm): {:.1} ms; after touching 1%: {:.2}x the first-sync rate{}; peak RSS over the phases: {:.1} MiB",
        seconds_of("nothing_changed_again") * 1_000.0,
        touched / first_rate.max(f64::EPSILON),
        if touched_rates.len() > 1 {
            format!(" (median of {} runs)", touched_rates.len())
        } else {
            String::new()
        },
        peak
    );
    let report = json!({
        "bare_pipeline": {
            "records": bare_records,
            "seconds": bare_seconds,
            "records_per_second": bare_rate,
            "peak_rss_mib": bare_peak,
            "engine_first_sync_ratio": first_rate / bare_rate.max(f64::EPSILON),
            "touched_records_per_second": bare_touched,
        },
        "backend": args.backend,
        "users": args.users,
        "batch_size": args.batch_size,
        "null_adapter_calls": { "batch_upserts": adapter.calls().batch_upserts, "records": adapter.calls().batch_upserted_records },
        "phases": phases.iter().map(|p| json!({
            "name": p.name,
            "seconds": p.seconds,
            "found": p.stats.total,
            "synced": p.stats.outcomes.synced,
            "not_modified": p.stats.outcomes.not_modified,
            "records_per_second": p.stats.total as f64 / p.seconds.max(f64::EPSILON),
            "peak_rss_mib": p.peak_rss_mib,
            "cpu_seconds": p.cpu_seconds,
        })).collect::<Vec<_>>(),
    });
    println!("{report}");
    Ok(())
}
