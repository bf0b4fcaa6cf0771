//! The tests of `payload` that run on each backend. This file is compiled
//! three times, as `payload::sqlite`, `payload::postgres` and
//! `payload::mysql` (`mod.rs`); `BACKEND` is this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_types_the_declared_column_type_decides_on_both_backends() {
    let db = TestDb::new(BACKEND).await;
    db.migrate().await;
    let (ddl, insert) = if db.is_postgres() {
        (
            "CREATE TABLE things (id bigserial PRIMARY KEY, flag boolean, small int2, count int4, big int8, ratio float8, \
             label text, code varchar(10), seen_at timestamp, seen_tz timestamptz, day date, extra jsonb, missing text, \
             price numeric(10, 2), whole numeric(10, 2))",
            "INSERT INTO things (flag, small, count, big, ratio, label, code, seen_at, seen_tz, day, extra, price, whole) VALUES \
             (true, 2, 3, 9007199254740993, 2.5, 'Zoë', 'AB', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05+00', '2024-01-02', '{\"a\": [1, 2]}', 12.50, 100)",
        )
    } else {
        (
            "CREATE TABLE things (id integer PRIMARY KEY, flag boolean, small integer, count integer, big integer, ratio real, \
             label text, code varchar(10), seen_at datetime(6), seen_tz datetime, day date, extra json, missing text, \
             price decimal(10,2), whole decimal(10,2))",
            "INSERT INTO things (flag, small, count, big, ratio, label, code, seen_at, seen_tz, day, extra, price, whole) VALUES \
             (1, 2, 3, 9007199254740993, 2.5, 'Zoë', 'AB', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05', '2024-01-02', '{\"a\": [1, 2]}', 12.5, 100)",
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
    // The same JSON on both: SQLite's booleans (0/1), datetimes and dates
    // (text), decimals (REAL) and JSON columns are read by their declared type.
    assert_eq!(payload["flag"], json!(true));
    assert_eq!(payload["seen_at"], json!("2024-01-02T03:04:05.123456Z"));
    assert_eq!(payload["seen_tz"], json!("2024-01-02T03:04:05Z"));
    assert_eq!(payload["day"], json!("2024-01-02"));
    assert_eq!(payload["extra"], json!({"a": [1, 2]}));
    assert_eq!(payload["price"], json!("12.5"));
    assert_eq!(payload["whole"], json!("100"));

    // The Rails rendering: the gem's `to_s` of a TimeWithZone and a BigDecimal.
    let rails = SqlPayload::new("SELECT id, seen_at, price, whole, day FROM things")
        .rendering(Rendering::Rails);
    let loaded = etlify::PayloadSource::load(&rails, &db.store, &[etlify::ResourceId::new(1)])
        .await
        .unwrap();
    let payload = loaded[&etlify::ResourceId::new(1)].clone().unwrap();
    assert_eq!(payload["seen_at"], json!("2024-01-02 03:04:05 UTC"));
    assert_eq!(payload["price"], json!("12.5"));
    assert_eq!(payload["whole"], json!("100.0"));
    assert_eq!(payload["day"], json!("2024-01-02"));
}

/// What the database cannot tell (expressions, JSON kept in text) is
/// declared on the payload, column by column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_types_declared_types_apply_to_expressions_and_text() {
    let db = TestDb::new(BACKEND).await;
    db.migrate().await;
    db.exec("CREATE TABLE notes (id integer PRIMARY KEY, body text, flag integer)")
        .await;
    db.exec("INSERT INTO notes (id, body, flag) VALUES (1, '{\"k\": 0.25}', 1)")
        .await;
    let source = SqlPayload::new(
        "SELECT id, body, flag, '2024-05-06 07:08:09' AS stamped, '12.50' AS amount FROM notes",
    )
    .column_type("body", ColumnType::Json)
    .column_type("flag", ColumnType::Boolean)
    .column_type("stamped", ColumnType::Timestamp)
    .column_type("amount", ColumnType::Decimal)
    .column_rendering("stamped", Rendering::Rails);
    let loaded = etlify::PayloadSource::load(&source, &db.store, &[etlify::ResourceId::new(1)])
        .await
        .unwrap();
    let payload = loaded[&etlify::ResourceId::new(1)].clone().unwrap();
    assert_eq!(payload["body"], json!({"k": 0.25}));
    assert_eq!(payload["flag"], json!(true));
    assert_eq!(payload["stamped"], json!("2024-05-06 07:08:09 UTC"));
    assert_eq!(payload["amount"], json!("12.5"));

    // A value that does not fit its declared type fails that record alone,
    // naming the column; the other records are loaded.
    db.exec("INSERT INTO notes (id, body, flag) VALUES (2, '17', 0)")
        .await;
    let wrong =
        SqlPayload::new("SELECT id, body FROM notes").column_type("body", ColumnType::Integer);
    let loaded = etlify::PayloadSource::load(
        &wrong,
        &db.store,
        &[etlify::ResourceId::new(1), etlify::ResourceId::new(2)],
    )
    .await
    .unwrap();
    let error = loaded[&etlify::ResourceId::new(1)].clone().unwrap_err();
    assert!(
        error.contains("column `body`") && error.contains("integer"),
        "{error}"
    );
    assert_eq!(
        loaded[&etlify::ResourceId::new(2)].clone().unwrap()["body"],
        json!(17)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_a_column_without_json_mapping_is_refused_by_build_with_a_cast_hint() {
    let db = TestDb::new(BACKEND).await;
    db.migrate().await;
    let (ddl, insert) = if db.is_postgres() {
        (
            "CREATE TABLE prices (id bigserial PRIMARY KEY, amount bytea)",
            "INSERT INTO prices (amount) VALUES ('\\x0102')",
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
    // Refused by build(), before any run, naming the column and a cast.
    let err = builder(
        db.store.clone(),
        vec![Crm::new("hubspot", RecordingAdapter::new())],
        vec![model],
    )
    .build()
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let message = err.to_string();
    assert!(
        message.contains("models.Price.crms.hubspot")
            && message.contains("column `amount`")
            && message.contains("cast"),
        "{message}"
    );
}
