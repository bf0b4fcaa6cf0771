//! The tests of `archive` that run on each backend. This file is compiled
//! twice, as `archive::sqlite` and `archive::postgres` (`mod.rs`); `BACKEND`
//! is this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_a_deleted_row_is_archived_once_and_its_sync_row_removed() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let sandbox = sandbox().await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![users(Disposal::Archive, None)],
    )
    .await;
    let ids = synced_users(&db, &etlify, 30).await;
    delete_users(&db, &ids[3..5]).await;

    // A run from the checkpoint does not look for deleted rows.
    let ordinary = etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(ordinary.outcomes.archived, 0);
    assert_eq!(archived_emails(&sandbox), Vec::<String>::new());

    let run = complete_run(&etlify).await.into_result().unwrap();
    assert_eq!(run.outcomes.archived, 2, "{run:?}");
    assert_eq!(run.per_crm["hubspot"].archived, 2);
    assert_eq!(
        archived_emails(&sandbox),
        vec!["user3@example.com", "user4@example.com"]
    );
    assert_eq!(sync_rows(&db).await, 28);
    assert_eq!(
        all_sync_rows(&db).await,
        28,
        "the two sync rows are removed"
    );
    assert_eq!(
        sandbox.admin().request_log().count("POST", BATCH_ARCHIVE),
        1,
        "one batch archive request"
    );

    let again = complete_run(&etlify).await.into_result().unwrap();
    assert_eq!(again.outcomes.archived, 0, "archived once");
    assert_eq!(
        sandbox.admin().request_log().count("POST", BATCH_ARCHIVE),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_deleted_rows_are_kept_by_default_as_the_gem_does() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let sandbox = sandbox().await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![users(Disposal::Keep, None)],
    )
    .await;
    let ids = synced_users(&db, &etlify, 10).await;
    delete_users(&db, &ids[..5]).await;

    let run = etlify
        .batch_sync(&BatchSyncOptions::new().complete(true).allow_deletes(true))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(run.outcomes.archived, 0);
    assert_eq!(archived_emails(&sandbox), Vec::<String>::new());
    assert_eq!(sync_rows(&db).await, 10, "sync rows stay");
    assert_eq!(
        sandbox.admin().request_log().count("POST", BATCH_ARCHIVE),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_the_guard_holds_a_run_that_would_archive_more_than_allowed() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let sandbox = sandbox().await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![users(
            Disposal::Archive,
            Some(DeleteLimit::PercentOfSynced(10)),
        )],
    )
    .await;
    let ids = synced_users(&db, &etlify, 20).await;
    // 10% of 20 synced records is 2: five deleted rows are too many.
    delete_users(&db, &ids[..5]).await;

    let held = complete_run(&etlify).await;
    assert_eq!(held.outcomes.archived, 0);
    assert_eq!(held.deletes_held.len(), 1, "{held:?}");
    let guard = &held.deletes_held[0];
    assert_eq!(
        (guard.crm.as_str(), guard.model.as_str()),
        ("hubspot", "User")
    );
    assert_eq!((guard.records, guard.allowed), (5, 2));
    assert!(!held.is_complete());
    let error = held.into_result().unwrap_err().to_string();
    assert!(
        error.contains("max_deletes_per_run") && error.contains("--allow-deletes"),
        "{error}"
    );
    assert_eq!(
        archived_emails(&sandbox),
        Vec::<String>::new(),
        "nothing archived"
    );
    assert_eq!(sync_rows(&db).await, 20);

    // The operator allows it once.
    let allowed = etlify
        .batch_sync(&BatchSyncOptions::new().allow_deletes(true))
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(allowed.outcomes.archived, 5);
    assert_eq!(archived_emails(&sandbox).len(), 5);
    assert_eq!(sync_rows(&db).await, 15);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_a_lost_archive_response_does_not_archive_twice() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let sandbox = sandbox().await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![users(Disposal::Archive, Some(DeleteLimit::Records(100)))],
    )
    .await;
    let ids = synced_users(&db, &etlify, 12).await;
    delete_users(&db, &ids[..3]).await;
    // The next request is applied and its answer lost: the archive.
    sandbox
        .admin()
        .set_faults(
            TargetApi::Hubspot,
            FaultConfig {
                drop_next: 1,
                drop_after_handling: true,
                ..FaultConfig::default()
            },
        )
        .unwrap();

    let run = complete_run(&etlify).await.into_result().unwrap();
    assert_eq!(run.outcomes.archived, 3, "{run:?}");
    let log = sandbox.admin().request_log();
    assert_eq!(
        log.count("POST", BATCH_ARCHIVE),
        2,
        "the archive whose answer was lost was sent again (idempotent)"
    );
    let archived = archived_emails(&sandbox);
    assert_eq!(archived.len(), 3, "each object archived once: {archived:?}");
    assert_eq!(contacts(&sandbox).len(), 12, "nothing created");
    assert_eq!(sync_rows(&db).await, 9);
}

/// `users` with a `deleted_at` column, `User` declaring it.
async fn soft_deleting(db: &TestDb) -> Model {
    let ts = if db.is_postgres() {
        "timestamp(6) without time zone"
    } else {
        "datetime(6)"
    };
    db.exec(&format!("ALTER TABLE users ADD COLUMN deleted_at {ts}"))
        .await;
    users(Disposal::Archive, Some(DeleteLimit::Records(100))).soft_delete_column("deleted_at")
}

async fn soft_delete(db: &TestDb, ids: &[i64]) {
    let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let now = db.now_sql();
    db.exec(&format!(
        "UPDATE users SET deleted_at = {now}, updated_at = {now} WHERE id IN ({})",
        list.join(", ")
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_a_soft_deleted_row_is_archived_in_the_next_ordinary_run() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let sandbox = sandbox().await;
    let model = soft_deleting(&db).await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![model],
    )
    .await;
    let ids = synced_users(&db, &etlify, 10).await;
    soft_delete(&db, &ids[..2]).await;
    let creates_before = contacts(&sandbox).len();

    // An ordinary run, from the first run's checkpoint.
    let run = etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(run.outcomes.archived, 2, "{run:?}");
    assert_eq!(
        run.outcomes.synced, 0,
        "a soft-deleted row is not sent: {run:?}"
    );
    assert_eq!(
        archived_emails(&sandbox),
        vec!["user0@example.com", "user1@example.com"]
    );
    assert_eq!(sync_rows(&db).await, 8);
    assert_eq!(
        all_sync_rows(&db).await,
        10,
        "their rows stay, without a CRM id: they may come back"
    );

    // Marked deleted, they are not created again.
    let again = complete_run(&etlify).await.into_result().unwrap();
    assert_eq!(
        (again.outcomes.synced, again.outcomes.archived),
        (0, 0),
        "{again:?}"
    );
    assert_eq!(contacts(&sandbox).len(), creates_before);

    // Restored: synced again.
    let now = db.now_sql();
    db.exec(&format!(
        "UPDATE users SET deleted_at = NULL, updated_at = {now} WHERE id = {}",
        ids[0]
    ))
    .await;
    let restored = etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(restored.outcomes.synced, 1, "{restored:?}");
    assert_eq!(sync_rows(&db).await, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_a_soft_deleted_row_is_never_sent_even_one_by_one() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let sandbox = sandbox().await;
    let model = soft_deleting(&db).await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![model],
    )
    .await;
    let id = db.insert_user("gone@example.com", None).await;
    soft_delete(&db, &[id]).await;

    let run = complete_run(&etlify).await.into_result().unwrap();
    assert_eq!(run.total, 0, "not found: {run:?}");
    assert_eq!(
        etlify.sync("hubspot", "User", id).await.unwrap(),
        etlify::SyncDispatch::Completed(etlify::SyncOutcome::Skipped)
    );
    assert_eq!(contacts(&sandbox).len(), 0, "nothing created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_soft_deleted_ids_asked_for_by_the_batch_synchronizer_are_never_sent() {
    // The batch path skips its own soft-delete check on pages the finder
    // found (its query already excludes them): ids a caller names are
    // still checked.
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let sandbox = sandbox().await;
    let model = soft_deleting(&db).await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![model],
    )
    .await;
    let kept = db.insert_user("kept@example.com", None).await;
    let gone = db.insert_user("gone@example.com", None).await;
    soft_delete(&db, &[gone]).await;

    let stats = etlify
        .batch_synchronizer()
        .call(
            "hubspot",
            "User",
            &[etlify::ResourceId::new(kept), etlify::ResourceId::new(gone)],
        )
        .await
        .unwrap();
    assert_eq!((stats.synced, stats.skipped), (1, 1), "{stats:?}");
    assert_eq!(
        contacts(&sandbox),
        vec![("kept@example.com".to_owned(), false)]
    );
}

/// `User` whose scope is its active users, archived when they leave it.
fn active_users(scope: &str, on_leave_scope: Disposal) -> Model {
    let binding = Binding::new("contacts", "email")
        .payload(SqlPayload::new("SELECT id, email, full_name FROM users"))
        .on_leave_scope(on_leave_scope)
        .max_deletes_per_run(DeleteLimit::Records(100));
    let binding = match scope {
        "sync_if" => binding.sync_if(etlify::SyncIf::Sql("users.active = true".into())),
        _ => binding.stale_scope("users.active = true"),
    };
    Model::new("User", "users").bind("hubspot", binding)
}

async fn deactivate(db: &TestDb, ids: &[i64], active: bool) {
    let list: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let now = db.now_sql();
    db.exec(&format!(
        "UPDATE users SET active = {active}, updated_at = {now} WHERE id IN ({})",
        list.join(", ")
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_a_record_whose_sync_if_turns_false_is_archived_and_recreated_when_it_comes_back() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let sandbox = sandbox().await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![active_users("sync_if", Disposal::Archive)],
    )
    .await;
    let ids = synced_users(&db, &etlify, 10).await;
    deactivate(&db, &ids[..2], false).await;

    let run = etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(run.outcomes.archived, 2, "{run:?}");
    assert_eq!(
        archived_emails(&sandbox),
        vec!["user0@example.com", "user1@example.com"]
    );
    assert_eq!(sync_rows(&db).await, 8);

    deactivate(&db, &ids[..1], true).await;
    let back = etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(
        (back.outcomes.synced, back.outcomes.archived),
        (1, 0),
        "{back:?}"
    );
    assert_eq!(sync_rows(&db).await, 9);
    let live: Vec<String> = contacts(&sandbox)
        .into_iter()
        .filter(|(email, archived)| email == "user0@example.com" && !archived)
        .map(|(email, _)| email)
        .collect();
    assert_eq!(
        live.len(),
        1,
        "user0 is in the CRM again: {:?}",
        contacts(&sandbox)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_a_record_leaving_stale_scope_is_archived_by_the_complete_check() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let sandbox = sandbox().await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![active_users("stale_scope", Disposal::Archive)],
    )
    .await;
    let ids = synced_users(&db, &etlify, 10).await;
    deactivate(&db, &ids[5..8], false).await;

    // Out of the stale scope, they are not found by a run from the checkpoint.
    let ordinary = etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(ordinary.outcomes.archived, 0);

    let complete = complete_run(&etlify).await.into_result().unwrap();
    assert_eq!(complete.outcomes.archived, 3, "{complete:?}");
    assert_eq!(archived_emails(&sandbox).len(), 3);
    assert_eq!(sync_rows(&db).await, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_records_out_of_scope_are_kept_by_default() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let sandbox = sandbox().await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![active_users("sync_if", Disposal::Keep)],
    )
    .await;
    let ids = synced_users(&db, &etlify, 6).await;
    deactivate(&db, &ids[..3], false).await;

    let run = complete_run(&etlify).await.into_result().unwrap();
    assert_eq!(
        (run.outcomes.archived, run.outcomes.skipped),
        (0, 3),
        "skipped and stamped, as the gem: {run:?}"
    );
    assert_eq!(archived_emails(&sandbox), Vec::<String>::new());
    assert_eq!(sync_rows(&db).await, 6);
}
