//! Verifying `Etlify-Signature: t=<unix seconds>,v1=<hex>`: HMAC-SHA256,
//! keyed by a signing secret, of `<t>.` and the body's bytes, compared in
//! constant time; the timestamp within the tolerance of the clock.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2_mac::Sha256;

use crate::config::SecretToken;

/// Why a request's signature is refused.
pub(crate) fn refusal(
    header: Option<&str>,
    body: &[u8],
    secrets: &[SecretToken],
    tolerance_secs: u64,
) -> Option<&'static str> {
    let Some(header) = header else {
        return Some("missing Etlify-Signature header");
    };
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<u64>().ok(),
            Some(("v1", value)) => signatures.extend(unhex(value)),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return Some("the signature has no timestamp t=");
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    if now.abs_diff(timestamp) > tolerance_secs {
        return Some("the signature's timestamp is outside the tolerance");
    }
    let matches = |secret: &SecretToken, signature: &[u8]| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
            return false;
        };
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.verify_slice(signature).is_ok()
    };
    let valid = secrets.iter().any(|secret| {
        signatures
            .iter()
            .any(|signature| matches(secret, signature))
    });
    (!valid).then_some("no v1 signature matches a signing secret")
}

/// Bytes of lowercase or uppercase hex, if it is hex.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}
