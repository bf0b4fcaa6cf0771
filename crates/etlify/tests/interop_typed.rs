//! Taking over a database the Rails gem synced with typed columns
//! (booleans, floats, decimals, dates, datetimes, a JSON-serialized column,
//! a Ruby-built array, Unicode): `tests/fixtures/rails-gem-typed.sqlite3`
//! and its `.expect.json`. With the `rails` rendering, the payload declared
//! with `SqlPayload` reproduces the gem's digests, so a stale run sends only
//! the two records that really changed.

use std::sync::Arc;

use etlify::adapters::NullAdapter;
use etlify::{BatchSyncOptions, ColumnType, Etlify, Rendering, SqlPayload};
use serde_json::Value;

use crate::support::{gem, TestDb};

fn expected() -> Value {
    gem::expected("rails-gem-typed")
}

/// The payload the gem declared. The database tells the types of the table
/// columns (boolean, float, decimal(10,2), date, datetime); only the JSON
/// kept in text and the array built by an expression are declared.
fn payload() -> SqlPayload {
    SqlPayload::new(
        "SELECT users.id, users.email, users.full_name, companies.name AS company, \
                users.vip, users.score, users.balance, users.birthday, users.signed_up_at, \
                users.preferences, json_array(users.id % 3, 't' || (users.id % 2)) AS tags \
         FROM users LEFT JOIN companies ON companies.id = users.company_id",
    )
    .column_type("preferences", ColumnType::Json)
    .column_type("tags", ColumnType::Json)
    .rendering(Rendering::Rails)
}

/// A copy of the fixture, migrated, with the model the gem declared.
async fn take_over() -> (TestDb, Etlify, Arc<NullAdapter>) {
    gem::take_over("rails-gem-typed", payload()).await
}

fn upserts(adapter: &NullAdapter) -> u64 {
    adapter.calls().batch_upserted_records + adapter.calls().upserts
}

/// The sample users' canonical JSON and digest are the gem's, byte for byte.
#[tokio::test]
async fn interop_typed_payloads_reproduce_the_gems_canonical_json() {
    let (db, _etlify, _) = take_over().await;
    let expect = expected();
    for sample in expect["sample_users"].as_array().unwrap() {
        let id = sample["id"].as_i64().unwrap();
        let loaded =
            etlify::PayloadSource::load(&payload(), &db.store, &[etlify::ResourceId::new(id)])
                .await
                .unwrap();
        let payload = loaded[&etlify::ResourceId::new(id)].clone().unwrap();
        let canonical = etlify::canonical_json(&Value::Object(payload));
        assert_eq!(
            canonical,
            sample["canonical_json"].as_str().unwrap(),
            "user {id}"
        );
    }
}

/// A stale run sends exactly the two users that changed; a full reconcile
/// after it sends nothing more.
#[tokio::test]
async fn interop_typed_stale_run_sends_exactly_the_changed_users() {
    let (_db, etlify, adapter) = take_over().await;
    let expect = expected();
    let stats = etlify.batch_sync(&BatchSyncOptions::new()).await.unwrap();
    assert_eq!(stats.total as i64, expect["stale_count"].as_i64().unwrap());
    assert_eq!(
        upserts(&adapter) as i64,
        expect["expected_crm_upserts_for_stale_run"]
            .as_i64()
            .unwrap()
    );
    assert_eq!(stats.outcomes.synced, 2);
    assert_eq!(stats.errors, 0);
    let full = etlify
        .batch_sync(&BatchSyncOptions::new().full_reconcile(true))
        .await
        .unwrap();
    assert_eq!(full.outcomes.synced, 0);
    assert_eq!(upserts(&adapter), 2, "no more CRM calls");
}

/// A full reconcile alone (every user re-digested) sends only the two too.
#[tokio::test]
async fn interop_typed_full_reconcile_sends_only_the_changed_users() {
    let (_db, etlify, adapter) = take_over().await;
    let stats = etlify
        .batch_sync(&BatchSyncOptions::new().full_reconcile(true))
        .await
        .unwrap();
    assert_eq!(stats.total as i64, expected()["users"].as_i64().unwrap());
    assert_eq!(
        upserts(&adapter) as i64,
        expected()["expected_crm_upserts_for_full_reconcile"]
            .as_i64()
            .unwrap()
    );
}
