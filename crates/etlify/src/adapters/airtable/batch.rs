//! Batch upsert and delete (G-11, X-2, X-4; AIRTABLE-2..AIRTABLE-5).
//!
//! Records with a known record id (`rec…`) are updated by id: `PATCH
//! /<table>` with `records: [{id, fields}]` (AIRTABLE-2). The others
//! are upserted on the id property: `PATCH /<table>` with `performUpsert:
//! {fieldsToMergeOn: [id_property]}` and `records: [{fields}]` (AIRTABLE-4). The
//! two are separate requests because an unknown id in an upsert request
//! fails it whole; when an update by id answers that a record does not
//! exist (`ROW_DOES_NOT_EXIST` naming it, or a 404), that record falls
//! back to the upsert on its id property. At most `batch_size` (≤ 10)
//! records go in one request, and `returnFieldsByFieldId` is sent when the
//! id property is a field id (AIRTABLE-5).
//!
//! Airtable applies a request atomically, so a rejection is the request's
//! `Err` (the engine bisects it, X-5); as in the gem, slices already sent
//! stay written, and sending them again is harmless. A success is
//! reconciled per input: updates by record id; upserts by the
//! returned id property value (exactly, then case-insensitively), then by
//! position when Airtable normalised the value. `createdRecords` /
//! `updatedRecords` only say which were which; every written record is in
//! `records`. An input left without a record gets a [`BatchItemError`]
//! instead of a silent success.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::config::is_airtable_id;
use super::errors::{classify, is_missing_record, missing_records};
use super::{is_field_id, record_id, AirtableAdapter};
use crate::adapters::http::HttpRequest;
use crate::adapters::{
    id_value, AdapterError, AdapterErrorKind, BatchAdapter, BatchItem, BatchItemError,
    BatchUpsertResult, Throttle,
};

/// A batch input with a known record id.
type ById<'r, 'p> = (&'r BatchItem<'p>, &'r str);

#[async_trait]
impl BatchAdapter for AirtableAdapter {
    fn max_batch_size(&self) -> usize {
        self.batch_size
    }

    async fn batch_upsert(
        &self,
        object_type: &str,
        records: &[BatchItem<'_>],
        id_property: &str,
        throttle: &Throttle<'_>,
    ) -> Result<BatchUpsertResult, AdapterError> {
        if object_type.trim().is_empty() {
            return Err(AdapterError::new(
                AdapterErrorKind::Other,
                "object_type (the Airtable table) must not be empty",
            ));
        }
        if id_property.is_empty() {
            return Err(AdapterError::new(
                AdapterErrorKind::Other,
                "id_property must be provided",
            ));
        }
        let mut result = BatchUpsertResult::default();
        let mut by_id: Vec<ById<'_, '_>> = Vec::new();
        let mut merge: Vec<&BatchItem<'_>> = Vec::new();
        for record in records {
            match record
                .crm_id
                .map(str::trim)
                .filter(|id| is_airtable_id(id, "rec"))
            {
                Some(crm_id) => by_id.push((record, crm_id)),
                None => merge.push(record),
            }
        }
        for chunk in by_id.chunks(self.batch_size) {
            let gone = self
                .update_by_id(object_type, chunk, id_property, &mut result, throttle)
                .await?;
            merge.extend(gone);
        }
        // Without a value Airtable would merge with every blank record.
        let (mergeable, blank): (Vec<&BatchItem<'_>>, Vec<&BatchItem<'_>>) = merge
            .into_iter()
            .partition(|r| id_value(r.payload, id_property).is_some());
        result.errors.extend(blank.iter().map(|_| BatchItemError {
            id_value: None,
            error: AdapterError::new(
                AdapterErrorKind::ValidationFailed,
                format!("the record has no value for the merge field {id_property:?}"),
            ),
        }));
        for chunk in mergeable.chunks(self.batch_size) {
            self.upsert_by_merge(object_type, chunk, id_property, &mut result, throttle)
                .await?;
        }
        Ok(result)
    }

    async fn batch_delete(
        &self,
        object_type: &str,
        crm_ids: &[String],
        throttle: &Throttle<'_>,
    ) -> Result<(), AdapterError> {
        let ids: Vec<&str> = crm_ids
            .iter()
            .map(|id| id.trim())
            .filter(|id| !id.is_empty())
            .collect();
        for chunk in ids.chunks(self.batch_size) {
            let request = chunk.iter().fold(
                HttpRequest::new(Method::DELETE, self.table_path(object_type)),
                |request, id| request.query("records[]", *id),
            );
            match self.http.send(&request, classify, throttle).await {
                Ok(_) => {}
                // One id is gone and the request failed whole: delete one by
                // one, a missing record counting as deleted.
                Err(error)
                    if error.kind() == AdapterErrorKind::NotFound
                        || !missing_records(&error, chunk).is_empty() =>
                {
                    for id in chunk {
                        crate::adapters::Adapter::delete(self, object_type, id, throttle).await?;
                    }
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }
}

impl AirtableAdapter {
    /// `{"records": …}` plus write options and, for a field id,
    /// `returnFieldsByFieldId` (AIRTABLE-5).
    fn records_body(&self, records: Vec<Value>, id_property: &str) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("records".to_owned(), Value::Array(records));
        self.write_options(&mut body);
        if is_field_id(id_property) {
            body.insert("returnFieldsByFieldId".to_owned(), Value::Bool(true));
        }
        body
    }

    async fn patch_records(
        &self,
        object_type: &str,
        body: Map<String, Value>,
        throttle: &Throttle<'_>,
    ) -> Result<Value, AdapterError> {
        let request =
            HttpRequest::new(Method::PATCH, self.table_path(object_type)).json(Value::Object(body));
        Ok(self.http.send(&request, classify, throttle).await?.body)
    }

    /// Updates `chunk` by record id; returns the inputs whose record no
    /// longer exists, for the upsert on the id property.
    async fn update_by_id<'r, 'p>(
        &self,
        object_type: &str,
        chunk: &[ById<'r, 'p>],
        id_property: &str,
        result: &mut BatchUpsertResult,
        throttle: &Throttle<'_>,
    ) -> Result<Vec<&'r BatchItem<'p>>, AdapterError> {
        let mut pending: Vec<ById<'r, 'p>> = chunk.to_vec();
        let mut gone = Vec::new();
        // Each failed round removes at least one input, so this ends.
        while !pending.is_empty() {
            let records = pending
                .iter()
                .map(|(item, crm_id)| {
                    // A match-only field is written on create, never on a
                    // record that exists (performUpsert needs it to merge).
                    let mut fields = item.payload.clone();
                    if item.id_property_only_on_create {
                        fields.remove(id_property);
                    }
                    json!({ "id": crm_id, "fields": fields })
                })
                .collect();
            let body = self.records_body(records, id_property);
            match self.patch_records(object_type, body, throttle).await {
                Ok(response) => {
                    reconcile_by_id(&response, &pending, id_property, result);
                    break;
                }
                Err(error) => {
                    let ids: Vec<&str> = pending.iter().map(|(_, id)| *id).collect();
                    let dead = missing_records(&error, &ids);
                    if !dead.is_empty() {
                        tracing::info!(message = "Known Airtable records are gone; matching them by id property.", table = object_type, records = ?dead);
                        let (dead, alive): (Vec<ById<'r, 'p>>, Vec<ById<'r, 'p>>) =
                            pending.into_iter().partition(|(_, id)| dead.contains(id));
                        gone.extend(dead.into_iter().map(|(item, _)| item));
                        pending = alive;
                    } else if pending.iter().any(|(_, id)| is_missing_record(&error, id)) {
                        // A 404 that names no record: match them all by id property.
                        gone.extend(pending.drain(..).map(|(item, _)| item));
                    } else {
                        return Err(error);
                    }
                }
            }
        }
        Ok(gone)
    }

    /// Upserts `chunk` on the id property with `performUpsert` (AIRTABLE-4).
    async fn upsert_by_merge(
        &self,
        object_type: &str,
        chunk: &[&BatchItem<'_>],
        id_property: &str,
        result: &mut BatchUpsertResult,
        throttle: &Throttle<'_>,
    ) -> Result<(), AdapterError> {
        let records = chunk
            .iter()
            .map(|item| json!({ "fields": item.payload }))
            .collect();
        let mut body = self.records_body(records, id_property);
        body.insert(
            "performUpsert".to_owned(),
            json!({ "fieldsToMergeOn": [id_property] }),
        );
        let response = self.patch_records(object_type, body, throttle).await?;
        let keys: Vec<String> = chunk
            .iter()
            .map(|item| id_value(item.payload, id_property).unwrap_or_default())
            .collect();
        let matched = match_records(returned_records(&response), &keys, id_property);
        tracing::debug!(
            message = "Airtable upsert slice written.",
            table = object_type,
            records = chunk.len(),
            created = id_list_len(&response, "createdRecords"),
            updated = id_list_len(&response, "updatedRecords"),
        );
        for (key, crm_id) in keys.into_iter().zip(matched) {
            match crm_id {
                Some(crm_id) => {
                    result.crm_ids.insert(key, crm_id);
                }
                None => result.errors.push(no_record(key)),
            }
        }
        Ok(())
    }
}

fn returned_records(response: &Value) -> &[Value] {
    response
        .get("records")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn id_list_len(response: &Value, key: &str) -> usize {
    response
        .get(key)
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

/// The error of an input Airtable's response has no record for.
fn no_record(key: String) -> BatchItemError {
    BatchItemError {
        error: AdapterError::new(
            AdapterErrorKind::Other,
            format!("Airtable's response has no record for {key:?}"),
        ),
        id_value: Some(key),
    }
}

/// Results of an update by record id, keyed by each input's id value.
fn reconcile_by_id(
    response: &Value,
    inputs: &[ById<'_, '_>],
    id_property: &str,
    result: &mut BatchUpsertResult,
) {
    let returned: Vec<String> = returned_records(response)
        .iter()
        .filter_map(record_id)
        .collect();
    for (item, crm_id) in inputs {
        // The engine looks results up by id value; without one there is no key.
        let Some(key) = id_value(item.payload, id_property) else {
            continue;
        };
        if returned.iter().any(|id| id == crm_id) {
            result.crm_ids.insert(key, (*crm_id).to_owned());
        } else {
            result.errors.push(no_record(key));
        }
    }
}

/// The id property's value in a returned record, as [`id_value`] writes it.
fn returned_value(record: &Value, id_property: &str) -> Option<String> {
    match record.get("fields")?.get(id_property)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// For each input key, the id of the returned record that is its: same id
/// property value, else the same ignoring case, else (when Airtable
/// returned one record per input and normalised the value or omitted the
/// field) the record at the input's position.
fn match_records(records: &[Value], keys: &[String], id_property: &str) -> Vec<Option<String>> {
    let mut matched: Vec<Option<String>> = vec![None; keys.len()];
    let mut unplaced = Vec::new();
    for (position, record) in records.iter().enumerate() {
        let Some(id) = record_id(record) else {
            continue;
        };
        let slot = returned_value(record, id_property).and_then(|value| {
            let free = |i: &usize| matched[*i].is_none();
            (0..keys.len())
                .filter(free)
                .find(|&i| keys[i] == value)
                .or_else(|| {
                    (0..keys.len())
                        .filter(free)
                        .find(|&i| keys[i].to_lowercase() == value.to_lowercase())
                })
        });
        match slot {
            Some(i) => matched[i] = Some(id),
            None => unplaced.push((position, id)),
        }
    }
    if records.len() == keys.len() {
        for (position, id) in unplaced {
            if matched[position].is_none() {
                matched[position] = Some(id);
            }
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn records_match_by_value_in_any_order() {
        let records = [
            json!({"id": "rec2", "fields": {"Email": "b@x.io"}}),
            json!({"id": "rec1", "fields": {"Email": "a@x.io"}}),
        ];
        assert_eq!(
            match_records(&records, &keys(&["a@x.io", "b@x.io"]), "Email"),
            vec![Some("rec1".to_owned()), Some("rec2".to_owned())]
        );
    }

    #[test]
    fn records_match_ignoring_case_then_by_position() {
        let records = [
            json!({"id": "rec1", "fields": {"Email": "a@x.io"}}),
            json!({"id": "rec2", "fields": {"Code": 7}}),
            json!({"id": "rec3", "fields": {"Code": 8}}),
        ];
        let matched = match_records(&records, &keys(&["A@X.io", "7.0", "8"]), "Code");
        // rec1 has no Code field: placed by position; rec2's 7 is not "7.0": by position.
        assert_eq!(
            matched,
            vec![
                Some("rec1".to_owned()),
                Some("rec2".to_owned()),
                Some("rec3".to_owned())
            ]
        );
        let by_case = match_records(&records[..1], &keys(&["A@X.IO", "z"]), "Email");
        assert_eq!(by_case, vec![Some("rec1".to_owned()), None]);
    }

    #[test]
    fn missing_records_stay_unmatched() {
        let records = [json!({"id": "rec1", "fields": {"Email": "a@x.io"}})];
        assert_eq!(
            match_records(&records, &keys(&["a@x.io", "b@x.io"]), "Email"),
            vec![Some("rec1".to_owned()), None]
        );
        assert_eq!(match_records(&[], &keys(&["a"]), "Email"), vec![None]);
    }
}
