//! Embedding Etlify in an axum service: the application writes its rows,
//! a background task syncs what is stale every 30 s, and an endpoint syncs
//! one record at once.
//!
//! ```text
//! cargo run -p etlify --example axum_service
//! curl -X POST localhost:3000/users/1/sync      # one record, now
//! curl localhost:3000/status                    # where each model and CRM stands
//! ```
//!
//! The CRM is the local HubSpot sandbox and the database a SQLite file in
//! `target/`, so it runs as it is; point `HubSpotConfig` at your account and
//! `Store::connect` at your database for real use.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use etlify::adapters::{HubSpotAdapter, HubSpotConfig};
use etlify::{
    BatchSyncOptions, Binding, Crm, Dependency, Etlify, MigrateOptions, Model, SqlPayload, Store,
    SyncDispatch,
};
use etlify_sandbox::{Sandbox, SandboxConfig, DEFAULT_HUBSPOT_TOKEN};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. The application's database (here: a demo file with two tables).
    let path = std::env::temp_dir().join("etlify-axum-example.sqlite3");
    let store = Store::connect(&format!("sqlite://{}", path.display())).await?;
    if let Some(pool) = store.sqlite_pool() {
        for sql in [
            "CREATE TABLE IF NOT EXISTS companies (id integer PRIMARY KEY, name varchar, updated_at datetime(6))",
            "CREATE TABLE IF NOT EXISTS users (id integer PRIMARY KEY, email varchar, company_id integer, updated_at datetime(6))",
            "INSERT OR IGNORE INTO companies VALUES (1, 'Acme', strftime('%Y-%m-%d %H:%M:%f000', 'now'))",
            "INSERT OR IGNORE INTO users VALUES (1, 'ada@example.com', 1, strftime('%Y-%m-%d %H:%M:%f000', 'now'))",
        ] {
            sqlx::query(sql).execute(pool).await?;
        }
    }
    etlify::migrate(&store, &MigrateOptions::default()).await?;

    // 2. The CRM (the sandbox here) and what to sync.
    let sandbox = Sandbox::start(SandboxConfig::default()).await?;
    let hubspot = HubSpotAdapter::new(
        HubSpotConfig::new(DEFAULT_HUBSPOT_TOKEN).base_url(sandbox.hubspot_base_url()),
    )?;
    let etlify = Etlify::builder(store)
        .crm(Crm::new("hubspot", Arc::new(hubspot)))
        .model(
            Model::new("User", "users").bind(
                "hubspot",
                Binding::new("contacts", "email")
                    .payload(SqlPayload::new(
                        "SELECT users.id, users.email, companies.name AS company \
                     FROM users LEFT JOIN companies ON companies.id = users.company_id",
                    ))
                    .dependency(Dependency::belongs_to("companies", "company_id")),
            ),
        )
        .build()
        .await?;

    // 3. A background loop: whatever became stale is synced every 30 s.
    let background = etlify.clone();
    tokio::spawn(async move {
        loop {
            match background.batch_sync(&BatchSyncOptions::new()).await {
                Ok(run) => eprintln!(
                    "sync: {} found, {} sent, {} errors",
                    run.total, run.outcomes.synced, run.errors
                ),
                Err(error) => eprintln!("sync failed: {error}"),
            }
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    });

    // 4. The service's own routes.
    let app = Router::new()
        .route("/users/{id}/sync", post(sync_user))
        .route("/status", get(status))
        .with_state(etlify);
    let address = SocketAddr::from(([127, 0, 0, 1], 3000));
    eprintln!("listening on http://{address}");
    let listener = tokio::net::TcpListener::bind(address).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// Syncs one user now (the gem's `user.hubspot_sync!`).
async fn sync_user(State(etlify): State<Etlify>, Path(id): Path<i64>) -> (StatusCode, Json<Value>) {
    match etlify.sync("hubspot", "User", id).await {
        Ok(SyncDispatch::Completed(outcome)) => {
            (StatusCode::OK, Json(json!({"outcome": outcome.as_str()})))
        }
        Ok(other) => (
            StatusCode::OK,
            Json(json!({"outcome": format!("{other:?}")})),
        ),
        Err(error) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({"error": error.to_string()})),
        ),
    }
}

/// Where each model and CRM stands.
async fn status(State(etlify): State<Etlify>) -> (StatusCode, Json<Value>) {
    match etlify.status().await {
        Ok(entries) => {
            let entries: Vec<Value> = entries
                .iter()
                .map(|e| {
                    json!({"model": e.model, "crm": e.crm, "records": e.records, "in_sync": e.in_sync,
                           "stale": e.stale, "never_synced": e.never_synced, "failing": e.failing})
                })
                .collect();
            (StatusCode::OK, Json(json!(entries)))
        }
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": error.to_string()})),
        ),
    }
}
