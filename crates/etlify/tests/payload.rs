//! SQL payloads: how column types become JSON properties, on each backend.

use etlify::{Binding, Crm, ErrorKind, Model, SqlPayload};
use serde_json::json;

use crate::support::adapter::RecordingAdapter;
use crate::support::{engine, TestDb};

async fn sql_payload_maps_column_types_to_json(db: TestDb) {
    db.migrate().await;
    let (ddl, insert) = if db.is_postgres() {
        (
            "CREATE TABLE things (id bigserial PRIMARY KEY, flag boolean, small int2, count int4, big int8, ratio float8, \
             label text, code varchar(10), seen_at timestamp, seen_tz timestamptz, day date, extra jsonb, missing text)",
            "INSERT INTO things (flag, small, count, big, ratio, label, code, seen_at, seen_tz, day, extra) VALUES \
             (true, 2, 3, 9007199254740993, 2.5, 'Zoë', 'AB', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05+00', '2024-01-02', '{\"a\": [1, 2]}')",
        )
    } else {
        (
            "CREATE TABLE things (id integer PRIMARY KEY, flag boolean, small integer, count integer, big integer, ratio real, \
             label text, code varchar(10), seen_at datetime, seen_tz datetime, day date, extra text, missing text)",
            "INSERT INTO things (flag, small, count, big, ratio, label, code, seen_at, seen_tz, day, extra) VALUES \
             (1, 2, 3, 9007199254740993, 2.5, 'Zoë', 'AB', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05', '2024-01-02', '{\"a\": [1, 2]}')",
        )
    };
    db.exec(ddl).await;
    db.exec(insert).await;
    let adapter = RecordingAdapter::new();
    let model = Model::new("Thing", "things").bind(
        "hubspot",
        Binding::new("things", "code").payload(SqlPayload::new("SELECT * FROM things")),
    );
    let etlify = engine(&db, vec![Crm::new("hubspot", adapter.clone())], vec![model]).await;
    etlify.sync("hubspot", "Thing", 1).await.unwrap();
    let payload = adapter.upserts()[0].payload.clone();
    assert_eq!(payload["small"], json!(2));
    assert_eq!(payload["count"], json!(3));
    assert_eq!(
        payload["big"],
        json!(9007199254740993_i64),
        "64-bit integers stay exact"
    );
    assert_eq!(payload["ratio"], json!(2.5));
    assert_eq!(payload["label"], json!("Zoë"));
    assert_eq!(payload["code"], json!("AB"));
    assert_eq!(payload["missing"], json!(null));
    assert!(
        !payload.contains_key("id"),
        "the key column is not a property"
    );
    if db.is_postgres() {
        assert_eq!(payload["flag"], json!(true));
        assert_eq!(payload["seen_at"], json!("2024-01-02T03:04:05.123456Z"));
        assert_eq!(payload["seen_tz"], json!("2024-01-02T03:04:05Z"));
        assert_eq!(payload["day"], json!("2024-01-02"));
        assert_eq!(payload["extra"], json!({"a": [1, 2]}));
    } else {
        // SQLite stores what it was given: booleans as integers, dates as text.
        assert_eq!(payload["flag"], json!(1));
        assert_eq!(payload["seen_at"], json!("2024-01-02 03:04:05.123456"));
        assert_eq!(payload["day"], json!("2024-01-02"));
        assert_eq!(payload["extra"], json!("{\"a\": [1, 2]}"));
    }
}

async fn a_column_without_json_mapping_is_refused_with_a_cast_hint(db: TestDb) {
    db.migrate().await;
    let (ddl, insert) = if db.is_postgres() {
        (
            "CREATE TABLE prices (id bigserial PRIMARY KEY, amount numeric(10, 2))",
            "INSERT INTO prices (amount) VALUES (12.50)",
        )
    } else {
        (
            "CREATE TABLE prices (id integer PRIMARY KEY, amount blob)",
            "INSERT INTO prices (amount) VALUES (x'0102')",
        )
    };
    db.exec(ddl).await;
    db.exec(insert).await;
    let model = Model::new("Price", "prices").bind(
        "hubspot",
        Binding::new("products", "amount")
            .payload(SqlPayload::new("SELECT id, amount FROM prices")),
    );
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", RecordingAdapter::new())],
        vec![model],
    )
    .await;
    let err = etlify.sync("hubspot", "Price", 1).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Payload);
    let message = err.to_string();
    assert!(
        message.contains("column `amount`") && message.contains("cast"),
        "{message}"
    );
}

crate::backend_tests!(
    sql_payload_maps_column_types_to_json,
    a_column_without_json_mapping_is_refused_with_a_cast_hint
);
