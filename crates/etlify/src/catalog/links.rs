//! A binding's links checked against the database and the other
//! declarations (docs/MODELS.md, "Links"): the target is a declared model
//! bound to the same CRM, and every table and column that finds the
//! targets exists.

use indexmap::IndexMap;

use super::resolve::{require_column, TableColumns};
use super::suggest::nearest_or_all;
use super::ResolvedLink;
use crate::error::{ConfigError, Result};
use crate::link::LinkVia;
use crate::model::{Binding, Model};

/// The join tables `binding`'s links read (their columns are read with
/// the models' tables).
pub(super) fn join_tables(binding: &Binding) -> impl Iterator<Item = &str> {
    binding
        .get_links()
        .iter()
        .filter_map(|link| match &link.via {
            LinkVia::JoinTable { table, .. } => Some(table.as_str()),
            _ => None,
        })
}

/// `binding`'s links resolved; `at` is the binding's location in the
/// configuration and the CRM it is bound to.
pub(super) fn resolve_links(
    tables: &TableColumns,
    declared: &IndexMap<String, Model>,
    (location, crm_name): (&str, &str),
    owner: &Model,
    binding: &Binding,
) -> Result<Vec<ResolvedLink>> {
    let mut resolved = Vec::new();
    let mut names = Vec::new();
    for (index, link) in binding.get_links().iter().enumerate() {
        let location = format!("{location}.links[{index}]");
        if link.label.as_deref().is_some_and(|l| l.trim().is_empty()) {
            return Err(
                ConfigError::new(location, "association.label", "must not be empty").into(),
            );
        }
        if link.name.trim().is_empty() {
            return Err(ConfigError::new(location, "name", "must not be empty").into());
        }
        if names.contains(&link.name) {
            return Err(ConfigError::new(
                location,
                "name",
                format!(
                    "`{}` names another link of this binding: give each link its own name",
                    link.name
                ),
            )
            .into());
        }
        names.push(link.name.clone());
        let Some(target) = declared.get(&link.target) else {
            return Err(ConfigError::new(
                location,
                "model",
                format!(
                    "names `{}`, which is not a declared model{}",
                    link.target,
                    nearest_or_all(
                        &link.target,
                        "declared models",
                        declared.keys().map(String::as_str)
                    )
                ),
            )
            .into());
        };
        let Some(target_binding) = target.get_binding(crm_name) else {
            return Err(ConfigError::new(
                location,
                "model",
                format!(
                    "names `{}`, which is not bound to `{crm_name}`: a link joins two objects of the same CRM",
                    link.target
                ),
            )
            .into());
        };
        let owner_columns = tables.of(&location, owner.get_table())?;
        let target_columns = tables.of(&location, target.get_table())?;
        match &link.via {
            LinkVia::BelongsTo { foreign_key } => require_column(
                owner_columns,
                &location,
                "foreign_key",
                owner.get_table(),
                foreign_key,
            )?,
            LinkVia::HasMany { foreign_key } => require_column(
                target_columns,
                &location,
                "foreign_key",
                target.get_table(),
                foreign_key,
            )?,
            LinkVia::JoinTable {
                table,
                owner_column,
                target_column,
            } => {
                let columns = tables.of(&location, table)?;
                require_column(columns, &location, "owner_column", table, owner_column)?;
                require_column(columns, &location, "target_column", table, target_column)?;
            }
            LinkVia::Polymorphic {
                type_column,
                id_column,
                ..
            } => {
                let table = owner.get_table();
                require_column(owner_columns, &location, "type_column", table, type_column)?;
                require_column(owner_columns, &location, "id_column", table, id_column)?;
            }
        }
        resolved.push(ResolvedLink {
            name: link.name.clone(),
            target: link.target.clone(),
            target_table: target.get_table().to_owned(),
            target_primary_key: target.get_primary_key().to_owned(),
            target_key_type: target.get_key_type(),
            target_object_type: target_binding.get_object_type().to_owned(),
            via: link.via.clone(),
            association: link.association,
            label: link.label.clone(),
            label_type: Default::default(),
        });
    }
    Ok(resolved)
}
