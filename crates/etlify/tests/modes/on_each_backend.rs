//! The tests of `modes` that run on each backend. This file is compiled
//! twice, as `modes::sqlite` and `modes::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_update_only_creates_nothing_where_half_the_records_exist() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let sandbox = sandbox().await;
    seed_contacts(&sandbox, 0..5);
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![users(WriteMode::UpdateOnly)],
    )
    .await;
    let ids = insert_users(&db, 10).await;

    let first = run(&etlify).await;
    assert_eq!(
        (first.synced, first.no_object_to_update, first.errors),
        (5, 5, 0),
        "{first:?}"
    );
    assert_eq!(
        sandbox.admin().request_log().count("POST", CREATE),
        0,
        "nothing created"
    );
    assert_eq!(
        contacts(&sandbox),
        (0..5)
            .map(|i| (
                format!("user{i}@example.com"),
                format!("Name of user{i}@example.com")
            ))
            .collect::<Vec<_>>(),
        "the five that exist are updated, no other appears"
    );
    let row = etlify
        .sync_row("hubspot", "User", ids[7])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.crm_id, row.error_count),
        (None, 0),
        "stamped, not failed"
    );

    // Nothing changed: nothing sent, nothing searched.
    let writes_before = writes(&sandbox);
    let again = run(&etlify).await;
    assert_eq!(again.synced + again.no_object_to_update, 0, "{again:?}");
    assert_eq!(writes(&sandbox), writes_before);

    // The object appears in the CRM, and the record changes: found, updated.
    seed_contacts(&sandbox, [7]);
    db.touch("users", ids[7]).await;
    let found = run(&etlify).await;
    assert_eq!(
        (found.synced, found.no_object_to_update),
        (1, 0),
        "{found:?}"
    );
    let row = etlify
        .sync_row("hubspot", "User", ids[7])
        .await
        .unwrap()
        .unwrap();
    assert!(row.crm_id.is_some());
    assert_eq!(sandbox.admin().request_log().count("POST", CREATE), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_create_only_never_sends_an_update() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let sandbox = sandbox().await;
    seed_contacts(&sandbox, 0..3);
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![users(WriteMode::CreateOnly)],
    )
    .await;
    let ids = insert_users(&db, 10).await;

    let first = run(&etlify).await;
    assert_eq!((first.synced, first.errors), (10, 0), "{first:?}");
    let log = sandbox.admin().request_log();
    assert_eq!(
        log.count("POST", CREATE),
        7,
        "the seven missing are created"
    );
    assert_eq!(
        log.count("PATCH", UPDATE)
            + log.count("POST", BATCH_UPDATE)
            + log.count("POST", BATCH_UPSERT),
        0,
        "no update, no upsert"
    );
    let kept: Vec<(String, String)> = contacts(&sandbox).into_iter().take(3).collect();
    assert_eq!(
        kept,
        (0..3)
            .map(|i| (format!("user{i}@example.com"), format!("Sales {i}")))
            .collect::<Vec<_>>(),
        "the three that existed keep the CRM's values"
    );
    for id in &ids {
        let row = etlify
            .sync_row("hubspot", "User", *id)
            .await
            .unwrap()
            .unwrap();
        assert!(row.crm_id.is_some(), "every record has its object's id");
    }

    // Every user renamed: still no update.
    db.exec("UPDATE users SET full_name = 'Renamed'").await;
    for id in &ids {
        db.touch("users", *id).await;
    }
    let renamed = run(&etlify).await;
    assert_eq!((renamed.synced, renamed.skipped), (0, 10), "{renamed:?}");
    let log = sandbox.admin().request_log();
    assert_eq!(
        log.count("PATCH", UPDATE)
            + log.count("POST", BATCH_UPDATE)
            + log.count("POST", BATCH_UPSERT),
        0
    );
    assert_eq!(log.count("POST", CREATE), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_a_mode_the_adapter_cannot_honour_is_refused_naming_the_key() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let error = builder(
        db.store.clone(),
        vec![Crm::new("hubspot", Arc::new(NullAdapter::new()))],
        vec![users(WriteMode::UpdateOnly)],
    )
    .build()
    .await
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("models.User.crms.hubspot")
            && message.contains("mode")
            && message.contains("update_only"),
        "{message}"
    );
}
