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
        vec![Crm::new("hubspot", quick_retrying_hubspot(&sandbox, 4))
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
        vec![Crm::new("hubspot", quick_retrying_hubspot(&sandbox, 4))
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

/// Two engines on one token, each with a CRM per base. Within an engine the
/// bases of one token share its budget (Airtable limits a token across its
/// bases); two engines in one process share nothing by accident.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratelimit_two_engines_do_not_share_an_airtable_token_budget() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let mut engines = Vec::new();
    for _ in 0..2 {
        engines.push(
            engine(
                &db,
                vec![
                    Crm::new("sales", airtable("patOne.token", "appSales000000001")),
                    Crm::new("support", airtable("patOne.token", "appSupport0000001")),
                ],
                vec![],
            )
            .await,
        );
    }
    assert!(
        Arc::ptr_eq(
            &token_budget(&engines[0], "sales"),
            &token_budget(&engines[0], "support")
        ),
        "the bases of one token in one engine share its budget"
    );
    assert!(
        !Arc::ptr_eq(
            &token_budget(&engines[0], "sales"),
            &token_budget(&engines[1], "sales")
        ),
        "two engines keep budgets of their own"
    );
}

/// Engines handed one `RateBudgets` share a token's budget, and only for
/// the same token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratelimit_engines_given_one_rate_budgets_share_a_budget_only_for_the_same_token() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let budgets = RateBudgets::new();
    let mut engines = Vec::new();
    for second_token in ["patOne.token", "patTwo.token"] {
        let etlify = etlify::Etlify::builder(db.store.clone())
            .config(Config::default().rate_budgets(budgets.clone()))
            .crm(Crm::new(
                "first",
                airtable("patOne.token", "appSales000000001"),
            ))
            .crm(Crm::new(
                "second",
                airtable(second_token, "appSales000000001"),
            ))
            .build()
            .await
            .unwrap();
        engines.push(etlify);
    }
    let (one, two) = (&engines[0], &engines[1]);
    assert!(
        Arc::ptr_eq(&token_budget(one, "first"), &token_budget(two, "first")),
        "one token, one budget across the engines sharing budgets"
    );
    assert!(Arc::ptr_eq(
        &token_budget(one, "second"),
        &token_budget(two, "first")
    ));
    assert!(
        !Arc::ptr_eq(&token_budget(two, "second"), &token_budget(two, "first")),
        "another token has a budget of its own"
    );
}

/// Issue 26, item 4: two engines on one database — two pools and two
/// limiters, as two worker processes have — each allowed the CRM's whole
/// limit (10 per second) and syncing at once: together they stay within
/// one window of the CRM on SQLite as on PostgreSQL. The sandbox refuses
/// nothing, and no window of its log (arrival times) holds more than 10.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_two_engines_on_one_database_keep_to_one_rate_window() {
    const PER_SECOND: u32 = 10;
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(db.insert_user(&format!("two{i}@x.io"), None).await);
    }
    let sandbox = sandbox_allowing_per_second(u64::from(PER_SECOND)).await;
    let workers = workers_on_one_database(&db, &sandbox, PER_SECOND).await;
    sync_all_at_once(&workers, &ids).await;
    let log = sandbox.admin().request_log();
    let arrivals: Vec<u64> = log.recent.iter().map(|r| r.at_ms).collect();
    assert_eq!(arrivals.len() as u64, log.total, "every request logged");
    assert_eq!(log.count_status(429), 0, "{arrivals:?}");
    let busiest_second = arrivals
        .iter()
        .map(|start| {
            arrivals
                .iter()
                .filter(|at| **at >= *start && **at < start + 1_000)
                .count()
        })
        .max();
    assert_eq!(
        busiest_second,
        Some(PER_SECOND as usize),
        "both engines together reach the limit, never more: {arrivals:?}"
    );
    assert_eq!(peak(&log, "hubspot.per_app"), Some(u64::from(PER_SECOND)));
}

/// Issue 26, item 5: a request counted in the window shared through the
/// database holds its slot for the worst lateness (until 8 latencies are
/// known, 10% of the period: 6 s of a minute) only until it is answered;
/// the next take moves the slot back to its send plus its own lateness.
/// So the first request's slot, answered, holds about its send time, and
/// the second's, answered after the last take, still its send plus 6 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratelimit_an_answered_request_moves_its_shared_slot_back() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let first = db.insert_user("early@x.io", None).await;
    let second = db.insert_user("late@x.io", None).await;
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", quick_retrying_hubspot(&sandbox, 4))
            .rate_limit(RateLimit::new(10, Duration::from_secs(60)).unwrap())],
        vec![deals_model()],
    )
    .await;
    for id in [first, second] {
        assert_eq!(
            etlify.sync("hubspot", "User", id).await.unwrap(),
            SyncDispatch::Completed(SyncOutcome::Synced)
        );
    }
    let as_text = match BACKEND {
        Backend::Sqlite => r#""sent_at""#,
        Backend::Postgres => r#"CAST("sent_at" AS TEXT)"#,
        Backend::Mysql => r#"CAST("sent_at" AS CHAR)"#,
    };
    let mut stamps = Vec::new();
    for (order, of) in [("ASC", "first"), ("DESC", "last")] {
        let sql = format!(
            r#"SELECT {as_text} FROM "etlify_rate_slots" WHERE "crm_name" = 'hubspot' AND "slot" >= 0 AND "sent_at" > '2000-01-01' ORDER BY "sent_at" {order} LIMIT 1"#
        );
        let text = db
            .scalar_text(&sql)
            .await
            .unwrap_or_else(|| panic!("a {of} slot"));
        stamps.push(
            chrono::NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f")
                .unwrap_or_else(|e| panic!("{text}: {e}")),
        );
    }
    let taken = db
        .scalar_i64(r#"SELECT COUNT(*) FROM "etlify_rate_slots" WHERE "crm_name" = 'hubspot' AND "slot" >= 0 AND "sent_at" > '2000-01-01'"#)
        .await;
    assert_eq!(taken, 2, "one slot per request");
    let gap = stamps[1] - stamps[0];
    assert!(
        gap >= chrono::TimeDelta::seconds(3),
        "the answered request holds its send time, the other its send plus 6 s: {stamps:?}"
    );
}
