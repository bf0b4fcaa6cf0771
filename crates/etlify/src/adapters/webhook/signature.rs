//! The `Etlify-Signature` header: `t=<unix seconds>,v1=<hex>`, where the
//! hex is HMAC-SHA256, keyed by the signing secret, of `<t>.` followed by
//! the body's exact bytes (docs/ADAPTERS.md, "Webhook").

use hmac::{Hmac, KeyInit, Mac};
use sha2_mac::Sha256;

use crate::adapters::http::Secret;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "etlify-signature";

/// The header value signing `body` at `timestamp` (unix seconds) with
/// `secret`.
pub fn signature_header(secret: &Secret, timestamp: u64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex(&sign(secret, timestamp, body)))
}

/// HMAC-SHA256 of `<timestamp>.<body>` keyed by `secret`.
fn sign(secret: &Secret, timestamp: u64, body: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        unreachable!("HMAC accepts keys of every length")
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vector computed independently (`printf '1700000000.{"a":1}' |
    /// openssl dgst -sha256 -hmac whsec_test`), so that a receiver in any
    /// language can check its verification against it.
    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        let header = signature_header(&Secret::new("whsec_test"), 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            header,
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }
}
