use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{config, send, start, start_default, unlimited, CONTACTS};

#[tokio::test]
async fn sandbox_hubspot_create_returns_201_with_string_properties() {
    let h = start_default().await;
    let (status, _, body) = send(
        h.hubspot(Method::POST, CONTACTS)
            .json(&json!({"properties": {"email": "ada@example.com", "age": 36, "vip": true}, "associations": []})),
    )
    .await;
    assert_eq!(status, 201);
    let id = body["id"].as_str().unwrap();
    assert!(id.parse::<u64>().is_ok(), "ids are decimal strings");
    assert_eq!(body["properties"]["email"], "ada@example.com");
    assert_eq!(body["properties"]["age"], "36");
    assert_eq!(body["properties"]["vip"], "true");
    assert_eq!(body["properties"]["hs_object_id"], id);
    assert_eq!(body["archived"], false);
    assert!(body["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        h.sandbox.admin().hubspot_objects("0-1").unwrap().len(),
        1,
        "0-1 names contacts"
    );
}

#[tokio::test]
async fn sandbox_hubspot_duplicate_email_on_create_returns_409_existing_id() {
    let h = start_default().await;
    let id = h.create_contact(json!({"email": "ada@example.com"})).await;
    let (status, _, body) = send(
        h.hubspot(Method::POST, CONTACTS)
            .json(&json!({"properties": {"email": "ADA@example.com"}})),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["status"], "error");
    assert_eq!(body["category"], "CONFLICT");
    assert_eq!(
        body["message"],
        format!("Contact already exists. Existing ID: {id}")
    );
    assert!(body["correlationId"].is_string());
}

#[tokio::test]
async fn sandbox_hubspot_invalid_email_returns_400_invalid_email() {
    let h = start_default().await;
    let (status, _, body) = send(
        h.hubspot(Method::POST, CONTACTS)
            .json(&json!({"properties": {"email": "dsfsafas@"}})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["category"], "VALIDATION_ERROR");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.starts_with("Property values were not valid: ["),
        "{message}"
    );
    assert!(message.contains("\"error\":\"INVALID_EMAIL\""), "{message}");
    assert!(
        message.contains("Email address dsfsafas@ is invalid"),
        "{message}"
    );
    assert_eq!(body["errors"][0]["code"], "INVALID_EMAIL");
    assert!(h
        .sandbox
        .admin()
        .hubspot_objects("contacts")
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn sandbox_hubspot_unknown_property_with_schema_returns_400_property_doesnt_exist() {
    let h = start(config(json!({"hubspot": {"object_types": {"contacts": {
        "type_id": "0-1", "unique_properties": ["email"],
        "properties": {"email": {}, "firstname": {}}
    }}}})))
    .await;
    let (status, _, body) = send(
        h.hubspot(Method::POST, CONTACTS)
            .json(&json!({"properties": {"email": "a@b.co", "testproperty": "x"}})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["code"], "PROPERTY_DOESNT_EXIST");
    assert_eq!(
        body["errors"][0]["message"],
        "Property \"testproperty\" does not exist"
    );
    assert_eq!(
        body["errors"][0]["context"]["propertyName"][0],
        "testproperty"
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("PROPERTY_DOESNT_EXIST"));
}

#[tokio::test]
async fn sandbox_hubspot_read_update_archive_use_documented_status_codes() {
    let h = start_default().await;
    let id = h
        .create_contact(json!({"email": "ada@example.com", "firstname": "Ada"}))
        .await;
    let (status, _, body) = send(h.hubspot(
        Method::GET,
        &format!("{CONTACTS}/{id}?properties=firstname,lastname"),
    ))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["properties"]["firstname"], "Ada");
    assert_eq!(body["properties"]["lastname"], Value::Null);

    let (status, _, body) = send(
        h.hubspot(
            Method::PATCH,
            &format!("{CONTACTS}/ada@example.com?idProperty=email"),
        )
        .json(&json!({"properties": {"firstname": "Augusta", "lastname": ""}})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], id);
    assert_eq!(body["properties"]["firstname"], "Augusta");

    let (status, _, _) = send(h.hubspot(Method::DELETE, &format!("{CONTACTS}/{id}"))).await;
    assert_eq!(status, 204);
    let (status, _, body) = send(h.hubspot(Method::GET, &format!("{CONTACTS}/{id}"))).await;
    assert_eq!(status, 404);
    assert_eq!(body["category"], "OBJECT_NOT_FOUND");
    let (status, _, body) =
        send(h.hubspot(Method::GET, &format!("{CONTACTS}/{id}?archived=true"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["archived"], true);
    let (status, _, _) = send(h.hubspot(Method::DELETE, &format!("{CONTACTS}/{id}"))).await;
    assert_eq!(status, 404, "deleting an archived object again is a 404");
}

#[tokio::test]
async fn sandbox_hubspot_update_taking_another_contacts_email_returns_400_already_has_that_value() {
    let h = start_default().await;
    let owner = h
        .create_contact(json!({"email": "owner@example.com"}))
        .await;
    let other = h
        .create_contact(json!({"email": "other@example.com"}))
        .await;
    let (status, _, body) = send(
        h.hubspot(Method::PATCH, &format!("{CONTACTS}/{other}"))
            .json(&json!({"properties": {"email": "owner@example.com"}})),
    )
    .await;
    assert_eq!(status, 400);
    let message = body["message"].as_str().unwrap();
    assert!(
        message.ends_with(&format!("on {other}. {owner} already has that value.")),
        "{message}"
    );
}

#[tokio::test]
async fn sandbox_hubspot_unknown_object_type_returns_400() {
    let h = start_default().await;
    let (status, _, body) = send(
        h.hubspot(Method::POST, "/crm/v3/objects/widgets")
            .json(&json!({"properties": {}})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["message"], "Unable to infer object type from: widgets");
}

#[tokio::test]
async fn sandbox_hubspot_batch_over_100_inputs_returns_400() {
    let h = start_default().await;
    let inputs: Vec<Value> = (0..101)
        .map(|i| json!({"properties": {"email": format!("u{i}@example.com")}}))
        .collect();
    let (status, _, body) = send(
        h.hubspot(Method::POST, &format!("{CONTACTS}/batch/create"))
            .json(&json!({"inputs": inputs})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["category"], "VALIDATION_ERROR");
    assert!(h
        .sandbox
        .admin()
        .hubspot_objects("contacts")
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn sandbox_hubspot_batch_duplicate_ids_returns_400_duplicate_ids() {
    let h = start_default().await;
    let id = h.create_contact(json!({"email": "a@example.com"})).await;
    let (status, _, body) = send(h.hubspot(Method::POST, &format!("{CONTACTS}/batch/update")).json(&json!({
        "inputs": [{"id": id, "properties": {"firstname": "A"}}, {"id": id, "properties": {"firstname": "B"}}]
    })))
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["category"], "VALIDATION_ERROR");
    assert_eq!(
        body["message"],
        format!("Duplicate IDs found in batch input: [{id}]. IDs must be unique")
    );
    assert_eq!(body["context"]["ids"][0], id.as_str());
}

#[tokio::test]
async fn sandbox_hubspot_batch_upsert_sets_new_flag() {
    let h = start_default().await;
    let existing = h.create_contact(json!({"email": "old@example.com"})).await;
    let (status, _, body) = send(h.hubspot(Method::POST, &format!("{CONTACTS}/batch/upsert")).json(&json!({
        "inputs": [
            {"id": "old@example.com", "idProperty": "email", "properties": {"email": "old@example.com", "firstname": "Old"}},
            {"id": "new@example.com", "idProperty": "email", "properties": {"firstname": "New"}}
        ]
    })))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "COMPLETE");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["id"], existing.as_str());
    assert_eq!(results[0]["new"], false);
    assert_eq!(results[0]["properties"]["firstname"], "Old");
    assert_eq!(results[1]["new"], true);
    assert_eq!(results[1]["properties"]["email"], "new@example.com");

    let (status, _, body) = send(
        h.hubspot(Method::POST, &format!("{CONTACTS}/batch/upsert"))
            .json(&json!({
                "inputs": [{"id": "x", "idProperty": "firstname", "properties": {}}]
            })),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["message"]
        .as_str()
        .unwrap()
        .starts_with("Unable to perform update/upsert by non-unique 0-1 property firstname"));
}

#[tokio::test]
async fn sandbox_hubspot_batch_create_with_trace_ids_returns_207_for_invalid_inputs() {
    let h = start_default().await;
    let (status, _, body) = send(
        h.hubspot(Method::POST, &format!("{CONTACTS}/batch/create"))
            .json(&json!({
                "inputs": [
                    {"properties": {"email": "ok@example.com"}, "objectWriteTraceId": "t1"},
                    {"properties": {"email": "broken@"}, "objectWriteTraceId": "t2"}
                ]
            })),
    )
    .await;
    assert_eq!(status, 207);
    assert_eq!(body["numErrors"], 1);
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    assert_eq!(body["errors"][0]["category"], "VALIDATION_ERROR");
    assert_eq!(body["errors"][0]["context"]["objectWriteTraceId"][0], "t2");

    // Without trace ids the whole batch is rejected and nothing is written.
    let (status, _, _) = send(h.hubspot(Method::POST, &format!("{CONTACTS}/batch/create")).json(&json!({
        "inputs": [{"properties": {"email": "fine@example.com"}}, {"properties": {"email": "broken@"}}]
    })))
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        h.sandbox.admin().hubspot_objects("contacts").unwrap().len(),
        1
    );
}

#[tokio::test]
async fn sandbox_hubspot_batch_read_and_update_missing_ids_return_207_object_not_found() {
    let h = start_default().await;
    let id = h.create_contact(json!({"email": "raj@valmi.io"})).await;
    let (status, _, body) = send(h.hubspot(Method::POST, &format!("{CONTACTS}/batch/read")).json(&json!({
        "inputs": [{"id": "raj@valmi.io"}, {"id": "raj+2@valmi.io"}], "idProperty": "email", "properties": ["email"]
    })))
    .await;
    assert_eq!(status, 207);
    assert_eq!(body["results"][0]["id"], id.as_str());
    assert_eq!(body["errors"][0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(
        body["errors"][0]["message"],
        "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid."
    );
    assert_eq!(body["errors"][0]["context"]["ids"][0], "raj+2@valmi.io");

    let (status, _, body) = send(h.hubspot(Method::POST, &format!("{CONTACTS}/batch/update")).json(&json!({
        "inputs": [{"id": id, "properties": {"firstname": "Raj"}}, {"id": "999999", "properties": {"firstname": "Nobody"}}]
    })))
    .await;
    assert_eq!(status, 207);
    assert_eq!(body["results"][0]["properties"]["firstname"], "Raj");
    assert_eq!(body["errors"][0]["context"]["ids"][0], "999999");

    let (status, _, _) = send(
        h.hubspot(Method::POST, &format!("{CONTACTS}/batch/archive"))
            .json(&json!({
                "inputs": [{"id": id}, {"id": "424242"}]
            })),
    )
    .await;
    assert_eq!(status, 204);
    assert!(h.sandbox.admin().hubspot_objects("contacts").unwrap()[0].archived);
}

async fn search(h: &crate::common::Harness, body: Value) -> (u16, Value) {
    let (status, _, body) = send(
        h.hubspot(Method::POST, &format!("{CONTACTS}/search"))
            .json(&body),
    )
    .await;
    (status, body)
}

fn eq_filter(property: &str, value: &str) -> Value {
    json!({"filterGroups": [{"filters": [{"propertyName": property, "operator": "EQ", "value": value}]}]})
}

#[tokio::test]
async fn sandbox_hubspot_search_eq_is_case_insensitive_except_enums() {
    let h = start(unlimited(json!({"hubspot": {"object_types": {"contacts": {
        "type_id": "0-1", "unique_properties": ["email"],
        "properties": {"email": {}, "lifecyclestage": {"type": "enumeration", "options": ["lead", "Customer"]}}
    }}}})))
    .await;
    h.create_contact(json!({"email": "Ada@Example.com", "lifecyclestage": "Customer"}))
        .await;
    let (status, body) = search(&h, eq_filter("email", "ada@example.COM")).await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 1);
    assert_eq!(body["results"][0]["properties"]["email"], "Ada@Example.com");
    assert_eq!(
        search(&h, eq_filter("lifecyclestage", "customer")).await.1["total"],
        0
    );
    assert_eq!(
        search(&h, eq_filter("lifecyclestage", "Customer")).await.1["total"],
        1
    );
    // String IN values must be lower case to match.
    let in_filter = |value: &str| json!({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "IN", "values": [value]}]}]});
    assert_eq!(search(&h, in_filter("ada@example.com")).await.1["total"], 1);
    assert_eq!(search(&h, in_filter("Ada@Example.com")).await.1["total"], 0);
}

#[tokio::test]
async fn sandbox_hubspot_search_pages_with_after_and_enforces_limits() {
    let h = start(unlimited(json!({}))).await;
    for i in 0..5 {
        h.create_contact(json!({"email": format!("p{i}@example.com"), "firstname": "Pat"}))
            .await;
    }
    let (status, body) = search(&h, json!({"filterGroups": [{"filters": [{"propertyName": "firstname", "operator": "EQ", "value": "pat"}]}], "limit": 2})).await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 5);
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    assert_eq!(body["paging"]["next"]["after"], "2");
    let (_, last) = search(&h, json!({"limit": 2, "after": "4"})).await;
    assert_eq!(last["results"].as_array().unwrap().len(), 1);
    assert!(last.get("paging").is_none());

    assert_eq!(search(&h, json!({"limit": 201})).await.0, 400);
    assert_eq!(search(&h, json!({"after": "abc"})).await.0, 400);
    assert_eq!(search(&h, json!({"after": "10000"})).await.0, 400);
    let long = "x".repeat(3_001);
    assert_eq!(search(&h, json!({"query": long})).await.0, 400);
    let filters: Vec<Value> = (0..7)
        .map(|_| json!({"propertyName": "email", "operator": "HAS_PROPERTY"}))
        .collect();
    assert_eq!(
        search(&h, json!({"filterGroups": [{"filters": filters}]}))
            .await
            .0,
        400
    );
    let groups: Vec<Value> = (0..6).map(|_| json!({"filters": []})).collect();
    assert_eq!(search(&h, json!({"filterGroups": groups})).await.0, 400);
}

#[tokio::test]
async fn sandbox_hubspot_search_hides_new_objects_until_indexing_lag_passes() {
    let h = start(config(
        json!({"hubspot": {"search": {"indexing_lag_ms": 150}}}),
    ))
    .await;
    h.create_contact(json!({"email": "late@example.com"})).await;
    assert_eq!(
        search(&h, eq_filter("email", "late@example.com")).await.1["total"],
        0
    );
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(
        search(&h, eq_filter("email", "late@example.com")).await.1["total"],
        1
    );
}

#[tokio::test]
async fn sandbox_hubspot_archived_objects_disappear_from_search() {
    let h = start_default().await;
    let id = h.create_contact(json!({"email": "gone@example.com"})).await;
    assert_eq!(
        search(&h, eq_filter("email", "gone@example.com")).await.1["total"],
        1
    );
    send(h.hubspot(Method::DELETE, &format!("{CONTACTS}/{id}"))).await;
    assert_eq!(
        search(&h, eq_filter("email", "gone@example.com")).await.1["total"],
        0
    );
    // The address is free again once archived.
    h.create_contact(json!({"email": "gone@example.com"})).await;
}

#[tokio::test]
async fn sandbox_hubspot_missing_or_wrong_token_returns_401() {
    let h = start_default().await;
    let url = format!("{}{CONTACTS}", h.sandbox.hubspot_base_url());
    let (status, _, body) = send(h.http.get(&url)).await;
    assert_eq!(status, 401);
    assert_eq!(body["category"], "INVALID_AUTHENTICATION");
    let (status, _, body) = send(h.http.get(&url).bearer_auth("pat-na1-wrong")).await;
    assert_eq!(status, 401);
    assert!(
        !body.to_string().contains("pat-na1-wrong"),
        "the token is never echoed"
    );
    assert_eq!(h.sandbox.admin().request_log().count_status(401), 2);
}

#[tokio::test]
async fn sandbox_hubspot_list_pages_with_after_cursor() {
    let h = start_default().await;
    for i in 0..3 {
        h.create_contact(json!({"email": format!("l{i}@example.com")}))
            .await;
    }
    let (status, _, body) = send(h.hubspot(Method::GET, &format!("{CONTACTS}?limit=2"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["results"].as_array().unwrap().len(), 2);
    let after = body["paging"]["next"]["after"].as_str().unwrap().to_owned();
    let (_, _, body) =
        send(h.hubspot(Method::GET, &format!("{CONTACTS}?limit=2&after={after}"))).await;
    assert_eq!(body["results"].as_array().unwrap().len(), 1);
    assert!(body.get("paging").is_none());
}
