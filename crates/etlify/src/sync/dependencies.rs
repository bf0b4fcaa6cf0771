//! `sync_dependencies`: a record waits until the records it references
//! have a CRM id (G-18).
//!
//! A dependency counts as synced when its sync row for the CRM has a
//! `crm_id`, or when its table has a legacy `<crm>_id` column that is not
//! blank. A dependency that itself waits on this record (a direct cycle)
//! is not waited for. Dependencies resolve by declared resource type, so
//! STI rows are found.

use sea_query::{Alias, Expr, ExprTrait, Query};

use crate::catalog::ResolvedSyncDependency;
use crate::context::{Context, Reason};
use crate::error::Result;
use crate::id::{ResourceId, SyncKey};
use crate::links::Unsynced;
use crate::store::pending::{self, PendingEdge};
use crate::store::{sync_rows, Store};

/// A referenced record that has no CRM id yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MissingDependency {
    pub model: String,
    pub id: ResourceId,
}

/// The sync dependencies of `(model, id)` that are not in the CRM yet.
pub(crate) async fn missing(
    ctx: &Context,
    crm: &str,
    model: &str,
    id: ResourceId,
    dependencies: &[ResolvedSyncDependency],
) -> Result<Vec<MissingDependency>> {
    let mut missing = Vec::new();
    if dependencies.is_empty() {
        return Ok(missing);
    }
    let store = ctx.store();
    let Some(owner) = ctx.catalog().resolved(model) else {
        return Ok(missing);
    };
    for dependency in dependencies {
        let Some(dep_id) = foreign_key_value(
            store,
            &owner.table,
            &owner.primary_key,
            &dependency.foreign_key,
            id.clone(),
        )
        .await?
        else {
            continue; // no referenced record: nothing to wait for
        };
        let key = SyncKey::new(crm, dependency.resource_type.as_str(), dep_id.clone());
        let synced = sync_rows::find(store, &key)
            .await?
            .and_then(|row| row.crm_id)
            .is_some_and(|crm_id| !crm_id.trim().is_empty());
        if synced || has_legacy_id(store, dependency, dep_id.clone()).await? {
            continue;
        }
        let unsynced = MissingDependency {
            model: dependency.resource_type.clone(),
            id: dep_id,
        };
        if waits_on(store, crm, (model, id.clone()), &unsynced).await? {
            missing.push(unsynced);
        }
    }
    Ok(missing)
}

/// Adds to `missing` the link targets of `(model, id)` without a CRM id
/// (`links/`) it waits for, by the same rule as its sync dependencies.
pub(crate) async fn add_missing_targets(
    ctx: &Context,
    crm: &str,
    (model, id): (&str, ResourceId),
    unsynced: Vec<Unsynced>,
    missing: &mut Vec<MissingDependency>,
) -> Result<()> {
    for target in unsynced {
        let target = MissingDependency {
            model: target.model,
            id: target.id,
        };
        if !missing.contains(&target)
            && waits_on(ctx.store(), crm, (model, id.clone()), &target).await?
        {
            missing.push(target);
        }
    }
    Ok(())
}

/// Whether `dependent` waits for `dependency`, which has no CRM id: it
/// does unless `dependency` itself waits on it (a direct cycle: as in the
/// gem, they do not wait on each other).
async fn waits_on(
    store: &Store,
    crm: &str,
    (model, id): (&str, ResourceId),
    dependency: &MissingDependency,
) -> Result<bool> {
    let reverse = PendingEdge {
        crm_name: crm,
        dependent_type: &dependency.model,
        dependent_id: dependency.id.clone(),
        dependency_type: model,
        dependency_id: id,
    };
    Ok(!pending::exists(store, &reverse).await?)
}

/// Records that `(model, id)` waits on each of `missing`.
pub(crate) async fn buffer(
    store: &Store,
    crm: &str,
    model: &str,
    id: ResourceId,
    missing: &[MissingDependency],
) -> Result<()> {
    for dependency in missing {
        pending::insert(
            store,
            &PendingEdge {
                crm_name: crm,
                dependent_type: model,
                dependent_id: id.clone(),
                dependency_type: &dependency.model,
                dependency_id: dependency.id.clone(),
            },
        )
        .await?;
    }
    Ok(())
}

/// Hands the sync of each missing dependency to the follow-up seam (the
/// gem enqueues them); a failure leaves the dependent buffered.
pub(crate) async fn sync_missing(ctx: &Context, crm: &str, missing: &[MissingDependency]) {
    for dependency in missing {
        let key = SyncKey::new(crm, dependency.model.as_str(), dependency.id.clone());
        if let Err(error) = ctx.follow_up().sync(ctx, key, Reason::Dependency).await {
            tracing::warn!(message = "Sync of a dependency failed.", crm, dependency_type = %dependency.model, dependency_id = %dependency.id, %error);
        }
    }
}

/// Hands the records that waited on any of `synced` (records of
/// `model` that now have a CRM id) to the follow-up seam, then
/// forgets exactly those waits (rows added meanwhile survive, as in the gem). One
/// query finds them per 1,000 ids.
pub(crate) async fn flush(
    ctx: &Context,
    crm: &str,
    model: &str,
    synced: &[ResourceId],
) -> Result<()> {
    if !ctx.catalog().has_dependents(crm, model) {
        return Ok(());
    }
    let mut waiting = Vec::new();
    for chunk in synced.chunks(1000) {
        waiting.extend(pending::waiting_on_any(ctx.store(), crm, model, chunk).await?);
    }
    if waiting.is_empty() {
        return Ok(());
    }
    for row in &waiting {
        if ctx.catalog().resolved(&row.dependent_type).is_none() {
            tracing::warn!(message = "Pending sync names an undeclared model; dropped.", crm, dependent_type = %row.dependent_type);
            continue;
        }
        let key = SyncKey::new(crm, row.dependent_type.as_str(), row.dependent_id.clone());
        if let Err(error) = ctx
            .follow_up()
            .sync(ctx, key, Reason::WaitingDependent)
            .await
        {
            // The dependent stays stale and the finder picks it up again.
            tracing::warn!(message = "Sync of a waiting dependent failed.", crm, dependent_type = %row.dependent_type, dependent_id = %row.dependent_id, %error);
        }
    }
    let ids: Vec<i64> = waiting.iter().map(|row| row.id).collect();
    pending::delete(ctx.store(), &ids).await
}

async fn foreign_key_value(
    store: &Store,
    table: &str,
    primary_key: &str,
    foreign_key: &str,
    id: ResourceId,
) -> Result<Option<ResourceId>> {
    let mut select = Query::select();
    select
        .expr(Expr::col(Alias::new(foreign_key)))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new(primary_key)).eq(id.value()));
    let (sql, values) = store.build(&select);
    let rows: Vec<(Option<ResourceId>,)> = store.fetch_all(sql, values).await?;
    Ok(rows.into_iter().next().and_then(|(v,)| v))
}

async fn has_legacy_id(
    store: &Store,
    dependency: &ResolvedSyncDependency,
    id: ResourceId,
) -> Result<bool> {
    let Some(column) = &dependency.legacy_id_column else {
        return Ok(false);
    };
    let mut select = Query::select();
    select
        .expr(Expr::col(Alias::new(column.as_str())).cast_as("text"))
        .from(Alias::new(dependency.table.as_str()))
        .and_where(Expr::col(Alias::new(dependency.primary_key.as_str())).eq(id.value()));
    let (sql, values) = store.build(&select);
    let rows: Vec<(Option<String>,)> = store.fetch_all(sql, values).await?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|(v,)| v)
        .is_some_and(|v| !v.trim().is_empty()))
}
