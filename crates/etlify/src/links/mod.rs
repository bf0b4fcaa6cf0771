//! Links at run time (docs/MODELS.md, "Links"): what each record should
//! be linked to, against what `etlify_links` says it is, and the CRM
//! requests that bring the two in step.
//!
//! - `wanted.rs` reads, for a page of records, their targets in the
//!   database, the targets' CRM ids, and the links recorded for them:
//!   one [`LinkWork`] per record, and the targets not yet in the CRM (the
//!   record waits for them as for a sync dependency, `sync/dependencies.rs`);
//! - this file decides, as a pure function, which links to make and which
//!   to remove ([`LinkWork::changes`]); the sync decision
//!   (`sync/decision.rs`) asks it whether a record's links changed;
//! - `send.rs` makes and removes them through the CRM's associations,
//!   many per request, and records what the CRM accepted;
//! - `join_rows.rs` finds, for the complete check, the records whose
//!   join-table rows changed with no timestamp moved.
//!
//! On a CRM without associations (Airtable), links are payload fields
//! holding the targets' CRM ids ([`LinkWork::fields`]): part of the
//! payload and of its digest, sent with the record's properties.

pub(crate) mod join_rows;
mod send;
mod wanted;

use std::collections::HashSet;

use serde_json::Value;

pub(crate) use self::send::{apply, ToLink};
pub(crate) use self::wanted::{read, PageLinks, Unsynced};
use crate::id::ResourceId;
use crate::link::AssociationType;
use crate::store::links::LinkRow;
use crate::values::Payload;

/// One link a record should have, its target in the CRM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wanted {
    pub link_name: String,
    pub to_type: String,
    pub to_id: ResourceId,
    pub to_object_type: String,
    pub to_crm_id: String,
    pub association: AssociationType,
}

/// What is known of one record's links.
#[derive(Debug, Clone, Default)]
pub(crate) struct LinkWork {
    /// The links are payload fields (the CRM has no associations), by
    /// link name; no association is made.
    pub as_fields: Option<Vec<String>>,
    /// The links it should have whose targets have CRM ids.
    pub wanted: Vec<Wanted>,
    /// The links `etlify_links` records for it.
    pub recorded: Vec<LinkRow>,
}

/// The links to make and to remove for one record.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct LinkChanges {
    pub create: Vec<LinkRow>,
    pub archive: Vec<LinkRow>,
}

impl LinkWork {
    /// Whether there is nothing to compare: no association wanted or
    /// recorded (links as fields are compared through the digest).
    pub(crate) fn is_idle(&self) -> bool {
        self.as_fields.is_some() || (self.wanted.is_empty() && self.recorded.is_empty())
    }

    /// The links to make and to remove for record `id`, whose object of
    /// `from_object_type` is `from_crm_id`: wanted links not recorded as
    /// made between these CRM ids with this type, and recorded ones no
    /// longer wanted so (a target changed, or its object, or the type).
    pub(crate) fn changes(
        &self,
        id: ResourceId,
        from_object_type: &str,
        from_crm_id: &str,
    ) -> LinkChanges {
        if self.as_fields.is_some() {
            return LinkChanges::default();
        }
        let wanted: Vec<LinkRow> = self
            .wanted
            .iter()
            .map(|w| LinkRow {
                from_id: id.clone(),
                link_name: w.link_name.clone(),
                to_type: w.to_type.clone(),
                to_id: w.to_id.clone(),
                from_object_type: from_object_type.to_owned(),
                to_object_type: w.to_object_type.clone(),
                from_crm_id: from_crm_id.to_owned(),
                to_crm_id: w.to_crm_id.clone(),
                association: w.association.to_string(),
            })
            .collect();
        let recorded: HashSet<&LinkRow> = self.recorded.iter().collect();
        let still_wanted: HashSet<&LinkRow> = wanted.iter().collect();
        LinkChanges {
            archive: self
                .recorded
                .iter()
                .filter(|row| !still_wanted.contains(row))
                .cloned()
                .collect(),
            create: wanted
                .iter()
                .filter(|row| !recorded.contains(row))
                .cloned()
                .collect(),
        }
    }

    /// Whether the record's links differ from what is recorded, for its
    /// known object (`None`: none known, so every wanted link is new).
    pub(crate) fn changed(
        &self,
        id: ResourceId,
        from_object_type: &str,
        from_crm_id: Option<&str>,
    ) -> bool {
        if self.is_idle() {
            return false;
        }
        match from_crm_id {
            None => true,
            Some(crm_id) => self.changes(id, from_object_type, crm_id) != LinkChanges::default(),
        }
    }

    /// Adds the link fields to `payload` (a CRM without associations):
    /// each link's targets' CRM ids, sorted, an empty list when it has
    /// none (so that a removed link is cleared).
    pub(crate) fn fill_fields(&self, payload: &mut Payload) {
        let Some(names) = &self.as_fields else {
            return;
        };
        for name in names {
            let mut ids: Vec<&str> = self
                .wanted
                .iter()
                .filter(|w| &w.link_name == name)
                .map(|w| w.to_crm_id.as_str())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            payload.insert(
                name.clone(),
                Value::Array(
                    ids.into_iter()
                        .map(|id| Value::String(id.to_owned()))
                        .collect(),
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn wanted(to_id: i64, to_crm_id: &str) -> Wanted {
        Wanted {
            link_name: "company_id".into(),
            to_type: "Company".into(),
            to_id: ResourceId::new(to_id),
            to_object_type: "companies".into(),
            to_crm_id: to_crm_id.into(),
            association: AssociationType::Default,
        }
    }

    fn work(wanted: Vec<Wanted>, recorded: Vec<LinkRow>) -> LinkWork {
        LinkWork {
            as_fields: None,
            wanted,
            recorded,
        }
    }

    const ID: ResourceId = ResourceId::new(7);

    #[test]
    fn link_changes_make_new_links_and_remove_those_no_longer_wanted() {
        let first = work(vec![wanted(1, "c1")], Vec::new());
        let made = first.changes(ID, "contacts", "u7");
        assert_eq!(made.create.len(), 1);
        assert!(made.archive.is_empty());
        assert!(first.changed(ID, "contacts", Some("u7")));

        // Recorded as made: nothing changed.
        let same = work(vec![wanted(1, "c1")], made.create.clone());
        assert!(!same.changed(ID, "contacts", Some("u7")));

        // company_id changed: the old link goes, the new one comes.
        let moved = work(vec![wanted(2, "c2")], made.create.clone());
        let changes = moved.changes(ID, "contacts", "u7");
        assert_eq!(changes.archive, made.create);
        assert_eq!(changes.create[0].to_crm_id, "c2");

        // The record's object is another one now: links made again.
        let recreated = same.changes(ID, "contacts", "u8");
        assert_eq!((recreated.create.len(), recreated.archive.len()), (1, 1));

        // The type changed: the same pair, linked again with the new type.
        let mut typed = wanted(1, "c1");
        typed.association = AssociationType::Typed {
            category: crate::link::AssociationCategory::UserDefined,
            type_id: 3,
        };
        let retyped = work(vec![typed], made.create).changes(ID, "contacts", "u7");
        assert_eq!((retyped.create.len(), retyped.archive.len()), (1, 1));
    }

    #[test]
    fn link_fields_hold_the_targets_ids_sorted_and_are_cleared_when_empty() {
        let mut fields = work(vec![wanted(2, "recB"), wanted(1, "recA")], Vec::new());
        fields.as_fields = Some(vec!["company_id".into(), "tags".into()]);
        let mut payload = Payload::new();
        fields.fill_fields(&mut payload);
        assert_eq!(payload["company_id"], json!(["recA", "recB"]));
        assert_eq!(payload["tags"], json!([]));
        assert!(
            !fields.changed(ID, "Users", Some("rec1")),
            "the digest decides"
        );
    }
}
