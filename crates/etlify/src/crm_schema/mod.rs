//! Payloads against the CRM's own schema (issue 29): each bound object
//! type's fields read once (HubSpot's properties API, Airtable's base
//! schema, through [`SchemaAdapter`](crate::adapters::SchemaAdapter)),
//! every binding's payload checked against them (`check.rs`: the rule),
//! the bindings a batch run refuses (`gate.rs`), and the fields a payload
//! sends that the CRM lacks, to create (`missing.rs`).
//!
//! Nothing here is read per record: a check reads each (CRM, object type)
//! once, and a batch run checks once, before its first page.

mod check;
mod gate;
mod missing;

use std::collections::HashMap;

use self::check::{problems, PayloadShape};
pub use self::check::{FieldProblem, FieldProblemKind};
pub(crate) use self::gate::refused_bindings;
pub use self::missing::MissingFields;
pub(crate) use self::missing::{create_all, missing_all};
use crate::adapters::{AdapterError, ObjectSchema};
use crate::catalog::{Catalog, ResolvedBinding};
use crate::error::Result;
use crate::store::Store;

/// What the schema check found of one binding ([`Etlify::check_crm_schemas`]).
///
/// [`Etlify::check_crm_schemas`]: crate::Etlify::check_crm_schemas
#[derive(Debug)]
#[non_exhaustive]
pub struct BindingSchema {
    /// The model.
    pub model: String,
    /// The CRM.
    pub crm: String,
    /// The object type (Airtable table) the binding writes to.
    pub object_type: String,
    /// What was found.
    pub status: BindingSchemaStatus,
}

/// The outcome of one binding's schema check.
#[derive(Debug)]
#[non_exhaustive]
pub enum BindingSchemaStatus {
    /// The schema was read; the problems found (none: the payload fits).
    Checked(Vec<FieldProblem>),
    /// The schema could not be read: the CRM refused (a token without
    /// the schema scope) or could not be reached.
    Unreadable(AdapterError),
    /// The CRM's adapter cannot read schemas.
    NotSupported,
}

impl BindingSchema {
    /// The problems found (none when unchecked).
    pub fn problems(&self) -> &[FieldProblem] {
        match &self.status {
            BindingSchemaStatus::Checked(problems) => problems,
            _ => &[],
        }
    }
}

/// Schemas read during one check, by (CRM, object type): each read once.
#[derive(Debug, Default)]
pub(crate) struct SchemaCache {
    read: HashMap<(String, String), std::result::Result<ObjectSchema, AdapterError>>,
}

impl SchemaCache {
    /// The schema of `object_type` in `crm`, read on first use; `None` when
    /// the adapter cannot read schemas.
    async fn get(
        &mut self,
        catalog: &Catalog,
        crm: &str,
        object_type: &str,
    ) -> Result<Option<&std::result::Result<ObjectSchema, AdapterError>>> {
        let key = (crm.to_owned(), object_type.to_owned());
        if !self.read.contains_key(&key) {
            let adapter = catalog.crm(crm)?.adapter();
            let Some(read) = adapter.read_schema(object_type).await else {
                return Ok(None);
            };
            self.read.insert(key.clone(), read);
        }
        Ok(self.read.get(&key))
    }

    /// The schema of `object_type` in `crm`, when it was read.
    fn read_ok(&self, crm: &str, object_type: &str) -> Option<&ObjectSchema> {
        self.read
            .get(&(crm.to_owned(), object_type.to_owned()))?
            .as_ref()
            .ok()
    }
}

/// The shape of `binding`'s payload: its properties (when the source can
/// tell), declared types and match property.
async fn shape_of(store: &Store, binding: &ResolvedBinding) -> Result<OwnedShape> {
    let mut properties = binding.payload.properties(store).await?;
    // The external id is written on every object besides the payload.
    if let (Some(list), Some(external)) = (properties.as_mut(), &binding.external_id) {
        list.push(external.clone());
    }
    Ok(OwnedShape {
        properties,
        match_property: binding.match_property.clone(),
    })
}

/// [`PayloadShape`]'s owned parts.
struct OwnedShape {
    properties: Option<Vec<String>>,
    match_property: String,
}

/// Checks one binding against the cache's schemas.
async fn check_binding(
    catalog: &Catalog,
    store: &Store,
    cache: &mut SchemaCache,
    model: &str,
    crm: &str,
    binding: &ResolvedBinding,
) -> Result<BindingSchema> {
    let status = match cache.get(catalog, crm, &binding.object_type).await? {
        None => BindingSchemaStatus::NotSupported,
        Some(Err(error)) => BindingSchemaStatus::Unreadable(error.clone()),
        Some(Ok(schema)) => {
            let owned = shape_of(store, binding).await?;
            let shape = PayloadShape {
                properties: owned.properties.as_deref(),
                mapping: binding.payload.column_mapping(),
                match_property: &owned.match_property,
            };
            BindingSchemaStatus::Checked(problems(shape, schema))
        }
    };
    Ok(BindingSchema {
        model: model.to_owned(),
        crm: crm.to_owned(),
        object_type: binding.object_type.clone(),
        status,
    })
}

/// Reads the schema of `model`'s object type in `crm` once, for the
/// per-record syncs of a process that ran no batch run
/// (`Etlify::learn_crm_schema`).
pub(crate) async fn learn(ctx: &crate::context::Context, crm: &str, model: &str) -> Result<()> {
    let catalog = ctx.catalog();
    let (_, binding) = catalog.binding(crm, model)?;
    catalog
        .crm(crm)?
        .adapter()
        .learn_schema(&binding.object_type)
        .await;
    Ok(())
}

/// Every binding of an enabled CRM, checked, in declaration order (each
/// object type's schema read once).
pub(crate) async fn check_all(catalog: &Catalog, store: &Store) -> Result<Vec<BindingSchema>> {
    let mut cache = SchemaCache::default();
    let mut checked = Vec::new();
    for model in catalog.models() {
        for (crm, binding) in &model.bindings {
            if !catalog.crm_enabled(crm) {
                continue;
            }
            checked.push(
                check_binding(
                    catalog,
                    store,
                    &mut cache,
                    &model.resource_type,
                    crm,
                    binding,
                )
                .await?,
            );
        }
    }
    Ok(checked)
}
