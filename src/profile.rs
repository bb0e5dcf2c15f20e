//! The command arguments: `user-profile` (a JSON object, or a string holding one, with an
//! optional `olduserdata` of the same shape) and `allow-enable`.

use serde_json::{Map, Value};

use crate::error::{Error, json_kind};

/// The key under which a profile carries its values from before an identifier changed.
pub const OLD_USER_DATA: &str = "olduserdata";

/// Parse the JSON text of the `user-profile` argument (behaviour.md §2 [fix]: bad input is an
/// error entry, not a traceback).
pub fn parse_user_profile(argument_json: Option<&str>) -> Result<Map<String, Value>, Error> {
    let text =
        argument_json.ok_or_else(|| Error::InvalidProfile("the argument is required".into()))?;
    let value: Value = serde_json::from_str(text)
        .map_err(|e| Error::InvalidProfile(format!("not valid JSON ({e})")))?;
    // The argument may be the object itself or a string holding its JSON text.
    let value = match value {
        Value::String(inner) => serde_json::from_str(&inner)
            .map_err(|e| Error::InvalidProfile(format!("not valid JSON ({e})")))?,
        other => other,
    };
    match value {
        Value::Object(map) if map.is_empty() => Err(Error::InvalidProfile(
            "expected a non-empty JSON object, got an empty object".into(),
        )),
        Value::Object(map) => Ok(map),
        other => Err(Error::InvalidProfile(format!(
            "expected a JSON object, got {}",
            json_kind(&other)
        ))),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn object_and_string_forms_are_accepted() {
        let direct = parse_user_profile(Some(r#"{"email":"a@b.c"}"#)).unwrap();
        let wrapped = parse_user_profile(Some(r#""{\"email\":\"a@b.c\"}""#)).unwrap();
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
                Some("[1]"),
                "Invalid user-profile argument: expected a JSON object, got an array",
            ),
            (
                Some("\"[1]\""),
                "Invalid user-profile argument: expected a JSON object, got an array",
            ),
            (
                Some("{}"),
                "Invalid user-profile argument: expected a non-empty JSON object, got an empty object",
            ),
            (
                Some("3"),
                "Invalid user-profile argument: expected a JSON object, got a number",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(parse_user_profile(input).unwrap_err().to_string(), message);
        }
        let not_json = parse_user_profile(Some("\"{nope\""))
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
}
