//! The tests of `sync` that run on each backend. This file is compiled
//! twice, as `sync::sqlite` and `sync::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g25_one_record_syncs_inline_from_rust() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let company = db.insert_company("acme").await;
    let user = db.insert_user("a@x.io", Some(company)).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;

    let dispatch = etlify.sync("hubspot", "User", user).await.unwrap();
    assert_eq!(dispatch, SyncDispatch::Completed(SyncOutcome::Synced));
    assert!(dispatch.succeeded());
    let expected =
        payload(json!({"email": "a@x.io", "full_name": "Name of a@x.io", "company": "acme"}));
    let calls = adapter.upserts();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].payload, expected);
    assert_eq!(
        (calls[0].object_type.as_str(), calls[0].id_property.as_str()),
        ("contacts", "email")
    );
    assert_eq!(calls[0].crm_id, None);

    let row = etlify
        .sync_row("hubspot", "User", user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.crm_id.as_deref(), Some("crm-a@x.io"));
    assert_eq!(
        row.last_digest.as_deref(),
        Some(stable_sha256(&Value::Object(expected)).as_str())
    );
    assert_eq!((row.error_count, row.last_error), (0, None));
    assert!(row.last_synced_at.is_some());

    // Nothing changed: nothing sent.
    let again = etlify.sync("hubspot", "User", user).await.unwrap();
    assert_eq!(again, SyncDispatch::Completed(SyncOutcome::NotModified));
    assert_eq!(adapter.upserts().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g3_disabled_crm_sync_returns_success_and_touches_nothing() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone()).enabled(false)],
        vec![user_model(&["hubspot"])],
    )
    .await;

    let dispatch = etlify.sync("hubspot", "User", user).await.unwrap();
    assert_eq!(dispatch, SyncDispatch::Disabled);
    assert!(dispatch.succeeded());
    assert!(adapter.upserts().is_empty());
    assert_eq!(db.sync_row_count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g4_disabled_synchronizer_makes_no_adapter_call_and_no_write() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone()).enabled(false)],
        vec![user_model(&["hubspot"])],
    )
    .await;

    let outcome = etlify
        .synchronizer()
        .call("hubspot", "User", user)
        .await
        .unwrap();
    assert_eq!(outcome, SyncOutcome::Disabled);
    assert!(adapter.upserts().is_empty());
    assert_eq!(db.sync_row_count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g21_each_crm_keeps_its_own_sync_row_for_a_record() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let hubspot = RecordingAdapter::new();
    let airtable = RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![
            Crm::new("hubspot", hubspot.clone()),
            Crm::new("airtable", airtable.clone()),
        ],
        vec![user_model(&["hubspot", "airtable"])],
    )
    .await;
    hubspot.fail_next_upsert(validation("INVALID_EMAIL"));

    let failed = etlify
        .synchronizer()
        .call("hubspot", "User", user)
        .await
        .unwrap();
    let error = record_error(&failed);
    assert_eq!(error.kind, RecordErrorKind::Rejected);
    assert!(error.message.contains("INVALID_EMAIL"), "{error}");
    assert_eq!(
        etlify
            .synchronizer()
            .call("airtable", "User", user)
            .await
            .unwrap(),
        SyncOutcome::Synced
    );

    assert_eq!(db.sync_row_count().await, 2);
    let hs = etlify
        .sync_row("hubspot", "User", user)
        .await
        .unwrap()
        .unwrap();
    let at = etlify
        .sync_row("airtable", "User", user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (hs.crm_name.as_str(), hs.error_count, hs.crm_id),
        ("hubspot", 1, None)
    );
    assert_eq!((at.crm_name.as_str(), at.error_count), ("airtable", 0));
    assert_eq!(at.crm_id.as_deref(), Some("crm-a@x.io"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g24_a_model_bound_to_two_crms_syncs_to_each_with_its_own_binding() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let hubspot = RecordingAdapter::new();
    let airtable = RecordingAdapter::new();
    let model = user_model(&["hubspot"]).bind(
        "airtable",
        Binding::new("People", "Email")
            .payload(SqlPayload::new("SELECT id, email AS \"Email\" FROM users")),
    );
    let etlify = engine(
        &db,
        vec![
            Crm::new("hubspot", hubspot.clone()),
            Crm::new("airtable", airtable.clone()),
        ],
        vec![model],
    )
    .await;

    etlify.sync("hubspot", "User", user).await.unwrap();
    etlify.sync("airtable", "User", user).await.unwrap();
    assert_eq!(hubspot.upserts().len(), 1);
    let at = airtable.upserts();
    assert_eq!(at.len(), 1);
    assert_eq!(at[0].object_type, "People");
    assert_eq!(at[0].payload, payload(json!({"Email": "a@x.io"})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x1_a_change_committed_during_a_sync_leaves_the_record_stale() {
    let db = TestDb::new(BACKEND).await;
    let db = Arc::new(db.with_app_schema().await);
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;

    // Control: an undisturbed sync leaves the record fresh.
    etlify.sync("hubspot", "User", user).await.unwrap();
    assert!(!db.user_is_stale("hubspot", user).await);

    // The application commits a change after the payload was read and
    // before the sync state is written.
    let writer = db.clone();
    adapter.on_upsert(move |_| {
        let writer = writer.clone();
        Box::pin(async move {
            writer
                .exec(&format!(
                    "UPDATE users SET full_name = 'Changed' WHERE id = {user}"
                ))
                .await;
            writer.touch("users", user).await;
        })
    });
    db.exec(&format!(
        "UPDATE users SET full_name = 'First change' WHERE id = {user}"
    ))
    .await;
    db.touch("users", user).await;
    assert_eq!(
        etlify.sync("hubspot", "User", user).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    assert!(
        db.user_is_stale("hubspot", user).await,
        "the change made during the sync must not be lost"
    );

    // The next sync sends it.
    let calls_before = adapter.upserts().len();
    assert_eq!(
        etlify.sync("hubspot", "User", user).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    let last = adapter.upserts().pop().unwrap();
    assert_eq!(adapter.upserts().len(), calls_before + 1);
    assert_eq!(last.payload["full_name"], "Changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x2_the_known_crm_id_is_passed_to_the_adapter() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;

    etlify.sync("hubspot", "User", user).await.unwrap();
    db.exec(&format!(
        "UPDATE users SET email = 'new@x.io' WHERE id = {user}"
    ))
    .await;
    db.touch("users", user).await;
    etlify.sync("hubspot", "User", user).await.unwrap();

    let calls = adapter.upserts();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[1].crm_id.as_deref(),
        Some("crm-a@x.io"),
        "update by id, not by the changed email"
    );
    assert_eq!(calls[1].payload["email"], "new@x.io");
    let row = etlify
        .sync_row("hubspot", "User", user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.crm_id.as_deref(), Some("crm-a@x.io"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x8_concurrent_syncs_of_one_record_make_one_upsert() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    adapter.delay_upserts(Duration::from_millis(300));
    let etlify = hubspot_users(&db, adapter.clone()).await;

    let (a, b) = (etlify.clone(), etlify.clone());
    let first = tokio::spawn(async move { a.synchronizer().call("hubspot", "User", user).await });
    let second = tokio::spawn(async move { b.synchronizer().call("hubspot", "User", user).await });
    let mut outcomes = vec![
        first.await.unwrap().unwrap(),
        second.await.unwrap().unwrap(),
    ];
    outcomes.sort_by_key(|o| o.as_str());
    assert_eq!(outcomes, [SyncOutcome::NotModified, SyncOutcome::Synced]);
    assert_eq!(
        adapter.upserts().len(),
        1,
        "the second sync saw the first one's digest"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x12_guard_false_stamps_the_row_and_clears_its_errors() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    db.exec(&format!(
        "UPDATE users SET active = false WHERE id = {user}"
    ))
    .await;
    db.insert_sync_row("hubspot", "User", user, 2, Some("old failure"))
        .await;
    let adapter = RecordingAdapter::new();
    let model = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new("SELECT id, email FROM users"))
            .sync_if(SyncIf::Sql("active".into())),
    );
    let etlify = engine(&db, vec![Crm::new("hubspot", adapter.clone())], vec![model]).await;

    assert_eq!(
        etlify.sync("hubspot", "User", user).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Skipped)
    );
    assert!(adapter.upserts().is_empty());
    let row = etlify
        .sync_row("hubspot", "User", user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.error_count, row.last_error), (0, None));
    assert!(
        row.last_synced_at.is_some(),
        "stamped, so it is not rescanned forever"
    );
    assert!(!db.user_is_stale("hubspot", user).await);

    // Eligible again: synced.
    db.exec(&format!("UPDATE users SET active = true WHERE id = {user}"))
        .await;
    assert_eq!(
        etlify.sync("hubspot", "User", user).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x12_payload_guard_false_is_skipped_the_same_way() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@internal.test", None).await;
    let adapter = RecordingAdapter::new();
    let model = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new("SELECT id, email FROM users"))
            .sync_if(SyncIf::Payload(Arc::new(|p: &Payload| {
                p["email"]
                    .as_str()
                    .is_some_and(|e| !e.ends_with("@internal.test"))
            }))),
    );
    let etlify = engine(&db, vec![Crm::new("hubspot", adapter.clone())], vec![model]).await;
    assert_eq!(
        etlify.sync("hubspot", "User", user).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Skipped)
    );
    assert!(adapter.upserts().is_empty());
    assert!(etlify
        .sync_row("hubspot", "User", user)
        .await
        .unwrap()
        .unwrap()
        .last_synced_at
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x12_not_modified_clears_last_error_and_error_count() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    etlify.sync("hubspot", "User", user).await.unwrap();
    db.exec("UPDATE crm_synchronisations SET error_count = 2, last_error = 'stale failure'")
        .await;

    assert_eq!(
        etlify.sync("hubspot", "User", user).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::NotModified)
    );
    let row = etlify
        .sync_row("hubspot", "User", user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.error_count, row.last_error), (0, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_errors_count_consecutive_failures_and_success_resets_them() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    adapter.fail_next_upsert(validation("Property values were not valid"));
    adapter.fail_next_upsert(validation("Property values were not valid"));

    for expected_count in 1..=2 {
        let dispatch = etlify.sync("hubspot", "User", user).await.unwrap();
        let error = dispatch_error(&dispatch);
        assert_eq!(error.kind, RecordErrorKind::Rejected);
        assert!(
            error.message.contains("Property values were not valid"),
            "{error}"
        );
        assert!(!dispatch.succeeded());
        let row = etlify
            .sync_row("hubspot", "User", user)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.error_count, expected_count);
        assert!(row
            .last_error
            .as_deref()
            .unwrap()
            .contains("Property values were not valid"));
        assert_eq!(
            (row.crm_id, row.last_digest, row.last_synced_at),
            (None, None, None)
        );
    }
    assert_eq!(
        etlify.sync("hubspot", "User", user).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    let row = etlify
        .sync_row("hubspot", "User", user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.error_count, row.last_error), (0, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x3_throttling_and_outages_never_count_against_the_record() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    for kind in [
        AdapterErrorKind::RateLimited,
        AdapterErrorKind::Transient,
        AdapterErrorKind::Unauthorized,
    ] {
        adapter.fail_next_upsert(AdapterError::new(kind, "try later"));
        let err = etlify.sync("hubspot", "User", user).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Adapter);
        match err {
            etlify::Error::Adapter(e) => assert_eq!(e.kind(), kind),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(db.sync_row_count().await, 0, "no error_count, no row");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_record_is_reported_and_writes_nothing() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    let err = etlify.sync("hubspot", "User", 4242).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RecordNotFound);
    assert!(err.to_string().contains("User #4242"), "{err}");
    assert_eq!(db.sync_row_count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_model_or_crm_is_a_config_error() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    assert_eq!(
        etlify.sync("hubspot", "Ghost", 1).await.unwrap_err().kind(),
        ErrorKind::Config
    );
    assert_eq!(
        etlify
            .synchronizer()
            .call("nope", "User", 1)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::Config
    );
    // A near miss names the real one; a name like none lists them.
    let typo = etlify.sync("hubspot", "Usr", 1).await.unwrap_err();
    assert!(typo.to_string().contains("did you mean `User`?"), "{typo}");
    let typo = etlify.sync("hubspto", "User", 1).await.unwrap_err();
    assert!(
        typo.to_string().contains("did you mean `hubspot`?"),
        "{typo}"
    );
    let unlike = etlify.sync("salesforce", "User", 1).await.unwrap_err();
    assert!(
        unlike.to_string().contains("the registered CRMs: hubspot"),
        "{unlike}"
    );
    let selection = etlify
        .batch_sync(&etlify::BatchSyncOptions::new().models(["Usr"]))
        .await
        .unwrap_err();
    assert!(
        selection.to_string().contains("did you mean `User`?"),
        "{selection}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rust_closure_builds_the_payload_from_a_typed_row() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let source = RowPayload::new("SELECT id, email, full_name FROM users", |row: UserRow| {
        Ok(payload(
            json!({"email": row.email, "name": row.full_name.to_uppercase(), "ref": row.id}),
        ))
    });
    let model = Model::new("User", "users")
        .bind("hubspot", Binding::new("contacts", "email").payload(source));
    let etlify = engine(&db, vec![Crm::new("hubspot", adapter.clone())], vec![model]).await;

    etlify.sync("hubspot", "User", user).await.unwrap();
    assert_eq!(
        adapter.upserts()[0].payload,
        payload(json!({"email": "a@x.io", "name": "NAME OF A@X.IO", "ref": user}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payload_error_is_a_record_error() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let source =
        SqlPayload::new("SELECT id, email FROM users").map(|_| Err("cannot map this user".into()));
    let model = Model::new("User", "users")
        .bind("hubspot", Binding::new("contacts", "email").payload(source));
    let etlify = engine(&db, vec![Crm::new("hubspot", adapter.clone())], vec![model]).await;
    let dispatch = etlify.sync("hubspot", "User", user).await.unwrap();
    let error = dispatch_error(&dispatch);
    assert_eq!(error.kind, RecordErrorKind::Payload);
    assert!(error.message.contains("cannot map this user"), "{error}");
    let row = etlify
        .sync_row("hubspot", "User", user)
        .await
        .unwrap()
        .unwrap();
    assert!(row.last_error.unwrap().contains("cannot map this user"));
    assert!(adapter.upserts().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffered_record_waits_for_its_sync_dependency_then_syncs() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let company = db.insert_company("acme").await;
    let user = db.insert_user("a@x.io", Some(company)).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone())],
        vec![user_with_company_dependency(), company_model(&["hubspot"])],
    )
    .await;

    // The company is rejected: the user waits.
    adapter.fail_next_upsert(validation("bad company"));
    assert_eq!(
        etlify.sync("hubspot", "User", user).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Buffered)
    );
    assert_eq!(pending_count(&db).await, 1);
    assert!(
        etlify
            .sync_row("hubspot", "User", user)
            .await
            .unwrap()
            .is_none(),
        "the user row is not touched"
    );
    let calls = adapter.upserts();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].object_type, "companies",
        "the dependency was synced first"
    );

    // The company syncs: the user follows, and the wait is forgotten.
    assert_eq!(
        etlify.sync("hubspot", "Company", company).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    assert_eq!(pending_count(&db).await, 0);
    let user_row = etlify
        .sync_row("hubspot", "User", user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user_row.crm_id.as_deref(), Some("crm-a@x.io"));
    assert_eq!(adapter.upserts().last().unwrap().object_type, "contacts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_crm_id_column_satisfies_a_sync_dependency() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let company = db.insert_company("acme").await;
    db.exec(&format!(
        "UPDATE companies SET hubspot_id = 'legacy-7' WHERE id = {company}"
    ))
    .await;
    let user = db.insert_user("a@x.io", Some(company)).await;
    let adapter = RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone())],
        vec![user_with_company_dependency(), company_model(&["hubspot"])],
    )
    .await;
    assert_eq!(
        etlify.sync("hubspot", "User", user).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    assert_eq!(
        adapter.upserts().len(),
        1,
        "the company was not synced again"
    );
    assert_eq!(pending_count(&db).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g16_reset_error_count_reenables_a_row() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    db.insert_sync_row("hubspot", "User", 5, 3, Some("boom"))
        .await;
    let adapter = RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter).max_sync_errors(5)],
        vec![user_model(&["hubspot"])],
    )
    .await;
    assert_eq!(etlify.max_sync_errors("hubspot"), 5);
    assert_eq!(
        etlify.max_sync_errors("other"),
        etlify::DEFAULT_MAX_SYNC_ERRORS
    );
    assert!(etlify
        .reset_error_count("hubspot", "User", 5)
        .await
        .unwrap());
    let row = etlify
        .sync_row("hubspot", "User", 5)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.error_count, row.last_error), (0, None));
    assert!(!etlify
        .reset_error_count("hubspot", "User", 6)
        .await
        .unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g8_inline_syncs_go_through_the_crm_rate_limiter() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let adapter = RecordingAdapter::new();
    let limit = etlify::RateLimit::new(2, Duration::from_millis(400)).unwrap();
    let mut users = Vec::new();
    for i in 0..4 {
        users.push(db.insert_user(&format!("u{i}@x.io"), None).await);
    }
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone()).rate_limit(limit)],
        vec![user_model(&["hubspot"])],
    )
    .await;
    let started = std::time::Instant::now();
    for user in users {
        etlify.sync("hubspot", "User", user).await.unwrap();
    }
    // 2 in a burst, then one per 200 ms: the 4th request waits >= 400 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(380),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(adapter.upserts().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crm_id_already_held_by_another_record_is_a_record_error() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let first = db.insert_user("same@x.io", None).await;
    let second = db.insert_user("same@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    assert_eq!(
        etlify.sync("hubspot", "User", first).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    let dispatch = etlify.sync("hubspot", "User", second).await.unwrap();
    assert_eq!(
        dispatch_error(&dispatch).kind,
        RecordErrorKind::CrmIdConflict
    );
    let row = etlify
        .sync_row("hubspot", "User", second)
        .await
        .unwrap()
        .unwrap();
    // It names the record holding the id, and what to look at.
    let error = row.last_error.unwrap();
    assert!(
        error.contains(&format!("which User #{first} already holds"))
            && error.contains("id_property"),
        "{error}"
    );
    assert_eq!(row.crm_id, None);
}

/// Issue 26 (2): a stored CRM id that cannot address an object (`.`, `..`,
/// blank) is not sent as the record's id, which failed it forever without
/// a request: the record is matched again by its id property, and
/// the id the CRM answers replaces the stored one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_a_stored_crm_id_that_cannot_address_an_object_is_matched_again() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    for hostile in [".", ".."] {
        etlify.sync("hubspot", "User", user).await.unwrap();
        db.exec(&format!(
            "UPDATE crm_synchronisations SET crm_id = '{hostile}', last_digest = 'old' WHERE resource_id = {user}"
        ))
        .await;
        let dispatch = etlify.sync("hubspot", "User", user).await.unwrap();
        assert_eq!(dispatch, SyncDispatch::Completed(SyncOutcome::Synced));
        assert_eq!(adapter.upserts().last().unwrap().crm_id, None, "{hostile}");
        let row = etlify
            .sync_row("hubspot", "User", user)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.crm_id.as_deref(), Some("crm-a@x.io"), "{hostile}");
    }
}

/// A batch page whose synced rows meet the sync table's unique keys: a
/// CRM id another record holds is refused for that record alone and
/// the page's other rows are written. (On MySQL a page's synced rows go in
/// as a plain insert first; this is the case it cannot take.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_a_batch_claiming_a_crm_id_held_elsewhere_refuses_that_record_alone() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let holder = db.insert_user("same@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    etlify.sync("hubspot", "User", holder).await.unwrap();
    let claimant = db.insert_user("same@x.io", None).await;
    let other = db.insert_user("other@x.io", None).await;

    let run = etlify
        .batch_sync(&etlify::BatchSyncOptions::new())
        .await
        .unwrap();
    assert!(run.is_complete(), "{run:?}");

    let row = |id| etlify.sync_row("hubspot", "User", id);
    let held = row(holder).await.unwrap().unwrap();
    assert_eq!(held.crm_id.as_deref(), Some("crm-same@x.io"));
    let refused = row(claimant).await.unwrap().unwrap();
    assert_eq!(refused.crm_id, None);
    assert_eq!(refused.error_count, 1);
    let error = refused.last_error.unwrap();
    assert!(
        error.contains(&format!("which User #{holder} already holds")),
        "{error}"
    );
    let written = row(other).await.unwrap().unwrap();
    assert_eq!(written.crm_id.as_deref(), Some("crm-other@x.io"));
    assert_eq!(written.error_count, 0);
}

/// A batch page syncing a record whose row holds an error updates that
/// row (clears the error, one row per record), as a page of new rows
/// inserts theirs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_a_batch_syncing_a_failed_row_updates_it_in_place() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let failed = db.insert_user("failed@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    etlify.sync("hubspot", "User", failed).await.unwrap();
    db.exec(&format!(
        "UPDATE crm_synchronisations SET last_error = 'boom', error_count = 2, last_digest = 'old' WHERE resource_id = {failed}"
    ))
    .await;
    db.exec(&format!(
        "UPDATE users SET full_name = 'Changed' WHERE id = {failed}"
    ))
    .await;
    db.touch("users", failed).await;
    let fresh = db.insert_user("fresh@x.io", None).await;

    let run = etlify
        .batch_sync(&etlify::BatchSyncOptions::new())
        .await
        .unwrap();
    assert!(run.is_complete(), "{run:?}");

    for (id, crm_id) in [(failed, "crm-failed@x.io"), (fresh, "crm-fresh@x.io")] {
        let row = etlify
            .sync_row("hubspot", "User", id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.crm_id.as_deref(), row.last_error, row.error_count),
            (Some(crm_id), None, 0),
            "{id}"
        );
        assert_ne!(row.last_digest.as_deref(), Some("old"), "{id}");
    }
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM crm_synchronisations")
            .await,
        2
    );
}
