//! Taking over a MySQL database synced by the Rails gem (issue 31, item 4):
//! `tests/fixtures/rails-gem-synced.sqlite3` made a gem-synced MariaDB
//! database by `scripts/gem-fixture-to-mysql.py` (the gem's MySQL column
//! types: `bigint` ids, `varchar(255)` digests, a whole-second `datetime`
//! `last_synced_at`; its stored digests), then taken over: only the
//! records that really changed are sent.

use etlify::{BatchSyncOptions, SqlPayload};
use serde_json::Value;

use crate::support::gem;

const PAYLOAD: &str = "SELECT users.id, users.email, users.full_name, companies.name AS company \
     FROM users LEFT JOIN companies ON companies.id = users.company_id";

fn ids(value: &Value) -> Vec<i64> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

/// A batch run sends exactly the gem's changed records (the others'
/// digests match the gem's), a complete reconcile then sends nothing, and
/// the gem's rows are kept, one per user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_mysql_batch_sync_sends_only_the_records_that_really_changed() {
    let (db, etlify, adapter) =
        gem::take_over_mysql("rails-gem-synced", SqlPayload::new(PAYLOAD)).await;
    let expect = gem::expected("rails-gem-synced");
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert!(stats.is_complete(), "{stats:?}");
    let upserts = adapter.calls().batch_upserted_records + adapter.calls().upserts;
    assert_eq!(
        upserts as i64,
        expect["expected_crm_upserts_for_stale_run"]
            .as_i64()
            .unwrap(),
        "{stats:?}"
    );
    assert_eq!(stats.outcomes.synced as i64, upserts as i64);
    for id in ids(&expect["changed_ids"]) {
        let row = etlify
            .sync_row("hubspot", "User", id)
            .await
            .unwrap()
            .unwrap();
        assert!(row.last_synced_at.is_some(), "user {id} synced");
    }
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

/// A complete reconcile alone sends exactly what the gem's fixture says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interop_mysql_full_reconcile_alone_sends_only_the_changed_records() {
    let (_db, etlify, adapter) =
        gem::take_over_mysql("rails-gem-synced", SqlPayload::new(PAYLOAD)).await;
    let stats = etlify
        .batch_sync(&BatchSyncOptions::new().full_reconcile(true))
        .await
        .unwrap();
    assert_eq!(stats.total, 300);
    let upserts = adapter.calls().batch_upserted_records + adapter.calls().upserts;
    assert_eq!(
        upserts as i64,
        gem::expected("rails-gem-synced")["expected_crm_upserts_for_full_reconcile"]
            .as_i64()
            .unwrap()
    );
}
