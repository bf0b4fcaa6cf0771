//! The tests of `ratelimit` that run on each backend. This file is compiled
//! twice, as `ratelimit::sqlite` and `ratelimit::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

/// 12 per-record syncs at once, each a search then a create: the searches
/// keep to HubSpot's 5 per second (their own budget, beside the app's
/// window), so the sandbox answers no 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratelimit_hubspot_searches_keep_to_their_own_budget() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(db.insert_user(&format!("s{i}@x.io"), None).await);
    }
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))
            .rate_limit(RateLimit::new(100, Duration::from_secs(10)).unwrap())],
        vec![user_model(&["hubspot"])],
    )
    .await;
    sync_all_at_once(std::slice::from_ref(&etlify), &ids).await;
    let log = sandbox.admin().request_log();
    assert_eq!(log.count_status(429), 0, "no search over its limit");
    let search_peak = peak(&log, "hubspot.search");
    assert_eq!(
        search_peak,
        Some(5),
        "searches reach their bound, never more"
    );
}

/// The engine's limit is set above the account's (20 per second against
/// 10): the `X-HubSpot-RateLimit-Remaining` header slows requests down
/// before the sandbox refuses one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratelimit_the_crms_remaining_header_slows_down_before_a_429() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(db.insert_user(&format!("r{i}@x.io"), None).await);
    }
    let sandbox = sandbox_allowing_per_second(10).await;
    let model = deals_model();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))
            .rate_limit(RateLimit::new(20, Duration::from_secs(1)).unwrap())],
        vec![model],
    )
    .await;
    for id in &ids {
        assert_eq!(
            etlify.sync("hubspot", "User", *id).await.unwrap(),
            SyncDispatch::Completed(SyncOutcome::Synced)
        );
    }
    let log = sandbox.admin().request_log();
    let arrivals: Vec<(u64, Option<u16>)> =
        log.recent.iter().map(|r| (r.at_ms, r.status)).collect();
    assert_eq!(
        log.count_status(429),
        0,
        "slowed down before the limit: {arrivals:?}"
    );
    assert_eq!(log.total, 25);
}
