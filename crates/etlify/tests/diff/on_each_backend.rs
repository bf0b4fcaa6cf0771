//! The tests of `diff` that run on each backend. This file is compiled
//! twice, as `diff::sqlite` and `diff::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

/// Each kind of stale record gets its own answer: a new record, a changed
/// name, a changed company (a dependency's column), a touch that changed
/// nothing, a row whose field digests are unknown (written by the gem);
/// and the diff sends, locks and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_diff_names_the_fields_that_changed_since_the_last_sync() {
    let db = TestDb::new(BACKEND).await;
    let db = db.with_app_schema().await;
    let acme = db.insert_company("acme").await;
    let ann = db.insert_user("ann@x.io", Some(acme)).await;
    let bob = db.insert_user("bob@x.io", None).await;
    let cid = db.insert_user("cid@x.io", None).await;
    let dee = db.insert_user("dee@x.io", None).await;
    let adapter = Arc::new(NullAdapter::new());
    let etlify = hubspot_users(&db, adapter.clone()).await;
    assert!(etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .is_complete());

    db.exec(&format!(
        "UPDATE companies SET name = 'Acme Inc' WHERE id = {acme}"
    ))
    .await;
    db.touch("companies", acme).await;
    db.exec(&format!(
        "UPDATE users SET full_name = 'Bob B' WHERE id = {bob}"
    ))
    .await;
    db.touch("users", bob).await;
    db.touch("users", cid).await;
    // As the gem leaves a row: a digest, no field digests.
    db.exec(&format!(
        "UPDATE crm_synchronisations SET field_digests = NULL WHERE resource_id = {dee}"
    ))
    .await;
    db.exec(&format!(
        "UPDATE users SET full_name = 'Dee D' WHERE id = {dee}"
    ))
    .await;
    db.touch("users", dee).await;
    let eve = db.insert_user("eve@x.io", None).await;
    let rows_before = rows(&db).await;
    let calls_before = adapter.calls();

    let diffs = etlify.plan_diff("hubspot", "User", 10).await.unwrap();
    let changes: Vec<(i64, PayloadChange)> = diffs
        .iter()
        .map(|d| (d.id.as_int().unwrap(), d.change.clone()))
        .collect();
    assert_eq!(
        changes,
        [
            (ann, PayloadChange::Changed(vec!["company".to_owned()])),
            (bob, PayloadChange::Changed(vec!["full_name".to_owned()])),
            (cid, PayloadChange::Unchanged),
            (dee, PayloadChange::ChangedFieldsUnknown),
            (eve, PayloadChange::New),
        ]
    );
    assert_eq!(
        diffs[0].payload.as_ref().unwrap()["company"],
        "Acme Inc",
        "the payload a sync would send"
    );
    assert_eq!(
        etlify.plan_diff("hubspot", "User", 2).await.unwrap().len(),
        2
    );
    assert_eq!(adapter.calls(), calls_before, "nothing sent");
    assert_eq!(rows(&db).await, rows_before, "nothing written");

    // After the sync, the gem's row has field digests again.
    assert!(etlify
        .batch_sync(&BatchSyncOptions::new())
        .await
        .unwrap()
        .is_complete());
    db.exec(&format!(
        "UPDATE users SET full_name = 'Dee E' WHERE id = {dee}"
    ))
    .await;
    db.touch("users", dee).await;
    let diffs = etlify.plan_diff("hubspot", "User", 10).await.unwrap();
    assert_eq!(diffs.len(), 1);
    assert_eq!(
        diffs[0].change,
        PayloadChange::Changed(vec!["full_name".to_owned()])
    );
}
