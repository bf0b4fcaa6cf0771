//! The tests of `match_by` that run on each backend. This file is compiled
//! twice, as `match_by::sqlite` and `match_by::postgres` (`mod.rs`);
//! `BACKEND` is this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

/// The harm, then the cure: with `id_property = "email"` the batch upsert
/// matches the sales contact through its secondary email and overwrites its
/// primary email; with `match_by` the same contact is matched and adopted,
/// its primary email kept, the other properties written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_by_keeps_a_primary_email_that_id_property_overwrites() {
    for match_by in [false, true] {
        let db = TestDb::new(BACKEND).await.with_app_schema().await;
        let user = db.insert_user("app@corp.io", None).await;
        let sandbox = sandbox().await;
        let existing = seed_sales_contact(&sandbox);
        let etlify = engine(
            &db,
            vec![Crm::new("hubspot", hubspot(&sandbox))],
            vec![users(match_by)],
        )
        .await;

        let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
        assert_eq!((stats.outcomes.synced, stats.errors), (1, 0), "{stats:?}");
        let contacts = sandbox.admin().hubspot_objects("contacts").unwrap();
        assert_eq!(contacts.len(), 1, "matched the sales contact, created none");
        let expected_primary = if match_by {
            "sales@corp.io"
        } else {
            "app@corp.io"
        };
        assert_eq!(
            contacts[0].properties["email"], expected_primary,
            "match_by = {match_by}: the primary email"
        );
        assert_eq!(contacts[0].properties["firstname"], "Name of app@corp.io");
        let row = etlify
            .sync_row("hubspot", "User", user)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.crm_id.as_deref(), Some(existing.as_str()));

        // A later change is written by id, still without the email.
        db.exec(&format!(
            "UPDATE users SET full_name = 'Renamed' WHERE id = {user}"
        ))
        .await;
        db.touch("users", user).await;
        let renamed = etlify
            .batch_sync(&BatchSyncOptions::new())
            .await
            .unwrap()
            .into_result()
            .unwrap();
        assert_eq!(renamed.outcomes.synced, 1, "{renamed:?}");
        let contacts = sandbox.admin().hubspot_objects("contacts").unwrap();
        assert_eq!(contacts[0].properties["firstname"], "Renamed");
        assert_eq!(contacts[0].properties["email"], expected_primary);
    }
}

/// A new record is created with its match property: only matching writes
/// nothing of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_by_writes_the_match_property_when_it_creates() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    db.insert_user("new@corp.io", None).await;
    let sandbox = sandbox().await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![users(true)],
    )
    .await;
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.outcomes.synced, 1, "{stats:?}");
    let contacts = sandbox.admin().hubspot_objects("contacts").unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].properties["email"], "new@corp.io");
}

/// A record with no CRM object and a blank match value fails naming the
/// column, and nothing is created.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_by_a_blank_match_value_fails_without_a_create() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let blank = db.insert_user("", None).await;
    db.exec("UPDATE users SET email = NULL WHERE email = ''")
        .await;
    db.insert_user("ok@corp.io", None).await;
    let sandbox = sandbox().await;
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", hubspot(&sandbox))],
        vec![users(true)],
    )
    .await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (1, 1), "{stats:?}");
    let row = etlify
        .sync_row("hubspot", "User", blank)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.crm_id, None);
    assert_eq!(row.error_count, 1);
    let error = row.last_error.unwrap_or_default();
    assert!(
        error.contains("match_by") && error.contains("`email`"),
        "{error}"
    );
    let log = sandbox.admin().request_log();
    assert_eq!(log.count("POST", CREATE), 0, "no create for the blank one");
    assert_eq!(
        sandbox.admin().hubspot_objects("contacts").unwrap().len(),
        1
    );
    assert_eq!(log.count("POST", BATCH_UPSERT), 1);
}

/// A batch answer that names no object for a record fails that record (it
/// stays stale and counts against its budget); no sync row claims a CRM
/// object without its id (X-4, under match_by).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn match_by_a_batch_answer_missing_a_record_fails_that_record() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let found = db.insert_user("found@corp.io", None).await;
    let lost = db.insert_user("lost@corp.io", None).await;
    let adapter = crate::support::adapter::BatchRecordingAdapter::new(10);
    adapter.set(&adapter.drop_marker, "lost");
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", adapter.clone())],
        vec![users(true)],
    )
    .await;

    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!((stats.outcomes.synced, stats.errors), (1, 1), "{stats:?}");
    let row = etlify
        .sync_row("hubspot", "User", found)
        .await
        .unwrap()
        .unwrap();
    assert!(row.crm_id.is_some());
    let row = etlify
        .sync_row("hubspot", "User", lost)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.crm_id, row.last_digest, row.error_count),
        (None, None, 1)
    );
    assert!(row
        .last_error
        .unwrap_or_default()
        .contains("no result for email = lost@corp.io"));
    assert!(
        etlify
            .plan(&BatchSyncOptions::new())
            .await
            .unwrap()
            .iter()
            .map(|e| e.records)
            .sum::<usize>()
            >= 1,
        "the failed record stays stale"
    );
}
