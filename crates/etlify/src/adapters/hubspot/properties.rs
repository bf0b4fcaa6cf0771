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

#[async_trait]
impl SchemaAdapter for HubSpotAdapter {
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
