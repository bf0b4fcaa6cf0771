//! The HubSpot properties API and Airtable's metadata API: definitions
//! read and created, the rules writes meet, persistence.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{send, start, unlimited};

const BASE: &str = "appSchema00000001";

fn hubspot_config(state_file: Option<&std::path::Path>) -> etlify_sandbox::SandboxConfig {
    let mut config = unlimited(json!({
        "hubspot": {"object_types": {"contacts": {
            "type_id": "0-1",
            "unique_properties": ["email"],
            "required_properties": ["lastname"],
            "properties": {
                "email": {}, "lastname": {},
                "score": {"type": "number", "read_only": true},
                "stage": {"type": "enumeration", "options": ["lead", "customer"]},
                "tags": {"type": "enumeration", "field_type": "checkbox", "options": ["a", "b"]},
                "birthday": {"type": "date"}
            }
        }}},
        "airtable": {"bases": {BASE: {"tables": {
            "People": {"id": "tblPeople00000001", "fields": [
                {"name": "Email", "type": "email"},
                {"name": "Stage", "type": "singleSelect", "options": ["Lead"]},
                {"name": "Total", "type": "formula"}
            ]}
        }}}}
    }));
    config.state_file = state_file.map(ToOwned::to_owned);
    config
}

fn property<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no property {name} in {body}"))
}

#[tokio::test]
async fn schema_hubspot_properties_show_types_options_read_only_unique_and_required_from_2026_09() {
    let h = start(hubspot_config(None)).await;
    let (status, _, legacy) = send(h.hubspot(Method::GET, "/crm/v3/properties/contacts")).await;
    assert_eq!(status, 200, "{legacy}");
    let stage = property(&legacy, "stage");
    assert_eq!(
        (&stage["type"], &stage["fieldType"]),
        (&json!("enumeration"), &json!("select"))
    );
    assert_eq!(stage["options"][1]["value"], "customer");
    assert_eq!(property(&legacy, "tags")["fieldType"], "checkbox");
    assert_eq!(property(&legacy, "birthday")["type"], "date");
    assert_eq!(
        property(&legacy, "score")["modificationMetadata"]["readOnlyValue"],
        true
    );
    assert_eq!(
        property(&legacy, "hs_object_id")["modificationMetadata"]["readOnlyValue"],
        true
    );
    assert_eq!(property(&legacy, "email")["hasUniqueValue"], true);
    assert_eq!(property(&legacy, "lastname")["hasUniqueValue"], false);
    // Required properties show only where the writes enforce them.
    assert!(property(&legacy, "lastname").get("required").is_none());
    let (_, _, dated) = send(h.hubspot(Method::GET, "/crm/properties/2026-09/0-1")).await;
    assert_eq!(property(&dated, "lastname")["required"], true);
    assert!(property(&dated, "email").get("required").is_none());
}

#[tokio::test]
async fn schema_hubspot_type_without_a_declared_schema_answers_missing_scopes() {
    let h = start(unlimited(json!({}))).await;
    let (status, _, body) = send(h.hubspot(Method::GET, "/crm/v3/properties/contacts")).await;
    assert_eq!(status, 403);
    assert_eq!(body["category"], "MISSING_SCOPES");
    let (status, _, _) = send(h.hubspot(Method::GET, "/crm/v3/properties/ghosts")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn schema_hubspot_property_create_checks_its_pair_group_and_name_then_writes_take_it() {
    let h = start(hubspot_config(None)).await;
    let create = |body: Value| {
        h.hubspot(Method::POST, "/crm/v3/properties/contacts")
            .json(&body)
    };
    let plan = json!({"name": "plan", "label": "Plan", "type": "enumeration",
        "fieldType": "select", "groupName": "etlify", "options": [{"label": "Pro", "value": "pro"}]});
    // The group must exist first.
    let (status, _, body) = send(create(plan.clone())).await;
    assert_eq!(status, 400, "{body}");
    let (status, _, _) = send(
        h.hubspot(Method::POST, "/crm/v3/properties/contacts/groups")
            .json(&json!({"name": "etlify", "label": "Etlify"})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _, body) = send(create(plan.clone())).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["groupName"], "etlify");
    let (status, _, body) = send(create(plan)).await;
    assert_eq!(status, 409, "{body}");
    let (status, _, body) = send(create(json!({"name": "seats", "label": "Seats",
        "type": "number", "fieldType": "select", "groupName": "etlify"})))
    .await;
    assert_eq!(status, 400);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("fieldType select"),
        "{body}"
    );
    let (status, _, _) = send(create(json!({"name": "external_id", "label": "External id",
        "type": "string", "fieldType": "text", "groupName": "contactinformation", "hasUniqueValue": true})))
    .await;
    assert_eq!(status, 201);
    let (_, _, listed) = send(h.hubspot(Method::GET, "/crm/v3/properties/contacts")).await;
    assert_eq!(property(&listed, "external_id")["hasUniqueValue"], true);

    let (status, _, body) = send(h.hubspot(Method::POST, "/crm/v3/objects/contacts").json(
        &json!({"properties": {"email": "a@example.com", "plan": "pro", "external_id": "u-1"}}),
    ))
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _, _) = send(
        h.hubspot(Method::POST, "/crm/v3/objects/contacts")
            .json(&json!({"properties": {"email": "b@example.com", "plan": "basic"}})),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn schema_hubspot_writes_refuse_read_only_bad_dates_and_unknown_multi_select_options() {
    let h = start(hubspot_config(None)).await;
    let write = |properties: Value| {
        h.hubspot(Method::POST, "/crm/v3/objects/contacts")
            .json(&json!({ "properties": properties }))
    };
    let (status, _, body) = send(write(json!({"email": "a@example.com", "score": 3}))).await;
    assert_eq!(
        (status, body["errors"][0]["code"].clone()),
        (400, json!("READ_ONLY_VALUE"))
    );
    let (status, _, body) = send(write(
        json!({"email": "a@example.com", "birthday": 1_700_000_000_000_i64}),
    ))
    .await;
    assert_eq!(
        (status, body["errors"][0]["code"].clone()),
        (400, json!("INVALID_DATE"))
    );
    let (status, _, body) = send(write(json!({"email": "a@example.com", "tags": "a;c"}))).await;
    assert_eq!(
        (status, body["errors"][0]["code"].clone()),
        (400, json!("INVALID_OPTION"))
    );
    let (status, _, body) = send(write(
        json!({"email": "a@example.com", "tags": "a;b", "birthday": 1_699_920_000_000_i64}),
    ))
    .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn schema_airtable_metadata_lists_fields_and_creates_one_once() {
    let h = start(hubspot_config(None)).await;
    let (status, _, body) =
        send(h.airtable(Method::GET, &format!("/meta/bases/{BASE}/tables"))).await;
    assert_eq!(status, 200, "{body}");
    let fields = &body["tables"][0]["fields"];
    assert_eq!(fields[1]["options"]["choices"][0]["name"], "Lead");
    assert_eq!(fields[2]["type"], "formula");
    let path = format!("/meta/bases/{BASE}/tables/tblPeople00000001/fields");
    let (status, _, body) = send(
        h.airtable(Method::POST, &path)
            .json(&json!({"name": "Seats", "type": "number"})),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let seats = json!({"name": "Seats", "type": "number", "options": {"precision": 0}});
    let (status, _, body) = send(h.airtable(Method::POST, &path).json(&seats)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id"].as_str().unwrap().starts_with("fld"));
    let (status, _, body) = send(h.airtable(Method::POST, &path).json(&seats)).await;
    assert_eq!(
        (status, body["error"]["type"].clone()),
        (422, json!("DUPLICATE_OR_EMPTY_FIELD_NAME"))
    );
    // A computed field takes no value; the new field takes numbers.
    let records = format!("/{BASE}/People");
    let (status, _, _) = send(
        h.airtable(Method::POST, &records)
            .json(&json!({"fields": {"Total": 1}})),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _, body) = send(
        h.airtable(Method::POST, &records)
            .json(&json!({"fields": {"Seats": 3}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // A base without declared fields shows no schema.
    let (status, _, _) =
        send(h.airtable(Method::GET, "/meta/bases/appOther000000001/tables")).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn schema_created_properties_and_fields_survive_a_restart() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("state.json");
    let first = start(hubspot_config(Some(&path))).await;
    let (status, _, _) = send(
        first
            .hubspot(Method::POST, "/crm/v3/properties/contacts")
            .json(&json!({
        "name": "plan", "label": "Plan", "type": "string", "fieldType": "text",
        "groupName": "contactinformation"})),
    )
    .await;
    assert_eq!(status, 201);
    let fields = format!("/meta/bases/{BASE}/tables/People/fields");
    let (status, _, _) = send(
        first
            .airtable(Method::POST, &fields)
            .json(&json!({"name": "Plan", "type": "singleLineText"})),
    )
    .await;
    assert_eq!(status, 200);
    // The client's idle connection would hold the shutdown open.
    let crate::common::Harness { sandbox, http } = first;
    drop(http);
    sandbox.shutdown().await.unwrap();

    let second = start(hubspot_config(Some(&path))).await;
    let (_, _, listed) = send(second.hubspot(Method::GET, "/crm/v3/properties/contacts")).await;
    assert_eq!(property(&listed, "plan")["type"], "string");
    let (_, _, body) =
        send(second.airtable(Method::GET, &format!("/meta/bases/{BASE}/tables"))).await;
    let names: Vec<&str> = body["tables"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Email", "Stage", "Total", "Plan"]);
}
