//! SQL payloads: how column types become JSON properties, on each backend
//! (`docs/MODELS.md`, "Column types"), declared types and renderings.

use etlify::{Binding, ColumnType, Crm, ErrorKind, Model, Rendering, SqlPayload};
use serde_json::json;

use crate::support::adapter::RecordingAdapter;
use crate::support::{builder, engine, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_types_postgres_uuid_arrays_enums_and_citext() {
    let db = TestDb::postgres().await;
    db.migrate().await;
    db.exec("CREATE EXTENSION IF NOT EXISTS citext").await;
    db.exec("CREATE TYPE mood AS ENUM ('happy', 'sad')").await;
    db.exec(
        "CREATE TABLE people (id bigserial PRIMARY KEY, uid uuid, tags text[], scores int4[], mood mood, email citext)",
    )
    .await;
    db.exec(
        "INSERT INTO people (uid, tags, scores, mood, email) VALUES \
         ('123e4567-e89b-12d3-a456-426614174000', ARRAY['a', NULL, 'b'], ARRAY[1, 2], 'sad', 'Ada@Example.com')",
    )
    .await;
    let source = SqlPayload::new("SELECT id, uid, tags, scores, mood, email FROM people");
    let loaded = etlify::PayloadSource::load(&source, &db.store, &[etlify::ResourceId::new(1)])
        .await
        .unwrap();
    let payload = loaded[&etlify::ResourceId::new(1)].clone().unwrap();
    assert_eq!(
        payload["uid"],
        json!("123e4567-e89b-12d3-a456-426614174000")
    );
    assert_eq!(payload["tags"], json!(["a", null, "b"]));
    assert_eq!(payload["scores"], json!([1, 2]));
    assert_eq!(payload["mood"], json!("sad"));
    assert_eq!(payload["email"], json!("Ada@Example.com"));
}

// The database tests, compiled once per backend: `payload::sqlite::…` and
// `payload::postgres::…`.
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
