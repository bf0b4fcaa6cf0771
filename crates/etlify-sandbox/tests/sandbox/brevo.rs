//! The Brevo side (BREVO-1..BREVO-5): the key, contacts created or
//! updated by email or ext_id, identifiers held once, attributes checked
//! and mistyped values ignored, lists, the rolling windows with their
//! headers, faults.

use etlify_sandbox::{BrevoRateLimits, FaultConfig, DEFAULT_BREVO_API_KEY};
use reqwest::{Method, RequestBuilder};
use serde_json::json;

use super::common::{config, send, start, Harness};

fn brevo(harness: &Harness, method: Method, path: &str) -> RequestBuilder {
    harness
        .http
        .request(
            method,
            format!("{}{path}", harness.sandbox.brevo_base_url()),
        )
        .header("api-key", DEFAULT_BREVO_API_KEY)
}

#[tokio::test]
async fn brevo_sandbox_contacts_are_created_updated_and_held_once_by_each_identifier() {
    let harness = start(config(json!({
        "seed": 4,
        "brevo": {"attributes": {"SCORE": "float"}, "rate_limits": {"enabled": false}},
    })))
    .await;
    let url = format!("{}/contacts", harness.sandbox.brevo_base_url());
    let (status, _, body) = send(
        harness
            .http
            .post(&url)
            .json(&json!({"email": "a@example.com"})),
    )
    .await;
    assert_eq!((status, &body["code"]), (401, &json!("unauthorized")));
    let wrong = harness.http.post(&url).header("api-key", "xkeysib-wrong");
    assert_eq!(
        send(wrong.json(&json!({"email": "a@example.com"}))).await.0,
        401
    );

    let create = |body| brevo(&harness, Method::POST, "/contacts").json(&body);
    let (status, _, body) = send(create(json!({
        "email": "Ann@Example.com", "ext_id": "u-1",
        "attributes": {"FIRSTNAME": "Ann", "SCORE": 3}, "listIds": [1],
    })))
    .await;
    assert_eq!(status, 201, "{body}");
    let ann = body["id"].as_u64().unwrap();
    let (status, _, body) = send(create(json!({"email": "ann@example.com"}))).await;
    assert_eq!(
        (status, &body["code"]),
        (400, &json!("duplicate_parameter"))
    );
    // updateEnabled: the contact the ext_id names is updated, no id answered.
    let (status, _, body) = send(create(json!({
        "ext_id": "u-1", "attributes": {"SCORE": "many", "LASTNAME": "Lee"}, "updateEnabled": true,
    })))
    .await;
    assert_eq!((status, body), (204, serde_json::Value::Null));
    let (status, _, body) = send(
        brevo(&harness, Method::GET, "/contacts/ANN@example.com")
            .query(&[("identifierType", "email_id")]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], json!(ann));
    assert_eq!(body["listIds"], json!([1]));
    assert_eq!(
        body["attributes"],
        json!({"FIRSTNAME": "Ann", "LASTNAME": "Lee", "SCORE": 3, "EXT_ID": "u-1"}),
        "a mistyped value is ignored"
    );
    let (status, _, body) = send(create(
        json!({"email": "bo@example.com", "attributes": {"NOPE": 1}}),
    ))
    .await;
    assert_eq!((status, &body["code"]), (400, &json!("invalid_parameter")));
    let (status, _, body) = send(create(json!({"email": "bo@example.com", "listIds": [99]}))).await;
    assert_eq!((status, &body["code"]), (400, &json!("invalid_parameter")));
    let (status, _, body) = send(create(json!({"email": "bo@example.com"}))).await;
    assert_eq!(status, 201);
    let bo = body["id"].as_u64().unwrap();

    // An update by id: the email of another contact is refused, lists left.
    let update = |id: u64, body| {
        brevo(&harness, Method::PUT, &format!("/contacts/{id}"))
            .query(&[("identifierType", "contact_id")])
            .json(&body)
    };
    let (status, _, body) = send(update(
        bo,
        json!({"attributes": {"EMAIL": "ann@example.com"}}),
    ))
    .await;
    assert_eq!(
        (status, &body["code"]),
        (400, &json!("duplicate_parameter"))
    );
    let (status, _, _) = send(update(ann, json!({"listIds": [2], "unlinkListIds": [1]}))).await;
    assert_eq!(status, 204);
    let contacts = harness.sandbox.admin().brevo_contacts();
    let stored = contacts.iter().find(|c| c.id == ann).unwrap();
    assert_eq!(stored.list_ids.iter().copied().collect::<Vec<_>>(), [2]);
    assert_eq!(stored.email.as_deref(), Some("ann@example.com"));

    let delete = || {
        brevo(&harness, Method::DELETE, &format!("/contacts/{bo}"))
            .query(&[("identifierType", "contact_id")])
    };
    assert_eq!(send(delete()).await.0, 204);
    let (status, _, body) = send(delete()).await;
    assert_eq!((status, &body["code"]), (404, &json!("document_not_found")));
    assert_eq!(harness.sandbox.admin().brevo_contacts().len(), 1);
    let (status, _, body) = send(brevo(&harness, Method::GET, "/account")).await;
    assert_eq!((status, body["email"].is_string()), (200, true));
}

#[tokio::test]
async fn brevo_sandbox_windows_answer_429_with_their_headers_per_endpoint_family() {
    let harness = start(config(json!({"seed": 5}))).await;
    harness
        .sandbox
        .admin()
        .set_brevo_limits(BrevoRateLimits {
            contacts_max: 2,
            contacts_window_ms: 60_000,
            other_max: 1,
            ..BrevoRateLimits::default()
        })
        .unwrap();
    let read = || brevo(&harness, Method::GET, "/contacts/nobody@example.com");
    let mut remaining = Vec::new();
    for _ in 0..2 {
        let (status, headers, _) = send(read()).await;
        assert_eq!(status, 404, "admitted, then not found");
        assert_eq!(headers["x-sib-ratelimit-limit"], "2");
        remaining.push(
            headers["x-sib-ratelimit-remaining"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(remaining, ["1", "0"]);
    let (status, headers, body) = send(read()).await;
    assert_eq!((status, &body["code"]), (429, &json!("too_many_requests")));
    let reset: u64 = headers["x-sib-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&reset), "{reset}");
    assert!(headers.get("retry-after").is_none(), "Brevo sends none");
    // The account endpoint counts in its own window.
    assert_eq!(send(brevo(&harness, Method::GET, "/account")).await.0, 200);
    assert_eq!(send(brevo(&harness, Method::GET, "/account")).await.0, 429);
    let log = harness.sandbox.admin().request_log();
    assert_eq!(log.peak("brevo.contacts", "account"), Some(3));
    assert_eq!(log.count_status(429), 2);
}

#[tokio::test]
async fn brevo_sandbox_faults_fail_or_lose_the_answer_of_a_write() {
    let harness = start(config(
        json!({"seed": 6, "brevo": {"rate_limits": {"enabled": false}}}),
    ))
    .await;
    let admin = harness.sandbox.admin();
    admin
        .set_brevo_faults(FaultConfig {
            fail_next: 1,
            error_statuses: vec![502],
            ..FaultConfig::default()
        })
        .unwrap();
    let create = || {
        brevo(&harness, Method::POST, "/contacts")
            .json(&json!({"email": "a@example.com", "updateEnabled": true}))
    };
    assert_eq!(send(create()).await.0, 502);
    assert!(
        admin.brevo_contacts().is_empty(),
        "a failed request writes nothing"
    );
    admin
        .set_brevo_faults(FaultConfig {
            drop_next: 1,
            drop_after_handling: true,
            ..FaultConfig::default()
        })
        .unwrap();
    assert!(create().send().await.is_err(), "the answer is lost");
    assert_eq!(admin.brevo_contacts().len(), 1, "the write was applied");
    assert_eq!(send(create()).await.0, 204, "repeated, it updates");
    assert_eq!(admin.brevo_contacts().len(), 1);
}
