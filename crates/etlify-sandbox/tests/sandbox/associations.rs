use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{send, start, start_default, unlimited};

const V4: &str = "/crm/v4/associations/contacts/companies/batch";

async fn company(h: &crate::common::Harness, domain: &str) -> String {
    let (status, _, body) = send(
        h.hubspot(Method::POST, "/crm/v3/objects/companies")
            .json(&json!({"properties": {"domain": domain}})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

fn pair(from: &str, to: &str) -> Value {
    json!({"from": {"id": from}, "to": {"id": to}})
}

#[tokio::test]
async fn association_sandbox_default_create_is_idempotent_and_archive_removes_it() {
    let h = start_default().await;
    let ada = h.create_contact(json!({"email": "ada@example.com"})).await;
    let acme = company(&h, "acme.example").await;
    for _ in 0..2 {
        let (status, _, body) = send(
            h.hubspot(Method::POST, &format!("{V4}/associate/default"))
                .json(&json!({"inputs": [pair(&ada, &acme)]})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["results"][0]["associationSpec"]["associationTypeId"],
            279
        );
    }
    let associations = h.sandbox.admin().hubspot_associations();
    assert_eq!(associations.len(), 1, "made once: {associations:?}");

    // Archiving it twice: the second finds nothing and changes nothing.
    for _ in 0..2 {
        let (status, _, _) = send(
            h.hubspot(Method::POST, &format!("{V4}/archive"))
                .json(&json!({"inputs": [{"from": {"id": ada}, "to": [{"id": acme}]}]})),
        )
        .await;
        assert_eq!(status, 204);
    }
    assert!(h.sandbox.admin().hubspot_associations().is_empty());
}

#[tokio::test]
async fn association_sandbox_labelled_create_adds_the_default_and_labels_archive_removes_only_it() {
    let h = start_default().await;
    let ada = h.create_contact(json!({"email": "ada@example.com"})).await;
    let acme = company(&h, "acme.example").await;
    let types = json!([{"associationCategory": "USER_DEFINED", "associationTypeId": 12}]);
    let mut input = pair(&ada, &acme);
    input["types"] = types.clone();
    let (status, _, body) = send(
        h.hubspot(
            Method::POST,
            "/crm/associations/2026-09/contacts/companies/batch/create",
        )
        .json(&json!({"inputs": [input.clone()]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let kinds: Vec<(String, u32)> = h
        .sandbox
        .admin()
        .hubspot_associations()
        .into_iter()
        .map(|a| (a.category, a.type_id))
        .collect();
    assert_eq!(
        kinds,
        [
            ("HUBSPOT_DEFINED".to_owned(), 279),
            ("USER_DEFINED".to_owned(), 12)
        ]
    );
    let (status, _, _) = send(
        h.hubspot(Method::POST, &format!("{V4}/labels/archive"))
            .json(&json!({"inputs": [input]})),
    )
    .await;
    assert_eq!(status, 204);
    let left = h.sandbox.admin().hubspot_associations();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].type_id, 279, "the label went, the default stays");
}

#[tokio::test]
async fn association_sandbox_a_missing_object_is_refused_alone_with_207() {
    let h = start_default().await;
    let ada = h.create_contact(json!({"email": "ada@example.com"})).await;
    let acme = company(&h, "acme.example").await;
    let (status, _, body) = send(
        h.hubspot(Method::POST, &format!("{V4}/associate/default"))
            .json(&json!({"inputs": [pair(&ada, &acme), pair(&ada, "999999")]})),
    )
    .await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body["numErrors"], 1);
    assert_eq!(body["errors"][0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(body["errors"][0]["context"]["ids"], json!(["999999"]));
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    assert_eq!(h.sandbox.admin().hubspot_associations().len(), 1);
}

#[tokio::test]
async fn association_sandbox_over_100_inputs_returns_400_and_changes_nothing() {
    let h = start_default().await;
    let ada = h.create_contact(json!({"email": "ada@example.com"})).await;
    let acme = company(&h, "acme.example").await;
    let inputs: Vec<Value> = (0..101).map(|_| pair(&ada, &acme)).collect();
    let (status, _, body) = send(
        h.hubspot(Method::POST, &format!("{V4}/associate/default"))
            .json(&json!({"inputs": inputs})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["category"], "VALIDATION_ERROR");
    assert!(h.sandbox.admin().hubspot_associations().is_empty());
}

#[tokio::test]
async fn association_sandbox_requests_go_through_the_faults_and_the_log() {
    let h = start(unlimited(json!({}))).await;
    let ada = h.create_contact(json!({"email": "ada@example.com"})).await;
    let acme = company(&h, "acme.example").await;
    h.sandbox
        .admin()
        .set_faults(
            etlify_sandbox::TargetApi::Hubspot,
            etlify_sandbox::FaultConfig {
                fail_next: 1,
                error_statuses: vec![503],
                ..Default::default()
            },
        )
        .unwrap();
    let request = || {
        h.hubspot(Method::POST, &format!("{V4}/associate/default"))
            .json(&json!({"inputs": [pair(&ada, &acme)]}))
    };
    assert_eq!(send(request()).await.0, 503, "the injected fault");
    assert_eq!(send(request()).await.0, 200);
    let log = h.sandbox.admin().request_log();
    assert_eq!(
        log.count(
            "POST",
            "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/associate/default"
        ),
        2
    );
    let (status, _, body) = send(h.admin(Method::GET, "/hubspot/associations")).await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["fromId"], json!(ada));
    assert_eq!(body[0]["toType"], "companies");
}
