//! `etlify-sync-process URL HUBSPOT_BASE_URL TOKEN MODE`: one process of a
//! multi-process test. It syncs the `users` table (`User` model: `email`,
//! `full_name`) of the database at `URL` with the HubSpot API at
//! `HUBSPOT_BASE_URL` — the local sandbox — and prints its outcome counts
//! as JSON. `MODE` is `records` (each record through the per-record sync,
//! in id order) or `batch` (one batch run).

use std::process::ExitCode;
use std::sync::Arc;

use etlify::adapters::{HubSpotAdapter, HubSpotConfig};
use etlify::{
    BatchStats, BatchSyncOptions, Binding, Crm, Etlify, Model, SqlPayload, Store, SyncDispatch,
};

async fn run(url: &str, hubspot: &str, token: &str, mode: &str) -> etlify::Result<String> {
    let store = Store::connect(url).await?;
    let adapter = HubSpotAdapter::new(
        HubSpotConfig::new(token)
            .base_url(hubspot)
            // The tests' sandbox enforces no limit; this is about locks.
            .search_requests_per_second(1_000),
    )?;
    let etlify = Etlify::builder(store.clone())
        .crm(Crm::new("hubspot", Arc::new(adapter)))
        .model(
            Model::new("User", "users").bind(
                "hubspot",
                Binding::new("contacts", "email")
                    .payload(SqlPayload::new("SELECT id, email, full_name FROM users")),
            ),
        )
        .build()
        .await?;
    let mut counts = BatchStats::default();
    let mut busy = Vec::new();
    match mode {
        "records" => {
            let ids = etlify.stale_ids("hubspot", "User")?.collect_all().await?;
            for id in ids {
                if let SyncDispatch::Completed(outcome) = etlify.sync("hubspot", "User", id).await?
                {
                    counts.record(&outcome);
                }
            }
        }
        _ => {
            let stats = etlify.batch_sync(&BatchSyncOptions::new()).await?;
            counts = stats.outcomes;
            busy = stats.busy;
        }
    }
    Ok(serde_json::json!({
        "synced": counts.synced,
        "not_modified": counts.not_modified,
        "errors": counts.errors,
        "busy": busy,
    })
    .to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, hubspot, token, mode] = args.as_slice() else {
        eprintln!("usage: etlify-sync-process URL HUBSPOT_BASE_URL TOKEN records|batch");
        return ExitCode::from(2);
    };
    match run(url, hubspot, token, mode).await {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("etlify-sync-process: {error}");
            ExitCode::FAILURE
        }
    }
}
