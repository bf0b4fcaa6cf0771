//! v4 associations (HUBSPOT-12): batch create (default and labelled) and
//! archive (every association of a pair, or given labels), under the v4
//! prefix and the dated ones, behind the same gate as the objects (rate
//! limits, latency, injected faults, lost responses).
//!
//! * at most [`MAX_INPUTS`] inputs per request, else 400;
//! * making an association that exists changes nothing (no duplicate);
//!   archiving one that does not exist changes nothing either;
//! * a pair naming an object that does not exist (or is archived) is
//!   refused alone: a 207 with an `OBJECT_NOT_FOUND` error whose context
//!   lists the missing id, the other pairs being done;
//! * a labelled association also makes the pair's default one, as HubSpot;
//! * `GET …/{from}/{to}/labels` lists the pair's default type and the
//!   configured `association_labels`.

use std::collections::BTreeSet;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::errors::HubSpotError;
use super::store::{now_iso, HubSpotStore};
use crate::state::{lock, SharedState};

/// Most inputs one association batch takes.
pub(crate) const MAX_INPUTS: usize = 100;

/// The prefixes of the associations API: v4, and each dated version.
const PREFIXES: [&str; 3] = [
    "/crm/v4/associations",
    "/crm/associations/2026-03",
    "/crm/associations/2026-09",
];

/// One association between two objects, as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubSpotAssociation {
    /// The from object's type (its configured name, e.g. `contacts`).
    pub from_type: String,
    /// The from object's id.
    pub from_id: String,
    /// The to object's type.
    pub to_type: String,
    /// The to object's id.
    pub to_id: String,
    /// `HUBSPOT_DEFINED`, `USER_DEFINED` or `INTEGRATOR_DEFINED`.
    pub category: String,
    /// The association type id.
    pub type_id: u32,
}

/// Every association of the portal.
pub(crate) type Associations = BTreeSet<HubSpotAssociation>;

pub(crate) fn router() -> Router<SharedState> {
    PREFIXES.iter().fold(Router::new(), |router, prefix| {
        let at = |rest: &str| format!("{prefix}/{{fromObjectType}}/{{toObjectType}}/batch/{rest}");
        router
            .route(&at("associate/default"), post(associate_default))
            .route(&at("create"), post(create_labelled))
            .route(&at("archive"), post(archive_all))
            .route(&at("labels/archive"), post(archive_labels))
            .route(
                &format!("{prefix}/{{fromObjectType}}/{{toObjectType}}/labels"),
                get(labels),
            )
    })
}

/// The pair's association types: its default unlabeled one, then the
/// configured labels.
async fn labels(
    State(state): State<SharedState>,
    Path((from_type, to_type)): Path<(String, String)>,
) -> Result<Response, HubSpotError> {
    let (from, to) = {
        let store = lock(&state.hubspot);
        (store.resolve(&from_type)?, store.resolve(&to_type)?)
    };
    let mut results = vec![json!({
        "category": "HUBSPOT_DEFINED",
        "typeId": default_type(&from, &to),
        "label": null,
    })];
    results.extend(
        state
            .config
            .hubspot
            .association_labels
            .iter()
            .filter(|l| l.from_type == from && l.to_type == to)
            .map(|l| json!({ "category": l.category, "typeId": l.type_id, "label": l.label })),
    );
    Ok((StatusCode::OK, Json(json!({ "results": results }))).into_response())
}

#[derive(Debug, Deserialize)]
struct Inputs<T> {
    inputs: Vec<T>,
}

#[derive(Debug, Deserialize)]
struct Id {
    id: Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssociationTypeInput {
    #[serde(default)]
    association_category: Option<String>,
    association_type_id: u32,
}

#[derive(Debug, Deserialize)]
struct PairInput {
    from: Id,
    to: Id,
    #[serde(default)]
    types: Vec<AssociationTypeInput>,
}

#[derive(Debug, Deserialize)]
struct ArchiveInput {
    from: Id,
    to: Vec<Id>,
}

/// The default (unlabeled) type between two object types: HubSpot's ids
/// for the built-in pairs, one made up for the others.
fn default_type(from_type: &str, to_type: &str) -> u32 {
    match (from_type, to_type) {
        ("contacts", "companies") => 279,
        ("companies", "contacts") => 280,
        ("deals", "contacts") => 3,
        ("contacts", "deals") => 4,
        ("deals", "companies") => 341,
        ("companies", "deals") => 342,
        _ => 1,
    }
}

fn id_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The object types of the path, resolved, and the inputs of the body
/// within the limit.
fn parse<T: for<'de> Deserialize<'de>>(
    store: &HubSpotStore,
    (from_type, to_type): (&str, &str),
    body: &Bytes,
) -> Result<(String, String, Vec<T>), HubSpotError> {
    let from = store.resolve(from_type)?;
    let to = store.resolve(to_type)?;
    let inputs: Inputs<T> =
        serde_json::from_slice(body).map_err(|e| HubSpotError::InvalidJson(e.to_string()))?;
    if inputs.inputs.len() > MAX_INPUTS {
        return Err(HubSpotError::Validation(format!(
            "Batch input size is {}, but the limit is {MAX_INPUTS}",
            inputs.inputs.len()
        )));
    }
    Ok((from, to, inputs.inputs))
}

/// The id among `ids` (of types `types`) with no live object, if any.
fn missing_object(store: &HubSpotStore, pairs: [(&str, &str); 2]) -> Option<String> {
    pairs.into_iter().find_map(|(object_type, id)| {
        let live = id
            .parse::<u64>()
            .ok()
            .and_then(|n| store.get(object_type, n))
            .is_some_and(|object| !object.archived);
        (!live).then(|| id.to_owned())
    })
}

fn not_found(missing: &str) -> Value {
    json!({
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": format!("No object with id {missing}"),
        "context": { "ids": [missing] },
    })
}

/// 200/201 without errors, 207 with some.
fn answer(
    success: StatusCode,
    results: Vec<Value>,
    errors: Vec<Value>,
    started: String,
) -> Response {
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": now_iso(),
    });
    let status = if errors.is_empty() {
        success
    } else {
        body["numErrors"] = json!(errors.len());
        body["errors"] = Value::Array(errors);
        StatusCode::MULTI_STATUS
    };
    (status, Json(body)).into_response()
}

async fn associate_default(
    State(state): State<SharedState>,
    Path(types): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, HubSpotError> {
    create(&state, &types, &body, false)
}

async fn create_labelled(
    State(state): State<SharedState>,
    Path(types): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, HubSpotError> {
    create(&state, &types, &body, true)
}

/// Makes each pair's default association, and with `labelled` the input's
/// types too (`batch/create`, which requires them); answers each made
/// pair in the shape of its endpoint.
fn create(
    state: &SharedState,
    (from_type, to_type): &(String, String),
    body: &Bytes,
    labelled: bool,
) -> Result<Response, HubSpotError> {
    let started = now_iso();
    let mut store = lock(&state.hubspot);
    let (from, to, inputs) = parse::<PairInput>(&store, (from_type, to_type), body)?;
    if labelled && inputs.iter().any(|input| input.types.is_empty()) {
        return Err(HubSpotError::Validation(
            "types: at least one association type is required".to_owned(),
        ));
    }
    let default_id = default_type(&from, &to);
    let (mut results, mut errors) = (Vec::new(), Vec::new());
    for input in inputs {
        let (from_id, to_id) = (id_text(&input.from.id), id_text(&input.to.id));
        if let Some(missing) = missing_object(&store, [(&from, &from_id), (&to, &to_id)]) {
            errors.push(not_found(&missing));
            continue;
        }
        let association = |category: &str, type_id: u32| HubSpotAssociation {
            from_type: from.clone(),
            from_id: from_id.clone(),
            to_type: to.clone(),
            to_id: to_id.clone(),
            category: category.to_owned(),
            type_id,
        };
        // A labelled association comes with the pair's unlabeled one.
        store
            .associations
            .insert(association("HUBSPOT_DEFINED", default_id));
        let types = if labelled {
            input.types.as_slice()
        } else {
            &[]
        };
        for spec in types {
            let category = spec
                .association_category
                .as_deref()
                .unwrap_or("USER_DEFINED");
            store
                .associations
                .insert(association(category, spec.association_type_id));
        }
        results.push(if labelled {
            json!({
                "fromObjectTypeId": from,
                "fromObjectId": from_id.parse::<u64>().ok(),
                "toObjectTypeId": to,
                "toObjectId": to_id.parse::<u64>().ok(),
                "labels": [],
            })
        } else {
            json!({
                "from": { "id": from_id },
                "to": { "id": to_id },
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": default_id,
                },
            })
        });
    }
    let success = if labelled {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(answer(success, results, errors, started))
}

/// Removes every association of each pair (from → each `to`).
async fn archive_all(
    State(state): State<SharedState>,
    Path(types): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, HubSpotError> {
    let mut store = lock(&state.hubspot);
    let (from, to, inputs) = parse::<ArchiveInput>(&store, (&types.0, &types.1), &body)?;
    for input in inputs {
        let from_id = id_text(&input.from.id);
        for target in input.to {
            let to_id = id_text(&target.id);
            store.associations.retain(|a| {
                !(a.from_type == from
                    && a.from_id == from_id
                    && a.to_type == to
                    && a.to_id == to_id)
            });
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Removes the given types of each pair; the default (unlabeled) one
/// takes every association of the pair with it.
async fn archive_labels(
    State(state): State<SharedState>,
    Path(types): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, HubSpotError> {
    let mut store = lock(&state.hubspot);
    let (from, to, inputs) = parse::<PairInput>(&store, (&types.0, &types.1), &body)?;
    let default_id = default_type(&from, &to);
    for input in inputs {
        let (from_id, to_id) = (id_text(&input.from.id), id_text(&input.to.id));
        for spec in &input.types {
            let everything = spec.association_type_id == default_id;
            store.associations.retain(|a| {
                let pair = a.from_type == from
                    && a.from_id == from_id
                    && a.to_type == to
                    && a.to_id == to_id;
                !(pair && (everything || a.type_id == spec.association_type_id))
            });
        }
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
