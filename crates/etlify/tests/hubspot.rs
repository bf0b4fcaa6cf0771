//! The HubSpot adapter: exact request shapes over real loopback HTTP
//! (wiremock): the gem's HubSpot adapter's requests, and G-14, X-2, X-3, X-4,
//! X-16; each API version's paths (HUBSPOT-1, HUBSPOT-11). What every
//! adapter must do against its sandbox (a delete of a missing object, no
//! credential in logs or errors) is in the conformance suite.

use std::sync::Arc;
use std::time::Duration;

use etlify::adapters::hubspot::{ApiVersion, HubSpotAdapter, HubSpotConfig};
use etlify::adapters::{
    Access, Adapter, AdapterErrorKind, BatchAdapter, BatchItem, HttpSettings, RemoteDelete,
    RetryPolicy, Throttle, UpsertRequest,
};
use etlify::{Crm, CrmRegistry, Payload};
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "pat-na1-SECRET-TOKEN-1234";

fn settings() -> HttpSettings {
    HttpSettings::default().retry(
        RetryPolicy::default()
            .max_attempts(3)
            .base_delay(Duration::from_millis(5))
            .max_delay(Duration::from_millis(50)),
    )
}

fn adapter(server: &MockServer) -> HubSpotAdapter {
    HubSpotAdapter::new(
        HubSpotConfig::new(TOKEN)
            .base_url(server.uri())
            .http(settings()),
    )
    .unwrap()
}

fn payload(value: Value) -> Payload {
    match value {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

fn upsert<'a>(
    object_type: &'a str,
    payload: &'a Payload,
    id_property: &'a str,
    crm_id: Option<&'a str>,
) -> UpsertRequest<'a> {
    UpsertRequest {
        object_type,
        payload,
        id_property,
        crm_id,
        id_property_only_on_create: false,
        mode: etlify::adapters::WriteMode::Upsert,
    }
}

#[tokio::test]
async fn x2_hubspot_known_id_is_patched_without_a_search() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH"))
        .and(path("/crm/v3/objects/contacts/123"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"properties": {"email": "a@x.io", "firstname": "Ann"}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "123"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/crm/v3/objects/contacts/search"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let p = payload(json!({"email": "a@x.io", "firstname": "Ann"}));
    let id = adapter(&server)
        .upsert(
            upsert("contacts", &p, "email", Some(" 123 ")),
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    assert_eq!(id.as_deref(), Some("123"));
}

#[tokio::test]
async fn x2_hubspot_known_id_gone_falls_back_to_search_then_create() {
    let server = MockServer::start().await;
    Mock::given(method("PATCH")).and(path("/crm/v3/objects/contacts/123"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"status": "error", "message": "resource not found", "category": "OBJECT_NOT_FOUND"})))
        .expect(1).mount(&server).await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total": 0, "results": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .and(body_json(
            json!({"properties": {"email": "a@x.io", "firstname": "Ann"}}),
        ))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"id": "999", "properties": {}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let p = payload(json!({"email": "a@x.io", "firstname": "Ann"}));
    let id = adapter(&server)
        .upsert(
            upsert("contacts", &p, "email", Some("123")),
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    assert_eq!(id.as_deref(), Some("999"));
}

#[tokio::test]
async fn hubspot_upsert_searches_by_id_property_then_updates_without_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/crm/v3/objects/contacts/search"))
        .and(body_json(json!({
            "filterGroups": [
                {"filters": [{"propertyName": "email", "operator": "EQ", "value": "john@x.io"}]},
                {"filters": [{"propertyName": "hs_additional_emails", "operator": "CONTAINS_TOKEN", "value": "john@x.io"}]}
            ],
            "properties": ["hs_object_id"],
            "limit": 1
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total": 1, "results": [{"id": "42"}]})))
        .expect(1).mount(&server).await;
    Mock::given(method("PATCH"))
        .and(path("/crm/v3/objects/contacts/42"))
        .and(body_json(json!({"properties": {"firstname": "John"}})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let p = payload(json!({"email": " John@X.io ", "firstname": "John"}));
    let id = adapter(&server)
        .upsert(
            upsert("contacts", &p, "email", None),
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    assert_eq!(id.as_deref(), Some("42"));
}

#[tokio::test]
async fn hubspot_search_for_a_plus_email_adds_the_encoded_variant() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/crm/v3/objects/contacts/search"))
        .and(body_json(json!({
            "filterGroups": [
                {"filters": [{"propertyName": "email", "operator": "EQ", "value": "a+b@x.io"}]},
                {"filters": [{"propertyName": "hs_additional_emails", "operator": "CONTAINS_TOKEN", "value": "a+b@x.io"}]},
                {"filters": [{"propertyName": "email", "operator": "EQ", "value": "a%2Bb@x.io"}]}
            ],
            "properties": ["hs_object_id"],
            "limit": 1
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
        .expect(1).mount(&server).await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .and(body_json(json!({"properties": {"email": "a+b@x.io"}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "7"})))
        .expect(1)
        .mount(&server)
        .await;
    let p = payload(json!({"email": "A+B@x.io"}));
    assert_eq!(
        adapter(&server)
            .upsert(
                upsert("contacts", &p, "email", None),
                &Throttle::unlimited()
            )
            .await
            .unwrap()
            .as_deref(),
        Some("7")
    );
}

#[tokio::test]
async fn x16_hubspot_create_lowercases_only_string_emails_and_keeps_numbers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/deals"))
        .and(body_json(
            json!({"properties": {"dealname": "Big", "amount": 1000, "email": 12}}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 55})))
        .expect(1)
        .mount(&server)
        .await;
    let p = payload(json!({"dealname": "Big", "amount": 1000, "email": 12}));
    // No id property: created directly, numbers stay numbers, the numeric "email" is not touched.
    assert_eq!(
        adapter(&server)
            .upsert(upsert("deals", &p, "", None), &Throttle::unlimited())
            .await
            .unwrap()
            .as_deref(),
        Some("55")
    );
}

#[tokio::test]
async fn hubspot_create_conflict_adopts_the_existing_object() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/search"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path("/crm/v3/objects/contacts"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({"status": "error", "message": "Contact already exists. Existing ID: 512159482605", "category": "CONFLICT"})))
        .expect(1).mount(&server).await;
    Mock::given(method("PATCH"))
        .and(path("/crm/v3/objects/contacts/512159482605"))
        .and(body_json(json!({"properties": {"firstname": "Ann"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "512159482605"})))
        .expect(1)
        .mount(&server)
        .await;
    let p = payload(json!({"email": "a@x.io", "firstname": "Ann"}));
    let id = adapter(&server)
        .upsert(
            upsert("contacts", &p, "email", None),
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    assert_eq!(
        id.as_deref(),
        Some("512159482605"),
        "search lag must not duplicate the contact"
    );
}

#[tokio::test]
async fn x16_hubspot_path_segments_are_url_encoded() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/crm/v3/objects/p_custom%2F..%2Fx/5%3F"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        adapter(&server)
            .delete("p_custom/../x", "5?", &Throttle::unlimited())
            .await
            .unwrap(),
        RemoteDelete::Deleted
    );
}

/// `check --crms`: one read of one object, with the token; a refused token
/// or an unknown object type is an error of its kind.
#[tokio::test]
async fn hubspot_check_access_reads_one_object_with_the_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts"))
        .and(query_param("limit", "1"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contracts"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"status": "error", "message": "Unable to infer object type from: contracts", "category": "OBJECT_NOT_FOUND"}),
        ))
        .mount(&server)
        .await;
    let hubspot = adapter(&server);
    assert_eq!(
        hubspot
            .check_access("contacts", &Throttle::unlimited())
            .await
            .unwrap(),
        Access::Granted
    );
    let unknown = hubspot
        .check_access("contracts", &Throttle::unlimited())
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("contracts"), "{unknown}");

    let refused = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"status": "error", "message": "Authentication credentials not found.", "category": "INVALID_AUTHENTICATION"}),
        ))
        .mount(&refused)
        .await;
    let error = adapter(&refused)
        .check_access("contacts", &Throttle::unlimited())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), AdapterErrorKind::Unauthorized);
}

#[tokio::test]
async fn hubspot_errors_carry_kind_category_and_correlation_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/crm/v3/objects/contacts"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": "error",
            "message": "Property values were not valid: [{\"error\":\"INVALID_EMAIL\",\"name\":\"email\"}]",
            "correlationId": "cid-7",
            "category": "VALIDATION_ERROR"
        })))
        .mount(&server).await;
    let p = payload(json!({"email": "bad@"}));
    let err = adapter(&server)
        .upsert(upsert("contacts", &p, "", None), &Throttle::unlimited())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), AdapterErrorKind::ValidationFailed);
    assert!(err.is_record_error());
    assert_eq!(
        (
            err.get_status(),
            err.get_category(),
            err.get_correlation_id()
        ),
        (Some(400), Some("VALIDATION_ERROR"), Some("cid-7"))
    );
    assert!(err.to_string().contains("INVALID_EMAIL"));
}

#[tokio::test]
async fn x3_hubspot_429_is_retried_after_the_server_wait() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/crm/v3/objects/deals"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0.02").set_body_json(json!({
            "status": "error", "message": "You have reached your ten_secondly_rolling limit.", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"
        })))
        .up_to_n_times(1).expect(1).mount(&server).await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/deals"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "1"})))
        .expect(1)
        .mount(&server)
        .await;
    let p = payload(json!({"dealname": "x"}));
    assert_eq!(
        adapter(&server)
            .upsert(upsert("deals", &p, "", None), &Throttle::unlimited())
            .await
            .unwrap()
            .as_deref(),
        Some("1")
    );
}

/// A 429 with a delay pauses every request of the CRM, not only the
/// refused one: a second upsert sent meanwhile waits out the delay too.
#[tokio::test]
async fn ratelimit_a_429_with_a_delay_pauses_every_request_of_the_crm() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/deals"))
        .and(body_json(json!({"properties": {"dealname": "a"}})))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0.5").set_body_json(json!({
            "status": "error", "message": "You have reached your ten_secondly_rolling limit.", "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/deals"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "1"})))
        .mount(&server)
        .await;
    let limit = etlify::RateLimit::new(100, Duration::from_secs(10)).unwrap();
    let mut registry = CrmRegistry::new();
    registry
        .register(Crm::new("hubspot", Arc::new(adapter(&server))).rate_limit(limit))
        .unwrap();
    let registry = Arc::new(registry);
    // The adapter logs its retry once it has paused the CRM: on this
    // test's one thread, the log says when the pause is in force (the
    // server's receipt of the request came before the adapter had read
    // the answer, and a second request could pass in between).
    let logs = crate::support::logs::CapturedLogs::start(tracing::Level::WARN);
    let first = {
        let registry = registry.clone();
        tokio::spawn(async move {
            let a = payload(json!({"dealname": "a"}));
            let crm = registry.get("hubspot").unwrap();
            crm.adapter().upsert(upsert("deals", &a, "", None)).await
        })
    };
    // Once the 429 has been answered and the pause is on, a second
    // request of the same CRM.
    while !logs.text().contains("CRM request failed; retrying.") {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sent = std::time::Instant::now();
    let b = payload(json!({"dealname": "b"}));
    let crm = registry.get("hubspot").unwrap();
    crm.adapter()
        .upsert(upsert("deals", &b, "", None))
        .await
        .unwrap();
    let waited = sent.elapsed();
    assert!(
        waited >= Duration::from_millis(400),
        "the second request waited out the CRM's delay: {waited:?}"
    );
    assert!(first.await.unwrap().is_ok(), "the refused one was retried");
}

#[tokio::test]
async fn x3_hubspot_persistent_5xx_gives_up_after_the_attempt_budget() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/deals"))
        .respond_with(ResponseTemplate::new(503))
        .expect(3)
        .mount(&server)
        .await;
    let p = payload(json!({"dealname": "x"}));
    let err = adapter(&server)
        .upsert(upsert("deals", &p, "", None), &Throttle::unlimited())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), AdapterErrorKind::Transient);
    assert!(!err.is_record_error());
}

fn items(payloads: &[Payload]) -> Vec<BatchItem<'_>> {
    payloads
        .iter()
        .map(|payload| BatchItem {
            payload,
            crm_id: None,
            id_property_only_on_create: false,
        })
        .collect()
}

#[tokio::test]
async fn g14_hubspot_batch_upsert_uses_the_native_endpoint_in_slices_of_100() {
    let server = MockServer::start().await;
    let payloads: Vec<Payload> = (0..150)
        .map(|i| payload(json!({"email": format!("u{i}@x.io"), "n": i})))
        .collect();
    let first: Vec<Value> = payloads[..100]
        .iter()
        .map(|p| json!({"id": p["email"], "idProperty": "email", "properties": p, "objectWriteTraceId": p["email"]}))
        .collect();
    let results = |range: std::ops::Range<usize>| -> Vec<Value> {
        range.map(|i| json!({"id": format!("{}", 1000 + i), "properties": {"email": format!("u{i}@x.io")}, "new": true})).collect()
    };
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .and(body_json(json!({"inputs": first})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": "COMPLETE", "results": results(0..100)})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": "COMPLETE", "results": results(100..150)})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let result = adapter(&server)
        .batch_upsert(
            "contacts",
            &items(&payloads),
            "email",
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    assert_eq!(result.crm_ids.len(), 150);
    assert_eq!(result.crm_ids["u149@x.io"], "1149");
    assert!(result.errors.is_empty());
}

#[tokio::test]
async fn x4_hubspot_207_errors_are_attributed_to_their_inputs() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(ResponseTemplate::new(207).set_body_json(json!({
            "status": "COMPLETE",
            "results": [{"id": "1", "properties": {"email": "a@x.io"}}],
            "numErrors": 1,
            "errors": [{"status": "error", "category": "VALIDATION_ERROR", "message": "Email address b@ is invalid", "context": {"objectWriteTraceId": ["b@"]}}]
        })))
        .mount(&server).await;
    let payloads = vec![
        payload(json!({"email": "a@x.io"})),
        payload(json!({"email": "b@"})),
        payload(json!({"email": "c@x.io"})),
    ];
    let result = adapter(&server)
        .batch_upsert(
            "contacts",
            &items(&payloads),
            "email",
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    assert_eq!(result.crm_ids.get("a@x.io").map(String::as_str), Some("1"));
    assert_eq!(result.errors.len(), 1);
    assert_eq!(result.errors[0].id_value.as_deref(), Some("b@"));
    assert_eq!(
        result.errors[0].error.kind(),
        AdapterErrorKind::ValidationFailed
    );
    assert!(
        !result.crm_ids.contains_key("c@x.io"),
        "a silent omission stays visible to the engine"
    );
}

#[tokio::test]
async fn x2_hubspot_batch_records_with_known_ids_are_updated_by_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/crm/v3/objects/contacts/batch/update"))
        .and(body_json(json!({"inputs": [{"id": "77", "properties": {"email": "new@x.io"}, "objectWriteTraceId": "new@x.io"}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "COMPLETE", "results": [{"id": "77", "properties": {"email": "new@x.io"}}]})))
        .expect(1).mount(&server).await;
    let p = payload(json!({"email": "new@x.io"}));
    let records = [BatchItem {
        payload: &p,
        crm_id: Some("77"),
        id_property_only_on_create: false,
    }];
    let result = adapter(&server)
        .batch_upsert("contacts", &records, "email", &Throttle::unlimited())
        .await
        .unwrap();
    assert_eq!(
        result.crm_ids.get("new@x.io").map(String::as_str),
        Some("77")
    );
}

#[tokio::test]
async fn g14_hubspot_batch_archive_uses_the_native_endpoint() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/companies/batch/archive"))
        .respond_with(ResponseTemplate::new(204))
        .expect(2)
        .mount(&server)
        .await;
    let ids: Vec<String> = (0..150).map(|i| i.to_string()).collect();
    adapter(&server)
        .batch_delete("companies", &ids, &Throttle::unlimited())
        .await
        .unwrap();
    let requests = server.received_requests().await.unwrap();
    let first: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(first["inputs"].as_array().unwrap().len(), 100);
    assert_eq!(first["inputs"][0], json!({"id": "0"}));
}

#[tokio::test]
async fn hubspot_a_whole_batch_rejection_is_a_validation_error_for_the_engine_to_split() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/crm/v3/objects/contacts/batch/upsert"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"status": "error", "message": "Duplicate IDs found in batch input", "category": "VALIDATION_ERROR"})))
        .mount(&server).await;
    let payloads = vec![payload(json!({"email": "a@x.io"}))];
    let err = adapter(&server)
        .batch_upsert(
            "contacts",
            &items(&payloads),
            "email",
            &Throttle::unlimited(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), AdapterErrorKind::ValidationFailed);
}

/// an id of `.` or `..` would be resolved away by URL normalisation
/// (`/crm/v3/objects/contacts/..` is `/crm/v3/objects`): it is refused as
/// the record's error and nothing is sent.
#[tokio::test]
async fn x16_dot_segments_are_refused_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .expect(0)
        .mount(&server)
        .await;
    let hubspot = adapter(&server);
    let p = payload(json!({"email": "a@x.io"}));
    for id in [".", ".."] {
        let err = hubspot
            .upsert(
                upsert("contacts", &p, "email", Some(id)),
                &Throttle::unlimited(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), AdapterErrorKind::ValidationFailed);
        assert!(err.is_record_error());
        assert!(err.message().contains("another endpoint"), "{err}");
        let err = hubspot
            .delete("contacts", id, &Throttle::unlimited())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), AdapterErrorKind::ValidationFailed);
    }
}

/// The `Debug` of an adapter (and of its configuration) never shows a
/// password carried in its base URL, nor its token.
#[test]
fn secrets_debug_of_an_adapter_hides_the_password_of_its_base_url() {
    let config = HubSpotConfig::new("pat-secret-token")
        .base_url("https://proxy-user:hunter2@proxy.example.com/hubspot");
    let shown = format!("{config:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("pat-secret-token"), "{shown}");
    assert!(shown.contains("proxy.example.com"), "{shown}");
    let adapter = HubSpotAdapter::new(config).unwrap();
    let shown = format!("{adapter:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("proxy-user"), "{shown}");
    assert!(!shown.contains("pat-secret-token"), "{shown}");
}

/// Every request the adapter sends, at each API version, goes to that
/// version's path family and nowhere else: single create, search, update,
/// delete and the access check; batch update, upsert and archive.
#[tokio::test]
async fn hubspot_version_every_path_follows_the_configured_version() {
    for (version, prefix) in [
        (ApiVersion::V3, "/crm/v3/objects"),
        (ApiVersion::V2026_03, "/crm/objects/2026-03"),
        (ApiVersion::V2026_09, "/crm/objects/2026-09"),
    ] {
        let server = MockServer::start().await;
        let at = |rest: &str| format!("{prefix}/contacts{rest}");
        let answer = |status: u16, body: Value| ResponseTemplate::new(status).set_body_json(body);
        let expected = [
            ("GET", at(""), answer(200, json!({"results": []}))),
            ("PATCH", at("/7"), answer(200, json!({"id": "7"}))),
            (
                "POST",
                at("/search"),
                answer(200, json!({"total": 0, "results": []})),
            ),
            ("POST", at(""), answer(201, json!({"id": "8"}))),
            ("DELETE", at("/7"), ResponseTemplate::new(204)),
            (
                "POST",
                at("/batch/update"),
                answer(200, json!({"status": "COMPLETE", "results": [{"id": "7"}]})),
            ),
            (
                "POST",
                at("/batch/upsert"),
                answer(
                    200,
                    json!({"status": "COMPLETE", "results": [
                    {"id": "9", "properties": {"email": "new@x.io"}}]}),
                ),
            ),
            ("POST", at("/batch/archive"), ResponseTemplate::new(204)),
        ];
        for (verb, route, response) in expected {
            Mock::given(method(verb))
                .and(path(route))
                .respond_with(response)
                .expect(1)
                .mount(&server)
                .await;
        }
        // Anything else (another version's path) fails the test.
        Mock::given(wiremock::matchers::any())
            .respond_with(ResponseTemplate::new(404))
            .with_priority(10)
            .expect(0)
            .mount(&server)
            .await;

        let adapter = HubSpotAdapter::new(
            HubSpotConfig::new(TOKEN)
                .base_url(server.uri())
                .http(settings())
                .api_version(version),
        )
        .unwrap();
        let unlimited = Throttle::unlimited();
        assert_eq!(
            adapter.check_access("contacts", &unlimited).await.unwrap(),
            Access::Granted
        );
        let known = payload(json!({"email": "known@x.io"}));
        let fresh = payload(json!({"email": "fresh@x.io"}));
        let updated = adapter
            .upsert(upsert("contacts", &known, "email", Some("7")), &unlimited)
            .await
            .unwrap();
        let created = adapter
            .upsert(upsert("contacts", &fresh, "email", None), &unlimited)
            .await
            .unwrap();
        assert_eq!(
            (updated.as_deref(), created.as_deref()),
            (Some("7"), Some("8"))
        );
        assert_eq!(
            adapter.delete("contacts", "7", &unlimited).await.unwrap(),
            RemoteDelete::Deleted
        );
        let new = payload(json!({"email": "new@x.io"}));
        let batch = [
            BatchItem {
                payload: &known,
                crm_id: Some("7"),
                id_property_only_on_create: false,
            },
            BatchItem {
                payload: &new,
                crm_id: None,
                id_property_only_on_create: false,
            },
        ];
        let result = adapter
            .batch_upsert("contacts", &batch, "email", &unlimited)
            .await
            .unwrap();
        assert_eq!(result.crm_ids.len(), 2, "{version}: {result:?}");
        adapter
            .batch_delete("contacts", &["7".to_owned()], &unlimited)
            .await
            .unwrap();
        server.verify().await;
    }
}

/// From 2026-09 HubSpot refuses a write that lacks a property the portal
/// requires (HUBSPOT-11): in a batch, that input's error names the
/// property and the other inputs are written.
#[tokio::test]
async fn hubspot_version_a_missing_required_property_fails_its_input_naming_the_property() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/objects/2026-09/contacts/batch/upsert"))
        .respond_with(ResponseTemplate::new(207).set_body_json(json!({
            "status": "COMPLETE",
            "results": [{"id": "1", "properties": {"email": "a@x.io"}}],
            "numErrors": 1,
            "errors": [{
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "Property values were not valid: [{\"isValid\":false,\"message\":\"Property \\\"lastname\\\" is required\",\"error\":\"MISSING_REQUIRED_PROPERTY\",\"name\":\"lastname\"}]",
                "errors": [{"message": "Property \"lastname\" is required", "code": "MISSING_REQUIRED_PROPERTY", "context": {"propertyName": ["lastname"]}}],
                "context": {"objectWriteTraceId": ["b@x.io"]}
            }]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let adapter = HubSpotAdapter::new(
        HubSpotConfig::new(TOKEN)
            .base_url(server.uri())
            .http(settings())
            .api_version(ApiVersion::V2026_09),
    )
    .unwrap();
    let payloads = vec![
        payload(json!({"email": "a@x.io", "lastname": "A"})),
        payload(json!({"email": "b@x.io"})),
    ];
    let result = adapter
        .batch_upsert(
            "contacts",
            &items(&payloads),
            "email",
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    assert_eq!(result.crm_ids.get("a@x.io").map(String::as_str), Some("1"));
    assert_eq!(result.errors.len(), 1);
    let failed = &result.errors[0];
    assert_eq!(failed.id_value.as_deref(), Some("b@x.io"));
    assert_eq!(failed.error.kind(), AdapterErrorKind::ValidationFailed);
    assert!(
        failed.error.message().starts_with("property lastname: "),
        "{}",
        failed.error.message()
    );
}
