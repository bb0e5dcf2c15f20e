//! The arguments of the group commands (behaviour.md §8.1): `scim` (its `id`,
//! `displayName` and `externalId`), `includeMembers`, and the member id lists in the three
//! forms XSOAR passes them, checked in the order the spec fixes. Every problem is an
//! `Error` (an error entry), found before any request.

use serde_json::{Map, Value};
use std::collections::HashSet;

use super::GroupCommand;
use crate::error::{Error, json_kind};
use crate::profile;

/// Member ids one iam-update-group accepts in all: the stated limit of the other XSOAR
/// IAM integrations; 150 PATCH requests of 100 ids.
pub const MAX_MEMBER_IDS: usize = 15_000;

const ADD: &str = "memberIdsToAdd";
const DELETE: &str = "memberIdsToDelete";

/// The checked arguments of one group command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupArguments {
    /// `scim.id` and `scim.displayName` as given; a failed result shows them.
    pub given: Given,
    /// What the command is to do, with what it needs.
    pub action: GroupAction,
}

/// The `id` and `displayName` of `scim`, as given (read when they are strings that are not
/// empty after trimming).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Given {
    pub id: Option<String>,
    pub display_name: Option<String>,
}

/// How iam-get-group finds the group: by id when `scim` has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupKey {
    Id(String),
    DisplayName(String),
}

/// A group command with its checked arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupAction {
    Get {
        key: GroupKey,
        include_members: bool,
    },
    Create {
        display_name: String,
        external_id: Option<String>,
    },
    /// The ids trimmed, without empty or repeated ones; at least one in all.
    Update {
        id: String,
        add: Vec<String>,
        remove: Vec<String>,
    },
    Delete {
        id: String,
    },
}

/// Parse and check the arguments of `command`. Keys the command does not know are ignored.
pub fn parse(command: GroupCommand, args: &Map<String, Value>) -> Result<GroupArguments, Error> {
    let scim = profile::object_argument(args.get("scim")).map_err(Error::InvalidScim)?;
    let text = |key: &str| match scim.get(key) {
        Some(Value::String(value)) if !value.trim().is_empty() => Some(value.clone()),
        _ => None,
    };
    let given = Given {
        id: text("id"),
        display_name: text("displayName"),
    };
    let required_id = |verb: &str| {
        given
            .id
            .clone()
            .ok_or_else(|| Error::InvalidScim(format!("\"id\" is required to {verb} a group")))
    };
    let action = match command {
        GroupCommand::Get => {
            let key = match (&given.id, &given.display_name) {
                (Some(id), _) => GroupKey::Id(id.clone()),
                (None, Some(display_name)) => GroupKey::DisplayName(display_name.clone()),
                (None, None) => {
                    return Err(Error::InvalidScim(
                        "it must contain \"id\" or \"displayName\"".into(),
                    ));
                }
            };
            GroupAction::Get {
                key,
                include_members: include_members(args.get("includeMembers")),
            }
        }
        GroupCommand::Create => GroupAction::Create {
            display_name: given.display_name.clone().ok_or_else(|| {
                Error::InvalidScim("\"displayName\" is required to create a group".into())
            })?,
            external_id: text("externalId"),
        },
        GroupCommand::Update => {
            let id = required_id("update")?;
            let (add, remove) = member_ids(args)?;
            GroupAction::Update { id, add, remove }
        }
        GroupCommand::Delete => GroupAction::Delete {
            id: required_id("delete")?,
        },
    };
    Ok(GroupArguments { given, action })
}

/// `includeMembers`: the boolean `true` or the string `"true"` (any case, spaces around
/// ignored); anything else is false.
fn include_members(argument: Option<&Value>) -> bool {
    match argument {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Both member lists, checked in the order of behaviour.md §8.1: each list's form, the
/// limit, an id in both lists, and at least one id.
fn member_ids(args: &Map<String, Value>) -> Result<(Vec<String>, Vec<String>), Error> {
    let add = member_list(ADD, args.get(ADD))?;
    let remove = member_list(DELETE, args.get(DELETE))?;
    if add.len() + remove.len() > MAX_MEMBER_IDS {
        return Err(Error::TooManyMemberIds(MAX_MEMBER_IDS));
    }
    let removed: HashSet<&str> = remove.iter().map(String::as_str).collect();
    if let Some(both) = add.iter().find(|id| removed.contains(id.as_str())) {
        return Err(Error::MemberInBothLists(both.clone()));
    }
    if add.is_empty() && remove.is_empty() {
        return Err(Error::NoMemberIds);
    }
    Ok((add, remove))
}

/// One member list: a JSON list of strings, a string holding one (its first non-space
/// character is `[`), or a comma-separated string. Items are trimmed, empty ones dropped,
/// and repeated ones dropped after their first occurrence. Absent or null is no ids.
fn member_list(argument: &'static str, value: Option<&Value>) -> Result<Vec<String>, Error> {
    let invalid = |why: String| Error::InvalidMemberIds { argument, why };
    let items: Vec<String> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => strings(items).map_err(invalid)?,
        Some(Value::String(text)) if text.trim_start().starts_with('[') => {
            // JSON text that starts with `[` can only be a list, or invalid.
            let items: Vec<Value> = serde_json::from_str(text)
                .map_err(|error| invalid(format!("not a valid JSON list ({error})")))?;
            strings(&items).map_err(invalid)?
        }
        Some(Value::String(text)) => text.split(',').map(str::to_string).collect(),
        Some(other) => {
            return Err(invalid(format!(
                "expected a list of ids, a string holding a JSON list, or a comma-separated string, got {}",
                json_kind(other)
            )));
        }
    };
    let mut seen = HashSet::with_capacity(items.len());
    Ok(items
        .iter()
        .map(|item| item.trim())
        .filter(|item| !item.is_empty() && seen.insert(*item))
        .map(str::to_string)
        .collect())
}

/// The items of a JSON list, each of which must be a string.
fn strings(items: &[Value]) -> Result<Vec<String>, String> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::String(s) => Ok(s.clone()),
            other => Err(format!(
                "item {} is {}, not a string",
                index + 1,
                json_kind(other)
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn error(command: GroupCommand, value: Value) -> String {
        parse(command, &args(value)).unwrap_err().to_string()
    }

    /// The ids to add and to remove of an update.
    fn update(add: Value, remove: Value) -> Result<(Vec<String>, Vec<String>), Error> {
        let parsed = parse(
            GroupCommand::Update,
            &args(json!({"scim": {"id": "g1"}, ADD: add, DELETE: remove})),
        )?;
        match parsed.action {
            GroupAction::Update { add, remove, .. } => Ok((add, remove)),
            other => panic!("not an update: {other:?}"),
        }
    }

    #[test]
    fn scim_is_an_object_or_a_string_holding_one() {
        let direct = parse(
            GroupCommand::Get,
            &args(json!({"scim": {"id": " g1 ", "displayName": "Eng", "x": 1}})),
        )
        .unwrap();
        let wrapped = parse(
            GroupCommand::Get,
            &args(json!({"scim": r#"{"id": " g1 ", "displayName": "Eng"}"#})),
        )
        .unwrap();
        assert_eq!(direct, wrapped);
        // The value is used as given, spaces included; get uses the id when there is one.
        assert_eq!(direct.given.id.as_deref(), Some(" g1 "));
        assert_eq!(direct.given.display_name.as_deref(), Some("Eng"));
        assert_eq!(
            direct.action,
            GroupAction::Get {
                key: GroupKey::Id(" g1 ".into()),
                include_members: false
            }
        );
        let by_name = parse(
            GroupCommand::Get,
            &args(json!({"scim": {"displayName": "Eng"}})),
        );
        assert_eq!(
            by_name.unwrap().action,
            GroupAction::Get {
                key: GroupKey::DisplayName("Eng".into()),
                include_members: false
            }
        );
        let create = parse(
            GroupCommand::Create,
            &args(json!({"scim": {"displayName": "Eng", "externalId": "x-1", "id": "g"}})),
        );
        assert_eq!(
            create.unwrap().action,
            GroupAction::Create {
                display_name: "Eng".into(),
                external_id: Some("x-1".into())
            }
        );
    }

    #[test]
    fn bad_scim_arguments_name_the_problem() {
        for command in [
            GroupCommand::Get,
            GroupCommand::Create,
            GroupCommand::Update,
            GroupCommand::Delete,
        ] {
            assert_eq!(
                error(command, json!({})),
                "Invalid scim argument: the argument is required"
            );
            assert_eq!(
                error(command, json!({"scim": null})),
                "Invalid scim argument: the argument is required"
            );
            assert_eq!(
                error(command, json!({"scim": [1]})),
                "Invalid scim argument: expected a JSON object, got an array"
            );
            assert_eq!(
                error(command, json!({"scim": "\"{}\""})),
                "Invalid scim argument: expected a JSON object, got a string"
            );
            assert!(
                error(command, json!({"scim": "{nope"}))
                    .starts_with("Invalid scim argument: not valid JSON (")
            );
        }
        assert_eq!(
            error(
                GroupCommand::Get,
                json!({"scim": {"id": " ", "displayName": 5}})
            ),
            "Invalid scim argument: it must contain \"id\" or \"displayName\""
        );
        assert_eq!(
            error(GroupCommand::Create, json!({"scim": {"id": "g1"}})),
            "Invalid scim argument: \"displayName\" is required to create a group"
        );
        assert_eq!(
            error(
                GroupCommand::Update,
                json!({"scim": {"displayName": "Eng"}})
            ),
            "Invalid scim argument: \"id\" is required to update a group"
        );
        assert_eq!(
            error(GroupCommand::Delete, json!({"scim": {}})),
            "Invalid scim argument: \"id\" is required to delete a group"
        );
    }

    #[test]
    fn include_members_is_true_only_for_true() {
        let get = |value: Value| {
            let parsed = parse(
                GroupCommand::Get,
                &args(json!({"scim": {"id": "g"}, "includeMembers": value})),
            );
            matches!(
                parsed.unwrap().action,
                GroupAction::Get {
                    include_members: true,
                    ..
                }
            )
        };
        assert!(get(json!(true)) && get(json!(" TRUE ")) && get(json!("true")));
        assert!(!get(json!(false)) && !get(json!("yes")) && !get(json!(1)) && !get(json!(null)));
        assert!(!get(json!("")));
    }

    #[test]
    fn member_ids_come_in_three_forms_trimmed_without_empties_or_repeats() {
        let expected = vec!["a".to_string(), "b c".into(), "d".into()];
        for add in [
            json!(["a", " b c ", "", "a", "d", "  "]),
            json!(r#"  [" a", "b c", "", "d", "a"]"#),
            json!(" a, b c,,a , d ,"),
        ] {
            assert_eq!(
                update(add.clone(), Value::Null).unwrap().0,
                expected,
                "{add}"
            );
        }
        assert_eq!(
            update(json!("x"), json!(["y", "y"])).unwrap(),
            (vec!["x".into()], vec!["y".into()])
        );
    }

    #[test]
    fn member_lists_in_other_forms_are_refused_naming_the_argument() {
        let cases = [
            (
                json!(5),
                Value::Null,
                "Invalid memberIdsToAdd argument: expected a list of ids, a string holding a JSON list, or a comma-separated string, got a number",
            ),
            (
                json!({"a": 1}),
                Value::Null,
                "Invalid memberIdsToAdd argument: expected a list of ids, a string holding a JSON list, or a comma-separated string, got an object",
            ),
            (
                json!(["a", 2]),
                Value::Null,
                "Invalid memberIdsToAdd argument: item 2 is a number, not a string",
            ),
            (
                json!("a"),
                json!([null]),
                "Invalid memberIdsToDelete argument: item 1 is null, not a string",
            ),
            (
                json!("a"),
                json!(r#"["b", {"value": "c"}]"#),
                "Invalid memberIdsToDelete argument: item 2 is an object, not a string",
            ),
            (
                json!(true),
                json!(5),
                "Invalid memberIdsToAdd argument: expected a list of ids, a string holding a JSON list, or a comma-separated string, got a boolean",
            ),
        ];
        for (add, remove, message) in cases {
            assert_eq!(update(add, remove).unwrap_err().to_string(), message);
        }
        let message = update(json!(" [\"a\", "), Value::Null)
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("Invalid memberIdsToAdd argument: not a valid JSON list ("),
            "{message}"
        );
    }

    #[test]
    fn the_checks_run_in_the_order_of_the_spec() {
        let many = |prefix: &str, count: usize| -> Value {
            (0..count).map(|n| format!("{prefix}{n}")).collect()
        };
        // More than 15,000 in all, counted after repeats are dropped.
        assert_eq!(
            update(many("a", 10_000), many("r", 5_001))
                .unwrap_err()
                .to_string(),
            "At most 15000 member ids in one iam-update-group"
        );
        let mut repeated = many("a", 15_000);
        repeated.as_array_mut().unwrap().push(json!("a0"));
        assert_eq!(update(repeated, Value::Null).unwrap().0.len(), 15_000);
        // The limit comes before an id in both lists; the form comes before the limit.
        assert_eq!(
            update(many("a", 15_001), json!(["a1"]))
                .unwrap_err()
                .to_string(),
            "At most 15000 member ids in one iam-update-group"
        );
        assert_eq!(
            update(many("a", 15_001), json!(7)).unwrap_err().to_string(),
            "Invalid memberIdsToDelete argument: expected a list of ids, a string holding a JSON list, or a comma-separated string, got a number"
        );
        // The first id of memberIdsToAdd that is also to be removed is named.
        assert_eq!(
            update(json!("x, b, a"), json!(["a", "b"]))
                .unwrap_err()
                .to_string(),
            "User id \"b\" is in both memberIdsToAdd and memberIdsToDelete"
        );
        for (add, remove) in [
            (Value::Null, Value::Null),
            (json!([]), json!("")),
            (json!(" , "), json!("[]")),
        ] {
            assert_eq!(
                update(add, remove).unwrap_err().to_string(),
                "You must supply either \"memberIdsToAdd\" or \"memberIdsToDelete\""
            );
        }
        // The identifier comes before the member lists.
        assert_eq!(
            error(GroupCommand::Update, json!({"scim": {}, ADD: 5})),
            "Invalid scim argument: \"id\" is required to update a group"
        );
        // Get, create and delete ignore the member lists.
        assert!(
            parse(
                GroupCommand::Delete,
                &args(json!({"scim": {"id": "g"}, ADD: 5}))
            )
            .is_ok()
        );
    }
}
