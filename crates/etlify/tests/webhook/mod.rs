//! The webhook adapter (issue 30, item 5): the request's exact shape and
//! signature (wiremock), the sandbox's receiver, and the engine's runs to
//! it on each backend (records sent, then those that left sent as delete
//! events). What every adapter must do is in the conformance suite
//! (`conformance_webhook_…`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use etlify::adapters::webhook::{signature_header, SIGNATURE_HEADER};
use std::sync::Arc;

use etlify::adapters::{
    Adapter, HttpSettings, ResponseMapping, RetryPolicy, Secret, Throttle, UpsertRequest,
    WebhookAdapter, WebhookConfig, WriteMode,
};
use etlify::{BatchSyncOptions, Binding, Crm, Disposal, Etlify, Model, Payload, SqlPayload};
use etlify_sandbox::{RunningSandbox, Sandbox, SandboxConfig, DEFAULT_WEBHOOK_SECRET};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{engine, TestDb};

const SECRET: &str = "whsec-SECRET-1234";

fn payload(value: Value) -> Payload {
    value.as_object().cloned().unwrap()
}

fn upsert<'a>(payload: &'a Payload, crm_id: Option<&'a str>) -> UpsertRequest<'a> {
    UpsertRequest {
        object_type: "contacts",
        payload,
        id_property: "email",
        crm_id,
        id_property_only_on_create: false,
        mode: WriteMode::Upsert,
    }
}

fn no_retries() -> HttpSettings {
    HttpSettings::default().retry(RetryPolicy::none())
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The documented check: HMAC-SHA256 of `<t>.<body>` under the secret.
fn signed_by(secret: &str, header: &str, body: &[u8]) -> bool {
    let parts: Vec<(&str, &str)> = header
        .split(',')
        .filter_map(|part| part.split_once('='))
        .collect();
    let field = |name| parts.iter().find(|(key, _)| *key == name).unwrap().1;
    let mut mac = Hmac::<sha2_mac::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{}.", field("t")).as_bytes());
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    expected == field("v1")
}

#[tokio::test]
async fn webhook_requests_are_signed_over_the_exact_body_with_a_key_per_event_and_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let adapter = WebhookAdapter::new(
        WebhookConfig::new(
            format!("{}/hooks/etlify?token=path-secret", server.uri()),
            SECRET,
        )
        .http(no_retries()),
    )
    .unwrap();
    let ann = payload(json!({"email": "ann@example.com", "name": "Ann"}));
    let id = adapter
        .upsert(upsert(&ann, None), &Throttle::unlimited())
        .await
        .unwrap();
    assert_eq!(
        id.as_deref(),
        Some("ann@example.com"),
        "without a response mapping, the id is the id property's value"
    );

    let requests = server.received_requests().await.unwrap();
    let request = &requests[0];
    assert_eq!(request.url.path(), "/hooks/etlify");
    assert_eq!(request.url.query(), Some("token=path-secret"));
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    assert_eq!(header("authorization"), None);
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    let signature = header(SIGNATURE_HEADER).unwrap();
    assert!(signature.starts_with("t="), "{signature}");
    assert!(signed_by(SECRET, &signature, &request.body), "{signature}");
    assert!(!signed_by("another secret", &signature, &request.body));
    let timestamp: u64 = signature[2..signature.find(',').unwrap()].parse().unwrap();
    assert!(now().abs_diff(timestamp) <= 5, "signed now: {timestamp}");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(header("idempotency-key").as_deref(), body["id"].as_str());
    let event = &body["events"][0];
    assert_eq!(event["type"], "upsert");
    assert_eq!(event["object_type"], "contacts");
    assert_eq!(event["id_property"], "email");
    assert_eq!(event["id_value"], "ann@example.com");
    assert_eq!(event["crm_id"], Value::Null);
    assert_eq!(
        event["data"],
        json!({"email": "ann@example.com", "name": "Ann"})
    );
    assert_eq!(event["key"].as_str().unwrap().len(), 32);
    let shown = format!("{adapter:?}");
    assert!(
        !shown.contains(SECRET) && !shown.contains("path-secret"),
        "{shown}"
    );
}

#[tokio::test]
async fn webhook_the_sandbox_receiver_refuses_a_wrong_signature_and_a_stale_timestamp() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let body = br#"{"id":"r1","events":[{"key":"k1","type":"upsert","object_type":"contacts","id_property":"email","id_value":"a@x.io","crm_id":null,"data":{"email":"a@x.io"}}]}"#;
    let client = reqwest::Client::new();
    let post = |signature: Option<String>| {
        let mut request = client
            .post(sandbox.webhook_url())
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        request.send()
    };
    let right = Secret::new(DEFAULT_WEBHOOK_SECRET);
    let wrong = Secret::new("not-the-secret");
    for (refused, why) in [
        (post(None).await.unwrap(), "unsigned"),
        (
            post(Some(signature_header(&wrong, now(), body)))
                .await
                .unwrap(),
            "another secret",
        ),
        (
            post(Some(signature_header(&right, now() - 3_600, body)))
                .await
                .unwrap(),
            "an hour old",
        ),
    ] {
        assert_eq!(refused.status(), 401, "{why}");
    }
    assert_eq!(sandbox.admin().webhook_events(), [], "nothing applied");

    let signature = signature_header(&right, now(), body);
    let taken = post(Some(signature.clone())).await.unwrap();
    assert_eq!(taken.status(), 200);
    let answer: Value = taken.json().await.unwrap();
    assert_eq!(answer["results"][0]["status"], 201);
    // The same request again: answered the same, applied once.
    let again: Value = post(Some(signature)).await.unwrap().json().await.unwrap();
    assert_eq!(again, answer);
    assert_eq!(sandbox.admin().webhook_events().len(), 1);
    assert_eq!(sandbox.admin().webhook_repeated(), 1);
    assert_eq!(sandbox.admin().webhook_objects("contacts").len(), 1);
}

/// Keys are per call: a value written again after another (A, B, then A)
/// is applied again, not answered from the first call's key.
#[tokio::test]
async fn webhook_a_value_written_again_after_another_is_applied_again() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let adapter = WebhookAdapter::new(
        WebhookConfig::new(sandbox.webhook_url(), DEFAULT_WEBHOOK_SECRET).http(
            HttpSettings::default().retry(
                RetryPolicy::default()
                    .max_attempts(3)
                    .base_delay(Duration::from_millis(5)),
            ),
        ),
    )
    .unwrap();
    for name in ["A", "B", "A"] {
        let written = payload(json!({"email": "ann@example.com", "name": name}));
        adapter
            .upsert(
                upsert(&written, Some("ann@example.com")),
                &Throttle::unlimited(),
            )
            .await
            .unwrap();
    }
    let objects = sandbox.admin().webhook_objects("contacts");
    assert_eq!(objects.len(), 1, "matched by the id property's value");
    assert_eq!(objects[0].data["name"], "A");
    assert_eq!(sandbox.admin().webhook_events().len(), 3);
    assert_eq!(sandbox.admin().webhook_repeated(), 0);
}

/// The receiver's objects, events and answered keys are kept in the
/// sandbox's state file, as the CRMs' objects are: after a restart an
/// event key sent before is answered as before (not applied again), and a
/// new object's id follows the last one.
#[tokio::test]
async fn webhook_the_receivers_objects_and_keys_survive_a_restart_with_a_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = SandboxConfig {
        state_file: Some(dir.path().join("state.json")),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config.clone()).await.unwrap();
    let adapter = |sandbox: &RunningSandbox| {
        WebhookAdapter::new(
            WebhookConfig::new(sandbox.webhook_url(), DEFAULT_WEBHOOK_SECRET).http(no_retries()),
        )
        .unwrap()
    };
    let ann = payload(json!({"email": "ann@example.com", "name": "Ann"}));
    adapter(&sandbox)
        .upsert(
            upsert(&ann, Some("ann@example.com")),
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    let objects = sandbox.admin().webhook_objects("contacts");
    let events = sandbox.admin().webhook_events();
    sandbox.shutdown().await.unwrap();

    let again = Sandbox::start(config).await.unwrap();
    assert_eq!(again.admin().webhook_objects("contacts"), objects);
    assert_eq!(again.admin().webhook_events(), events);
    let bob = payload(json!({"email": "bob@example.com", "name": "Bob"}));
    adapter(&again)
        .upsert(
            upsert(&bob, Some("bob@example.com")),
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    let ids: Vec<String> = again
        .admin()
        .webhook_objects("contacts")
        .into_iter()
        .map(|object| object.id)
        .collect();
    assert_eq!(ids, ["wh_1", "wh_2"], "ids go on from where they were");
}

/// The webhook to the sandbox's receiver, 4 events per request, reading
/// its answer's ids and statuses.
fn receiver(sandbox: &RunningSandbox) -> Arc<WebhookAdapter> {
    let mapping = ResponseMapping::new("/results")
        .id("/id")
        .status("/status")
        .error("/error");
    Arc::new(
        WebhookAdapter::new(
            WebhookConfig::new(sandbox.webhook_url(), DEFAULT_WEBHOOK_SECRET)
                .batch_size(4)
                .response(mapping)
                .http(no_retries()),
        )
        .unwrap(),
    )
}

/// `User` as webhook contacts by email; users that leave are archived.
fn users() -> Model {
    Model::new("User", "users").bind(
        "hooks",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new("SELECT id, email, full_name FROM users"))
            .on_delete(Disposal::Archive),
    )
}

/// A run that looks for the records that left too.
async fn complete_run(etlify: &Etlify) -> etlify::RunStats {
    etlify
        .batch_sync(&BatchSyncOptions::new().complete(true))
        .await
        .unwrap()
        .into_result()
        .unwrap()
}

/// Requests the receiver got.
fn requests(sandbox: &RunningSandbox) -> u64 {
    sandbox
        .admin()
        .request_log()
        .count_api(etlify_sandbox::Api::Webhook)
}

// The database tests, compiled once per backend: `webhook::sqlite::…`,
// `webhook::postgres::…` and `webhook::mysql::…`.
#[path = "on_each_backend.rs"]
mod mysql;
#[path = "on_each_backend.rs"]
mod postgres;
#[path = "on_each_backend.rs"]
mod sqlite;
