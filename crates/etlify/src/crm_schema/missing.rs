//! The fields payloads send that the CRM lacks, and their creation from
//! the columns' declared types (`etlify crm-schema create`). Fields are
//! only ever added: none is deleted or retyped.

use super::{shape_of, SchemaCache};
use crate::adapters::{FieldKind, NewField};
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::values::ColumnType;

/// The fields one object type of one CRM lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MissingFields {
    /// The CRM.
    pub crm: String,
    /// The object type (Airtable table).
    pub object_type: String,
    /// The models whose payloads send them.
    pub models: Vec<String>,
    /// The fields to create, each with the kind its column declares
    /// (text when it declares none) and the CRM's property group.
    pub fields: Vec<NewField>,
}

/// What the CRM field holding a column declared `declared` is created as.
fn kind_for(declared: Option<ColumnType>) -> FieldKind {
    match declared {
        Some(ColumnType::Boolean) => FieldKind::Boolean,
        Some(ColumnType::Integer | ColumnType::Float | ColumnType::Decimal) => FieldKind::Number,
        Some(ColumnType::Date) => FieldKind::Date,
        Some(ColumnType::Timestamp) => FieldKind::Datetime,
        _ => FieldKind::Text,
    }
}

/// Every (CRM, object type) whose schema lacks fields the payloads send,
/// in declaration order; an object type whose schema cannot be read is
/// an error (nothing can be decided for it).
pub(crate) async fn missing_all(catalog: &Catalog, store: &Store) -> Result<Vec<MissingFields>> {
    let mut cache = SchemaCache::default();
    let mut missing: Vec<MissingFields> = Vec::new();
    for model in catalog.models() {
        for (crm, binding) in &model.bindings {
            if !catalog.crm_enabled(crm) {
                continue;
            }
            let schema = match cache.get(catalog, crm, &binding.object_type).await? {
                None => continue,
                Some(Err(error)) => return Err(Error::from(error.clone().crm(crm.as_str()))),
                Some(Ok(schema)) => schema.clone(),
            };
            let Some(properties) = shape_of(store, binding).await?.properties else {
                continue;
            };
            let group = catalog
                .crm(crm)?
                .registered()
                .get_property_group()
                .map(str::to_owned);
            let mapping = binding.payload.column_mapping();
            let entry = match missing
                .iter_mut()
                .position(|m| m.crm == *crm && m.object_type == binding.object_type)
            {
                Some(at) => &mut missing[at],
                None => {
                    missing.push(MissingFields {
                        crm: crm.clone(),
                        object_type: binding.object_type.clone(),
                        models: Vec::new(),
                        fields: Vec::new(),
                    });
                    let last = missing.len() - 1;
                    &mut missing[last]
                }
            };
            let mut sends_missing = false;
            for property in properties {
                if schema.field(&property).is_some()
                    || entry.fields.iter().any(|f| f.name == property)
                {
                    continue;
                }
                let declared = mapping.and_then(|m| m.get_column_type(&property));
                entry.fields.push(
                    NewField::new(property.clone(), kind_for(declared), group.clone())
                        .unique(property == binding.match_property),
                );
                sends_missing = true;
            }
            if sends_missing {
                entry.models.push(model.resource_type.clone());
            }
        }
    }
    missing.retain(|m| !m.fields.is_empty());
    Ok(missing)
}

/// Creates every field of `missing`, in order, and answers how many; the
/// first refusal stops (the fields created before it stay, and a second
/// run creates the rest: what exists is no longer missing).
pub(crate) async fn create_all(catalog: &Catalog, missing: &[MissingFields]) -> Result<usize> {
    let mut created = 0;
    for object in missing {
        let adapter = catalog.crm(&object.crm)?.adapter();
        for field in &object.fields {
            if let Some(result) = adapter.create_field(&object.object_type, field).await {
                result.map_err(|error| error.crm(object.crm.as_str()))?;
                created += 1;
            }
        }
    }
    Ok(created)
}
