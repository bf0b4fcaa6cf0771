//! `--scenario uuid-keys` (PostgreSQL): the first full sync of a table
//! keyed by UUIDs against the same table keyed by integers, in the same
//! run (issue 31, item 3; docs/BENCHMARKS.md "UUID keys").
//!
//! Each kind gets a schema of its own (`etlify_bench_keys_integer`,
//! `etlify_bench_keys_uuid`: the sync-state tables hold keys of one
//! type), filled with `--users` users and a tenth as many companies
//! (`users.company_id`, of the key's type), migrated for that key type,
//! then synced once with the Null adapter. The kinds alternate,
//! `--repetitions` times each, and the median rates are compared.

use std::sync::Arc;
use std::time::Instant;

use etlify::adapters::NullAdapter;
use etlify::{
    BatchSyncOptions, Binding, Crm, Dependency, Etlify, KeyType, MigrateOptions, Model, SqlPayload,
    Store,
};

use crate::{exec, median, Args, Pool};

/// Runs the scenario on the PostgreSQL server at `url` and prints its
/// figures.
pub(crate) async fn run(args: &Args, url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let kinds = [KeyType::Integer, KeyType::Uuid];
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); kinds.len()];
    for repetition in 1..=args.repetitions {
        for (kind, rates) in kinds.iter().zip(rates.iter_mut()) {
            let rate = first_sync(args, url, *kind).await?;
            println!("repetition {repetition}: {kind} keys, first full sync {rate:.0} records/s");
            rates.push(rate);
        }
    }
    let integer = median(&rates[0]);
    let uuid = median(&rates[1]);
    println!(
        "{}",
        serde_json::json!({
            "scenario": "uuid-keys",
            "backend": "postgres",
            "users": args.users,
            "batch_size": args.batch_size,
            "repetitions": args.repetitions,
            "first_full_sync_records_per_second": {
                "integer": integer.round(),
                "uuid": uuid.round(),
            },
            "uuid_vs_integer": (uuid / integer * 100.0).round() / 100.0,
        })
    );
    Ok(())
}

/// Fills a schema of its own with users keyed by `kind`, syncs them once;
/// the records per second of that first full sync.
async fn first_sync(
    args: &Args,
    url: &str,
    kind: KeyType,
) -> Result<f64, Box<dyn std::error::Error>> {
    let schema = format!("etlify_bench_keys_{kind}");
    let server = Pool::Postgres(
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await?,
    );
    exec(
        &server,
        &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
    )
    .await?;
    let separator = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{separator}options[search_path]={schema}");
    let pool = Pool::Postgres(
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await?,
    );
    generate(&pool, args.users, kind).await?;
    let store = Store::connect(&url).await?;
    etlify::migrate(&store, &MigrateOptions::new().key_type(kind)).await?;
    let etlify = Etlify::builder(store)
        .crm(Crm::new("hubspot", Arc::new(NullAdapter::new())))
        .model(
            Model::new("User", "users").key_type(kind).bind(
                "hubspot",
                Binding::new("contacts", "email")
                    .payload(SqlPayload::new(
                        "SELECT users.id, users.email, users.full_name, companies.name AS company \
                         FROM users LEFT JOIN companies ON companies.id = users.company_id",
                    ))
                    .dependency(Dependency::belongs_to("companies", "company_id")),
            ),
        )
        .build()
        .await?;
    let started = Instant::now();
    let stats = etlify
        .batch_sync(&BatchSyncOptions::new().batch_size(args.batch_size))
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    let synced = stats.outcomes.synced;
    if synced as u64 != args.users {
        return Err(format!("{kind} keys: {synced} of {} users synced", args.users).into());
    }
    exec(&server, &format!("DROP SCHEMA {schema} CASCADE")).await?;
    Ok(synced as f64 / seconds.max(f64::EPSILON))
}

/// `companies` and `users` keyed by `kind`: integers `1..n`, or UUIDs
/// made from them (`md5` of the integer, so as scattered as random ones).
async fn generate(pool: &Pool, users: u64, kind: KeyType) -> Result<(), sqlx::Error> {
    let companies = (users / 10).max(1);
    let (key_type, key) = match kind {
        KeyType::Integer => ("bigint", "{n}"),
        _ => ("uuid", "md5('{table}' || {n})::uuid"),
    };
    let key_of = |table: &str, n: &str| key.replace("{table}", table).replace("{n}", n);
    let ts = "timestamp(6) without time zone";
    let now = "(now() AT TIME ZONE 'UTC' - interval '1 day')";
    exec(
        pool,
        &format!(
            "CREATE TABLE companies (id {key_type} PRIMARY KEY, name varchar, \
             created_at {ts}, updated_at {ts})"
        ),
    )
    .await?;
    exec(
        pool,
        &format!(
            "CREATE TABLE users (id {key_type} PRIMARY KEY, email varchar, full_name varchar, \
             company_id {key_type}, created_at {ts}, updated_at {ts})"
        ),
    )
    .await?;
    exec(
        pool,
        &format!(
            "INSERT INTO companies (id, name, created_at, updated_at) \
             SELECT {}, 'Company ' || i, {now}, {now} FROM generate_series(1, {companies}) AS s(i)",
            key_of("c", "i")
        ),
    )
    .await?;
    exec(
        pool,
        &format!(
            "INSERT INTO users (id, email, full_name, company_id, created_at, updated_at) \
             SELECT {}, 'user' || i || '@example.com', 'User ' || i, {}, {now}, {now} \
             FROM generate_series(1, {users}) AS s(i)",
            key_of("u", "i"),
            key_of("c", &format!("((i % {companies}) + 1)"))
        ),
    )
    .await?;
    for index in [
        "CREATE INDEX idx_users_company ON users (company_id)",
        "CREATE INDEX idx_users_updated ON users (updated_at)",
        "CREATE INDEX idx_companies_updated ON companies (updated_at)",
        "ANALYZE",
    ] {
        exec(pool, index).await?;
    }
    Ok(())
}
