//! The XSOAR transformers a mapper may chain, with XSOAR's argument names
//! (behaviour.md §7). Each takes the current value and its resolved arguments.
//!
//! An empty value (missing, null, `""`) passes through every transformer untouched except
//! `SetIfEmpty`, as in XSOAR, where a field whose source is empty is not built from its
//! template (so the built-in mapper emits no `emails` for a profile without `email`).

use serde_json::Value;

use crate::mapper::Args;

/// The transformers this interpreter runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Concat,
    ParseJson,
    ToLowerCase,
    ToUpperCase,
    Stringify,
    SubstringFrom,
    SubstringTo,
    Split,
    Join,
    Replace,
    IfThenElse,
    SetIfEmpty,
}

impl Operator {
    /// The operator of an XSOAR transformer name, or none when unsupported.
    pub fn from_name(name: &str) -> Option<Operator> {
        Some(match name {
            "concat" => Operator::Concat,
            "ParseJSON" => Operator::ParseJson,
            "toLowerCase" => Operator::ToLowerCase,
            "toUpperCase" => Operator::ToUpperCase,
            "Stringify" => Operator::Stringify,
            "substringFrom" => Operator::SubstringFrom,
            "substringTo" => Operator::SubstringTo,
            "split" => Operator::Split,
            "join" => Operator::Join,
            "replace" | "Replace" => Operator::Replace,
            "If-Then-Else" => Operator::IfThenElse,
            "SetIfEmpty" => Operator::SetIfEmpty,
            _ => return None,
        })
    }

    /// Whether it runs on an empty value.
    pub fn applies_to_empty(self) -> bool {
        matches!(self, Operator::SetIfEmpty | Operator::IfThenElse)
    }
}

/// Whether a value counts as empty for a mapper: missing, null, `""`, `[]` or `{}`.
pub fn is_empty(value: &Option<Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Object(map)) => map.is_empty(),
        _ => false,
    }
}

/// A value as text: strings as they are, everything else as compact JSON.
pub fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Apply one transformer. `Err` carries a message for a configuration error.
pub fn apply(
    operator: Operator,
    value: Option<Value>,
    args: &Args,
) -> Result<Option<Value>, String> {
    let arg = |name: &str| args.get(name).map(text_of);
    Ok(match operator {
        Operator::Concat => Some(map_strings(value, |s| {
            format!(
                "{}{s}{}",
                arg("prefix").unwrap_or_default(),
                arg("suffix").unwrap_or_default()
            )
        })),
        Operator::ParseJson => match value {
            // An empty text holds no JSON value: the field stays empty.
            Some(Value::String(text)) if text.trim().is_empty() => None,
            Some(Value::String(text)) => Some(
                serde_json::from_str(&text)
                    .map_err(|e| format!("ParseJSON could not parse {text:?} ({e})"))?,
            ),
            other => other,
        },
        Operator::ToLowerCase => Some(map_strings(value, |s| s.to_lowercase())),
        Operator::ToUpperCase => Some(map_strings(value, |s| s.to_uppercase())),
        Operator::Stringify => value.map(|v| Value::String(text_of(&v))),
        Operator::SubstringFrom => {
            let from = arg("from").unwrap_or_default();
            Some(map_strings(value, |s| match s.find(&from) {
                Some(at) if !from.is_empty() => s[at + from.len()..].to_string(),
                _ => s.to_string(),
            }))
        }
        Operator::SubstringTo => {
            let to = arg("to").unwrap_or_default();
            Some(map_strings(value, |s| match s.find(&to) {
                Some(at) if !to.is_empty() => s[..at].to_string(),
                _ => s.to_string(),
            }))
        }
        Operator::Split => {
            let delimiter = arg("delimiter").unwrap_or_else(|| ",".into());
            value.map(|v| match v {
                Value::String(s) if !delimiter.is_empty() => Value::Array(
                    s.split(delimiter.as_str())
                        .map(|part| Value::String(part.into()))
                        .collect(),
                ),
                other => other,
            })
        }
        Operator::Join => {
            let separator = arg("separator").unwrap_or_else(|| ",".into());
            value.map(|v| match v {
                Value::Array(items) => Value::String(
                    items
                        .iter()
                        .map(text_of)
                        .collect::<Vec<_>>()
                        .join(&separator),
                ),
                other => other,
            })
        }
        Operator::Replace => {
            let to_replace = arg("toReplace").unwrap_or_default();
            let replace_with = arg("replaceWith").unwrap_or_default();
            Some(map_strings(value, |s| {
                if to_replace.is_empty() {
                    s.to_string()
                } else {
                    s.replace(&to_replace, &replace_with)
                }
            }))
        }
        Operator::IfThenElse => {
            let holds = match (args.get("condition"), args.get("equals")) {
                (Some(condition), _) => truthy(condition),
                (None, Some(equals)) => {
                    value.as_ref().map(text_of).unwrap_or_default() == text_of(equals)
                }
                (None, None) => !is_empty(&value),
            };
            let branch = if holds { "then" } else { "else" };
            match args.get(branch) {
                Some(chosen) => Some(chosen.clone()),
                None => value,
            }
        }
        Operator::SetIfEmpty => {
            let apply_if_empty = args.get("applyIfEmpty").is_none_or(truthy);
            let missing = matches!(value, None | Some(Value::Null));
            if missing || (apply_if_empty && is_empty(&value)) {
                args.get("defaultValue").cloned().or(value)
            } else {
                value
            }
        }
    })
}

/// `true`, `"true"` (any case), `"yes"` or a non-zero number.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("yes"),
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        _ => false,
    }
}

/// Apply a string function to a value, or to each item of a list (XSOAR's "applied on each
/// item"); non-string scalars are used as their text.
fn map_strings(value: Option<Value>, f: impl Fn(&str) -> String) -> Value {
    match value {
        Some(Value::Array(items)) => Value::Array(
            items
                .into_iter()
                .map(|item| Value::String(f(&text_of(&item))))
                .collect(),
        ),
        Some(Value::Object(map)) => Value::String(f(&Value::Object(map).to_string())),
        Some(other) => Value::String(f(&text_of(&other))),
        None => Value::String(f("")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    /// Arguments built by hand.
    fn args_of(pairs: &[(&str, Value)]) -> Args {
        let mut map = Map::new();
        for (name, value) in pairs {
            map.insert((*name).to_string(), value.clone());
        }
        map
    }

    fn run(operator: &str, value: Option<Value>, args: &[(&str, Value)]) -> Option<Value> {
        apply(
            Operator::from_name(operator).unwrap(),
            value,
            &args_of(args),
        )
        .unwrap()
    }

    #[test]
    fn concat_adds_prefix_and_suffix_and_maps_over_lists() {
        assert_eq!(
            run(
                "concat",
                Some(json!("b")),
                &[("prefix", json!("a")), ("suffix", json!("c"))]
            ),
            Some(json!("abc"))
        );
        assert_eq!(
            run("concat", Some(json!("b")), &[("suffix", json!("!"))]),
            Some(json!("b!"))
        );
        assert_eq!(
            run("concat", Some(json!(["x", "y"])), &[("prefix", json!("-"))]),
            Some(json!(["-x", "-y"]))
        );
        assert_eq!(
            run("concat", Some(json!(7)), &[("prefix", json!("#"))]),
            Some(json!("#7"))
        );
    }

    #[test]
    fn parse_json_parses_strings_and_leaves_other_values() {
        assert_eq!(
            run("ParseJSON", Some(json!(r#"{"a":[1]}"#)), &[]),
            Some(json!({"a": [1]}))
        );
        assert_eq!(
            run("ParseJSON", Some(json!({"a": 1})), &[]),
            Some(json!({"a": 1}))
        );
        let err = apply(Operator::ParseJson, Some(json!("{bad")), &Map::new()).unwrap_err();
        assert!(
            err.starts_with("ParseJSON could not parse \"{bad\""),
            "{err}"
        );
    }

    #[test]
    fn case_changes_are_unicode_aware() {
        assert_eq!(
            run("toLowerCase", Some(json!("ÉMILE@X.COM")), &[]),
            Some(json!("émile@x.com"))
        );
        assert_eq!(
            run("toUpperCase", Some(json!(["a", "ß"])), &[]),
            Some(json!(["A", "SS"]))
        );
    }

    #[test]
    fn stringify_renders_json_and_keeps_strings() {
        assert_eq!(
            run("Stringify", Some(json!({"a": true})), &[]),
            Some(json!(r#"{"a":true}"#))
        );
        assert_eq!(run("Stringify", Some(json!("s")), &[]), Some(json!("s")));
        assert_eq!(run("Stringify", Some(json!(1.5)), &[]), Some(json!("1.5")));
    }

    #[test]
    fn substrings_cut_at_the_first_occurrence_and_leave_text_without_it() {
        assert_eq!(
            run(
                "substringFrom",
                Some(json!("user@example.com")),
                &[("from", json!("@"))]
            ),
            Some(json!("example.com"))
        );
        assert_eq!(
            run(
                "substringTo",
                Some(json!("user@example.com")),
                &[("to", json!("@"))]
            ),
            Some(json!("user"))
        );
        assert_eq!(
            run("substringTo", Some(json!("plain")), &[("to", json!("@"))]),
            Some(json!("plain"))
        );
        assert_eq!(
            run(
                "substringFrom",
                Some(json!("plain")),
                &[("from", json!(""))]
            ),
            Some(json!("plain"))
        );
    }

    #[test]
    fn split_and_join_default_to_commas() {
        assert_eq!(
            run("split", Some(json!("a,b")), &[]),
            Some(json!(["a", "b"]))
        );
        assert_eq!(
            run("split", Some(json!("a b")), &[("delimiter", json!(" "))]),
            Some(json!(["a", "b"]))
        );
        assert_eq!(
            run(
                "join",
                Some(json!(["a", 1, true])),
                &[("separator", json!("; "))]
            ),
            Some(json!("a; 1; true"))
        );
        assert_eq!(
            run("join", Some(json!(["a", "b"])), &[]),
            Some(json!("a,b"))
        );
        assert_eq!(run("join", Some(json!("solo")), &[]), Some(json!("solo")));
    }

    #[test]
    fn replace_replaces_every_occurrence_under_both_names() {
        let args = [("toReplace", json!(".")), ("replaceWith", json!("_"))];
        assert_eq!(
            run("replace", Some(json!("a.b.c")), &args),
            Some(json!("a_b_c"))
        );
        assert_eq!(
            run("Replace", Some(json!("a.b.c")), &args),
            Some(json!("a_b_c"))
        );
        assert_eq!(
            run(
                "replace",
                Some(json!("abc")),
                &[("replaceWith", json!("x"))]
            ),
            Some(json!("abc"))
        );
    }

    #[test]
    fn if_then_else_compares_with_equals_or_reads_a_condition() {
        let args = [
            ("equals", json!("Manager")),
            ("then", json!("true")),
            ("else", json!("false")),
        ];
        assert_eq!(
            run("If-Then-Else", Some(json!("Manager")), &args),
            Some(json!("true"))
        );
        assert_eq!(
            run("If-Then-Else", Some(json!("Clerk")), &args),
            Some(json!("false"))
        );
        assert_eq!(run("If-Then-Else", None, &args), Some(json!("false")));
        let by_condition = [("condition", json!("TRUE")), ("then", json!("yes"))];
        assert_eq!(
            run("If-Then-Else", Some(json!("v")), &by_condition),
            Some(json!("yes"))
        );
        assert_eq!(
            run(
                "If-Then-Else",
                Some(json!("v")),
                &[("condition", json!("false")), ("then", json!("yes"))]
            ),
            Some(json!("v"))
        );
    }

    #[test]
    fn set_if_empty_fills_missing_and_by_default_empty_values() {
        let default = [("defaultValue", json!("n/a"))];
        assert_eq!(run("SetIfEmpty", None, &default), Some(json!("n/a")));
        assert_eq!(
            run("SetIfEmpty", Some(json!("")), &default),
            Some(json!("n/a"))
        );
        assert_eq!(
            run("SetIfEmpty", Some(json!("x")), &default),
            Some(json!("x"))
        );
        let keep_empty = [
            ("defaultValue", json!("n/a")),
            ("applyIfEmpty", json!("false")),
        ];
        assert_eq!(
            run("SetIfEmpty", Some(json!("")), &keep_empty),
            Some(json!(""))
        );
        assert_eq!(run("SetIfEmpty", None, &keep_empty), Some(json!("n/a")));
        assert_eq!(
            run("SetIfEmpty", Some(json!(false)), &default),
            Some(json!(false))
        );
    }

    /// XSOAR edge cases: a missing input, an empty string, and a non-string input for each.
    #[test]
    fn edge_cases_missing_empty_and_non_string_inputs() {
        type Case<'a> = (&'a str, &'a [(&'a str, Value)], [Option<Value>; 3]);
        let table: [Case; 12] = [
            (
                "concat",
                &[("prefix", json!("<")), ("suffix", json!(">"))],
                [Some(json!("<>")), Some(json!("<>")), Some(json!("<true>"))],
            ),
            ("ParseJSON", &[], [None, None, Some(json!(true))]),
            (
                "toLowerCase",
                &[],
                [Some(json!("")), Some(json!("")), Some(json!("true"))],
            ),
            (
                "toUpperCase",
                &[],
                [Some(json!("")), Some(json!("")), Some(json!("TRUE"))],
            ),
            (
                "Stringify",
                &[],
                [None, Some(json!("")), Some(json!("true"))],
            ),
            (
                "substringFrom",
                &[("from", json!("r"))],
                [Some(json!("")), Some(json!("")), Some(json!("ue"))],
            ),
            (
                "substringTo",
                &[("to", json!("u"))],
                [Some(json!("")), Some(json!("")), Some(json!("tr"))],
            ),
            ("split", &[], [None, Some(json!([""])), Some(json!(true))]),
            ("join", &[], [None, Some(json!("")), Some(json!(true))]),
            (
                "replace",
                &[("toReplace", json!("t")), ("replaceWith", json!("T"))],
                [Some(json!("")), Some(json!("")), Some(json!("True"))],
            ),
            (
                "If-Then-Else",
                &[
                    ("equals", json!("true")),
                    ("then", json!("yes")),
                    ("else", json!("no")),
                ],
                [Some(json!("no")), Some(json!("no")), Some(json!("yes"))],
            ),
            (
                "SetIfEmpty",
                &[("defaultValue", json!("d"))],
                [Some(json!("d")), Some(json!("d")), Some(json!(true))],
            ),
        ];
        for (operator, args, [missing, empty, boolean]) in table {
            assert_eq!(
                run(operator, None, args),
                missing,
                "{operator} on a missing value"
            );
            assert_eq!(
                run(operator, Some(json!("")), args),
                empty,
                "{operator} on an empty string"
            );
            assert_eq!(
                run(operator, Some(json!(true)), args),
                boolean,
                "{operator} on a boolean"
            );
        }
    }

    #[test]
    fn unknown_names_are_not_operators() {
        assert_eq!(Operator::from_name("toTitleCase"), None);
        assert!(Operator::SetIfEmpty.applies_to_empty() && !Operator::Concat.applies_to_empty());
    }
}
