//! The HubSpot adapter's association requests, exact shapes over real
//! loopback HTTP (wiremock), at each API version (HUBSPOT-12).

use std::time::Duration;

use etlify::adapters::hubspot::{ApiVersion, HubSpotAdapter, HubSpotConfig};
use etlify::adapters::{
    Adapter, AdapterErrorKind, AssociationPair, HttpSettings, RetryPolicy, Throttle,
};
use etlify::{AssociationCategory, AssociationType};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "pat-na1-LINKS-TOKEN";

fn adapter(server: &MockServer, version: ApiVersion) -> HubSpotAdapter {
    HubSpotAdapter::new(
        HubSpotConfig::new(TOKEN)
            .base_url(server.uri())
            .api_version(version)
            .http(
                HttpSettings::default().retry(
                    RetryPolicy::default()
                        .max_attempts(2)
                        .base_delay(Duration::from_millis(5)),
                ),
            ),
    )
    .unwrap()
}

const PAIRS: [AssociationPair<'static>; 2] = [
    AssociationPair {
        from: "101",
        to: "201",
    },
    AssociationPair {
        from: "102",
        to: "202",
    },
];

const LABEL: AssociationType = AssociationType::Typed {
    category: AssociationCategory::UserDefined,
    type_id: 12,
};

#[tokio::test]
async fn association_default_create_and_archive_use_the_v4_batch_endpoints() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/crm/v4/associations/contacts/companies/batch/associate/default",
        ))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_json(json!({ "inputs": [
            { "from": { "id": "101" }, "to": { "id": "201" } },
            { "from": { "id": "102" }, "to": { "id": "202" } },
        ]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "COMPLETE",
            "results": [
                { "from": { "id": "101" }, "to": { "id": "201" } },
                { "from": { "id": "102" }, "to": { "id": "202" } },
            ],
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/crm/v4/associations/contacts/companies/batch/archive",
        ))
        .and(body_json(json!({ "inputs": [
            { "from": { "id": "101" }, "to": [{ "id": "201" }] },
            { "from": { "id": "102" }, "to": [{ "id": "202" }] },
        ]})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let hubspot = adapter(&server, ApiVersion::V3);
    let associations = hubspot.associations().unwrap();
    let throttle = Throttle::unlimited();

    let made = associations
        .associate(
            "contacts",
            "companies",
            AssociationType::Default,
            &PAIRS,
            &throttle,
        )
        .await
        .unwrap();
    assert!(made.refused.is_empty(), "{made:?}");
    let removed = associations
        .dissociate(
            "contacts",
            "companies",
            AssociationType::Default,
            &PAIRS,
            &throttle,
        )
        .await
        .unwrap();
    assert!(removed.refused.is_empty(), "{removed:?}");
    assert_eq!(associations.max_associations_per_request(), 100);
}

#[tokio::test]
async fn association_labelled_types_follow_the_dated_version_and_207s_refuse_their_pairs() {
    let server = MockServer::start().await;
    let types = json!([{ "associationCategory": "USER_DEFINED", "associationTypeId": 12 }]);
    Mock::given(method("POST"))
        .and(path(
            "/crm/associations/2026-09/deals/contacts/batch/create",
        ))
        .and(body_json(json!({ "inputs": [
            { "from": { "id": "101" }, "to": { "id": "201" }, "types": types },
            { "from": { "id": "102" }, "to": { "id": "202" }, "types": types },
        ]})))
        .respond_with(ResponseTemplate::new(207).set_body_json(json!({
            "status": "COMPLETE",
            "results": [{ "fromObjectId": 101, "toObjectId": 201, "labels": [] }],
            "numErrors": 1,
            "errors": [{
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": "No contact with id 202",
                "context": { "ids": ["202"] },
            }],
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/crm/associations/2026-09/deals/contacts/batch/labels/archive",
        ))
        .and(body_json(json!({ "inputs": [
            { "from": { "id": "101" }, "to": { "id": "201" }, "types": types },
        ]})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let hubspot = adapter(&server, ApiVersion::V2026_09);
    let associations = hubspot.associations().unwrap();
    let throttle = Throttle::unlimited();

    let made = associations
        .associate("deals", "contacts", LABEL, &PAIRS, &throttle)
        .await
        .unwrap();
    assert_eq!(made.refused.len(), 1, "{made:?}");
    let (index, error) = &made.refused[0];
    assert_eq!(*index, 1);
    assert_eq!(error.kind(), AdapterErrorKind::NotFound);
    assert!(error.message().contains("202"), "{error}");

    let removed = associations
        .dissociate("deals", "contacts", LABEL, &PAIRS[..1], &throttle)
        .await
        .unwrap();
    assert!(removed.refused.is_empty());
}

#[tokio::test]
async fn association_a_label_is_looked_up_by_name_in_the_pairs_labels() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/associations/2026-03/contacts/companies/labels"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [
                { "category": "HUBSPOT_DEFINED", "typeId": 279, "label": null },
                { "category": "USER_DEFINED", "typeId": 12, "label": "Decision maker" },
            ],
        })))
        .expect(2)
        .mount(&server)
        .await;
    let hubspot = adapter(&server, ApiVersion::V2026_03);
    let associations = hubspot.associations().unwrap();
    let throttle = Throttle::unlimited();

    let found = associations
        .label_type("contacts", "companies", "Decision maker", &throttle)
        .await
        .unwrap();
    assert_eq!(found, Some(LABEL));
    let missing = associations
        .label_type("contacts", "companies", "Nobody", &throttle)
        .await
        .unwrap();
    assert_eq!(missing, None);
}
