use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{config, send, start, start_default, unlimited};

const BASE: &str = "appSANDBOX000001";

fn schema_config() -> etlify_sandbox::SandboxConfig {
    unlimited(json!({"airtable": {"bases": {BASE: {"tables": {
        "Companies": {"id": "tblCompanies00001", "fields": [{"name": "Name"}]},
        "Contacts": {"id": "tblContacts000001", "fields": [
            {"name": "Email", "id": "fldEmail000000001", "type": "email"},
            {"name": "Name", "id": "fldName0000000001"},
            {"name": "Age", "type": "number"},
            {"name": "Stage", "type": "singleSelect", "options": ["Lead", "Customer"]},
            {"name": "Company", "type": "multipleRecordLinks", "linked_table": "Companies"},
            {"name": "Active", "type": "checkbox"}
        ]}
    }}}}}))
}

#[tokio::test]
async fn sandbox_airtable_create_returns_rec_ids_and_omits_empty_fields() {
    let h = start_default().await;
    let (status, _, body) = send(h.airtable(Method::POST, &format!("/{BASE}/Contacts")).json(&json!({
        "records": [{"fields": {"Email": "a@example.com", "Notes": "", "Tags": [], "Done": false}}]
    })))
    .await;
    assert_eq!(status, 200);
    let record = &body["records"][0];
    let id = record["id"].as_str().unwrap();
    assert!(id.starts_with("rec") && id.len() == 17, "{id}");
    assert!(record["createdTime"].is_string());
    assert_eq!(record["fields"], json!({"Email": "a@example.com"}));

    // Single-record form: `{fields}` in, a record out.
    let (status, _, body) = send(
        h.airtable(Method::POST, &format!("/{BASE}/Contacts"))
            .json(&json!({"fields": {"Email": "b@example.com"}})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["id"].as_str().unwrap().starts_with("rec"));
    assert_eq!(
        h.sandbox
            .admin()
            .airtable_records(BASE, "Contacts")
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn sandbox_airtable_more_than_10_records_returns_422_invalid_records() {
    let h = start_default().await;
    let records: Vec<Value> = (0..11).map(|i| json!({"fields": {"N": i}})).collect();
    let (status, _, body) = send(
        h.airtable(Method::POST, &format!("/{BASE}/T"))
            .json(&json!({ "records": records })),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["type"], "INVALID_RECORDS");
    let ids: Vec<String> = (0..11).map(|i| format!("rec{i:014}")).collect();
    let query: Vec<(&str, &str)> = ids.iter().map(|id| ("records[]", id.as_str())).collect();
    let (status, _, _) = send(
        h.airtable(Method::DELETE, &format!("/{BASE}/T"))
            .query(&query),
    )
    .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn sandbox_airtable_patch_merges_and_put_clears() {
    let h = start_default().await;
    let record = h
        .sandbox
        .admin()
        .airtable_insert(
            BASE,
            "T",
            json!({"A": "1", "B": "2"}).as_object().unwrap().clone(),
        )
        .unwrap();
    let (status, _, body) = send(
        h.airtable(Method::PATCH, &format!("/{BASE}/T/{}", record.id))
            .json(&json!({"fields": {"A": "one"}})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["fields"], json!({"A": "one", "B": "2"}));
    let (status, _, body) = send(h.airtable(Method::PUT, &format!("/{BASE}/T")).json(&json!({
        "records": [{"id": record.id, "fields": {"C": "3"}}]
    })))
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["records"][0]["fields"], json!({"C": "3"}));
}

#[tokio::test]
async fn sandbox_airtable_perform_upsert_reports_created_and_updated_records() {
    let h = start_default().await;
    let existing = h
        .sandbox
        .admin()
        .airtable_insert(
            BASE,
            "T",
            json!({"Email": "a@example.com", "Name": "A"})
                .as_object()
                .unwrap()
                .clone(),
        )
        .unwrap();
    let (status, _, body) = send(
        h.airtable(Method::PATCH, &format!("/{BASE}/T"))
            .json(&json!({
                "performUpsert": {"fieldsToMergeOn": ["Email"]},
                "records": [
                    {"fields": {"Email": "a@example.com", "Name": "A2"}},
                    {"fields": {"Email": "b@example.com", "Name": "B"}}
                ]
            })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["updatedRecords"], json!([existing.id]));
    let created = body["createdRecords"].as_array().unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(body["records"][0]["fields"]["Name"], "A2");
    assert_eq!(body["records"][1]["id"], created[0]);

    let (status, _, body) = send(h.airtable(Method::PATCH, &format!("/{BASE}/T")).json(&json!({
        "performUpsert": {"fieldsToMergeOn": ["A", "B", "C", "D"]}, "records": [{"fields": {"A": "1"}}]
    })))
    .await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn sandbox_airtable_upsert_with_multiple_matches_fails_atomically() {
    let h = start_default().await;
    let admin = h.sandbox.admin();
    for _ in 0..2 {
        admin
            .airtable_insert(
                BASE,
                "T",
                json!({"Email": "dup@example.com"})
                    .as_object()
                    .unwrap()
                    .clone(),
            )
            .unwrap();
    }
    let (status, _, body) = send(h.airtable(Method::PATCH, &format!("/{BASE}/T")).json(&json!({
        "performUpsert": {"fieldsToMergeOn": ["Email"]},
        "records": [{"fields": {"Email": "new@example.com"}}, {"fields": {"Email": "dup@example.com"}}]
    })))
    .await;
    assert_eq!(status, 422);
    assert!(body["error"]["type"].is_string());
    assert_eq!(
        admin.airtable_records(BASE, "T").unwrap().len(),
        2,
        "the valid record was not created either"
    );
}

#[tokio::test]
async fn sandbox_airtable_unknown_field_returns_422_unknown_field_name() {
    let h = start(schema_config()).await;
    let (status, _, body) = send(h.airtable(Method::POST, &format!("/{BASE}/Contacts")).json(
        &json!({
            "records": [{"fields": {"Email": "a@example.com"}}, {"fields": {"Nope": "x"}}]
        }),
    ))
    .await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"error": {"type": "UNKNOWN_FIELD_NAME", "message": "Unknown field name: \"Nope\""}})
    );
    assert!(
        h.sandbox
            .admin()
            .airtable_records(BASE, "Contacts")
            .unwrap()
            .is_empty(),
        "atomic"
    );
}

#[tokio::test]
async fn sandbox_airtable_bad_select_returns_422_unless_typecast() {
    let h = start(schema_config()).await;
    let create = |typecast: bool| {
        h.airtable(Method::POST, &format!("/{BASE}/Contacts"))
            .json(&json!({"records": [{"fields": {"Stage": "NON-REPRO"}}], "typecast": typecast}))
    };
    let (status, _, body) = send(create(false)).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["type"], "INVALID_MULTIPLE_CHOICE_OPTIONS");
    assert_eq!(send(create(true)).await.0, 200);
    assert_eq!(
        send(create(false)).await.0,
        200,
        "typecast created the option"
    );
    let (status, _, body) = send(
        h.airtable(Method::POST, &format!("/{BASE}/Contacts"))
            .json(&json!({"fields": {"Age": "forty"}})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["type"], "INVALID_VALUE_FOR_COLUMN");
}

#[tokio::test]
async fn sandbox_airtable_link_to_missing_record_returns_422_row_does_not_exist() {
    let h = start(schema_config()).await;
    let company = h
        .sandbox
        .admin()
        .airtable_insert(
            BASE,
            "Companies",
            json!({"Name": "Acme"}).as_object().unwrap().clone(),
        )
        .unwrap();
    let (status, _, _) = send(
        h.airtable(Method::POST, &format!("/{BASE}/Contacts"))
            .json(&json!({"fields": {"Company": [company.id]}})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, body) = send(
        h.airtable(Method::POST, &format!("/{BASE}/Contacts"))
            .json(&json!({"fields": {"Company": ["recDeadGhost12345"]}})),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["type"], "ROW_DOES_NOT_EXIST");
    assert_eq!(
        body["error"]["message"],
        "Record ID recDeadGhost12345 does not exist"
    );
}

#[tokio::test]
async fn sandbox_airtable_return_fields_by_field_id_keys_fields_by_id() {
    let h = start(schema_config()).await;
    let (status, _, body) = send(
        h.airtable(Method::PATCH, &format!("/{BASE}/tblContacts000001"))
            .json(&json!({
                "performUpsert": {"fieldsToMergeOn": ["fldEmail000000001"]},
                "returnFieldsByFieldId": true,
                "records": [{"fields": {"fldEmail000000001": "a@example.com", "Name": "A"}}]
            })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["records"][0]["fields"],
        json!({"fldEmail000000001": "a@example.com", "fldName0000000001": "A"})
    );
    let (_, _, body) = send(h.airtable(Method::GET, &format!("/{BASE}/Contacts"))).await;
    assert_eq!(
        body["records"][0]["fields"],
        json!({"Email": "a@example.com", "Name": "A"})
    );
    let (_, _, meta) = send(h.airtable(Method::GET, &format!("/meta/bases/{BASE}/tables"))).await;
    assert_eq!(meta["tables"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn sandbox_airtable_filter_by_formula_matches_equality_and_escaped_quotes() {
    let h = start(schema_config()).await;
    let admin = h.sandbox.admin();
    for (email, name, age) in [
        ("john@example.com", "say \"hi\"", 25),
        ("jane@example.com", "it's", 30),
    ] {
        admin
            .airtable_insert(
                BASE,
                "Contacts",
                json!({"Email": email, "Name": name, "Age": age})
                    .as_object()
                    .unwrap()
                    .clone(),
            )
            .unwrap();
    }
    let find = |formula: &str| {
        h.airtable(Method::GET, &format!("/{BASE}/Contacts"))
            .query(&[("filterByFormula", formula), ("maxRecords", "1")])
    };
    let emails = |body: &Value| -> Vec<String> {
        body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["fields"]["Email"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, _, body) = send(find("{Email} = \"john@example.com\"")).await;
    assert_eq!(status, 200);
    assert_eq!(emails(&body), ["john@example.com"]);
    assert_eq!(
        emails(&send(find(r#"{Name} = "say \"hi\"""#)).await.2),
        ["john@example.com"]
    );
    assert_eq!(
        emails(&send(find(r"{Name} = 'it\'s'")).await.2),
        ["jane@example.com"]
    );
    assert_eq!(
        emails(&send(find("{Age} = 30")).await.2),
        ["jane@example.com"]
    );
    assert_eq!(
        emails(
            &send(find(
                "AND({Age} = 25, LOWER({Email}) = LOWER(\"JOHN@example.com\"))"
            ))
            .await
            .2
        ),
        ["john@example.com"]
    );
    assert!(
        emails(&send(find("{Email} = \"JOHN@example.com\"")).await.2).is_empty(),
        "= is case-sensitive by default"
    );
    let (status, _, body) = send(find("{Missing} = 1")).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["type"], "INVALID_FILTER_BY_FORMULA");
    assert_eq!(send(find("{Email} = ")).await.0, 422);
}

#[tokio::test]
async fn sandbox_airtable_list_pages_with_offset_and_max_records() {
    let h = start(unlimited(json!({}))).await;
    let admin = h.sandbox.admin();
    for i in 0..5 {
        admin
            .airtable_insert(BASE, "T", json!({"N": i}).as_object().unwrap().clone())
            .unwrap();
    }
    let (_, _, first) = send(h.airtable(Method::GET, &format!("/{BASE}/T?pageSize=2"))).await;
    assert_eq!(first["records"].as_array().unwrap().len(), 2);
    let offset = first["offset"].as_str().unwrap().to_owned();
    let (_, _, second) = send(
        h.airtable(Method::GET, &format!("/{BASE}/T"))
            .query(&[("pageSize", "2"), ("offset", offset.as_str())]),
    )
    .await;
    assert_eq!(second["records"][0]["fields"]["N"], 2);
    let (_, _, capped) =
        send(h.airtable(Method::GET, &format!("/{BASE}/T?maxRecords=3&pageSize=2"))).await;
    let offset = capped["offset"].as_str().unwrap().to_owned();
    let (_, _, rest) = send(h.airtable(Method::GET, &format!("/{BASE}/T")).query(&[
        ("maxRecords", "3"),
        ("pageSize", "2"),
        ("offset", offset.as_str()),
    ]))
    .await;
    assert_eq!(
        rest["records"].as_array().unwrap().len(),
        1,
        "maxRecords caps the whole listing"
    );
    assert!(rest.get("offset").is_none());
    assert_eq!(
        send(h.airtable(Method::GET, &format!("/{BASE}/T?pageSize=101")))
            .await
            .0,
        422
    );
    let (status, _, body) = send(
        h.airtable(Method::POST, &format!("/{BASE}/T/listRecords"))
            .json(&json!({"pageSize": 1, "filterByFormula": "{N} = 4"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["records"][0]["fields"]["N"], 4);
}

#[tokio::test]
async fn sandbox_airtable_not_found_uses_both_documented_envelopes() {
    let h = start_default().await;
    let (status, _, body) =
        send(h.airtable(Method::GET, &format!("/{BASE}/T/recDoesNotExist01"))).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["type"], "NOT_FOUND");
    let (status, _, body) = send(h.airtable(Method::GET, "/a/b/c/d/e")).await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"error": "NOT_FOUND"}));
    let h = start(config(json!({"airtable": {"not_found_style": "string"}}))).await;
    let (status, _, body) =
        send(h.airtable(Method::DELETE, &format!("/{BASE}/T/recDoesNotExist01"))).await;
    assert_eq!(status, 404);
    assert_eq!(body, json!({"error": "NOT_FOUND"}));
    let strict = start(config(json!({"airtable": {"auto_create_tables": false}}))).await;
    let (status, _, body) = send(strict.airtable(Method::GET, &format!("/{BASE}/T"))).await;
    assert_eq!(status, 403);
    assert_eq!(
        body["error"]["type"],
        "INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND"
    );
}

#[tokio::test]
async fn sandbox_airtable_missing_token_returns_401() {
    let h = start_default().await;
    let url = format!("{}/{BASE}/T", h.sandbox.airtable_base_url());
    let (status, _, body) = send(h.http.get(&url)).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["type"], "AUTHENTICATION_REQUIRED");
    assert_eq!(send(h.http.get(&url).bearer_auth("patWrong")).await.0, 401);
}

#[tokio::test]
async fn sandbox_airtable_delete_many_returns_deleted_records() {
    let h = start_default().await;
    let admin = h.sandbox.admin();
    let a = admin
        .airtable_insert(BASE, "T", json!({"N": 1}).as_object().unwrap().clone())
        .unwrap();
    let b = admin
        .airtable_insert(BASE, "T", json!({"N": 2}).as_object().unwrap().clone())
        .unwrap();
    let (status, _, body) = send(
        h.airtable(Method::DELETE, &format!("/{BASE}/T"))
            .query(&[("records[]", a.id.as_str()), ("records[]", b.id.as_str())]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["records"],
        json!([{"id": a.id, "deleted": true}, {"id": b.id, "deleted": true}])
    );
    assert!(admin.airtable_records(BASE, "T").unwrap().is_empty());
}
