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

/// A value in the form an Airtable field takes it without `typecast`
/// (AIRTABLE-5): text as strings, numbers as numbers, checkboxes as
/// booleans, dates as `YYYY-MM-DD`, several options as an array.
fn airtable_form(field: &CrmField, value: &Value) -> Option<Value> {
    match (field.kind, value) {
        (FieldKind::Text | FieldKind::Enumeration, Value::Number(_) | Value::Bool(_)) => {
            Some(Value::from(value.to_string()))
        }
        (FieldKind::Number, Value::String(text)) => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        (FieldKind::Boolean, Value::Number(n)) => match n.as_i64() {
            Some(0) => Some(Value::Bool(false)),
            Some(1) => Some(Value::Bool(true)),
            _ => None,
        },
        (FieldKind::Boolean, Value::String(text)) => match text.as_str() {
            "true" | "t" | "1" => Some(Value::Bool(true)),
            "false" | "f" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
        (FieldKind::Date, Value::String(text)) if text.len() > 10 => {
            let day = text.get(..10)?;
            chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
                .ok()
                .map(|_| Value::from(day))
        }
        (FieldKind::MultiSelect, Value::String(text)) => Some(Value::Array(
            text.split(';')
                .map(str::trim)
                .filter(|option| !option.is_empty())
                .map(Value::from)
                .collect(),
        )),
        _ => None,
    }
}

#[async_trait]
impl SchemaAdapter for AirtableAdapter {
    fn render(&self, field: &CrmField, value: &Value) -> Option<Value> {
        airtable_form(field, value)
    }

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
    fn values_take_the_form_of_their_airtable_field() {
        let form =
            |kind: FieldKind, value: Value| airtable_form(&CrmField::new("f", kind, "t"), &value);
        assert_eq!(form(FieldKind::Text, json!(3)), Some(json!("3")));
        assert_eq!(form(FieldKind::Number, json!("12.5")), Some(json!(12.5)));
        assert_eq!(form(FieldKind::Boolean, json!(1)), Some(json!(true)));
        assert_eq!(
            form(FieldKind::Date, json!("2024-05-06T07:08:09Z")),
            Some(json!("2024-05-06"))
        );
        assert_eq!(
            form(FieldKind::MultiSelect, json!("a; b")),
            Some(json!(["a", "b"]))
        );
        assert_eq!(form(FieldKind::Number, json!(4)), None, "left as it is");
    }

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
