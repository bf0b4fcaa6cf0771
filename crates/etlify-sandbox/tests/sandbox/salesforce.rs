//! The Salesforce side: tokens, collections upsert/update/delete with
//! per-record results, the daily allocation, requests in flight, faults,
//! persistence.

use etlify_sandbox::{
    Api, FaultConfig, SalesforceLimits, DEFAULT_SALESFORCE_CLIENT_ID,
    DEFAULT_SALESFORCE_CLIENT_SECRET,
};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{config, send, start, start_default, Harness};

const UPSERT: &str = "/services/data/v62.0/composite/sobjects/Contact/Etlify_Id__c";
const COLLECTIONS: &str = "/services/data/v62.0/composite/sobjects";

/// A token of the default connected app, and the instance it names.
async fn token(harness: &Harness) -> (String, String) {
    let (status, _, body) = send(
        harness
            .http
            .post(format!(
                "{}/services/oauth2/token",
                harness.sandbox.salesforce_login_url()
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_SALESFORCE_CLIENT_ID),
                ("client_secret", DEFAULT_SALESFORCE_CLIENT_SECRET),
            ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["instance_url"].as_str().unwrap().to_owned(),
    )
}

async fn data(
    harness: &Harness,
    session: &(String, String),
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = harness
        .http
        .request(method, format!("{}{path}", session.1))
        .bearer_auth(&session.0);
    if let Some(body) = body {
        request = request.json(&body);
    }
    send(request).await
}

fn contact(key: &str, last_name: Option<&str>) -> Value {
    let mut record = json!({"attributes": {"type": "Contact"}, "Etlify_Id__c": key});
    if let Some(name) = last_name {
        record["LastName"] = json!(name);
    }
    record
}

fn records(records: Vec<Value>) -> Value {
    json!({"allOrNone": false, "records": records})
}

#[tokio::test]
async fn salesforce_upsert_answers_each_record_in_order_and_matches_by_external_id() {
    let harness = start_default().await;
    let session = token(&harness).await;
    assert_eq!(session.1, harness.sandbox.base_url());
    let body = records(vec![
        contact("u-1", Some("Ada")),
        contact("u-2", None),
        contact("u-3", Some("Cy")),
    ]);
    let (status, headers, results) =
        data(&harness, &session, Method::PATCH, UPSERT, Some(body)).await;
    assert_eq!(status, 200, "{results}");
    assert_eq!(headers["sforce-limit-info"], "api-usage=1/100000");
    assert_eq!(results[0]["success"], true);
    assert_eq!(results[0]["created"], true);
    assert_eq!(results[1]["success"], false);
    assert_eq!(
        results[1]["errors"][0]["statusCode"],
        "REQUIRED_FIELD_MISSING"
    );
    assert_eq!(results[1]["errors"][0]["fields"], json!(["LastName"]));
    assert_eq!(results[2]["success"], true);
    let first = results[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(first.len(), 18);
    assert!(first.starts_with("003"));
    // The same external id in another case matches: an update, no create.
    let body = records(vec![
        json!({"attributes": {"type": "Contact"}, "Etlify_Id__c": "U-1", "FirstName": "Ada"}),
    ]);
    let (_, headers, results) = data(&harness, &session, Method::PATCH, UPSERT, Some(body)).await;
    assert_eq!(
        results,
        json!([{"id": first, "success": true, "errors": [], "created": false}])
    );
    assert_eq!(headers["sforce-limit-info"], "api-usage=2/100000");
    let stored = harness.sandbox.admin().salesforce_records("Contact");
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].fields["FirstName"], "Ada");
    assert_eq!(stored[0].fields["LastName"], "Ada");
}

#[tokio::test]
async fn salesforce_duplicates_fail_their_records_and_unknown_fields_the_request() {
    let harness = start_default().await;
    let session = token(&harness).await;
    let body = records(vec![
        contact("dup", Some("A")),
        contact("ok", Some("B")),
        contact("DUP", Some("C")),
    ]);
    let (_, _, results) = data(&harness, &session, Method::PATCH, UPSERT, Some(body)).await;
    for index in [0, 2] {
        assert_eq!(results[index]["success"], false);
        assert_eq!(
            results[index]["errors"][0]["statusCode"],
            "DUPLICATE_EXTERNAL_ID"
        );
    }
    assert_eq!(results[1]["success"], true);
    let mut unknown = contact("x", Some("X"));
    unknown["Nickname__c"] = json!("x");
    let (status, _, body) = data(
        &harness,
        &session,
        Method::PATCH,
        UPSERT,
        Some(records(vec![contact("y", Some("Y")), unknown])),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body[0]["errorCode"], "INVALID_FIELD");
    let mut wrong_type = contact("z", Some("Z"));
    wrong_type["Score__c"] = json!("many");
    let (status, _, body) = data(
        &harness,
        &session,
        Method::PATCH,
        UPSERT,
        Some(records(vec![wrong_type])),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body[0]["errorCode"], "JSON_PARSER_ERROR");
    let too_many = records(
        (0..201)
            .map(|i| contact(&format!("k{i}"), Some("K")))
            .collect(),
    );
    let (status, _, _) = data(&harness, &session, Method::PATCH, UPSERT, Some(too_many)).await;
    assert_eq!(status, 400);
    // Only the one good record of the first request was written.
    assert_eq!(
        harness.sandbox.admin().salesforce_records("Contact").len(),
        1
    );
    let (status, _, body) = data(
        &harness,
        &session,
        Method::PATCH,
        "/services/data/v62.0/composite/sobjects/Nope__c/Etlify_Id__c",
        Some(records(vec![])),
    )
    .await;
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (404, json!("NOT_FOUND"))
    );
}

#[tokio::test]
async fn salesforce_updates_and_deletes_by_id_each_record_alone() {
    let harness = start_default().await;
    let session = token(&harness).await;
    let (_, _, created) = data(
        &harness,
        &session,
        Method::PATCH,
        UPSERT,
        Some(records(vec![
            contact("a", Some("A")),
            contact("b", Some("B")),
        ])),
    )
    .await;
    let a = created[0]["id"].as_str().unwrap().to_owned();
    let b = created[1]["id"].as_str().unwrap().to_owned();
    let update = records(vec![
        json!({"attributes": {"type": "Contact"}, "id": a, "Title": "CEO"}),
        json!({"attributes": {"type": "Contact"}, "id": "003000000000000AAA", "Title": "x"}),
    ]);
    let (status, _, results) =
        data(&harness, &session, Method::PATCH, COLLECTIONS, Some(update)).await;
    assert_eq!(status, 200);
    assert_eq!(results[0], json!({"id": a, "success": true, "errors": []}));
    assert_eq!(
        results[1]["errors"][0]["statusCode"],
        "INVALID_CROSS_REFERENCE_KEY"
    );
    let delete = format!("{COLLECTIONS}?ids={b},{b},nope&allOrNone=false");
    let (status, _, results) = data(&harness, &session, Method::DELETE, &delete, None).await;
    assert_eq!(status, 200);
    assert_eq!(results[0]["success"], true);
    assert_eq!(results[1]["errors"][0]["statusCode"], "ENTITY_IS_DELETED");
    assert_eq!(results[2]["errors"][0]["statusCode"], "MALFORMED_ID");
    let stored = harness.sandbox.admin().salesforce_records("Contact");
    assert_eq!(stored[0].fields["Title"], "CEO");
    assert!(stored[1].deleted);
    // A deleted record is not matched again: its external id creates anew.
    let (_, _, again) = data(
        &harness,
        &session,
        Method::PATCH,
        UPSERT,
        Some(records(vec![contact("b", Some("B"))])),
    )
    .await;
    assert_eq!(again[0]["created"], true);
    assert_ne!(again[0]["id"], json!(b));
}

#[tokio::test]
async fn salesforce_tokens_expire_and_bad_credentials_are_refused() {
    let harness = start(config(json!({"salesforce": {"token_ttl_ms": 3_600_000}}))).await;
    let session = token(&harness).await;
    let path = "/services/data/v62.0/sobjects/Contact";
    let (status, _, body) = data(&harness, &session, Method::GET, path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["objectDescribe"]["name"], "Contact");
    harness.sandbox.admin().salesforce_expire_tokens();
    let (status, _, body) = data(&harness, &session, Method::GET, path, None).await;
    assert_eq!(status, 401);
    assert_eq!(body[0]["errorCode"], "INVALID_SESSION_ID");
    let fresh = token(&harness).await;
    assert_ne!(fresh.0, session.0);
    let (status, _, _) = data(&harness, &fresh, Method::GET, path, None).await;
    assert_eq!(status, 200);
    let (status, _, body) = send(
        harness
            .http
            .post(format!(
                "{}/services/oauth2/token",
                harness.sandbox.base_url()
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_SALESFORCE_CLIENT_ID),
                ("client_secret", "wrong"),
            ]),
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_client"))
    );
    // A token past its lifetime is refused like an expired one.
    let short = start(config(json!({"salesforce": {"token_ttl_ms": 1}}))).await;
    let session = token(&short).await;
    let mut refused = false;
    for _ in 0..100 {
        let (status, _, _) = data(&short, &session, Method::GET, path, None).await;
        if status == 401 {
            refused = true;
            break;
        }
    }
    assert!(refused, "a 1 ms token was still accepted");
    assert_eq!(harness.sandbox.admin().salesforce_tokens_issued(), 2);
}

#[tokio::test]
async fn salesforce_daily_allocation_is_counted_in_a_header_then_refused() {
    let harness = start(config(
        json!({"salesforce": {"limits": {"daily_max": 3, "daily_used": 1}}}),
    ))
    .await;
    let session = token(&harness).await;
    let limits = "/services/data/v62.0/limits";
    let (status, headers, body) = data(&harness, &session, Method::GET, limits, None).await;
    assert_eq!(status, 200);
    assert_eq!(headers["sforce-limit-info"], "api-usage=2/3");
    assert_eq!(body["DailyApiRequests"], json!({"Max": 3, "Remaining": 1}));
    let (status, headers, _) = data(&harness, &session, Method::GET, limits, None).await;
    assert_eq!(
        (status, headers["sforce-limit-info"].to_str().unwrap()),
        (200, "api-usage=3/3")
    );
    let (status, headers, body) = data(&harness, &session, Method::GET, limits, None).await;
    assert_eq!(status, 403);
    assert_eq!(headers["sforce-limit-info"], "api-usage=3/3");
    assert_eq!(body[0]["errorCode"], "REQUEST_LIMIT_EXCEEDED");
    assert!(body[0]["message"]
        .as_str()
        .unwrap()
        .contains("TotalRequests"));
    // The token endpoint does not count.
    token(&harness).await;
    let log = harness.sandbox.admin().request_log();
    assert_eq!(log.count_api(Api::Salesforce), 5);
    assert_eq!(log.peak("salesforce.daily", "org"), Some(3));
}

#[tokio::test]
async fn salesforce_requests_beyond_the_concurrent_limit_are_refused() {
    let harness = start_default().await;
    let admin = harness.sandbox.admin();
    admin
        .set_salesforce_limits(SalesforceLimits {
            max_concurrent: 1,
            ..SalesforceLimits::default()
        })
        .unwrap();
    admin
        .set_salesforce_faults(FaultConfig {
            latency_ms: 300,
            ..FaultConfig::default()
        })
        .unwrap();
    let session = token(&harness).await;
    let path = "/services/data/v62.0/sobjects/Contact";
    let (first, second) = tokio::join!(
        data(&harness, &session, Method::GET, path, None),
        data(&harness, &session, Method::GET, path, None),
    );
    let mut statuses = [first.0, second.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 403]);
    let refused = if first.0 == 403 { first.2 } else { second.2 };
    assert!(refused[0]["message"]
        .as_str()
        .unwrap()
        .contains("ConcurrentPerOrgLongTxn"));
}

#[tokio::test]
async fn salesforce_faults_apply_to_data_requests_not_to_the_token_endpoint() {
    let harness = start_default().await;
    harness
        .sandbox
        .admin()
        .set_salesforce_faults(FaultConfig {
            fail_next: 1,
            error_statuses: vec![503],
            ..FaultConfig::default()
        })
        .unwrap();
    let session = token(&harness).await;
    let path = "/services/data/v62.0/sobjects/Contact";
    let (status, _, body) = data(&harness, &session, Method::GET, path, None).await;
    assert_eq!(
        (status, body[0]["errorCode"].clone()),
        (503, json!("SERVER_UNAVAILABLE"))
    );
    let (status, _, _) = data(&harness, &session, Method::GET, path, None).await;
    assert_eq!(status, 200);
    let (status, _, _) = send(harness.admin(Method::POST, "/salesforce/expire_tokens")).await;
    assert_eq!(status, 200);
    let (status, _, _) = data(&harness, &session, Method::GET, path, None).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn salesforce_records_persist_in_the_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.json");
    let settings = json!({"state_file": file});
    let harness = start(config(settings.clone())).await;
    let session = token(&harness).await;
    data(
        &harness,
        &session,
        Method::PATCH,
        UPSERT,
        Some(records(vec![contact("kept", Some("K"))])),
    )
    .await;
    let before = harness.sandbox.admin().salesforce_records("Contact");
    harness.sandbox.shutdown().await.unwrap();
    let again = start(config(settings)).await;
    assert_eq!(again.sandbox.admin().salesforce_records("Contact"), before);
    // Ids go on from where they were.
    let session = token(&again).await;
    let (_, _, created) = data(
        &again,
        &session,
        Method::PATCH,
        UPSERT,
        Some(records(vec![contact("new", Some("N"))])),
    )
    .await;
    assert_ne!(created[0]["id"], json!(before[0].id));
}
