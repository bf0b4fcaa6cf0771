//! Taking over a database synced by the original Rails gem (G-26, X-15 in
//! docs/BEHAVIOUR.md): `tests/fixtures/rails-gem-synced.sqlite3` and its
//! `.expect.json`.

use std::sync::Arc;

use etlify::adapters::NullAdapter;
use etlify::{BatchSyncOptions, Etlify, FinderPlan, SqlPayload};
use serde_json::Value;

use crate::support::{gem, TestDb};

fn expected() -> Value {
    gem::expected("rails-gem-synced")
}

/// A copy of the fixture, migrated, with the model the gem declared.
async fn take_over() -> (TestDb, Etlify, Arc<NullAdapter>) {
    gem::take_over(
        "rails-gem-synced",
        SqlPayload::new(
            "SELECT users.id, users.email, users.full_name, companies.name AS company \
         FROM users LEFT JOIN companies ON companies.id = users.company_id",
        ),
    )
    .await
}

fn ids(value: &Value) -> Vec<i64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn interop_finder_returns_exactly_the_gems_stale_ids() {
    let (_db, etlify, _) = take_over().await;
    let expected = ids(&expected()["stale_ids"]);
    for plan in [FinderPlan::Reference, FinderPlan::ChangedSince] {
        let found: Vec<i64> = etlify
            .stale_ids("hubspot", "User")
            .unwrap()
            .plan(plan)
            .page_size(7)
            .collect_all()
            .await
            .unwrap()
            .into_iter()
            .map(|id| id.as_int().unwrap())
            .collect();
        assert_eq!(found, expected, "{plan:?}");
    }
}

#[tokio::test]
async fn interop_batch_sync_sends_only_the_records_that_really_changed() {
    let (db, etlify, adapter) = take_over().await;
    let expect = expected();
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.total as i64, expect["stale_count"].as_i64().unwrap());
    let upserts = adapter.calls().batch_upserted_records + adapter.calls().upserts;
    assert_eq!(
        upserts as i64,
        expect["expected_crm_upserts_for_stale_run"]
            .as_i64()
            .unwrap()
    );
    assert_eq!(stats.outcomes.synced, 2);
    for id in ids(&expect["changed_ids"]) {
        let row = etlify
            .sync_row("hubspot", "User", id)
            .await
            .unwrap()
            .unwrap();
        assert!(row.last_synced_at.is_some());
    }
    // Then a full reconcile finds nothing more to send.
    let full = etlify
        .batch_sync(&BatchSyncOptions::new().full_reconcile(true))
        .await
        .unwrap();
    assert_eq!(full.total as i64, expect["users"].as_i64().unwrap());
    assert_eq!(full.outcomes.synced, 0);
    let after = adapter.calls().batch_upserted_records + adapter.calls().upserts;
    assert_eq!(after, upserts, "no more CRM calls");
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM crm_synchronisations")
            .await,
        300
    );
}

#[tokio::test]
async fn interop_full_reconcile_alone_sends_only_the_changed_records() {
    let (_db, etlify, adapter) = take_over().await;
    let stats = etlify
        .batch_sync(&BatchSyncOptions::new().full_reconcile(true))
        .await
        .unwrap();
    assert_eq!(stats.total, 300);
    let upserts = adapter.calls().batch_upserted_records + adapter.calls().upserts;
    assert_eq!(
        upserts as i64,
        expected()["expected_crm_upserts_for_full_reconcile"]
            .as_i64()
            .unwrap()
    );
}

/// Issue 27: deletes are off unless asked. A gem database taken over keeps
/// every CRM object of rows the application deleted, as the gem did: a
/// complete check under the default `on_delete = keep` archives nothing
/// and removes no sync row.
#[tokio::test]
async fn delete_a_gem_database_taken_over_archives_nothing_under_the_default_keep() {
    let (db, etlify, adapter) = take_over().await;
    let synced_rows = db
        .scalar_i64("SELECT COUNT(*) FROM crm_synchronisations")
        .await;
    db.exec("DELETE FROM users WHERE id % 10 = 3").await;
    assert!(
        db.scalar_i64(
            "SELECT COUNT(*) FROM crm_synchronisations s WHERE NOT EXISTS \
             (SELECT 1 FROM users u WHERE u.id = s.resource_id) AND s.crm_id IS NOT NULL"
        )
        .await
            > 0,
        "the fixture has synced rows of deleted users"
    );

    let run = etlify
        .batch_sync(&BatchSyncOptions::new().complete(true))
        .await
        .unwrap();
    assert_eq!(run.outcomes.archived, 0, "{run:?}");
    assert!(run.deletes_held.is_empty(), "{run:?}");
    let calls = adapter.calls();
    assert_eq!((calls.deletes, calls.batch_deletes), (0, 0), "{calls:?}");
    assert_eq!(
        db.scalar_i64("SELECT COUNT(*) FROM crm_synchronisations")
            .await,
        synced_rows,
        "no sync row removed"
    );
}
