//! What the catalog resolves declarations into: the plain fields the inner
//! layers (`sync/`, `stale/`, the runs, the jobs) read. A declaration
//! (`Model`, `Binding`, `Dependency`) is what a user wrote and reads back
//! through its getters; these types are what runs (Vector's
//! `SinkConfig::build`), so nothing at run time reads a declaration.

use std::sync::Arc;

use indexmap::IndexMap;

use crate::dependency::JoinPath;
use crate::id::ResourceId;
use crate::model::{Model, StiFilter, SyncIf};
use crate::payload::PayloadSource;
use crate::values::Payload;

/// A model checked against the database.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedModel {
    /// The declaration, handed back to users by the face (`Etlify::model`).
    pub(crate) model: Model,
    pub(crate) resource_type: String,
    pub(crate) table: String,
    pub(crate) primary_key: String,
    /// The timestamp column after `Auto` resolution.
    pub(crate) timestamp_column: Option<String>,
    pub(crate) sti: Option<StiFilter>,
    /// The model's bindings, by CRM name, in binding order.
    pub(crate) bindings: IndexMap<String, ResolvedBinding>,
}

impl ResolvedModel {
    /// The binding for `crm`, when the model is bound to it.
    pub(crate) fn binding(&self, crm: &str) -> Option<&ResolvedBinding> {
        self.bindings.get(crm)
    }

    /// The resolved sync dependencies of the binding for `crm`.
    pub(crate) fn sync_dependencies_for(&self, crm: &str) -> &[ResolvedSyncDependency] {
        self.binding(crm)
            .map(|b| b.sync_dependencies.as_slice())
            .unwrap_or_default()
    }
}

/// A model's binding to one CRM, checked against the database.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedBinding {
    pub(crate) object_type: String,
    pub(crate) id_property: String,
    /// The property objects are matched by: the external id, else the id
    /// property.
    pub(crate) match_property: String,
    pub(crate) external_id: Option<String>,
    /// Where payloads come from; resolution rejects a binding without one.
    pub(crate) payload: Arc<dyn PayloadSource>,
    pub(crate) sync_if: Option<SyncIf>,
    pub(crate) stale_scope: Option<String>,
    /// Dependencies, with `Auto` timestamps resolved.
    pub(crate) dependencies: Vec<ResolvedDependency>,
    /// Sync dependencies, with their tables resolved.
    pub(crate) sync_dependencies: Vec<ResolvedSyncDependency>,
}

impl ResolvedBinding {
    /// Adds the external id of record `id` to `payload`, when one is declared.
    pub(crate) fn with_external_id(
        &self,
        resource_type: &str,
        id: ResourceId,
        mut payload: Payload,
    ) -> Payload {
        if let Some(property) = &self.external_id {
            payload.insert(
                property.clone(),
                serde_json::Value::String(format!("{resource_type}:{id}")),
            );
        }
        payload
    }
}

/// A dependency whose tables and columns exist, with `Auto` timestamps
/// resolved.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedDependency {
    pub(crate) paths: Vec<JoinPath>,
}

/// A sync dependency with its table resolved.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedSyncDependency {
    pub(crate) resource_type: String,
    pub(crate) foreign_key: String,
    pub(crate) table: String,
    pub(crate) primary_key: String,
    /// The dependency table's legacy `<crm>_id` column, when it has one (G-18).
    pub(crate) legacy_id_column: Option<String>,
}
