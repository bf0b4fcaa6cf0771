//! Contacts (INTERCOM-3, INTERCOM-4; X-2): updated by a known id; else
//! matched by `external_id` through a create whose conflict names the
//! contact holding it, or by any other field (`email`) through a search,
//! then created when nothing matches.
//!
//! `external_id` is unique in a workspace, so a create is the match: one
//! request for a new contact, and no duplicate when a create's answer was
//! lost (the next create conflicts). An email is not unique (leads share
//! them), so it is searched first; search lags writes by up to minutes,
//! which a create's conflict (among users) still catches.

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::errors::existing_id;
use super::{body, is_object_id, object_id, IntercomAdapter};
use crate::adapters::{
    id_value, no_object_to_update, AdapterError, AdapterErrorKind, Throttle, UpsertRequest,
    WriteMode,
};

/// A contact's own attributes; any other property is a custom attribute.
pub(super) const STANDARD: &[&str] = &[
    "role",
    "external_id",
    "email",
    "phone",
    "name",
    "avatar",
    "signed_up_at",
    "last_seen_at",
    "owner_id",
    "unsubscribed_from_emails",
];

/// The property whose create conflicts instead of duplicating.
const EXTERNAL_ID: &str = "external_id";

pub(super) async fn upsert(
    adapter: &IntercomAdapter,
    request: UpsertRequest<'_>,
    throttle: &Throttle<'_>,
) -> Result<Option<String>, AdapterError> {
    let mode = request.mode;
    let id_property = request.id_property;
    let skipped = request.id_property_only_on_create.then_some(id_property);
    // a known id is updated directly.
    if let Some(crm_id) = request.crm_id.map(str::trim).filter(|id| is_object_id(id)) {
        if mode == WriteMode::CreateOnly {
            return Ok(Some(crm_id.to_owned()));
        }
        let fields = body(request.payload, STANDARD, skipped);
        match update(adapter, crm_id, fields, throttle).await {
            Ok(id) => return Ok(Some(id)),
            // Deleted in Intercom meanwhile: matched again, or created.
            Err(error) if error.kind() == AdapterErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    let Some(value) = id_value(request.payload, id_property) else {
        return Err(AdapterError::new(
            AdapterErrorKind::ValidationFailed,
            format!("the record has no {id_property} value to match an Intercom contact by"),
        ));
    };
    if id_property != EXTERNAL_ID || mode == WriteMode::UpdateOnly {
        if let Some(found) = search(adapter, id_property, &value, throttle).await? {
            return write_found(adapter, &request, found, throttle).await;
        }
        if mode == WriteMode::UpdateOnly {
            return Err(no_object_to_update("contacts", id_property));
        }
    }
    let mut fields = body(request.payload, STANDARD, None);
    fields
        .entry("role")
        .or_insert_with(|| Value::String("user".to_owned()));
    let create = adapter
        .request(Method::POST, &["contacts"])
        .json(Value::Object(fields))
        .creates();
    match adapter.send(&create, throttle).await {
        Ok(response) => Ok(object_id(&response.body)),
        // Held by a contact already (or created by a create whose answer
        // was lost): that contact is the match.
        Err(error) => match existing_id(&error) {
            Some(found) => write_found(adapter, &request, found, throttle).await,
            None => Err(error),
        },
    }
}

/// Writes the matched contact `found` (nothing in `create_only`).
async fn write_found(
    adapter: &IntercomAdapter,
    request: &UpsertRequest<'_>,
    found: String,
    throttle: &Throttle<'_>,
) -> Result<Option<String>, AdapterError> {
    if request.mode == WriteMode::CreateOnly {
        return Ok(Some(found));
    }
    let skipped = request
        .id_property_only_on_create
        .then_some(request.id_property);
    let fields = body(request.payload, STANDARD, skipped);
    update(adapter, &found, fields, throttle).await.map(Some)
}

/// `PUT /contacts/{id}`; the contact's id.
async fn update(
    adapter: &IntercomAdapter,
    crm_id: &str,
    fields: Map<String, Value>,
    throttle: &Throttle<'_>,
) -> Result<String, AdapterError> {
    let request = adapter
        .request(Method::PUT, &["contacts", crm_id])
        .json(Value::Object(fields));
    let response = adapter.send(&request, throttle).await?;
    Ok(object_id(&response.body).unwrap_or_else(|| crm_id.to_owned()))
}

/// `POST /contacts/search` for the contact whose `field` equals `value`
/// (INTERCOM-4); the oldest when several do.
async fn search(
    adapter: &IntercomAdapter,
    field: &str,
    value: &str,
    throttle: &Throttle<'_>,
) -> Result<Option<String>, AdapterError> {
    let value = if field == "email" {
        value.trim().to_lowercase()
    } else {
        value.trim().to_owned()
    };
    let request = adapter
        .request(Method::POST, &["contacts", "search"])
        .json(json!({
            "query": { "field": field, "operator": "=", "value": value },
            "pagination": { "per_page": 1 },
            "sort": { "field": "created_at", "order": "ascending" },
        }));
    let response = adapter.send(&request, throttle).await?;
    Ok(response
        .body
        .get("data")
        .and_then(Value::as_array)
        .and_then(|found| found.first())
        .and_then(object_id))
}
