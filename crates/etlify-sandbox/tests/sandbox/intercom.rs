//! The Intercom side: contacts with their conflicts, search and its lag,
//! companies and attachments, custom attributes, the version header, the
//! windows per app and per workspace with their headers.

use std::time::{SystemTime, UNIX_EPOCH};

use etlify_sandbox::{Api, DEFAULT_INTERCOM_TOKEN};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{config, send, start, start_default, Harness};

fn intercom(harness: &Harness, method: Method, path: &str) -> reqwest::RequestBuilder {
    intercom_as(harness, DEFAULT_INTERCOM_TOKEN, method, path)
}

fn intercom_as(
    harness: &Harness,
    token: &str,
    method: Method,
    path: &str,
) -> reqwest::RequestBuilder {
    harness
        .http
        .request(
            method,
            format!("{}{path}", harness.sandbox.intercom_base_url()),
        )
        .bearer_auth(token)
        .header("intercom-version", "2.11")
}

async fn create(harness: &Harness, body: Value) -> (u16, Value) {
    let (status, _, body) = send(intercom(harness, Method::POST, "/contacts").json(&body)).await;
    (status, body)
}

fn first_error(body: &Value) -> (&str, &str) {
    let error = &body["errors"][0];
    (
        error["code"].as_str().unwrap(),
        error["message"].as_str().unwrap(),
    )
}

#[tokio::test]
async fn intercom_a_create_conflicts_on_an_external_id_and_on_a_users_email_not_a_leads() {
    let harness = start_default().await;
    let (status, ann) = create(
        &harness,
        json!({"external_id": "u-1", "email": "ann@example.com", "name": "Ann"}),
    )
    .await;
    assert_eq!(status, 200, "{ann}");
    assert_eq!(
        (ann["type"].as_str(), ann["role"].as_str()),
        (Some("contact"), Some("user"))
    );
    let id = ann["id"].as_str().unwrap();
    let (status, again) = create(&harness, json!({"external_id": "u-1"})).await;
    assert_eq!(status, 409);
    assert_eq!(again["type"], "error.list");
    let (code, message) = first_error(&again);
    assert_eq!(code, "conflict");
    assert!(message.ends_with(&format!("id={id}")), "{message}");
    let (status, _) = create(&harness, json!({"email": "ANN@example.com"})).await;
    assert_eq!(status, 409, "a user's email, whatever its case");
    for _ in 0..2 {
        let (status, lead) =
            create(&harness, json!({"role": "lead", "email": "bo@example.com"})).await;
        assert_eq!(status, 200, "leads may share an email: {lead}");
    }
    let (status, refused) = create(&harness, json!({"role": "user", "name": "Nobody"})).await;
    assert_eq!(status, 400, "a user needs an email or an external id");
    assert_eq!(first_error(&refused).0, "parameter_invalid");
    assert_eq!(harness.sandbox.admin().intercom_contacts().len(), 3);
}

#[tokio::test]
async fn intercom_updates_change_only_what_they_name_and_deletes_are_final() {
    let harness = start_default().await;
    let (_, ann) = create(
        &harness,
        json!({"external_id": "u-1", "name": "Ann", "custom_attributes": {"plan": "pro"}}),
    )
    .await;
    let path = format!("/contacts/{}", ann["id"].as_str().unwrap());
    let (status, _, updated) = send(
        intercom(&harness, Method::PUT, &path)
            .json(&json!({"name": "Annie", "custom_attributes": {"score": 3}})),
    )
    .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "Annie");
    assert_eq!(updated["external_id"], "u-1");
    assert_eq!(
        updated["custom_attributes"],
        json!({"plan": "pro", "score": 3})
    );
    let (status, _, refused) = send(
        intercom(&harness, Method::PUT, &path)
            .json(&json!({"custom_attributes": {"score": "many"}})),
    )
    .await;
    assert_eq!(status, 400, "a number attribute takes numbers");
    assert!(first_error(&refused).1.contains("score"), "{refused}");
    let (status, _, unknown) = send(
        intercom(&harness, Method::PUT, &path).json(&json!({"custom_attributes": {"nope": 1}})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        first_error(&unknown).1.contains("'nope' does not exist"),
        "{unknown}"
    );
    let (status, _, deleted) = send(intercom(&harness, Method::DELETE, &path)).await;
    assert_eq!(status, 200);
    assert_eq!(deleted["deleted"], true);
    let (status, _, gone) = send(intercom(&harness, Method::DELETE, &path)).await;
    assert_eq!((status, first_error(&gone).0), (404, "not_found"));
    let (status, _, _) =
        send(intercom(&harness, Method::PUT, &path).json(&json!({"name": "x"}))).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn intercom_search_matches_emails_in_any_case_and_lags_new_contacts_when_told() {
    let query = json!({"query": {"field": "email", "operator": "=", "value": "ann@example.com"}});
    let harness = start_default().await;
    create(&harness, json!({"email": "Ann@Example.com"})).await;
    let (status, _, found) =
        send(intercom(&harness, Method::POST, "/contacts/search").json(&query)).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(
        (found["type"].as_str(), found["total_count"].as_u64()),
        (Some("list"), Some(1))
    );
    let or = json!({"query": {"operator": "OR", "value": [
        {"field": "external_id", "operator": "=", "value": "nope"},
        {"field": "email", "operator": "IN", "value": ["x@example.com", "ann@example.com"]},
    ]}});
    let (_, _, found) = send(intercom(&harness, Method::POST, "/contacts/search").json(&or)).await;
    assert_eq!(found["total_count"], 1, "{found}");

    let lagging = start(config(json!({"intercom": {"search_lag_ms": 600000}}))).await;
    create(&lagging, json!({"email": "ann@example.com"})).await;
    let (_, _, found) =
        send(intercom(&lagging, Method::POST, "/contacts/search").json(&query)).await;
    assert_eq!(found["total_count"], 0, "not indexed yet: {found}");
}

#[tokio::test]
async fn intercom_companies_are_upserted_by_company_id_and_attached_to_contacts() {
    let harness = start_default().await;
    let company =
        json!({"company_id": "c-1", "name": "Acme", "custom_attributes": {"tier": "gold"}});
    let (status, _, first) =
        send(intercom(&harness, Method::POST, "/companies").json(&company)).await;
    assert_eq!(status, 200, "{first}");
    let (_, _, second) = send(
        intercom(&harness, Method::POST, "/companies")
            .json(&json!({"company_id": "c-1", "name": "Acme Inc"})),
    )
    .await;
    assert_eq!(first["id"], second["id"], "the same company, updated");
    assert_eq!(second["name"], "Acme Inc");
    let company_id = first["id"].as_str().unwrap();
    let (status, _, found) =
        send(intercom(&harness, Method::GET, "/companies?company_id=c-1")).await;
    assert_eq!((status, found["id"].as_str()), (200, Some(company_id)));
    let (status, _, _) = send(intercom(&harness, Method::GET, "/companies?company_id=c-2")).await;
    assert_eq!(status, 404);

    let (_, ann) = create(&harness, json!({"external_id": "u-1"})).await;
    let attach = format!("/contacts/{}/companies", ann["id"].as_str().unwrap());
    let (status, _, attached) =
        send(intercom(&harness, Method::POST, &attach).json(&json!({"id": company_id}))).await;
    assert_eq!((status, attached["user_count"].as_u64()), (200, Some(1)));
    let (status, _, _) =
        send(intercom(&harness, Method::POST, &attach).json(&json!({"id": "ffff"}))).await;
    assert_eq!(status, 404, "no such company");
    assert_eq!(
        harness.sandbox.admin().intercom_contacts()[0].companies,
        [company_id.to_owned()]
    );
    let (status, _, _) = send(intercom(
        &harness,
        Method::DELETE,
        &format!("{attach}/{company_id}"),
    ))
    .await;
    assert_eq!(status, 200);
    assert!(harness.sandbox.admin().intercom_contacts()[0]
        .companies
        .is_empty());
}

#[tokio::test]
async fn intercom_windows_per_app_and_per_workspace_answer_429_with_their_headers() {
    let harness = start(config(json!({"intercom": {
        "tokens": [DEFAULT_INTERCOM_TOKEN, "second-app"],
        "limits": {"per_app_max": 2, "per_workspace_max": 3, "window_ms": 60000},
    }})))
    .await;
    let me = |token: &str| send(intercom_as(&harness, token, Method::GET, "/me"));
    let (status, headers, body) = me(DEFAULT_INTERCOM_TOKEN).await;
    assert_eq!((status, body["type"].as_str()), (200, Some("admin")));
    let header = |headers: &reqwest::header::HeaderMap, name: &str| -> u64 {
        headers[name].to_str().unwrap().parse().unwrap()
    };
    assert_eq!(header(&headers, "x-ratelimit-limit"), 2);
    assert_eq!(header(&headers, "x-ratelimit-remaining"), 1);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let reset = header(&headers, "x-ratelimit-reset");
    assert!(reset > now && reset <= now + 61, "{reset} vs {now}");
    me(DEFAULT_INTERCOM_TOKEN).await;
    let (status, headers, body) = me(DEFAULT_INTERCOM_TOKEN).await;
    assert_eq!(status, 429);
    assert_eq!(
        first_error(&body),
        (
            "rate_limit_exceeded",
            "Exceeded rate limit of 2 in 10_seconds"
        )
    );
    assert_eq!(header(&headers, "x-ratelimit-remaining"), 0);
    assert!(headers.get("retry-after").is_none(), "Intercom sends none");
    let (status, headers, _) = me("second-app").await;
    assert_eq!(status, 200, "another app has its own window");
    assert_eq!(
        (
            header(&headers, "x-ratelimit-limit"),
            header(&headers, "x-ratelimit-remaining")
        ),
        (3, 0),
        "the workspace's binds now"
    );
    assert_eq!(me("second-app").await.0, 429, "the workspace is full");
    let (status, _, refused) = me("not-a-token").await;
    assert_eq!((status, first_error(&refused).0), (401, "unauthorized"));
    let log = harness.sandbox.admin().request_log();
    assert_eq!(log.count_api(Api::Intercom), 6);
    assert_eq!(log.count_status(429), 2);
}

#[tokio::test]
async fn intercom_the_version_header_is_checked_and_counted() {
    let harness = start_default().await;
    let (status, _, _) = send(intercom(&harness, Method::GET, "/me")).await;
    assert_eq!(status, 200);
    let (status, _, refused) = send(
        harness
            .http
            .get(format!("{}/me", harness.sandbox.intercom_base_url()))
            .bearer_auth(DEFAULT_INTERCOM_TOKEN)
            .header("intercom-version", "9.x"),
    )
    .await;
    assert_eq!(
        (status, first_error(&refused).0),
        (400, "intercom_version_invalid")
    );
    let (status, _, _) = send(
        harness
            .http
            .get(format!("{}/me", harness.sandbox.intercom_base_url()))
            .bearer_auth(DEFAULT_INTERCOM_TOKEN),
    )
    .await;
    assert_eq!(status, 200, "without the header, the app's version");
    let versions = harness.sandbox.admin().intercom_versions();
    assert_eq!(
        versions.into_iter().collect::<Vec<_>>(),
        [
            ("".to_owned(), 1),
            ("2.11".to_owned(), 1),
            ("9.x".to_owned(), 1)
        ]
    );
    let (status, _, missing) = send(intercom(&harness, Method::GET, "/nowhere")).await;
    assert_eq!((status, first_error(&missing).0), (404, "not_found"));
}

#[tokio::test]
async fn intercom_limits_and_faults_are_replaced_over_the_admin_api() {
    let harness = start_default().await;
    let limits = json!({"per_app_max": 1, "per_workspace_max": 5, "window_ms": 60000});
    let (status, _, now) = send(harness.admin(Method::PUT, "/intercom/limits").json(&limits)).await;
    assert_eq!(
        (status, now["per_app_max"].as_u64()),
        (200, Some(1)),
        "{now}"
    );
    let (status, _, refused) = send(
        harness
            .admin(Method::PUT, "/intercom/limits")
            .json(&json!({"window_ms": 0})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("intercom.limits.window_ms"),
        "{refused}"
    );
    let faults = json!({"fail_next": 1, "error_statuses": [502]});
    let (status, _, _) = send(harness.admin(Method::PUT, "/intercom/faults").json(&faults)).await;
    assert_eq!(status, 200);
    let (status, _, failed) = send(intercom(&harness, Method::GET, "/me")).await;
    assert_eq!((status, first_error(&failed).0), (502, "server_error"));
    assert_eq!(
        send(intercom(&harness, Method::GET, "/me")).await.0,
        429,
        "one a window"
    );
}
