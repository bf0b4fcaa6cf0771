//! Collections upsert, update and delete (SALESFORCE-3, SALESFORCE-4; G-14,
//!
//!
//! Records with a known Salesforce id are updated by id; the others are
//! upserted by the binding's external-id field. Salesforce answers one
//! result per record in the order sent and names no external id in it, so
//! each result is attributed to its record by position, and returned
//! keyed by the record's id value as the engine reconciles them.

use async_trait::async_trait;
use serde_json::Value;

use super::errors::{record_error, succeeded};
use super::SalesforceAdapter;
use crate::adapters::{
    id_value, AdapterError, AdapterErrorKind, BatchAdapter, BatchItem, BatchItemError,
    BatchUpsertResult, Throttle,
};

#[async_trait]
impl BatchAdapter for SalesforceAdapter {
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
        super::check_sobject(object_type)?;
        super::require_external_id(id_property)?;
        let mut result = BatchUpsertResult::default();
        let (known, unknown): (Vec<&BatchItem<'_>>, Vec<&BatchItem<'_>>) =
            records.iter().partition(|r| r.crm_id.is_some());
        for chunk in known.chunks(self.batch_size) {
            let bodies: Vec<Value> = chunk
                .iter()
                .map(|r| {
                    let skipped = r.id_property_only_on_create.then_some(id_property);
                    let mut record = super::record(object_type, r.payload, skipped);
                    record.insert("id".to_owned(), r.crm_id.unwrap_or_default().into());
                    Value::Object(record)
                })
                .collect();
            let answers = self.update_by_id(bodies, throttle).await?;
            attribute(&mut result, chunk, &answers, id_property)?;
        }
        for chunk in unknown.chunks(self.batch_size) {
            let bodies: Vec<Value> = chunk
                .iter()
                .map(|r| Value::Object(super::record(object_type, r.payload, None)))
                .collect();
            let answers = self
                .upsert_by_external_id(object_type, id_property, bodies, throttle)
                .await?;
            attribute(&mut result, chunk, &answers, id_property)?;
        }
        Ok(result)
    }

    async fn batch_delete(
        &self,
        object_type: &str,
        crm_ids: &[String],
        throttle: &Throttle<'_>,
    ) -> Result<(), AdapterError> {
        super::check_sobject(object_type)?;
        // An id that is not one names no record: nothing to delete.
        let ids: Vec<&str> = crm_ids
            .iter()
            .map(|id| id.trim())
            .filter(|id| super::is_record_id(id))
            .collect();
        let mut first_failure = None;
        for chunk in ids.chunks(self.batch_size) {
            for answer in self.delete_by_id(chunk, throttle).await? {
                if succeeded(&answer) {
                    continue;
                }
                // Deleted already, or never there: gone, as asked.
                let error = record_error(&answer);
                if error.kind() != AdapterErrorKind::NotFound {
                    first_failure.get_or_insert(error);
                }
            }
        }
        first_failure.map_or(Ok(()), Err)
    }
}

/// Each answer to the record at its position (SALESFORCE-3): its id, or
/// its error, keyed by the record's id value.
fn attribute(
    result: &mut BatchUpsertResult,
    chunk: &[&BatchItem<'_>],
    answers: &[Value],
    id_property: &str,
) -> Result<(), AdapterError> {
    if answers.len() != chunk.len() {
        // Positions would be attributed to the wrong records.
        return Err(AdapterError::new(
            AdapterErrorKind::Transient,
            format!(
                "Salesforce answered {} results for {} records",
                answers.len(),
                chunk.len()
            ),
        ));
    }
    for (record, answer) in chunk.iter().zip(answers) {
        let value = id_value(record.payload, id_property).unwrap_or_default();
        let id = answer
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty());
        match id {
            Some(id) if succeeded(answer) => {
                result.crm_ids.insert(value, id.to_owned());
            }
            _ => result.errors.push(BatchItemError {
                id_value: Some(value),
                error: record_error(answer).status(200),
            }),
        }
    }
    Ok(())
}
