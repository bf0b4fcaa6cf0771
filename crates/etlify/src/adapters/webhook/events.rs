//! The JSON a request carries: `{"id": <request key>, "events": [...]}`,
//! each event with its own idempotency key: a digest of what the event
//! says and of the call that sends it. Every attempt of a request (a
//! retry after a 5xx, a 429 or a lost answer) sends the same bytes, so
//! the receiver applies each event once; a later call sends new keys, so
//! a value written again after another (A, B, then A) is applied again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use sha2_mac::{Digest, Sha256};

use super::signature::hex;
use crate::adapters::{AdapterError, AdapterErrorKind};
use crate::payload::Payload;

/// One event of a request.
#[derive(Debug, Clone, Copy)]
pub(super) enum Event<'a> {
    /// Create or update the object matched by `crm_id`, else by the value
    /// of `id_property`.
    Upsert {
        object_type: &'a str,
        id_property: &'a str,
        crm_id: Option<&'a str>,
        data: &'a Payload,
    },
    /// Delete (archive) the object `crm_id`.
    Delete {
        object_type: &'a str,
        crm_id: &'a str,
    },
    /// Nothing to apply: a signed request that tells whether the receiver
    /// takes it (`etlify check --crms`).
    Ping { object_type: &'a str },
}

impl Event<'_> {
    /// The event as sent, without its key.
    fn to_json(self) -> Value {
        match self {
            Event::Upsert {
                object_type,
                id_property,
                crm_id,
                data,
            } => json!({
                "type": "upsert",
                "object_type": object_type,
                "id_property": id_property,
                "id_value": crate::adapters::id_value(data, id_property),
                "crm_id": crm_id,
                "data": data,
            }),
            Event::Delete {
                object_type,
                crm_id,
            } => json!({"type": "delete", "object_type": object_type, "crm_id": crm_id}),
            Event::Ping { object_type } => json!({"type": "ping", "object_type": object_type}),
        }
    }
}

/// A request's body, serialized once: the signature covers these bytes.
#[derive(Debug)]
pub(super) struct Envelope {
    pub body: Vec<u8>,
    /// The request's idempotency key (`Idempotency-Key`, and `id` in the body).
    pub key: String,
}

/// 32 hex digits of the SHA-256 of `bytes`: unique enough for a key.
fn key_of(bytes: &[u8]) -> String {
    let mut key = hex(&Sha256::digest(bytes));
    key.truncate(32);
    key
}

/// A value no other call of this process (nor, by its clock, of another)
/// shares: what makes one call's keys its own.
pub(super) fn call_nonce() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    format!("{nanos}-{}-{call}", std::process::id())
}

/// The body of a request carrying `events` for the call `nonce`.
pub(super) fn envelope(events: &[Event<'_>], nonce: &str) -> Result<Envelope, AdapterError> {
    let unserializable = |error: serde_json::Error| {
        AdapterError::new(
            AdapterErrorKind::Other,
            format!("the webhook events could not be serialized: {error}"),
        )
    };
    let mut keys = Vec::with_capacity(events.len());
    let mut sent = Vec::with_capacity(events.len());
    for event in events {
        let mut event = match event.to_json() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        // Keys sorted (serde_json's map): the same event, the same bytes.
        let mut said = serde_json::to_vec(&event).map_err(unserializable)?;
        said.extend_from_slice(nonce.as_bytes());
        let key = key_of(&said);
        event.insert("key".to_owned(), Value::String(key.clone()));
        keys.push(key);
        sent.push(Value::Object(event));
    }
    let key = key_of(keys.join(",").as_bytes());
    let body = serde_json::to_vec(&json!({"id": key, "events": sent})).map_err(unserializable)?;
    Ok(Envelope { body, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(value: Value) -> Payload {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn a_call_has_the_same_keys_on_every_attempt_and_another_call_others() {
        let ann = payload(json!({"email": "ann@x.io", "name": "Ann"}));
        let annie = payload(json!({"email": "ann@x.io", "name": "Annie"}));
        let upsert = |data| Event::Upsert {
            object_type: "contacts",
            id_property: "email",
            crm_id: None,
            data,
        };
        let call = call_nonce();
        let first = envelope(&[upsert(&ann)], &call).unwrap();
        assert_eq!(first.body, envelope(&[upsert(&ann)], &call).unwrap().body);
        assert_ne!(first.key, envelope(&[upsert(&annie)], &call).unwrap().key);
        let next_call = call_nonce();
        assert_ne!(next_call, call);
        assert_ne!(
            first.key,
            envelope(&[upsert(&ann)], &next_call).unwrap().key
        );
        let body: Value = serde_json::from_slice(&first.body).unwrap();
        assert_eq!(body["id"], first.key.as_str());
        assert_eq!(body["events"][0]["id_value"], "ann@x.io");
        assert_eq!(body["events"][0]["key"].as_str().unwrap().len(), 32);
    }
}
