//! The exact requests of the Brevo adapter (BREVO-1..BREVO-4), against
//! wiremock: the key header, the create-or-update's body, the update by
//! id with its lists, the id read after a 204, a 429 waiting for the
//! window's reset, the delete and the access check.

use std::time::{Duration, Instant};

use etlify::adapters::{
    Access, Adapter, AdapterErrorKind, BrevoAdapter, BrevoConfig, HttpSettings, RemoteDelete,
    RetryPolicy, Throttle, UpsertRequest, WriteMode,
};
use etlify::Payload;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::quick;

const KEY: &str = "xkeysib-wire-key";

fn adapter(server: &MockServer) -> BrevoAdapter {
    adapter_retrying(server, quick())
}

fn adapter_retrying(server: &MockServer, http: HttpSettings) -> BrevoAdapter {
    BrevoAdapter::new(
        BrevoConfig::new(KEY)
            .base_url(format!("{}/v3/", server.uri()))
            .list_ids([3])
            .unlink_list_ids([9])
            .http(http),
    )
    .unwrap()
}

fn payload(value: Value) -> Payload {
    value.as_object().unwrap().clone()
}

async fn upsert(
    adapter: &BrevoAdapter,
    payload: &Payload,
    crm_id: Option<&str>,
) -> Result<Option<String>, etlify::adapters::AdapterError> {
    adapter
        .upsert(
            UpsertRequest {
                object_type: "contacts",
                payload,
                id_property: "email",
                crm_id,
                id_property_only_on_create: false,
                mode: WriteMode::Upsert,
            },
            &Throttle::unlimited(),
        )
        .await
}

#[tokio::test]
async fn brevo_wire_creates_in_one_request_then_updates_by_id_with_its_lists() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/contacts"))
        .and(header("api-key", KEY))
        .and(body_json(json!({
            "email": "ann@example.com",
            "attributes": {"FIRSTNAME": "Ann", "SCORE": 12},
            "listIds": [3],
            "updateEnabled": true,
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 21})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v3/contacts/21"))
        .and(query_param("identifierType", "contact_id"))
        .and(header("api-key", KEY))
        .and(body_json(json!({
            "attributes": {"FIRSTNAME": "Annie", "SCORE": 12, "EMAIL": "ann@example.com"},
            "ext_id": "7",
            "listIds": [3],
            "unlinkListIds": [9],
        })))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let adapter = adapter(&server);
    let created = upsert(
        &adapter,
        &payload(json!({"email": "Ann@Example.com", "firstname": "Ann", "score": 12})),
        None,
    )
    .await
    .unwrap();
    assert_eq!(created.as_deref(), Some("21"));
    let updated = upsert(
        &adapter,
        &payload(
            json!({"email": "ann@example.com", "firstname": "Annie", "score": 12, "ext_id": 7}),
        ),
        Some("21"),
    )
    .await
    .unwrap();
    assert_eq!(updated.as_deref(), Some("21"));
}

#[tokio::test]
async fn brevo_wire_an_existing_contact_has_its_id_read_and_leaves_the_unlinked_list() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/contacts"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/contacts/bo@example.com"))
        .and(query_param("identifierType", "email_id"))
        .and(header("api-key", KEY))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": 8, "email": "bo@example.com", "listIds": [3, 9]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v3/contacts/8"))
        .and(query_param("identifierType", "contact_id"))
        .and(body_json(json!({
            "attributes": {"FIRSTNAME": "Bo"},
            "listIds": [3],
            "unlinkListIds": [9],
        })))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let adapter = adapter(&server);
    let matched = upsert(
        &adapter,
        &payload(json!({"email": "bo@example.com", "firstname": "Bo"})),
        None,
    )
    .await
    .unwrap();
    assert_eq!(matched.as_deref(), Some("8"));
}

#[tokio::test]
async fn brevo_wire_a_429_waits_for_the_window_reset() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/contacts"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-sib-ratelimit-limit", "10")
                .insert_header("x-sib-ratelimit-remaining", "0")
                .insert_header("x-sib-ratelimit-reset", "1")
                .set_body_json(
                    json!({"code": "too_many_requests", "message": "Too many requests"}),
                ),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/contacts"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 5})))
        .expect(1)
        .mount(&server)
        .await;
    // Backoff of 10 ms, a server delay honoured up to 2 s.
    let http = HttpSettings::default().retry(
        RetryPolicy::default()
            .max_attempts(3)
            .base_delay(Duration::from_millis(10))
            .max_delay(Duration::from_secs(2)),
    );
    let adapter = adapter_retrying(&server, http);
    let started = Instant::now();
    let created = upsert(&adapter, &payload(json!({"email": "cy@example.com"})), None)
        .await
        .unwrap();
    assert_eq!(created.as_deref(), Some("5"));
    // The retry policy alone would have waited 10 ms.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for the reset: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn brevo_wire_deletes_by_contact_id_and_checks_access_on_the_account() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/v3/contacts/21"))
        .and(query_param("identifierType", "contact_id"))
        .and(header("api-key", KEY))
        .respond_with(ResponseTemplate::new(204))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v3/contacts/21"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"code": "document_not_found", "message": "Contact does not exist"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v3/account"))
        .and(header("api-key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"email": "a@example.com"})))
        .expect(1)
        .mount(&server)
        .await;
    let adapter = adapter(&server);
    let throttle = Throttle::unlimited();
    assert_eq!(
        adapter.delete("contacts", "21", &throttle).await.unwrap(),
        RemoteDelete::Deleted
    );
    assert_eq!(
        adapter.delete("contacts", "21", &throttle).await.unwrap(),
        RemoteDelete::NotFound
    );
    assert_eq!(
        adapter
            .delete("contacts", "../21", &throttle)
            .await
            .unwrap(),
        RemoteDelete::NotFound,
        "never put in a URL"
    );
    assert_eq!(
        adapter.check_access("contacts", &throttle).await.unwrap(),
        Access::Granted
    );
    let other = adapter
        .check_access("companies", &throttle)
        .await
        .unwrap_err();
    assert_eq!(other.kind(), AdapterErrorKind::ValidationFailed);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 3, "nothing else sent: {requests:?}");
}
