//! The tests of `batch_sync` that run on each backend. This file is compiled
//! twice, as `batch_sync::sqlite` and `batch_sync::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g13_inline_batch_sync_syncs_stale_records_and_reports_totals() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let (company, _) = seed(&db, 5).await;
    let adapter = Arc::new(NullAdapter::new());
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone())],
        vec![user_model(&["hubspot"]), company_model(&["hubspot"])],
    )
    .await;

    let stats = etlify
        .batch_sync(&BatchSyncOptions::new().batch_size(2))
        .await
        .unwrap();
    assert_eq!((stats.total, stats.errors), (6, 0));
    assert_eq!(stats.per_model.get("User"), Some(&5));
    assert_eq!(stats.per_model.get("Company"), Some(&1));
    assert_eq!(stats.outcomes.synced, 6);
    assert_eq!(adapter.calls().batch_upserted_records, 6);
    assert_eq!(
        adapter.calls().batch_upserts,
        4,
        "users in pages of 2 (3 calls) + 1 company"
    );

    // Nothing changed: nothing sent. (Nothing found either on a quiet
    // server; on a shared PostgreSQL, a sync is stamped as of before the
    // oldest transaction other tests hold open, so its records may be
    // looked at again, and their digests keep them from being sent.)
    let again = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(again.outcomes.synced, 0, "{again:?}");
    assert_eq!(adapter.calls().batch_upserted_records, 6);
    assert!(
        again.per_model.contains_key("User") && again.per_model.contains_key("Company"),
        "every model has an entry: {again:?}"
    );

    // The company changes: its users are stale again (dependency) but their
    // payload (company name) is unchanged except where it really changed.
    db.exec(&format!(
        "UPDATE companies SET name = 'Acme 2' WHERE id = {company}"
    ))
    .await;
    db.touch("companies", company).await;
    let after = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(after.total, 6);
    assert_eq!(
        after.outcomes.synced, 6,
        "the company name is part of every user's payload"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g6_disabled_crms_are_skipped_and_not_counted() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    seed(&db, 3).await;
    let hubspot = RecordingAdapter::new();
    let airtable = RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![
            Crm::new("hubspot", hubspot.clone()).enabled(false),
            Crm::new("airtable", airtable.clone()),
        ],
        vec![user_model(&["hubspot", "airtable"])],
    )
    .await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.total, 3);
    assert_eq!(stats.per_crm.keys().collect::<Vec<_>>(), ["airtable"]);
    assert!(hubspot.upserts().is_empty());
    assert_eq!(airtable.upserts().len(), 3);
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM crm_synchronisations WHERE crm_name = 'hubspot'")
            .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g7_reenabling_a_crm_resumes_and_syncs_what_became_stale() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let (_, users) = seed(&db, 2).await;
    let adapter = RecordingAdapter::new();
    let enabled = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone())],
        vec![user_model(&["hubspot"])],
    )
    .await;
    assert!(enabled
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .is_complete());
    let rows_before = db
        .scalar_text("SELECT CAST(MAX(last_synced_at) AS TEXT) FROM crm_synchronisations")
        .await;

    let disabled = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone()).enabled(false)],
        vec![user_model(&["hubspot"])],
    )
    .await;
    db.exec(&format!(
        "UPDATE users SET full_name = 'Changed' WHERE id = {}",
        users[0]
    ))
    .await;
    db.touch("users", users[0]).await;
    let stats = disabled.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.total, 0);
    assert_eq!(adapter.upserts().len(), 2, "no call while disabled");
    assert_eq!(
        db.scalar_text("SELECT CAST(MAX(last_synced_at) AS TEXT) FROM crm_synchronisations")
            .await,
        rows_before,
        "rows untouched"
    );

    let stats = enabled.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.total, stats.outcomes.synced), (1, 1));
    assert_eq!(
        adapter.upserts().last().unwrap().payload["full_name"],
        "Changed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g16_rows_at_the_error_budget_are_not_retried_until_reset() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let (_, users) = seed(&db, 1).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone()).max_sync_errors(2)],
        vec![user_model(&["hubspot"])],
    )
    .await;
    for _ in 0..2 {
        adapter.fail_next_upsert(etlify::adapters::AdapterError::new(
            etlify::adapters::AdapterErrorKind::ValidationFailed,
            "bad",
        ));
        let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
        assert_eq!(stats.errors, 1);
    }
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.total, 0, "excluded after 2 consecutive failures");
    etlify
        .reset_error_count("hubspot", "User", users[0])
        .await
        .unwrap();
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.outcomes.synced, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g17_records_outside_the_stale_scope_get_no_sync_row() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let (_, users) = seed(&db, 2).await;
    db.exec(&format!(
        "UPDATE users SET active = false WHERE id = {}",
        users[1]
    ))
    .await;
    let adapter = RecordingAdapter::new();
    let model = Model::new("User", "users").bind(
        "hubspot",
        etlify::Binding::new("contacts", "email")
            .payload(etlify::SqlPayload::new("SELECT id, email FROM users"))
            .stale_scope("active"),
    );
    let etlify = engine(&db, vec![Crm::new("hubspot", adapter.clone())], vec![model]).await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.total, 1);
    assert!(etlify
        .sync_row("hubspot", "User", users[1])
        .await
        .unwrap()
        .is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g22_batch_sync_can_be_restricted_to_a_crm_and_models() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    seed(&db, 2).await;
    let hubspot = RecordingAdapter::new();
    let airtable = RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![
            Crm::new("hubspot", hubspot.clone()),
            Crm::new("airtable", airtable.clone()),
        ],
        vec![
            user_model(&["hubspot", "airtable"]),
            company_model(&["hubspot"]),
        ],
    )
    .await;
    // Only airtable, even with explicit models (the gem ignored the CRM there).
    let stats = etlify
        .batch_sync(
            &BatchSyncOptions::new()
                .crm("airtable")
                .models(["User", "Company"]),
        )
        .await
        .unwrap();
    assert_eq!(stats.total, 2);
    assert!(hubspot.upserts().is_empty());
    assert_eq!(
        stats.per_model.get("Company"),
        None,
        "Company is not bound to airtable"
    );

    let stats = etlify
        .batch_sync(&BatchSyncOptions::new().models(["Company"]))
        .await
        .unwrap();
    assert_eq!(stats.per_model.keys().collect::<Vec<_>>(), ["Company"]);
    assert_eq!(hubspot.upserts().len(), 1);

    let err = etlify
        .batch_sync(&BatchSyncOptions::new().models(["Ghost"]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let err = etlify
        .batch_sync(&BatchSyncOptions::new().crm("salesforce"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x18_full_reconcile_catches_writes_that_bypassed_updated_at() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let (_, users) = seed(&db, 3).await;
    let adapter = Arc::new(NullAdapter::new());
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone())],
        vec![user_model(&["hubspot"])],
    )
    .await;
    assert!(etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .is_complete());
    // update_column-style write: updated_at untouched.
    db.exec(&format!(
        "UPDATE users SET full_name = 'Silent' WHERE id = {}",
        users[1]
    ))
    .await;

    let stale_run = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stale_run.total, 0, "invisible to the stale finder");
    let full = etlify
        .batch_sync(&BatchSyncOptions::new().full_reconcile(true))
        .await
        .unwrap();
    assert_eq!(
        (full.total, full.outcomes.synced, full.outcomes.not_modified),
        (3, 1, 2)
    );
    assert_eq!(adapter.calls().batch_upserted_records, 4);
    let again = etlify
        .batch_sync(&BatchSyncOptions::new().full_reconcile(true))
        .await
        .unwrap();
    assert_eq!(
        again.outcomes.synced, 0,
        "the digest keeps CRM calls to real changes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_counts_what_a_run_would_process_without_sending_anything() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    seed(&db, 5).await;
    let adapter = Arc::new(NullAdapter::new());
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone())],
        vec![user_model(&["hubspot"]), company_model(&["hubspot"])],
    )
    .await;
    let plan = etlify
        .plan(&BatchSyncOptions::new().batch_size(2))
        .await
        .unwrap();
    let counts: Vec<(&str, &str, usize)> = plan
        .iter()
        .map(|e| (e.model.as_str(), e.crm.as_str(), e.records))
        .collect();
    assert_eq!(counts, [("User", "hubspot", 5), ("Company", "hubspot", 1)]);
    assert_eq!(
        adapter.calls(),
        etlify::adapters::NullAdapterCalls::default(),
        "nothing sent"
    );
    assert_eq!(db.sync_row_count().await, 0, "nothing written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_sync_reports_progress_after_each_page() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    seed(&db, 5).await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", Arc::new(NullAdapter::new()))],
        vec![user_model(&["hubspot"])],
    )
    .await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let options = BatchSyncOptions::new().batch_size(2).progress(move |p| {
        sink.lock()
            .unwrap()
            .push((p.model.to_owned(), p.page.synced, p.total))
    });
    assert!(etlify.batch_sync(&options).await.unwrap().is_complete());
    let seen = seen.lock().unwrap().clone();
    // Pages are reported as they finish (requests of several pages may be
    // in flight at once): the running total grows to the whole run.
    let totals: Vec<usize> = seen.iter().map(|(_, _, total)| *total).collect();
    let mut pages: Vec<usize> = seen.iter().map(|(_, synced, _)| *synced).collect();
    let running: Vec<usize> = pages
        .iter()
        .scan(0, |sum, page| {
            *sum += page;
            Some(*sum)
        })
        .collect();
    assert_eq!(totals, running, "each report adds its page to the total");
    pages.sort_unstable();
    assert_eq!(pages, [1, 2, 2]);
    assert!(seen.iter().all(|(model, _, _)| model == "User"));
}

/// G-16: where each (model, CRM) stands, which records fail and why, and
/// resetting their error budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g16_status_failing_records_and_their_reset() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    for i in 0..3 {
        db.insert_user(&format!("u{i}@x.io"), None).await;
    }
    let adapter = RecordingAdapter::new();
    adapter.fail_next_upsert(
        etlify::adapters::AdapterError::new(
            etlify::adapters::AdapterErrorKind::ValidationFailed,
            "INVALID_EMAIL",
        )
        .status(400),
    );
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone())],
        vec![user_model(&["hubspot"])],
    )
    .await;
    assert!(etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .is_complete());

    let status = etlify.status().await.unwrap();
    assert_eq!(status.len(), 1);
    let entry = &status[0];
    assert_eq!(
        (entry.model.as_str(), entry.crm.as_str()),
        ("User", "hubspot")
    );
    assert_eq!((entry.records, entry.failing, entry.over_budget), (3, 1, 0));
    // Synced; stale by definition if another test's transaction on the
    // shared database began before the sync read them.
    assert_eq!(entry.in_sync + entry.stale, 2, "{entry:?}");
    assert_eq!(
        etlify.plan(&BatchSyncOptions::new()).await.unwrap()[0].records,
        1,
        "the failing record is retried (under its budget)"
    );
    assert!(entry.last_synced_at.is_some());

    let failing = etlify.failing(Some("hubspot"), None, 10).await.unwrap();
    assert_eq!(failing.len(), 1);
    assert!(failing[0]
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains("INVALID_EMAIL"));
    assert!(etlify
        .failing(Some("airtable"), None, 10)
        .await
        .unwrap()
        .is_empty());

    assert_eq!(
        etlify
            .reset_errors(Some("hubspot"), Some("User"), &[])
            .await
            .unwrap(),
        1
    );
    assert!(etlify.failing(None, None, 10).await.unwrap().is_empty());
}

/// A CRM pointed at another account: `forget` drops what the engine knows
/// of that CRM's objects (of one model, or all), so the next run sends every
/// record again, the other CRM untouched; while a batch run of the CRM is
/// under way it does nothing and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgetting_a_crm_makes_the_next_run_send_everything_again() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    seed(&db, 5).await;
    let hubspot = Arc::new(NullAdapter::new());
    let etlify = engine(
        &db,
        vec![
            Crm::new("hubspot", hubspot.clone()),
            Crm::new("airtable", Arc::new(NullAdapter::new())),
        ],
        vec![
            user_model(&["hubspot", "airtable"]),
            company_model(&["hubspot"]),
        ],
    )
    .await;
    assert_eq!(
        etlify
            .batch_sync(&BatchSyncOptions::new())
            .await
            .unwrap()
            .total,
        11
    );

    let forgotten = etlify.forget("hubspot", Some("User")).await.unwrap();
    assert_eq!((forgotten.busy, forgotten.sync_rows), (false, 5));
    let again = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(
        (again.total, again.per_crm["hubspot"].synced),
        (5, 5),
        "hubspot's users only: {again:?}"
    );

    let forgotten = etlify.forget("hubspot", None).await.unwrap();
    assert_eq!(forgotten.sync_rows, 6, "users and the company");
    let again = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(again.total, 6, "{again:?}");

    // While a batch run of the CRM holds its lease (another engine's, its
    // CRM not answering yet), nothing is forgotten.
    etlify.forget("hubspot", None).await.unwrap();
    let slow_adapter = BatchRecordingAdapter::new(10);
    let answer = slow_adapter.hold_batches();
    let slow = hubspot_users_on(db.another_store(4).await, slow_adapter.clone()).await;
    let running = tokio::spawn(async move { slow.batch_sync(&BatchSyncOptions::new()).await });
    slow_adapter.batch_calls_reaching(1).await;
    let refused = etlify.forget("hubspot", None).await.unwrap();
    assert_eq!((refused.busy, refused.sync_rows), (true, 0));
    answer.open();
    assert!(running.await.unwrap().unwrap().is_complete());

    let unknown = etlify.forget("hubspto", None).await.unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::Config);
    assert!(
        unknown.to_string().contains("did you mean `hubspot`?"),
        "{unknown}"
    );
    let unknown = etlify.forget("hubspot", Some("Usr")).await.unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::Config);
    assert!(
        unknown.to_string().contains("did you mean `User`?"),
        "{unknown}"
    );
}

/// Issue 26 (8): a run a refused token cut short answers `Ok` with the
/// refusal in its statistics; `into_result` turns it into an error naming
/// the CRM and why, so that it cannot be taken for a finished run; a run
/// that went to the end passes through unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_an_interrupted_run_becomes_an_error_through_into_result() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    seed(&db, 2).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone())],
        vec![user_model(&["hubspot"])],
    )
    .await;
    adapter.fail_next_upsert(etlify::adapters::AdapterError::new(
        etlify::adapters::AdapterErrorKind::Unauthorized,
        "token refused",
    ));
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(!stats.is_complete());
    let error = stats.into_result().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Incomplete);
    let message = error.to_string();
    assert!(
        message.contains("hubspot") && message.contains("token refused"),
        "{message}"
    );
    let stats = etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(stats.outcomes.synced, 2);
}

/// Issue 26 (12): each failed record is logged at warn, naming its CRM,
/// model, id, the kind of failure and the CRM's message (never a payload
/// value), at most ten a write and then one line counting the rest: a
/// page the CRM rejects whole cannot flood the log.
#[tokio::test]
async fn probe_failed_records_are_logged_at_warn_without_flooding() {
    // This test's runtime runs on this thread only: the engine logs here.
    let logs = crate::support::logs::CapturedLogs::start(tracing::Level::WARN);

    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let (_, users) = seed(&db, 30).await;
    let adapter = RecordingAdapter::new();
    for _ in 0..30 {
        adapter.fail_next_upsert(etlify::adapters::AdapterError::new(
            etlify::adapters::AdapterErrorKind::ValidationFailed,
            "Property values were not valid",
        ));
    }
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone())],
        vec![user_model(&["hubspot"])],
    )
    .await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.errors, 30);

    let logged = logs.text();
    let lines: Vec<&str> = logged.lines().filter(|l| l.contains("WARN")).collect();
    let one_by_one: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains("Sync failed."))
        .collect();
    let counted: usize = lines
        .iter()
        .filter(|l| l.contains("More records failed"))
        .map(|l| {
            l.split("records=")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(
        one_by_one.len() + counted,
        30,
        "every failure logged or counted:\n{logged}"
    );
    assert!(one_by_one.len() < 30, "not one line each:\n{logged}");
    for line in &one_by_one {
        assert!(
            line.contains("crm=\"hubspot\"") || line.contains("crm=hubspot"),
            "{line}"
        );
        assert!(
            line.contains("kind=\"rejected\"") || line.contains("kind=rejected"),
            "{line}"
        );
        assert!(line.contains("Property values were not valid"), "{line}");
        assert!(!line.contains("@x.io"), "no payload value: {line}");
    }
    assert!(
        users.iter().any(|id| logged.contains(&format!("id={id}"))),
        "{logged}"
    );
}
