//! JSON text helpers shared by the modules that write JSON: a value's compact text, and a
//! string's content as it stands between the quotes of a JSON string literal.

use serde_json::Value;

/// Compact JSON text of a value. `serde_json::to_string` writes straight into a buffer;
/// `Value::to_string` goes through `fmt::Display`, several times slower in the component.
pub fn text(value: &Value) -> String {
    // Serialising a `Value` cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// The text between the quotes of the JSON string literal of `value`: `\` → `\\`,
/// `"` → `\"`, control characters as escapes.
pub fn string_content(value: &str) -> String {
    // Serialising a `str` cannot fail, and the result is always quoted.
    let quoted = serde_json::to_string(value).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or_default()
        .to_string()
}

/// Append the JSON string literal of `value` (the same escaping as Python's `json.dumps`
/// with `ensure_ascii=False`).
pub fn push_string_literal(out: &mut String, value: &str) {
    // Most strings need no escaping at all: copy them.
    if !value.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        out.push('"');
        out.push_str(value);
        out.push('"');
        return;
    }
    // Serialising a `str` cannot fail.
    out.push_str(&serde_json::to_string(value).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_content_escapes_quotes_backslashes_and_control_characters() {
        assert_eq!(string_content(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(string_content("tab\t\u{1}é"), "tab\\t\\u0001é");
        assert_eq!(string_content(""), "");
    }

    #[test]
    fn string_literals_are_quoted_and_escaped_only_where_needed() {
        let mut out = String::new();
        for text in ["plain é", "q\"b\\s\n", ""] {
            push_string_literal(&mut out, text);
            out.push(' ');
        }
        assert_eq!(out, r#""plain é" "q\"b\\s\n" "" "#);
    }

    #[test]
    fn text_is_compact_and_keeps_key_order() {
        assert_eq!(
            text(&json!({"b": [1, 2.5], "a": null})),
            r#"{"b":[1,2.5],"a":null}"#
        );
    }
}
