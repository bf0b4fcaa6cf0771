//! Which payload fields changed since the last sync, without keeping the
//! payload (`crm_synchronisations.field_digests`, `etlify plan --diff`).
//!
//! Beside the payload's digest, each sync row keeps a short digest of each
//! field's value: `{"of":"<first 16 hex of the payload digest>",
//! "fields":{"email":"<8 hex>",…}}`. Comparing a record's current payload
//! with it names the fields that changed, and no value is stored. `of`
//! ties the field digests to the payload digest they were computed with:
//! a row whose `last_digest` was written by something else since (the
//! Rails gem running beside us) has field digests that no longer describe
//! it, and they are not trusted.
//!
//! Eight hex characters (32 bits) per field: a change goes unnoticed by
//! the comparison once in four billion; the payload digest, not these,
//! decides what is sent.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::digest::canonical_json;

/// Hex characters of the payload digest kept in `of`.
const OF_LEN: usize = 16;
/// Hex characters kept per field.
const FIELD_LEN: usize = 8;

/// The stored form for `payload`, whose digest is `digest`.
pub(crate) fn encode(payload: &Map<String, Value>, digest: &str) -> String {
    let fields: BTreeMap<&str, String> = payload
        .iter()
        .map(|(name, value)| (name.as_str(), short_digest(value)))
        .collect();
    serde_json::json!({ "of": prefix(digest, OF_LEN), "fields": fields }).to_string()
}

/// What changed between the payload a row's field digests describe and
/// `payload`: the fields added, changed or removed, sorted; `None` when the
/// row has no usable field digests (never written, or written for another
/// digest than `last_digest`).
pub(crate) fn changed_fields(
    stored: Option<&str>,
    last_digest: Option<&str>,
    payload: &Map<String, Value>,
) -> Option<Vec<String>> {
    let stored: Value = serde_json::from_str(stored?).ok()?;
    let of = stored.get("of")?.as_str()?;
    if of != prefix(last_digest?, OF_LEN) {
        return None;
    }
    let fields = stored.get("fields")?.as_object()?;
    let mut changed: Vec<String> = payload
        .iter()
        .filter(|(name, value)| {
            fields.get(name.as_str()).and_then(Value::as_str) != Some(short_digest(value).as_str())
        })
        .map(|(name, _)| name.clone())
        .collect();
    changed.extend(
        fields
            .keys()
            .filter(|name| !payload.contains_key(name.as_str()))
            .cloned(),
    );
    changed.sort();
    Some(changed)
}

fn short_digest(value: &Value) -> String {
    let hash = Sha256::digest(canonical_json(value).as_bytes());
    let mut hex = String::with_capacity(FIELD_LEN);
    for byte in hash.iter().take(FIELD_LEN / 2) {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

fn prefix(digest: &str, len: usize) -> &str {
    digest.get(..len).unwrap_or(digest)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn changed_fields_names_added_changed_and_removed_fields_only() {
        let before = map(json!({"email": "a@x.io", "name": "Ann", "vip": true}));
        let stored = encode(&before, "0123456789abcdef0123");
        let after = map(json!({"email": "a@x.io", "name": "Anne", "plan": "pro"}));
        assert_eq!(
            changed_fields(Some(&stored), Some("0123456789abcdef0123"), &after),
            Some(vec!["name".to_owned(), "plan".to_owned(), "vip".to_owned()])
        );
        assert_eq!(
            changed_fields(Some(&stored), Some("0123456789abcdef0123"), &before),
            Some(Vec::new())
        );
    }

    #[test]
    fn field_digests_of_another_payload_digest_are_not_trusted() {
        let payload = map(json!({"email": "a@x.io"}));
        let stored = encode(&payload, "aaaaaaaaaaaaaaaaaaaa");
        assert_eq!(
            changed_fields(Some(&stored), Some("bbbbbbbbbbbbbbbbbbbb"), &payload),
            None,
            "last_digest written by someone else since"
        );
        assert_eq!(changed_fields(None, Some("aaaa"), &payload), None);
        assert_eq!(
            changed_fields(Some("not json"), Some("aaaa"), &payload),
            None
        );
    }

    #[test]
    fn field_digests_keep_no_value() {
        let stored = encode(&map(json!({"email": "secret@x.io"})), "0123456789abcdef");
        assert!(!stored.contains("secret"), "{stored}");
    }
}
