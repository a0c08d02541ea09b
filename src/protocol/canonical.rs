//! Canonical JSON and fingerprints: two bodies that mean the same thing (same
//! members and values, any key order or whitespace, `null` members left out)
//! have the same fingerprint.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// SHA-256 over the canonical form of `value`.
pub fn fingerprint(value: &Value) -> [u8; 32] {
    let mut hasher = Sha256::new();
    write_canonical(value, &mut hasher);
    hasher.finalize().into()
}

/// The canonical text of `value`: object keys sorted, no whitespace, `null`
/// object members dropped (null means absent, transport §9).
pub fn canonical_string(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

trait Sink {
    fn put(&mut self, bytes: &[u8]);
}

impl Sink for Sha256 {
    fn put(&mut self, bytes: &[u8]) {
        self.update(bytes);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

fn write_canonical(value: &Value, out: &mut impl Sink) {
    match value {
        Value::Object(map) => {
            // serde_json's default map is a BTreeMap, so iteration is already sorted.
            out.put(b"{");
            let mut first = true;
            for (key, member) in map.iter().filter(|(_, v)| !v.is_null()) {
                if !first {
                    out.put(b",");
                }
                first = false;
                write_string(key, out);
                out.put(b":");
                write_canonical(member, out);
            }
            out.put(b"}");
        }
        Value::Array(items) => {
            out.put(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.put(b",");
                }
                write_canonical(item, out);
            }
            out.put(b"]");
        }
        Value::String(s) => write_string(s, out),
        other => out.put(other.to_string().as_bytes()),
    }
}

fn write_string(s: &str, out: &mut impl Sink) {
    // serde_json's string escaping is deterministic; reuse it.
    out.put(Value::String(s.to_owned()).to_string().as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(text: &str) -> [u8; 32] {
        fingerprint(&serde_json::from_str(text).unwrap())
    }

    #[test]
    fn key_order_whitespace_and_nulls_do_not_matter() {
        let a = fp(r#"{"a":"1","b":{"x":"2","y":["3","4"]}}"#);
        let b = fp("{ \"b\" : { \"y\": [\"3\", \"4\"], \"x\": \"2\" , \"z\": null}, \"a\":\"1\" }");
        assert_eq!(a, b);
    }

    #[test]
    fn values_and_array_order_do_matter() {
        assert_ne!(fp(r#"{"a":"1"}"#), fp(r#"{"a":"2"}"#));
        assert_ne!(fp(r#"{"a":["1","2"]}"#), fp(r#"{"a":["2","1"]}"#));
    }

    #[test]
    fn escapes_are_normalised() {
        assert_eq!(fp(r#"{"a":"\u00e9"}"#), fp(r#"{"a":"é"}"#));
        assert_eq!(
            canonical_string(&serde_json::json!({"b": null, "a": "x\"y"})),
            r#"{"a":"x\"y"}"#
        );
    }
}
