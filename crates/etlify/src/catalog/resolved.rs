//! What the catalog resolves declarations into: the plain fields the inner
//! layers (`sync/`, `stale/`, the runs, the jobs) read. A declaration
//! (`Config`, `Crm`, `Model`, `Binding`, `Dependency`) is what a user wrote and reads back
//! through its getters; these types are what runs (Vector's
//! `SinkConfig::build`), so nothing at run time reads a declaration.

use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;

use crate::config::Config;
use crate::crm::{Crm, ThrottledAdapter};
use crate::delete_policy::{DeleteLimit, Disposal};
use crate::dependency::JoinPath;
use crate::digest::DigestStrategy;
use crate::id::ResourceId;
use crate::link::{AssociationType, LinkVia};
use crate::model::{Model, StiFilter, SyncIf};
use crate::payload::PayloadSource;
use crate::ratelimit::CrmLimits;
use crate::values::Payload;
use crate::write_mode::WriteMode;

/// The global settings the inner layers read.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedConfig {
    pub(crate) digest_strategy: Arc<dyn DigestStrategy>,
    /// How far before the read `last_synced_at` is put.
    pub(crate) commit_margin: Duration,
    /// Longest time between two batch runs that read a whole table.
    pub(crate) complete_check_interval: Duration,
    /// The error budget of CRMs without their own.
    pub(crate) max_sync_errors: u32,
}

/// The commit margin in force: the configured one, else the
/// database's default ([`crate::Store::default_commit_margin`]: 200 ms on
/// MySQL, [`crate::DEFAULT_COMMIT_MARGIN`] elsewhere).
pub(crate) fn commit_margin(configured: Option<Duration>, database_default: Duration) -> Duration {
    configured.unwrap_or(database_default)
}

impl ResolvedConfig {
    pub(crate) fn new(config: &Config, database_margin: Duration) -> Self {
        Self {
            digest_strategy: Arc::clone(config.get_digest_strategy()),
            commit_margin: commit_margin(config.get_commit_margin(), database_margin),
            complete_check_interval: config.get_complete_check_interval(),
            max_sync_errors: config.get_max_sync_errors(),
        }
    }
}

/// A registered CRM.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedCrm {
    pub(crate) name: String,
    pub(crate) enabled: bool,
    /// Requests a batch run keeps in flight at once (at least 1).
    pub(crate) max_in_flight: usize,
    /// Its error budget: its own, else the global one (G-16).
    pub(crate) max_sync_errors: u32,
    /// The most requests of its rate limit's window, when it has one.
    pub(crate) max_requests: Option<u32>,
    /// The registered declaration, which holds the adapter and the limits
    /// registering built; shared with the face's registry, so a call from
    /// either counts in the same limits.
    registered: Crm,
}

impl ResolvedCrm {
    /// `registered` (a CRM of the registry) with the global error budget
    /// `max_sync_errors` applied.
    pub(crate) fn new(registered: &Crm, config: &ResolvedConfig) -> Self {
        Self {
            name: registered.get_name().to_owned(),
            enabled: registered.get_enabled(),
            max_in_flight: registered.get_max_in_flight().max(1),
            max_sync_errors: registered
                .get_max_sync_errors()
                .unwrap_or(config.max_sync_errors),
            max_requests: registered
                .get_rate_limit()
                .map(|limit| limit.get_max_requests()),
            registered: registered.clone(),
        }
    }

    /// The adapter as the engine calls it: every call counted in this
    /// CRM's limits.
    pub(crate) fn adapter(&self) -> ThrottledAdapter<'_> {
        self.registered.adapter()
    }

    /// The registered declaration (its schema check, its property group).
    pub(crate) fn registered(&self) -> &Crm {
        &self.registered
    }

    /// The limits this CRM's calls count in.
    pub(crate) fn limits(&self) -> &CrmLimits {
        self.registered.limits()
    }
}

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
    /// The column marking a row deleted (not NULL), if declared.
    pub(crate) soft_delete_column: Option<String>,
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
    /// Links, with their targets resolved.
    pub(crate) links: Vec<ResolvedLink>,
    /// The payload column holding the match value, when matching is apart
    /// from the payload (`match_by`): the value goes to `id_property`,
    /// written only on create.
    pub(crate) match_column: Option<String>,
    /// What a sync may do to the CRM's objects.
    pub(crate) mode: WriteMode,
    /// What happens once a record's row is deleted.
    pub(crate) on_delete: Disposal,
    /// What happens once a record leaves the binding's scope.
    pub(crate) on_leave_scope: Disposal,
    /// The most records one run may archive.
    pub(crate) max_deletes_per_run: DeleteLimit,
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

/// A link whose tables and columns exist, to a model bound to the same CRM.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedLink {
    pub(crate) name: String,
    /// The target model's resource type.
    pub(crate) target: String,
    pub(crate) target_table: String,
    pub(crate) target_primary_key: String,
    /// The target model's key type.
    pub(crate) target_key_type: crate::id::KeyType,
    /// The target's CRM object type (its binding to the same CRM).
    pub(crate) target_object_type: String,
    pub(crate) via: LinkVia,
    pub(crate) association: AssociationType,
    /// The label naming the association type, read from the CRM.
    pub(crate) label: Option<String>,
    /// The type the CRM gave for `label`, once read (once per engine).
    pub(crate) label_type: Arc<std::sync::OnceLock<AssociationType>>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x1_the_commit_margin_is_the_configured_one_else_the_databases_default() {
        let ms = Duration::from_millis;
        assert_eq!(commit_margin(Some(ms(5)), ms(200)), ms(5));
        assert_eq!(commit_margin(Some(Duration::ZERO), ms(200)), Duration::ZERO);
        assert_eq!(commit_margin(None, ms(200)), ms(200));
        assert_eq!(commit_margin(None, crate::DEFAULT_COMMIT_MARGIN), ms(1));
    }
}
