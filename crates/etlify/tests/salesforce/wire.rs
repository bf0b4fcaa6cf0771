//! The exact requests of the Salesforce adapter (SALESFORCE-1..SALESFORCE-4),
//! against wiremock: the login's form, the collections bodies, the delete's
//! query, and one renewal of a refused token.

use etlify::adapters::{
    Adapter, AdapterErrorKind, BatchItem, RemoteDelete, SalesforceAdapter, SalesforceConfig,
    Throttle,
};
use etlify::Payload;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::quick;

const TOKEN_PATH: &str = "/services/oauth2/token";
const UPSERT_PATH: &str = "/services/data/v61.0/composite/sobjects/Contact/Ext__c";
const COLLECTIONS_PATH: &str = "/services/data/v61.0/composite/sobjects";

fn adapter(server: &MockServer) -> SalesforceAdapter {
    SalesforceAdapter::new(
        SalesforceConfig::new("app-id", "app-secret")
            .login_url(server.uri())
            .api_version("v61.0")
            .http(quick()),
    )
    .unwrap()
}

/// The login answers `token`, naming `server` as the instance, `times` times.
async fn login(server: &MockServer, token: &str, times: u64) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_id=app-id"))
        .and(body_string_contains("client_secret=app-secret"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": token,
            "instance_url": server.uri(),
            "token_type": "Bearer",
            "issued_at": "1765000000000",
            "signature": "x",
        })))
        .up_to_n_times(times)
        .expect(times)
        .mount(server)
        .await;
}

fn payload(value: Value) -> Payload {
    value.as_object().unwrap().clone()
}

#[tokio::test]
async fn salesforce_wire_collections_carry_types_ids_and_results_by_position() {
    let server = MockServer::start().await;
    login(&server, "tok-1", 1).await;
    Mock::given(method("PATCH"))
        .and(path(UPSERT_PATH))
        .and(header("authorization", "Bearer tok-1"))
        .and(body_json(json!({"allOrNone": false, "records": [
            {"attributes": {"type": "Contact"}, "Ext__c": "a", "LastName": "A"},
            {"attributes": {"type": "Contact"}, "Ext__c": "b", "LastName": "B"},
        ]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "003000000000001AAA", "success": true, "errors": [], "created": true},
            {"success": false, "errors": [{"statusCode": "FIELD_INTEGRITY_EXCEPTION", "message": "bad last name", "fields": ["LastName"]}]},
        ])))
        .expect(1)
        .mount(&server)
        .await;
    // A known id is updated by id; the match field, for creates only, is left out.
    Mock::given(method("PATCH"))
        .and(path(COLLECTIONS_PATH))
        .and(header("authorization", "Bearer tok-1"))
        .and(body_json(json!({"allOrNone": false, "records": [
            {"attributes": {"type": "Contact"}, "id": "003000000000009AAA", "LastName": "C"},
        ]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "003000000000009AAA", "success": true, "errors": []},
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(COLLECTIONS_PATH))
        .and(query_param("ids", "003000000000001AAA,003000000000009AAA"))
        .and(query_param("allOrNone", "false"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "003000000000001AAA", "success": true, "errors": []},
            {"id": "003000000000009AAA", "success": false, "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]},
        ])))
        .expect(1)
        .mount(&server)
        .await;

    let salesforce = adapter(&server);
    let payloads = [
        payload(json!({"Ext__c": "a", "LastName": "A"})),
        payload(json!({"Ext__c": "b", "LastName": "B"})),
        payload(json!({"Ext__c": "c", "LastName": "C"})),
    ];
    let items: Vec<BatchItem<'_>> = payloads
        .iter()
        .enumerate()
        .map(|(i, payload)| BatchItem {
            payload,
            crm_id: (i == 2).then_some("003000000000009AAA"),
            id_property_only_on_create: i == 2,
        })
        .collect();
    let batch = salesforce.batch().unwrap();
    let result = batch
        .batch_upsert("Contact", &items, "Ext__c", &Throttle::unlimited())
        .await
        .unwrap();
    assert_eq!(result.crm_ids.len(), 2);
    assert_eq!(result.crm_ids["a"], "003000000000001AAA");
    assert_eq!(result.crm_ids["c"], "003000000000009AAA");
    assert_eq!(result.errors.len(), 1);
    assert_eq!(result.errors[0].id_value.as_deref(), Some("b"));
    assert_eq!(
        result.errors[0].error.kind(),
        AdapterErrorKind::ValidationFailed
    );
    assert!(result.errors[0].error.message().contains("bad last name"));
    assert_eq!(
        result.errors[0].error.get_category(),
        Some("FIELD_INTEGRITY_EXCEPTION")
    );
    // Already deleted counts as deleted; an id that is not one is never sent.
    batch
        .batch_delete(
            "Contact",
            &[
                "003000000000001AAA".to_owned(),
                "003000000000009AAA".to_owned(),
                "a,b".to_owned(),
            ],
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    assert_eq!(
        salesforce
            .delete("Contact", "../limits", &Throttle::unlimited())
            .await
            .unwrap(),
        RemoteDelete::NotFound
    );
}

#[tokio::test]
async fn salesforce_wire_a_refused_token_is_renewed_once_and_the_request_sent_again() {
    let server = MockServer::start().await;
    login(&server, "old", 1).await;
    login(&server, "new", 1).await;
    Mock::given(method("GET"))
        .and(path("/services/data/v61.0/sobjects/Contact"))
        .and(header("authorization", "Bearer old"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!([
            {"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/services/data/v61.0/sobjects/Contact"))
        .and(header("authorization", "Bearer new"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("sforce-limit-info", "api-usage=3/15000")
                .set_body_json(json!({"objectDescribe": {"name": "Contact"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let salesforce = adapter(&server);
    salesforce
        .check_access("Contact", &Throttle::unlimited())
        .await
        .unwrap();
}

#[tokio::test]
async fn salesforce_wire_a_token_refused_again_after_renewal_stops_without_looping() {
    let server = MockServer::start().await;
    login(&server, "tok", 2).await;
    Mock::given(method("GET"))
        .and(path("/services/data/v61.0/sobjects/Contact"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!([
            {"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}
        ])))
        .expect(2)
        .mount(&server)
        .await;
    let error = adapter(&server)
        .check_access("Contact", &Throttle::unlimited())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), AdapterErrorKind::Unauthorized);
    assert_eq!(error.get_category(), Some("INVALID_SESSION_ID"));
}

#[tokio::test]
async fn salesforce_wire_a_login_answered_503_is_retried_and_a_refused_one_is_not() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    login(&server, "tok", 1).await;
    Mock::given(method("GET"))
        .and(path("/services/data/v61.0/sobjects/Contact"))
        .and(header("authorization", "Bearer tok"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    adapter(&server)
        .check_access("Contact", &Throttle::unlimited())
        .await
        .unwrap();

    let refusing = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
        ))
        .expect(1)
        .mount(&refusing)
        .await;
    let error = adapter(&refusing)
        .check_access("Contact", &Throttle::unlimited())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), AdapterErrorKind::Unauthorized);
    assert_eq!(error.get_category(), Some("invalid_client"));
}
