//! The org's records: create, upsert by an external id, update and delete
//! by id, each record standing alone (SALESFORCE-3, SALESFORCE-4).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::config::{builtin_sobjects, SObjectConfig, SalesforceConfig, SalesforceFieldKind};
use super::errors::SalesforceError;

/// One stored record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SalesforceRecord {
    /// The 18-character record id.
    pub id: String,
    /// Its fields as last written.
    pub fields: Map<String, Value>,
    /// Deleted (in the recycle bin).
    pub deleted: bool,
}

/// The stores' persisted form.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct SalesforceSnapshot {
    next_id: u64,
    records: BTreeMap<String, Vec<SalesforceRecord>>,
}

/// All records, by sObject.
#[derive(Debug)]
pub(crate) struct SalesforceStore {
    sobjects: BTreeMap<String, SObjectConfig>,
    records: BTreeMap<String, Vec<SalesforceRecord>>,
    next_id: u64,
}

/// One record's answer in a collections result (SALESFORCE-3).
pub(crate) type RecordResult = Value;

impl SalesforceStore {
    pub(crate) fn new(config: &SalesforceConfig) -> Self {
        let mut sobjects = builtin_sobjects();
        sobjects.extend(config.sobjects.clone());
        Self {
            sobjects,
            records: BTreeMap::new(),
            next_id: 1,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.records.clear();
        self.next_id = 1;
    }

    pub(crate) fn snapshot(&self) -> SalesforceSnapshot {
        SalesforceSnapshot {
            next_id: self.next_id,
            records: self.records.clone(),
        }
    }

    pub(crate) fn restore(&mut self, snapshot: SalesforceSnapshot) {
        self.next_id = snapshot.next_id.max(1);
        self.records = snapshot.records;
    }

    /// The records of `sobject`, deleted ones included.
    pub(crate) fn dump(&self, sobject: &str) -> Vec<SalesforceRecord> {
        self.records.get(sobject).cloned().unwrap_or_default()
    }

    /// The sObject's settings, or 404 `NOT_FOUND`.
    pub(crate) fn sobject(&self, name: &str) -> Result<&SObjectConfig, SalesforceError> {
        self.sobjects.get(name).ok_or(SalesforceError::NotFound)
    }

    /// Checks every record of a request before any is written: unknown
    /// fields and wrong types refuse the request whole (SALESFORCE-3).
    pub(crate) fn check_fields(
        &self,
        sobject: &str,
        records: &[Map<String, Value>],
    ) -> Result<(), SalesforceError> {
        let config = self.sobject(sobject)?;
        let Some(declared) = &config.fields else {
            return Ok(());
        };
        for record in records {
            for (field, value) in record {
                if field == "attributes" || field.eq_ignore_ascii_case("id") {
                    continue;
                }
                let Some(kind) = declared.get(field).map(|f| f.kind) else {
                    return Err(SalesforceError::InvalidField {
                        field: field.clone(),
                        sobject: sobject.to_owned(),
                    });
                };
                let fits = matches!(
                    (kind, value),
                    (_, Value::Null)
                        | (SalesforceFieldKind::String, Value::String(_))
                        | (SalesforceFieldKind::Double, Value::Number(_))
                        | (SalesforceFieldKind::Boolean, Value::Bool(_))
                );
                if !fits {
                    return Err(SalesforceError::JsonParser(format!(
                        "Cannot deserialize value of type {kind:?} from {value} for field {field}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Upserts `records` of `sobject` on `external_id`, each alone; one
    /// result per record, in order.
    pub(crate) fn upsert(
        &mut self,
        sobject: &str,
        external_id: &str,
        records: Vec<Map<String, Value>>,
    ) -> Result<Vec<RecordResult>, SalesforceError> {
        let config = self.sobject(sobject)?.clone();
        if !config.external_id_fields.iter().any(|f| f == external_id) {
            return Err(SalesforceError::InvalidField {
                field: external_id.to_owned(),
                sobject: sobject.to_owned(),
            });
        }
        let key = |record: &Map<String, Value>| record.get(external_id).and_then(key_of);
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for record in &records {
            if let Some(key) = key(record) {
                *seen.entry(key).or_default() += 1;
            }
        }
        // The live records by external id, once per request (not a scan per record).
        let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
        for (index, stored) in self.records.get(sobject).into_iter().flatten().enumerate() {
            if let Some(key) = stored.fields.get(external_id).and_then(key_of) {
                if !stored.deleted {
                    by_key.insert(key, index);
                }
            }
        }
        let mut results = Vec::with_capacity(records.len());
        for record in records {
            let result = match key(&record) {
                None => failure(
                    "MISSING_ARGUMENT",
                    &format!("{external_id} not specified"),
                    &[external_id],
                ),
                Some(value) if seen.get(&value).copied().unwrap_or(0) > 1 => failure(
                    "DUPLICATE_EXTERNAL_ID",
                    &format!("Duplicate external id specified: {value}"),
                    &[external_id],
                ),
                Some(value) => {
                    let matched = by_key.get(&value).copied().and_then(|index| {
                        self.records.get_mut(sobject).and_then(|r| r.get_mut(index))
                    });
                    match matched {
                        Some(stored) => {
                            write_fields(&mut stored.fields, &record);
                            json!({"id": stored.id, "success": true, "errors": [], "created": false})
                        }
                        None => match self.create(sobject, &config, &record) {
                            Ok(id) => {
                                json!({"id": id, "success": true, "errors": [], "created": true})
                            }
                            Err(result) => result,
                        },
                    }
                }
            };
            results.push(result);
        }
        Ok(results)
    }

    /// Updates records by id, each alone (their sObject from their
    /// `attributes.type`).
    pub(crate) fn update(
        &mut self,
        records: Vec<(String, Map<String, Value>)>,
    ) -> Vec<RecordResult> {
        records
            .into_iter()
            .map(|(sobject, record)| {
                let id = record
                    .get("id")
                    .or_else(|| record.get("Id"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                match self.find(&sobject, &id) {
                    Ok(stored) => {
                        write_fields(&mut stored.fields, &record);
                        json!({"id": stored.id, "success": true, "errors": []})
                    }
                    Err(error) => with_id(error, &id),
                }
            })
            .collect()
    }

    /// Deletes records by id, each alone.
    pub(crate) fn delete(&mut self, ids: &[String]) -> Vec<RecordResult> {
        ids.iter()
            .map(|id| {
                let sobject = self
                    .records
                    .iter()
                    .find(|(_, records)| records.iter().any(|r| r.id.eq_ignore_ascii_case(id)))
                    .map(|(name, _)| name.clone())
                    .unwrap_or_default();
                match self.find(&sobject, id) {
                    Ok(stored) => {
                        stored.deleted = true;
                        json!({"id": stored.id, "success": true, "errors": []})
                    }
                    Err(error) => with_id(error, id),
                }
            })
            .collect()
    }

    /// The live record `id` of `sobject`, or the per-record error saying
    /// why there is none (SALESFORCE-4, SALESFORCE-8).
    fn find(&mut self, sobject: &str, id: &str) -> Result<&mut SalesforceRecord, RecordResult> {
        if !is_record_id(id) {
            return Err(failure("MALFORMED_ID", &format!("malformed id {id}"), &[]));
        }
        let record = self.records.get_mut(sobject).and_then(|records| {
            records
                .iter_mut()
                .find(|r| r.id.eq_ignore_ascii_case(id) || r.id[..15] == *id)
        });
        match record {
            Some(record) if record.deleted => {
                Err(failure("ENTITY_IS_DELETED", "entity is deleted", &[]))
            }
            Some(record) => Ok(record),
            None => Err(failure(
                "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id",
                &[],
            )),
        }
    }

    fn create(
        &mut self,
        sobject: &str,
        config: &SObjectConfig,
        record: &Map<String, Value>,
    ) -> Result<String, RecordResult> {
        let missing: Vec<&str> = config
            .required_fields
            .iter()
            .filter(|field| match record.get(field.as_str()) {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.trim().is_empty(),
                Some(_) => false,
            })
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(failure(
                "REQUIRED_FIELD_MISSING",
                &format!("Required fields are missing: [{}]", missing.join(", ")),
                &missing,
            ));
        }
        let prefix = config
            .key_prefix
            .clone()
            .unwrap_or_else(|| "a00".to_owned());
        let id = format!("{prefix}5g{:010}AAQ", self.next_id);
        self.next_id += 1;
        let mut fields = Map::new();
        write_fields(&mut fields, record);
        self.records
            .entry(sobject.to_owned())
            .or_default()
            .push(SalesforceRecord {
                id: id.clone(),
                fields,
                deleted: false,
            });
        Ok(id)
    }
}

/// An external id value as compared (case-insensitively).
fn key_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.to_lowercase()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Copies a request record's fields (not `attributes` nor the id).
fn write_fields(fields: &mut Map<String, Value>, record: &Map<String, Value>) {
    for (field, value) in record {
        if field == "attributes" || field.eq_ignore_ascii_case("id") {
            continue;
        }
        fields.insert(field.clone(), value.clone());
    }
}

/// 15 or 18 letters and digits (SALESFORCE-8).
pub(crate) fn is_record_id(id: &str) -> bool {
    (id.len() == 15 || id.len() == 18) && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A failed record's result (SALESFORCE-5).
fn failure(code: &str, message: &str, fields: &[&str]) -> RecordResult {
    json!({
        "success": false,
        "errors": [{"statusCode": code, "message": message, "fields": fields}],
    })
}

fn with_id(mut result: RecordResult, id: &str) -> RecordResult {
    result["id"] = json!(id);
    result
}
