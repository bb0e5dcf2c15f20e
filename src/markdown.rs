//! XSOAR's `tableToMarkdown(..., removeNull=True)` for one row, byte for byte
//! (behaviour.md §6.2): column dropping, cell rendering with Python-style reprs inside lists,
//! compact-spaced JSON inside objects, and the final escaping.

use serde_json::{Number, Value};

use crate::json::{splat, zero_bytes};

/// Render a one-row table of (column, value) in that order; a column whose value is null,
/// `""`, `[]` or `{}` is dropped.
pub fn table(title: &str, row: &[(&str, &Value)]) -> String {
    let kept: Vec<(&str, &Value)> = row
        .iter()
        .copied()
        .filter(|(_, value)| !is_empty_cell(value))
        .collect();
    // Room for a usual row (a user's details) without growing the text again and again.
    let mut out = String::with_capacity(2048);
    out.push_str("### ");
    out.push_str(title);
    out.push('\n');
    if kept.is_empty() {
        // tableToMarkdown prints "**No entries.**" for an empty table.
        out.push_str("**No entries.**\n");
        return out;
    }
    out.push('|');
    for (name, _) in &kept {
        out.push_str(name);
        out.push('|');
    }
    out.push_str("\n|");
    for _ in &kept {
        out.push_str("---|");
    }
    out.push_str("\n|");
    // One buffer for every cell's text before escaping.
    let mut cell = String::new();
    for (_, value) in &kept {
        out.push(' ');
        cell.clear();
        write_cell(&mut cell, value);
        push_escaped_cell(&mut out, &cell);
        out.push_str(" |");
    }
    out.push('\n');
    out
}

fn is_empty_cell(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

fn write_cell(out: &mut String, value: &Value) {
    match value {
        Value::Null => {}
        Value::String(s) => out.push_str(s),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&python_number(n)),
        Value::Array(items) => write_list(out, items),
        Value::Object(map) => {
            for (index, (key, value)) in map.iter().enumerate() {
                if index > 0 {
                    out.push('\n');
                }
                out.push_str(key);
                out.push_str(": ");
                match value {
                    Value::String(s) => out.push_str(s),
                    Value::Array(items) => write_list(out, items),
                    other => write_compact_json(out, other),
                }
            }
        }
    }
}

/// A list: each item as Python's `str()` prints it, joined by `,\n`.
fn write_list(out: &mut String, items: &[Value]) {
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push_str(",\n");
        }
        match item {
            Value::String(s) => out.push_str(s),
            other => write_python_repr(out, other),
        }
    }
}

/// Append `text` escaped for a cell: `\r\n`, `\r`, `\n` become `<br>`; `|` and `` ` ``
/// are backslash-escaped.
fn push_escaped_cell(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut run_start = 0;
    let mut index = 0;
    while index < bytes.len() {
        // Skip eight plain bytes at a time; otherwise go to the first one that may be special.
        if let Some(word) = bytes[index..].first_chunk::<8>() {
            let word = u64::from_le_bytes(*word);
            let found = [b'\r', b'\n', b'|', b'`']
                .iter()
                .fold(0, |found, &special| {
                    found | zero_bytes(word ^ splat(special))
                });
            if found == 0 {
                index += 8;
                continue;
            }
            index += (found.trailing_zeros() / 8) as usize;
        }
        let replacement = match bytes[index] {
            b'\r' if bytes.get(index + 1) == Some(&b'\n') => Some(("<br>", 2)),
            b'\r' | b'\n' => Some(("<br>", 1)),
            b'|' => Some(("\\|", 1)),
            b'`' => Some(("\\`", 1)),
            _ => None,
        };
        match replacement {
            // The bytes matched are ASCII, so both slices end on character boundaries.
            Some((with, length)) => {
                out.push_str(&text[run_start..index]);
                out.push_str(with);
                index += length;
                run_start = index;
            }
            None => index += 1,
        }
    }
    out.push_str(&text[run_start..]);
}

fn write_python_repr(out: &mut String, value: &Value) {
    write_value(out, value, Style::Python);
}

/// The two spellings of a nested value in a cell: Python's `repr()` inside lists, and
/// `json.dumps` inside objects. Both separate items with `, ` and keys with `: `.
#[derive(Clone, Copy)]
enum Style {
    Python,
    Json,
}

fn write_value(out: &mut String, value: &Value, style: Style) {
    let write_text = |out: &mut String, text: &str| match style {
        Style::Python => write_python_str_repr(out, text),
        Style::Json => crate::json::push_string_literal(out, text),
    };
    match (value, style) {
        (Value::Null, Style::Python) => out.push_str("None"),
        (Value::Null, Style::Json) => out.push_str("null"),
        (Value::Bool(b), Style::Python) => out.push_str(if *b { "True" } else { "False" }),
        (Value::Bool(b), Style::Json) => out.push_str(if *b { "true" } else { "false" }),
        (Value::Number(n), _) => out.push_str(&python_number(n)),
        (Value::String(s), _) => write_text(out, s),
        (Value::Array(items), _) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item, style);
            }
            out.push(']');
        }
        (Value::Object(map), _) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_text(out, key);
                out.push_str(": ");
                write_value(out, item, style);
            }
            out.push('}');
        }
    }
}

/// Python 3's `repr(str)`: single quotes unless the text has `'` and no `"`; `\\`, `\n`,
/// `\r`, `\t` and non-printable characters escaped; printable non-ASCII kept.
fn write_python_str_repr(out: &mut String, s: &str) {
    // Printable ASCII without quotes or backslashes prints as it is.
    if s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'\'' && b != b'\\')
    {
        out.push('\'');
        out.push_str(s);
        out.push('\'');
        return;
    }
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if !is_python_printable(c) => {
                let code = c as u32;
                out.push_str(&match code {
                    0..=0xff => format!("\\x{code:02x}"),
                    0x100..=0xffff => format!("\\u{code:04x}"),
                    _ => format!("\\U{code:08x}"),
                });
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// `str.isprintable()` for the characters a profile realistically holds: control
/// characters (Cc), the format characters (Cf) and separators (Zs other than the space,
/// Zl, Zp) in common use, private use and unassigned noncharacters are not printable.
fn is_python_printable(c: char) -> bool {
    let code = c as u32;
    !matches!(code,
        0x00..=0x1f | 0x7f..=0xa0 | 0xad
        | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f
        | 0x1680 | 0x180e | 0x2000..=0x200f | 0x2028..=0x202f | 0x205f..=0x2064
        | 0x2066..=0x206f | 0x3000 | 0xd800..=0xf8ff | 0xfdd0..=0xfdef | 0xfeff
        | 0xfff9..=0xfffb | 0xfffe..=0xffff | 0xe0000..=0xe0fff | 0xf0000..=0x10ffff)
        && (code & 0xfffe) != 0xfffe
}

/// A JSON number as Python prints the int or float `json.loads` gives.
fn python_number(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    match n.as_f64() {
        Some(f) => python_float(f),
        None => n.to_string(),
    }
}

/// Python's `repr(float)`: the shortest round-trip digits, positional for exponents in
/// -4..16, scientific (`1e+16`, `1.5e-07`) outside, and always a `.0` on whole numbers.
fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Rust's `{:e}` prints the shortest round-trip digits: "1.5e-7", "-1e16".
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..16).contains(&exponent) {
        let positional = format!("{f}");
        if positional.contains('.') {
            positional
        } else {
            format!("{positional}.0")
        }
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    }
}

/// `json.dumps(value, ensure_ascii=False)`: `, ` and `: ` separators, non-ASCII kept.
fn write_compact_json(out: &mut String, value: &Value) {
    write_value(out, value, Style::Json);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    /// The text of one cell before escaping.
    fn cell_text(value: &Value) -> String {
        let mut out = String::new();
        write_cell(&mut out, value);
        out
    }

    /// A cell's text escaped.
    fn escape_cell(text: &str) -> String {
        let mut out = String::with_capacity(text.len() + 16);
        push_escaped_cell(&mut out, text);
        out
    }

    /// Python's `repr()` of the value `json.loads` would give.
    fn python_repr(value: &Value) -> String {
        let mut out = String::new();
        write_python_repr(&mut out, value);
        out
    }

    macro_rules! assert_text_eq {
        ($actual:expr, $expected:expr) => {{
            let (actual, expected) = (&$actual, &$expected);
            assert!(
                actual == expected,
                "\n--- expected\n{expected}\n--- actual\n{actual}\n---"
            );
        }};
    }

    /// The table of `columns` picked from `row`, a missing column dropped.
    fn table(title: &str, row: &Map<String, Value>, columns: &[&str]) -> String {
        let picked: Vec<(&str, &Value)> = columns
            .iter()
            .filter_map(|c| row.get(*c).map(|v| (*c, v)))
            .collect();
        super::table(title, &picked)
    }

    fn row(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("row must be an object"),
        }
    }

    #[test]
    fn skipped_example_of_the_spec() {
        let row = row(
            json!({"brand":"Atlassian IAM","instanceName":"inst1","skipped":true,"reason":"User does not exist"}),
        );
        let text = table(
            "Disable User Results (Atlassian IAM)",
            &row,
            &["brand", "instanceName", "skipped", "reason"],
        );
        assert_text_eq!(
            text,
            "### Disable User Results (Atlassian IAM)\n|brand|instanceName|skipped|reason|\n|---|---|---|---|\n| Atlassian IAM | inst1 | true | User does not exist |\n"
        );
    }

    #[test]
    fn details_cell_example_of_the_spec() {
        let details: Value = serde_json::from_str(r#"{"s":"plain","n":0,"t":true,"nul":null,"emptylist":[],"emptydict":{},"strlist":["a","b"],"boollist":[true,false,null,1],"dictlist":[{"v":"x","primary":true,"u":"José"}],"nested":{"k":"v\nw","b":false,"u":"José","l":[1,2]},"pipe":"a|b","nl":"x\ny"}"#).unwrap();
        let row = row(json!({ "details": details }));
        let text = table("T", &row, &["details"]);
        let expected = "s: plain<br>n: 0<br>t: true<br>nul: null<br>emptylist: <br>emptydict: {}<br>strlist: a,<br>b<br>boollist: True,<br>False,<br>None,<br>1<br>dictlist: {'v': 'x', 'primary': True, 'u': 'José'}<br>nested: {\"k\": \"v\\nw\", \"b\": false, \"u\": \"José\", \"l\": [1, 2]}<br>pipe: a\\|b<br>nl: x<br>y";
        assert_text_eq!(text, format!("### T\n|details|\n|---|\n| {expected} |\n"));
    }

    #[test]
    fn empty_values_drop_their_column_but_false_and_zero_stay() {
        let row = row(json!({"a": null, "b": "", "c": [], "d": {}, "e": false, "f": 0, "g": "x"}));
        let text = table("T", &row, &["a", "b", "c", "d", "e", "f", "g", "missing"]);
        assert_text_eq!(text, "### T\n|e|f|g|\n|---|---|---|\n| false | 0 | x |\n");
    }

    #[test]
    fn columns_follow_the_given_order_not_the_row_order() {
        let row = row(json!({"b": 2, "a": 1}));
        assert_text_eq!(
            table("T", &row, &["a", "b"]),
            "### T\n|a|b|\n|---|---|\n| 1 | 2 |\n"
        );
    }

    #[test]
    fn cells_are_escaped_alike_wherever_the_special_bytes_fall() {
        for pad in 0..18 {
            let text = format!(
                "{}a\r\nb|{}`\r{}\n\n|",
                "x".repeat(pad),
                "y".repeat(pad % 9),
                "é".repeat(pad)
            );
            let expected = text
                .replace("\r\n", "<br>")
                .replace(['\r', '\n'], "<br>")
                .replace('|', "\\|")
                .replace('`', "\\`");
            assert_eq!(escape_cell(&text), expected, "{text:?}");
        }
    }

    #[test]
    fn line_breaks_pipes_and_backticks_are_escaped_and_nothing_else() {
        assert_text_eq!(
            escape_cell("a\r\nb\rc\nd|e`f*g_h<i>"),
            "a<br>b<br>c<br>d\\|e\\`f*g_h<i>"
        );
    }

    #[test]
    fn floats_print_as_python_does() {
        let cases = [
            (1.0, "1.0"),
            (0.5, "0.5"),
            (-2.25, "-2.25"),
            (1e16, "1e+16"),
            (1.5e-7, "1.5e-07"),
            (123456789012345.6, "123456789012345.6"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e100, "1e+100"),
            (0.1 + 0.2, "0.30000000000000004"),
        ];
        for (value, text) in cases {
            assert_eq!(python_float(value), text, "for {value:e}");
        }
        let parsed: Value = serde_json::from_str("[3, 3.0, -7, 18446744073709551615]").unwrap();
        assert_eq!(cell_text(&parsed), "3,\n3.0,\n-7,\n18446744073709551615");
    }

    #[test]
    fn python_string_reprs_choose_quotes_and_escape_like_python() {
        let cases = [
            (json!("plain"), "'plain'"),
            (json!("it's"), "\"it's\""),
            (json!("both ' and \""), "'both \\' and \"'"),
            (json!("tab\tnl\ncr\rback\\"), "'tab\\tnl\\ncr\\rback\\\\'"),
            (
                json!("bell\u{7}del\u{7f}nbsp\u{a0}"),
                "'bell\\x07del\\x7fnbsp\\xa0'",
            ),
            (json!("zwsp\u{200b}bom\u{feff}"), "'zwsp\\u200bbom\\ufeff'"),
            (json!("José 日本 😀"), "'José 日本 😀'"),
            (
                json!([1, [true, null], {"k": 1.5}]),
                "[1, [True, None], {'k': 1.5}]",
            ),
        ];
        for (value, repr) in cases {
            assert_eq!(python_repr(&value), repr);
        }
    }

    #[test]
    fn a_list_cell_prints_strings_bare_and_other_items_as_reprs() {
        let value = json!(["a|b", {"x": "it's"}, ["n"], 2.0]);
        assert_eq!(cell_text(&value), "a|b,\n{'x': \"it's\"},\n['n'],\n2.0");
    }

    #[test]
    fn object_values_use_compact_spaced_json_with_unicode_kept() {
        let value = json!({"o": {"a": [1, 2.5, "é\"q"], "b": {}}, "n": null, "f": 1e20});
        assert_eq!(
            cell_text(&value),
            "o: {\"a\": [1, 2.5, \"é\\\"q\"], \"b\": {}}\nn: null\nf: 1e+20"
        );
    }

    #[test]
    fn a_table_with_no_kept_column_says_so() {
        let row = row(json!({"a": null}));
        assert_text_eq!(table("T", &row, &["a"]), "### T\n**No entries.**\n");
    }
}
