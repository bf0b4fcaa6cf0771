//! The [`Etlify`] handle: registered CRMs, declared models, the store, and
//! the per-record API.
//!
//! [`EtlifyBuilder::build`] validates the whole configuration against the
//! database before anything runs (SPEC §7): unknown CRMs in bindings,
//! duplicate models, missing tables and columns, payload queries that do
//! not run or lack their key column.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::config::Config;
use crate::crm::{Crm, CrmRegistry};
use crate::dependency::Dependency;
use crate::error::{ConfigError, Result};
use crate::id::{ResourceId, SyncKey};
use crate::model::{Binding, Model, TimestampColumn};
use crate::outcome::{DeleteOutcome, SyncDispatch};
use crate::store::introspect::table_columns;
use crate::store::schema::{self, SchemaReport};
use crate::store::{sync_rows, Store, SyncRow};
use crate::sync::{Deleter, Synchronizer};

/// The engine: cheap to clone, shareable across tasks.
#[derive(Debug, Clone)]
pub struct Etlify {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    config: Config,
    crms: CrmRegistry,
    models: IndexMap<String, ResolvedModel>,
}

/// A model checked against the database.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedModel {
    pub(crate) model: Model,
    /// The timestamp column after `Auto` resolution.
    pub(crate) timestamp_column: Option<String>,
    /// Resolved sync dependencies, per binding CRM.
    pub(crate) sync_dependencies: IndexMap<String, Vec<ResolvedSyncDependency>>,
    /// Dependencies per binding CRM, with `Auto` timestamps resolved.
    pub(crate) dependencies: IndexMap<String, Vec<Dependency>>,
}

/// An enabled CRM with one of its models and the model's binding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) crm: &'a Crm,
    pub(crate) resolved: &'a ResolvedModel,
    pub(crate) binding: &'a Binding,
}

/// A sync dependency with its table resolved.
#[derive(Debug, Clone)]
pub(crate) struct ResolvedSyncDependency {
    pub(crate) resource_type: String,
    pub(crate) foreign_key: String,
    pub(crate) table: String,
    pub(crate) primary_key: String,
    /// The dependency table's legacy `<crm>_id` column, when it has one (DEP-1).
    pub(crate) legacy_id_column: Option<String>,
}

/// Builds an [`Etlify`].
#[derive(Debug)]
pub struct EtlifyBuilder {
    store: Store,
    config: Config,
    crms: Vec<Crm>,
    models: Vec<Model>,
}

impl Etlify {
    /// Starts a builder on `store`.
    pub fn builder(store: Store) -> EtlifyBuilder {
        EtlifyBuilder {
            store,
            config: Config::default(),
            crms: Vec::new(),
            models: Vec::new(),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Global settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Registered CRMs.
    pub fn crms(&self) -> &CrmRegistry {
        &self.inner.crms
    }

    /// Whether `crm_name` is enabled; `true` for unknown names (G-2).
    pub fn crm_enabled(&self, crm_name: &str) -> bool {
        self.inner.crms.enabled(crm_name)
    }

    /// Error budget of `crm_name`: its own, else the global one (G-16).
    pub fn max_sync_errors(&self, crm_name: &str) -> u32 {
        self.inner
            .crms
            .get(crm_name)
            .and_then(Crm::max_sync_errors_override)
            .unwrap_or(self.inner.config.max_sync_errors)
    }

    /// Declared models, in declaration order.
    pub fn models(&self) -> impl Iterator<Item = &Model> {
        self.inner.models.values().map(|m| &m.model)
    }

    /// The model declared as `resource_type`.
    pub fn model(&self, resource_type: &str) -> Option<&Model> {
        self.inner.models.get(resource_type).map(|m| &m.model)
    }

    /// The resolved timestamp column of `resource_type`'s table.
    pub fn timestamp_column(&self, resource_type: &str) -> Option<&str> {
        self.inner
            .models
            .get(resource_type)
            .and_then(|m| m.timestamp_column.as_deref())
    }

    pub(crate) fn resolved(&self, resource_type: &str) -> Option<&ResolvedModel> {
        self.inner.models.get(resource_type)
    }

    /// Whether some model waits on records of `resource_type` in `crm_name`
    /// (declares it as a sync dependency); when none does, nothing can be
    /// pending on them.
    pub(crate) fn has_dependents(&self, crm_name: &str, resource_type: &str) -> bool {
        self.inner.models.values().any(|m| {
            m.sync_dependencies
                .get(crm_name)
                .is_some_and(|deps| deps.iter().any(|d| d.resource_type == resource_type))
        })
    }

    /// The model and its binding for `crm_name`, or a configuration error.
    pub(crate) fn binding(
        &self,
        crm_name: &str,
        resource_type: &str,
    ) -> Result<(&ResolvedModel, &Binding)> {
        let resolved = self.resolved(resource_type).ok_or_else(|| {
            ConfigError::new(
                format!("models.{resource_type}"),
                "",
                "is not a declared model",
            )
        })?;
        let binding = resolved.model.binding(crm_name).ok_or_else(|| {
            ConfigError::new(
                format!("models.{resource_type}.crms"),
                crm_name,
                "is not a CRM this model is bound to",
            )
        })?;
        Ok((resolved, binding))
    }

    /// What an operation on `resource_type` in `crm_name` acts on: nothing
    /// when the CRM is disabled (checked first, G-3/G-4), else the CRM, the
    /// model and its binding; a configuration error for unknown names.
    pub(crate) fn target(&self, crm_name: &str, resource_type: &str) -> Result<Option<Target<'_>>> {
        let crm = self.crm(crm_name)?;
        if !crm.is_enabled() {
            return Ok(None);
        }
        let (resolved, binding) = self.binding(crm_name, resource_type)?;
        Ok(Some(Target {
            crm,
            resolved,
            binding,
        }))
    }

    /// The registered CRM `crm_name`, or a configuration error.
    pub(crate) fn crm(&self, crm_name: &str) -> Result<&Crm> {
        Ok(self
            .inner
            .crms
            .get(crm_name)
            .ok_or_else(|| ConfigError::new("crms", crm_name, "is not a registered CRM"))?)
    }

    /// The synchronizer (one record, inline).
    pub fn synchronizer(&self) -> Synchronizer<'_> {
        Synchronizer::new(self)
    }

    /// The deleter (one record, inline).
    pub fn deleter(&self) -> Deleter<'_> {
        Deleter::new(self)
    }

    /// Syncs one record (the gem's `crm_sync!`, G-3, G-25). A disabled CRM
    /// answers [`SyncDispatch::Disabled`] without touching anything. Until a
    /// job queue is configured, the sync runs inline.
    pub fn sync<'a>(
        &'a self,
        crm_name: &'a str,
        resource_type: &'a str,
        id: impl Into<ResourceId>,
    ) -> Pin<Box<dyn Future<Output = Result<SyncDispatch>> + Send + 'a>> {
        let id = id.into();
        // Boxed: a sync may sync its dependencies and dependents in turn.
        Box::pin(async move {
            if !self.crm_enabled(crm_name) {
                return Ok(SyncDispatch::Disabled);
            }
            let outcome = self
                .synchronizer()
                .call(crm_name, resource_type, id)
                .await?;
            Ok(SyncDispatch::Completed(outcome))
        })
    }

    /// Deletes one record's CRM object (the gem's `crm_delete!`, G-3, X-11).
    pub async fn delete(
        &self,
        crm_name: &str,
        resource_type: &str,
        id: impl Into<ResourceId>,
    ) -> Result<DeleteOutcome> {
        self.deleter()
            .call(crm_name, resource_type, id.into())
            .await
    }

    /// The sync row of one record, if any.
    pub async fn sync_row(
        &self,
        crm_name: &str,
        resource_type: &str,
        id: impl Into<ResourceId>,
    ) -> Result<Option<SyncRow>> {
        sync_rows::find(self.store(), &SyncKey::new(crm_name, resource_type, id)).await
    }

    /// Clears one row's error budget so the finder picks it up again (G-16).
    /// Returns whether the row existed.
    pub async fn reset_error_count(
        &self,
        crm_name: &str,
        resource_type: &str,
        id: impl Into<ResourceId>,
    ) -> Result<bool> {
        sync_rows::reset_error_count(self.store(), &SyncKey::new(crm_name, resource_type, id)).await
    }

    /// Checks the sync-state schema (the gem's boot-time check, EN-*).
    pub async fn check(&self) -> Result<SchemaReport> {
        schema::check(self.store()).await
    }
}

impl EtlifyBuilder {
    /// Global settings.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Registers a CRM (a later one with the same name replaces it, R-4).
    pub fn crm(mut self, crm: Crm) -> Self {
        self.crms.push(crm);
        self
    }

    /// Declares a model.
    pub fn model(mut self, model: Model) -> Self {
        self.models.push(model);
        self
    }

    /// Validates everything and builds the engine. Fails with a
    /// [`ConfigError`] before any record is touched.
    pub async fn build(self) -> Result<Etlify> {
        if self.config.max_sync_errors == 0 {
            return Err(ConfigError::new(
                "etlify",
                "max_sync_errors",
                "must be a positive integer",
            )
            .into());
        }
        let mut crms = CrmRegistry::default();
        for crm in self.crms {
            crms.register(crm)?;
        }
        let mut declared: IndexMap<String, Model> = IndexMap::new();
        for model in self.models {
            if declared.contains_key(&model.resource_type) {
                return Err(ConfigError::new(
                    format!("models.{}", model.resource_type),
                    "",
                    "is declared twice; each resource type must be declared once",
                )
                .into());
            }
            declared.insert(model.resource_type.clone(), model);
        }
        let mut models = IndexMap::new();
        for model in declared.values() {
            let resolved = resolve_model(&self.store, &crms, &declared, model).await?;
            models.insert(model.resource_type.clone(), resolved);
        }
        Ok(Etlify {
            inner: Arc::new(Inner {
                store: self.store,
                config: self.config,
                crms,
                models,
            }),
        })
    }
}

async fn columns_of(store: &Store, location: &str, table: &str) -> Result<Vec<String>> {
    table_columns(store, table).await?.ok_or_else(|| {
        ConfigError::new(
            location,
            "table",
            format!("names table `{table}`, which does not exist"),
        )
        .into()
    })
}

fn require_column(
    columns: &[String],
    location: &str,
    field: &str,
    table: &str,
    column: &str,
) -> Result<()> {
    if columns.iter().any(|c| c == column) {
        Ok(())
    } else {
        Err(ConfigError::new(
            location,
            field,
            format!("names column `{column}`, which table `{table}` does not have"),
        )
        .into())
    }
}

async fn resolve_model(
    store: &Store,
    crms: &CrmRegistry,
    declared: &IndexMap<String, Model>,
    model: &Model,
) -> Result<ResolvedModel> {
    let location = format!("models.{}", model.resource_type);
    let columns = columns_of(store, &location, &model.table).await?;
    require_column(
        &columns,
        &location,
        "primary_key",
        &model.table,
        &model.primary_key,
    )?;
    if let TimestampColumn::Column(column) = &model.timestamp {
        require_column(&columns, &location, "timestamp", &model.table, column)?;
    }
    if let Some(sti) = &model.sti {
        require_column(&columns, &location, "sti.column", &model.table, &sti.column)?;
    }
    let mut sync_dependencies = IndexMap::new();
    let mut dependencies = IndexMap::new();
    for (crm_name, binding) in &model.bindings {
        let location = format!("models.{}.crms.{crm_name}", model.resource_type);
        // a binding to an unregistered CRM is a configuration error.
        if crms.get(crm_name).is_none() {
            return Err(ConfigError::new(
                location,
                "crm",
                format!("`{crm_name}` is not a registered CRM"),
            )
            .into());
        }
        let Some(payload) = &binding.payload else {
            return Err(ConfigError::new(
                location,
                "payload",
                "is required (a SQL query or a Rust payload source)",
            )
            .into());
        };
        // Runs the payload query for an id that cannot exist: proves it
        // parses and returns the key column, without reading data.
        payload
            .load(store, &[ResourceId(i64::MIN)])
            .await
            .map_err(|e| {
                ConfigError::new(
                    location.clone(),
                    "payload",
                    format!(
                        "must run and return the key column `{}`: {e}",
                        payload.key_column()
                    ),
                )
            })?;
        let mut resolved_dependencies = Vec::new();
        for dependency in &binding.dependencies {
            resolved_dependencies.push(resolve_dependency(store, &location, dependency).await?);
        }
        dependencies.insert(crm_name.clone(), resolved_dependencies);
        let mut resolved_deps = Vec::new();
        for dep in &binding.sync_dependencies {
            require_column(
                &columns,
                &location,
                "sync_dependencies.foreign_key",
                &model.table,
                &dep.foreign_key,
            )?;
            let Some(target) = declared.get(&dep.resource_type) else {
                return Err(ConfigError::new(
                    location,
                    "sync_dependencies",
                    format!(
                        "names `{}`, which is not a declared model",
                        dep.resource_type
                    ),
                )
                .into());
            };
            let target_columns = columns_of(store, &location, &target.table).await?;
            let legacy = format!("{crm_name}_id");
            resolved_deps.push(ResolvedSyncDependency {
                resource_type: dep.resource_type.clone(),
                foreign_key: dep.foreign_key.clone(),
                table: target.table.clone(),
                primary_key: target.primary_key.clone(),
                legacy_id_column: target_columns.contains(&legacy).then_some(legacy),
            });
        }
        sync_dependencies.insert(crm_name.clone(), resolved_deps);
    }
    Ok(ResolvedModel {
        model: model.clone(),
        timestamp_column: model.timestamp.resolve(&columns),
        sync_dependencies,
        dependencies,
    })
}

/// Every table and column a dependency names must exist; `Auto`
/// timestamps of the target tables are resolved.
async fn resolve_dependency(
    store: &Store,
    location: &str,
    dependency: &Dependency,
) -> Result<Dependency> {
    let location = format!("{location}.dependencies.{}", dependency.dependency_name());
    let mut resolved = dependency.clone();
    for path in resolved.paths_mut() {
        // A hop's primary key matters only when the next hop joins on it.
        let needs_primary_key: Vec<bool> = (0..path.hops.len())
            .map(|i| {
                path.hops
                    .get(i + 1)
                    .is_some_and(|next| next.previous_column.is_none())
            })
            .collect();
        for (index, hop) in path.hops.iter_mut().enumerate() {
            let columns = columns_of(store, &location, &hop.table).await?;
            require_column(&columns, &location, "column", &hop.table, &hop.column)?;
            if needs_primary_key[index] {
                require_column(
                    &columns,
                    &location,
                    "primary_key",
                    &hop.table,
                    &hop.primary_key,
                )?;
            }
            if let TimestampColumn::Column(ts) = &hop.timestamp {
                require_column(&columns, &location, "timestamp", &hop.table, ts)?;
            }
            for condition in &hop.conditions {
                if condition.side == crate::dependency::HopSide::This {
                    require_column(
                        &columns,
                        &location,
                        "type column",
                        &hop.table,
                        &condition.column,
                    )?;
                }
            }
            hop.timestamp = match hop.timestamp.resolve(&columns) {
                Some(column) => TimestampColumn::Column(column),
                None => TimestampColumn::None,
            };
        }
    }
    Ok(resolved)
}

/// Creates or upgrades the sync-state tables (see [`schema::migrate`]).
pub async fn migrate(store: &Store, options: &schema::MigrateOptions) -> Result<()> {
    schema::migrate(store, options).await
}

/// Undoes what [`migrate`] changed (see [`schema::revert`]).
pub async fn revert_migration(store: &Store) -> Result<()> {
    schema::revert(store).await
}
