//! Characters that change how text reads without being seen: bidirectional
//! embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069),
//! zero-width and direction marks (U+200B–U+200F) and the byte-order mark
//! (U+FEFF). "Safe Shop \u{202e}gnp.exe\u{202c}" reads as "Safe Shop
//! exe.png". They can be legitimate in some scripts, so requests carrying
//! them are accepted, flagged for the reviewer, and shown with each such
//! character spelled out.

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
    walk(body, String::new(), &mut out);
    out
}

fn walk(value: &Value, path: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, member) in map {
                let at = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk(member, at, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, format!("{path}[{i}]"), out);
            }
        }
        Value::String(s) if s.chars().any(is_invisible) || path.chars().any(is_invisible) => {
            out.push(spelled_out(&path));
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
}
