//! Airtable's metadata API (AIRTABLE-11): a base's tables with their
//! fields, and a field created in a table.
//!
//! A base none of whose tables declares fields has no schema to show: it
//! answers 403 `INVALID_PERMISSIONS_OR_MODEL_NOT_FOUND`, as Airtable does
//! for a token without the `schema.bases:read` scope.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::errors::AirtableError;
use super::store::{Field, Table};
use crate::config::FieldKind;
use crate::state::{lock, SharedState};

type SchemaResult = Result<Response, AirtableError>;

/// The metadata routes.
pub(crate) fn router() -> Router<SharedState> {
    Router::new()
        .route("/v0/meta/bases/{baseId}/tables", get(base_schema))
        .route(
            "/v0/meta/bases/{baseId}/tables/{tableId}/fields",
            post(create_field),
        )
}

/// `GET /v0/meta/bases/{baseId}/tables`: every table with its fields.
async fn base_schema(State(state): State<SharedState>, Path(base): Path<String>) -> SchemaResult {
    let store = lock(&state.airtable);
    let tables = store
        .base_tables(&base)
        .filter(|tables| tables.iter().any(|t| t.schema.is_some()))
        .ok_or_else(AirtableError::base_not_found)?;
    let tables: Vec<Value> = tables.iter().map(table_json).collect();
    Ok((StatusCode::OK, Json(json!({ "tables": tables }))).into_response())
}

fn table_json(table: &Table) -> Value {
    let fields: Vec<Value> = table.schema.iter().flatten().map(field_json).collect();
    let primary = fields.first().and_then(|f| f.get("id")).cloned();
    json!({
        "id": table.id,
        "name": table.name,
        "primaryFieldId": primary,
        "fields": fields,
    })
}

/// A field as the metadata API shows it: choices of a select, the linked
/// table of a link.
fn field_json(field: &Field) -> Value {
    let mut body = json!({ "id": field.id, "name": field.name, "type": field.kind });
    match field.kind {
        FieldKind::SingleSelect | FieldKind::MultipleSelects => {
            let choices: Vec<Value> = field
                .options
                .iter()
                .map(|name| json!({ "name": name }))
                .collect();
            body["options"] = json!({ "choices": choices });
        }
        FieldKind::MultipleRecordLinks => {
            body["options"] = json!({ "linkedTableName": field.linked_table });
        }
        _ => {}
    }
    body
}

/// A create-field request's body.
#[derive(Debug, Deserialize)]
struct NewField {
    name: String,
    #[serde(rename = "type")]
    kind: Value,
    #[serde(default)]
    options: Option<Map<String, Value>>,
}

/// The options Airtable requires of a new field of `kind`.
fn required_options(kind: FieldKind) -> &'static [&'static str] {
    match kind {
        FieldKind::Number => &["precision"],
        FieldKind::Checkbox => &["color", "icon"],
        FieldKind::Date => &["dateFormat"],
        FieldKind::DateTime => &["dateFormat", "timeFormat", "timeZone"],
        FieldKind::SingleSelect | FieldKind::MultipleSelects => &["choices"],
        _ => &[],
    }
}

/// `POST /v0/meta/bases/{baseId}/tables/{tableId}/fields`: the new field.
async fn create_field(
    State(state): State<SharedState>,
    Path((base, table)): Path<(String, String)>,
    body: Bytes,
) -> SchemaResult {
    let input: NewField = serde_json::from_slice(&body).map_err(AirtableError::invalid_json)?;
    let invalid =
        |message: String| AirtableError::unprocessable("INVALID_REQUEST_UNKNOWN", message);
    let kind: FieldKind = serde_json::from_value(input.kind.clone()).map_err(|_| {
        invalid(format!(
            "Invalid request: field type {} is not supported",
            input.kind
        ))
    })?;
    if matches!(kind, FieldKind::Formula | FieldKind::MultipleRecordLinks) {
        return Err(invalid(format!(
            "Invalid request: field type {} cannot be created here",
            input.kind
        )));
    }
    let options = input.options.unwrap_or_default();
    if let Some(missing) = required_options(kind)
        .iter()
        .find(|o| !options.contains_key(**o))
    {
        return Err(invalid(format!(
            "Invalid request: a field of type {} needs options.{missing}",
            input.kind
        )));
    }
    let choices: Vec<String> = options
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let mut store = lock(&state.airtable);
    if store
        .base_tables(&base)
        .is_none_or(|t| t.iter().all(|t| t.schema.is_none()))
    {
        return Err(AirtableError::base_not_found());
    }
    let (table, field_id) = store.schema_table_mut(&base, &table)?;
    let schema = table.schema.get_or_insert_with(Vec::new);
    let name = input.name.trim();
    if name.is_empty() || schema.iter().any(|f| f.name.eq_ignore_ascii_case(name)) {
        return Err(AirtableError::unprocessable(
            "DUPLICATE_OR_EMPTY_FIELD_NAME",
            format!("Field name \"{name}\" is empty or already used in this table"),
        ));
    }
    let field = Field {
        id: field_id,
        name: name.to_owned(),
        kind,
        options: choices,
        linked_table: None,
    };
    let body = field_json(&field);
    schema.push(field);
    Ok((StatusCode::OK, Json(body)).into_response())
}
