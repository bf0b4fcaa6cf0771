//! Stable payload digest, byte-compatible with the gem (docs/BEHAVIOUR.md, "The digest").
//!
//! The digest is the lowercase hex SHA-256 of the payload's canonical JSON:
//! object keys sorted by their UTF-8 bytes at every depth, arrays in order,
//! no whitespace, strings escaped like Ruby's `JSON.generate`, floats in
//! Ruby's `Float#to_s` form. A database synced by the gem therefore keeps
//! its `last_digest` values valid here and nothing unchanged is re-sent.

use std::fmt::{self, Write as _};

use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// Computes the digest stored in `crm_synchronisations.last_digest`.
///
/// Pluggable through [`crate::Config::digest_strategy`]; the default is
/// [`StableSha256`].
pub trait DigestStrategy: Send + Sync + fmt::Debug {
    /// Digest of one payload.
    fn digest(&self, payload: &Value) -> String;
}

/// The gem's `Etlify::Digest.stable_sha256`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StableSha256;

impl DigestStrategy for StableSha256 {
    fn digest(&self, payload: &Value) -> String {
        stable_sha256(payload)
    }
}

/// Lowercase hex SHA-256 of [`canonical_json`].
pub fn stable_sha256(payload: &Value) -> String {
    let mut canonical = String::with_capacity(256);
    write_canonical(payload, &mut canonical);
    let hash = Sha256::digest(canonical.as_bytes());
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    for byte in hash {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

/// Canonical JSON text of a payload, as the gem's digest sees it.
pub fn canonical_json(payload: &Value) -> String {
    let mut out = String::new();
    write_canonical(payload, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Sorted explicitly: the map's own order depends on serde_json features.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
    }
}

fn write_number(n: &serde_json::Number, out: &mut String) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        write_ruby_float(f, out);
    }
}

/// Ruby's `Float#to_s`: shortest round-trip digits, fixed notation for
/// decimal exponents in `-4..=14`, otherwise `d.ddde+XX`.
fn write_ruby_float(f: f64, out: &mut String) {
    if f == 0.0 {
        out.push_str(if f.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    // `{:e}` yields the shortest round-trip digits, e.g. "2.5e-5", "1e20".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if f.is_sign_negative() {
        out.push('-');
    }
    if (-4..15).contains(&exponent) {
        if exponent >= 0 {
            let int_len = exponent as usize + 1;
            if digits.len() <= int_len {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', int_len - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..int_len]);
                out.push('.');
                out.push_str(&digits[int_len..]);
            }
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-exponent - 1) as usize));
            out.push_str(&digits);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        if digits.len() > 1 {
            out.push_str(&digits[1..]);
        } else {
            out.push('0');
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exponent.abs());
    }
}

/// Ruby `JSON.generate` string escaping (json 2.6, `script_safe: false`).
fn write_string(s: &str, out: &mut String) {
    out.push('"');
    // Runs of characters needing no escape are copied at once.
    let mut rest = s;
    while let Some(at) = rest.find(|c: char| c == '"' || c == '\\' || (c as u32) < 0x20) {
        out.push_str(&rest[..at]);
        let c = rest[at..].chars().next().unwrap_or_default();
        write_escaped(c, out);
        rest = &rest[at + c.len_utf8()..];
    }
    out.push_str(rest);
    out.push('"');
}

/// One character of the escaped set (quote, backslash, control).
fn write_escaped(c: char, out: &mut String) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        c if (c as u32) < 0x20 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn float(f: f64) -> String {
        let mut s = String::new();
        write_ruby_float(f, &mut s);
        s
    }

    #[test]
    fn ruby_float_formats_at_the_notation_boundaries() {
        assert_eq!(float(1.0), "1.0");
        assert_eq!(float(100.0), "100.0");
        assert_eq!(float(0.0001), "0.0001");
        assert_eq!(float(0.00001), "1.0e-05");
        assert_eq!(float(1e14), "100000000000000.0");
        assert_eq!(float(1e15), "1.0e+15");
        assert_eq!(float(123.456), "123.456");
        assert_eq!(float(-0.5), "-0.5");
        assert_eq!(float(-0.0), "-0.0");
        assert_eq!(float(1.5e300), "1.5e+300");
    }

    #[test]
    fn digest_does_not_depend_on_key_order_but_on_array_order() {
        let a = json!({"a": 1, "b": {"x": [1, 2], "y": null}});
        let b = json!({"b": {"y": null, "x": [1, 2]}, "a": 1});
        let c = json!({"b": {"y": null, "x": [2, 1]}, "a": 1});
        assert_eq!(stable_sha256(&a), stable_sha256(&b));
        assert_ne!(stable_sha256(&a), stable_sha256(&c));
    }
}
