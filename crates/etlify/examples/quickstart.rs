//! The main job on the embedded default: a SQLite database, inline sync,
//! and the local HubSpot sandbox as the CRM.
//!
//! ```sh
//! cargo run -p etlify --example quickstart            # 1,000 demo users
//! cargo run -p etlify --example quickstart -- 5000    # or any number
//! ```
//!
//! It creates `target/quickstart.sqlite3` with demo `companies` and `users`,
//! starts the sandbox on a loopback port, syncs every user to HubSpot
//! contacts (batches of 100, within HubSpot's 100 requests / 10 s), then
//! renames one company and syncs again: only its users are sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use etlify::adapters::hubspot::ApiVersion;
use etlify::adapters::{HubSpotAdapter, HubSpotConfig};
use etlify::{
    BatchSyncOptions, Binding, Crm, Dependency, Etlify, MigrateOptions, Model, RateLimit,
    SqlPayload, Store,
};
use etlify_sandbox::{Sandbox, SandboxConfig, DEFAULT_HUBSPOT_TOKEN};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let users: u64 = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/quickstart.sqlite3");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }

    // 1. The application's database (here: demo data in SQLite).
    let store = Store::connect(&format!("sqlite://{}", path.display())).await?;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await?;
    seed(&pool, users).await?;
    etlify::migrate(&store, &MigrateOptions::default()).await?;

    // 2. The CRM: the local HubSpot sandbox, rate-limited like HubSpot.
    let sandbox = Sandbox::start(SandboxConfig::default()).await?;
    let hubspot = HubSpotAdapter::new(
        HubSpotConfig::new(DEFAULT_HUBSPOT_TOKEN)
            .base_url(sandbox.hubspot_base_url())
            .api_version(ApiVersion::V2026_09),
    )?;
    let crm = Crm::new("hubspot", Arc::new(hubspot))
        .rate_limit(RateLimit::new(100, Duration::from_secs(10))?);

    // 3. What to sync: users as contacts, stale when they or their company change.
    let model = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new(
                "SELECT users.id, users.email, users.full_name AS firstname, companies.name AS company \
                 FROM users LEFT JOIN companies ON companies.id = users.company_id",
            ))
            .dependency(Dependency::belongs_to("companies", "company_id")),
    );
    let etlify = Etlify::builder(store).crm(crm).model(model).build().await?;

    let started = Instant::now();
    let first = etlify.batch_sync(&BatchSyncOptions::new()).await?;
    println!(
        "first sync:  {} users found, {} sent, {} errors in {:.2}s",
        first.total,
        first.outcomes.synced,
        first.errors,
        started.elapsed().as_secs_f64()
    );

    sqlx::query("UPDATE companies SET name = 'Renamed Co', updated_at = strftime('%Y-%m-%d %H:%M:%f000', 'now') WHERE id = 1")
        .execute(&pool)
        .await?;
    let second = etlify.batch_sync(&BatchSyncOptions::new()).await?;
    println!(
        "second sync: {} users found (company 1 renamed), {} sent, {} unchanged",
        second.total, second.outcomes.synced, second.outcomes.not_modified
    );
    let third = etlify.batch_sync(&BatchSyncOptions::new()).await?;
    println!("third sync:  {} users found, nothing to send", third.total);

    let log = sandbox.admin().request_log();
    println!(
        "sandbox: {} contacts stored, {} HTTP requests, {} throttled (429)",
        sandbox
            .admin()
            .hubspot_objects("contacts")
            .map_or(0, |c| c.len()),
        log.total,
        log.count_status(429)
    );
    println!("database: {}", path.display());
    Ok(())
}

async fn seed(pool: &sqlx::SqlitePool, users: u64) -> Result<(), sqlx::Error> {
    let companies = (users / 20).max(1);
    let now = "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-1 day')";
    for statement in [
        "CREATE TABLE companies (id integer PRIMARY KEY, name varchar, created_at datetime(6), updated_at datetime(6))".to_owned(),
        "CREATE TABLE users (id integer PRIMARY KEY, email varchar, full_name varchar, company_id integer, created_at datetime(6), updated_at datetime(6))".to_owned(),
        "CREATE INDEX users_company ON users (company_id)".to_owned(),
        format!("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {companies}) INSERT INTO companies SELECT i, 'Company ' || i, {now}, {now} FROM s"),
        format!("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {users}) INSERT INTO users SELECT i, 'user' || i || '@example.com', 'User ' || i, (i % {companies}) + 1, {now}, {now} FROM s"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement)).execute(pool).await?;
    }
    Ok(())
}
