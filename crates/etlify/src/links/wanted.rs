//! What a page of records should be linked to: their targets in the
//! database (one query per link), the targets' CRM ids (their sync rows,
//! one query per target model), and what `etlify_links` records for them
//! (one query). Nothing is read for a binding without links.

use std::collections::HashMap;

use sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};

use super::{LinkWork, Wanted};
use crate::adapters::{AdapterError, AdapterErrorKind};
use crate::catalog::{ResolvedLink, Target};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::id::{KeyType, ResourceId};
use crate::link::{AssociationType, LinkVia};
use crate::store::{links, sync_rows, Store};

/// A target a record should be linked to that has no CRM id yet: the
/// record waits for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unsynced {
    pub model: String,
    pub id: ResourceId,
}

/// The links of a page of records, taken out record by record.
#[derive(Debug, Default)]
pub(crate) struct PageLinks {
    work: HashMap<ResourceId, LinkWork>,
    unsynced: HashMap<ResourceId, Vec<Unsynced>>,
    /// Links are payload fields (the CRM has no associations).
    as_fields: Option<Vec<String>>,
}

impl PageLinks {
    /// Record `id`'s links, and its targets not yet in the CRM.
    pub(crate) fn take(&mut self, id: ResourceId) -> (LinkWork, Vec<Unsynced>) {
        let mut work = self.work.remove(&id).unwrap_or_default();
        if work.as_fields.is_none() {
            work.as_fields = self.as_fields.clone();
        }
        (work, self.unsynced.remove(&id).unwrap_or_default())
    }
}

/// Reads the links of records `ids` of `target`'s model in `crm`.
pub(crate) async fn read(
    ctx: &Context,
    target: Target<'_>,
    crm: &str,
    ids: &[ResourceId],
) -> Result<PageLinks> {
    let declared = &target.binding.links;
    let mut page = PageLinks::default();
    if declared.is_empty() || ids.is_empty() {
        return Ok(page);
    }
    let store = ctx.store();
    let as_fields = target.crm.adapter().associations().is_none();
    if as_fields {
        page.as_fields = Some(declared.iter().map(|l| l.name.clone()).collect());
    }
    // (record, link, target id) of every link of the page.
    let mut pairs: Vec<(ResourceId, &ResolvedLink, ResourceId)> = Vec::new();
    for link in declared {
        let select = targets_of(target, link, ids);
        let (sql, values) = store.build(&select);
        let rows: Vec<(Option<ResourceId>, Option<ResourceId>)> =
            store.fetch_all(sql, values).await?;
        pairs.extend(
            rows.into_iter()
                .filter_map(|(owner, to)| Some((owner?, link, to?))),
        );
    }
    let crm_ids = target_crm_ids(store, crm, &pairs).await?;
    let mut types = HashMap::new();
    for link in declared {
        types.insert(link.name.as_str(), association_type(target, link).await?);
    }
    for (owner, link, to) in pairs {
        match crm_ids.get(&(link.target.as_str(), to.clone())) {
            Some(to_crm_id) => page.work.entry(owner).or_default().wanted.push(Wanted {
                link_name: link.name.clone(),
                to_type: link.target.clone(),
                to_id: to,
                to_object_type: link.target_object_type.clone(),
                to_crm_id: to_crm_id.clone(),
                association: types
                    .get(link.name.as_str())
                    .copied()
                    .unwrap_or(link.association),
            }),
            None => page.unsynced.entry(owner).or_default().push(Unsynced {
                model: link.target.clone(),
                id: to,
            }),
        }
    }
    if !as_fields {
        let model = target.model.resource_type.as_str();
        for row in links::recorded(store, crm, model, ids).await? {
            page.work
                .entry(row.from_id.clone())
                .or_default()
                .recorded
                .push(row);
        }
    }
    for work in page.work.values_mut() {
        work.wanted.sort_by(|a, b| {
            (a.link_name.as_str(), &a.to_id).cmp(&(b.link_name.as_str(), &b.to_id))
        });
        work.wanted.dedup();
    }
    Ok(page)
}

/// The association type of `link`: declared, or named by a label the CRM
/// says the type of (read once per engine, when first needed). A label the
/// CRM does not have stops the run: no record could be linked.
async fn association_type(target: Target<'_>, link: &ResolvedLink) -> Result<AssociationType> {
    let Some(label) = &link.label else {
        return Ok(link.association);
    };
    if let Some(known) = link.label_type.get() {
        return Ok(*known);
    }
    let crm = target.crm.name.as_str();
    let Some(associations) = target.crm.adapter().associations() else {
        return Ok(link.association);
    };
    let types = (
        target.binding.object_type.as_str(),
        link.target_object_type.as_str(),
    );
    let found = associations
        .label_type(types, label)
        .await
        .map_err(|error| Error::from_crm(crm, error))?;
    let Some(found) = found else {
        return Err(Error::from_crm(
            crm,
            AdapterError::new(
                AdapterErrorKind::ValidationFailed,
                format!(
                    "link {}: {crm} has no association label {label:?} from {} to {}",
                    link.name, types.0, types.1
                ),
            ),
        ));
    };
    Ok(*link.label_type.get_or_init(|| found))
}

/// `SELECT owner id, target id` of `link` for records `ids`.
fn targets_of(target: Target<'_>, link: &ResolvedLink, ids: &[ResourceId]) -> SelectStatement {
    let model = target.model;
    // Each side's keys as its model's key type selects them.
    let key_of = |key_type: KeyType, column: &str| key_type.selected(Expr::col(Alias::new(column)));
    let owner = |column: &str| key_of(model.model.get_key_type(), column);
    let targeted = |column: &str| key_of(link.target_key_type, column);
    let in_ids =
        |column: &str| Expr::col(Alias::new(column)).is_in(ids.iter().map(|id| id.value()));
    let mut select = Query::select();
    match &link.via {
        LinkVia::BelongsTo { foreign_key } => {
            select
                .expr(owner(&model.primary_key))
                .expr(targeted(foreign_key))
                .from(Alias::new(model.table.as_str()))
                .and_where(in_ids(&model.primary_key))
                .and_where(Expr::col(Alias::new(foreign_key)).is_not_null());
        }
        LinkVia::HasMany { foreign_key } => {
            select
                .expr(owner(foreign_key))
                .expr(targeted(&link.target_primary_key))
                .from(Alias::new(link.target_table.as_str()))
                .and_where(in_ids(foreign_key));
        }
        LinkVia::JoinTable {
            table,
            owner_column,
            target_column,
        } => {
            select
                .expr(owner(owner_column))
                .expr(targeted(target_column))
                .from(Alias::new(table.as_str()))
                .and_where(in_ids(owner_column))
                .and_where(Expr::col(Alias::new(target_column)).is_not_null());
        }
        LinkVia::Polymorphic {
            type_column,
            id_column,
            type_value,
        } => {
            select
                .expr(owner(&model.primary_key))
                .expr(targeted(id_column))
                .from(Alias::new(model.table.as_str()))
                .and_where(in_ids(&model.primary_key))
                .and_where(Expr::col(Alias::new(type_column)).eq(type_value.as_str()))
                .and_where(Expr::col(Alias::new(id_column)).is_not_null());
        }
    }
    select
}

/// The CRM ids of the targets in `pairs`, by (model, id): their sync rows
/// with a CRM id that is not blank.
async fn target_crm_ids<'a>(
    store: &Store,
    crm: &str,
    pairs: &[(ResourceId, &'a ResolvedLink, ResourceId)],
) -> Result<HashMap<(&'a str, ResourceId), String>> {
    let mut by_model: HashMap<&'a str, Vec<ResourceId>> = HashMap::new();
    for (_, link, to) in pairs {
        by_model
            .entry(link.target.as_str())
            .or_default()
            .push(to.clone());
    }
    let mut crm_ids = HashMap::new();
    for (model, mut ids) in by_model {
        ids.sort_unstable();
        ids.dedup();
        for row in sync_rows::find_many(store, crm, model, &ids).await? {
            if let Some(crm_id) = row.crm_id.filter(|c| !c.trim().is_empty()) {
                crm_ids.insert((model, row.resource_id), crm_id);
            }
        }
    }
    Ok(crm_ids)
}
