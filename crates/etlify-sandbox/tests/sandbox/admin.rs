use std::time::Duration;

use etlify_sandbox::{Api, RequestLogSnapshot, ResetScope, Sandbox, SandboxConfig, SandboxError};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{config, send, start, start_default, CONTACTS};

#[tokio::test]
async fn sandbox_request_log_is_empty_when_no_request_was_made() {
    let h = start_default().await;
    // Admin requests are not counted.
    let (_, _, body) = send(h.admin(Method::GET, "/requests")).await;
    let log: RequestLogSnapshot = serde_json::from_value(body).unwrap();
    assert_eq!(log.total, 0);
    assert_eq!(
        log.count("POST", "/crm/v3/objects/{objectType}/batch/upsert"),
        0
    );
    assert_eq!(h.sandbox.admin().request_log().total, 0);
}

#[tokio::test]
async fn sandbox_request_log_counts_per_endpoint() {
    let h = start_default().await;
    h.create_contact(json!({"email": "a@example.com"})).await;
    h.create_contact(json!({"email": "b@example.com"})).await;
    send(
        h.hubspot(Method::POST, &format!("{CONTACTS}/search"))
            .json(&json!({})),
    )
    .await;
    send(h.airtable(Method::GET, "/appX0000000000000/T")).await;
    send(h.hubspot(Method::GET, "/crm/v3/nowhere")).await;
    let log = h.sandbox.admin().request_log();
    assert_eq!(log.total, 5);
    assert_eq!(log.count("POST", "/crm/v3/objects/{objectType}"), 2);
    assert_eq!(log.count("POST", "/crm/v3/objects/{objectType}/search"), 1);
    assert_eq!(log.count("GET", "/v0/{baseId}/{table}"), 1);
    assert_eq!(log.count("GET", "<unmatched>"), 1);
    assert_eq!(log.count_api(Api::Airtable), 1);
    assert_eq!(log.count_status(201), 2);
    assert_eq!(log.recent.len(), 5);
    assert_eq!(log.recent[0].path, "/crm/v3/objects/contacts");
    assert_eq!(log.recent[0].status, Some(201));
}

#[tokio::test]
async fn sandbox_request_log_records_peak_per_rate_limit_window() {
    let h = start(config(
        json!({"hubspot": {"rate_limits": {"per_app_max": 2, "per_app_window_ms": 200}}}),
    ))
    .await;
    for _ in 0..3 {
        send(h.hubspot(Method::GET, CONTACTS)).await;
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    send(h.hubspot(Method::GET, CONTACTS)).await;
    let log = h.sandbox.admin().request_log();
    assert_eq!(
        log.peak("hubspot.per_app", "app-0"),
        Some(3),
        "attempts, including the rejected one"
    );
    assert_eq!(log.peak("hubspot.daily", "account"), Some(4));
    assert_eq!(log.count_status(429), 1);
}

#[tokio::test]
async fn sandbox_admin_http_dumps_seeds_and_resets() {
    let h = start_default().await;
    let (status, _, _) = send(
        h.admin(Method::POST, "/hubspot/objects/contacts")
            .json(&json!({"properties": {"email": "seed@example.com"}})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _, body) = send(
        h.admin(Method::POST, "/hubspot/objects/contacts")
            .json(&json!({"properties": {"email": "bad@"}})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("INVALID_EMAIL"));
    let (status, _, _) = send(
        h.admin(
            Method::POST,
            "/airtable/bases/appX0000000000000/tables/T/records",
        )
        .json(&json!({"fields": {"A": 1}})),
    )
    .await;
    assert_eq!(status, 201);
    send(h.hubspot(Method::GET, CONTACTS)).await;

    let (_, _, contacts) = send(h.admin(Method::GET, "/hubspot/objects/contacts")).await;
    assert_eq!(contacts[0]["properties"]["email"], "seed@example.com");
    let (_, _, all) = send(h.admin(Method::GET, "/airtable/bases")).await;
    assert_eq!(all["appX0000000000000"]["T"][0]["fields"]["A"], 1);
    let (_, _, records) = send(h.admin(
        Method::GET,
        "/airtable/bases/appX0000000000000/tables/T/records",
    ))
    .await;
    assert_eq!(records.as_array().unwrap().len(), 1);

    send(
        h.admin(Method::POST, "/reset")
            .json(&json!({"scope": "log"})),
    )
    .await;
    assert_eq!(h.sandbox.admin().request_log().total, 0);
    assert_eq!(
        h.sandbox.admin().hubspot_objects("contacts").unwrap().len(),
        1,
        "log reset keeps state"
    );
    send(h.admin(Method::POST, "/reset?scope=state")).await;
    assert!(h
        .sandbox
        .admin()
        .hubspot_objects("contacts")
        .unwrap()
        .is_empty());
    assert!(h
        .sandbox
        .admin()
        .airtable_records("appX0000000000000", "T")
        .unwrap()
        .is_empty());
    h.sandbox.admin().reset(ResetScope::All);
}

#[tokio::test]
async fn sandbox_admin_http_changes_faults_and_limits_at_runtime() {
    let h = start_default().await;
    let (status, _, body) = send(
        h.admin(Method::PUT, "/faults")
            .json(&json!({"airtable": {"fail_next": 1}})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["airtable"]["fail_next"], 1);
    let status = send(h.airtable(Method::GET, "/appX0000000000000/T"))
        .await
        .0;
    assert!((500..600).contains(&status));
    let (status, _, body) = send(
        h.admin(Method::PUT, "/faults")
            .json(&json!({"hubspot": {"error_rate": 2.0}})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"]
        .as_str()
        .unwrap()
        .contains("hubspot.faults.error_rate"));

    let (status, _, _) = send(h.admin(Method::PUT, "/limits").json(&json!({
        "hubspot": {"per_app_max": 1, "per_app_window_ms": 5000},
        "hubspot_search": {"indexing_lag_ms": 0, "max_page_size": 5}
    })))
    .await;
    assert_eq!(status, 200);
    assert_eq!(send(h.hubspot(Method::GET, CONTACTS)).await.0, 200);
    assert_eq!(send(h.hubspot(Method::GET, CONTACTS)).await.0, 429);
    let (_, _, limits) = send(h.admin(Method::GET, "/limits")).await;
    assert_eq!(limits["hubspot"]["per_app_max"], 1);
    assert_eq!(limits["hubspot_search"]["max_page_size"], 5);
}

#[tokio::test]
async fn sandbox_state_file_persists_across_restarts() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("state.json");
    let with_file = || SandboxConfig {
        state_file: Some(path.clone()),
        ..SandboxConfig::default()
    };
    let first = Sandbox::start(with_file()).await.unwrap();
    let contact = first
        .admin()
        .hubspot_insert(
            "contacts",
            json!({"email": "kept@example.com"})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
    let record = first
        .admin()
        .airtable_insert(
            "appX0000000000000",
            "T",
            json!({"A": "kept"}).as_object().unwrap().clone(),
        )
        .unwrap();
    first.shutdown().await.unwrap();

    let second = Sandbox::start(with_file()).await.unwrap();
    let contacts = second.admin().hubspot_objects("contacts").unwrap();
    assert_eq!(contacts, vec![contact]);
    assert_eq!(
        second
            .admin()
            .airtable_records("appX0000000000000", "T")
            .unwrap(),
        vec![record]
    );
    // Restored objects keep their unique index and are searchable.
    let created = second.admin().hubspot_insert(
        "contacts",
        json!({"email": "kept@example.com"})
            .as_object()
            .unwrap()
            .clone(),
    );
    assert!(matches!(
        created,
        Err(SandboxError::Rejected { status: 409, .. })
    ));
    second.shutdown().await.unwrap();
}

#[tokio::test]
async fn sandbox_config_rejects_unknown_fields_and_names_invalid_field() {
    let unknown = SandboxConfig::from_json(r#"{"hubspot": {"tokenz": []}}"#).unwrap_err();
    assert!(unknown.to_string().contains("tokenz"), "{unknown}");
    let invalid =
        SandboxConfig::from_json(r#"{"airtable": {"faults": {"drop_rate": 1.5}}}"#).unwrap();
    let error = Sandbox::start(invalid).await.unwrap_err();
    assert!(
        matches!(&error, SandboxError::InvalidConfig { field, .. } if field == "airtable.faults.drop_rate"),
        "{error}"
    );
    let bad_link: Value = json!({"airtable": {"bases": {"appA": {"tables": {"T": {"fields": [{"name": "L", "type": "multipleRecordLinks"}]}}}}}});
    let error = Sandbox::start(config(bad_link)).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("airtable.bases.appA.tables.T.fields[0].linked_table"),
        "{error}"
    );
}

#[tokio::test]
async fn sandbox_config_rejects_non_loopback_host() {
    let config = config(json!({"host": "0.0.0.0"}));
    let error = Sandbox::start(config).await.unwrap_err();
    assert!(matches!(&error, SandboxError::InvalidConfig { field, .. } if field == "host"));
}

#[tokio::test]
async fn sandbox_secret_tokens_are_not_shown_by_debug() {
    let config = config(json!({"hubspot": {"tokens": ["pat-na1-secret"]}}));
    assert!(!format!("{config:?}").contains("pat-na1-secret"));
}
