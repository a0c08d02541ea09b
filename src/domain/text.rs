//! Characters that change how text reads without being seen: bidirectional
//! embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069),
//! zero-width and direction marks (U+200B–U+200F) and the byte-order mark
//! (U+FEFF). "Safe Shop \u{202e}gnp.exe\u{202c}" reads as "Safe Shop
//! exe.png". They can be legitimate in some scripts, so requests carrying
//! them are accepted, flagged for the reviewer, and shown with each such
//! character spelled out.

use std::fmt::Write as _;

use serde_json::Value;

pub fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `text` with every invisible character written as its code point, e.g. `⟨U+202E⟩`.
pub fn spelled_out(text: &str) -> String {
    if !text.chars().any(is_invisible) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| match is_invisible(c) {
            true => format!("⟨U+{:04X}⟩", u32::from(c)),
            false => c.to_string(),
        })
        .collect()
}

/// The field paths of `body` whose value (or name) holds an invisible character.
pub fn fields_with_invisible_characters(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(body, &mut String::new(), false, &mut out);
    out
}

/// One path buffer for the whole walk, written out only for a field found:
/// a path built for every member cost more than the scan itself.
/// `in_named` says whether a member name on the path holds such a character.
fn walk(value: &Value, path: &mut String, in_named: bool, out: &mut Vec<String>) {
    let parent = path.len();
    match value {
        Value::Object(map) => {
            for (key, member) in map {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                walk(member, path, in_named || key.chars().any(is_invisible), out);
                path.truncate(parent);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                // Writing to a String cannot fail.
                let _ = write!(path, "[{i}]");
                walk(item, path, in_named, out);
                path.truncate(parent);
            }
        }
        Value::String(s) if in_named || s.chars().any(is_invisible) => {
            out.push(spelled_out(path));
        }
        Value::String(_) | Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn invisible_characters_are_found_and_spelled_out() {
        let body = json!({"merchantInfo": {"merchantDisplayName": "Safe Shop \u{202e}gnp.exe\u{202c}",
            "websites": [{"url": "https://a.example/\u{200b}"}], "legalName": "Plain"}});
        assert_eq!(
            fields_with_invisible_characters(&body),
            [
                "merchantInfo.merchantDisplayName",
                "merchantInfo.websites[0].url"
            ]
        );
        assert_eq!(
            spelled_out("Safe Shop \u{202e}gnp.exe\u{202c}"),
            "Safe Shop ⟨U+202E⟩gnp.exe⟨U+202C⟩"
        );
        assert_eq!(spelled_out("金龍 \u{feff}"), "金龍 ⟨U+FEFF⟩");
        assert!(fields_with_invisible_characters(&json!({"a": "مرحبا"})).is_empty());
    }

    #[test]
    fn a_member_name_with_one_flags_every_text_under_it() {
        let body =
            json!({"k\u{200b}": {"x": "plain", "n": 1, "y": ["a", {"z": "b"}]}, "after": "c"});
        assert_eq!(
            fields_with_invisible_characters(&body),
            ["k⟨U+200B⟩.x", "k⟨U+200B⟩.y[0]", "k⟨U+200B⟩.y[1].z"]
        );
        assert_eq!(
            fields_with_invisible_characters(&json!([["a\u{200b}"], "b"])),
            ["[0][0]"]
        );
        assert_eq!(
            fields_with_invisible_characters(&json!({"": {"a": "\u{feff}"}})),
            ["a"]
        );
    }
}
