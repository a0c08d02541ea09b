//! Canonical JSON and fingerprints: two bodies that mean the same thing (same
//! members and values, any key order or whitespace, `null` members left out)
//! have the same fingerprint.

use std::io;

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
                write_json(key, out);
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
        leaf => write_json(leaf, out),
    }
}

/// serde_json's compact text of a key or a leaf (its string escaping is
/// deterministic), the bytes `to_string` gives, written straight into `out`:
/// a copy and a `String` per member cost more than the hashing.
fn write_json<T: serde::Serialize + ?Sized>(leaf: &T, out: &mut impl Sink) {
    struct SinkWriter<'a, S>(&'a mut S);
    impl<S: Sink> io::Write for SinkWriter<'_, S> {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.put(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    // Neither sink can fail, and a leaf always serializes.
    let _ = serde_json::to_writer(SinkWriter(out), leaf);
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

    /// Fingerprints are stored with every binding: the canonical form of a
    /// body must not change between versions, or a repeat made across an
    /// upgrade would be told its body differs.
    #[test]
    fn the_canonical_form_of_a_body_is_what_it_always_was() {
        let body = serde_json::json!({
            "z": [1, -2, 3.5, 1e300, 18446744073709551615u64, true, false, null, [], {}],
            "a": "quote \" backslash \\ slash / tab \t nl \n ctrl \u{1} del \u{7f} é \u{202e} 😀",
            "m": {"b": null, "k\u{200b}": "v", "": ""},
        });
        let hex: String = fingerprint(&body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            canonical_string(&body),
            "{\"a\":\"quote \\\" backslash \\\\ slash / tab \\t nl \\n ctrl \\u0001 del \u{7f} é \u{202e} 😀\",\"m\":{\"\":\"\",\"k\u{200b}\":\"v\"},\"z\":[1,-2,3.5,1e+300,18446744073709551615,true,false,null,[],{}]}"
        );
        assert_eq!(
            hex,
            "e7a2569bd42ae843b61363cd1068f3f5a0d77dfd913bf6af64a6f39724a67452"
        );
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
