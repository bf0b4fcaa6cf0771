//! Batch create / read / update / upsert / archive (HUBSPOT-3, HUBSPOT-4,
//! HUBSPOT-5). Every batch is planned in full before anything is written, so a
//! rejected request changes nothing; 207 answers carry per-input errors.
//!
//! * create/upsert/update: when any input has an `objectWriteTraceId`,
//!   invalid inputs become `errors[]` entries (207) and the rest is written;
//!   otherwise the first invalid input rejects the whole request.
//! * read/update: ids that match nothing are reported as one
//!   `OBJECT_NOT_FOUND` error (207), whatever the trace ids.
//! * update/upsert/archive: the same id twice ⇒ 400 "Duplicate IDs".
//! * on the 2026-09 paths, a write leaving a required property of the type
//!   empty is an invalid input like any other (HUBSPOT-11).
//! * upsert by a contact's `email` also matches its `hs_additional_emails`;
//!   writing `email` then promotes the address to primary, overwriting the
//!   contact's primary email (HubSpot's behaviour, docs/SANDBOX.md).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::errors::HubSpotError;
use super::store::{additional_emails, now_iso, HubSpotObject, HubSpotStore, TypeState};

/// What the path family a write came by enforces.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WriteRules {
    /// The type's `required_properties` (version 2026-09, HUBSPOT-11).
    pub(crate) required_properties: bool,
}

/// `{"inputs": [...], "properties"?: [...], "idProperty"?: "..."}`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchRequest<T> {
    pub(crate) inputs: Vec<T>,
    #[serde(default)]
    pub(crate) properties: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) id_property: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateInput {
    #[serde(default)]
    pub(crate) properties: Map<String, Value>,
    #[serde(default)]
    pub(crate) object_write_trace_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WriteInput {
    pub(crate) id: Value,
    #[serde(default)]
    pub(crate) id_property: Option<String>,
    #[serde(default)]
    pub(crate) properties: Map<String, Value>,
    #[serde(default)]
    pub(crate) object_write_trace_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct IdInput {
    pub(crate) id: Value,
}

/// A finished batch: results plus per-input errors (non-empty ⇒ 207).
#[derive(Debug)]
pub(crate) struct BatchOutcome {
    pub(crate) results: Vec<Value>,
    pub(crate) errors: Vec<Value>,
    pub(crate) started_at: String,
}

impl BatchOutcome {
    fn new() -> Self {
        Self {
            results: Vec::new(),
            errors: Vec::new(),
            started_at: now_iso(),
        }
    }

    /// The batch response body (`…WithErrors` variant when there are errors).
    pub(crate) fn body(&self) -> Value {
        let mut body = json!({
            "status": "COMPLETE",
            "results": self.results,
            "startedAt": self.started_at,
            "completedAt": now_iso(),
        });
        if !self.errors.is_empty() {
            body["numErrors"] = json!(self.errors.len());
            body["errors"] = json!(self.errors);
        }
        body
    }
}

/// An id given as a JSON string or number, as text.
pub(crate) fn id_text(id: &Value) -> String {
    match id {
        Value::String(text) => text.trim().to_owned(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The SimplePublicObject JSON of `object`. With `requested` properties,
/// only those (null when unset) plus the system ones; otherwise all.
pub(crate) fn object_json(
    object: &HubSpotObject,
    requested: Option<&[String]>,
    state: &TypeState,
) -> Value {
    let properties: Map<String, Value> = match requested.filter(|r| !r.is_empty()) {
        None => object
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
        Some(requested) => {
            let system = ["hs_object_id", "createdate", state.last_modified_property()];
            requested
                .iter()
                .map(String::as_str)
                .chain(system)
                .map(|name| {
                    let value = object
                        .properties
                        .get(name)
                        .map_or(Value::Null, |v| Value::String(v.clone()));
                    (name.to_owned(), value)
                })
                .collect()
        }
    };
    let mut body = json!({
        "id": object.id,
        "properties": properties,
        "createdAt": object.created_at,
        "updatedAt": object.updated_at,
        "archived": object.archived,
    });
    if let Some(archived_at) = &object.archived_at {
        body["archivedAt"] = json!(archived_at);
    }
    body
}

/// A 207 `errors[]` entry for one failed input.
fn error_entry(error: &HubSpotError, trace_id: Option<&String>) -> Value {
    let mut entry = error.body();
    if let Some(fields) = entry.as_object_mut() {
        fields.remove("correlationId");
        let context = trace_id.map_or_else(|| json!({}), |t| json!({ "objectWriteTraceId": [t] }));
        fields.insert("context".to_owned(), context);
    }
    entry
}

fn not_found_entry(state: &TypeState, ids: &[String], trace_ids: &[String]) -> Value {
    let mut context = json!({ "ids": ids });
    if !trace_ids.is_empty() {
        context["objectWriteTraceId"] = json!(trace_ids);
    }
    json!({
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": format!(
            "Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.",
            state.legacy_name()
        ),
        "context": context,
    })
}

/// 400 when more than `max` inputs.
pub(crate) fn check_size(len: usize, max: usize) -> Result<(), HubSpotError> {
    if len > max {
        return Err(HubSpotError::Validation(format!(
            "Batch input limit exceeded: {len} inputs were sent, the maximum is {max}"
        )));
    }
    Ok(())
}

/// 400 when the same id appears twice.
fn check_duplicates<'a>(ids: impl Iterator<Item = &'a str>) -> Result<(), HubSpotError> {
    let mut seen = BTreeSet::new();
    let mut duplicates = Vec::new();
    for id in ids {
        if !seen.insert(id.to_lowercase()) && !duplicates.iter().any(|d: &String| d == id) {
            duplicates.push(id.to_owned());
        }
    }
    if duplicates.is_empty() {
        Ok(())
    } else {
        Err(HubSpotError::DuplicateIds(duplicates))
    }
}

type Claims = HashMap<(String, String), String>;

pub(crate) fn create(
    store: &mut HubSpotStore,
    object_type: &str,
    inputs: Vec<CreateInput>,
    rules: WriteRules,
    now: Instant,
) -> Result<BatchOutcome, HubSpotError> {
    let multi_status = inputs.iter().any(|i| i.object_write_trace_id.is_some());
    let mut outcome = BatchOutcome::new();
    let mut claims = Claims::new();
    let mut next_id = store.peek_next_id();
    let mut planned = Vec::new();
    for input in &inputs {
        let checked = store
            .normalize(object_type, &input.properties)
            .and_then(|properties| {
                store.check_required(object_type, None, &properties, rules.required_properties)?;
                store.check_create_unique(object_type, &properties, &claims)?;
                Ok(properties)
            });
        match checked {
            Ok(properties) => {
                for claim in store.unique_claims(object_type, &properties) {
                    claims.insert(claim, next_id.to_string());
                }
                next_id += 1;
                planned.push((properties, input.object_write_trace_id.clone()));
            }
            Err(error) if multi_status => outcome
                .errors
                .push(error_entry(&error, input.object_write_trace_id.as_ref())),
            Err(error) => return Err(error),
        }
    }
    for (properties, trace_id) in planned {
        let object = store.insert(object_type, properties, now)?;
        let mut result = object_json(&object, None, store.type_state(object_type)?);
        if let Some(trace_id) = trace_id {
            result["objectWriteTraceId"] = json!(trace_id);
        }
        outcome.results.push(result);
    }
    Ok(outcome)
}

enum PlannedWrite {
    Update(u64, BTreeMap<String, String>),
    Create(BTreeMap<String, String>),
}

pub(crate) fn update(
    store: &mut HubSpotStore,
    object_type: &str,
    inputs: Vec<WriteInput>,
    rules: WriteRules,
    now: Instant,
) -> Result<BatchOutcome, HubSpotError> {
    let ids: Vec<String> = inputs.iter().map(|i| id_text(&i.id)).collect();
    check_duplicates(ids.iter().map(String::as_str))?;
    let multi_status = inputs.iter().any(|i| i.object_write_trace_id.is_some());
    let mut outcome = BatchOutcome::new();
    let mut claims = Claims::new();
    let mut planned = Vec::new();
    let (mut missing, mut missing_traces) = (Vec::new(), Vec::new());
    for (input, id) in inputs.iter().zip(&ids) {
        let found = store
            .lookup(object_type, id, input.id_property.as_deref())?
            .filter(|n| store.get(object_type, *n).is_some_and(|o| !o.archived));
        let Some(numeric) = found else {
            missing.push(id.clone());
            missing_traces.extend(input.object_write_trace_id.clone());
            continue;
        };
        let checked = store
            .normalize(object_type, &input.properties)
            .and_then(|properties| {
                let enforced = rules.required_properties;
                store.check_required(object_type, Some(numeric), &properties, enforced)?;
                store.check_update_unique(object_type, numeric, &properties, &claims)?;
                Ok(properties)
            });
        match checked {
            Ok(properties) => {
                for claim in store.unique_claims(object_type, &properties) {
                    claims.insert(claim, numeric.to_string());
                }
                planned.push((numeric, properties, input.object_write_trace_id.clone()));
            }
            Err(error) if multi_status => outcome
                .errors
                .push(error_entry(&error, input.object_write_trace_id.as_ref())),
            Err(error) => return Err(error),
        }
    }
    for (numeric, properties, trace_id) in planned {
        let object = store.apply_update(object_type, numeric, properties, now)?;
        let mut result = object_json(&object, None, store.type_state(object_type)?);
        if let Some(trace_id) = trace_id {
            result["objectWriteTraceId"] = json!(trace_id);
        }
        outcome.results.push(result);
    }
    if !missing.is_empty() {
        let state = store.type_state(object_type)?;
        outcome
            .errors
            .push(not_found_entry(state, &missing, &missing_traces));
    }
    Ok(outcome)
}

pub(crate) fn upsert(
    store: &mut HubSpotStore,
    object_type: &str,
    inputs: Vec<WriteInput>,
    rules: WriteRules,
    now: Instant,
) -> Result<BatchOutcome, HubSpotError> {
    let ids: Vec<String> = inputs.iter().map(|i| id_text(&i.id)).collect();
    check_duplicates(ids.iter().map(String::as_str))?;
    let multi_status = inputs.iter().any(|i| i.object_write_trace_id.is_some());
    let mut outcome = BatchOutcome::new();
    let mut claims = Claims::new();
    let mut next_id = store.peek_next_id();
    let mut planned = Vec::new();
    for (input, id) in inputs.iter().zip(&ids) {
        let id_property = match input.id_property.as_deref() {
            Some(property) if !property.is_empty() && property != "hs_object_id" => property,
            other => {
                let state = store.type_state(object_type)?;
                return Err(HubSpotError::NonUniqueIdProperty {
                    type_id: state.type_id(),
                    property: other.unwrap_or("hs_object_id").to_owned(),
                    portal_id: store.portal_id,
                });
            }
        };
        if id.is_empty() {
            return Err(HubSpotError::Validation(
                "Each upsert input needs a non-empty id".to_owned(),
            ));
        }
        let found = store
            .lookup(object_type, id, Some(id_property))?
            .filter(|n| store.get(object_type, *n).is_some_and(|o| !o.archived));
        let by_additional_email = match found {
            Some(_) => None,
            None => store.find_by_additional_email(object_type, id_property, id),
        };
        let enforced = rules.required_properties;
        let checked = store
            .normalize(object_type, &input.properties)
            .and_then(|mut properties| match found.or(by_additional_email) {
                Some(numeric) => {
                    if by_additional_email.is_some() {
                        promote_additional_email(store, object_type, numeric, id, &mut properties);
                    }
                    store.check_required(object_type, Some(numeric), &properties, enforced)?;
                    store.check_update_unique(object_type, numeric, &properties, &claims)?;
                    Ok((PlannedWrite::Update(numeric, properties), numeric))
                }
                None => {
                    properties
                        .entry(id_property.to_owned())
                        .or_insert_with(|| id.clone());
                    store.check_required(object_type, None, &properties, enforced)?;
                    store.check_create_unique(object_type, &properties, &claims)?;
                    let numeric = next_id;
                    next_id += 1;
                    Ok((PlannedWrite::Create(properties), numeric))
                }
            });
        match checked {
            Ok((write, numeric)) => {
                let properties = match &write {
                    PlannedWrite::Update(_, p) | PlannedWrite::Create(p) => p,
                };
                for claim in store.unique_claims(object_type, properties) {
                    claims.insert(claim, numeric.to_string());
                }
                planned.push((write, input.object_write_trace_id.clone()));
            }
            Err(error) if multi_status => outcome
                .errors
                .push(error_entry(&error, input.object_write_trace_id.as_ref())),
            Err(error) => return Err(error),
        }
    }
    for (write, trace_id) in planned {
        let (object, is_new) = match write {
            PlannedWrite::Update(numeric, properties) => (
                store.apply_update(object_type, numeric, properties, now)?,
                false,
            ),
            PlannedWrite::Create(properties) => (store.insert(object_type, properties, now)?, true),
        };
        let mut result = object_json(&object, None, store.type_state(object_type)?);
        result["new"] = json!(is_new);
        if let Some(trace_id) = trace_id {
            result["objectWriteTraceId"] = json!(trace_id);
        }
        outcome.results.push(result);
    }
    Ok(outcome)
}

/// A write of `email` = `address` to the contact that holds `address` as a
/// secondary email makes it the primary one: the old primary is
/// overwritten, and the address leaves `hs_additional_emails`. A write
/// without `email` changes neither.
fn promote_additional_email(
    store: &HubSpotStore,
    object_type: &str,
    id: u64,
    address: &str,
    properties: &mut BTreeMap<String, String>,
) {
    let writes_address = properties
        .get("email")
        .is_some_and(|email| email.trim().eq_ignore_ascii_case(address.trim()));
    let Some(contact) = store.get(object_type, id).filter(|_| writes_address) else {
        return;
    };
    let others: Vec<&str> = additional_emails(contact)
        .filter(|other| !other.eq_ignore_ascii_case(address.trim()))
        .collect();
    // An empty string clears the property (HUBSPOT-3).
    properties.insert("hs_additional_emails".to_owned(), others.join(";"));
}

pub(crate) fn read(
    store: &HubSpotStore,
    object_type: &str,
    request: &BatchRequest<IdInput>,
    archived: bool,
) -> Result<BatchOutcome, HubSpotError> {
    let mut outcome = BatchOutcome::new();
    let mut missing = Vec::new();
    let mut seen = BTreeSet::new();
    let state = store.type_state(object_type)?;
    for input in &request.inputs {
        let id = id_text(&input.id);
        let found = store
            .lookup(object_type, &id, request.id_property.as_deref())?
            .and_then(|n| store.get(object_type, n))
            .filter(|o| o.archived == archived);
        match found {
            // Duplicate ids in a read are answered once.
            Some(object) if seen.insert(object.id.clone()) => {
                outcome
                    .results
                    .push(object_json(object, request.properties.as_deref(), state))
            }
            Some(_) => {}
            None => missing.push(id),
        }
    }
    if !missing.is_empty() {
        outcome.errors.push(not_found_entry(state, &missing, &[]));
    }
    Ok(outcome)
}

pub(crate) fn archive(
    store: &mut HubSpotStore,
    object_type: &str,
    inputs: &[IdInput],
    now: Instant,
) -> Result<(), HubSpotError> {
    let ids: Vec<String> = inputs.iter().map(|i| id_text(&i.id)).collect();
    check_duplicates(ids.iter().map(String::as_str))?;
    for id in &ids {
        // Unknown ids are ignored: batch archive always answers 204.
        if let Some(numeric) = store.lookup(object_type, id, None)? {
            store.archive(object_type, numeric, now)?;
        }
    }
    Ok(())
}
