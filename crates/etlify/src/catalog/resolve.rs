//! Checking declarations against the database's tables and resolving what
//! the database decides (docs/BEHAVIOUR.md, "Bad input").
//!
//! Everything but the payload queries is decided from [`TableColumns`], a
//! plain map read once from the database, so resolution itself needs no
//! connection (tests build the map by hand).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use indexmap::IndexMap;
use sea_query::{Alias, Expr, Order, Query};

use super::suggest::{did_you_mean, nearest_or_all};
use super::{
    Catalog, Declarations, ResolvedBinding, ResolvedConfig, ResolvedCrm, ResolvedDependency,
    ResolvedModel, ResolvedSyncDependency,
};
use crate::crm::CrmRegistry;
use crate::dependency::{Dependency, HopSide};
use crate::error::{ConfigError, Result};
use crate::id::{KeyStorage, KeyType, ResourceId};
use crate::model::Model;
use crate::store::Store;
use crate::values::TimestampColumn;

/// The columns of every table the declarations name; a table missing from
/// the map does not exist.
#[derive(Debug, Clone, Default)]
pub(crate) struct TableColumns {
    tables: HashMap<String, Vec<String>>,
    /// The database's application tables, read only when a declared
    /// table is missing: what a "did you mean" picks from.
    existing: Vec<String>,
}

impl TableColumns {
    /// Reads the columns of every table `declarations` name.
    pub(crate) async fn read(store: &Store, declarations: &Declarations) -> Result<Self> {
        let mut names: HashSet<&str> = HashSet::new();
        for model in &declarations.models {
            names.insert(model.get_table());
            for binding in model.bindings.values() {
                for dependency in binding.get_dependencies() {
                    for path in dependency.get_paths() {
                        names.extend(path.hops.iter().map(|hop| hop.table.as_str()));
                    }
                }
                names.extend(super::links::join_tables(binding));
            }
        }
        let mut tables = HashMap::new();
        let mut missing = false;
        for name in names {
            match store.backend().table_columns(name).await? {
                Some(columns) => {
                    tables.insert(name.to_owned(), columns);
                }
                None => missing = true,
            }
        }
        let existing = match missing {
            true => store.application_tables().await?,
            false => Vec::new(),
        };
        Ok(Self { tables, existing })
    }

    /// A map built by hand (tests, offline checks).
    #[cfg(test)]
    pub(crate) fn from_tables<'a>(
        tables: impl IntoIterator<Item = (&'a str, &'a [&'a str])>,
    ) -> Self {
        Self {
            tables: tables
                .into_iter()
                .map(|(t, cols)| (t.to_owned(), cols.iter().map(|c| (*c).to_owned()).collect()))
                .collect(),
            existing: Vec::new(),
        }
    }

    pub(super) fn of(&self, location: &str, table: &str) -> Result<&[String]> {
        self.tables.get(table).map(Vec::as_slice).ok_or_else(|| {
            ConfigError::new(
                location,
                "table",
                format!(
                    "names table `{table}`, which does not exist{}",
                    did_you_mean(table, self.existing.iter().map(String::as_str))
                ),
            )
            .into()
        })
    }
}

/// Validates `declarations` against `columns` and resolves them.
pub(crate) fn resolve(
    declarations: Declarations,
    columns: &TableColumns,
    database_margin: std::time::Duration,
) -> Result<Catalog> {
    let Declarations {
        config,
        crms: crm_list,
        models: model_list,
    } = declarations;
    if config.get_max_sync_errors() == 0 {
        return Err(
            ConfigError::new("etlify", "max_sync_errors", "must be a positive integer").into(),
        );
    }
    // The engine's own limiters: shared with another engine only through
    // budgets handed to both.
    let mut crms =
        CrmRegistry::with_budgets(config.get_rate_budgets().cloned().unwrap_or_default());
    for crm in crm_list {
        crms.register(crm)?;
    }
    let mut declared: IndexMap<String, Model> = IndexMap::new();
    for model in model_list {
        if declared.contains_key(model.get_resource_type()) {
            return Err(ConfigError::new(
                format!("models.{}", model.get_resource_type()),
                "",
                "is declared twice; each resource type must be declared once",
            )
            .into());
        }
        declared.insert(model.get_resource_type().to_owned(), model);
    }
    let mut models = IndexMap::new();
    for model in declared.values() {
        let resolved = resolve_model(columns, &crms, &declared, model)?;
        models.insert(model.get_resource_type().to_owned(), resolved);
    }
    let settings = ResolvedConfig::new(&config, database_margin);
    let resolved_crms = crms
        .iter()
        .map(|crm| (crm.get_name().to_owned(), ResolvedCrm::new(crm, &settings)))
        .collect();
    Ok(Catalog {
        config,
        settings,
        crms,
        resolved_crms,
        models,
    })
}

/// Runs each payload query for an id that cannot exist: proves it parses
/// and returns the key column, without reading data. `stale_scope` and SQL
/// `sync_if` conditions are run the same way (`… WHERE (<condition>) LIMIT 0`).
pub(crate) async fn check_payload_queries(store: &Store, catalog: &Catalog) -> Result<()> {
    for model in catalog.models() {
        for (crm_name, binding) in &model.bindings {
            let location = format!("models.{}.crms.{crm_name}", model.resource_type);
            let conditions = [
                ("stale_scope", binding.stale_scope.as_deref()),
                (
                    "sync_if",
                    match &binding.sync_if {
                        Some(crate::model::SyncIf::Sql(condition)) => Some(condition.as_str()),
                        _ => None,
                    },
                ),
            ];
            for (field, condition) in conditions {
                let Some(condition) = condition else {
                    continue;
                };
                check_condition(store, model, condition)
                    .await
                    .map_err(|e| {
                        ConfigError::new(
                            location.clone(),
                            field,
                            format!(
                                "must be a valid SQL condition over table `{}`: {e}",
                                model.table
                            ),
                        )
                    })?;
            }
            let payload = &binding.payload;
            let properties = payload.properties(store).await.map_err(|e| {
                let expected = match &e {
                    // The database's own words ("no such column: emial"),
                    // without the driver's wrapping.
                    crate::Error::Database(sqlx::Error::Database(refused)) => format!(
                        "must be a query that runs on the database: {}",
                        refused.message()
                    ),
                    _ => format!("must return columns with a JSON mapping: {e}"),
                };
                ConfigError::new(location.clone(), "payload", expected)
            })?;
            if let (Some(properties), Some(column)) = (&properties, &binding.match_column) {
                let returns = |name: &str| properties.iter().any(|p| p == name);
                let problem = if !returns(column) {
                    Some(format!(
                        "names column `{column}`, which the payload query does not return (it returns: {})",
                        properties.join(", ")
                    ))
                } else if column != &binding.id_property && returns(&binding.id_property) {
                    Some(format!(
                        "matches on `{}`, which the payload query also returns: it would be written on every update; drop that column, or match on column `{}` itself",
                        binding.id_property, binding.id_property
                    ))
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(ConfigError::new(location.clone(), "match_by", problem).into());
                }
            }
            let id_property = binding.id_property.as_str();
            if let (Some(properties), false, None, None) = (
                properties,
                id_property.is_empty(),
                binding.external_id.as_deref(),
                binding.match_column.as_deref(),
            ) {
                if !properties.iter().any(|p| p == id_property) {
                    return Err(ConfigError::new(
                        location.clone(),
                        "id_property",
                        format!(
                            "names `{id_property}`, which the payload query does not return (it returns: {})",
                            properties.join(", ")
                        ),
                    )
                    .into());
                }
            }
            payload
                .load(store, &[probe_key(store, model.model.get_key_type())])
                .await
                .map_err(|e| {
                    ConfigError::new(
                        format!("models.{}.crms.{crm_name}", model.resource_type),
                        "payload",
                        format!(
                            "must run and return the key column `{}`: {e}",
                            payload.key_column()
                        ),
                    )
                })?;
            check_first_rows(store, model, payload.as_ref(), &location).await?;
        }
    }
    Ok(())
}

/// Rows whose payloads are decoded at build time, beside the declared
/// types: an expression the database declares no type for (SQLite's
/// `x'DEADBEEF'`) shows its type only in a row.
const ROWS_CHECKED: u64 = 5;

/// Decodes the payloads of the table's first rows: a column whose values
/// have no JSON mapping is refused now, naming it, instead of failing
/// every record at run time.
async fn check_first_rows(
    store: &Store,
    model: &super::ResolvedModel,
    payload: &dyn crate::payload::PayloadSource,
    location: &str,
) -> Result<()> {
    let mut first = Query::select();
    first
        .expr(Expr::col(Alias::new(&model.primary_key)))
        .from(Alias::new(&model.table))
        .order_by(Alias::new(&model.primary_key), Order::Asc)
        .limit(ROWS_CHECKED);
    let (sql, values) = store.build(&first);
    let ids: Vec<(ResourceId,)> = store.fetch_all(sql, values).await?;
    let ids: Vec<ResourceId> = ids.into_iter().map(|(id,)| id).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let refused = |message: String| {
        ConfigError::new(
            location,
            "payload",
            format!("must return columns with a JSON mapping: {message}"),
        )
    };
    let loaded = payload
        .load(store, &ids)
        .await
        .map_err(|e| refused(e.to_string()))?;
    for result in loaded.into_values() {
        // Only a value without a JSON mapping is the query's fault; a
        // record a source refuses for its own reasons fails at run time.
        if let Err(message) = result {
            if crate::store::json_value::is_unsupported(&message) {
                return Err(refused(message).into());
            }
        }
    }
    Ok(())
}

pub(super) fn require_column(
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
            format!(
                "names column `{column}`, which table `{table}` does not have{}",
                did_you_mean(column, columns.iter().map(String::as_str))
            ),
        )
        .into())
    }
}

fn resolve_model(
    tables: &TableColumns,
    crms: &CrmRegistry,
    declared: &IndexMap<String, Model>,
    model: &Model,
) -> Result<ResolvedModel> {
    let location = format!("models.{}", model.get_resource_type());
    let columns = tables.of(&location, model.get_table())?;
    require_column(
        columns,
        &location,
        "primary_key",
        model.get_table(),
        model.get_primary_key(),
    )?;
    if let TimestampColumn::Column(column) = model.get_timestamp() {
        require_column(columns, &location, "timestamp", model.get_table(), column)?;
    }
    if let Some(column) = model.get_soft_delete_column() {
        require_column(
            columns,
            &location,
            "soft_delete_column",
            model.get_table(),
            column,
        )?;
    }
    if let Some(sti) = model.get_sti() {
        require_column(
            columns,
            &location,
            "sti.column",
            model.get_table(),
            &sti.column,
        )?;
    }
    let mut bindings = IndexMap::new();
    for (crm_name, binding) in &model.bindings {
        let location = format!("models.{}.crms.{crm_name}", model.get_resource_type());
        // a binding to an unregistered CRM is a configuration error.
        if crms.get(crm_name).is_none() {
            return Err(ConfigError::new(
                location,
                "crm",
                format!(
                    "`{crm_name}` is not a registered CRM{}",
                    nearest_or_all(crm_name, "registered CRMs", crms.names())
                ),
            )
            .into());
        }
        if let Some(crm) = crms.get(crm_name) {
            let mode = binding.get_mode();
            if !crm.get_adapter().supports_mode(mode) {
                return Err(ConfigError::new(
                    location,
                    "mode",
                    format!(
                        "`{mode}` is not supported by the `{}` adapter (it can only create or update: mode = \"upsert\")",
                        crm.get_adapter().kind()
                    ),
                )
                .into());
            }
        }
        let Some(payload) = binding.get_payload() else {
            return Err(ConfigError::new(
                location,
                "payload",
                "is required (a SQL query or a Rust payload source)",
            )
            .into());
        };
        let object_type = binding.get_object_type();
        if object_type.trim().is_empty() || object_type == "." || object_type == ".." {
            return Err(ConfigError::new(
                location,
                "object_type",
                "must name a CRM object type or table (e.g. `contacts`), not be empty, `.` or `..`",
            )
            .into());
        }
        if binding
            .get_external_id()
            .is_some_and(|p| p.trim().is_empty())
        {
            return Err(ConfigError::new(
                location,
                "external_id",
                "must name a CRM property (e.g. `etlify_id`), not be empty",
            )
            .into());
        }
        let mut dependencies = Vec::new();
        for (index, dependency) in binding.get_dependencies().iter().enumerate() {
            let location = format!("{location}.dependencies[{index}]");
            dependencies.push(resolve_dependency(tables, &location, model, dependency)?);
        }
        let mut resolved_deps = Vec::new();
        for (index, dep) in binding.get_sync_dependencies().iter().enumerate() {
            let location = format!("{location}.sync_dependencies[{index}]");
            require_column(
                columns,
                &location,
                "foreign_key",
                model.get_table(),
                &dep.foreign_key,
            )?;
            let Some(target) = declared.get(&dep.resource_type) else {
                return Err(ConfigError::new(
                    location,
                    "model",
                    format!(
                        "names `{}`, which is not a declared model{}",
                        dep.resource_type,
                        nearest_or_all(
                            &dep.resource_type,
                            "declared models",
                            declared.keys().map(String::as_str)
                        )
                    ),
                )
                .into());
            };
            let target_columns = tables.of(&location, target.get_table())?;
            let legacy = format!("{crm_name}_id");
            resolved_deps.push(ResolvedSyncDependency {
                resource_type: dep.resource_type.clone(),
                foreign_key: dep.foreign_key.clone(),
                table: target.get_table().to_owned(),
                primary_key: target.get_primary_key().to_owned(),
                legacy_id_column: target_columns.contains(&legacy).then_some(legacy),
            });
        }
        let links =
            super::links::resolve_links(tables, declared, (&location, crm_name), model, binding)?;
        let external_id = binding.get_external_id().map(str::to_owned);
        let match_by = binding.get_match_by();
        if let Some(match_by) = match_by {
            let clash = if !binding.get_id_property().is_empty() {
                Some("id_property is set too: match_by replaces it (leave id_property empty)")
            } else if external_id.is_some() {
                Some("external_id is set too: objects are matched by one or the other")
            } else if match_by.property.trim().is_empty() || match_by.column.trim().is_empty() {
                Some("needs a property and a column (match_by = { property = \"email\", column = \"email\" })")
            } else {
                None
            };
            if let Some(clash) = clash {
                return Err(ConfigError::new(location, "match_by", clash).into());
            }
        }
        let id_property = match match_by {
            Some(match_by) => match_by.property.clone(),
            None => binding.get_id_property().to_owned(),
        };
        bindings.insert(
            crm_name.clone(),
            ResolvedBinding {
                object_type: object_type.to_owned(),
                match_property: external_id.clone().unwrap_or_else(|| id_property.clone()),
                id_property,
                match_column: match_by.map(|m| m.column.clone()),
                external_id,
                payload: Arc::clone(payload),
                sync_if: binding.get_sync_if().cloned(),
                stale_scope: binding.get_stale_scope().map(str::to_owned),
                dependencies,
                sync_dependencies: resolved_deps,
                links,
                mode: binding.get_mode(),
                on_delete: binding.get_on_delete(),
                on_leave_scope: binding.get_on_leave_scope(),
                max_deletes_per_run: binding.get_max_deletes_per_run(),
            },
        );
    }
    Ok(ResolvedModel {
        model: model.clone(),
        resource_type: model.get_resource_type().to_owned(),
        table: model.get_table().to_owned(),
        primary_key: model.get_primary_key().to_owned(),
        timestamp_column: model.get_timestamp().resolve(columns),
        sti: model.get_sti().cloned(),
        soft_delete_column: model.get_soft_delete_column().map(str::to_owned),
        bindings,
    })
}

/// Every table and column a dependency names must exist; `Auto`
/// timestamps of the target tables are resolved.
fn resolve_dependency(
    tables: &TableColumns,
    location: &str,
    owner: &Model,
    dependency: &Dependency,
) -> Result<ResolvedDependency> {
    let location = location.to_owned();
    let mut resolved = ResolvedDependency {
        paths: dependency.get_paths().to_vec(),
    };
    for path in &mut resolved.paths {
        if path.hops.is_empty() {
            return Err(ConfigError::new(
                location,
                "through",
                "must name at least one table to join (e.g. `Hop::has_many(\"memberships\", \"user_id\")`)",
            )
            .into());
        }
        // The column each hop joins on, on the table before it (a
        // belongs_to's foreign key is on the owner's side).
        for (index, hop) in path.hops.iter().enumerate() {
            let Some(previous_column) = &hop.previous_column else {
                continue;
            };
            let previous_table = match index {
                0 => owner.get_table(),
                _ => path.hops[index - 1].table.as_str(),
            };
            let columns = tables.of(&location, previous_table)?;
            require_column(
                columns,
                &location,
                "foreign_key",
                previous_table,
                previous_column,
            )?;
        }
        // A hop's primary key matters only when the next hop joins on it.
        let needs_primary_key: Vec<bool> = (0..path.hops.len())
            .map(|i| {
                path.hops
                    .get(i + 1)
                    .is_some_and(|next| next.previous_column.is_none())
            })
            .collect();
        for (index, hop) in path.hops.iter_mut().enumerate() {
            let columns = tables.of(&location, &hop.table)?;
            require_column(columns, &location, "column", &hop.table, &hop.column)?;
            if needs_primary_key[index] {
                require_column(
                    columns,
                    &location,
                    "primary_key",
                    &hop.table,
                    &hop.primary_key,
                )?;
            }
            if let TimestampColumn::Column(ts) = &hop.timestamp {
                require_column(columns, &location, "timestamp", &hop.table, ts)?;
            }
            for condition in &hop.conditions {
                if condition.side == HopSide::This {
                    require_column(
                        columns,
                        &location,
                        "type column",
                        &hop.table,
                        &condition.column,
                    )?;
                }
            }
            hop.timestamp = match hop.timestamp.resolve(columns) {
                Some(column) => TimestampColumn::Column(column),
                None => TimestampColumn::None,
            };
        }
    }
    Ok(resolved)
}

/// Runs `SELECT pk FROM table WHERE (<condition>) LIMIT 0`: the database
/// parses and plans the condition, reads nothing.
async fn check_condition(store: &Store, model: &ResolvedModel, condition: &str) -> Result<()> {
    use sea_query::{Alias, Expr, Query};
    let mut select = Query::select();
    select
        .column(Alias::new(&model.primary_key))
        .from(Alias::new(&model.table))
        // The condition is the user's SQL, as configured.
        .and_where(Expr::cust(format!("({condition})")))
        .limit(0);
    let (sql, values) = store.build(&select);
    store.fetch_all::<(i64,)>(sql, values).await?;
    Ok(())
}

/// A key of `key_type` no record has, to run a payload query on nothing.
fn probe_key(store: &Store, key_type: KeyType) -> ResourceId {
    let nil = sqlx::types::Uuid::nil();
    match key_type {
        KeyType::Integer => ResourceId::new(i64::MIN),
        KeyType::UuidBinary => ResourceId::uuid(nil),
        KeyType::Uuid => match store.uuid_storage() {
            KeyStorage::Bytes => ResourceId::uuid(nil),
            KeyStorage::Text => ResourceId::text(nil.hyphenated().to_string()),
        },
        KeyType::Text => ResourceId::text(""),
    }
}
