//! Airtable endpoints (AIRTABLE-2) under `/v0`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::errors::AirtableError;
use super::store::{AirtableRecord, ListQuery, RecordInput, Table};
use crate::state::{lock, SharedState};

type AirtableResult = Result<Response, AirtableError>;

/// Routes of the Web API.
pub(crate) fn router() -> Router<SharedState> {
    Router::new()
        .route(
            "/v0/{baseId}/{table}",
            get(list_records)
                .post(create_records)
                .patch(patch_records)
                .put(put_records)
                .delete(delete_records),
        )
        .route("/v0/{baseId}/{table}/listRecords", post(list_records_post))
        .route(
            "/v0/{baseId}/{table}/{recordId}",
            get(get_record)
                .patch(patch_record)
                .put(put_record)
                .delete(delete_record),
        )
        .merge(super::schema::router())
}

fn ok(body: Value) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, AirtableError> {
    serde_json::from_slice(body).map_err(AirtableError::invalid_json)
}

fn query_pairs(raw: Option<String>) -> Result<Vec<(String, String)>, AirtableError> {
    match raw.as_deref() {
        None | Some("") => Ok(Vec::new()),
        Some(raw) => serde_urlencoded::from_str(raw)
            .map_err(|e| AirtableError::invalid_request(format!("Invalid query string: {e}"))),
    }
}

fn truthy_param(value: &str) -> bool {
    matches!(value, "true" | "1")
}

/// How records are rendered in a response.
#[derive(Debug, Default)]
struct Rendering {
    by_field_id: bool,
    only_fields: Option<Vec<String>>,
}

impl Rendering {
    fn record(&self, table: &Table, record: &AirtableRecord) -> Value {
        table.record_json(record, self.by_field_id, self.only_fields.as_deref())
    }

    fn records(&self, table: &Table, records: &[AirtableRecord]) -> Vec<Value> {
        records
            .iter()
            .map(|r| table.record_json(r, self.by_field_id, self.only_fields.as_deref()))
            .collect()
    }
}

// ---- list ----

/// Parameters of `POST …/listRecords` (same names as the query string).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ListBody {
    page_size: Option<usize>,
    max_records: Option<usize>,
    offset: Option<String>,
    filter_by_formula: Option<String>,
    fields: Option<Vec<String>>,
    sort: Vec<SortBody>,
    return_fields_by_field_id: bool,
}

#[derive(Debug, Deserialize)]
struct SortBody {
    field: String,
    #[serde(default)]
    direction: Option<String>,
}

fn parse_number(name: &str, value: &str) -> Result<usize, AirtableError> {
    value.parse().map_err(|_| {
        AirtableError::invalid_request(format!("{name} must be a non-negative integer"))
    })
}

async fn list_records(
    State(state): State<SharedState>,
    Path((base, table)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> AirtableResult {
    let mut query = ListQuery::default();
    let mut rendering = Rendering::default();
    let mut sort: BTreeSort = BTreeSort::default();
    for (key, value) in query_pairs(raw)? {
        match key.as_str() {
            "pageSize" => query.page_size = Some(parse_number("pageSize", &value)?),
            "maxRecords" => query.max_records = Some(parse_number("maxRecords", &value)?),
            "offset" => query.offset = Some(value),
            "filterByFormula" => query.formula = Some(value),
            "returnFieldsByFieldId" => rendering.by_field_id = truthy_param(&value),
            "fields[]" | "fields" => rendering
                .only_fields
                .get_or_insert_with(Vec::new)
                .push(value),
            other => sort.accept(other, value),
        }
    }
    query.sort = sort.finish();
    list(&state, &base, &table, &query, &rendering)
}

/// Collects `sort[0][field]=…&sort[0][direction]=desc` pairs.
#[derive(Debug, Default)]
struct BTreeSort {
    entries: std::collections::BTreeMap<usize, (Option<String>, bool)>,
}

impl BTreeSort {
    fn accept(&mut self, key: &str, value: String) {
        let Some(rest) = key.strip_prefix("sort[") else {
            return;
        };
        let Some((index, attribute)) = rest.split_once("][") else {
            return;
        };
        let Ok(index) = index.parse::<usize>() else {
            return;
        };
        let entry = self.entries.entry(index).or_default();
        match attribute.trim_end_matches(']') {
            "field" => entry.0 = Some(value),
            "direction" => entry.1 = value.eq_ignore_ascii_case("desc"),
            _ => {}
        }
    }

    fn finish(self) -> Vec<(String, bool)> {
        self.entries
            .into_values()
            .filter_map(|(field, descending)| field.map(|f| (f, descending)))
            .collect()
    }
}

async fn list_records_post(
    State(state): State<SharedState>,
    Path((base, table)): Path<(String, String)>,
    body: Bytes,
) -> AirtableResult {
    let body: ListBody = if body.is_empty() {
        ListBody::default()
    } else {
        parse_body(&body)?
    };
    let query = ListQuery {
        page_size: body.page_size,
        max_records: body.max_records,
        offset: body.offset,
        formula: body.filter_by_formula,
        sort: body
            .sort
            .into_iter()
            .map(|s| {
                (
                    s.field,
                    s.direction
                        .as_deref()
                        .is_some_and(|d| d.eq_ignore_ascii_case("desc")),
                )
            })
            .collect(),
    };
    let rendering = Rendering {
        by_field_id: body.return_fields_by_field_id,
        only_fields: body.fields,
    };
    list(&state, &base, &table, &query, &rendering)
}

fn list(
    state: &SharedState,
    base: &str,
    table: &str,
    query: &ListQuery,
    rendering: &Rendering,
) -> AirtableResult {
    let mut store = lock(&state.airtable);
    let (records, offset) = store.list(base, table, query)?;
    let table = store.table(base, table)?;
    let mut body = json!({ "records": rendering.records(table, &records) });
    if let Some(offset) = offset {
        body["offset"] = json!(offset);
    }
    Ok(ok(body))
}

// ---- writes ----

/// Body of create / update-many / upsert requests.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WriteBody {
    records: Option<Vec<Value>>,
    fields: Option<Map<String, Value>>,
    typecast: bool,
    return_fields_by_field_id: bool,
    perform_upsert: Option<PerformUpsert>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PerformUpsert {
    fields_to_merge_on: Vec<String>,
}

/// `{id?, fields}` entries of `records`, checked against the per-request maximum.
fn record_inputs(records: &[Value], max: usize) -> Result<Vec<RecordInput>, AirtableError> {
    if records.is_empty() || records.len() > max {
        return Err(AirtableError::invalid_records(max));
    }
    records
        .iter()
        .map(|record| {
            let object = record
                .as_object()
                .ok_or_else(|| AirtableError::invalid_records(max))?;
            let id = match object.get("id") {
                None | Some(Value::Null) => None,
                Some(Value::String(id)) => Some(id.clone()),
                Some(_) => return Err(AirtableError::invalid_records(max)),
            };
            let fields = match object.get("fields") {
                None => Map::new(),
                Some(Value::Object(fields)) => fields.clone(),
                Some(_) => return Err(AirtableError::invalid_records(max)),
            };
            Ok(RecordInput { id, fields })
        })
        .collect()
}

async fn create_records(
    State(state): State<SharedState>,
    Path((base, table)): Path<(String, String)>,
    body: Bytes,
) -> AirtableResult {
    let body: WriteBody = parse_body(&body)?;
    let max = state.config.airtable.max_records_per_request;
    let rendering = Rendering {
        by_field_id: body.return_fields_by_field_id,
        only_fields: None,
    };
    let mut store = lock(&state.airtable);
    match (body.records, body.fields) {
        (Some(records), _) => {
            let inputs = record_inputs(&records, max)?;
            let created = store.create(
                &base,
                &table,
                inputs.into_iter().map(|i| i.fields).collect(),
                body.typecast,
            )?;
            let table = store.table(&base, &table)?;
            Ok(ok(json!({ "records": rendering.records(table, &created) })))
        }
        (None, Some(fields)) => {
            let created = store.create(&base, &table, vec![fields], body.typecast)?;
            let table = store.table(&base, &table)?;
            let record = created
                .first()
                .map_or(Value::Null, |r| rendering.record(table, r));
            Ok(ok(record))
        }
        (None, None) => Err(AirtableError::invalid_records(max)),
    }
}

async fn patch_records(
    State(state): State<SharedState>,
    Path((base, table)): Path<(String, String)>,
    body: Bytes,
) -> AirtableResult {
    write_many(&state, &base, &table, &body, false)
}

async fn put_records(
    State(state): State<SharedState>,
    Path((base, table)): Path<(String, String)>,
    body: Bytes,
) -> AirtableResult {
    write_many(&state, &base, &table, &body, true)
}

fn write_many(
    state: &SharedState,
    base: &str,
    table: &str,
    body: &Bytes,
    replace: bool,
) -> AirtableResult {
    let body: WriteBody = parse_body(body)?;
    let max = state.config.airtable.max_records_per_request;
    let inputs = record_inputs(body.records.as_deref().unwrap_or_default(), max)?;
    let rendering = Rendering {
        by_field_id: body.return_fields_by_field_id,
        only_fields: None,
    };
    let mut store = lock(&state.airtable);
    match body.perform_upsert {
        Some(upsert) => {
            let outcome = store.upsert(
                base,
                table,
                Some(&upsert.fields_to_merge_on),
                inputs,
                replace,
                body.typecast,
            )?;
            let table = store.table(base, table)?;
            Ok(ok(json!({
                "records": rendering.records(table, &outcome.records),
                "createdRecords": outcome.created,
                "updatedRecords": outcome.updated,
            })))
        }
        None => {
            let updated = store.update(base, table, inputs, replace, body.typecast)?;
            let table = store.table(base, table)?;
            Ok(ok(json!({ "records": rendering.records(table, &updated) })))
        }
    }
}

async fn delete_records(
    State(state): State<SharedState>,
    Path((base, table)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> AirtableResult {
    let max = state.config.airtable.max_records_per_request;
    let ids: Vec<String> = query_pairs(raw)?
        .into_iter()
        .filter(|(key, _)| key == "records[]" || key == "records")
        .map(|(_, id)| id)
        .collect();
    if ids.is_empty() || ids.len() > max {
        return Err(AirtableError::invalid_records(max));
    }
    lock(&state.airtable).delete(&base, &table, &ids)?;
    let records: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "id": id, "deleted": true }))
        .collect();
    Ok(ok(json!({ "records": records })))
}

// ---- single record ----

fn single_rendering(raw: Option<String>) -> Result<Rendering, AirtableError> {
    let by_field_id = query_pairs(raw)?
        .iter()
        .any(|(key, value)| key == "returnFieldsByFieldId" && truthy_param(value));
    Ok(Rendering {
        by_field_id,
        only_fields: None,
    })
}

async fn get_record(
    State(state): State<SharedState>,
    Path((base, table, record_id)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> AirtableResult {
    let rendering = single_rendering(raw)?;
    let mut store = lock(&state.airtable);
    let style = store.not_found_style;
    let table = store.table(&base, &table)?;
    let record = table
        .get(&record_id)
        .ok_or_else(|| AirtableError::record_not_found(style, &record_id))?;
    Ok(ok(rendering.record(table, record)))
}

async fn patch_record(
    State(state): State<SharedState>,
    Path((base, table, record_id)): Path<(String, String, String)>,
    body: Bytes,
) -> AirtableResult {
    write_one(&state, &base, &table, record_id, &body, false)
}

async fn put_record(
    State(state): State<SharedState>,
    Path((base, table, record_id)): Path<(String, String, String)>,
    body: Bytes,
) -> AirtableResult {
    write_one(&state, &base, &table, record_id, &body, true)
}

fn write_one(
    state: &SharedState,
    base: &str,
    table: &str,
    record_id: String,
    body: &Bytes,
    replace: bool,
) -> AirtableResult {
    let body: WriteBody = parse_body(body)?;
    let rendering = Rendering {
        by_field_id: body.return_fields_by_field_id,
        only_fields: None,
    };
    let mut store = lock(&state.airtable);
    let style = store.not_found_style;
    if store.table(base, table)?.get(&record_id).is_none() {
        return Err(AirtableError::record_not_found(style, &record_id));
    }
    let input = RecordInput {
        id: Some(record_id),
        fields: body.fields.unwrap_or_default(),
    };
    let updated = store.update(base, table, vec![input], replace, body.typecast)?;
    let table = store.table(base, table)?;
    let record = updated
        .first()
        .map_or(Value::Null, |r| rendering.record(table, r));
    Ok(ok(record))
}

async fn delete_record(
    State(state): State<SharedState>,
    Path((base, table, record_id)): Path<(String, String, String)>,
) -> AirtableResult {
    lock(&state.airtable).delete(&base, &table, std::slice::from_ref(&record_id))?;
    Ok(ok(json!({ "id": record_id, "deleted": true })))
}
