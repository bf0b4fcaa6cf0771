//! Separate budgets and header-driven slow-down, against the sandbox over
//! loopback (throughput issue: HubSpot's search limit beside its 10-second
//! window; the CRM's "remaining" header).

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::{AirtableAdapter, AirtableConfig, NullAdapter, UpsertRequest};
use etlify::{
    Binding, Config, Crm, CrmRegistry, Model, Payload, RateBudgets, RateLimit, SqlPayload,
    SyncDispatch, SyncOutcome,
};
use etlify_sandbox::{RunningSandbox, Sandbox, SandboxConfig};
use tokio::time::Instant;

use crate::support::adapter::RecordingAdapter;

use crate::support::sandbox::quick_retrying_hubspot;
use crate::support::{engine, engine_on, user_model, TestDb};

/// A sandbox whose HubSpot app limit is `per_second` requests per second.
async fn sandbox_allowing_per_second(per_second: u64) -> RunningSandbox {
    let mut config = SandboxConfig::default();
    config.hubspot.rate_limits.per_app_max = per_second;
    config.hubspot.rate_limits.per_app_window_ms = 1_000;
    Sandbox::start(config).await.unwrap()
}

/// `User` as HubSpot deals with no id property: one plain create per
/// record, no search.
fn deals_model() -> Model {
    Model::new("User", "users").bind(
        "hubspot",
        Binding::new("deals", "")
            .payload(SqlPayload::new("SELECT id, email AS dealname FROM users")),
    )
}

/// Two engines on `db`, each with its own pool and limiter (as two worker
/// processes have), each allowed `per_second` requests per second.
async fn workers_on_one_database(
    db: &TestDb,
    sandbox: &RunningSandbox,
    per_second: u32,
) -> Vec<etlify::Etlify> {
    let mut workers = Vec::new();
    for _ in 0..2 {
        let etlify = engine_on(
            db.another_store(4).await,
            vec![Crm::new("hubspot", quick_retrying_hubspot(sandbox, 4))
                .rate_limit(RateLimit::new(per_second, Duration::from_secs(1)).unwrap())],
            vec![deals_model()],
        )
        .await;
        workers.push(etlify);
    }
    workers
}

/// Syncs every record of `ids` at once, spread over `engines` in turn;
/// each must end synced.
async fn sync_all_at_once(engines: &[etlify::Etlify], ids: &[i64]) {
    let syncs: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let (etlify, id) = (engines[i % engines.len()].clone(), *id);
            tokio::spawn(async move { etlify.sync("hubspot", "User", id).await })
        })
        .collect();
    for sync in syncs {
        assert_eq!(
            sync.await.unwrap().unwrap(),
            SyncDispatch::Completed(SyncOutcome::Synced)
        );
    }
}

/// The sandbox's highest count in one window of the limit `policy`.
fn peak(log: &etlify_sandbox::RequestLogSnapshot, policy: &str) -> Option<u64> {
    log.peaks
        .iter()
        .filter(|p| p.policy == policy)
        .map(|p| p.peak)
        .max()
}

/// two engines on one PostgreSQL — two pools and two limiters, as
/// two worker processes have — each allowed the CRM's whole limit: together
/// they stay within it, as the sandbox counts. Each alone would send its
/// first ten requests in the same second (twenty in the sandbox's window).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x17_workers_sharing_postgres_keep_to_one_window_together() {
    let db = TestDb::postgres().await.with_app_schema().await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(db.insert_user(&format!("w{i}@x.io"), None).await);
    }
    let sandbox = sandbox_allowing_per_second(10).await;
    let workers = workers_on_one_database(&db, &sandbox, 10).await;
    sync_all_at_once(&workers, &ids).await;
    let log = sandbox.admin().request_log();
    assert_eq!(log.total, 30);
    assert_eq!(log.count_status(429), 0);
    let peak = peak(&log, "hubspot.per_app");
    assert_eq!(
        peak,
        Some(10),
        "both workers together reach the limit, never more"
    );
}

/// a pause one worker learns of (the CRM said no request is left in
/// its window) holds every worker sharing the database, not only that one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x17_a_pause_of_the_crm_holds_every_worker() {
    let db = TestDb::postgres().await.with_app_schema().await;
    let first = db.insert_user("p1@x.io", None).await;
    let second = db.insert_user("p2@x.io", None).await;
    let sandbox = sandbox_allowing_per_second(1).await;
    // Each believes it may send 20 per second: only the CRM's answer says
    // otherwise.
    let workers = workers_on_one_database(&db, &sandbox, 20).await;
    assert_eq!(
        workers[0].sync("hubspot", "User", first).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    // The first worker shares the pause in a task of its own: the second
    // syncs once it is recorded.
    db.count_reaching(
        "SELECT COUNT(*) FROM etlify_rate_slots WHERE crm_name = 'hubspot' AND slot = -1 \
         AND sent_at > (clock_timestamp() AT TIME ZONE 'UTC')",
        1,
    )
    .await;
    assert_eq!(
        workers[1].sync("hubspot", "User", second).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    let log = sandbox.admin().request_log();
    let arrivals: Vec<(u64, Option<u16>)> =
        log.recent.iter().map(|r| (r.at_ms, r.status)).collect();
    assert_eq!(
        log.count_status(429),
        0,
        "the second worker waited: {arrivals:?}"
    );
    assert_eq!(log.total, 2, "{arrivals:?}");
}

// The database tests, compiled once per backend: `ratelimit::sqlite::…` and
// `ratelimit::postgres::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;

fn one_per_ten_seconds() -> RateLimit {
    RateLimit::new(1, Duration::from_secs(10)).unwrap()
}

/// Upserts one record through the CRM `crm_name` of `registry`, as the
/// engine calls adapters.
async fn upsert_through(registry: &CrmRegistry, crm_name: &str) {
    let payload = Payload::new();
    let request = UpsertRequest {
        object_type: "contacts",
        payload: &payload,
        id_property: "",
        crm_id: None,
        id_property_only_on_create: false,
        mode: etlify::adapters::WriteMode::Upsert,
    };
    let crm = registry.get(crm_name).unwrap();
    crm.adapter().upsert(request).await.unwrap();
}

/// One adapter (one `Arc`) registered under two CRMs: each CRM counts its
/// own calls in its own limit; the second CRM does not take over, or
/// replace, the first one's.
#[tokio::test(start_paused = true)]
async fn ratelimit_one_adapter_registered_under_two_crms_keeps_two_limits() {
    let adapter = Arc::new(NullAdapter::new());
    let mut registry = CrmRegistry::new();
    for name in ["eu", "us"] {
        registry
            .register(Crm::new(name, adapter.clone()).rate_limit(one_per_ten_seconds()))
            .unwrap();
    }
    let start = Instant::now();
    upsert_through(&registry, "eu").await;
    upsert_through(&registry, "us").await;
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "each CRM's first request goes at once"
    );
    upsert_through(&registry, "eu").await;
    assert!(
        start.elapsed() >= Duration::from_secs(10),
        "eu's second request waits for eu's window: {:?}",
        start.elapsed()
    );
    assert_eq!(adapter.calls().upserts, 3);
}

/// An adapter that never calls its throttle is held to its CRM's limit all
/// the same: the engine counts each call before handing it over.
#[tokio::test(start_paused = true)]
async fn ratelimit_a_custom_adapter_that_never_throttles_is_still_limited() {
    let adapter = RecordingAdapter::new();
    let mut registry = CrmRegistry::new();
    registry
        .register(Crm::new("custom", adapter.clone()).rate_limit(one_per_ten_seconds()))
        .unwrap();
    let start = Instant::now();
    upsert_through(&registry, "custom").await;
    upsert_through(&registry, "custom").await;
    assert!(
        start.elapsed() >= Duration::from_secs(10),
        "the second call waited for the window: {:?}",
        start.elapsed()
    );
    assert_eq!(adapter.upserts().len(), 2);
}

fn airtable(token: &str, base: &str) -> Arc<AirtableAdapter> {
    Arc::new(AirtableAdapter::new(AirtableConfig::new(token, base)).unwrap())
}

/// `crm_name`'s Airtable token budget in `etlify`.
fn token_budget(etlify: &etlify::Etlify, crm_name: &str) -> Arc<etlify::RateLimiter> {
    etlify
        .crms()
        .get(crm_name)
        .unwrap()
        .limits()
        .budget(etlify::adapters::airtable::TOKEN_BUDGET)
        .unwrap()
        .clone()
}
