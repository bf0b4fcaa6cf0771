//! The tests of `metrics` that run on each backend. This file is compiled
//! twice, as `metrics::sqlite` and `metrics::postgres` (`mod.rs`);
//! `BACKEND` is this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

/// A batch run, then one record changed and synced alone and one synced
/// unchanged: each outcome counter moved by the run's statistics plus the
/// two syncs, the request counters by the requests the sandbox received
/// (per status code), one run timed; no label holds anything but a
/// configured name or a closed set's value, and no payload value shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_a_scrape_after_a_sync_shows_exactly_what_was_sent() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(db.insert_user(&format!("m{i}@x.io"), None).await);
    }
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", quick_retrying_hubspot(&sandbox, 10))],
        vec![user_model(&["hubspot"])],
    )
    .await;
    let before = parse(&etlify.encode_metrics().await);

    let run = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(run.is_complete(), "{run:?}");
    assert_eq!(run.outcomes.synced, 6);
    db.exec(&format!(
        "UPDATE users SET full_name = 'Changed' WHERE id = {}",
        ids[0]
    ))
    .await;
    assert_eq!(
        etlify.sync("hubspot", "User", ids[0]).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    assert_eq!(
        etlify.sync("hubspot", "User", ids[1]).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::NotModified)
    );
    let text = etlify.encode_metrics().await;
    let after = parse(&text);

    let moved =
        |name: &str, with: &[(&str, &str)]| value(&after, name, with) - value(&before, name, with);
    let outcomes = &run.outcomes;
    for (outcome, expected) in [
        ("synced", outcomes.synced + 1),
        ("not_modified", outcomes.not_modified + 1),
        ("skipped", outcomes.skipped),
        ("buffered", outcomes.buffered),
        ("error", outcomes.errors),
        ("in_doubt", outcomes.in_doubt),
        ("archived", outcomes.archived),
        ("no_object_to_update", outcomes.no_object_to_update),
    ] {
        let with = [("crm", "hubspot"), ("model", "User"), ("outcome", outcome)];
        assert_eq!(
            moved("etlify_records_synced_total", &with),
            expected as f64,
            "{outcome}"
        );
    }

    let log = sandbox.admin().request_log();
    assert!(log.total > 0);
    assert_eq!(
        moved("etlify_crm_requests_total", &[("crm", "hubspot")]),
        log.total as f64,
        "every request the sandbox received, once"
    );
    let mut statuses: BTreeMap<String, u64> = BTreeMap::new();
    for endpoint in &log.endpoints {
        for (status, count) in &endpoint.statuses {
            *statuses.entry(status.clone()).or_default() += count;
        }
    }
    for (status, count) in &statuses {
        assert_eq!(
            moved(
                "etlify_crm_requests_total",
                &[("crm", "hubspot"), ("status", status)]
            ),
            *count as f64,
            "status {status}"
        );
    }
    assert_eq!(
        moved(
            "etlify_crm_request_duration_seconds_count",
            &[("crm", "hubspot")]
        ),
        log.total as f64
    );
    assert_eq!(
        value(
            &after,
            "etlify_crm_requests_in_flight",
            &[("crm", "hubspot")]
        ),
        0.0
    );
    assert_eq!(value(&after, "etlify_crm_rate_limited_total", &[]), 0.0);
    assert_eq!(
        moved("etlify_run_duration_seconds_count", &[("crm", "hubspot")]),
        1.0
    );
    assert!(
        value(
            &after,
            "etlify_last_successful_run_timestamp_seconds",
            &[("crm", "hubspot")]
        ) > 0.0
    );
    assert!(
        value(
            &after,
            "etlify_model_last_successful_run_timestamp_seconds",
            &[("crm", "hubspot"), ("model", "User")]
        ) > 0.0
    );
    assert_eq!(
        value(
            &after,
            "etlify_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );

    assert_labels_are_closed(&after, &["hubspot"], &["User"]);
    for i in 0..6 {
        assert!(
            !text.contains(&format!("m{i}@x.io")),
            "a payload value in:\n{text}"
        );
    }
    assert!(!text.contains("Changed"), "a payload value in:\n{text}");
}

/// A CRM allowing 3 requests a second, sent 5 creates at once by an
/// engine without a rate limit: each 429 the sandbox sent is counted, as
/// a 429 and as a request, and the pauses they asked for are time waited
/// on the rate limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_429s_and_the_wait_they_cause_are_counted() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(db.insert_user(&format!("q{i}@x.io"), None).await);
    }
    let mut config = SandboxConfig::default();
    config.hubspot.rate_limits.per_app_max = 3;
    config.hubspot.rate_limits.per_app_window_ms = 1_000;
    config.hubspot.rate_limits.retry_after = true;
    let sandbox = Sandbox::start(config).await.unwrap();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", quick_retrying_hubspot(&sandbox, 10))],
        vec![deals_model()],
    )
    .await;
    let syncs: Vec<_> = ids
        .iter()
        .map(|id| {
            let (etlify, id) = (etlify.clone(), *id);
            tokio::spawn(async move { etlify.sync("hubspot", "User", id).await })
        })
        .collect();
    for sync in syncs {
        assert_eq!(
            sync.await.unwrap().unwrap(),
            SyncDispatch::Completed(SyncOutcome::Synced)
        );
    }
    let samples = parse(&etlify.encode_metrics().await);
    let log = sandbox.admin().request_log();
    let refused = log.count_status(429);
    assert!(refused > 0, "5 creates at once against 3 a second: {log:?}");
    assert_eq!(
        value(
            &samples,
            "etlify_crm_rate_limited_total",
            &[("crm", "hubspot")]
        ),
        refused as f64
    );
    assert_eq!(
        value(
            &samples,
            "etlify_crm_requests_total",
            &[("crm", "hubspot"), ("status", "429")]
        ),
        refused as f64
    );
    assert_eq!(
        value(&samples, "etlify_crm_requests_total", &[("crm", "hubspot")]),
        log.total as f64
    );
    let waited = value(
        &samples,
        "etlify_rate_limit_wait_seconds_total",
        &[("crm", "hubspot")],
    );
    assert!(waited > 0.0, "the 429s' pauses are waits: {waited}");
    assert_eq!(
        value(
            &samples,
            "etlify_records_synced_total",
            &[("outcome", "synced")]
        ),
        5.0
    );
    assert_labels_are_closed(&samples, &["hubspot"], &["User"]);
}

/// An engine allowed one request every 400 ms syncs 5 records one after
/// the other: the 4 requests after the first wait for the window, and
/// that time is counted (at least 400 ms of the 1.6 s the window holds
/// them, whatever the syncs cost between their requests); the CRM
/// refused none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_time_waited_on_the_engines_rate_limit_is_counted() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(db.insert_user(&format!("w{i}@x.io"), None).await);
    }
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", quick_retrying_hubspot(&sandbox, 10))
            .rate_limit(RateLimit::new(1, Duration::from_millis(400)).unwrap())],
        vec![deals_model()],
    )
    .await;
    let started = std::time::Instant::now();
    for id in &ids {
        assert_eq!(
            etlify.sync("hubspot", "User", *id).await.unwrap(),
            SyncDispatch::Completed(SyncOutcome::Synced)
        );
    }
    let elapsed = started.elapsed().as_secs_f64();
    let samples = parse(&etlify.encode_metrics().await);
    let waited = value(
        &samples,
        "etlify_rate_limit_wait_seconds_total",
        &[("crm", "hubspot")],
    );
    assert!(waited >= 0.4, "waited {waited} s");
    assert!(waited <= elapsed, "waited {waited} s of {elapsed} s");
    assert_eq!(sandbox.admin().request_log().count_status(429), 0);
    assert_eq!(value(&samples, "etlify_crm_rate_limited_total", &[]), 0.0);
}

/// When the application's rows were written, synced, then changed.
const OLD: &str = "2020-01-01 00:00:00.000000";
const SYNCED: &str = "2021-01-01 00:00:00.000000";
const CHANGED: &str = "2022-01-01 00:00:00.000000";

/// The records gauges of `samples` for (hubspot, User), in the order of
/// `StatusEntry`'s counts.
fn standing(samples: &[Sample]) -> [f64; 6] {
    STANDINGS.map(|standing| {
        value(
            samples,
            "etlify_records",
            &[
                ("crm", "hubspot"),
                ("model", "User"),
                ("standing", standing),
            ],
        )
    })
}

fn counts(entry: &etlify::StatusEntry) -> [f64; 6] {
    [
        entry.in_sync,
        entry.stale,
        entry.never_synced,
        entry.failing,
        entry.over_budget,
        entry.waiting,
    ]
    .map(|count| count as f64)
}

/// The records gauges are `status()`'s counts; a scrape within the
/// interval (an hour here) reads the values computed by the first, even
/// after a record changed (the time of their computation is the same); an
/// engine whose interval is zero computes them at each scrape, and shows
/// the change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_status_gauges_equal_status_and_are_computed_once_per_interval() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(db.insert_user(&format!("g{i}@x.io"), None).await);
    }
    db.exec(&format!("UPDATE users SET updated_at = '{OLD}'"))
        .await;
    let adapter = crate::support::adapter::RecordingAdapter::new();
    let hourly = builder(
        db.store.clone(),
        vec![Crm::new("hubspot", adapter.clone())],
        vec![user_model(&["hubspot"])],
    )
    .metrics_min_interval(Duration::from_secs(3600))
    .build()
    .await
    .unwrap();
    assert!(hourly
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .is_complete());
    db.exec(&format!(
        "UPDATE crm_synchronisations SET last_synced_at = '{SYNCED}'"
    ))
    .await;
    // One changed, one failing, one never synced.
    db.exec(&format!(
        "UPDATE users SET updated_at = '{CHANGED}' WHERE id = {}",
        ids[0]
    ))
    .await;
    db.exec(&format!(
        "UPDATE crm_synchronisations SET error_count = 1, last_error = 'boom' WHERE resource_id = {}",
        ids[1]
    ))
    .await;
    db.insert_user("new@x.io", None).await;
    db.exec(&format!(
        "UPDATE users SET updated_at = '{OLD}' WHERE email = 'new@x.io'"
    ))
    .await;
    // Times set by hand in the past, before the run's checkpoint: as after
    // any edit of sync rows that no timestamp shows, the checkpoint is
    // forgotten, and the gauges class the whole table.
    db.exec("DELETE FROM etlify_sync_checkpoints").await;

    let first = parse(&hourly.encode_metrics().await);
    let status = hourly.status().await.unwrap();
    assert_eq!(status.len(), 1);
    assert_eq!(standing(&first), counts(&status[0]));
    assert_eq!(counts(&status[0]), [4.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
    let jobs = hourly.job_counts().await.unwrap();
    assert_eq!(
        value(&first, "etlify_jobs", &[("state", "queued")]),
        jobs.queued as f64
    );
    assert_eq!(
        value(&first, "etlify_jobs", &[("state", "running")]),
        jobs.running as f64
    );
    assert_eq!(
        value(&first, "etlify_oldest_queued_job_age_seconds", &[]),
        0.0
    );
    let computed = value(&first, "etlify_status_computed_timestamp_seconds", &[]);
    assert!(computed > 0.0);

    // Another record changes: within the interval, nothing is recomputed.
    db.exec(&format!(
        "UPDATE users SET updated_at = '{CHANGED}' WHERE id = {}",
        ids[2]
    ))
    .await;
    let second = parse(&hourly.encode_metrics().await);
    assert_eq!(
        value(&second, "etlify_status_computed_timestamp_seconds", &[]),
        computed,
        "not computed again within the interval"
    );
    assert_eq!(standing(&second), standing(&first));
    let now = hourly.status().await.unwrap();
    assert_eq!(counts(&now[0]), [3.0, 2.0, 1.0, 1.0, 0.0, 0.0]);

    // An engine computing at every scrape shows it.
    let every_scrape = builder(
        db.store.clone(),
        vec![Crm::new("hubspot", adapter)],
        vec![user_model(&["hubspot"])],
    )
    .metrics_min_interval(Duration::ZERO)
    .build()
    .await
    .unwrap();
    let third = parse(&every_scrape.encode_metrics().await);
    assert_eq!(standing(&third), counts(&now[0]));
    assert_labels_are_closed(&third, &["hubspot"], &["User"]);
}

/// Changes stamped after every sync of the test (a sync records the time
/// it ran, in 2026 or so): the records stay stale after being sent.
const LATER: &str = "2099-01-01 00:00:00.000000";

/// Issue 28, item 2: after batch runs that went to the end, the records
/// gauges (counted from the last run's checkpoint) equal `status()` in
/// each standing: records changed by themselves or by their company,
/// failing, over the error budget, waiting for a dependency, new ones,
/// a deleted one; then after an incremental run that sends them and
/// fails one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_records_gauges_equal_status_in_each_standing_after_syncs() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let ten = crate::support::standings::TenUsers::insert(&db, "s").await;
    let adapter = crate::support::adapter::RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone())],
        vec![users_of_companies()],
    )
    .await;
    // A new engine's first scrape computes the gauges (one scrape soon
    // after another is served the values the first computed).
    let scrape = || async {
        let fresh = engine(
            &db,
            vec![Crm::new("hubspot", adapter.clone())],
            vec![users_of_companies()],
        )
        .await;
        standing(&parse(&fresh.encode_metrics().await))
    };
    let run = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(run.is_complete());
    let scraped = scrape().await;
    let status = etlify.status().await.unwrap();
    assert_eq!(scraped, counts(&status[0]));
    assert_eq!(scraped, [10.0, 0.0, 0.0, 0.0, 0.0, 0.0]);

    // Every standing, the changes stamped after every sync of the test.
    ten.spread_over_every_standing(&db, LATER).await;

    let scraped = scrape().await;
    let status = etlify.status().await.unwrap();
    assert_eq!(scraped, counts(&status[0]));
    // in sync, stale, never synced, failing, over budget, waiting
    assert_eq!(scraped, [2.0, 4.0, 2.0, 1.0, 1.0, 1.0]);

    // A run from the checkpoint sends the stale and new records, and one
    // fails; the stale ones, stamped later than the sync, stay stale.
    adapter.fail_next_upsert(
        etlify::adapters::AdapterError::new(
            etlify::adapters::AdapterErrorKind::ValidationFailed,
            "INVALID_EMAIL",
        )
        .status(400),
    );
    let run = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((run.total, run.errors), (6, 1));
    let scraped = scrape().await;
    let status = etlify.status().await.unwrap();
    assert_eq!(scraped, counts(&status[0]));
    assert_eq!(scraped.iter().sum::<f64>(), 11.0);
    assert_eq!(
        &scraped[3..],
        &[2.0, 1.0, 1.0],
        "failing, over budget, waiting"
    );
}

/// The change-to-CRM latency is observed for each record the CRM accepted
/// because it changed, from its own timestamp: 3 records never synced
/// (written in 2020), one changed in 2022 sent by a batch run and one by a
/// one-record sync; a record whose payload changed without its timestamp
/// moving past its last sync (as when a dependency changes) is sent but
/// not observed. The sum is the ages of those 5 timestamps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_change_to_crm_latency_counts_from_the_records_timestamp() {
    const OLD_UNIX: f64 = 1_577_836_800.0; // OLD
    const CHANGED_UNIX: f64 = 1_640_995_200.0; // CHANGED
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(db.insert_user(&format!("c{i}@x.io"), None).await);
    }
    db.exec(&format!("UPDATE users SET updated_at = '{OLD}'"))
        .await;
    let adapter = crate::support::adapter::RecordingAdapter::new();
    let etlify = crate::support::builder(
        db.store.clone(),
        vec![Crm::new("hubspot", adapter)],
        vec![user_model(&["hubspot"])],
    )
    .metrics_change_latency(true)
    .build()
    .await
    .unwrap();
    let unix_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let before = unix_now();
    assert_eq!(
        etlify
            .batch_sync(&BatchSyncOptions::new())
            .await
            .unwrap()
            .outcomes
            .synced,
        3
    );
    db.exec(&format!(
        "UPDATE crm_synchronisations SET last_synced_at = '{SYNCED}'"
    ))
    .await;
    // Changed after its last sync: found by a complete run (the times are
    // set by hand, before the first run's checkpoint), observed.
    db.exec(&format!(
        "UPDATE users SET full_name = 'Zero', updated_at = '{CHANGED}' WHERE id = {}",
        ids[0]
    ))
    .await;
    let run = etlify
        .batch_sync(&BatchSyncOptions::new().complete(true))
        .await
        .unwrap();
    assert_eq!(run.outcomes.synced, 1, "{run:?}");
    // Its payload changed, its timestamp did not: sent, not observed.
    db.exec(&format!(
        "UPDATE users SET full_name = 'One' WHERE id = {}",
        ids[1]
    ))
    .await;
    assert_eq!(
        etlify.sync("hubspot", "User", ids[1]).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    // Changed after its last sync, synced alone: observed.
    db.exec(&format!(
        "UPDATE users SET full_name = 'Two', updated_at = '{CHANGED}' WHERE id = {}",
        ids[2]
    ))
    .await;
    assert_eq!(
        etlify.sync("hubspot", "User", ids[2]).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    let after = unix_now();
    let samples = parse(&etlify.encode_metrics().await);
    let with = [("crm", "hubspot"), ("model", "User")];
    assert_eq!(
        value(&samples, "etlify_change_to_crm_seconds_count", &with),
        5.0
    );
    let sum = value(&samples, "etlify_change_to_crm_seconds_sum", &with);
    let least = 3.0 * (before - OLD_UNIX) + 2.0 * (before - CHANGED_UNIX);
    let most = 3.0 * (after - OLD_UNIX) + 2.0 * (after - CHANGED_UNIX);
    assert!(
        least <= sum && sum <= most,
        "{least} <= {sum} <= {most}: the ages of the records' own timestamps"
    );
    // Years: every observation is in the last bucket only.
    assert_eq!(
        value(
            &samples,
            "etlify_change_to_crm_seconds_bucket",
            &[("crm", "hubspot"), ("model", "User"), ("le", "3600.0")]
        ),
        0.0
    );
}

/// The change-to-CRM latency is observed only when asked (a second read of
/// each page's rows, a tenth of a first sync's rate): by default a sync
/// observes nothing, its other counters move.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_change_to_crm_latency_is_off_unless_asked() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    for i in 0..3 {
        db.insert_user(&format!("off{i}@x.io"), None).await;
    }
    let adapter = crate::support::adapter::RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter)],
        vec![user_model(&["hubspot"])],
    )
    .await;
    let run = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(run.outcomes.synced, 3, "{run:?}");
    let samples = parse(&etlify.encode_metrics().await);
    let with = [("crm", "hubspot"), ("model", "User")];
    assert_eq!(
        value(&samples, "etlify_change_to_crm_seconds_count", &with),
        0.0
    );
    assert_eq!(
        value(
            &samples,
            "etlify_records_synced_total",
            &[("crm", "hubspot"), ("model", "User"), ("outcome", "synced")]
        ),
        3.0
    );
}
