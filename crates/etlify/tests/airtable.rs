//! The Airtable v0 adapter: exact request shapes (wiremock).
//!
//! Each test runs the adapter against a wiremock server on loopback and
//! checks method, path (encoded), query, headers and body of every request
//! the gem's Airtable adapter sent and Etlify keeps (AIRTABLE-1..AIRTABLE-9), plus the
//! deliberate differences X-2, X-4 and X-16.

use std::sync::Arc;
use std::time::{Duration, Instant};

use etlify::adapters::airtable::{AirtableAdapter, AirtableConfig};
use etlify::adapters::{
    Access, Adapter, AdapterError, AdapterErrorKind, BatchItem, HttpSettings, RemoteDelete,
    RetryPolicy, Throttle, UpsertRequest,
};
use etlify::{Crm, CrmRegistry, Payload, RateLimit};
use serde_json::{json, Value};
use wiremock::matchers::{body_json, body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "patS3cretT0ken.0123456789abcdef";
const BASE: &str = "appAbCdEf01234567";
const TABLE_PATH: &str = "/v0/appAbCdEf01234567/Contacts";

/// Fast retries so that 429/5xx tests take milliseconds.
fn fast_http() -> HttpSettings {
    HttpSettings::default().retry(
        RetryPolicy::default()
            .max_attempts(3)
            .base_delay(Duration::from_millis(1))
            .max_delay(Duration::from_millis(20)),
    )
}

fn config(server: &MockServer) -> AirtableConfig {
    AirtableConfig::new(TOKEN, BASE)
        .base_url(server.uri())
        .http(fast_http())
}

fn adapter(server: &MockServer) -> AirtableAdapter {
    AirtableAdapter::new(config(server)).unwrap()
}

fn payload(value: Value) -> Payload {
    value.as_object().unwrap().clone()
}

fn request<'a>(
    table: &'a str,
    payload: &'a Payload,
    id_property: &'a str,
    crm_id: Option<&'a str>,
) -> UpsertRequest<'a> {
    UpsertRequest {
        object_type: table,
        payload,
        id_property,
        crm_id,
        id_property_only_on_create: false,
        mode: etlify::adapters::WriteMode::Upsert,
    }
}

fn json_response(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

/// The decoded query pairs of a received request, in order.
fn query(request: &Request) -> Vec<(String, String)> {
    request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

/// Answers a batch PATCH like Airtable: one record per input, in order,
/// with a `rec…` id derived from the merge value (or the given id).
struct EchoUpsert {
    merge_field: &'static str,
}

impl Respond for EchoUpsert {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap();
        let records: Vec<Value> = body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|record| {
                let id = match record.get("id") {
                    Some(id) => id.as_str().unwrap().to_owned(),
                    None => format!("rec{:0>14}", fingerprint(&record["fields"][self.merge_field])),
                };
                json!({"id": id, "createdTime": "2024-01-01T00:00:00.000Z", "fields": record["fields"]})
            })
            .collect();
        let ids: Vec<Value> = records.iter().map(|r| r["id"].clone()).collect();
        json_response(
            200,
            json!({"records": records, "createdRecords": ids, "updatedRecords": []}),
        )
    }
}

/// A short alphanumeric fingerprint of a JSON value.
fn fingerprint(value: &Value) -> String {
    let text = value.to_string();
    let sum = text.bytes().fold(7u64, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    format!("{sum:x}").chars().take(14).collect()
}

// ---- configuration (AIRTABLE-8) ----

#[test]
fn airtable_new_rejects_bad_settings_naming_the_field() {
    let ok = || AirtableConfig::new(TOKEN, BASE);
    assert!(AirtableAdapter::new(ok()).is_ok());
    let error = AirtableAdapter::new(ok().base_id("bad")).unwrap_err();
    assert_eq!((error.location(), error.field()), ("airtable", "base_id"));
    assert!(error.to_string().contains("app"), "{error}");
    assert_eq!(
        AirtableAdapter::new(AirtableConfig::new("", BASE))
            .unwrap_err()
            .field(),
        "token"
    );
    assert_eq!(
        AirtableAdapter::new(ok().batch_size(11))
            .unwrap_err()
            .field(),
        "batch_size"
    );
    assert_eq!(
        AirtableAdapter::new(ok().batch_size(0))
            .unwrap_err()
            .field(),
        "batch_size"
    );
    // The defaults: production URL, v0, 10 per batch, no typecast.
    let config = ok();
    assert_eq!(config.get_base_url(), "https://api.airtable.com");
    assert_eq!(config.get_api_version(), "v0");
    assert_eq!(config.get_batch_size(), 10);
    assert!(!config.get_typecast());
}

// ---- single upsert (X-2, X-16) ----

#[tokio::test]
async fn x16_airtable_upsert_searches_then_creates_keeping_email_case() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TABLE_PATH))
        .and(query_param(
            "filterByFormula",
            r#"{Email} = "John.Doe@Example.COM""#,
        ))
        .and(query_param("maxRecords", "1"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(json_response(200, json!({"records": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TABLE_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        // As in the gem: every field, id field included; the email is not lowercased.
        .and(body_json(
            json!({"fields": {"Email": "John.Doe@Example.COM", "Name": "John", "Age": 42}}),
        ))
        .respond_with(json_response(
            200,
            json!({"id": "recNew00000000001", "createdTime": "2024-01-01T00:00:00.000Z", "fields": {}}),
        ))
        .expect(1)
        .mount(&server)
        .await;

    let fields = payload(json!({"Email": "John.Doe@Example.COM", "Name": "John", "Age": 42}));
    let id = adapter(&server)
        .upsert(
            request("Contacts", &fields, "Email", None),
            &Throttle::unlimited(),
        )
        .await
        .unwrap();

    assert_eq!(id.as_deref(), Some("recNew00000000001"));
    let requests = received(&server).await;
    let search = &requests[0];
    assert_eq!(
        query(search).len(),
        2,
        "only filterByFormula and maxRecords"
    );
    assert!(search.body.is_empty(), "GET has no body");
    // Form encoding of the formula (AIRTABLE-9): `{` → %7B, space → +.
    assert!(
        search
            .url
            .query()
            .unwrap()
            .starts_with("filterByFormula=%7BEmail%7D+%3D+%22John.Doe%40Example.COM%22"),
        "{:?}",
        search.url.query()
    );
}

#[tokio::test]
async fn airtable_upsert_updates_the_found_record_with_every_field() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TABLE_PATH))
        .respond_with(json_response(
            200,
            json!({"records": [{"id": "recFound000000001", "fields": {"Email": "a@b.io"}}]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("{TABLE_PATH}/recFound000000001")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"fields": {"Email": "a@b.io", "Name": "Ann"}}),
        ))
        .respond_with(json_response(
            200,
            json!({"id": "recFound000000001", "fields": {}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(json_response(200, json!({"id": "recWrong000000001"})))
        .expect(0)
        .mount(&server)
        .await;

    let fields = payload(json!({"Email": "a@b.io", "Name": "Ann"}));
    let id = adapter(&server)
        .upsert(
            request("Contacts", &fields, "Email", None),
            &Throttle::unlimited(),
        )
        .await
        .unwrap();

    assert_eq!(id.as_deref(), Some("recFound000000001"));
}

#[tokio::test]
async fn x16_airtable_table_names_are_url_encoded() {
    let server = MockServer::start().await;
    // Space, slash, Unicode and an emoji-like symbol: one encoded segment each.
    let encoded = "/v0/appAbCdEf01234567/My%20Contacts%2F%C3%9Cn%C3%AFcode%20%E2%9C%93";
    Mock::given(method("POST"))
        .and(path(encoded))
        .respond_with(json_response(200, json!({"id": "recNew00000000001"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{encoded}/recOld00000000001")))
        .respond_with(json_response(
            200,
            json!({"id": "recOld00000000001", "deleted": true}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let airtable = adapter(&server);
    let table = "My Contacts/Ünïcode ✓";
    let fields = payload(json!({"Name": "x"}));

    let created = airtable
        .upsert(request(table, &fields, "", None), &Throttle::unlimited())
        .await
        .unwrap();
    let deleted = airtable
        .delete(table, "recOld00000000001", &Throttle::unlimited())
        .await
        .unwrap();

    assert_eq!(created.as_deref(), Some("recNew00000000001"));
    assert_eq!(deleted, RemoteDelete::Deleted);
}

#[tokio::test]
async fn x16_airtable_unicode_dotted_and_parenthesised_field_names_are_escaped_not_rejected() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TABLE_PATH))
        .respond_with(json_response(200, json!({"records": []})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TABLE_PATH))
        .respond_with(json_response(200, json!({"id": "recNew00000000001"})))
        .mount(&server)
        .await;
    let airtable = adapter(&server);
    let names = [
        "Prénom (clé).🔑",
        "e.mail",
        "Email (work)",
        "電子メール",
        "odd}name",
    ];

    for name in names {
        let mut fields = Payload::new();
        fields.insert(name.to_owned(), json!("Zoë"));
        airtable
            .upsert(
                request("Contacts", &fields, name, None),
                &Throttle::unlimited(),
            )
            .await
            .unwrap();
    }

    let formulas: Vec<String> = received(&server)
        .await
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .map(|r| query(r)[0].1.clone())
        .collect();
    assert_eq!(
        formulas,
        vec![
            r#"{Prénom (clé).🔑} = "Zoë""#,
            r#"{e.mail} = "Zoë""#,
            r#"{Email (work)} = "Zoë""#,
            r#"{電子メール} = "Zoë""#,
            r#"{odd\}name} = "Zoë""#,
        ]
    );
}

#[tokio::test]
async fn airtable_search_values_are_escaped_and_typed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TABLE_PATH))
        .respond_with(json_response(200, json!({"records": []})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TABLE_PATH))
        .respond_with(json_response(200, json!({"id": "recNew00000000001"})))
        .mount(&server)
        .await;
    let airtable = adapter(&server);
    let cases = [
        ("Code", json!(r#"say "hi" \ o/"#)),
        ("Age", json!(25)),
        ("Score", json!(2.5)),
        ("Active", json!(true)),
        ("Archived", json!(false)),
    ];

    for (field, value) in &cases {
        let mut fields = Payload::new();
        fields.insert((*field).to_owned(), value.clone());
        airtable
            .upsert(
                request("Contacts", &fields, field, None),
                &Throttle::unlimited(),
            )
            .await
            .unwrap();
    }

    let formulas: Vec<String> = received(&server)
        .await
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .map(|r| query(r)[0].1.clone())
        .collect();
    assert_eq!(
        formulas,
        vec![
            r#"{Code} = "say \"hi\" \\ o/""#,
            "{Age} = 25",
            "{Score} = 2.5",
            "{Active} = TRUE()",
            "{Archived} = FALSE()",
        ]
    );
}

#[tokio::test]
async fn airtable_blank_or_structured_id_values_are_not_searched() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, json!({"records": []})))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TABLE_PATH))
        .respond_with(json_response(200, json!({"id": "recNew00000000001"})))
        .expect(3)
        .mount(&server)
        .await;
    let airtable = adapter(&server);

    // As in the gem: no value, no search; an empty string would match every blank record.
    for fields in [
        json!({"Name": "x"}),
        json!({"Email": null}),
        json!({"Email": ""}),
    ] {
        let fields = payload(fields);
        let id = airtable
            .upsert(
                request("Contacts", &fields, "Email", None),
                &Throttle::unlimited(),
            )
            .await
            .unwrap();
        assert_eq!(id.as_deref(), Some("recNew00000000001"));
    }
    // A list has no formula literal: the record's fault, before any request.
    let fields = payload(json!({"Email": ["a@b.io"]}));
    let error = airtable
        .upsert(
            request("Contacts", &fields, "Email", None),
            &Throttle::unlimited(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), AdapterErrorKind::ValidationFailed);
}

#[tokio::test]
async fn x2_airtable_known_crm_id_is_patched_without_search() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{TABLE_PATH}/recKnown000000001")))
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"fields": {"Email": "new@b.io", "Name": "Ann"}}),
        ))
        .respond_with(json_response(
            200,
            json!({"id": "recKnown000000001", "fields": {}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, json!({"records": []})))
        .expect(0)
        .mount(&server)
        .await;

    let fields = payload(json!({"Email": "new@b.io", "Name": "Ann"}));
    let id = adapter(&server)
        .upsert(
            request("Contacts", &fields, "Email", Some(" recKnown000000001 ")),
            &Throttle::unlimited(),
        )
        .await
        .unwrap();

    assert_eq!(id.as_deref(), Some("recKnown000000001"));
}

#[tokio::test]
async fn x2_airtable_known_crm_id_gone_falls_back_to_search_then_create() {
    let server = MockServer::start().await;
    // The bare-string 404 envelope, and a 422 naming the record: both "gone".
    Mock::given(method("PATCH"))
        .and(path(format!("{TABLE_PATH}/recGone000000001")))
        .respond_with(json_response(404, json!({"error": "NOT_FOUND"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("{TABLE_PATH}/recGone000000002")))
        .respond_with(json_response(
            422,
            json!({"error": {"type": "ROW_DOES_NOT_EXIST", "message": "Record ID recGone000000002 does not exist in this table"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(TABLE_PATH))
        .and(query_param("filterByFormula", r#"{Email} = "a@b.io""#))
        .respond_with(json_response(200, json!({"records": []})))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TABLE_PATH))
        .and(body_json(json!({"fields": {"Email": "a@b.io"}})))
        .respond_with(json_response(200, json!({"id": "recNew00000000001"})))
        .expect(2)
        .mount(&server)
        .await;
    let airtable = adapter(&server);
    let fields = payload(json!({"Email": "a@b.io"}));

    for gone in ["recGone000000001", "recGone000000002"] {
        let id = airtable
            .upsert(
                request("Contacts", &fields, "Email", Some(gone)),
                &Throttle::unlimited(),
            )
            .await
            .unwrap();
        assert_eq!(id.as_deref(), Some("recNew00000000001"));
    }
}

#[tokio::test]
async fn x2_airtable_known_crm_id_rejected_for_its_fields_is_not_a_fallback() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(format!("{TABLE_PATH}/recKnown000000001")))
        .respond_with(json_response(
            422,
            json!({"error": {"type": "INVALID_VALUE_FOR_COLUMN", "message": "Field \"Age\" cannot accept the provided value"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(json_response(200, json!({"records": []})))
        .expect(0)
        .mount(&server)
        .await;

    let fields = payload(json!({"Email": "a@b.io", "Age": "old"}));
    let error = adapter(&server)
        .upsert(
            request("Contacts", &fields, "Email", Some("recKnown000000001")),
            &Throttle::unlimited(),
        )
        .await
        .unwrap_err();

    assert_eq!(error.kind(), AdapterErrorKind::ValidationFailed);
    assert_eq!(error.get_category(), Some("INVALID_VALUE_FOR_COLUMN"));
}

#[tokio::test]
async fn airtable_typecast_is_sent_on_writes_when_configured() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TABLE_PATH))
        .and(body_json(
            json!({"fields": {"Tag": "new option"}, "typecast": true}),
        ))
        .respond_with(json_response(200, json!({"id": "recNew00000000001"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(TABLE_PATH))
        .and(body_json(json!({
            "performUpsert": {"fieldsToMergeOn": ["Email"]},
            "records": [{"fields": {"Email": "a@b.io", "Tag": "new option"}}],
            "typecast": true
        })))
        .respond_with(EchoUpsert {
            merge_field: "Email",
        })
        .expect(1)
        .mount(&server)
        .await;
    let airtable = AirtableAdapter::new(config(&server).typecast(true)).unwrap();

    let fields = payload(json!({"Tag": "new option"}));
    airtable
        .upsert(
            request("Contacts", &fields, "", None),
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    let fields = payload(json!({"Email": "a@b.io", "Tag": "new option"}));
    let items = [BatchItem {
        payload: &fields,
        crm_id: None,
        id_property_only_on_create: false,
    }];
    let result = airtable
        .batch()
        .unwrap()
        .batch_upsert("Contacts", &items, "Email", &Throttle::unlimited())
        .await
        .unwrap();
    assert_eq!(result.crm_ids.len(), 1);
}

#[tokio::test]
async fn airtable_create_without_record_id_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(200, json!({"fields": {}})))
        .expect(1)
        .mount(&server)
        .await;

    let fields = payload(json!({"Name": "x"}));
    let error = adapter(&server)
        .upsert(
            request("Contacts", &fields, "", None),
            &Throttle::unlimited(),
        )
        .await
        .unwrap_err();

    // As in the gem: a create answered without an id is an error.
    assert_eq!(error.kind(), AdapterErrorKind::Other);
    assert_eq!(error.get_status(), Some(200));
    assert!(error.message().contains("returned no record id"), "{error}");
}

// ---- delete ----

#[tokio::test]
async fn airtable_delete_answers_deleted_not_found_or_error() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("{TABLE_PATH}/recLive000000001")))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(json_response(
            200,
            json!({"id": "recLive000000001", "deleted": true}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{TABLE_PATH}/recGone000000001")))
        .respond_with(json_response(404, json!({"error": {"type": "NOT_FOUND"}})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{TABLE_PATH}/recLock000000001")))
        .respond_with(json_response(
            403,
            json!({"error": {"type": "INVALID_PERMISSIONS", "message": "You are not permitted to perform this operation"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let airtable = adapter(&server);

    assert_eq!(
        airtable
            .delete("Contacts", "recLive000000001", &Throttle::unlimited())
            .await
            .unwrap(),
        RemoteDelete::Deleted
    );
    assert_eq!(
        airtable
            .delete("Contacts", "recGone000000001", &Throttle::unlimited())
            .await
            .unwrap(),
        RemoteDelete::NotFound
    );
    let error = airtable
        .delete("Contacts", "recLock000000001", &Throttle::unlimited())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), AdapterErrorKind::Unauthorized);
    assert!(airtable
        .delete("Contacts", "  ", &Throttle::unlimited())
        .await
        .is_err());
    let requests = received(&server).await;
    assert!(
        requests.iter().all(|r| r.body.is_empty()),
        "DELETE sends no body"
    );
    assert!(requests.iter().all(|r| r.url.query().is_none()));
}

// ---- errors (AIRTABLE-6, X-16) ----

#[tokio::test]
async fn x16_airtable_errors_understand_both_envelopes() {
    let server = MockServer::start().await;
    let cases = [
        (
            "T422",
            json_response(
                422,
                json!({"error": {"type": "UNKNOWN_FIELD_NAME", "message": "Unknown field name: \"Nmae\""}}),
            ),
        ),
        (
            "T401",
            json_response(
                401,
                json!({"error": {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}}),
            ),
        ),
        ("T404", json_response(404, json!({"error": "NOT_FOUND"}))),
        ("T500", ResponseTemplate::new(500).set_body_string("oops")),
    ];
    for (table, response) in cases {
        Mock::given(method("POST"))
            .and(path(format!("/v0/{BASE}/{table}")))
            .respond_with(response)
            .mount(&server)
            .await;
    }
    let airtable = adapter(&server);
    let fields = payload(json!({"Nmae": "x"}));
    let unlimited = Throttle::unlimited();
    let fail = |table: &'static str| airtable.upsert(request(table, &fields, "", None), &unlimited);

    let invalid = fail("T422").await.unwrap_err();
    assert_eq!(invalid.kind(), AdapterErrorKind::ValidationFailed);
    assert_eq!(invalid.get_status(), Some(422));
    assert_eq!(invalid.get_category(), Some("UNKNOWN_FIELD_NAME"));
    assert_eq!(invalid.message(), "Unknown field name: \"Nmae\"");
    let unauthorized = fail("T401").await.unwrap_err();
    assert_eq!(unauthorized.kind(), AdapterErrorKind::Unauthorized);
    assert_eq!(unauthorized.get_category(), Some("AUTHENTICATION_REQUIRED"));
    let not_found = fail("T404").await.unwrap_err();
    assert_eq!(not_found.kind(), AdapterErrorKind::NotFound);
    assert_eq!(not_found.get_category(), Some("NOT_FOUND"));
    assert!(not_found.to_string().contains("NOT_FOUND"), "{not_found}");
    let server_error = fail("T500").await.unwrap_err();
    assert_eq!(server_error.kind(), AdapterErrorKind::Transient);
    assert!(server_error.message().contains("oops"), "{server_error}");
    assert!(
        server_error.message().contains("not repeated"),
        "{server_error}"
    );

    // Every create was sent once: a 500 may follow an applied create, so it
    // is not repeated (lost_response); validation and auth errors never are.
    let posts = |table: &str| {
        let suffix = format!("/{table}");
        move |r: &&Request| r.url.path().ends_with(&suffix)
    };
    let requests = received(&server).await;
    assert_eq!(requests.iter().filter(posts("T500")).count(), 1);
    assert_eq!(requests.iter().filter(posts("T422")).count(), 1);
    assert_eq!(requests.iter().filter(posts("T401")).count(), 1);
}

#[tokio::test]
async fn airtable_429_is_retried_then_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TABLE_PATH))
        .respond_with(json_response(
            429,
            json!({"error": {"type": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}}),
        ))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(TABLE_PATH))
        .and(body_json(json!({"fields": {"Name": "x"}})))
        .respond_with(json_response(200, json!({"id": "recNew00000000001"})))
        .expect(1)
        .mount(&server)
        .await;

    let fields = payload(json!({"Name": "x"}));
    let id = adapter(&server)
        .upsert(
            request("Contacts", &fields, "", None),
            &Throttle::unlimited(),
        )
        .await
        .unwrap();

    assert_eq!(id.as_deref(), Some("recNew00000000001"));
    assert_eq!(received(&server).await.len(), 2);
}

#[tokio::test]
async fn airtable_persistent_429_is_rate_limited_with_the_30_second_penalty() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(
            429,
            json!({"error": {"type": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}}),
        ))
        .expect(3)
        .mount(&server)
        .await;

    let fields = payload(json!({"Name": "x"}));
    let error = adapter(&server)
        .upsert(
            request("Contacts", &fields, "", None),
            &Throttle::unlimited(),
        )
        .await
        .unwrap_err();

    assert_eq!(error.kind(), AdapterErrorKind::RateLimited);
    assert_eq!(error.get_retry_after(), Some(Duration::from_secs(30)));
    assert!(
        !error.is_record_error(),
        "X-3: throttling is never a record error"
    );
}

/// The CRM's limit counts each request of a call, not only the call: a
/// batch delete of 25 records is three requests.
#[tokio::test]
async fn airtable_the_crms_limit_throttles_every_request_of_a_call() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(json_response(200, json!({"records": []})))
        .expect(3)
        .mount(&server)
        .await;
    let limit = RateLimit::new(1, Duration::from_millis(300)).unwrap();
    let mut registry = CrmRegistry::new();
    registry
        .register(Crm::new("airtable", Arc::new(adapter(&server))).rate_limit(limit))
        .unwrap();
    let ids: Vec<String> = (0..25).map(|i| format!("rec{i:0>14}")).collect();

    let started = Instant::now();
    registry
        .get("airtable")
        .unwrap()
        .adapter()
        .batch()
        .unwrap()
        .batch_delete("Contacts", &ids)
        .await
        .unwrap();

    // Three requests at one per 300 ms: the 2nd and 3rd waited.
    assert!(
        started.elapsed() >= Duration::from_millis(550),
        "{:?}",
        started.elapsed()
    );
}

// ---- batch upsert (AIRTABLE-3..AIRTABLE-5, X-2, X-4) ----

#[tokio::test]
async fn airtable_batch_upsert_merges_on_the_field_name() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(TABLE_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        // Exact body: no returnFieldsByFieldId for a field name, no typecast.
        .and(body_json(json!({
            "performUpsert": {"fieldsToMergeOn": ["Email"]},
            "records": [
                {"fields": {"Email": "a@x.io", "Name": "A"}},
                {"fields": {"Email": "b@x.io", "Name": "B"}}
            ]
        })))
        .respond_with(json_response(
            200,
            json!({
                "records": [
                    {"id": "recA0000000000001", "fields": {"Email": "a@x.io", "Name": "A"}},
                    {"id": "recB0000000000001", "fields": {"Email": "b@x.io", "Name": "B"}}
                ],
                "createdRecords": ["recA0000000000001"],
                "updatedRecords": ["recB0000000000001"]
            }),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let a = payload(json!({"Email": "a@x.io", "Name": "A"}));
    let b = payload(json!({"Email": "b@x.io", "Name": "B"}));
    let items = [
        BatchItem {
            payload: &a,
            crm_id: None,
            id_property_only_on_create: false,
        },
        BatchItem {
            payload: &b,
            crm_id: None,
            id_property_only_on_create: false,
        },
    ];
    let airtable = adapter(&server);

    let result = airtable
        .batch()
        .unwrap()
        .batch_upsert("Contacts", &items, "Email", &Throttle::unlimited())
        .await
        .unwrap();

    assert_eq!(airtable.batch().unwrap().max_batch_size(), 10);
    assert_eq!(result.crm_ids["a@x.io"], "recA0000000000001");
    assert_eq!(result.crm_ids["b@x.io"], "recB0000000000001");
    assert_eq!(result.crm_ids.len(), 2);
    assert!(result.errors.is_empty());
}

#[tokio::test]
async fn airtable_batch_upsert_by_field_id_requests_fields_by_field_id() {
    let server = MockServer::start().await;
    let field = "fldEmAiL012345678";
    Mock::given(method("PATCH"))
        .and(path(TABLE_PATH))
        .and(body_json(json!({
            "performUpsert": {"fieldsToMergeOn": [field]},
            "records": [{"fields": {field: "a@x.io"}}],
            "returnFieldsByFieldId": true
        })))
        .respond_with(json_response(
            200,
            json!({
                "records": [{"id": "recA0000000000001", "fields": {field: "a@x.io"}}],
                "createdRecords": [],
                "updatedRecords": ["recA0000000000001"]
            }),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let a = payload(json!({field: "a@x.io"}));

    let result = adapter(&server)
        .batch()
        .unwrap()
        .batch_upsert(
            "Contacts",
            &[BatchItem {
                payload: &a,
                crm_id: None,
                id_property_only_on_create: false,
            }],
            field,
            &Throttle::unlimited(),
        )
        .await
        .unwrap();

    assert_eq!(result.crm_ids["a@x.io"], "recA0000000000001");
}

#[tokio::test]
async fn airtable_batch_of_23_records_goes_in_3_requests_of_at_most_10() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(TABLE_PATH))
        .and(body_partial_json(
            json!({"performUpsert": {"fieldsToMergeOn": ["Email"]}}),
        ))
        .respond_with(EchoUpsert {
            merge_field: "Email",
        })
        .expect(3)
        .mount(&server)
        .await;
    let payloads: Vec<Payload> = (0..23)
        .map(|i| payload(json!({"Email": format!("user{i}@x.io"), "Rank": i})))
        .collect();
    let items: Vec<BatchItem<'_>> = payloads
        .iter()
        .map(|p| BatchItem {
            payload: p,
            crm_id: None,
            id_property_only_on_create: false,
        })
        .collect();

    let result = adapter(&server)
        .batch()
        .unwrap()
        .batch_upsert("Contacts", &items, "Email", &Throttle::unlimited())
        .await
        .unwrap();

    let sizes: Vec<usize> = received(&server)
        .await
        .iter()
        .map(|r| {
            r.body_json::<Value>().unwrap()["records"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, vec![10, 10, 3]);
    assert_eq!(result.crm_ids.len(), 23);
    assert!(result.errors.is_empty());
    let expected = format!("rec{:0>14}", fingerprint(&json!("user22@x.io")));
    assert_eq!(result.crm_ids["user22@x.io"], expected);
}

#[tokio::test]
async fn x4_airtable_batch_reconciles_created_and_updated_records() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(TABLE_PATH))
        .respond_with(json_response(
            200,
            json!({
                // Out of order, one email normalised by Airtable, one input missing.
                "records": [
                    {"id": "recC0000000000001", "fields": {"Email": "c@x.io"}},
                    {"id": "recA0000000000001", "fields": {"Email": "a@x.io"}},
                    {"id": "recB0000000000001", "fields": {"Email": "b@x.io"}}
                ],
                "createdRecords": ["recA0000000000001", "recC0000000000001"],
                "updatedRecords": ["recB0000000000001"]
            }),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let inputs: Vec<Payload> = ["a@x.io", "B@X.io", "c@x.io", "d@x.io"]
        .iter()
        .map(|email| payload(json!({"Email": email})))
        .collect();
    let items: Vec<BatchItem<'_>> = inputs
        .iter()
        .map(|p| BatchItem {
            payload: p,
            crm_id: None,
            id_property_only_on_create: false,
        })
        .collect();

    let result = adapter(&server)
        .batch()
        .unwrap()
        .batch_upsert("Contacts", &items, "Email", &Throttle::unlimited())
        .await
        .unwrap();

    assert_eq!(result.crm_ids["a@x.io"], "recA0000000000001");
    // Keyed by the input's own value, matched ignoring case.
    assert_eq!(result.crm_ids["B@X.io"], "recB0000000000001");
    assert_eq!(result.crm_ids["c@x.io"], "recC0000000000001");
    assert_eq!(result.crm_ids.len(), 3);
    // The missing record is an error for that input, not a silent success.
    assert_eq!(result.errors.len(), 1);
    assert_eq!(result.errors[0].id_value.as_deref(), Some("d@x.io"));
}

#[tokio::test]
async fn x2_airtable_batch_known_crm_ids_are_updated_by_record_id() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path(TABLE_PATH))
        .and(body_json(json!({
            "records": [
                {"id": "recKnownA00000001", "fields": {"Email": "a@x.io", "Name": "A"}},
                {"id": "recKnownB00000001", "fields": {"Email": "b@x.io", "Name": "B"}}
            ]
        })))
        .respond_with(EchoUpsert {
            merge_field: "Email",
        })
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(TABLE_PATH))
        .and(body_json(json!({
            "performUpsert": {"fieldsToMergeOn": ["Email"]},
            "records": [{"fields": {"Email": "c@x.io", "Name": "C"}}]
        })))
        .respond_with(EchoUpsert {
            merge_field: "Email",
        })
        .expect(1)
        .mount(&server)
        .await;
    let a = payload(json!({"Email": "a@x.io", "Name": "A"}));
    let b = payload(json!({"Email": "b@x.io", "Name": "B"}));
    let c = payload(json!({"Email": "c@x.io", "Name": "C"}));
    let items = [
        BatchItem {
            payload: &a,
            crm_id: Some("recKnownA00000001"),
            id_property_only_on_create: false,
        },
        BatchItem {
            payload: &c,
            crm_id: None,
            id_property_only_on_create: false,
        },
        BatchItem {
            payload: &b,
            crm_id: Some("recKnownB00000001"),
            id_property_only_on_create: false,
        },
    ];

    let result = adapter(&server)
        .batch()
        .unwrap()
        .batch_upsert("Contacts", &items, "Email", &Throttle::unlimited())
        .await
        .unwrap();

    assert_eq!(result.crm_ids["a@x.io"], "recKnownA00000001");
    assert_eq!(result.crm_ids["b@x.io"], "recKnownB00000001");
    assert!(result.crm_ids["c@x.io"].starts_with("rec"));
    assert!(result.errors.is_empty());
}

#[tokio::test]
async fn x2_airtable_batch_gone_record_falls_back_to_merge_on_id_property() {
    let server = MockServer::start().await;
    let both = json!({
        "records": [
            {"id": "recAlive000000001", "fields": {"Email": "a@x.io"}},
            {"id": "recDead0000000001", "fields": {"Email": "d@x.io"}}
        ]
    });
    Mock::given(method("PATCH"))
        .and(body_json(both))
        .respond_with(json_response(
            422,
            json!({"error": {"type": "ROW_DOES_NOT_EXIST", "message": "Record ID recDead0000000001 does not exist"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(body_json(json!({
            "records": [{"id": "recAlive000000001", "fields": {"Email": "a@x.io"}}]
        })))
        .respond_with(EchoUpsert {
            merge_field: "Email",
        })
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(body_json(json!({
            "performUpsert": {"fieldsToMergeOn": ["Email"]},
            "records": [{"fields": {"Email": "d@x.io"}}]
        })))
        .respond_with(json_response(
            200,
            json!({"records": [{"id": "recReborn00000001", "fields": {"Email": "d@x.io"}}], "createdRecords": ["recReborn00000001"], "updatedRecords": []}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let alive = payload(json!({"Email": "a@x.io"}));
    let dead = payload(json!({"Email": "d@x.io"}));
    let items = [
        BatchItem {
            payload: &alive,
            crm_id: Some("recAlive000000001"),
            id_property_only_on_create: false,
        },
        BatchItem {
            payload: &dead,
            crm_id: Some("recDead0000000001"),
            id_property_only_on_create: false,
        },
    ];

    let result = adapter(&server)
        .batch()
        .unwrap()
        .batch_upsert("Contacts", &items, "Email", &Throttle::unlimited())
        .await
        .unwrap();

    assert_eq!(result.crm_ids["a@x.io"], "recAlive000000001");
    assert_eq!(result.crm_ids["d@x.io"], "recReborn00000001");
    assert!(result.errors.is_empty());
}

#[tokio::test]
async fn airtable_batch_rejection_is_the_requests_error() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .respond_with(json_response(
            422,
            json!({"error": {"type": "INVALID_MULTIPLE_CHOICE_OPTIONS", "message": "Insufficient permissions to create new select option \"\"X\"\""}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let a = payload(json!({"Email": "a@x.io", "Tag": "X"}));

    let error = adapter(&server)
        .batch()
        .unwrap()
        .batch_upsert(
            "Contacts",
            &[BatchItem {
                payload: &a,
                crm_id: None,
                id_property_only_on_create: false,
            }],
            "Email",
            &Throttle::unlimited(),
        )
        .await
        .unwrap_err();

    // ValidationFailed as a whole: the engine bisects it (X-5).
    assert_eq!(error.kind(), AdapterErrorKind::ValidationFailed);
    assert_eq!(
        error.get_category(),
        Some("INVALID_MULTIPLE_CHOICE_OPTIONS")
    );
}

// ---- batch delete (AIRTABLE-2) ----

#[tokio::test]
async fn airtable_batch_delete_sends_record_ids_in_slices_of_10() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(TABLE_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(json_response(200, json!({"records": []})))
        .expect(2)
        .mount(&server)
        .await;
    let ids: Vec<String> = (0..12).map(|i| format!("rec{i:0>14}")).collect();

    adapter(&server)
        .batch()
        .unwrap()
        .batch_delete("Contacts", &ids, &Throttle::unlimited())
        .await
        .unwrap();

    let requests = received(&server).await;
    let sent: Vec<Vec<(String, String)>> = requests.iter().map(query).collect();
    let expected = |range: std::ops::Range<usize>| -> Vec<(String, String)> {
        ids[range]
            .iter()
            .map(|id| ("records[]".to_owned(), id.clone()))
            .collect()
    };
    assert_eq!(sent, vec![expected(0..10), expected(10..12)]);
    assert!(requests[0]
        .url
        .query()
        .unwrap()
        .starts_with("records%5B%5D=rec00000000000000&records%5B%5D=rec00000000000001"));
    assert!(requests.iter().all(|r| r.body.is_empty()));
}

#[tokio::test]
async fn airtable_batch_delete_with_a_gone_record_deletes_one_by_one() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(TABLE_PATH))
        .respond_with(json_response(404, json!({"error": "NOT_FOUND"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{TABLE_PATH}/recLive000000001")))
        .respond_with(json_response(
            200,
            json!({"id": "recLive000000001", "deleted": true}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{TABLE_PATH}/recGone000000001")))
        .respond_with(json_response(404, json!({"error": "NOT_FOUND"})))
        .expect(1)
        .mount(&server)
        .await;
    let ids = vec!["recLive000000001".to_owned(), "recGone000000001".to_owned()];

    let outcome = adapter(&server)
        .batch()
        .unwrap()
        .batch_delete("Contacts", &ids, &Throttle::unlimited())
        .await;

    assert!(outcome.is_ok(), "{outcome:?}");
}

// ---- credentials ----

fn assert_no_token(error: &AdapterError) {
    let shown = format!("{error} / {error:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(!shown.contains("S3cret"), "{shown}");
}

#[tokio::test]
async fn airtable_token_never_appears_in_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(json_response(
            401,
            json!({"error": {"type": "AUTHENTICATION_REQUIRED", "message": "Authentication required"}}),
        ))
        .mount(&server)
        .await;
    let fields = payload(json!({"Name": "x"}));
    let airtable = adapter(&server);

    let unauthorized = airtable
        .upsert(
            request("Contacts", &fields, "", None),
            &Throttle::unlimited(),
        )
        .await
        .unwrap_err();
    assert_eq!(unauthorized.kind(), AdapterErrorKind::Unauthorized);
    assert_no_token(&unauthorized);
    assert!(!format!("{airtable:?} {:?}", config(&server)).contains("S3cret"));

    // A port nobody listens on: connection refused.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let offline = AirtableAdapter::new(
        AirtableConfig::new(TOKEN, BASE)
            .base_url(format!("http://127.0.0.1:{port}"))
            .http(fast_http()),
    )
    .unwrap();
    let refused = offline
        .upsert(
            request("Contacts", &fields, "", None),
            &Throttle::unlimited(),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), AdapterErrorKind::Transient);
    assert_no_token(&refused);
    // It says where it could not connect (the host and port, never the
    // path) and why, in the words of the innermost cause.
    let message = refused.to_string();
    assert!(
        message.contains(&format!("could not connect to 127.0.0.1:{port}"))
            && message.to_lowercase().contains("refused"),
        "{message}"
    );
    let refused_batch = offline
        .batch()
        .unwrap()
        .batch_delete(
            "Contacts",
            &["recX0000000000001".to_owned()],
            &Throttle::unlimited(),
        )
        .await
        .unwrap_err();
    assert_no_token(&refused_batch);
}

/// `check --crms`: one read of at most one record of the table, with the
/// token; a table the base does not have is an error naming it.
#[tokio::test]
async fn airtable_check_access_reads_one_record_of_the_table() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TABLE_PATH))
        .and(query_param("maxRecords", "1"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"records": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v0/{BASE}/Contcts")))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"error": {"type": "TABLE_NOT_FOUND", "message": "Could not find table Contcts in application"}}),
        ))
        .mount(&server)
        .await;
    let airtable = adapter(&server);
    assert_eq!(
        airtable
            .check_access("Contacts", &Throttle::unlimited())
            .await
            .unwrap(),
        Access::Granted
    );
    let missing = airtable
        .check_access("Contcts", &Throttle::unlimited())
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), AdapterErrorKind::NotFound);
    assert!(missing.to_string().contains("Contcts"), "{missing}");
}
