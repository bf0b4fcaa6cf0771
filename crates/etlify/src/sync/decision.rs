//! The sync decision: what happens to one record, from what is known of
//! it. One pure function, [`decide`], called by the per-record path
//! (`synchronizer.rs`) and the page path (`page.rs`) alike, so every rule
//! (and every rule added later: modes, deletes, matching) is written once.
//!
//! The rules, in order (docs/BEHAVIOUR.md):
//! 1. the record is gone since it was found → [`Decision::Vanished`];
//! 2. marked deleted (`soft_delete_column`) → [`Decision::Skip`] (its
//!    object is archived by the run, when asked: `runs/archiving.rs`);
//! 3. a SQL `sync_if` it does not pass → [`Decision::Skip`], or,
//!    with `on_leave_scope = archive` and a CRM id, [`Decision::Leave`];
//! 4. its payload could not be built → [`Decision::Fail`];
//! 5. a payload `sync_if` it does not pass → as rule 3;
//! 6. a sync dependency or a link target without a CRM id →
//!    [`Decision::Buffer`] (G-18); links that are payload fields (a CRM
//!    without associations) are added to the payload here;
//! 7. the payload's digest is the row's `last_digest` → [`Decision::InSync`],
//!    unless its links changed (`links/`): then [`Decision::Send`] of its
//!    links alone, no property re-sent;
//! 8. `mode = create_only` and the row knows the record's object →
//!    [`Decision::Skip`]: an object that exists is never updated;
//! 9. otherwise → [`Decision::Send`], with the CRM id the row knows;
//!    the mode goes with it (`update_only`: no create, the answer then
//!    stamps the row, [`crate::SyncOutcome::NoObjectToUpdate`]).
//!
//! What the CRM answers to a sent record is turned into its row change by
//! [`after_answer`], also pure. Neither reads the database nor calls an
//! adapter: the callers gather the facts ([`Known`]) and carry out the
//! decision.

use serde_json::Value;

use super::dependencies::MissingDependency;
use crate::catalog::ResolvedBinding;
use crate::delete_policy::Disposal;
use crate::digest::DigestStrategy;
use crate::field_digests;
use crate::id::ResourceId;
use crate::links::LinkWork;
use crate::model::SyncIf;
use crate::outcome::{RecordError, RecordErrorKind};
use crate::store::sync_rows::{RowChange, SyncRow};
use crate::store::Timestamp;
use crate::values::Payload;

/// What holds for every record of one (model, CRM) decided at one time.
#[derive(Clone, Copy)]
pub(crate) struct Rules<'a> {
    /// The model's binding to the CRM (its guards, its external id).
    pub binding: &'a ResolvedBinding,
    /// The model's resource type (for the external id's value).
    pub model: &'a str,
    /// How payloads are digested.
    pub digest: &'a dyn DigestStrategy,
    /// The database time before the records were read: the time they are
    /// in sync as of.
    pub read_at: Timestamp,
}

/// What the payload source answered for a record.
#[derive(Debug)]
pub(crate) enum Loaded {
    /// No row: the record was deleted since it was found.
    Gone,
    /// The payload could not be built (the source's message).
    Failed(String),
    /// The record's payload.
    Payload(Payload),
}

impl From<Option<std::result::Result<Payload, String>>> for Loaded {
    fn from(loaded: Option<std::result::Result<Payload, String>>) -> Self {
        match loaded {
            None => Loaded::Gone,
            Some(Err(message)) => Loaded::Failed(message),
            Some(Ok(payload)) => Loaded::Payload(payload),
        }
    }
}

/// What is known of one record when its sync is decided.
#[derive(Debug)]
pub(crate) struct Known<'a> {
    /// The record's id.
    pub id: ResourceId,
    /// Its sync row for the CRM, if it has one.
    pub row: Option<&'a SyncRow>,
    /// How it fares against the binding's SQL conditions.
    pub sql_guard: SqlGuard,
    /// Its payload, as loaded (not loaded when the SQL guard failed).
    pub loaded: Loaded,
    /// Its sync dependencies and link targets without a CRM id (empty
    /// when none are declared or all are in the CRM).
    pub missing: Vec<MissingDependency>,
    /// Its links: what they should be, what is recorded.
    pub links: LinkWork,
}

/// How a record fares against its binding's SQL conditions
/// (`guard.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SqlGuard {
    /// It passes them (or there are none).
    Passes,
    /// Its row is marked deleted (`soft_delete_column`).
    SoftDeleted,
    /// It fails the SQL `sync_if`.
    FailsSyncIf,
}

/// What happens to one record.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Gone since it was found: nothing to write or send.
    Vanished,
    /// Not eligible (`sync_if` false): in sync as of the read, nothing sent.
    Skip(RowChange),
    /// A failure attributable to the record, recorded on its row.
    Fail(RecordError),
    /// Waits for these dependencies to get a CRM id.
    Buffer(Vec<MissingDependency>),
    /// Same payload as last sent: the row is stamped, nothing sent.
    InSync(RowChange),
    /// Out of the binding's scope (`sync_if` false) with an object in the
    /// CRM, whose binding archives such objects (`on_leave_scope =
    /// archive`): nothing written, the run archives it (the CRM id).
    Leave(String),
    /// The payload changed: send it.
    Send(Outgoing),
}

/// A record to send, and what its row becomes when the CRM accepts it.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The record's id.
    pub id: ResourceId,
    /// What to send (with the external id, when one is declared).
    pub payload: Payload,
    /// The payload's digest (without the external id, as the gem's).
    pub digest: String,
    /// The payload's field digests.
    pub field_digests: String,
    /// The CRM id its row knows, if any.
    pub crm_id: Option<String>,
    /// Its sync row exists and holds no error: an answer keeping its CRM
    /// id rewrites only digests and time ([`RowChange::Resynced`]).
    pub clean_row: bool,
    /// It had no sync row: sending it adds one.
    pub new_row: bool,
    /// The id property is for matching only (`match_by`): written when
    /// the object is created, never on one that exists.
    pub id_property_only_on_create: bool,
    /// Its properties changed: they are sent. Otherwise only its links
    /// changed, and only they are sent, to the known object.
    pub send_properties: bool,
    /// Its links, brought in step once the object is known.
    pub links: LinkWork,
}

/// Decides what happens to one record (the rules are in the module doc).
pub(crate) fn decide(rules: &Rules<'_>, known: Known<'_>) -> Decision {
    let Known {
        id,
        row,
        sql_guard,
        loaded,
        missing,
        links,
    } = known;
    let skip = || {
        Decision::Skip(RowChange::Checked {
            at: rules.read_at,
            field_digests: None,
        })
    };
    // Out of scope: archived when the binding says so and the CRM has it.
    let out_of_scope = || {
        let crm_id = row
            .and_then(|r| r.crm_id.as_deref())
            .filter(|crm_id| addresses_an_object(crm_id));
        match crm_id {
            Some(crm_id) if rules.binding.on_leave_scope == Disposal::Archive => {
                Decision::Leave(crm_id.to_owned())
            }
            _ => skip(),
        }
    };
    if matches!(loaded, Loaded::Gone) {
        return Decision::Vanished;
    }
    match sql_guard {
        SqlGuard::Passes => {}
        SqlGuard::SoftDeleted => return skip(),
        SqlGuard::FailsSyncIf => return out_of_scope(),
    }
    let payload = match loaded {
        Loaded::Gone => return Decision::Vanished,
        Loaded::Failed(message) => {
            return Decision::Fail(RecordError::new(
                RecordErrorKind::Payload,
                format!("payload: {message}"),
            ))
        }
        Loaded::Payload(payload) => payload,
    };
    let mut payload = payload;
    let known_crm_id = row
        .and_then(|r| r.crm_id.clone())
        .filter(|crm_id| addresses_an_object(crm_id));
    // match_by: the match column's value goes to the matched property.
    if let Some(column) = &rules.binding.match_column {
        let value = payload.remove(column).filter(|v| !is_blank(v));
        match value {
            Some(value) => {
                payload.insert(rules.binding.id_property.clone(), value);
            }
            None if known_crm_id.is_none() => {
                return Decision::Fail(RecordError::new(
                    RecordErrorKind::Payload,
                    format!(
                        "match_by: column `{column}` is blank, and no CRM object is known: \
                         the record is not created without a value to match it by"
                    ),
                ))
            }
            None => {}
        }
    }
    if let Some(SyncIf::Payload(predicate)) = &rules.binding.sync_if {
        if !predicate(&payload) {
            return out_of_scope();
        }
    }
    if !missing.is_empty() {
        return Decision::Buffer(missing);
    }
    links.fill_fields(&mut payload);

    let payload = Value::Object(payload);
    let digest = rules.digest.digest(&payload);
    let Value::Object(payload) = payload else {
        unreachable!("built from an object just above");
    };
    let clean_row = row.is_some_and(|r| r.error_count == 0 && r.last_error.is_none());
    let object_type = rules.binding.object_type.as_str();
    if row.and_then(|r| r.last_digest.as_deref()) == Some(digest.as_str()) {
        let relink = known_crm_id
            .as_ref()
            .filter(|c| links.changed(id.clone(), object_type, Some(c.as_str())))
            .cloned();
        if let Some(crm_id) = relink {
            // Only its links changed: they alone are sent.
            return Decision::Send(Outgoing {
                id: id.clone(),
                field_digests: field_digests::encode(&payload, &digest),
                payload: rules.binding.with_external_id(rules.model, id, payload),
                digest,
                crm_id: Some(crm_id),
                clean_row,
                new_row: false,
                id_property_only_on_create: rules.binding.match_column.is_some(),
                send_properties: false,
                links,
            });
        }
        let missing_field_digests = row.is_some_and(|r| r.field_digests.is_none());
        let change = if clean_row && !missing_field_digests {
            RowChange::Rechecked { at: rules.read_at }
        } else {
            RowChange::Checked {
                at: rules.read_at,
                field_digests: missing_field_digests
                    .then(|| field_digests::encode(&payload, &digest)),
            }
        };
        return Decision::InSync(change);
    }
    let crm_id = known_crm_id;
    if crm_id.is_some() && !rules.binding.mode.updates_known_objects() {
        // create_only: the object exists, and is never updated.
        return skip();
    }
    Decision::Send(Outgoing {
        id: id.clone(),
        field_digests: field_digests::encode(&payload, &digest),
        payload: rules.binding.with_external_id(rules.model, id, payload),
        digest,
        crm_id,
        clean_row,
        new_row: row.is_none(),
        id_property_only_on_create: rules.binding.match_column.is_some(),
        send_properties: true,
        links,
    })
}

/// Whether a match value is blank: null, or a string of spaces.
fn is_blank(value: &Value) -> bool {
    value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty())
}

/// Whether a stored CRM id can name an object in a CRM's URL: not blank,
/// and not `.` or `..`, which URL normalisation resolves away (such a row
/// was written by hand or by another tool). One that cannot is not sent:
/// the record is matched again by its id property and the id the CRM
/// answers replaces it.
fn addresses_an_object(crm_id: &str) -> bool {
    !matches!(crm_id.trim(), "" | "." | "..")
}

/// The row change of a sent record the CRM accepted, answering `crm_id`
/// (blank or absent: it named none).
pub(crate) fn after_answer(sent: &Outgoing, crm_id: Option<String>, at: Timestamp) -> RowChange {
    let crm_id = crm_id.filter(|c| !c.trim().is_empty());
    let keeps_crm_id = sent.crm_id.is_some() && (crm_id.is_none() || crm_id == sent.crm_id);
    if sent.clean_row && keeps_crm_id {
        RowChange::Resynced {
            crm_id: sent.crm_id.clone(),
            digest: sent.digest.clone(),
            field_digests: sent.field_digests.clone(),
            at,
        }
    } else {
        RowChange::Synced {
            crm_id,
            digest: sent.digest.clone(),
            field_digests: sent.field_digests.clone(),
            at,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::digest::StableSha256;
    use crate::payload::SqlPayload;

    fn at() -> Timestamp {
        chrono::DateTime::from_timestamp(1_700_000_000, 0)
            .map(|t| t.naive_utc())
            .unwrap_or_default()
    }

    fn payload(value: Value) -> Payload {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("test payloads are objects"),
        }
    }

    fn digest_of(value: &Value) -> String {
        StableSha256.digest(value)
    }

    fn row(digest: Option<&str>, crm_id: Option<&str>, error_count: i64) -> SyncRow {
        SyncRow {
            id: 1,
            crm_id: crm_id.map(str::to_owned),
            resource_type: "User".into(),
            resource_id: ResourceId::new(7),
            last_digest: digest.map(str::to_owned),
            field_digests: Some("v1:x".into()),
            last_synced_at: Some(at()),
            last_error: (error_count > 0).then(|| "boom".to_owned()),
            crm_name: "hubspot".into(),
            error_count,
        }
    }

    fn known(row: Option<&SyncRow>, loaded: Loaded) -> Known<'_> {
        Known {
            id: ResourceId::new(7),
            row,
            sql_guard: SqlGuard::Passes,
            loaded,
            missing: Vec::new(),
            links: LinkWork::default(),
        }
    }

    fn decide_with(binding: &ResolvedBinding, known: Known<'_>) -> Decision {
        let rules = Rules {
            binding,
            model: "User",
            digest: &StableSha256,
            read_at: at(),
        };
        decide(&rules, known)
    }

    fn plain() -> ResolvedBinding {
        ResolvedBinding {
            object_type: "contacts".into(),
            id_property: "email".into(),
            match_property: "email".into(),
            external_id: None,
            payload: Arc::new(SqlPayload::new("SELECT id, email FROM users")),
            sync_if: None,
            stale_scope: None,
            dependencies: Vec::new(),
            sync_dependencies: Vec::new(),
            links: Vec::new(),
            match_column: None,
            mode: crate::WriteMode::Upsert,
            on_delete: crate::Disposal::Keep,
            on_leave_scope: crate::Disposal::Keep,
            max_deletes_per_run: crate::DEFAULT_DELETE_LIMIT,
        }
    }

    fn guarded(predicate: impl Fn(&Payload) -> bool + Send + Sync + 'static) -> ResolvedBinding {
        ResolvedBinding {
            sync_if: Some(SyncIf::Payload(Arc::new(predicate))),
            ..plain()
        }
    }

    fn alice() -> Value {
        json!({"email": "a@example.com", "name": "Alice"})
    }

    #[test]
    fn decide_a_record_gone_since_it_was_found_vanishes() {
        let decision = decide_with(&plain(), known(None, Loaded::Gone));
        assert!(matches!(decision, Decision::Vanished), "{decision:?}");
    }

    #[test]
    fn decide_a_record_failing_the_sql_guard_is_skipped_without_a_payload() {
        let mut known = known(None, Loaded::Payload(payload(alice())));
        known.sql_guard = SqlGuard::FailsSyncIf;
        let decision = decide_with(&plain(), known);
        assert!(
            matches!(
                decision,
                Decision::Skip(RowChange::Checked {
                    field_digests: None,
                    ..
                })
            ),
            "{decision:?}"
        );
    }

    #[test]
    fn decide_out_of_scope_with_a_crm_id_is_left_to_archive_when_the_binding_says_so() {
        let archiving = |binding: ResolvedBinding| ResolvedBinding {
            on_leave_scope: crate::Disposal::Archive,
            ..binding
        };
        let row = row(Some("digest"), Some("101"), 0);
        // A SQL sync_if, then a payload one, no longer holding.
        let mut failing_sql = known(Some(&row), Loaded::Payload(payload(alice())));
        failing_sql.sql_guard = SqlGuard::FailsSyncIf;
        let decision = decide_with(&archiving(plain()), failing_sql);
        assert!(
            matches!(&decision, Decision::Leave(id) if id == "101"),
            "{decision:?}"
        );
        let refusing = archiving(guarded(|_: &Payload| false));
        let decision = decide_with(
            &refusing,
            known(Some(&row), Loaded::Payload(payload(alice()))),
        );
        assert!(
            matches!(&decision, Decision::Leave(id) if id == "101"),
            "{decision:?}"
        );
        // Without a CRM id there is nothing to archive; marked deleted is
        // on_delete's, not on_leave_scope's.
        let decision = decide_with(&refusing, known(None, Loaded::Payload(payload(alice()))));
        assert!(matches!(decision, Decision::Skip(_)), "{decision:?}");
        let mut soft_deleted = known(Some(&row), Loaded::Payload(payload(alice())));
        soft_deleted.sql_guard = SqlGuard::SoftDeleted;
        let decision = decide_with(&archiving(plain()), soft_deleted);
        assert!(matches!(decision, Decision::Skip(_)), "{decision:?}");
    }

    #[test]
    fn decide_a_payload_that_failed_to_load_fails_the_record() {
        let decision = decide_with(&plain(), known(None, Loaded::Failed("bad cast".into())));
        let Decision::Fail(error) = decision else {
            panic!("expected a failure, got {decision:?}");
        };
        assert_eq!(error.kind, RecordErrorKind::Payload);
        assert_eq!(error.message, "payload: bad cast");
    }

    #[test]
    fn decide_a_payload_guard_that_says_no_skips_the_record() {
        let binding = guarded(|p: &Payload| p.get("name") != Some(&json!("Alice")));
        let decision = decide_with(&binding, known(None, Loaded::Payload(payload(alice()))));
        assert!(matches!(decision, Decision::Skip(_)), "{decision:?}");
    }

    #[test]
    fn decide_a_payload_guard_is_checked_before_the_dependencies() {
        let binding = guarded(|_: &Payload| false);
        let mut known = known(None, Loaded::Payload(payload(alice())));
        known.missing = vec![MissingDependency {
            model: "Company".into(),
            id: ResourceId::new(3),
        }];
        assert!(matches!(decide_with(&binding, known), Decision::Skip(_)));
    }

    #[test]
    fn decide_a_missing_sync_dependency_buffers_the_record() {
        let mut known = known(None, Loaded::Payload(payload(alice())));
        let company = MissingDependency {
            model: "Company".into(),
            id: ResourceId::new(3),
        };
        known.missing = vec![company.clone()];
        let decision = decide_with(&plain(), known);
        let Decision::Buffer(missing) = decision else {
            panic!("expected buffering, got {decision:?}");
        };
        assert_eq!(missing, vec![company]);
    }

    #[test]
    fn decide_a_new_record_is_sent_without_a_crm_id() {
        let decision = decide_with(&plain(), known(None, Loaded::Payload(payload(alice()))));
        let Decision::Send(out) = decision else {
            panic!("expected a send, got {decision:?}");
        };
        assert_eq!(out.digest, digest_of(&alice()));
        assert_eq!(out.crm_id, None);
        assert!(out.new_row);
        assert!(!out.clean_row);
        assert_eq!(Value::Object(out.payload), alice());
    }

    #[test]
    fn decide_an_unchanged_payload_on_a_clean_row_only_restamps_it() {
        let digest = digest_of(&alice());
        let row = row(Some(&digest), Some("101"), 0);
        let decision = decide_with(
            &plain(),
            known(Some(&row), Loaded::Payload(payload(alice()))),
        );
        assert!(
            matches!(decision, Decision::InSync(RowChange::Rechecked { at: t }) if t == at()),
            "{decision:?}"
        );
    }

    #[test]
    fn decide_an_unchanged_payload_on_a_failing_row_clears_its_errors() {
        let digest = digest_of(&alice());
        let row = row(Some(&digest), Some("101"), 2);
        let decision = decide_with(
            &plain(),
            known(Some(&row), Loaded::Payload(payload(alice()))),
        );
        assert!(
            matches!(
                decision,
                Decision::InSync(RowChange::Checked {
                    field_digests: None,
                    ..
                })
            ),
            "{decision:?}"
        );
    }

    #[test]
    fn decide_an_unchanged_payload_fills_field_digests_a_gem_row_lacks() {
        let digest = digest_of(&alice());
        let mut row = row(Some(&digest), Some("101"), 0);
        row.field_digests = None;
        let decision = decide_with(
            &plain(),
            known(Some(&row), Loaded::Payload(payload(alice()))),
        );
        let Decision::InSync(RowChange::Checked {
            field_digests: Some(fields),
            ..
        }) = decision
        else {
            panic!("expected the field digests filled, got {decision:?}");
        };
        assert_eq!(
            fields,
            field_digests::encode(&payload(alice()), &digest),
            "the field digests of the unchanged payload"
        );
    }

    #[test]
    fn decide_a_changed_payload_is_sent_with_the_known_crm_id() {
        let row = row(Some("old digest"), Some("101"), 0);
        let decision = decide_with(
            &plain(),
            known(Some(&row), Loaded::Payload(payload(alice()))),
        );
        let Decision::Send(out) = decision else {
            panic!("expected a send, got {decision:?}");
        };
        assert_eq!(out.crm_id.as_deref(), Some("101"));
        assert!(out.clean_row);
        assert!(!out.new_row);
    }

    #[test]
    fn decide_a_stored_crm_id_that_cannot_address_an_object_is_not_used() {
        for hostile in [".", "..", " .. "] {
            let row = row(Some("old digest"), Some(hostile), 0);
            let decision = decide_with(
                &plain(),
                known(Some(&row), Loaded::Payload(payload(alice()))),
            );
            let Decision::Send(out) = decision else {
                panic!("expected a send, got {decision:?}");
            };
            assert_eq!(out.crm_id, None, "{hostile:?}");
        }
    }

    #[test]
    fn decide_a_blank_known_crm_id_is_not_used() {
        let row = row(Some("old digest"), Some("  "), 0);
        let decision = decide_with(
            &plain(),
            known(Some(&row), Loaded::Payload(payload(alice()))),
        );
        let Decision::Send(out) = decision else {
            panic!("expected a send, got {decision:?}");
        };
        assert_eq!(out.crm_id, None);
    }

    #[test]
    fn decide_the_external_id_is_sent_but_not_digested() {
        let binding = ResolvedBinding {
            external_id: Some("etlify_id".into()),
            match_property: "etlify_id".into(),
            ..plain()
        };
        let decision = decide_with(&binding, known(None, Loaded::Payload(payload(alice()))));
        let Decision::Send(out) = decision else {
            panic!("expected a send, got {decision:?}");
        };
        assert_eq!(out.payload.get("etlify_id"), Some(&json!("User:7")));
        assert_eq!(out.digest, digest_of(&alice()));
    }

    #[test]
    fn decide_after_an_answer_keeping_the_crm_id_a_clean_row_is_resynced() {
        let row = row(Some("old digest"), Some("101"), 0);
        let Decision::Send(out) = decide_with(
            &plain(),
            known(Some(&row), Loaded::Payload(payload(alice()))),
        ) else {
            panic!("expected a send");
        };
        for answer in [None, Some("101".to_owned()), Some(" ".to_owned())] {
            assert!(matches!(
                after_answer(&out, answer, at()),
                RowChange::Resynced { crm_id: Some(ref id), .. } if id == "101"
            ));
        }
        assert!(matches!(
            after_answer(&out, Some("202".into()), at()),
            RowChange::Synced { crm_id: Some(ref id), .. } if id == "202"
        ));
    }

    #[test]
    fn decide_after_an_answer_a_new_or_failing_row_is_written_whole() {
        let Decision::Send(new) =
            decide_with(&plain(), known(None, Loaded::Payload(payload(alice()))))
        else {
            panic!("expected a send");
        };
        assert!(matches!(
            after_answer(&new, Some("9".into()), at()),
            RowChange::Synced { crm_id: Some(ref id), .. } if id == "9"
        ));
        let failing = row(Some("old digest"), Some("101"), 3);
        let Decision::Send(retried) = decide_with(
            &plain(),
            known(Some(&failing), Loaded::Payload(payload(alice()))),
        ) else {
            panic!("expected a send");
        };
        assert!(matches!(
            after_answer(&retried, None, at()),
            RowChange::Synced { crm_id: None, .. }
        ));
    }
}
