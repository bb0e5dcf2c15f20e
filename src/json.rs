//! JSON text helpers shared by the modules that write JSON: a value's compact text, and a
//! string's content as it stands between the quotes of a JSON string literal.

use serde_json::{Map, Value};

/// Compact JSON text of a value, byte for byte what `serde_json::to_string` writes (a test
/// compares them): written here because serde_json looks at a string's bytes one at a time,
/// while `push_string_content` skips eight plain bytes at once, which is most of the work in
/// the component (the entry, the details, the request bodies).
pub fn text(value: &Value) -> String {
    // Room for a user resource, the usual value, without growing again and again.
    let mut out = String::with_capacity(1024);
    push_value(&mut out, value);
    out
}

/// Append the compact JSON text of `value`.
pub fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        // Serialising a number cannot fail; serde_json's own digits.
        Value::Number(number) => out.push_str(&serde_json::to_string(number).unwrap_or_default()),
        Value::String(text) => {
            out.push('"');
            push_string_content(out, text);
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                push_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => push_map(out, map),
    }
}

/// Compact JSON text of an object's map: `text(&Value::Object(map))` without the copy.
pub fn map_text(map: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(128);
    push_map(&mut out, map);
    out
}

fn push_map(out: &mut String, map: &Map<String, Value>) {
    out.push('{');
    for (index, (key, item)) in map.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push('"');
        push_string_content(out, key);
        out.push_str("\":");
        push_value(out, item);
    }
    out.push('}');
}

/// Eight copies of a byte, one per byte of a `u64`.
pub(crate) const fn splat(byte: u8) -> u64 {
    0x0101_0101_0101_0101 * byte as u64
}

/// The high bit of each byte of `word` that is zero. Word tricks can flag a byte above a
/// zero byte too, never below: the lowest flag is always a zero byte, and no flag means none.
pub(crate) const fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(splat(1)) & !word & splat(0x80)
}

/// The bytes of `word` (its first in the lowest bits) that must be escaped in a JSON string,
/// flagged as `zero_bytes` flags them: a control character (below 0x20), `"` or `\`.
const fn escapes_in(word: u64) -> u64 {
    let below_space = word.wrapping_sub(splat(0x20)) & !word & splat(0x80);
    below_space | zero_bytes(word ^ splat(b'"')) | zero_bytes(word ^ splat(b'\\'))
}

/// Append `text` as it stands between the quotes of a JSON string literal, with
/// serde_json's escapes: `\"`, `\\`, `\b` `\f` `\n` `\r` `\t`, other control characters
/// as `\u00xx` (lower-case hex); everything else, non-ASCII included, as it is. Plain text
/// is skipped eight bytes at a time.
pub fn push_string_content(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    // `text[copied..at]` is still to be copied; both always stand on ASCII bytes or the
    // end, so on character boundaries.
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(word) = bytes[at..].first_chunk::<8>() {
            let found = escapes_in(u64::from_le_bytes(*word));
            if found == 0 {
                at += 8;
                continue;
            }
            at += (found.trailing_zeros() / 8) as usize;
        }
        let byte = bytes[at];
        let escape = match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'\n' => 'n',
            b'\r' => 'r',
            b'\t' => 't',
            0x08 => 'b',
            0x0c => 'f',
            0..0x20 => 'u',
            _ => {
                at += 1;
                continue;
            }
        };
        if copied < at {
            out.push_str(&text[copied..at]);
        }
        // A character at a time: in the component every `push_str` is a call to the host's
        // `memory.copy`, dearer than these two bytes.
        out.push('\\');
        out.push(escape);
        if escape == 'u' {
            out.push('0');
            out.push('0');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        at += 1;
        copied = at;
    }
    out.push_str(&text[copied..]);
}

/// The text between the quotes of the JSON string literal of `value`: `\` → `\\`,
/// `"` → `\"`, control characters as escapes.
pub fn string_content(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    push_string_content(&mut out, value);
    out
}

/// Append the JSON string literal of `value` (the same escaping as Python's `json.dumps`
/// with `ensure_ascii=False`).
pub fn push_string_literal(out: &mut String, value: &str) {
    out.push('"');
    push_string_content(out, value);
    out.push('"');
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
    fn text_is_what_serde_json_writes_for_every_byte_and_nesting() {
        let mut every_byte = String::new();
        for code in (0u32..0x80).chain([0xe9, 0x2028, 0x1f511]) {
            every_byte.extend(char::from_u32(code));
            // Escapes at every offset of an eight-byte word.
            every_byte.push_str(&"x".repeat(code as usize % 9));
        }
        let values = [
            json!(every_byte),
            json!({every_byte.clone(): [every_byte.clone(), null, true, false, 0, -1, 1.5, -0.0, 1e300, u64::MAX]}),
            json!({"a": {"b": [[], {}, [{"c": "d\"e\\f"}]]}, "": ""}),
            json!("12345678\"12345678\\1234567\u{1f}"),
            json!(""),
        ];
        for value in values {
            assert_eq!(
                text(&value),
                serde_json::to_string(&value).unwrap_or_default()
            );
            if let Value::Object(map) = &value {
                assert_eq!(map_text(map), text(&value));
            }
        }
        for text in [every_byte.as_str(), "", "plain", "1234567\n"] {
            let mut literal = String::new();
            push_string_literal(&mut literal, text);
            assert_eq!(literal, serde_json::to_string(text).unwrap_or_default());
        }
    }

    #[test]
    fn text_is_compact_and_keeps_key_order() {
        assert_eq!(
            text(&json!({"b": [1, 2.5], "a": null})),
            r#"{"b":[1,2.5],"a":null}"#
        );
    }
}
