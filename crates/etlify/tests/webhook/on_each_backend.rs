//! The tests of `webhook` that run on each backend. This file is compiled
//! three times, as `webhook::sqlite`, `webhook::postgres` and
//! `webhook::mysql` (`mod.rs`); `BACKEND` is this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_a_run_sends_records_in_batches_then_those_that_left_as_delete_events() {
    let db = TestDb::new(BACKEND).await.with_app_schema().await;
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let etlify = engine(
        &db,
        vec![Crm::new("hooks", receiver(&sandbox))],
        vec![users()],
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(db.insert_user(&format!("user{i}@example.com"), None).await);
    }

    let first = complete_run(&etlify).await;
    assert_eq!(first.outcomes.synced, 20, "{first:?}");
    assert_eq!(requests(&sandbox), 5, "twenty events, four per request");
    let objects = sandbox.admin().webhook_objects("contacts");
    assert_eq!(objects.len(), 20);
    // Each record's sync row holds the id the receiver answered.
    for object in &objects {
        let email = object.id_value.as_deref().unwrap();
        let index = &email["user".len()..email.find('@').unwrap()];
        let id = ids[index.parse::<usize>().unwrap()];
        let row = etlify.sync_row("hooks", "User", id).await.unwrap().unwrap();
        assert_eq!(row.crm_id.as_deref(), Some(object.id.as_str()), "{email}");
    }

    // Two of twenty: within the default guard (10 % of the records).
    db.exec(&format!(
        "DELETE FROM users WHERE id IN ({}, {})",
        ids[1], ids[4]
    ))
    .await;
    let second = complete_run(&etlify).await;
    assert_eq!(second.outcomes.archived, 2, "{second:?}");
    let mut deleted: Vec<String> = sandbox
        .admin()
        .webhook_objects("contacts")
        .into_iter()
        .filter(|object| object.deleted)
        .filter_map(|object| object.id_value)
        .collect();
    deleted.sort();
    assert_eq!(deleted, ["user1@example.com", "user4@example.com"]);
    let kinds: Vec<String> = sandbox
        .admin()
        .webhook_events()
        .into_iter()
        .map(|event| event.kind)
        .collect();
    assert_eq!(kinds.iter().filter(|kind| *kind == "upsert").count(), 20);
    assert_eq!(kinds.iter().filter(|kind| *kind == "delete").count(), 2);

    let sent = requests(&sandbox);
    let third = complete_run(&etlify).await;
    assert_eq!(
        (third.outcomes.synced, third.outcomes.archived),
        (0, 0),
        "{third:?}"
    );
    assert_eq!(requests(&sandbox), sent, "nothing more to send");
}
