//! What changed between two registrations of a merchant, field by field, for
//! the reviewer: the request trees are flattened to `path = value` pairs.

use std::collections::BTreeMap;

use serde_json::Value;

/// One field of a request, as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub path: String,
    pub value: String,
}

/// Every leaf of `value` with its dotted path (`a.b[0].c`), in document order
/// of the sorted keys. `null` leaves are left out: null means absent.
pub fn flatten(value: &Value) -> Vec<Field> {
    let mut out = Vec::new();
    walk(value, String::new(), &mut out);
    out
}

fn walk(value: &Value, path: String, out: &mut Vec<Field>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                walk(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, format!("{path}[{i}]"), out);
            }
        }
        Value::Null => {}
        Value::String(s) => out.push(Field {
            path,
            value: s.clone(),
        }),
        other => out.push(Field {
            path,
            value: other.to_string(),
        }),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Fields of the registration content (merchant, store, products) that differ
/// from `before` to `after`. The request id, notify URL and pass-through data
/// are not registration content and are left out.
pub fn content_changes(before: &Value, after: &Value) -> Vec<Change> {
    let content = |v: &Value| {
        serde_json::json!({
            "merchantInfo": v.get("merchantInfo"),
            "storeInfo": v.get("storeInfo"),
            "productCodes": v.get("productCodes"),
        })
    };
    diff(&content(before), &content(after))
}

/// The paths of every field that differs between two whole bodies, for
/// saying where a repeat departs from the original without repeating either's
/// values. Equal exactly when the canonical forms are: an object member that
/// is `null` counts as absent; array items count by position.
pub fn differing_paths(before: &Value, after: &Value) -> Vec<String> {
    let mut out = Vec::new();
    compare(Some(before), Some(after), String::new(), &mut out);
    out
}

fn compare(before: Option<&Value>, after: Option<&Value>, path: String, out: &mut Vec<String>) {
    match (before, after) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                compare(present(a.get(key)), present(b.get(key)), at, out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                compare(a.get(i), b.get(i), format!("{path}[{i}]"), out);
            }
        }
        (a, b) if a == b => {}
        _ => out.push(if path.is_empty() { "body".into() } else { path }),
    }
}

/// An object member that is `null` is absent (transport §9).
fn present(member: Option<&Value>) -> Option<&Value> {
    member.filter(|v| !v.is_null())
}

/// Leaves that differ, by path, in path order.
fn diff(before: &Value, after: &Value) -> Vec<Change> {
    let leaves = |v: &Value| -> BTreeMap<String, String> {
        flatten(v).into_iter().map(|f| (f.path, f.value)).collect()
    };
    let (old, new) = (leaves(before), leaves(after));
    let mut paths: Vec<&String> = old.keys().chain(new.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter(|p| old.get(*p) != new.get(*p))
        .map(|p| Change {
            path: p.clone(),
            before: old.get(p).cloned(),
            after: new.get(p).cloned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flatten_names_every_leaf() {
        let f = flatten(&json!({"a": {"b": ["x", "y"]}, "c": null, "d": "z"}));
        let paths: Vec<_> = f.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["a.b[0]", "a.b[1]", "d"]);
    }

    #[test]
    fn changes_cover_added_removed_and_changed_fields() {
        let before = json!({"registrationRequestId": "1", "merchantInfo": {"merchantMCC": "5812", "old": "x"}});
        let after = json!({"registrationRequestId": "2", "merchantInfo": {"merchantMCC": "5813", "new": "y"}});
        let changes = content_changes(&before, &after);
        let summary: Vec<_> = changes
            .iter()
            .map(|c| (c.path.as_str(), c.before.as_deref(), c.after.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                ("merchantInfo.merchantMCC", Some("5812"), Some("5813")),
                ("merchantInfo.new", None, Some("y")),
                ("merchantInfo.old", Some("x"), None),
            ]
        );
    }

    #[test]
    fn differing_paths_name_fields_anywhere_in_the_body() {
        let before = json!({"registrationRequestId": "1", "passThroughInfo": "a", "merchantInfo": {"merchantMCC": "5812"}});
        let after = json!({"registrationRequestId": "1", "merchantInfo": {"merchantMCC": "5813", "x": null, "websites": []}});
        assert_eq!(
            differing_paths(&before, &after),
            [
                "merchantInfo.merchantMCC",
                "merchantInfo.websites",
                "passThroughInfo"
            ]
        );
        assert!(differing_paths(&before, &before).is_empty());
    }
}
