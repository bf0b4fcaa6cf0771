//! Companies (INTERCOM-3): `POST /companies` creates the company holding
//! the record's `company_id`, or updates it when one does: an upsert, safe
//! to repeat after a lost answer. The modes that must not create or must
//! not update look the company up first (`GET /companies?company_id=`).

use reqwest::Method;
use serde_json::Value;

use super::{body, is_object_id, object_id, IntercomAdapter};
use crate::adapters::{
    id_value, no_object_to_update, AdapterError, AdapterErrorKind, Throttle, UpsertRequest,
    WriteMode,
};

/// A company's own attributes; any other property is a custom attribute.
const STANDARD: &[&str] = &[
    "company_id",
    "name",
    "plan",
    "size",
    "website",
    "industry",
    "remote_created_at",
    "monthly_spend",
];

/// The field a company is identified by, set once at its creation.
const COMPANY_ID: &str = "company_id";

pub(super) async fn upsert(
    adapter: &IntercomAdapter,
    request: UpsertRequest<'_>,
    throttle: &Throttle<'_>,
) -> Result<Option<String>, AdapterError> {
    let known = request.crm_id.map(str::trim).filter(|id| is_object_id(id));
    if let (Some(crm_id), WriteMode::CreateOnly) = (known, request.mode) {
        return Ok(Some(crm_id.to_owned()));
    }
    let Some(company_id) = id_value(request.payload, request.id_property) else {
        return Err(AdapterError::new(
            AdapterErrorKind::ValidationFailed,
            format!(
                "the record has no {} value to identify an Intercom company by",
                request.id_property
            ),
        ));
    };
    if request.mode != WriteMode::Upsert {
        let found = find(adapter, &company_id, throttle).await?;
        match (found, request.mode) {
            (Some(found), WriteMode::CreateOnly) => return Ok(Some(found)),
            (None, WriteMode::UpdateOnly) => {
                return Err(no_object_to_update("companies", request.id_property))
            }
            _ => {}
        }
    }
    let mut fields = body(request.payload, STANDARD, Some(request.id_property));
    fields.insert(COMPANY_ID.to_owned(), Value::String(company_id));
    // Not marked as a create: repeating it updates the company it made.
    let write = adapter
        .request(Method::POST, &["companies"])
        .json(Value::Object(fields));
    let response = adapter.send(&write, throttle).await?;
    Ok(object_id(&response.body))
}

/// The id of the company holding `company_id`, if any.
async fn find(
    adapter: &IntercomAdapter,
    company_id: &str,
    throttle: &Throttle<'_>,
) -> Result<Option<String>, AdapterError> {
    let request = adapter
        .request(Method::GET, &["companies"])
        .query(COMPANY_ID, company_id);
    match adapter.send(&request, throttle).await {
        Ok(response) => Ok(object_id(&response.body)),
        Err(error) if error.kind() == AdapterErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}
