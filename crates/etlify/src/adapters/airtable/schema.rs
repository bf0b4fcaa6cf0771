//! The base schema (AIRTABLE-11): a table's fields read as an
//! [`ObjectSchema`], and a missing field created.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};

use super::errors::classify;
use super::AirtableAdapter;
use crate::adapters::http::HttpRequest;
use crate::adapters::schema::{
    item_strings, items, CrmField, FieldKind, NewField, ObjectSchema, SchemaAdapter,
};
use crate::adapters::{AdapterError, AdapterErrorKind, Throttle};

/// Field types whose value Airtable computes: a write is refused.
const COMPUTED: [&str; 11] = [
    "formula",
    "rollup",
    "lookup",
    "multipleLookupValues",
    "count",
    "autoNumber",
    "createdTime",
    "lastModifiedTime",
    "createdBy",
    "lastModifiedBy",
    "button",
];

/// Field types a record can be matched on (`fieldsToMergeOn`, AIRTABLE-4).
const MERGEABLE: [&str; 9] = [
    "singleLineText",
    "multilineText",
    "email",
    "url",
    "phoneNumber",
    "number",
    "singleSelect",
    "multipleSelects",
    "date",
];

fn kind_of(field_type: &str) -> FieldKind {
    match field_type {
        "singleLineText" | "multilineText" | "richText" | "email" | "url" | "phoneNumber" => {
            FieldKind::Text
        }
        "number" | "currency" | "percent" | "rating" | "duration" | "autoNumber" | "count" => {
            FieldKind::Number
        }
        "checkbox" => FieldKind::Boolean,
        "date" => FieldKind::Date,
        "dateTime" | "createdTime" | "lastModifiedTime" => FieldKind::Datetime,
        "singleSelect" => FieldKind::Enumeration,
        "multipleSelects" => FieldKind::MultiSelect,
        "multipleRecordLinks" => FieldKind::Link,
        _ => FieldKind::Other,
    }
}

/// The type and options a new field holding `kind` is created with.
fn new_field_type(kind: FieldKind) -> (&'static str, Option<Value>) {
    match kind {
        FieldKind::Number => ("number", Some(json!({ "precision": 8 }))),
        FieldKind::Boolean => (
            "checkbox",
            Some(json!({ "icon": "check", "color": "greenBright" })),
        ),
        FieldKind::Date => ("date", Some(json!({ "dateFormat": { "name": "iso" } }))),
        FieldKind::Datetime => (
            "dateTime",
            Some(json!({
                "dateFormat": { "name": "iso" },
                "timeFormat": { "name": "24hour" },
                "timeZone": "utc",
            })),
        ),
        _ => ("singleLineText", None),
    }
}

fn field_of(field: &Value) -> Option<CrmField> {
    let name = field.get("name")?.as_str()?;
    let field_type = field
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut crm_field = CrmField::new(name, kind_of(field_type), field_type);
    crm_field.options = item_strings(field, "/options/choices", "name");
    crm_field.read_only = COMPUTED.contains(&field_type);
    crm_field.unique = MERGEABLE.contains(&field_type);
    Some(crm_field)
}

impl AirtableAdapter {
    fn meta_tables_path(&self) -> Vec<String> {
        let mut path = self.version_path.clone();
        path.extend(["meta".to_owned(), "bases".to_owned(), self.base_id.clone()]);
        path.push("tables".to_owned());
        path
    }

    /// The base's entry for `table` (by name or id).
    async fn table_schema(
        &self,
        table: &str,
        throttle: &Throttle<'_>,
    ) -> Result<Value, AdapterError> {
        let request = HttpRequest::new(Method::GET, self.meta_tables_path());
        let response = self.http.send(&request, classify, throttle).await?;
        let found = items(&response.body, "/tables")
            .find(|t| {
                t.get("name").and_then(Value::as_str) == Some(table)
                    || t.get("id").and_then(Value::as_str) == Some(table)
            })
            .cloned()
            .ok_or_else(|| {
                AdapterError::new(
                    AdapterErrorKind::NotFound,
                    format!("the base {} has no table {table}", self.base_id),
                )
            });
        found
    }
}

#[async_trait]
impl SchemaAdapter for AirtableAdapter {
    async fn read_schema(
        &self,
        table: &str,
        throttle: &Throttle<'_>,
    ) -> Result<ObjectSchema, AdapterError> {
        let table = self.table_schema(table, throttle).await?;
        Ok(ObjectSchema::new(
            items(&table, "/fields").filter_map(field_of).collect(),
        ))
    }

    async fn create_field(
        &self,
        table: &str,
        field: &NewField,
        throttle: &Throttle<'_>,
    ) -> Result<(), AdapterError> {
        // The fields path takes the table's id.
        let schema = self.table_schema(table, throttle).await?;
        let table_id = schema.get("id").and_then(Value::as_str).unwrap_or(table);
        let (field_type, options) = new_field_type(field.kind);
        let mut body = json!({ "name": field.name, "type": field_type });
        if let Some(options) = options {
            body["options"] = options;
        }
        let mut path = self.meta_tables_path();
        path.extend([table_id.to_owned(), "fields".to_owned()]);
        let request = HttpRequest::new(Method::POST, path).json(body).creates();
        self.http
            .send(&request, classify, throttle)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_types_map_to_kinds_computed_ones_read_only() {
        let formula = field_of(&json!({"name": "Total", "type": "formula"})).unwrap();
        assert!(formula.read_only && !formula.unique);
        let stage = field_of(&json!({"name": "Stage", "type": "singleSelect",
            "options": {"choices": [{"name": "Lead"}]}}))
        .unwrap();
        assert_eq!(
            (stage.kind, stage.options.as_slice()),
            (FieldKind::Enumeration, &["Lead".to_owned()][..])
        );
        assert!(stage.unique);
        for kind in [
            FieldKind::Number,
            FieldKind::Boolean,
            FieldKind::Date,
            FieldKind::Datetime,
            FieldKind::Text,
        ] {
            assert_eq!(kind_of(new_field_type(kind).0), kind);
        }
    }
}
