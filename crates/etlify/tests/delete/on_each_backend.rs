//! The tests of `delete` that run on each backend. This file is compiled
//! twice, as `delete::sqlite` and `delete::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g3_disabled_crm_delete_returns_success_without_a_call() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    db.exec(&format!(
        "UPDATE crm_synchronisations SET crm_id = 'x' WHERE resource_id = {user}"
    ))
    .await;
    let adapter = RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone()).enabled(false)],
        vec![user_model(&["hubspot"])],
    )
    .await;
    assert_eq!(
        etlify.delete("hubspot", "User", user).await.unwrap(),
        DeleteOutcome::Disabled
    );
    assert!(adapter.deletes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g4_disabled_deleter_makes_no_adapter_call() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let adapter = RecordingAdapter::new();
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone()).enabled(false)],
        vec![user_model(&["hubspot"])],
    )
    .await;
    assert_eq!(
        etlify.deleter().call("hubspot", "User", 1).await.unwrap(),
        DeleteOutcome::Disabled
    );
    assert!(adapter.deletes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_without_a_known_crm_id_is_a_noop() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    db.insert_sync_row("hubspot", "User", user, 1, Some("never synced"))
        .await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    assert_eq!(
        etlify.delete("hubspot", "User", user).await.unwrap(),
        DeleteOutcome::Noop
    );
    assert_eq!(
        etlify.delete("hubspot", "User", user + 1).await.unwrap(),
        DeleteOutcome::Noop
    );
    assert!(adapter.deletes().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x11_delete_forgets_the_crm_id_and_digest_so_a_later_sync_recreates() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    etlify.sync("hubspot", "User", user).await.unwrap();

    assert_eq!(
        etlify.delete("hubspot", "User", user).await.unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        adapter.deletes(),
        [("contacts".to_owned(), "crm-a@x.io".to_owned())]
    );
    let row = etlify
        .sync_row("hubspot", "User", user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.crm_id, row.last_digest), (None, None));

    assert_eq!(
        etlify.sync("hubspot", "User", user).await.unwrap(),
        SyncDispatch::Completed(SyncOutcome::Synced)
    );
    assert_eq!(
        adapter.upserts().last().unwrap().crm_id,
        None,
        "created again, not updated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x11_a_remote_404_is_already_gone() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    etlify.sync("hubspot", "User", user).await.unwrap();
    adapter.answer_next_delete(Ok(RemoteDelete::NotFound));
    assert_eq!(
        etlify.delete("hubspot", "User", user).await.unwrap(),
        DeleteOutcome::AlreadyGone
    );
    assert_eq!(
        etlify
            .sync_row("hubspot", "User", user)
            .await
            .unwrap()
            .unwrap()
            .crm_id,
        None
    );

    etlify.sync("hubspot", "User", user).await.unwrap();
    adapter.answer_next_delete(Err(
        AdapterError::new(AdapterErrorKind::NotFound, "gone").status(404)
    ));
    assert_eq!(
        etlify.delete("hubspot", "User", user).await.unwrap(),
        DeleteOutcome::AlreadyGone
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x11_delete_errors_keep_their_kind_and_the_row() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let user = db.insert_user("a@x.io", None).await;
    let adapter = RecordingAdapter::new();
    let etlify = hubspot_users(&db, adapter.clone()).await;
    etlify.sync("hubspot", "User", user).await.unwrap();
    adapter.answer_next_delete(Err(AdapterError::new(
        AdapterErrorKind::RateLimited,
        "slow down",
    )
    .status(429)
    .retry_after(Duration::from_secs(7))));

    match etlify.delete("hubspot", "User", user).await.unwrap_err() {
        Error::Adapter(e) => {
            assert_eq!(e.kind(), AdapterErrorKind::RateLimited);
            assert_eq!(e.get_retry_after(), Some(Duration::from_secs(7)));
            assert!(e.is_retriable());
        }
        other => panic!("expected a typed adapter error, got {other:?}"),
    }
    let row = etlify
        .sync_row("hubspot", "User", user)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.crm_id.as_deref(),
        Some("crm-a@x.io"),
        "nothing forgotten on failure"
    );
}
