//! The exact requests of the Intercom adapter (INTERCOM-2..INTERCOM-6),
//! against wiremock: the version header and token, a contact's body with
//! its custom attributes, a conflict adopted, a search by email, a
//! company's upsert and a contact attached to it, a 429 waited out until
//! its window's reset.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use etlify::adapters::{
    Adapter, AssociationPair, IntercomAdapter, IntercomConfig, Throttle, UpsertRequest, WriteMode,
};
use etlify::{AssociationType, Payload};
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::quick;

const CONTACT_ID: &str = "5da6f18e3d7cf967e4582d05";

fn adapter(server: &MockServer) -> IntercomAdapter {
    IntercomAdapter::new(
        IntercomConfig::new("tok-wire")
            .base_url(server.uri())
            .api_version("2.9")
            .http(quick()),
    )
    .unwrap()
}

fn payload(pairs: Value) -> Payload {
    match pairs {
        Value::Object(map) => map.into_iter().collect(),
        _ => unreachable!("a JSON object"),
    }
}

fn request<'a>(
    object_type: &'a str,
    payload: &'a Payload,
    id_property: &'a str,
) -> UpsertRequest<'a> {
    UpsertRequest {
        object_type,
        payload,
        id_property,
        crm_id: None,
        id_property_only_on_create: false,
        mode: WriteMode::Upsert,
    }
}

fn contact(id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "type": "contact", "id": id }))
}

/// A contact matched by `external_id` is one create: the version header,
/// the token, `role` user, its own attributes at the top and the others
/// under `custom_attributes`.
#[tokio::test]
async fn intercom_a_new_contact_is_one_create_with_the_version_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/contacts"))
        .and(header("intercom-version", "2.9"))
        .and(header("authorization", "Bearer tok-wire"))
        .and(body_json(json!({
            "role": "user",
            "external_id": "user-1",
            "email": "ann@example.com",
            "name": "Ann",
            "custom_attributes": { "plan": "pro" },
        })))
        .respond_with(contact(CONTACT_ID))
        .expect(1)
        .mount(&server)
        .await;
    let ann = payload(json!({
        "external_id": "user-1", "email": "ann@example.com", "name": "Ann", "plan": "pro"
    }));
    let id = adapter(&server)
        .upsert(
            request("contacts", &ann, "external_id"),
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    assert_eq!(id.as_deref(), Some(CONTACT_ID));
}

/// A create that conflicts names the contact holding the external id:
/// it is updated in place (`PUT /contacts/{id}`), nothing created.
#[tokio::test]
async fn intercom_a_conflict_adopts_the_contact_it_names() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/contacts"))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({
            "type": "error.list",
            "request_id": "r-1",
            "errors": [{
                "code": "conflict",
                "message": format!("A contact matching those details already exists with id={CONTACT_ID}"),
            }],
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("/contacts/{CONTACT_ID}")))
        .and(header("intercom-version", "2.9"))
        .and(body_json(json!({ "external_id": "user-1", "name": "Ann" })))
        .respond_with(contact(CONTACT_ID))
        .expect(1)
        .mount(&server)
        .await;
    let ann = payload(json!({ "external_id": "user-1", "name": "Ann" }));
    let id = adapter(&server)
        .upsert(
            request("contacts", &ann, "external_id"),
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    assert_eq!(id.as_deref(), Some(CONTACT_ID));
}

/// Matched by email: a search for the lowercased email, then an update
/// of the contact found.
#[tokio::test]
async fn intercom_a_contact_matched_by_email_is_searched_first() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/contacts/search"))
        .and(body_json(json!({
            "query": { "field": "email", "operator": "=", "value": "ann@example.com" },
            "pagination": { "per_page": 1 },
            "sort": { "field": "created_at", "order": "ascending" },
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "type": "list", "total_count": 1, "data": [{ "type": "contact", "id": CONTACT_ID }],
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("/contacts/{CONTACT_ID}")))
        .and(body_json(
            json!({ "email": "Ann@Example.com", "name": "Ann" }),
        ))
        .respond_with(contact(CONTACT_ID))
        .expect(1)
        .mount(&server)
        .await;
    let ann = payload(json!({ "email": "Ann@Example.com", "name": "Ann" }));
    let id = adapter(&server)
        .upsert(request("contacts", &ann, "email"), &Throttle::unlimited())
        .await
        .unwrap();
    assert_eq!(id.as_deref(), Some(CONTACT_ID));
}

/// A company is one `POST /companies` with its `company_id`, and a
/// contact is attached to it by the company's Intercom id.
#[tokio::test]
async fn intercom_a_company_is_upserted_and_a_contact_attached_to_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/companies"))
        .and(body_json(json!({
            "company_id": "company-7", "name": "Acme", "custom_attributes": { "tier": "gold" },
        })))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "type": "company", "id": "c0ffee" })),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/contacts/{CONTACT_ID}/companies")))
        .and(body_json(json!({ "id": "c0ffee" })))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "type": "company", "id": "c0ffee" })),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/companies"))
        .and(query_param("company_id", "company-8"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "type": "error.list", "errors": [{ "code": "not_found", "message": "Company Not Found" }],
        })))
        .expect(1)
        .mount(&server)
        .await;
    let adapter = adapter(&server);
    let acme = payload(json!({ "company_id": "company-7", "name": "Acme", "tier": "gold" }));
    let id = adapter
        .upsert(
            request("companies", &acme, "company_id"),
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    assert_eq!(id.as_deref(), Some("c0ffee"));
    let associations = adapter.associations().unwrap();
    let pairs = [AssociationPair {
        from: CONTACT_ID,
        to: "c0ffee",
    }];
    let refused = associations
        .associate(
            "contacts",
            "companies",
            AssociationType::Default,
            &pairs,
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    assert!(refused.refused.is_empty(), "{refused:?}");
    let backwards = associations
        .associate(
            "companies",
            "contacts",
            AssociationType::Default,
            &pairs,
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    assert_eq!(
        backwards.refused.len(),
        1,
        "companies are not attached to contacts"
    );
    // update_only finds no company: nothing created.
    let globex = payload(json!({ "company_id": "company-8", "name": "Globex" }));
    let error = adapter
        .upsert(
            UpsertRequest {
                mode: WriteMode::UpdateOnly,
                ..request("companies", &globex, "company_id")
            },
            &Throttle::unlimited(),
        )
        .await
        .unwrap_err();
    assert!(error.is_no_object_to_update(), "{error}");
}

/// A 429 carries no `Retry-After`: the retry waits for the window's
/// `X-RateLimit-Reset`.
#[tokio::test]
async fn intercom_a_429_is_retried_after_the_window_resets() {
    let server = MockServer::start().await;
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    Mock::given(method("POST"))
        .and(path("/contacts"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("x-ratelimit-limit", "167")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.to_string().as_str())
                .set_body_json(json!({
                    "type": "error.list",
                    "errors": [{ "code": "rate_limit_exceeded", "message": "Exceeded rate limit of 167 in 10_seconds" }],
                })),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/contacts"))
        .respond_with(contact(CONTACT_ID))
        .expect(1)
        .mount(&server)
        .await;
    let ann = payload(json!({ "external_id": "user-1" }));
    let started = Instant::now();
    let id = adapter(&server)
        .upsert(
            request("contacts", &ann, "external_id"),
            &Throttle::unlimited(),
        )
        .await
        .unwrap();
    assert_eq!(id.as_deref(), Some(CONTACT_ID));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for the reset: {:?}",
        started.elapsed()
    );
}
