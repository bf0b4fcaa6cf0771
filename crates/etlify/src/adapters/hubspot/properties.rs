//! The properties API (HUBSPOT-13): an object type's properties read as an
//! [`ObjectSchema`], and a missing property created in its group.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{json, Value};

use super::errors::classify;
use super::HubSpotAdapter;
use crate::adapters::http::HttpRequest;
use crate::adapters::schema::{
    item_strings, items, CrmField, FieldKind, NewField, ObjectSchema, SchemaAdapter,
};
use crate::adapters::{AdapterError, AdapterErrorKind, Throttle};

/// The group of a new property when the configuration names none.
pub const DEFAULT_GROUP: &str = "etlify";

/// Properties HubSpot matches on whatever their `hasUniqueValue` says
/// (HUBSPOT-9): the record id everywhere, `email` of contacts, `domain`
/// of companies.
fn built_in_identifier(object_type: &str, property: &str) -> bool {
    property == "hs_object_id"
        || (property == "email" && matches!(object_type, "contacts" | "0-1"))
        || (property == "domain" && matches!(object_type, "companies" | "0-2"))
}

/// What a property's `type` and `fieldType` hold.
fn kind_of(property_type: &str, field_type: &str) -> FieldKind {
    match (property_type, field_type) {
        ("string" | "phone_number", _) => FieldKind::Text,
        ("number", _) => FieldKind::Number,
        ("bool", _) => FieldKind::Boolean,
        ("date", _) => FieldKind::Date,
        ("datetime", _) => FieldKind::Datetime,
        ("enumeration", "checkbox") => FieldKind::MultiSelect,
        ("enumeration", _) => FieldKind::Enumeration,
        _ => FieldKind::Other,
    }
}

/// The `type` and `fieldType` a new property holding `kind` is created with.
fn type_pair(kind: FieldKind) -> (&'static str, &'static str) {
    match kind {
        FieldKind::Number => ("number", "number"),
        FieldKind::Boolean => ("bool", "booleancheckbox"),
        FieldKind::Date => ("date", "date"),
        FieldKind::Datetime => ("datetime", "date"),
        _ => ("string", "text"),
    }
}

/// One property of a properties API answer.
fn field_of(object_type: &str, property: &Value, enforces_required: bool) -> Option<CrmField> {
    let text = |key: &str| {
        property
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let flag = |value: Option<&Value>| value.and_then(Value::as_bool).unwrap_or(false);
    let name = property.get("name")?.as_str()?;
    let (property_type, field_type) = (text("type"), text("fieldType"));
    let mut field = CrmField::new(
        name,
        kind_of(property_type, field_type),
        format!("{property_type}/{field_type}"),
    );
    field.options = item_strings(property, "/options", "value");
    field.read_only = flag(property.get("calculated"))
        || flag(property.pointer("/modificationMetadata/readOnlyValue"));
    field.unique = flag(property.get("hasUniqueValue")) || built_in_identifier(object_type, name);
    // Whether a definition says the portal requires it is unconfirmed
    // (HUBSPOT-13); it matters only where writes enforce it (HUBSPOT-11).
    field.required = enforces_required && flag(property.get("required"));
    Some(field)
}

/// `a_b` → `A b`: a readable label for a property made from a column.
fn label(name: &str) -> String {
    let spaced = name.replace('_', " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A 409 answers a create of what exists: made by an earlier attempt
/// whose answer was lost, or meanwhile.
fn exists_already(error: &AdapterError) -> bool {
    error.get_status() == Some(409)
}

impl HubSpotAdapter {
    /// Creates the property group `group` of `object_type` unless it exists.
    async fn ensure_group(
        &self,
        object_type: &str,
        group: &str,
        throttle: &Throttle<'_>,
    ) -> Result<(), AdapterError> {
        let path = self.api_version.properties_path(object_type, &["groups"]);
        let listed = self
            .http
            .send(
                &HttpRequest::new(Method::GET, path.clone()),
                classify,
                throttle,
            )
            .await?;
        let exists = item_strings(&listed.body, "/results", "name")
            .iter()
            .any(|name| name == group);
        if exists {
            return Ok(());
        }
        let create = HttpRequest::new(Method::POST, path)
            .json(json!({ "name": group, "label": label(group) }))
            .creates();
        match self.http.send(&create, classify, throttle).await {
            Err(error) if !exists_already(&error) => Err(error),
            _ => Ok(()),
        }
    }
}

/// Milliseconds since the epoch of `text`: an ISO 8601 date-time (with an
/// offset, or naive and taken as UTC), or a date at midnight UTC.
fn epoch_millis(text: &str) -> Option<i64> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(at.timestamp_millis());
    }
    let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
        .iter()
        .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok());
    if let Some(at) = naive {
        return Some(at.and_utc().timestamp_millis());
    }
    midnight_millis(text)
}

/// Midnight UTC, in milliseconds, of the day `text` starts with (`YYYY-MM-DD…`).
fn midnight_millis(text: &str) -> Option<i64> {
    let day = chrono::NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

/// A value in the form a HubSpot property wants it (HUBSPOT-13): dates
/// as midnight UTC in milliseconds, date-times in milliseconds, booleans
/// as `"true"`/`"false"`, several options joined by `;`.
fn hubspot_form(field: &CrmField, value: &Value) -> Option<Value> {
    match (field.kind, value) {
        (FieldKind::Date, Value::String(text)) => midnight_millis(text).map(Value::from),
        (FieldKind::Datetime, Value::String(text)) => epoch_millis(text).map(Value::from),
        (FieldKind::Boolean, Value::Bool(flag)) => Some(Value::from(flag.to_string())),
        (FieldKind::Boolean, Value::Number(n)) => match n.as_i64() {
            Some(0) => Some(Value::from("false")),
            Some(1) => Some(Value::from("true")),
            _ => None,
        },
        (FieldKind::MultiSelect, Value::Array(items)) => {
            let options: Option<Vec<String>> = items
                .iter()
                .map(|item| match item {
                    Value::String(text) => Some(text.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect();
            options.map(|options| Value::from(options.join(";")))
        }
        _ => None,
    }
}

#[async_trait]
impl SchemaAdapter for HubSpotAdapter {
    fn render(&self, field: &CrmField, value: &Value) -> Option<Value> {
        hubspot_form(field, value)
    }

    async fn read_schema(
        &self,
        object_type: &str,
        throttle: &Throttle<'_>,
    ) -> Result<ObjectSchema, AdapterError> {
        let path = self.api_version.properties_path(object_type, &[]);
        let response = self
            .http
            .send(&HttpRequest::new(Method::GET, path), classify, throttle)
            .await?;
        if response.body.get("results").is_none() {
            return Err(AdapterError::new(
                AdapterErrorKind::Other,
                format!("the properties of {object_type} came without `results`"),
            ));
        }
        let enforces_required = self.api_version.enforces_required_properties();
        Ok(ObjectSchema::new(
            items(&response.body, "/results")
                .filter_map(|p| field_of(object_type, p, enforces_required))
                .collect(),
        ))
    }

    async fn create_field(
        &self,
        object_type: &str,
        field: &NewField,
        throttle: &Throttle<'_>,
    ) -> Result<(), AdapterError> {
        let group = field.group.as_deref().unwrap_or(DEFAULT_GROUP);
        self.ensure_group(object_type, group, throttle).await?;
        let (property_type, field_type) = type_pair(field.kind);
        let request = HttpRequest::new(
            Method::POST,
            self.api_version.properties_path(object_type, &[]),
        )
        .json(json!({
            "name": field.name,
            "label": label(&field.name),
            "type": property_type,
            "fieldType": field_type,
            "groupName": group,
            "hasUniqueValue": field.unique,
        }))
        .creates();
        match self.http.send(&request, classify, throttle).await {
            Err(error) if !exists_already(&error) => Err(error),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_field_types_map_to_kinds_and_back() {
        assert_eq!(kind_of("enumeration", "checkbox"), FieldKind::MultiSelect);
        assert_eq!(kind_of("enumeration", "select"), FieldKind::Enumeration);
        assert_eq!(kind_of("datetime", "date"), FieldKind::Datetime);
        assert_eq!(kind_of("object_coordinates", "text"), FieldKind::Other);
        for kind in [
            FieldKind::Number,
            FieldKind::Boolean,
            FieldKind::Date,
            FieldKind::Datetime,
            FieldKind::Text,
        ] {
            let (property_type, field_type) = type_pair(kind);
            assert_eq!(kind_of(property_type, field_type), kind);
        }
        assert_eq!(label("plan_tier"), "Plan tier");
    }

    #[test]
    fn values_take_the_form_of_their_hubspot_property() {
        let form =
            |kind: FieldKind, value: Value| hubspot_form(&CrmField::new("p", kind, "t"), &value);
        assert_eq!(
            form(FieldKind::Date, json!("2024-05-06")),
            Some(json!(1_714_953_600_000_i64))
        );
        assert_eq!(
            form(FieldKind::Date, json!("2024-05-06T07:08:09Z")),
            Some(json!(1_714_953_600_000_i64)),
            "a date property takes the day"
        );
        assert_eq!(
            form(FieldKind::Datetime, json!("2024-05-06T07:08:09.5Z")),
            Some(json!(1_714_979_289_500_i64))
        );
        assert_eq!(
            form(FieldKind::Datetime, json!("2024-05-06 07:08:09")),
            Some(json!(1_714_979_289_000_i64))
        );
        assert_eq!(form(FieldKind::Boolean, json!(true)), Some(json!("true")));
        assert_eq!(form(FieldKind::Boolean, json!(0)), Some(json!("false")));
        assert_eq!(
            form(FieldKind::MultiSelect, json!(["a", "b"])),
            Some(json!("a;b"))
        );
        assert_eq!(form(FieldKind::Text, json!(12)), None, "left as it is");
        assert_eq!(form(FieldKind::Date, json!("someday")), None);
    }

    #[test]
    fn a_property_is_read_only_unique_and_required_as_its_definition_says() {
        let definition = json!({"name": "email", "type": "string", "fieldType": "text",
            "calculated": false, "required": true, "modificationMetadata": {"readOnlyValue": false}});
        let field = field_of("contacts", &definition, true).unwrap();
        assert!(field.unique && field.required && !field.read_only);
        // Before 2026-09 nothing is required of writes.
        assert!(!field_of("contacts", &definition, false).unwrap().required);
        let score =
            json!({"name": "score", "type": "number", "fieldType": "number", "calculated": true});
        let field = field_of("contacts", &score, true).unwrap();
        assert!(field.read_only && !field.unique);
    }
}
