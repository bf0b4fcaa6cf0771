//! The tests of the run history that run on each backend. This file is
//! compiled twice, as `runs_history::sqlite` and `runs_history::postgres`
//! (`mod.rs`); `BACKEND` is this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

/// A finished run has one row per CRM it covered, with its trigger, its
/// runner, its counts per model and its end; the newest comes first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_a_finished_run_records_its_counts_per_model_and_its_trigger() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let mut users = Vec::new();
    for i in 0..3 {
        users.push(db.insert_user(&format!("u{i}@x.io"), None).await);
    }
    db.insert_company("acme").await;
    db.insert_company("globex").await;
    let (hubspot, other) = (RecordingAdapter::new(), RecordingAdapter::new());
    let etlify = engine(
        &db,
        vec![
            Crm::new("hubspot", hubspot.clone()),
            Crm::new("other", other.clone()),
        ],
        vec![
            user_model(&["hubspot", "other"]),
            company_model(&["hubspot"]),
        ],
    )
    .await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(stats.is_complete(), "{stats:?}");
    let runs = history(&etlify).await;
    assert_eq!(runs.len(), 2, "one row per CRM: {runs:?}");
    let of = |crm: &str| runs.iter().find(|r| r.crm == crm).unwrap().clone();
    let hubspot_run = of("hubspot");
    assert_eq!(hubspot_run.trigger, RunTrigger::Command);
    assert_eq!(hubspot_run.status, RunStatus::Succeeded);
    assert_eq!((hubspot_run.records, hubspot_run.errors), (5, 0));
    assert_eq!(hubspot_run.per_model["User"].synced, 3);
    assert_eq!(hubspot_run.per_model["Company"].synced, 2);
    assert!(hubspot_run.finished_at.unwrap() >= hubspot_run.started_at);
    assert!(!hubspot_run.runner.is_empty());
    assert_eq!(hubspot_run.interruption, None);
    let other_run = of("other");
    assert_eq!(other_run.records, 3);
    assert_eq!(other_run.per_model.len(), 1);
    assert_eq!(other_run.per_model["User"].synced, 3);

    // A user is touched (its payload the same); a run requested by
    // someone else names its trigger.
    db.touch("users", users[0]).await;
    let stats = etlify
        .batch_sync(
            &BatchSyncOptions::new()
                .crm("hubspot")
                .trigger(RunTrigger::Request),
        )
        .await
        .unwrap();
    assert!(stats.is_complete(), "{stats:?}");
    let hubspot_runs = etlify.runs(&RunQuery::new().crm("hubspot")).await.unwrap();
    assert_eq!(hubspot_runs.len(), 2);
    assert_eq!(hubspot_runs[0].trigger, RunTrigger::Request, "newest first");
    assert_eq!(hubspot_runs[0].per_model["User"].not_modified, 1);
    assert_eq!(hubspot_runs[1].id, hubspot_run.id);
    assert_eq!(
        etlify.runs(&RunQuery::new().limit(1)).await.unwrap().len(),
        1
    );
    let last_to_the_end = etlify
        .runs(
            &RunQuery::new()
                .crm("other")
                .status(RunStatus::Succeeded)
                .limit(1),
        )
        .await
        .unwrap();
    assert_eq!(last_to_the_end.len(), 1);
    assert_eq!(last_to_the_end[0].id, other_run.id);
    assert!(etlify
        .runs(&RunQuery::new().status(RunStatus::Failed))
        .await
        .unwrap()
        .is_empty());
}

/// The history of a run stopped by the CRM refusing the token (a 401 over
/// loopback) names the reason, and the run is marked interrupted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_the_history_of_an_interrupted_run_names_the_reason() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    db.insert_user("a@x.io", None).await;
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(
            wiremock::ResponseTemplate::new(401).set_body_json(serde_json::json!({
                "status": "error",
                "message": "Authentication credentials not found.",
                "category": "INVALID_AUTHENTICATION"
            })),
        )
        .mount(&server)
        .await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot_on(&server))],
        vec![user_model(&["hubspot"])],
    )
    .await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(!stats.is_complete());
    let runs = history(&etlify).await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Interrupted);
    let reason = runs[0].interruption.clone().unwrap();
    assert!(reason.starts_with("User: "), "{reason}");
    assert!(
        reason.contains(&stats.interrupted[0].message),
        "the interruption's own sentence: {reason}"
    );
    assert!(
        reason.to_lowercase().contains("401") || reason.to_lowercase().contains("credentials"),
        "names the refused token: {reason}"
    );
    assert!(!reason.contains("RUNS-SECRET"), "{reason}");
}

/// Rows older than the age kept go when a run row is written, and so do a
/// CRM's rows past the count kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_retention_prunes_old_rows() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    db.insert_user("a@x.io", None).await;
    let etlify = builder(
        db.store.clone(),
        vec![Crm::new("hubspot", RecordingAdapter::new())],
        vec![user_model(&["hubspot"])],
    )
    .config(
        Config::default()
            .keep_runs(Duration::from_secs(24 * 3_600))
            .keep_runs_per_crm(3),
    )
    .build()
    .await
    .unwrap();
    // A run of last year, of a CRM no longer configured.
    db.exec(
        "INSERT INTO etlify_runs (crm_name, triggered_by, runner, status, started_at, finished_at, records, errors) \
         VALUES ('gone', 'command', 'old', 'succeeded', '2020-01-01 00:00:00', '2020-01-01 00:01:00', 0, 0)",
    )
    .await;
    for run in 1..=4 {
        let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
        assert!(stats.is_complete());
        let runs = history(&etlify).await;
        assert!(
            runs.iter().all(|r| r.crm == "hubspot"),
            "the run of last year is gone: {runs:?}"
        );
        assert_eq!(runs.len(), run.min(3), "at most 3 kept: {runs:?}");
    }
}

/// A row still `running` whose CRM's lease no one holds belongs to a run
/// that died: it reads as abandoned, with no end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_a_run_that_died_reads_as_abandoned() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", RecordingAdapter::new())],
        vec![user_model(&["hubspot"])],
    )
    .await;
    let now = db.now_sql();
    db.exec(&format!(
        "INSERT INTO etlify_runs (crm_name, triggered_by, runner, status, started_at, records, errors) \
         VALUES ('hubspot', 'schedule', 'killed-worker', 'running', {now}, 0, 0)"
    ))
    .await;
    let runs = history(&etlify).await;
    assert_eq!(runs[0].status, RunStatus::Abandoned);
    let abandoned = etlify
        .runs(&RunQuery::new().status(RunStatus::Abandoned))
        .await
        .unwrap();
    assert_eq!(abandoned.len(), 1);
    assert!(etlify
        .runs(&RunQuery::new().status(RunStatus::Running))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(runs[0].finished_at, None);
    assert_eq!(runs[0].duration(), None);
}

/// The worker's loop records its runs as `schedule`, under the worker's
/// name; a batch job requested by `batch_sync_async` as `request`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_a_job_run_by_the_worker_records_schedule_and_the_workers_name() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let (etlify, queue) = queued_engine_with_a_stale_user(&db).await;
    let name = unique_worker_name("runs-history");
    let worker = start_worker(
        &etlify,
        &queue,
        WorkerOptions::new()
            .name(name.clone())
            .interval(Some(Duration::from_millis(200))),
    );
    eventually(
        Duration::from_secs(30),
        POLL,
        "the worker's loop ran a batch job to the end",
        || async {
            history(&etlify)
                .await
                .iter()
                .any(|run| run.status == RunStatus::Succeeded)
        },
    )
    .await;
    worker.stop().await;
    let runs = history(&etlify).await;
    let run = runs
        .iter()
        .find(|run| run.status == RunStatus::Succeeded)
        .unwrap();
    assert_eq!(run.trigger, RunTrigger::Schedule);
    assert_eq!(run.runner, name);
    assert_eq!(run.per_model["User"].synced, 1);
}

/// A batch job requested by `batch_sync_async` is recorded as `request`,
/// under the name of the worker that ran it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_a_requested_batch_job_records_request_and_the_workers_name() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let (etlify, queue) = queued_engine_with_a_stale_user(&db).await;
    let name = unique_worker_name("runs-history-requests");
    let worker = start_worker(
        &etlify,
        &queue,
        WorkerOptions::new().name(name.clone()).interval(None),
    );
    etlify
        .batch_sync_async(&BatchSyncOptions::new())
        .await
        .unwrap();
    eventually(
        Duration::from_secs(30),
        POLL,
        "the requested batch job ran",
        || async {
            let runs = history(&etlify).await;
            !runs.is_empty() && runs[0].finished_at.is_some()
        },
    )
    .await;
    worker.stop().await;
    let runs = history(&etlify).await;
    assert_eq!(runs[0].trigger, RunTrigger::Request);
    assert_eq!(runs[0].runner, name);
}

/// `etlify migrate` creates the history, `check_schema` reports it
/// missing with the fix, and `revert` drops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_migrate_creates_the_history_and_revert_drops_it() {
    let db = TestDb::new(BACKEND).await;
    let migrated = etlify::migrate(&db.store, &etlify::MigrateOptions::default())
        .await
        .unwrap();
    for step in [
        "create_table:etlify_runs",
        "create_index:idx_etlify_runs_started_at",
        "create_index:idx_etlify_runs_crm_started_at",
    ] {
        assert!(migrated.applied.contains(&step), "{migrated:?}");
    }
    assert!(etlify::check_schema(&db.store).await.unwrap().is_ok());

    db.exec("DROP TABLE etlify_runs").await;
    let report = etlify::check_schema(&db.store).await.unwrap();
    assert!(
        report
            .problems
            .contains(&etlify::SchemaProblem::MissingTable {
                table: "etlify_runs"
            }),
        "{report}"
    );
    assert!(report.to_string().contains("etlify migrate"), "{report}");
    let again = etlify::migrate(&db.store, &etlify::MigrateOptions::default())
        .await
        .unwrap();
    assert!(again.applied.contains(&"create_table:etlify_runs"));
    assert!(etlify::check_schema(&db.store).await.unwrap().is_ok());

    etlify::revert_migration(&db.store).await.unwrap();
    assert!(db.try_exec("SELECT 1 FROM etlify_runs").await.is_err());
}
