//! The tests of alerts that run on each backend. This file is compiled
//! twice, as `alerts::sqlite` and `alerts::postgres` (`mod.rs`); `BACKEND`
//! is this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

/// Records over the error budget, seen by two workers over many
/// evaluations and runs, send one alert; their errors reset, one
/// recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_two_workers_send_one_alert_per_incident_then_one_recovery() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    for i in 0..2 {
        let user = db.insert_user(&format!("u{i}@x.io"), None).await;
        db.insert_sync_row("hubspot", "User", user, 3, Some("rejected"))
            .await;
    }
    let server = receiver().await;
    let queue = db.job_queue(fast_queue()).await;
    let etlify = engine_with_queue(&db, &queue, Crm::new("hubspot", RecordingAdapter::new())).await;
    let workers: Vec<RunningWorker> = ["a", "b"]
        .iter()
        .map(|name| {
            start_worker(
                &etlify,
                &queue,
                WorkerOptions::new()
                    .name(unique_worker_name(&format!("alerts-{name}")))
                    .interval(Some(Duration::from_millis(100)))
                    .alerts(alert_options(&server)),
            )
        })
        .collect();

    alert_received(&server, "over_budget", "firing").await;
    let seen = runs_after(&db, 0, 0).await;
    runs_after(&db, seen, 5).await;
    let firing = alerts(&server, "over_budget", "firing").await;
    assert_eq!(firing.len(), 1, "one alert per incident: {firing:?}");
    assert_eq!(firing[0]["crm"], "hubspot");
    assert_eq!(firing[0]["model"], "User");
    assert!(
        firing[0]["summary"]
            .as_str()
            .unwrap()
            .contains("2 records reached the error budget"),
        "{firing:?}"
    );
    assert!(firing[0]["started_at"].is_string());
    assert_eq!(
        db.scalar_i64(
            "SELECT COUNT(*) FROM etlify_alert_incidents WHERE kind = 'over_budget' \
             AND resolved_at IS NULL AND notified_at IS NOT NULL"
        )
        .await,
        1
    );

    db.exec("UPDATE crm_synchronisations SET error_count = 0, last_error = NULL")
        .await;
    alert_received(&server, "over_budget", "resolved").await;
    let seen = runs_after(&db, 0, 0).await;
    runs_after(&db, seen, 5).await;
    for worker in workers {
        worker.stop().await;
    }
    assert_eq!(alerts(&server, "over_budget", "resolved").await.len(), 1);
    assert_eq!(alerts(&server, "over_budget", "firing").await.len(), 1);
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM etlify_alert_incidents WHERE resolved_at IS NOT NULL")
            .await,
        1
    );
}

/// A CRM refusing the token (a 401 over loopback) stops every run: one
/// alert, naming the reason, over the runs that follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_an_interrupted_run_alerts_once_naming_the_reason() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    db.insert_user("a@x.io", None).await;
    let crm = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({
            "status": "error",
            "message": "Authentication credentials not found.",
            "category": "INVALID_AUTHENTICATION"
        })))
        .mount(&crm)
        .await;
    let hubspot = etlify::adapters::hubspot::HubSpotAdapter::new(
        etlify::adapters::hubspot::HubSpotConfig::new("pat-na1-ALERT-SECRET").base_url(crm.uri()),
    )
    .unwrap();
    let server = receiver().await;
    let queue = db.job_queue(fast_queue()).await;
    let etlify = engine_with_queue(
        &db,
        &queue,
        Crm::new("hubspot", std::sync::Arc::new(hubspot)),
    )
    .await;
    let worker = start_worker(
        &etlify,
        &queue,
        WorkerOptions::new()
            .name(unique_worker_name("alerts-interrupted"))
            .interval(Some(Duration::from_millis(100)))
            .alerts(alert_options(&server).error_share(0.2)),
    );
    alert_received(&server, "run_interrupted", "firing").await;
    let seen = runs_after(&db, 0, 0).await;
    runs_after(&db, seen, 3).await;
    worker.stop().await;
    let firing = alerts(&server, "run_interrupted", "firing").await;
    assert_eq!(firing.len(), 1, "{firing:?}");
    assert_eq!(firing[0]["crm"], "hubspot");
    let details = firing[0]["details"].as_str().unwrap();
    assert!(details.starts_with("User: "), "{details}");
    assert!(
        details.contains("401") || details.to_lowercase().contains("credentials"),
        "{details}"
    );
    assert!(!details.contains("ALERT-SECRET"), "{details}");
}

/// A worker whose heartbeat lease expired long ago (it died) alerts as
/// silent; once its row is gone (its name beats again, or it is removed),
/// one recovery. A live worker's own heartbeat never alerts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_a_silent_worker_alerts_then_recovers() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let past = if db.is_postgres() {
        "(now() AT TIME ZONE 'UTC') - interval '10 minutes'"
    } else if db.is_mysql() {
        "UTC_TIMESTAMP(6) - INTERVAL 10 MINUTE"
    } else {
        "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-10 minutes')"
    };
    db.exec(&format!(
        "INSERT INTO etlify_leases (name, owner, expires_at) VALUES ('[\"worker\",\"killed-1\"]', 'gone', {past})"
    ))
    .await;
    let server = receiver().await;
    let queue = db.job_queue(fast_queue()).await;
    let etlify = engine_with_queue(&db, &queue, Crm::new("hubspot", RecordingAdapter::new())).await;
    let worker = start_worker(
        &etlify,
        &queue,
        WorkerOptions::new()
            .name(unique_worker_name("alerts-silent"))
            .interval(None)
            .alerts(alert_options(&server).worker_silent(Duration::from_secs(60))),
    );
    alert_received(&server, "worker_silent", "firing").await;
    db.exec("DELETE FROM etlify_leases WHERE owner = 'gone'")
        .await;
    alert_received(&server, "worker_silent", "resolved").await;
    worker.stop().await;
    let firing = alerts(&server, "worker_silent", "firing").await;
    assert_eq!(firing.len(), 1, "only the dead worker: {firing:?}");
    assert_eq!(firing[0]["worker"], "killed-1");
    assert!(firing[0]["summary"]
        .as_str()
        .unwrap()
        .contains("no heartbeat for"));
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM etlify_leases WHERE name LIKE '[\"worker\",%'")
            .await,
        0,
        "a graceful stop releases the heartbeat"
    );
}

/// A CRM whose last run to the end started longer ago than
/// `oldest_stale` alerts; a run to the end resolves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_oldest_stale_fires_when_no_run_went_to_the_end_for_too_long() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let hours_ago = if db.is_postgres() {
        "(now() AT TIME ZONE 'UTC') - interval '2 hours'"
    } else if db.is_mysql() {
        "UTC_TIMESTAMP(6) - INTERVAL 2 HOUR"
    } else {
        "strftime('%Y-%m-%d %H:%M:%f000', 'now', '-2 hours')"
    };
    let run = |started_at: &str| {
        format!(
            "INSERT INTO etlify_runs (crm_name, triggered_by, runner, status, started_at, finished_at, records, errors) \
             VALUES ('hubspot', 'schedule', 'w', 'succeeded', {started_at}, {started_at}, 0, 0)"
        )
    };
    db.exec(&run(hours_ago)).await;
    let server = receiver().await;
    let queue = db.job_queue(fast_queue()).await;
    let etlify = engine_with_queue(&db, &queue, Crm::new("hubspot", RecordingAdapter::new())).await;
    let worker = start_worker(
        &etlify,
        &queue,
        WorkerOptions::new()
            .name(unique_worker_name("alerts-stale"))
            .interval(None)
            .alerts(alert_options(&server).oldest_stale(Duration::from_secs(3_600))),
    );
    alert_received(&server, "oldest_stale", "firing").await;
    db.exec(&run(db.now_sql())).await;
    alert_received(&server, "oldest_stale", "resolved").await;
    worker.stop().await;
    let firing = alerts(&server, "oldest_stale", "firing").await;
    assert_eq!(firing.len(), 1, "{firing:?}");
    assert_eq!(firing[0]["crm"], "hubspot");
    assert!(
        firing[0]["summary"]
            .as_str()
            .unwrap()
            .contains("no batch run has gone to the end for 2h"),
        "{firing:?}"
    );
    assert_eq!(alerts(&server, "oldest_stale", "resolved").await.len(), 1);
}
