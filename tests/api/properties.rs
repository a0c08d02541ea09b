//! Property tests over what reads untrusted input: the request parser and
//! validator, and the Signature header parser. No input panics; every input
//! is either valid or refused with a named field and a problem.

use mpp_registrar::domain::registration::validate;
use mpp_registrar::protocol::canonical;
use mpp_registrar::protocol::inquiry::InquiryRequest;
use mpp_registrar::protocol::registration::{RegistrationRequest, parse_body};
use mpp_registrar::protocol::signature::{SignatureHeader, format_header};
use proptest::prelude::*;
use serde_json::Value;

use crate::helpers::*;

/// Parses and validates like the registration endpoint: the refusal's field
/// path and problem, or `None` when valid.
fn refusal(body: &[u8]) -> Option<(String, String)> {
    let value = match parse_body(body) {
        Ok(v) => v,
        Err(e) => return Some((e.path, e.problem)),
    };
    let _ = canonical::fingerprint(&value);
    let request = match RegistrationRequest::from_value(&value) {
        Ok(r) => r,
        Err(e) => return Some((e.path, e.problem)),
    };
    match validate(&request) {
        Ok(registration) => {
            assert!(!registration.registration_request_id.is_empty());
            None
        }
        Err(e) => Some((e.path, e.problem)),
    }
}

fn assert_named((path, problem): &(String, String)) {
    assert!(!path.is_empty(), "a refusal without a field: {problem}");
    assert!(!problem.is_empty(), "a refusal of {path} without a problem");
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::from),
        "[\\x00-\\x1f\u{7f}\u{2028}]{1,4}".prop_map(Value::from),
        Just(Value::from("x".repeat(5000))),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn sample() -> Value {
    instore_request("REQ-PROP-1", "M-PROP-1", "S-PROP-1")
}

/// JSON pointers to every member and element of `value`.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(v, p, out);
            }
        }
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bytes_are_valid_or_refused_by_name(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Some(r) = refusal(&body) {
            assert_named(&r);
        }
    }

    #[test]
    fn arbitrary_json_is_valid_or_refused_by_name(value in json()) {
        let body = serde_json::to_vec(&value).unwrap();
        if let Some(r) = refusal(&body) {
            assert_named(&r);
        }
        let _ = InquiryRequest::from_value(&value);
    }

    /// One member of a valid request replaced by anything, or removed: valid,
    /// or refused with the path of a member of the request.
    #[test]
    fn a_mutated_request_is_valid_or_refused_by_a_request_field(
        pick in any::<proptest::sample::Index>(),
        replacement in proptest::option::of(json()),
    ) {
        let mut value = sample();
        let mut all = Vec::new();
        pointers(&value, String::new(), &mut all);
        let pointer = pick.get(&all).clone();
        let (parent, last) = pointer.rsplit_once('/').unwrap();
        match (value.pointer_mut(if parent.is_empty() { "" } else { parent }), &replacement) {
            (Some(Value::Object(map)), Some(v)) => { map.insert(last.replace("~1", "/").replace("~0", "~"), v.clone()); }
            (Some(Value::Object(map)), None) => { map.remove(&last.replace("~1", "/").replace("~0", "~")); }
            (Some(Value::Array(items)), Some(v)) => { items[last.parse::<usize>().unwrap()] = v.clone(); }
            (Some(Value::Array(items)), None) => { items.remove(last.parse::<usize>().unwrap()); }
            _ => unreachable!("{pointer}"),
        }
        if let Some((path, problem)) = refusal(&serde_json::to_vec(&value).unwrap()) {
            assert_named(&(path.clone(), problem.clone()));
            // The path names a member of the protocol's request, never a
            // made-up one.
            let first = path.split(['.', '[']).next().unwrap_or_default();
            prop_assert!(
                sample().get(first).is_some(),
                "mutating {} was refused at {}: {}", pointer, path, problem
            );
        }
    }

    #[test]
    fn any_signature_header_parses_or_is_refused(header in "\\PC{0,300}") {
        if let Ok(parsed) = SignatureHeader::parse(&header) {
            prop_assert!(!parsed.signature.is_empty());
        }
    }

    #[test]
    fn signature_header_shaped_input_parses_or_is_refused(
        pairs in proptest::collection::vec(
            ("(algorithm|keyVersion|signature|ALGORITHM|[a-z]{1,6})", "[A-Za-z0-9%+/=,; ]{0,40}"), 0..5),
        separator in "(,|, |,  )",
    ) {
        let header = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(&separator);
        if let Ok(parsed) = SignatureHeader::parse(&header) {
            prop_assert!(!parsed.signature.is_empty());
        }
    }

    #[test]
    fn our_own_headers_parse_back(version in "[0-9]{1,4}", signature in proptest::collection::vec(any::<u8>(), 1..300)) {
        let parsed = SignatureHeader::parse(&format_header(&version, &signature)).unwrap();
        prop_assert_eq!(parsed.key_version.as_deref(), Some(version.as_str()));
        prop_assert_eq!(parsed.signature, signature);
    }
}
