//! The catalog: every declaration (global config, CRMs, models and their
//! bindings) resolved once against the database.
//!
//! [`Declarations`] is plain data — what `Etlify::builder` collects from
//! Rust code, and what the CLI will read from TOML. [`Catalog::build`]
//! checks it against the database (tables, columns, payload queries: "Bad input" in
//! docs/BEHAVIOUR.md) and resolves what the database decides (`Auto` timestamp columns,
//! legacy `<crm>_id` columns). The synchronizers and the finder read only
//! the catalog, through the [`crate::context::Context`].

pub(crate) mod key_types;
mod links;
mod resolve;
mod resolved;
pub(crate) mod suggest;

use indexmap::IndexMap;

use crate::config::Config;
use crate::crm::{Crm, CrmRegistry};
use crate::error::{ConfigError, Result};
use crate::model::Model;
use crate::store::Store;

pub(crate) use self::resolve::TableColumns;
pub(crate) use self::resolved::{
    ResolvedBinding, ResolvedConfig, ResolvedCrm, ResolvedDependency, ResolvedLink, ResolvedModel,
    ResolvedSyncDependency,
};

/// What a user declares: plain data, nothing checked yet.
#[derive(Debug, Clone, Default)]
pub(crate) struct Declarations {
    pub config: Config,
    pub crms: Vec<Crm>,
    pub models: Vec<Model>,
}

/// Declarations checked against the database.
#[derive(Debug)]
pub(crate) struct Catalog {
    /// The global settings as declared (for the face).
    config: Config,
    /// The global settings the inner layers read.
    settings: ResolvedConfig,
    /// The registered CRMs (for the face); each shares its limits with
    /// its resolved copy in `resolved_crms`.
    crms: CrmRegistry,
    resolved_crms: IndexMap<String, ResolvedCrm>,
    models: IndexMap<String, ResolvedModel>,
}

/// An enabled CRM with one of its models and the model's binding.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub(crate) crm: &'a ResolvedCrm,
    pub(crate) model: &'a ResolvedModel,
    pub(crate) binding: &'a ResolvedBinding,
}

impl Catalog {
    /// Checks `declarations` against `store`'s database and resolves them.
    /// Fails with a [`ConfigError`] before any record is touched.
    pub(crate) async fn build(store: &Store, declarations: Declarations) -> Result<Self> {
        key_types::check(store, &declarations.models).await?;
        crate::store::schema::require_up_to_date(store).await?;
        let columns = TableColumns::read(store, &declarations).await?;
        let catalog = resolve::resolve(declarations, &columns, store.default_commit_margin())?;
        resolve::check_payload_queries(store, &catalog).await?;
        Ok(catalog)
    }

    /// Global settings, as declared.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// Global settings, resolved.
    pub(crate) fn settings(&self) -> &ResolvedConfig {
        &self.settings
    }

    /// Registered CRMs, as declared.
    pub(crate) fn crms(&self) -> &CrmRegistry {
        &self.crms
    }

    /// Registered CRMs, resolved, in registration order.
    pub(crate) fn resolved_crms(&self) -> impl Iterator<Item = &ResolvedCrm> {
        self.resolved_crms.values()
    }

    /// Resolved models, in declaration order.
    pub(crate) fn models(&self) -> impl Iterator<Item = &ResolvedModel> {
        self.models.values()
    }

    /// The resolved model declared as `resource_type`.
    pub(crate) fn resolved(&self, resource_type: &str) -> Option<&ResolvedModel> {
        self.models.get(resource_type)
    }

    /// Whether `crm_name` is enabled; `true` for unknown names (G-2).
    pub(crate) fn crm_enabled(&self, crm_name: &str) -> bool {
        self.resolved_crms
            .get(crm_name)
            .is_none_or(|crm| crm.enabled)
    }

    /// Error budget of `crm_name`: its own, else the global one (G-16).
    pub(crate) fn max_sync_errors(&self, crm_name: &str) -> u32 {
        self.resolved_crms
            .get(crm_name)
            .map_or(self.settings.max_sync_errors, |crm| crm.max_sync_errors)
    }

    /// What to say of `resource_type`, which names no declared model: the
    /// nearest one, or all of them.
    fn unknown_model(&self, resource_type: &str) -> String {
        suggest::nearest_or_all(
            resource_type,
            "declared models",
            self.models.keys().map(String::as_str),
        )
    }

    /// The model declared as `resource_type`, or a configuration error
    /// at `models` naming it (with the nearest declared one).
    pub(crate) fn declared(&self, resource_type: &str) -> Result<&ResolvedModel> {
        Ok(self.resolved(resource_type).ok_or_else(|| {
            ConfigError::new(
                "models",
                resource_type,
                format!(
                    "is not a declared model{}",
                    self.unknown_model(resource_type)
                ),
            )
        })?)
    }

    /// The registered CRM `crm_name`, or a configuration error.
    pub(crate) fn crm(&self, crm_name: &str) -> Result<&ResolvedCrm> {
        Ok(self.resolved_crms.get(crm_name).ok_or_else(|| {
            ConfigError::new(
                "crms",
                crm_name,
                format!(
                    "is not a registered CRM{}",
                    suggest::nearest_or_all(crm_name, "registered CRMs", self.crms.names())
                ),
            )
        })?)
    }

    /// The model and its binding for `crm_name`, or a configuration error.
    pub(crate) fn binding(
        &self,
        crm_name: &str,
        resource_type: &str,
    ) -> Result<(&ResolvedModel, &ResolvedBinding)> {
        let model = self.resolved(resource_type).ok_or_else(|| {
            ConfigError::new(
                format!("models.{resource_type}"),
                "",
                format!(
                    "is not a declared model{}",
                    self.unknown_model(resource_type)
                ),
            )
        })?;
        let binding = model.binding(crm_name).ok_or_else(|| {
            ConfigError::new(
                format!("models.{resource_type}.crms"),
                crm_name,
                "is not a CRM this model is bound to",
            )
        })?;
        Ok((model, binding))
    }

    /// What an operation on `resource_type` in `crm_name` acts on: nothing
    /// when the CRM is disabled (checked first, G-3/G-4), else the CRM, the
    /// model and its binding; a configuration error for unknown names.
    pub(crate) fn target(&self, crm_name: &str, resource_type: &str) -> Result<Option<Target<'_>>> {
        let crm = self.crm(crm_name)?;
        if !crm.enabled {
            return Ok(None);
        }
        let (model, binding) = self.binding(crm_name, resource_type)?;
        Ok(Some(Target {
            crm,
            model,
            binding,
        }))
    }

    /// Whether some model waits on records of `resource_type` in `crm_name`
    /// (declares it as a sync dependency); when none does, nothing can be
    /// pending on them.
    pub(crate) fn has_dependents(&self, crm_name: &str, resource_type: &str) -> bool {
        self.models.values().any(|m| {
            m.sync_dependencies_for(crm_name)
                .iter()
                .any(|d| d.resource_type == resource_type)
                || m.binding(crm_name)
                    .is_some_and(|b| b.links.iter().any(|l| l.target == resource_type))
        })
    }
}

/// A catalog of `models` bound to one registered CRM, `hubspot` (a Null
/// adapter), resolved against `columns` without a database.
#[cfg(test)]
pub(crate) fn resolve_for_tests(models: Vec<Model>, columns: &TableColumns) -> Catalog {
    let declarations = Declarations {
        config: Config::default(),
        crms: vec![Crm::new(
            "hubspot",
            std::sync::Arc::new(crate::adapters::NullAdapter::new()),
        )],
        models,
    };
    // Internal invariant of the tests: their declarations are valid.
    resolve::resolve(declarations, columns, crate::DEFAULT_COMMIT_MARGIN)
        .expect("test declarations resolve")
}
