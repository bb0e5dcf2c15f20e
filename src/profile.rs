//! The command arguments of the user commands: `user-profile` (a JSON object, or a string
//! holding one, with an optional `olduserdata` of the same shape), `allow-enable`, and the
//! lookup identifier a profile yields (behaviour.md §3.1).

use serde_json::{Map, Value};

use crate::error::{Error, json_kind};
use crate::scim::user::{Identifier, is_primary, scalar_text};

/// The key under which a profile carries its values from before an identifier changed.
pub const OLD_USER_DATA: &str = "olduserdata";

/// Read the `user-profile` argument: an object, or a string holding one (behaviour.md §2
/// [fix]: bad input is an error entry, not a traceback). Missing and `null` are alike.
pub fn parse_user_profile(argument: Option<&Value>) -> Result<Map<String, Value>, Error> {
    match object_argument(argument).map_err(Error::InvalidProfile)? {
        map if map.is_empty() => Err(Error::InvalidProfile(
            "expected a non-empty JSON object, got an empty object".into(),
        )),
        map => Ok(map),
    }
}

/// An argument that is a JSON object, or a string holding one (unwrapped once); missing and
/// `null` are alike. The error is what is wrong, for the caller's message (`user-profile`
/// here, `scim` for the group commands, behaviour.md §8.1).
pub fn object_argument(argument: Option<&Value>) -> Result<Map<String, Value>, String> {
    let value = match argument {
        None | Some(Value::Null) => return Err("the argument is required".into()),
        // The argument may be the object itself or a string holding its JSON text.
        Some(Value::String(inner)) => {
            serde_json::from_str(inner).map_err(|e| format!("not valid JSON ({e})"))?
        }
        Some(other) => other.clone(),
    };
    match value {
        Value::Object(map) => Ok(map),
        other => Err(format!("expected a JSON object, got {}", json_kind(&other))),
    }
}

/// `allow-enable`: true for the boolean `true` or the string `"true"` in any case; absent
/// means the default, true.
pub fn parse_allow_enable(argument: Option<&Value>) -> bool {
    match argument {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("true"),
        Some(_) => false,
    }
}

/// The profile's `olduserdata` object, when it has a non-empty one.
pub fn old_user_data(profile: &Map<String, Value>) -> Option<&Map<String, Value>> {
    match profile.get(OLD_USER_DATA) {
        Some(Value::Object(old)) if !old.is_empty() => Some(old),
        _ => None,
    }
}

/// The message of a profile without any identifier (behaviour.md §3.1).
pub const NO_IDENTIFIER_MESSAGE: &str = "Your user profile argument must contain at least one attribute that is mapped into one of the following attributes in the outgoing mapper: ['id', 'userName', 'emails']";

/// The lookup attribute: `id` of the raw profile, else `userName`, else `emails` of the
/// mapped one (behaviour.md §3.1).
pub fn identifier(raw: &Map<String, Value>, mapped: &Map<String, Value>) -> Option<Identifier> {
    if let Some(id) = raw.get("id").and_then(scalar_text) {
        return Some(Identifier::Id(id));
    }
    if let Some(user_name) = mapped.get("userName").and_then(scalar_text) {
        return Some(Identifier::UserName(user_name));
    }
    mapped
        .get("emails")
        .and_then(email_to_look_up)
        .map(Identifier::Email)
}

/// The e-mail a mapped profile's `emails` names for a lookup (and the sync's match by
/// e-mail, sync.md §3): the primary entry's value, else the first entry's; an object counts
/// as a one-entry list and a plain string is used as it is.
pub fn email_to_look_up(emails: &Value) -> Option<String> {
    match emails {
        Value::Array(entries) => entries
            .iter()
            .find(|entry| is_primary(entry))
            .or_else(|| entries.first())
            .and_then(email_value),
        other => email_value(other),
    }
}

/// The address of one `emails` entry: its `value`, or the entry itself when it is a string.
pub fn email_value(entry: &Value) -> Option<String> {
    match entry {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Object(_) => entry.get("value").and_then(scalar_text),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn object_and_string_forms_are_accepted() {
        let direct = parse_user_profile(Some(&json!({"email": "a@b.c"}))).unwrap();
        let wrapped = parse_user_profile(Some(&json!(r#"{"email":"a@b.c"}"#))).unwrap();
        assert_eq!(direct, wrapped);
        assert_eq!(direct["email"], "a@b.c");
    }

    #[test]
    fn bad_profiles_name_the_problem() {
        let cases = [
            (
                None,
                "Invalid user-profile argument: the argument is required",
            ),
            (
                Some(json!(null)),
                "Invalid user-profile argument: the argument is required",
            ),
            (
                Some(json!([1])),
                "Invalid user-profile argument: expected a JSON object, got an array",
            ),
            (
                Some(json!("[1]")),
                "Invalid user-profile argument: expected a JSON object, got an array",
            ),
            (
                Some(json!({})),
                "Invalid user-profile argument: expected a non-empty JSON object, got an empty object",
            ),
            (
                Some(json!(3)),
                "Invalid user-profile argument: expected a JSON object, got a number",
            ),
            (
                Some(json!("\"{}\"")),
                "Invalid user-profile argument: expected a JSON object, got a string",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                parse_user_profile(input.as_ref()).unwrap_err().to_string(),
                message
            );
        }
        let not_json = parse_user_profile(Some(&json!("{nope")))
            .unwrap_err()
            .to_string();
        assert!(
            not_json.starts_with("Invalid user-profile argument: not valid JSON ("),
            "{not_json}"
        );
    }

    #[test]
    fn allow_enable_accepts_true_in_any_case_and_defaults_to_true() {
        assert!(parse_allow_enable(None));
        assert!(parse_allow_enable(Some(&json!(true))));
        assert!(parse_allow_enable(Some(&json!("TRUE"))));
        assert!(!parse_allow_enable(Some(&json!("false"))));
        assert!(!parse_allow_enable(Some(&json!("yes"))));
        assert!(!parse_allow_enable(Some(&json!(false))));
    }

    #[test]
    fn identifiers_are_taken_in_order_id_user_name_emails() {
        let raw = json!({"id": "9"});
        let mapped = json!({"userName": "u", "emails": [{"value": "e"}]});
        let (raw, mapped) = (raw.as_object().unwrap(), mapped.as_object().unwrap());
        assert_eq!(identifier(raw, mapped), Some(Identifier::Id("9".into())));
        assert_eq!(
            identifier(&Map::new(), mapped),
            Some(Identifier::UserName("u".into()))
        );
        let emails = |v: Value| identifier(&Map::new(), json!({"emails": v}).as_object().unwrap());
        assert_eq!(
            emails(json!([{"value": "a"}, {"value": "b", "primary": true}])),
            Some(Identifier::Email("b".into()))
        );
        assert_eq!(
            emails(json!([{"value": "a"}, {"value": "b"}])),
            Some(Identifier::Email("a".into()))
        );
        assert_eq!(
            emails(json!({"value": "o"})),
            Some(Identifier::Email("o".into()))
        );
        assert_eq!(
            emails(json!("plain@x")),
            Some(Identifier::Email("plain@x".into()))
        );
        assert_eq!(emails(json!([])), None);
        assert_eq!(
            identifier(&Map::new(), json!({"userName": ""}).as_object().unwrap()),
            None
        );
    }
}
