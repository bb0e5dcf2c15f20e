//! The arguments of `sync-plan` (contracts.md §2), checked before any request: the desired
//! state (format and text), the plan's id, creation time and tenant, the `protect` globs,
//! `manage_groups`, `on_missing` and the two limits. Anything unusable is an "input" failure
//! naming the argument.

use serde_json::{Map, Value};

use super::desired::Format;
use super::safety::Limit;
use super::scope::Glob;
use super::users::OnMissing;
use crate::error::json_kind;

/// The characters of a plan id: 16 lower-case hexadecimal digits.
const PLAN_ID_LENGTH: usize = 16;

/// The checked arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Options<'a> {
    pub format: Format,
    /// The desired file's whole text.
    pub text: &'a str,
    pub plan_id: &'a str,
    pub created: &'a str,
    /// The jobs' tenant.
    pub tenant: String,
    pub protect: Vec<Glob>,
    pub manage_groups: Vec<String>,
    pub on_missing: OnMissing,
    pub max_deprovision: Limit,
    pub max_member_removals: Limit,
}

impl<'a> Options<'a> {
    /// Check `args`; `default_tenant` stands for an absent `tenant`.
    pub fn parse(
        args: &'a Map<String, Value>,
        default_tenant: &str,
    ) -> Result<Options<'a>, String> {
        let invalid = |name: &str, why: String| format!("Invalid {name} argument: {why}");
        let desired = match args.get("desired") {
            Some(Value::Object(desired)) => desired,
            None | Some(Value::Null) => return Err(invalid("desired", "it is required".into())),
            Some(other) => {
                return Err(invalid(
                    "desired",
                    format!("expected an object, got {}", json_kind(other)),
                ));
            }
        };
        let format = match desired.get("format") {
            Some(Value::String(format)) if format == "jsonl" => Format::Jsonl,
            Some(Value::String(format)) if format == "csv" => Format::Csv,
            other => {
                return Err(invalid(
                    "desired",
                    format!(
                        "\"format\" must be \"jsonl\" or \"csv\", got {}",
                        shown(other)
                    ),
                ));
            }
        };
        let text = match desired.get("text") {
            Some(Value::String(text)) => text.as_str(),
            other => {
                return Err(invalid(
                    "desired",
                    format!("\"text\" must be the file's text, got {}", shown(other)),
                ));
            }
        };
        let string = |name: &str| match args.get(name) {
            Some(Value::String(value)) if !value.trim().is_empty() => Ok(Some(value.as_str())),
            None | Some(Value::Null) => Ok(None),
            Some(other) => Err(invalid(
                name,
                format!("expected a non-empty string, got {}", shown(Some(other))),
            )),
        };
        let plan_id =
            string("plan_id")?.ok_or_else(|| invalid("plan_id", "it is required".into()))?;
        if plan_id.len() != PLAN_ID_LENGTH
            || !plan_id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid(
                "plan_id",
                format!("expected {PLAN_ID_LENGTH} lower-case hexadecimal digits, got {plan_id:?}"),
            ));
        }
        let created =
            string("created")?.ok_or_else(|| invalid("created", "it is required".into()))?;
        let tenant = string("tenant")?.unwrap_or(default_tenant).to_string();
        let names = |name: &str| -> Result<Vec<String>, String> {
            let items = match args.get(name) {
                None | Some(Value::Null) => return Ok(Vec::new()),
                Some(Value::Array(items)) => items,
                Some(other) => {
                    return Err(invalid(
                        name,
                        format!("expected a list of strings, got {}", json_kind(other)),
                    ));
                }
            };
            items
                .iter()
                .map(|item| match item {
                    Value::String(text) if !text.trim().is_empty() => Ok(text.trim().to_string()),
                    other => Err(invalid(
                        name,
                        format!(
                            "expected a list of non-empty strings, and it holds {}",
                            shown(Some(other))
                        ),
                    )),
                })
                .collect()
        };
        let protect = names("protect")?
            .iter()
            .map(|glob| Glob::new(glob))
            .collect();
        let manage_groups = names("manage_groups")?;
        let on_missing = match string("on_missing")? {
            None | Some("disable") => OnMissing::Disable,
            Some("delete") => OnMissing::Delete,
            Some("ignore") => OnMissing::Ignore,
            Some(other) => {
                return Err(invalid(
                    "on_missing",
                    format!("expected \"disable\", \"delete\" or \"ignore\", got {other:?}"),
                ));
            }
        };
        let limit = |name: &str| match args.get(name) {
            None | Some(Value::Null) => Ok(Limit::Default),
            Some(Value::String(text)) => Limit::parse(text).map_err(|why| invalid(name, why)),
            Some(Value::Number(count)) => count.as_u64().map(Limit::Count).ok_or_else(|| {
                invalid(
                    name,
                    format!("expected a count N or a share P%, got {count}"),
                )
            }),
            Some(other) => Err(invalid(
                name,
                format!("expected a count N or a share P%, got {}", json_kind(other)),
            )),
        };
        Ok(Options {
            format,
            text,
            plan_id,
            created,
            tenant,
            protect,
            manage_groups,
            on_missing,
            max_deprovision: limit("max_deprovision")?,
            max_member_removals: limit("max_member_removals")?,
        })
    }
}

/// A value as a message shows it: JSON text, or "nothing" when absent.
fn shown(value: Option<&Value>) -> String {
    match value {
        None => "nothing".into(),
        Some(value) => {
            let text = crate::json::text(value);
            // A message is one short line, even for a long value.
            match text.char_indices().nth(60) {
                Some((cut, _)) => format!("{}…", &text[..cut]),
                None => text,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn minimal() -> Value {
        json!({
            "desired": {"format": "jsonl", "text": ""},
            "plan_id": "0123456789abcdef",
            "created": "2025-01-02T03:04:05Z"
        })
    }

    #[test]
    fn the_minimal_arguments_take_the_defaults() {
        let args = args(minimal());
        let options = Options::parse(&args, "inst").unwrap();
        assert_eq!(options.format, Format::Jsonl);
        assert_eq!(options.tenant, "inst");
        assert_eq!(options.on_missing, OnMissing::Disable);
        assert_eq!(options.max_deprovision, Limit::Default);
        assert_eq!(options.max_member_removals, Limit::Default);
        assert!(options.protect.is_empty() && options.manage_groups.is_empty());
    }

    #[test]
    fn every_option_is_read() {
        let mut value = minimal();
        value["desired"]["format"] = json!("csv");
        value["tenant"] = json!("acme");
        value["protect"] = json!(["admin@*"]);
        value["manage_groups"] = json!([" Empty Group "]);
        value["on_missing"] = json!("delete");
        value["max_deprovision"] = json!("5%");
        value["max_member_removals"] = json!(7);
        let args = args(value);
        let options = Options::parse(&args, "inst").unwrap();
        assert_eq!(options.format, Format::Csv);
        assert_eq!(options.tenant, "acme");
        assert_eq!(options.protect, [Glob::new("admin@*")]);
        assert_eq!(options.manage_groups, ["Empty Group"]);
        assert_eq!(options.on_missing, OnMissing::Delete);
        assert_eq!(options.max_deprovision, Limit::Share { units: 5, scale: 0 });
        assert_eq!(options.max_member_removals, Limit::Count(7));
    }

    #[test]
    fn unusable_arguments_are_named() {
        let cases = [
            (
                "desired",
                json!(null),
                "Invalid desired argument: it is required",
            ),
            (
                "desired",
                json!({"format": "xlsx", "text": ""}),
                "Invalid desired argument: \"format\" must be \"jsonl\" or \"csv\", got \"xlsx\"",
            ),
            (
                "desired",
                json!({"format": "csv"}),
                "Invalid desired argument: \"text\" must be the file's text, got nothing",
            ),
            (
                "plan_id",
                json!("0123456789ABCDEF"),
                "Invalid plan_id argument: expected 16 lower-case hexadecimal digits, got \"0123456789ABCDEF\"",
            ),
            (
                "plan_id",
                json!(null),
                "Invalid plan_id argument: it is required",
            ),
            (
                "created",
                json!(5),
                "Invalid created argument: expected a non-empty string, got 5",
            ),
            (
                "protect",
                json!("a*"),
                "Invalid protect argument: expected a list of strings, got a string",
            ),
            (
                "manage_groups",
                json!(["a", ""]),
                "Invalid manage_groups argument: expected a list of non-empty strings, and it holds \"\"",
            ),
            (
                "on_missing",
                json!("remove"),
                "Invalid on_missing argument: expected \"disable\", \"delete\" or \"ignore\", got \"remove\"",
            ),
            (
                "max_deprovision",
                json!("ten"),
                "Invalid max_deprovision argument: expected a count N or a share P% (such as 25 or 2.5%), got \"ten\"",
            ),
            (
                "max_member_removals",
                json!(-1),
                "Invalid max_member_removals argument: expected a count N or a share P%, got -1",
            ),
        ];
        for (key, value, message) in cases {
            let mut invocation = minimal();
            invocation[key] = value;
            let args = args(invocation);
            assert_eq!(Options::parse(&args, "inst").unwrap_err(), message, "{key}");
        }
    }
}
