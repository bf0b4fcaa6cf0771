//! HubSpot's path families (HUBSPOT-1): the legacy `/crm/v3/objects` and the
//! dated `/crm/objects/2026-03` and `/crm/objects/2026-09` serve the same
//! objects; 2026-09 enforces required properties (HUBSPOT-11); a batch
//! upsert by email matches a contact's secondary emails.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{send, start, unlimited};

const V3: &str = "/crm/v3/objects/contacts";
const V2026_03: &str = "/crm/objects/2026-03/contacts";
const V2026_09: &str = "/crm/objects/2026-09/contacts";

#[tokio::test]
async fn hubspot_version_every_path_family_serves_the_same_objects() {
    let h = start(unlimited(json!({}))).await;
    let id = h.create_contact(json!({"email": "ada@example.com"})).await;
    for prefix in [V3, V2026_03, V2026_09] {
        let (status, _, body) = send(h.hubspot(Method::GET, &format!("{prefix}/{id}"))).await;
        assert_eq!(
            (status, &body["properties"]["email"]),
            (200, &json!("ada@example.com")),
            "{prefix}"
        );
    }
    let (status, _, body) = send(h.hubspot(Method::POST, &format!("{V2026_09}/batch/upsert")).json(&json!({
        "inputs": [{"id": "ada@example.com", "idProperty": "email", "properties": {"firstname": "Ada"}}]
    })))
    .await;
    assert_eq!((status, &body["results"][0]["id"]), (200, &json!(id)));
    let (status, _, body) = send(h.hubspot(Method::POST, &format!("{V2026_03}/search")).json(&json!({
        "filterGroups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": "ada@example.com"}]}]
    })))
    .await;
    assert_eq!((status, body["total"].as_u64()), (200, Some(1)));
    let (status, _, _) = send(
        h.hubspot(Method::POST, &format!("{V2026_09}/batch/archive"))
            .json(&json!({
                "inputs": [{"id": id}]
            })),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _, _) = send(h.hubspot(Method::GET, &format!("{V3}/{id}"))).await;
    assert_eq!(
        status, 404,
        "archived through one family, gone from the others"
    );
    let log = h.sandbox.admin().request_log();
    assert_eq!(
        log.count("POST", "/crm/objects/2026-09/{objectType}/batch/upsert"),
        1
    );
    assert_eq!(
        log.count("GET", "/crm/objects/2026-03/{objectType}/{objectId}"),
        1
    );
}

fn required_lastname() -> etlify_sandbox::SandboxConfig {
    unlimited(json!({"hubspot": {"object_types": {"contacts": {
        "unique_properties": ["email"],
        "required_properties": ["lastname"]
    }}}}))
}

#[tokio::test]
async fn hubspot_version_required_properties_are_enforced_on_2026_09_writes_only() {
    let h = start(required_lastname()).await;
    let (status, _, body) = send(
        h.hubspot(Method::POST, V2026_09)
            .json(&json!({"properties": {"email": "a@x.io"}})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["category"], "VALIDATION_ERROR");
    assert_eq!(body["errors"][0]["code"], "MISSING_REQUIRED_PROPERTY");
    assert_eq!(
        body["errors"][0]["context"]["propertyName"],
        json!(["lastname"])
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("\"name\":\"lastname\""),
        "{body}"
    );
    for legacy in [V3, V2026_03] {
        let (status, _, _) = send(h.hubspot(Method::POST, legacy).json(&json!({
            "properties": {"email": format!("b{}@x.io", legacy.len())}
        })))
        .await;
        assert_eq!(status, 201, "{legacy} does not enforce the rule");
    }

    // In a batch, each offending input fails alone (207); the others are written.
    let (status, _, body) = send(h.hubspot(Method::POST, &format!("{V2026_09}/batch/upsert")).json(&json!({
        "inputs": [
            {"id": "c@x.io", "idProperty": "email", "properties": {"email": "c@x.io", "lastname": "C"}, "objectWriteTraceId": "c@x.io"},
            {"id": "d@x.io", "idProperty": "email", "properties": {"email": "d@x.io"}, "objectWriteTraceId": "d@x.io"}
        ]
    })))
    .await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    assert_eq!(body["results"][0]["properties"]["email"], "c@x.io");
    assert_eq!(
        body["errors"][0]["context"]["objectWriteTraceId"],
        json!(["d@x.io"])
    );
    assert_eq!(
        body["errors"][0]["errors"][0]["context"]["propertyName"],
        json!(["lastname"])
    );

    // An update may leave the property out (the object has it), not clear it.
    let id = body["results"][0]["id"].as_str().unwrap().to_owned();
    let patch = |properties: Value| {
        h.hubspot(Method::PATCH, &format!("{V2026_09}/{id}"))
            .json(&json!({ "properties": properties }))
    };
    assert_eq!(send(patch(json!({"firstname": "Cy"}))).await.0, 200);
    assert_eq!(send(patch(json!({"lastname": ""}))).await.0, 400);
}

/// HubSpot's batch upsert by `email` also matches a contact through one of
/// its `hs_additional_emails`, and writing `email` then makes that address
/// the primary one: the contact's primary email is overwritten.
#[tokio::test]
async fn hubspot_version_a_batch_upsert_by_email_through_a_secondary_email_overwrites_the_primary()
{
    let h = start(unlimited(json!({}))).await;
    let id = h
        .create_contact(
            json!({"email": "sales@corp.io", "hs_additional_emails": "app@corp.io;old@corp.io"}),
        )
        .await;
    let (status, _, body) = send(h.hubspot(Method::POST, &format!("{V2026_09}/batch/upsert")).json(&json!({
        "inputs": [{"id": "app@corp.io", "idProperty": "email", "properties": {"email": "app@corp.io", "firstname": "App"}}]
    })))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["results"][0]["id"], &body["results"][0]["new"]),
        (&json!(id), &json!(false))
    );
    let contacts = h.sandbox.admin().hubspot_objects("contacts").unwrap();
    assert_eq!(contacts.len(), 1, "matched, not created");
    assert_eq!(
        contacts[0].properties["email"], "app@corp.io",
        "the primary email is overwritten"
    );
    assert_eq!(
        contacts[0].properties["hs_additional_emails"],
        "old@corp.io"
    );

    // Matched by its secondary email without writing `email`: the primary stays.
    let other = h
        .create_contact(json!({"email": "boss@corp.io", "hs_additional_emails": "me@corp.io"}))
        .await;
    let (_, _, body) = send(h.hubspot(Method::POST, &format!("{V3}/batch/upsert")).json(&json!({
        "inputs": [{"id": "me@corp.io", "idProperty": "email", "properties": {"firstname": "Me"}}]
    })))
    .await;
    assert_eq!(body["results"][0]["id"], json!(other));
    assert_eq!(body["results"][0]["properties"]["email"], "boss@corp.io");
}

#[tokio::test]
async fn hubspot_version_secondary_email_matching_can_be_turned_off() {
    let h = start(unlimited(
        json!({"hubspot": {"upserts_match_additional_emails": false}}),
    ))
    .await;
    h.create_contact(json!({"email": "sales@corp.io", "hs_additional_emails": "app@corp.io"}))
        .await;
    let (status, _, body) = send(h.hubspot(Method::POST, &format!("{V3}/batch/upsert")).json(&json!({
        "inputs": [{"id": "app@corp.io", "idProperty": "email", "properties": {"email": "app@corp.io"}}]
    })))
    .await;
    assert_eq!((status, &body["results"][0]["new"]), (200, &json!(true)));
    assert_eq!(
        h.sandbox.admin().hubspot_objects("contacts").unwrap().len(),
        2
    );
}

/// A secondary email stops matching once the contact no longer lists it
/// (updated away) or is archived: the sandbox's index follows each write.
#[tokio::test]
async fn hubspot_version_a_secondary_email_updated_away_or_archived_no_longer_matches() {
    let h = start(unlimited(json!({}))).await;
    let upsert = |email: &str| {
        h.hubspot(Method::POST, &format!("{V3}/batch/upsert"))
            .json(&json!({
                "inputs": [{"id": email, "idProperty": "email", "properties": {"firstname": "X"}}]
            }))
    };
    let first = h
        .create_contact(json!({"email": "a@corp.io", "hs_additional_emails": "gone@corp.io"}))
        .await;
    let (status, _, _) = send(
        h.hubspot(Method::PATCH, &format!("{V3}/{first}"))
            .json(&json!({"properties": {"hs_additional_emails": "kept@corp.io"}})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, _, body) = send(upsert("kept@corp.io")).await;
    assert_eq!(body["results"][0]["id"], json!(first), "{body}");
    let (_, _, body) = send(upsert("gone@corp.io")).await;
    assert_eq!(body["results"][0]["new"], json!(true), "{body}");

    let second = h
        .create_contact(json!({"email": "b@corp.io", "hs_additional_emails": "archived@corp.io"}))
        .await;
    let (status, _, _) = send(h.hubspot(Method::DELETE, &format!("{V3}/{second}"))).await;
    assert_eq!(status, 204);
    let (_, _, body) = send(upsert("archived@corp.io")).await;
    assert_eq!(body["results"][0]["new"], json!(true), "{body}");
}
