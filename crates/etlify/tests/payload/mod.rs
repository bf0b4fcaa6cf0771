//! SQL payloads: how column types become JSON properties, on each backend
//! (`docs/MODELS.md`, "Column types"), declared types and renderings.

use etlify::{Binding, ColumnType, Crm, ErrorKind, Model, Rendering, SqlPayload};
use serde_json::json;

use crate::support::adapter::RecordingAdapter;
use crate::support::{builder, engine, TestDb};

/// MySQL's types as Rails' mysql2 adapter reads them, so that the gem's
/// digests match (issue 31): `tinyint(1)` booleans, a 4-byte `FLOAT` as
/// MySQL prints it (499/3 is `166.333`), decimals, `datetime` with and
/// without fractions, `timestamp`, `enum`, `set`, a `BINARY(16)` UUID, and
/// JSON (text on MariaDB) where declared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_payload_types_read_as_the_gem_read_them() {
    let db = TestDb::mysql().await;
    db.migrate().await;
    db.exec(
        "CREATE TABLE things (id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY, flag tinyint(1), \
         small tinyint, big bigint, ratio float, exact double, price decimal(10, 2), \
         seen_at datetime(6), whole_second datetime, stamped timestamp(6) NULL, day date, \
         mood enum('happy', 'sad'), tags set('a', 'b', 'c'), uid binary(16), extra json, \
         label varchar(255), missing text)",
    )
    .await;
    db.exec(
        "INSERT INTO things (flag, small, big, ratio, exact, price, seen_at, whole_second, stamped, \
         day, mood, tags, uid, extra, label) VALUES (1, -2, 9007199254740993, 499 / 3, 0.1, 12.50, \
         '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05', '2024-01-02 03:04:05.5', '2024-01-02', \
         'sad', 'a,c', UNHEX('123E4567E89B12D3A456426614174000'), '{\"a\": [1, 2]}', 'Zoë \\'q\\'')",
    )
    .await;
    let source = SqlPayload::new("SELECT * FROM things").column_type("extra", ColumnType::Json);
    let loaded = etlify::PayloadSource::load(&source, &db.store, &[etlify::ResourceId::new(1)])
        .await
        .unwrap();
    let payload = loaded[&etlify::ResourceId::new(1)].clone().unwrap();
    assert_eq!(payload["flag"], json!(true));
    assert_eq!(payload["small"], json!(-2));
    assert_eq!(payload["big"], json!(9007199254740993_i64));
    assert_eq!(payload["ratio"], json!(166.333), "as MySQL prints a FLOAT");
    assert_eq!(payload["exact"], json!(0.1));
    assert_eq!(payload["price"], json!("12.5"));
    assert_eq!(payload["seen_at"], json!("2024-01-02T03:04:05.123456Z"));
    assert_eq!(payload["whole_second"], json!("2024-01-02T03:04:05Z"));
    assert_eq!(payload["stamped"], json!("2024-01-02T03:04:05.500Z"));
    assert_eq!(payload["day"], json!("2024-01-02"));
    assert_eq!(payload["mood"], json!("sad"));
    assert_eq!(payload["tags"], json!("a,c"));
    assert_eq!(
        payload["uid"],
        json!("123e4567-e89b-12d3-a456-426614174000")
    );
    assert_eq!(payload["extra"], json!({"a": [1, 2]}));
    assert_eq!(payload["label"], json!("Zoë 'q'"));
    assert_eq!(payload["missing"], json!(null));

    // The gem's renderings of the same row.
    let rails =
        SqlPayload::new("SELECT id, seen_at, price, flag FROM things").rendering(Rendering::Rails);
    let loaded = etlify::PayloadSource::load(&rails, &db.store, &[etlify::ResourceId::new(1)])
        .await
        .unwrap();
    let payload = loaded[&etlify::ResourceId::new(1)].clone().unwrap();
    assert_eq!(payload["seen_at"], json!("2024-01-02 03:04:05 UTC"));
    assert_eq!(payload["price"], json!("12.5"));
    assert_eq!(payload["flag"], json!(true));
}

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

// The database tests, compiled once per backend: `payload::sqlite::…`,
// `payload::postgres::…` and `payload::mysql::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
