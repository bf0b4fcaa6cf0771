//! `etlify-sync-process URL HUBSPOT_BASE_URL TOKEN MODE [REQUESTS_PER_SECOND]`:
//! one process of a multi-process test. It syncs the `users` table (`User`
//! model: `email`, `full_name`) of the database at `URL` with the HubSpot
//! API at `HUBSPOT_BASE_URL` — the local sandbox — and prints its outcome
//! counts as JSON. `MODE` is `records` (each record through the
//! per-record sync, in id order), `records:K/N` (only the ids equal to K
//! modulo N) or `batch` (one batch run). With `REQUESTS_PER_SECOND`, the
//! CRM's rate limit is that many requests per second.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::{HubSpotAdapter, HubSpotConfig};
use etlify::{
    BatchStats, BatchSyncOptions, Binding, Crm, Etlify, Model, RateLimit, SqlPayload, Store,
    SyncDispatch,
};

async fn run(
    url: &str,
    hubspot: &str,
    token: &str,
    mode: &str,
    per_second: Option<u32>,
) -> etlify::Result<String> {
    let store = Store::connect(url).await?;
    let adapter = HubSpotAdapter::new(
        HubSpotConfig::new(token)
            .base_url(hubspot)
            // The tests' sandbox enforces no limit; this is about locks.
            .search_requests_per_second(1_000),
    )?;
    let mut crm = Crm::new("hubspot", Arc::new(adapter));
    if let Some(per_second) = per_second {
        crm = crm.rate_limit(RateLimit::new(per_second, Duration::from_secs(1))?);
    }
    let etlify = Etlify::builder(store.clone())
        .crm(crm)
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
    match mode.strip_prefix("records") {
        Some(part) => {
            // `:K/N`: this process's share of the ids.
            let (k, n) = part
                .strip_prefix(':')
                .and_then(|p| p.split_once('/'))
                .and_then(|(k, n)| Some((k.parse::<i64>().ok()?, n.parse::<i64>().ok()?)))
                .unwrap_or((0, 1));
            let ids = etlify.stale_ids("hubspot", "User")?.collect_all().await?;
            for id in ids
                .into_iter()
                .filter(|id| id.as_int().is_some_and(|id| id % n == k))
            {
                if let SyncDispatch::Completed(outcome) = etlify.sync("hubspot", "User", id).await?
                {
                    counts.record(&outcome);
                }
            }
        }
        None => {
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
    let (url, hubspot, token, mode, per_second) = match args.as_slice() {
        [url, hubspot, token, mode] => (url, hubspot, token, mode, None),
        [url, hubspot, token, mode, rate] => match rate.parse::<u32>() {
            Ok(rate) => (url, hubspot, token, mode, Some(rate)),
            Err(_) => {
                eprintln!("etlify-sync-process: REQUESTS_PER_SECOND must be a positive integer, got {rate:?}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: etlify-sync-process URL HUBSPOT_BASE_URL TOKEN records|records:K/N|batch [REQUESTS_PER_SECOND]");
            return ExitCode::from(2);
        }
    };
    match run(url, hubspot, token, mode, per_second).await {
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
