//! The optional capability of reading an object type's schema from the
//! CRM and adding fields to it ([`SchemaAdapter`], offered through
//! [`Adapter::schema`](super::Adapter::schema)), and the CRM-neutral
//! description of a schema it answers with.

use async_trait::async_trait;
use serde_json::Value;

use super::AdapterError;
use crate::ratelimit::Throttle;
use crate::values::Payload;

/// What a CRM field holds, in the terms the schema check compares
/// payload columns with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldKind {
    /// Free text (HubSpot `string`; Airtable text, email, URL, phone).
    Text,
    /// A number.
    Number,
    /// `true` / `false` (HubSpot `bool`, Airtable `checkbox`).
    Boolean,
    /// A day without time (HubSpot `date`, Airtable `date`).
    Date,
    /// A point in time (HubSpot `datetime`, Airtable `dateTime`).
    Datetime,
    /// One of a list of options (HubSpot `enumeration`, Airtable `singleSelect`).
    Enumeration,
    /// Several of a list of options (HubSpot `enumeration` shown as
    /// `checkbox`, Airtable `multipleSelects`).
    MultiSelect,
    /// Links to other records (Airtable `multipleRecordLinks`).
    Link,
    /// Anything else: not compared.
    Other,
}

impl FieldKind {
    /// How a message names it.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::Number => "number",
            FieldKind::Boolean => "boolean",
            FieldKind::Date => "date",
            FieldKind::Datetime => "datetime",
            FieldKind::Enumeration => "enumeration",
            FieldKind::MultiSelect => "multi-select",
            FieldKind::Link => "link",
            FieldKind::Other => "other",
        }
    }
}

/// One field (property) of a CRM object type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CrmField {
    /// Its name, as payloads spell it.
    pub name: String,
    /// What it holds.
    pub kind: FieldKind,
    /// The CRM's own words for its type, e.g. `enumeration/select` or
    /// `singleSelect`, for messages.
    pub crm_type: String,
    /// The allowed values of an enumeration or multi-select.
    pub options: Vec<String>,
    /// The CRM computes or keeps its value: a write is refused.
    pub read_only: bool,
    /// A create or update must leave it set (HubSpot from 2026-09, HUBSPOT-11).
    pub required: bool,
    /// Its value identifies one object: it can be matched on.
    pub unique: bool,
}

impl CrmField {
    /// A writable, optional, non-unique field.
    pub fn new(name: impl Into<String>, kind: FieldKind, crm_type: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind,
            crm_type: crm_type.into(),
            options: Vec::new(),
            read_only: false,
            required: false,
            unique: false,
        }
    }
}

/// What a CRM says of one object type: its fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectSchema {
    /// Every field, in the CRM's order.
    pub fields: Vec<CrmField>,
}

impl ObjectSchema {
    /// A schema of `fields`.
    pub fn new(fields: Vec<CrmField>) -> Self {
        Self { fields }
    }

    /// The field named `name`.
    pub fn field(&self, name: &str) -> Option<&CrmField> {
        self.fields.iter().find(|field| field.name == name)
    }
}

/// A field to add to an object type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewField {
    /// Its name, as the payload spells it.
    pub name: String,
    /// What it holds (from the payload column's declared type).
    pub kind: FieldKind,
    /// The group to put it in, where the CRM groups fields (HubSpot).
    pub group: Option<String>,
    /// Objects are matched by it: created with unique values where the
    /// CRM can say so (HubSpot `hasUniqueValue`).
    pub unique: bool,
}

impl NewField {
    /// A field `name` holding `kind`, in `group` where the CRM has groups.
    pub fn new(name: impl Into<String>, kind: FieldKind, group: Option<String>) -> Self {
        Self {
            name: name.into(),
            kind,
            group,
            unique: false,
        }
    }

    /// The field, created with unique values (a match property).
    pub fn unique(mut self, unique: bool) -> Self {
        self.unique = unique;
        self
    }
}

/// Reading an object type's schema, and adding fields to it (never
/// deleting nor retyping one).
#[async_trait]
pub trait SchemaAdapter: Send + Sync {
    /// The fields of `object_type`, with one read (HubSpot's properties
    /// API, Airtable's base schema).
    async fn read_schema(
        &self,
        object_type: &str,
        throttle: &Throttle<'_>,
    ) -> Result<ObjectSchema, AdapterError>;

    /// Creates `field` in `object_type` (and its group, where the CRM
    /// needs one to exist first).
    async fn create_field(
        &self,
        object_type: &str,
        field: &NewField,
        throttle: &Throttle<'_>,
    ) -> Result<(), AdapterError>;

    /// `value` in the form `field` wants it, or `None` to send it as it
    /// is (the default). Applied after the digest, to what is sent only.
    fn render(&self, field: &CrmField, value: &Value) -> Option<Value> {
        let _ = (field, value);
        None
    }
}

/// `payload` with each value in the form its field wants
/// ([`SchemaAdapter::render`]), but the properties `keep` names and
/// those the schema lacks.
pub(crate) fn render_payload(
    adapter: &dyn SchemaAdapter,
    schema: &ObjectSchema,
    payload: &Payload,
    keep: impl Fn(&str) -> bool,
) -> Payload {
    payload
        .iter()
        .map(|(name, value)| {
            let rendered = match schema.field(name) {
                Some(field) if !keep(name) && !value.is_null() => adapter.render(field, value),
                _ => None,
            };
            (name.clone(), rendered.unwrap_or_else(|| value.clone()))
        })
        .collect()
}

/// The items of the JSON array at `pointer` in `value` (none when absent).
pub(crate) fn items<'a>(value: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    value
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// The string `key` of each item of the array at `pointer` in `value`.
pub(crate) fn item_strings(value: &Value, pointer: &str, key: &str) -> Vec<String> {
    items(value, pointer)
        .filter_map(|item| item.get(key)?.as_str().map(str::to_owned))
        .collect()
}
