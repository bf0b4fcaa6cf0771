//! Batch upsert and archive (G-14, X-2, X-4; HUBSPOT-3..HUBSPOT-5).
//!
//! Records with a known CRM id go to `batch/update` by id; the others to
//! `batch/upsert` by their id property. Every input carries an
//! `objectWriteTraceId` (its id value) so that 207 errors are attributed
//! to their inputs; results are returned keyed by id value, and the
//! engine treats an input with neither a result nor an error as failed.
//! Upserted (possibly created) records have their string emails
//! lowercased like the single path's creates (X-16, HUBSPOT-8).

use std::collections::HashMap;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};

use super::errors::classify;
use super::HubSpotAdapter;
use crate::adapters::http::HttpRequest;
use crate::adapters::{
    id_value, AdapterError, AdapterErrorKind, BatchAdapter, BatchItem, BatchItemError,
    BatchUpsertResult, Throttle,
};
use crate::payload::Payload;

#[async_trait]
impl BatchAdapter for HubSpotAdapter {
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
        if id_property.trim().is_empty() {
            return Err(AdapterError::new(
                AdapterErrorKind::Other,
                "id_property must be provided",
            ));
        }
        let mut result = BatchUpsertResult::default();
        let (known, unknown): (Vec<&BatchItem<'_>>, Vec<&BatchItem<'_>>) =
            records.iter().partition(|r| r.crm_id.is_some());
        for chunk in known.chunks(self.batch_size) {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|r| {
                    json!({
                        "id": r.crm_id.unwrap_or_default(),
                        "properties": written(r, id_property),
                        "objectWriteTraceId": id_value(r.payload, id_property).unwrap_or_default(),
                    })
                })
                .collect();
            // crm id → id value, to key results by id value.
            let by_crm_id: HashMap<&str, String> = chunk
                .iter()
                .filter_map(|r| Some((r.crm_id?, id_value(r.payload, id_property)?)))
                .collect();
            let response = self
                .send_batch(object_type, "update", inputs, throttle)
                .await?;
            for object in results(&response) {
                if let Some(id) = super::object_id(object) {
                    if let Some(value) = by_crm_id.get(id.as_str()) {
                        result.crm_ids.insert(value.clone(), id);
                    }
                }
            }
            result
                .errors
                .extend(errors(&response, |id| by_crm_id.get(id).cloned()));
        }
        for chunk in unknown.chunks(self.batch_size) {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|r| {
                    // Created here as by the single path: string emails
                    // lowercased, so both paths store the same.
                    let mut properties = r.payload.clone();
                    super::lowercase_email(&mut properties);
                    let value = id_value(&properties, id_property).unwrap_or_default();
                    if r.id_property_only_on_create {
                        // HubSpot writes `id` into idProperty on a create;
                        // an object matched keeps its own value.
                        properties.remove(id_property);
                    }
                    json!({
                        "id": value,
                        "idProperty": id_property,
                        "properties": properties,
                        "objectWriteTraceId": value,
                    })
                })
                .collect();
            let response = self
                .send_batch(object_type, "upsert", inputs, throttle)
                .await?;
            for object in results(&response) {
                // The input's trace id (its id value) when the CRM echoes
                // it: an object matched through another property (a
                // contact's secondary email) answers with its own value.
                let echoed = object
                    .get("objectWriteTraceId")
                    .and_then(Value::as_str)
                    .filter(|trace| !trace.is_empty())
                    .map(str::to_owned);
                let value = echoed.or_else(|| {
                    object
                        .get("properties")
                        .and_then(|p| p.get(id_property))
                        .and_then(|v| match v {
                            Value::String(s) if !s.is_empty() => Some(s.clone()),
                            Value::Number(n) => Some(n.to_string()),
                            _ => None,
                        })
                });
                if let (Some(value), Some(id)) = (value, super::object_id(object)) {
                    result.crm_ids.insert(value, id);
                }
            }
            result
                .errors
                .extend(errors(&response, |id| Some(id.to_owned())));
        }
        Ok(result)
    }

    async fn batch_delete(
        &self,
        object_type: &str,
        crm_ids: &[String],
        throttle: &Throttle<'_>,
    ) -> Result<(), AdapterError> {
        for chunk in crm_ids.chunks(self.batch_size) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
            self.send_batch(object_type, "archive", inputs, throttle)
                .await?;
        }
        Ok(())
    }
}

impl HubSpotAdapter {
    async fn send_batch(
        &self,
        object_type: &str,
        action: &str,
        inputs: Vec<Value>,
        throttle: &Throttle<'_>,
    ) -> Result<Value, AdapterError> {
        let request = HttpRequest::new(Method::POST, self.path(object_type, &["batch", action]))
            .json(json!({ "inputs": inputs }));
        Ok(self.http.send(&request, classify, throttle).await?.body)
    }
}

/// The properties a batch writes for `record`: its payload, without the
/// id property when that is for matching only (written on create).
fn written(record: &BatchItem<'_>, id_property: &str) -> Payload {
    let mut properties = record.payload.clone();
    if record.id_property_only_on_create {
        properties.remove(id_property);
    }
    properties
}

fn results(response: &Value) -> impl Iterator<Item = &Value> {
    response
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// 207 errors, attributed through `context.ids` or `context.objectWriteTraceId`.
fn errors(response: &Value, to_id_value: impl Fn(&str) -> Option<String>) -> Vec<BatchItemError> {
    let mut out = Vec::new();
    for error in response
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        // A refused property is named first (HUBSPOT-11).
        let message = super::errors::property_message(error).unwrap_or_else(|| {
            error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("HubSpot rejected this input")
                .to_owned()
        });
        let category = error.get("category").and_then(Value::as_str);
        let kind = match category {
            Some("OBJECT_NOT_FOUND") => AdapterErrorKind::NotFound,
            _ => AdapterErrorKind::ValidationFailed,
        };
        let context = error.get("context");
        let ids: Vec<&str> = ["objectWriteTraceId", "ids"]
            .iter()
            .filter_map(|key| context.and_then(|c| c.get(*key)).and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for id in ids {
            let mut item = AdapterError::new(kind, message.as_str()).status(207);
            if let Some(category) = category {
                item = item.category(category);
            }
            out.push(BatchItemError {
                id_value: to_id_value(id).or_else(|| Some(id.to_owned())),
                error: item,
            });
        }
    }
    out
}
