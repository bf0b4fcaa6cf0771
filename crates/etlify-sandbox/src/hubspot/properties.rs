//! The HubSpot properties API (HUBSPOT-13): an object type's property
//! definitions and groups, read and created, under the legacy
//! `/crm/v3/properties` and the dated `/crm/properties/{version}` paths.
//!
//! The definitions come from the type's declared schema
//! (`hubspot.object_types.<type>.properties`) plus the properties HubSpot
//! keeps itself (`hs_object_id`, `createdate`, the last-modified date). A
//! type without a declared schema accepts any property and has no
//! definitions to show: its properties API answers 403 `MISSING_SCOPES`, as
//! HubSpot does for a token without the type's schema scope.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::{correlation_id, HubSpotError};
use super::store::{HubSpotStore, TypeState};
use crate::config::{PropertyConfig, PropertyKind};
use crate::state::{lock, SharedState};

/// The dated versions of the properties API served besides `v3`.
const DATED_VERSIONS: [&str; 2] = ["2026-03", "2026-09"];

/// HubSpot's limit of unique-value properties per object type.
const MAX_UNIQUE_PROPERTIES: usize = 10;

/// Whether a path family shows the portal's required properties
/// (`required: true`, from 2026-09 on, as the writes enforce them).
#[derive(Debug, Clone, Copy)]
struct ShowsRequired(bool);

/// The properties routes of every family.
pub(crate) fn router() -> Router<SharedState> {
    let mut families = vec![("/crm/v3/properties".to_owned(), false)];
    for version in DATED_VERSIONS {
        families.push((format!("/crm/properties/{version}"), version >= "2026-09"));
    }
    families
        .into_iter()
        .fold(Router::new(), |router, (prefix, required)| {
            router.merge(
                Router::new()
                    .route(
                        &format!("{prefix}/{{objectType}}"),
                        get(list_properties).post(create_property),
                    )
                    .route(
                        &format!("{prefix}/{{objectType}}/groups"),
                        get(list_groups).post(create_group),
                    )
                    .layer(Extension(ShowsRequired(required))),
            )
        })
}

/// What the properties API answers besides [`HubSpotError`].
#[derive(Debug)]
enum SchemaError {
    Api(HubSpotError),
    /// 403: the type has no declared schema (a token without its scope).
    MissingScopes(String),
    /// 409: a property or group of that name exists.
    Exists(String),
}

impl From<HubSpotError> for SchemaError {
    fn from(error: HubSpotError) -> Self {
        Self::Api(error)
    }
}

impl IntoResponse for SchemaError {
    fn into_response(self) -> Response {
        match self {
            Self::Api(error) => error.into_response(),
            Self::MissingScopes(object_type) => (
                StatusCode::FORBIDDEN,
                Json(json!({
                    "status": "error",
                    "message": "This app hasn't been granted all required scopes to make this call.",
                    "correlationId": correlation_id(),
                    "category": "MISSING_SCOPES",
                    "errors": [{
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": [format!("crm.schemas.{object_type}.read")]},
                    }],
                })),
            )
                .into_response(),
            Self::Exists(message) => (
                StatusCode::CONFLICT,
                Json(json!({
                    "status": "error",
                    "message": message,
                    "correlationId": correlation_id(),
                    "category": "OBJECT_ALREADY_EXISTS",
                })),
            )
                .into_response(),
        }
    }
}

type SchemaResult = Result<Response, SchemaError>;

/// The type's state, when it has a declared schema.
fn schema_type<'a>(
    store: &'a HubSpotStore,
    object_type: &str,
) -> Result<&'a TypeState, SchemaError> {
    let name = store.resolve(object_type)?;
    let state = store.type_state(&name)?;
    match state.config.properties {
        Some(_) => Ok(state),
        None => Err(SchemaError::MissingScopes(name)),
    }
}

async fn list_properties(
    State(state): State<SharedState>,
    Extension(ShowsRequired(required)): Extension<ShowsRequired>,
    Path(object_type): Path<String>,
) -> SchemaResult {
    let store = lock(&state.hubspot);
    let state = schema_type(&store, &object_type)?;
    let results: Vec<Value> = definitions(state)
        .iter()
        .map(|(name, property)| property_json(state, name, property, required))
        .collect();
    Ok((StatusCode::OK, Json(json!({ "results": results }))).into_response())
}

/// Every property of a type with a declared schema, built-ins first.
fn definitions(state: &TypeState) -> Vec<(String, PropertyConfig)> {
    let kept = |kind: PropertyKind| PropertyConfig {
        kind,
        read_only: true,
        ..PropertyConfig::default()
    };
    let mut all = vec![
        ("hs_object_id".to_owned(), kept(PropertyKind::Number)),
        ("createdate".to_owned(), kept(PropertyKind::Datetime)),
        (
            state.last_modified_property().to_owned(),
            kept(PropertyKind::Datetime),
        ),
    ];
    let declared = state.config.properties.iter().flatten();
    all.extend(declared.map(|(name, property)| (name.clone(), property.clone())));
    all
}

/// The `fieldType` HubSpot pairs with a type by default.
fn default_field_type(kind: PropertyKind) -> &'static str {
    match kind {
        PropertyKind::String => "text",
        PropertyKind::Number => "number",
        PropertyKind::Enumeration => "select",
        PropertyKind::Datetime | PropertyKind::Date => "date",
        PropertyKind::Bool => "booleancheckbox",
    }
}

fn type_name(kind: PropertyKind) -> &'static str {
    match kind {
        PropertyKind::String => "string",
        PropertyKind::Number => "number",
        PropertyKind::Enumeration => "enumeration",
        PropertyKind::Datetime => "datetime",
        PropertyKind::Date => "date",
        PropertyKind::Bool => "bool",
    }
}

/// The group a property of `state` belongs to by default (`contactinformation`).
pub(crate) fn default_group(state: &TypeState) -> String {
    format!("{}information", state.singular().to_lowercase())
}

fn property_json(
    state: &TypeState,
    name: &str,
    property: &PropertyConfig,
    shows_required: bool,
) -> Value {
    let hubspot_defined =
        matches!(name, "hs_object_id" | "createdate") || name == state.last_modified_property();
    let field_type = property
        .field_type
        .clone()
        .unwrap_or_else(|| default_field_type(property.kind).to_owned());
    let options: Vec<Value> = property
        .options
        .iter()
        .enumerate()
        .map(|(order, value)| {
            json!({"label": value, "value": value, "displayOrder": order, "hidden": false})
        })
        .collect();
    let read_only = property.read_only || property.calculated;
    let mut body = json!({
        "name": name,
        "label": name,
        "type": type_name(property.kind),
        "fieldType": field_type,
        "description": "",
        "groupName": property.group.clone().unwrap_or_else(|| default_group(state)),
        "options": options,
        "displayOrder": -1,
        "calculated": property.calculated,
        "externalOptions": false,
        "hasUniqueValue": state.is_unique(name),
        "hidden": false,
        "hubspotDefined": hubspot_defined,
        "formField": !read_only,
        "archived": false,
        "modificationMetadata": {
            "archivable": !hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": read_only,
        },
    });
    if shows_required && state.config.required_properties.iter().any(|p| p == name) {
        body["required"] = Value::Bool(true);
    }
    body
}

/// A create request's body (the fields the sandbox keeps).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewProperty {
    name: String,
    label: String,
    #[serde(rename = "type")]
    kind: String,
    field_type: String,
    group_name: String,
    #[serde(default)]
    options: Vec<NewOption>,
    #[serde(default)]
    has_unique_value: bool,
}

#[derive(Debug, Deserialize)]
struct NewOption {
    value: String,
}

/// The `type` of a create request, and whether `field_type` goes with it
/// (HubSpot's table of valid pairs).
fn parse_type(kind: &str, field_type: &str) -> Result<PropertyKind, String> {
    let (kind, field_types): (PropertyKind, &[&str]) = match kind {
        "string" => (
            PropertyKind::String,
            &[
                "text",
                "textarea",
                "html",
                "phonenumber",
                "file",
                "calculation_equation",
            ],
        ),
        "number" => (PropertyKind::Number, &["number", "calculation_equation"]),
        "enumeration" => (
            PropertyKind::Enumeration,
            &[
                "select",
                "radio",
                "checkbox",
                "booleancheckbox",
                "calculation_equation",
            ],
        ),
        "datetime" => (PropertyKind::Datetime, &["date"]),
        "date" => (PropertyKind::Date, &["date"]),
        "bool" => (
            PropertyKind::Bool,
            &["booleancheckbox", "calculation_equation"],
        ),
        other => return Err(format!("{other} is not a valid property type")),
    };
    if field_types.contains(&field_type) {
        Ok(kind)
    } else {
        Err(format!(
            "fieldType {field_type} is not valid for type {}; valid: {}",
            type_name(kind),
            field_types.join(", ")
        ))
    }
}

/// A property's internal name: a lowercase letter, then lowercase letters,
/// digits and underscores.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

async fn create_property(
    State(state): State<SharedState>,
    Extension(ShowsRequired(required)): Extension<ShowsRequired>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> SchemaResult {
    let input: NewProperty =
        serde_json::from_slice(&body).map_err(|e| HubSpotError::InvalidJson(e.to_string()))?;
    let invalid = |message: String| SchemaError::Api(HubSpotError::Validation(message));
    let kind = parse_type(&input.kind, &input.field_type).map_err(invalid)?;
    if !valid_name(&input.name) {
        return Err(invalid(format!(
            "Property name {} must start with a lowercase letter and hold only lowercase letters, digits and underscores",
            input.name
        )));
    }
    if input.label.trim().is_empty() {
        return Err(invalid("A property needs a label".to_owned()));
    }
    let options: Vec<String> = input.options.into_iter().map(|o| o.value).collect();
    if kind == PropertyKind::Enumeration && options.is_empty() {
        return Err(invalid("An enumeration property needs options".to_owned()));
    }
    let mut store = lock(&state.hubspot);
    let name = schema_type(&store, &object_type)?.name.clone();
    let type_state = store.type_state_mut(&name)?;
    let exists = definitions(type_state)
        .iter()
        .any(|(n, _)| *n == input.name);
    if exists {
        return Err(SchemaError::Exists(format!(
            "A property named '{}' already exists.",
            input.name
        )));
    }
    if !groups(type_state).contains(&input.group_name) {
        return Err(invalid(format!(
            "No property group named {} exists",
            input.group_name
        )));
    }
    if input.has_unique_value {
        if type_state.config.unique_properties.len() >= MAX_UNIQUE_PROPERTIES {
            return Err(invalid(format!(
                "An object type has at most {MAX_UNIQUE_PROPERTIES} unique properties"
            )));
        }
        type_state.config.unique_properties.push(input.name.clone());
    }
    let property = PropertyConfig {
        kind,
        options,
        field_type: Some(input.field_type),
        group: Some(input.group_name),
        ..PropertyConfig::default()
    };
    let body = property_json(type_state, &input.name, &property, required);
    type_state
        .config
        .properties
        .get_or_insert_with(Default::default)
        .insert(input.name, property);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The groups of a type: its built-in one and the declared or created ones.
fn groups(state: &TypeState) -> Vec<String> {
    let mut all = vec![default_group(state)];
    all.extend(state.config.property_groups.iter().cloned());
    all
}

fn group_json(name: &str) -> Value {
    json!({"name": name, "label": name, "displayOrder": -1, "archived": false})
}

async fn list_groups(
    State(state): State<SharedState>,
    Path(object_type): Path<String>,
) -> SchemaResult {
    let store = lock(&state.hubspot);
    let state = schema_type(&store, &object_type)?;
    let results: Vec<Value> = groups(state).iter().map(|g| group_json(g)).collect();
    Ok((StatusCode::OK, Json(json!({ "results": results }))).into_response())
}

#[derive(Debug, Deserialize)]
struct NewGroup {
    name: String,
    label: String,
}

async fn create_group(
    State(state): State<SharedState>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> SchemaResult {
    let input: NewGroup =
        serde_json::from_slice(&body).map_err(|e| HubSpotError::InvalidJson(e.to_string()))?;
    if !valid_name(&input.name) || input.label.trim().is_empty() {
        return Err(SchemaError::Api(HubSpotError::Validation(format!(
            "Group {} needs a lowercase name and a label",
            input.name
        ))));
    }
    let mut store = lock(&state.hubspot);
    let name = schema_type(&store, &object_type)?.name.clone();
    let type_state = store.type_state_mut(&name)?;
    if groups(type_state).contains(&input.name) {
        return Err(SchemaError::Exists(format!(
            "A property group named '{}' already exists.",
            input.name
        )));
    }
    type_state.config.property_groups.push(input.name.clone());
    Ok((StatusCode::CREATED, Json(group_json(&input.name))).into_response())
}
