//! Makes and removes records' links through the CRM's associations, then
//! records what the CRM did in `etlify_links`.
//!
//! Removals go first (a changed type removes the pair's association
//! before the new one is made), then creations; each grouped by object
//! types and association type, at most the CRM's pairs per request, every
//! request counted in the CRM's limits. Both are safe to repeat, so a
//! request whose answer was lost is sent again, and a row written after a
//! crash is made again by the next sync: nothing is made twice and nothing
//! stale is left.

use std::collections::{BTreeMap, HashMap};

use super::LinkWork;
use crate::adapters::{AdapterError, AdapterErrorKind, AssociationPair};
use crate::catalog::Target;
use crate::context::Context;
use crate::crm::ThrottledAssociations;
use crate::error::{Error, Result};
use crate::id::ResourceId;
use crate::link::AssociationType;
use crate::store::links::{self, LinkRow};

/// A record whose links are brought in step: its object's CRM id.
#[derive(Debug, Clone)]
pub(crate) struct ToLink<'a> {
    pub id: ResourceId,
    pub from_crm_id: &'a str,
    pub work: &'a LinkWork,
}

/// One request's worth of rows: same object types, same association type.
type Groups = BTreeMap<(String, String, String), Vec<LinkRow>>;

/// Brings the links of `records` of `target` in step; answers the records
/// whose links the CRM refused, by id, with why (their other links stand).
/// A failure that is not a record's (the CRM unreachable after retries,
/// credentials refused) is returned as the error, after recording what was
/// done before it.
pub(crate) async fn apply(
    ctx: &Context,
    target: Target<'_>,
    records: &[ToLink<'_>],
) -> Result<HashMap<ResourceId, AdapterError>> {
    let mut refused = HashMap::new();
    let Some(associations) = target.crm.adapter().associations() else {
        return Ok(refused);
    };
    let mut archive = Groups::new();
    let mut create = Groups::new();
    for record in records.iter().filter(|r| !r.work.is_idle()) {
        let changes = record.work.changes(
            record.id.clone(),
            &target.binding.object_type,
            record.from_crm_id,
        );
        for row in changes.archive {
            archive.entry(group_of(&row)).or_default().push(row);
        }
        for row in changes.create {
            create.entry(group_of(&row)).or_default().push(row);
        }
    }
    let crm = target.crm.name.as_str();
    let model = target.model.resource_type.as_str();
    for (step, groups) in [(Step::Archive, archive), (Step::Create, create)] {
        for ((from_type, to_type, association), rows) in groups {
            let association = AssociationType::from_recorded(&association).ok_or_else(|| {
                Error::from_crm(
                    crm,
                    AdapterError::new(
                        AdapterErrorKind::Other,
                        format!("etlify_links holds an unknown association type {association:?}"),
                    ),
                )
            })?;
            for chunk in rows.chunks(associations.max_per_request()) {
                let done = send(
                    &associations,
                    step,
                    (&from_type, &to_type),
                    association,
                    chunk,
                    &mut refused,
                )
                .await
                .map_err(|error| Error::from_crm(crm, error))?;
                match step {
                    Step::Archive => links::forget(ctx.store(), crm, model, &done).await?,
                    Step::Create => links::record(ctx.store(), crm, model, &done).await?,
                }
            }
        }
    }
    Ok(refused)
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Archive,
    Create,
}

fn group_of(row: &LinkRow) -> (String, String, String) {
    (
        row.from_object_type.clone(),
        row.to_object_type.clone(),
        row.association.clone(),
    )
}

/// One request for `rows`; returns the rows the CRM did, and adds the
/// refused ones' records to `refused`.
async fn send(
    associations: &ThrottledAssociations<'_>,
    step: Step,
    object_types: (&str, &str),
    association: AssociationType,
    rows: &[LinkRow],
    refused: &mut HashMap<ResourceId, AdapterError>,
) -> std::result::Result<Vec<LinkRow>, AdapterError> {
    let pairs: Vec<AssociationPair<'_>> = rows
        .iter()
        .map(|row| AssociationPair {
            from: &row.from_crm_id,
            to: &row.to_crm_id,
        })
        .collect();
    let answer = match step {
        Step::Archive => {
            associations
                .dissociate(object_types, association, &pairs)
                .await
        }
        Step::Create => {
            associations
                .associate(object_types, association, &pairs)
                .await
        }
    };
    let refusals = match answer {
        Ok(refusals) => refusals.refused,
        // The whole request refused for its records' sake (an object
        // gone, a type unknown): each of its records fails.
        Err(error) if error.is_record_error() => (0..rows.len())
            .map(|index| (index, error.clone()))
            .collect(),
        Err(error) => return Err(error),
    };
    let mut done = vec![true; rows.len()];
    for (index, error) in refusals {
        // An association whose object is gone is gone with it.
        if matches!(step, Step::Archive) && error.kind() == AdapterErrorKind::NotFound {
            continue;
        }
        if let (Some(row), Some(flag)) = (rows.get(index), done.get_mut(index)) {
            *flag = false;
            refused.entry(row.from_id.clone()).or_insert(error);
        }
    }
    Ok(rows
        .iter()
        .zip(done)
        .filter(|(_, done)| *done)
        .map(|(row, _)| row.clone())
        .collect())
}
