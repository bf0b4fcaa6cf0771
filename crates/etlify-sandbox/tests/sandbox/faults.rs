use std::time::{Duration, Instant};

use etlify_sandbox::{FaultConfig, TargetApi};
use reqwest::Method;
use serde_json::json;

use crate::common::{config, send, start, start_default, CONTACTS};

#[tokio::test]
async fn sandbox_fault_fail_next_returns_configured_statuses_in_turn() {
    let h = start(config(json!({"hubspot": {"faults": {"fail_next": 3, "error_statuses": [423, 502], "retry_after_secs": 2}}}))).await;
    let (status, headers, body) = send(h.hubspot(Method::GET, CONTACTS)).await;
    assert_eq!(status, 423);
    assert_eq!(headers["retry-after"], "2");
    assert_eq!(body["status"], "error");
    assert_eq!(send(h.hubspot(Method::GET, CONTACTS)).await.0, 502);
    assert_eq!(send(h.hubspot(Method::GET, CONTACTS)).await.0, 423);
    assert_eq!(
        send(h.hubspot(Method::GET, CONTACTS)).await.0,
        200,
        "only the next 3 requests fail"
    );
}

#[tokio::test]
async fn sandbox_fault_error_rate_one_fails_every_request() {
    let h = start_default().await;
    h.sandbox
        .admin()
        .set_faults(
            TargetApi::Hubspot,
            FaultConfig {
                error_rate: 1.0,
                error_statuses: vec![504],
                ..FaultConfig::default()
            },
        )
        .unwrap();
    assert_eq!(send(h.hubspot(Method::GET, CONTACTS)).await.0, 504);
    h.sandbox
        .admin()
        .set_faults(TargetApi::Hubspot, FaultConfig::default())
        .unwrap();
    assert_eq!(send(h.hubspot(Method::GET, CONTACTS)).await.0, 200);
    let invalid = FaultConfig {
        error_statuses: vec![404],
        ..FaultConfig::default()
    };
    assert!(h
        .sandbox
        .admin()
        .set_faults(TargetApi::Hubspot, invalid)
        .is_err());
}

#[tokio::test]
async fn sandbox_airtable_fault_503_is_retriable_error_with_retry_after() {
    let h = start(config(json!({"airtable": {"faults": {"fail_next": 1, "error_statuses": [503], "retry_after_secs": 5}}}))).await;
    let (status, headers, body) = send(h.airtable(Method::GET, "/appX0000000000000/T")).await;
    assert_eq!(status, 503);
    assert_eq!(headers["retry-after"], "5");
    assert_eq!(body["error"]["type"], "RETRIABLE_ERROR");
}

#[tokio::test]
async fn sandbox_fault_drop_next_closes_connection_without_response() {
    let h = start(config(json!({"hubspot": {"faults": {"drop_next": 1}}}))).await;
    let result = h.hubspot(Method::GET, CONTACTS).send().await;
    assert!(
        result.is_err(),
        "the connection is closed without a response"
    );
    assert_eq!(send(h.hubspot(Method::GET, CONTACTS)).await.0, 200);
    let log = h.sandbox.admin().request_log();
    assert_eq!(log.endpoints[0].statuses.get("dropped"), Some(&1));
}

#[tokio::test]
async fn sandbox_fault_drop_after_handling_applies_write_but_loses_response() {
    let h = start(config(
        json!({"hubspot": {"faults": {"drop_next": 1, "drop_after_handling": true}}}),
    ))
    .await;
    let result = h
        .hubspot(Method::POST, CONTACTS)
        .json(&json!({"properties": {"email": "ghost@example.com"}}))
        .send()
        .await;
    assert!(result.is_err());
    assert_eq!(
        h.sandbox.admin().hubspot_objects("contacts").unwrap().len(),
        1,
        "the write happened"
    );
}

#[tokio::test]
async fn sandbox_fault_latency_delays_responses() {
    let h = start(config(json!({"airtable": {"faults": {"latency_ms": 120}}}))).await;
    let started = Instant::now();
    assert_eq!(
        send(h.airtable(Method::GET, "/appX0000000000000/T"))
            .await
            .0,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(120));
}
