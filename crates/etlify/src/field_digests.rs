//! Which payload fields changed since the last sync, without keeping the
//! payload (`crm_synchronisations.field_digests`, `etlify plan --diff`).
//!
//! Beside the payload's digest, each sync row keeps a short digest of each
//! field's value, in one compact line (the column is written with every
//! synced row, so it is kept small and cheap to build):
//!
//! ```text
//! v1:<first 16 hex of the payload digest>:<8 hex of the field names>:<8 hex per field>…
//! ```
//!
//! Fields are in the byte order of their names. Comparing a record's
//! current payload with it names the fields that changed, and no value is
//! stored. The payload digest ties the field digests to the `last_digest`
//! they were computed with: a row whose `last_digest` was written by
//! something else since (the Rails gem running beside us) has field
//! digests that no longer describe it, and they are not trusted. When the
//! payload's field names changed (a new payload query), which fields
//! changed is not known either.
//!
//! Eight hex characters (32 bits) per field: a change goes unnoticed by
//! the comparison once in four billion; the payload digest, not these,
//! decides what is sent.

use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::digest::canonical_json;

/// Hex characters of the payload digest kept.
const OF_LEN: usize = 16;
/// Hex characters kept per field (and for the names).
const FIELD_LEN: usize = 8;
const VERSION: &str = "v1";

/// The stored form for `payload`, whose digest is `digest`.
pub(crate) fn encode(payload: &Map<String, Value>, digest: &str) -> String {
    let names = sorted_names(payload);
    let mut out = String::with_capacity(VERSION.len() + OF_LEN + (names.len() + 1) * FIELD_LEN + 4);
    out.push_str(VERSION);
    out.push(':');
    out.push_str(prefix(digest, OF_LEN));
    out.push(':');
    push_short_hex(&names_digest(&names), &mut out);
    out.push(':');
    for name in &names {
        push_short_hex(
            &Sha256::digest(canonical_json(&payload[*name]).as_bytes()),
            &mut out,
        );
    }
    out
}

/// The fields whose value changed between the payload a row's field
/// digests describe and `payload`, sorted; `None` when that is not known:
/// no usable field digests (never written, written for another digest than
/// `last_digest`), or the payload's field names changed.
pub(crate) fn changed_fields(
    stored: Option<&str>,
    last_digest: Option<&str>,
    payload: &Map<String, Value>,
) -> Option<Vec<String>> {
    let mut parts = stored?.split(':');
    let (version, of, names_hex, fields_hex) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != VERSION || of != prefix(last_digest?, OF_LEN) {
        return None;
    }
    let names = sorted_names(payload);
    let mut expected_names = String::with_capacity(FIELD_LEN);
    push_short_hex(&names_digest(&names), &mut expected_names);
    if names_hex != expected_names || fields_hex.len() != names.len() * FIELD_LEN {
        return None;
    }
    let mut changed = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let mut current = String::with_capacity(FIELD_LEN);
        push_short_hex(
            &Sha256::digest(canonical_json(&payload[*name]).as_bytes()),
            &mut current,
        );
        if fields_hex.get(index * FIELD_LEN..(index + 1) * FIELD_LEN) != Some(current.as_str()) {
            changed.push((*name).to_owned());
        }
    }
    Some(changed)
}

fn sorted_names(payload: &Map<String, Value>) -> Vec<&str> {
    let mut names: Vec<&str> = payload.keys().map(String::as_str).collect();
    names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    names
}

fn names_digest(names: &[&str]) -> impl AsRef<[u8]> {
    let mut hasher = Sha256::new();
    for name in names {
        hasher.update(name.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize()
}

/// The first [`FIELD_LEN`] hex characters of `hash`.
fn push_short_hex(hash: &impl AsRef<[u8]>, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in hash.as_ref().iter().take(FIELD_LEN / 2) {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
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
    fn changed_fields_names_the_fields_whose_value_changed() {
        let before = map(json!({"email": "a@x.io", "name": "Ann", "vip": true, "tags": [1]}));
        let stored = encode(&before, "0123456789abcdef0123");
        let after = map(json!({"email": "a@x.io", "name": "Anne", "vip": false, "tags": [1]}));
        assert_eq!(
            changed_fields(Some(&stored), Some("0123456789abcdef0123"), &after),
            Some(vec!["name".to_owned(), "vip".to_owned()])
        );
        assert_eq!(
            changed_fields(Some(&stored), Some("0123456789abcdef0123"), &before),
            Some(Vec::new())
        );
        let renamed = map(json!({"email": "a@x.io", "full_name": "Ann", "vip": true, "tags": [1]}));
        assert_eq!(
            changed_fields(Some(&stored), Some("0123456789abcdef0123"), &renamed),
            None,
            "other field names: not known"
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
