//! The tests of `jobs` that run on each backend. This file is compiled
//! twice, as `jobs::sqlite` and `jobs::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

/// As in the gem: with a record queue, `sync` enqueues once per record while the
/// job is queued; another record, or another CRM, is another job. Nothing
/// is sent until the job runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_requests_are_deduplicated_while_queued() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let (a, b) = (
        db.insert_user("a@x.io", None).await,
        db.insert_user("b@x.io", None).await,
    );
    let adapter = RecordingAdapter::new();
    let (etlify, queue) = queued_users(&db, adapter.clone()).await;

    assert!(etlify.enqueues_records());
    let first = etlify.sync("hubspot", "User", a).await.unwrap();
    assert_eq!(first, SyncDispatch::Enqueued(Enqueued::New));
    let again = etlify.sync("hubspot", "User", a).await.unwrap();
    assert_eq!(again, SyncDispatch::Enqueued(Enqueued::AlreadyQueued));
    let other = etlify.sync("hubspot", "User", b).await.unwrap();
    assert_eq!(other, SyncDispatch::Enqueued(Enqueued::New));
    let jobs = queue.take_records();
    assert_eq!(
        jobs.iter()
            .map(|(job, _)| job.id.as_int().unwrap())
            .collect::<Vec<_>>(),
        [a, b],
        "one job per record"
    );
    assert!(adapter.upserts().is_empty(), "nothing ran inline");
    assert_eq!(etlify.job_counts().await.unwrap().queued, 2);

    // The job runs: the record is synced and the next request is new.
    let report = etlify
        .perform(&Job::Record(jobs[0].0.clone()))
        .await
        .unwrap();
    assert_eq!(report, JobReport::Record(SyncOutcome::Synced));
    assert_eq!(
        etlify.sync("hubspot", "User", a).await.unwrap(),
        SyncDispatch::Enqueued(Enqueued::New)
    );
    // Unknown names fail at the request, not in the job.
    assert!(etlify.sync("hubspot", "Nope", a).await.is_err());
}

/// X-1 (the gem dropped such requests): a request made while the
/// record's job runs is answered "after running", and once the job ends a
/// new one is queued, which sends the change made meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_a_request_while_its_job_runs_is_not_lost() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    // The CRM's latency: the time the application has to act in. (Not a
    // gate held until it has: the next job would then run right after the
    // change, and on PostgreSQL a sync is in sync only as of the oldest
    // transaction open, which a test beside this one may have opened
    // just before the change.)
    adapter.delay_upserts(Duration::from_millis(400));
    let (etlify, queue) = queued_users(&db, adapter.clone()).await;
    etlify.sync("hubspot", "User", user).await.unwrap();
    let (job, _) = queue.take_records().pop().unwrap();

    let running = {
        let etlify = etlify.clone();
        let job = Job::Record(job);
        tokio::spawn(async move { etlify.perform(&job).await })
    };
    // While the CRM answers, the application changes the record and asks again.
    adapter.upserts_reaching(1).await;
    db.exec(&format!(
        "UPDATE users SET full_name = 'Renamed' WHERE id = {user}"
    ))
    .await;
    db.touch("users", user).await;
    assert_eq!(
        etlify.sync("hubspot", "User", user).await.unwrap(),
        SyncDispatch::Enqueued(Enqueued::AfterRunning)
    );
    assert_eq!(etlify.job_counts().await.unwrap().running, 1);
    assert_eq!(
        running.await.unwrap().unwrap(),
        JobReport::Record(SyncOutcome::Synced)
    );

    let next = queue.take_records();
    assert_eq!(next.len(), 1, "a new job after the running one");
    assert_eq!(next[0].0.attempt, 1);
    let report = etlify
        .perform(&Job::Record(next[0].0.clone()))
        .await
        .unwrap();
    assert_eq!(report, JobReport::Record(SyncOutcome::Synced));
    let sent = adapter.upserts();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].payload["full_name"], "Renamed");
    assert!(!db.user_is_stale("hubspot", user).await);
    assert!(queue.take_records().is_empty());
    assert_eq!(etlify.job_counts().await.unwrap().queued, 0);
}

/// a failure outside the synchronizer's own handling (the CRM
/// unavailable after the adapter's retries) reschedules the job with a
/// doubling delay, up to the attempts allowed; then it gives up, leaves no
/// row behind, and the record stays stale for the finder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_retry_with_backoff_then_give_up() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let (etlify, queue) = queued_users(&db, adapter.clone()).await;
    for _ in 0..3 {
        adapter.fail_next_upsert(transient("service unavailable"));
    }

    let mut job = record_job(user);
    let mut delays = Vec::new();
    loop {
        match etlify.perform(&job).await.unwrap() {
            JobReport::Rescheduled { delay, reason } => {
                assert!(reason.contains("service unavailable"), "{reason}");
                let (next, queued_delay) = queue.take_records().pop().unwrap();
                assert_eq!(queued_delay, delay);
                delays.push(delay);
                job = Job::Record(next);
            }
            JobReport::GaveUp { reason } => {
                assert!(reason.contains("service unavailable"), "{reason}");
                break;
            }
            other => panic!("unexpected report {other:?}"),
        }
    }
    assert_eq!(
        delays,
        [Duration::from_secs(10), Duration::from_secs(20)],
        "3 attempts: 2 retries, doubling"
    );
    assert!(queue.take_records().is_empty());
    assert!(db.user_is_stale("hubspot", user).await);
    let row = etlify.sync_row("hubspot", "User", user).await.unwrap();
    assert!(
        row.is_none_or(|r| r.error_count == 0),
        "not the record's fault (X-3)"
    );
    // Nothing blocks the next request.
    assert_eq!(
        etlify.sync("hubspot", "User", user).await.unwrap(),
        SyncDispatch::Enqueued(Enqueued::New)
    );
}

/// As in the gem: a job whose record was deleted does nothing and ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_a_record_deleted_before_its_job_runs_ends_it() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let (etlify, queue) = queued_users(&db, adapter.clone()).await;
    etlify.sync("hubspot", "User", user).await.unwrap();
    db.exec(&format!("DELETE FROM users WHERE id = {user}"))
        .await;
    let (job, _) = queue.take_records().pop().unwrap();
    assert_eq!(
        etlify.perform(&Job::Record(job)).await.unwrap(),
        JobReport::RecordGone
    );
    assert!(adapter.upserts().is_empty());
    assert!(queue.take_records().is_empty());
    assert_eq!(etlify.job_counts().await.unwrap().queued, 0);
}

/// G-9: an asynchronous batch sync requests one job per enabled CRM (not
/// one per record), answers the gem's `{ total, per_model, errors }`, and
/// a second request while the first is queued queues nothing (G-10).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g9_batch_sync_async_requests_one_job_per_enabled_crm() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    for i in 0..3 {
        db.insert_user(&format!("u{i}@x.io"), None).await;
    }
    db.insert_company("acme").await;
    let queue = RecordingQueue::new();
    let (hubspot, airtable) = (RecordingAdapter::new(), RecordingAdapter::new());
    let etlify = queued_engine(
        &db,
        vec![
            Crm::new("hubspot", hubspot.clone()),
            Crm::new("airtable", airtable.clone()),
            Crm::new("off", RecordingAdapter::new()).enabled(false),
        ],
        vec![
            user_model(&["hubspot", "airtable", "off"]),
            company_model(&["hubspot"]),
        ],
        &queue,
    )
    .await;

    let enqueued = etlify
        .batch_sync_async(&BatchSyncOptions::new())
        .await
        .unwrap();
    assert_eq!(enqueued.total, 3 + 3 + 1);
    assert_eq!(enqueued.per_model["User"], 6);
    assert_eq!(enqueued.per_model["Company"], 1);
    assert_eq!(enqueued.errors, 0);
    assert_eq!(
        enqueued.crms,
        [
            ("hubspot".to_owned(), Enqueued::New),
            ("airtable".to_owned(), Enqueued::New)
        ]
    );
    let jobs = queue.take_batches();
    assert_eq!(
        jobs.iter().map(|(j, _)| j.crm.as_str()).collect::<Vec<_>>(),
        ["hubspot", "airtable"]
    );
    assert!(hubspot.upserts().is_empty() && airtable.upserts().is_empty());

    let again = etlify
        .batch_sync_async(&BatchSyncOptions::new().crm("hubspot"))
        .await
        .unwrap();
    assert_eq!(
        again.crms,
        [("hubspot".to_owned(), Enqueued::AlreadyQueued)]
    );
    assert!(queue.take_batches().is_empty());

    // The job finds its CRM's stale records itself.
    let report = etlify
        .perform(&Job::Batch(jobs[0].0.clone()))
        .await
        .unwrap();
    let JobReport::Batch(stats) = report else {
        panic!("expected a batch run, got {report:?}");
    };
    assert_eq!(stats.total, 4);
    assert_eq!(hubspot.upserts().len(), 4);
    assert!(airtable.upserts().is_empty(), "one CRM per job");

    // A model selection does not fit a per-CRM job.
    let refused = etlify
        .batch_sync_async(&BatchSyncOptions::new().models(["User"]))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), etlify::ErrorKind::Config);
    assert!(refused.to_string().contains("models"), "{refused}");
}

/// G-10, X-10: a batch job whose CRM another batch run holds does not run
/// beside it: it is rescheduled (without spending an attempt) for when the
/// holder's lease would end, at most the gem's 10 s (a live holder that
/// just took it), and runs once the other run released the CRM.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g10_a_batch_job_never_runs_beside_another_run_of_its_crm() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    for i in 0..3 {
        db.insert_user(&format!("u{i}@x.io"), None).await;
    }
    let adapter = RecordingAdapter::new();
    let answer = adapter.hold_upserts();
    let (etlify, queue) = queued_users(&db, adapter.clone()).await;

    let inline = {
        let etlify = etlify.clone();
        tokio::spawn(async move { etlify.batch_sync(&BatchSyncOptions::new()).await })
    };
    // The inline run holds the CRM while its first record is being sent.
    adapter.upserts_reaching(1).await;
    etlify
        .batch_sync_async(&BatchSyncOptions::new())
        .await
        .unwrap();
    let (job, _) = queue.take_batches().pop().unwrap();
    let report = etlify.perform(&Job::Batch(job)).await.unwrap();
    let JobReport::Rescheduled { delay, reason } = report else {
        panic!("expected a reschedule, got {report:?}");
    };
    assert_eq!(delay, Duration::from_secs(10));
    assert!(reason.contains("another batch run"), "{reason}");
    let (retry, queued_delay) = queue.take_batches().pop().unwrap();
    assert_eq!(
        (retry.attempt, queued_delay),
        (1, delay),
        "waiting for the CRM is not an attempt"
    );

    answer.open();
    let inline = inline.await.unwrap().unwrap();
    assert_eq!(inline.total, 3);
    assert_eq!(adapter.upserts().len(), 3, "no record sent twice");
    let JobReport::Batch(stats) = etlify.perform(&Job::Batch(retry)).await.unwrap() else {
        panic!("expected a batch run");
    };
    assert_eq!(stats.total, 0, "nothing left to do");
}

/// Issue 26, item 3: a batch job whose CRM a dead holder's lease still
/// holds (3 s left by the database's clock) comes back when that lease
/// ends, not after a fixed 10 s, and sends nothing meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_a_batch_job_finding_a_dead_holders_crm_comes_back_when_its_lease_ends() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let (etlify, queue) = queued_users(&db, adapter.clone()).await;
    let in_3_s = if db.is_postgres() {
        "(now() AT TIME ZONE 'UTC') + interval '3 seconds'"
    } else if db.is_mysql() {
        "UTC_TIMESTAMP(6) + INTERVAL 3 SECOND"
    } else {
        "strftime('%Y-%m-%d %H:%M:%f000', 'now', '+3 seconds')"
    };
    db.exec(&format!(
        "INSERT INTO etlify_leases (name, owner, expires_at) \
         VALUES ('[\"batch\",\"hubspot\"]', 'a-dead-worker', {in_3_s})"
    ))
    .await;

    let job = Job::Batch(BatchJob {
        crm: "hubspot".into(),
        attempt: 1,
        trigger: etlify::RunTrigger::Request,
    });
    let report = etlify.perform(&job).await.unwrap();
    let JobReport::Rescheduled { delay, reason } = report else {
        panic!("expected a reschedule, got {report:?}");
    };
    assert!(
        (Duration::from_secs(1)..=Duration::from_secs(3)).contains(&delay),
        "back when the lease ends, not later: {delay:?}"
    );
    assert!(reason.contains("another batch run"), "{reason}");
    let (retry, queued_delay) = queue.take_batches().pop().unwrap();
    assert_eq!((retry.attempt, queued_delay), (1, delay));
    assert!(adapter.upserts().is_empty());
}

/// X-10 (the gem retried every 10 s for ever): a batch job stopped by the CRM's
/// throttling reschedules after the server's `Retry-After`, and gives up
/// after the attempts allowed instead of looping for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x10_a_throttled_batch_job_waits_the_servers_delay_with_bounded_attempts() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let (etlify, queue) = queued_users(&db, adapter.clone()).await;
    let throttled = || {
        AdapterError::new(AdapterErrorKind::RateLimited, "too many requests")
            .status(429)
            .retry_after(Duration::from_secs(7))
    };
    let mut job = Job::Batch(BatchJob {
        crm: "hubspot".into(),
        attempt: 1,
        trigger: etlify::RunTrigger::Request,
    });
    for attempt in 1..=3 {
        adapter.fail_next_upsert(throttled());
        let report = etlify.perform(&job).await.unwrap();
        if attempt < 3 {
            assert_eq!(
                report,
                JobReport::Rescheduled {
                    delay: Duration::from_secs(7),
                    reason: report_reason(&report)
                }
            );
            let (next, delay) = queue.take_batches().pop().unwrap();
            assert_eq!((next.attempt, delay), (attempt + 1, Duration::from_secs(7)));
            job = Job::Batch(next);
        } else {
            let JobReport::Batch(stats) = report else {
                panic!("the last attempt reports its run, got {report:?}");
            };
            assert!(!stats.is_complete());
            assert!(
                queue.take_batches().is_empty(),
                "given up: not queued again"
            );
        }
    }
}

/// G-18 through the queue: a record buffered on its dependency
/// requests the dependency's sync as a job; that job, once the company is
/// in the CRM, requests the waiting user's job; nothing runs inline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g18_follow_up_syncs_are_record_jobs() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let company = db.insert_company("acme").await;
    let user = db.insert_user("a@x.io", Some(company)).await;
    let adapter = RecordingAdapter::new();
    let queue = RecordingQueue::new();
    let etlify = queued_engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone())],
        vec![user_with_company_dependency(), company_model(&["hubspot"])],
        &queue,
    )
    .await;

    let report = etlify.perform(&record_job(user)).await.unwrap();
    assert_eq!(report, JobReport::Record(SyncOutcome::Buffered));
    assert!(
        adapter.upserts().is_empty(),
        "the company was not synced inline"
    );
    let jobs = queue.take_records();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].0.model.as_str(), jobs[0].0.id.as_int().unwrap()),
        ("Company", company)
    );

    let report = etlify
        .perform(&Job::Record(jobs[0].0.clone()))
        .await
        .unwrap();
    assert_eq!(report, JobReport::Record(SyncOutcome::Synced));
    let jobs = queue.take_records();
    assert_eq!(jobs.len(), 1, "the waiting user is requested");
    assert_eq!(
        (jobs[0].0.model.as_str(), jobs[0].0.id.as_int().unwrap()),
        ("User", user)
    );
    let report = etlify
        .perform(&Job::Record(jobs[0].0.clone()))
        .await
        .unwrap();
    assert_eq!(report, JobReport::Record(SyncOutcome::Synced));
    let sent: Vec<_> = adapter
        .upserts()
        .iter()
        .map(|c| c.object_type.clone())
        .collect();
    assert_eq!(sent, ["companies", "contacts"]);
}

/// G-18 through the queue: two records that depend on each other
/// do not wait for each other for ever: the jobs settle, each record in
/// the CRM once, and nothing is left queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g18_a_dependency_cycle_through_the_queue_settles() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    db.exec("ALTER TABLE companies ADD COLUMN owner_id bigint")
        .await;
    let company = db.insert_company("acme").await;
    let user = db.insert_user("a@x.io", Some(company)).await;
    db.exec(&format!(
        "UPDATE companies SET owner_id = {user} WHERE id = {company}"
    ))
    .await;
    let company_owned_by_user = Model::new("Company", "companies").bind(
        "hubspot",
        etlify::Binding::new("companies", "domain")
            .payload(etlify::SqlPayload::new(
                "SELECT id, name, domain FROM companies",
            ))
            .sync_dependency(etlify::SyncDependency::new("User", "owner_id")),
    );
    let adapter = RecordingAdapter::new();
    let queue = RecordingQueue::new();
    let etlify = queued_engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone())],
        vec![user_with_company_dependency(), company_owned_by_user],
        &queue,
    )
    .await;

    etlify.sync("hubspot", "User", user).await.unwrap();
    let mut performed = 0;
    loop {
        let jobs = queue.take_records();
        if jobs.is_empty() {
            break;
        }
        for (job, _) in jobs {
            performed += 1;
            assert!(performed <= 6, "the jobs do not settle");
            etlify.perform(&Job::Record(job)).await.unwrap();
        }
    }
    let sent: Vec<_> = adapter
        .upserts()
        .iter()
        .map(|c| c.object_type.clone())
        .collect();
    assert_eq!(
        sent,
        ["companies", "contacts"],
        "each once, the company first"
    );
    assert!(db.user_recorded_synced("hubspot", user).await);
    assert_eq!(etlify.job_counts().await.unwrap().queued, 0);
}

/// record jobs and batch jobs go to two separate handlers; a job
/// performed from the application's own queue still takes the CRM's
/// database-held locks (a batch job beside an inline run is rescheduled).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_record_and_batch_jobs_go_to_separate_handlers() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let (records, batches) = (RecordingQueue::new(), RecordingQueue::new());
    let etlify = builder(
        db.store.clone(),
        vec![Crm::new("hubspot", adapter.clone())],
        vec![user_model(&["hubspot"])],
    )
    .record_jobs(records.clone())
    .batch_jobs(batches.clone())
    .build()
    .await
    .unwrap();

    etlify.sync("hubspot", "User", user).await.unwrap();
    etlify
        .batch_sync_async(&BatchSyncOptions::new())
        .await
        .unwrap();
    assert_eq!(records.take_records().len(), 1);
    assert!(records.take_batches().is_empty());
    assert!(batches.take_records().is_empty());
    assert_eq!(batches.take_batches().len(), 1);

    // Only a batch handler: `sync` runs inline, batch jobs are queued.
    let batch_only = builder(
        db.store.clone(),
        vec![Crm::new("hubspot", adapter.clone())],
        vec![user_model(&["hubspot"])],
    )
    .batch_jobs(batches.clone())
    .build()
    .await
    .unwrap();
    assert!(!batch_only.enqueues_records());
    assert_eq!(
        batch_only.sync("hubspot", "User", user).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
}

/// G-23: a job carries its CRM's name, as stored by any queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g23_jobs_carry_the_crm_name() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let (etlify, queue) = queued_users(&db, RecordingAdapter::new()).await;
    etlify.sync("hubspot", "User", user).await.unwrap();
    etlify
        .batch_sync_async(&BatchSyncOptions::new())
        .await
        .unwrap();
    let record = Job::Record(queue.take_records().pop().unwrap().0);
    let batch = Job::Batch(queue.take_batches().pop().unwrap().0);
    assert_eq!(
        serde_json::to_value(&record).unwrap(),
        serde_json::json!({"job": "record", "v": 1, "crm": "hubspot", "model": "User", "id": user, "attempt": 1})
    );
    assert_eq!(
        serde_json::to_value(&batch).unwrap(),
        serde_json::json!({"job": "batch", "v": 1, "crm": "hubspot", "attempt": 1, "trigger": "request"})
    );
    let back: Job = serde_json::from_value(serde_json::to_value(&record).unwrap()).unwrap();
    assert_eq!(back, record);
}
