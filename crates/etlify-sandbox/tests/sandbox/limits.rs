use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::common::{config, send, start, CONTACTS};

#[tokio::test]
async fn sandbox_hubspot_ten_second_bucket_returns_429_with_policy_name_and_headers() {
    let h = start(config(
        json!({"hubspot": {"rate_limits": {"per_app_max": 3, "per_app_window_ms": 400}}}),
    ))
    .await;
    for remaining in [2, 1, 0] {
        let (status, headers, _) = send(h.hubspot(Method::GET, CONTACTS)).await;
        assert_eq!(status, 200);
        assert_eq!(headers["x-hubspot-ratelimit-max"], "3");
        assert_eq!(
            headers["x-hubspot-ratelimit-remaining"],
            remaining.to_string().as_str()
        );
        assert_eq!(headers["x-hubspot-ratelimit-interval-milliseconds"], "400");
        assert_eq!(headers["x-hubspot-ratelimit-daily"], "250000");
        assert!(headers.contains_key("x-hubspot-ratelimit-daily-remaining"));
    }
    let (status, headers, body) = send(h.hubspot(Method::GET, CONTACTS)).await;
    assert_eq!(status, 429);
    assert_eq!(body["status"], "error");
    assert_eq!(body["errorType"], "RATE_LIMIT");
    assert_eq!(body["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(
        body["message"],
        "You have reached your ten_secondly_rolling limit."
    );
    assert!(body["correlationId"].is_string() && body["requestId"].is_string());
    assert!(
        !headers.contains_key("retry-after"),
        "Retry-After is off by default"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        send(h.hubspot(Method::GET, CONTACTS)).await.0,
        200,
        "the rolling window frees up"
    );
}

#[tokio::test]
async fn sandbox_hubspot_search_bucket_returns_429_secondly_without_rate_limit_headers() {
    let h = start(config(
        json!({"hubspot": {"rate_limits": {"search_max": 2, "search_window_ms": 300}}}),
    ))
    .await;
    let search = || {
        h.hubspot(Method::POST, &format!("{CONTACTS}/search"))
            .json(&json!({}))
    };
    for _ in 0..2 {
        let (status, headers, _) = send(search()).await;
        assert_eq!(status, 200);
        assert!(
            !headers.contains_key("x-hubspot-ratelimit-remaining"),
            "no rate-limit headers on search"
        );
        assert!(headers.contains_key("x-hubspot-correlation-id"));
    }
    let (status, headers, body) = send(search()).await;
    assert_eq!(status, 429);
    assert_eq!(body["policyName"], "SECONDLY");
    assert_eq!(body["message"], "You have reached your secondly limit.");
    assert!(!headers.contains_key("x-hubspot-ratelimit-max"));
    // Search has its own bucket: other endpoints still answer.
    assert_eq!(send(h.hubspot(Method::GET, CONTACTS)).await.0, 200);
}

#[tokio::test]
async fn sandbox_hubspot_daily_bucket_returns_429_daily_with_optional_retry_after() {
    let h = start(config(
        json!({"hubspot": {"rate_limits": {"daily_max": 2, "retry_after": true}}}),
    ))
    .await;
    assert_eq!(send(h.hubspot(Method::GET, CONTACTS)).await.0, 200);
    let (_, headers, _) = send(h.hubspot(Method::GET, CONTACTS)).await;
    assert_eq!(headers["x-hubspot-ratelimit-daily-remaining"], "0");
    let (status, headers, body) = send(h.hubspot(Method::GET, CONTACTS)).await;
    assert_eq!(status, 429);
    assert_eq!(body["policyName"], "DAILY");
    assert_eq!(body["message"], "You have reached your daily limit.");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(
        retry_after > 80_000,
        "retry after the daily window: {retry_after}"
    );
}

#[tokio::test]
async fn sandbox_hubspot_per_app_buckets_are_per_token() {
    let h = start(config(json!({"hubspot": {
        "tokens": ["app-one", "app-two"],
        "rate_limits": {"per_app_max": 1, "per_app_window_ms": 5000}
    }})))
    .await;
    let url = format!("{}{CONTACTS}", h.sandbox.hubspot_base_url());
    assert_eq!(send(h.http.get(&url).bearer_auth("app-one")).await.0, 200);
    assert_eq!(send(h.http.get(&url).bearer_auth("app-one")).await.0, 429);
    assert_eq!(send(h.http.get(&url).bearer_auth("app-two")).await.0, 200);
}

#[tokio::test]
async fn sandbox_airtable_rate_limit_returns_429_and_penalises_30s() {
    // 2 req / 200 ms per base, with a 500 ms penalty standing for the 30 s one.
    let h = start(config(json!({"airtable": {"rate_limits": {
        "per_base_max": 2, "window_ms": 200, "penalty_ms": 500, "retry_after": true
    }}})))
    .await;
    let list = |base: &str| h.airtable(Method::GET, &format!("/{base}/Contacts"));
    assert_eq!(send(list("appAAAAAAAAAAAAAA")).await.0, 200);
    assert_eq!(send(list("appAAAAAAAAAAAAAA")).await.0, 200);
    let (status, headers, body) = send(list("appAAAAAAAAAAAAAA")).await;
    assert_eq!(status, 429);
    assert_eq!(
        body,
        json!({"error": {"type": "RATE_LIMIT_REACHED", "message": "Rate limit exceeded. Please try again later"}})
    );
    assert_eq!(headers["retry-after"], "1");
    // Another base has its own bucket.
    assert_eq!(send(list("appBBBBBBBBBBBBBB")).await.0, 200);
    // After the window but within the penalty: still 429.
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(send(list("appAAAAAAAAAAAAAA")).await.0, 429);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        send(list("appAAAAAAAAAAAAAA")).await.0,
        200,
        "the penalty is over"
    );
}

#[tokio::test]
async fn sandbox_airtable_per_token_bucket_limits_all_bases() {
    let h = start(config(json!({"airtable": {"rate_limits": {"per_base_max": 100, "per_token_max": 2, "window_ms": 1000, "penalty_ms": 100}}}))).await;
    assert_eq!(
        send(h.airtable(Method::GET, "/appAAAAAAAAAAAAAA/T"))
            .await
            .0,
        200
    );
    assert_eq!(
        send(h.airtable(Method::GET, "/appBBBBBBBBBBBBBB/T"))
            .await
            .0,
        200
    );
    assert_eq!(
        send(h.airtable(Method::GET, "/appCCCCCCCCCCCCCC/T"))
            .await
            .0,
        429
    );
}
