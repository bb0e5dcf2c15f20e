//! The request bodies of the user commands: `POST /Users` (behaviour.md §4.2) and the
//! `PUT /Users/{id}` that keeps what the profile does not mention (§4.3).

use serde_json::{Map, Value, json};

use crate::profile::OLD_USER_DATA;
use crate::scim::user as scim_user;

use super::{ATLASSIAN_EXTENSION, CORE_USER_SCHEMA, READ_ONLY_KEYS};

/// The application data as a SCIM body: an `emails` object becomes a one-entry list.
fn scim_body(app: Map<String, Value>) -> Map<String, Value> {
    let mut body = app;
    body.shift_remove(OLD_USER_DATA);
    if let Some(emails @ Value::Object(_)) = body.get_mut("emails") {
        *emails = Value::Array(vec![emails.take()]);
    }
    body
}

/// The `POST /Users` body (behaviour.md §4.2): `schemas` when absent, and `active: true`
/// when enabling is allowed and the profile does not say [fix].
pub fn creation_body(app: &Map<String, Value>, allow_enable: bool) -> Value {
    let mut body = scim_body(app.clone());
    if !body.contains_key("schemas") {
        body.insert("schemas".into(), json!([CORE_USER_SCHEMA]));
    }
    if allow_enable && !body.contains_key("active") {
        body.insert("active".into(), Value::Bool(true));
    }
    Value::Object(body)
}

/// The `PUT /Users/{id}` body (behaviour.md §4.3 [fix]): the user as read minus its
/// read-only parts, overlaid with the profile (taken, not copied), and `active` by the rule.
pub fn replacement_body(user: &Value, app: Map<String, Value>, allow_enable: bool) -> Value {
    // The user without its read-only parts, in its order; only what is kept is copied.
    let mut body: Map<String, Value> = user
        .as_object()
        .map(|user| {
            user.iter()
                .filter(|(key, _)| !READ_ONLY_KEYS.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(Value::Array(schemas)) = body.get_mut("schemas") {
        schemas.retain(|schema| schema != ATLASSIAN_EXTENSION);
    }
    let overlay = scim_body(app);
    let profile_sets_active = overlay.contains_key("active");
    for (key, value) in overlay {
        body.insert(key, value);
    }
    if !profile_sets_active {
        match scim_user::active_of(user) {
            Some(false) if allow_enable => {
                body.insert("active".into(), Value::Bool(true));
            }
            Some(current) => {
                body.insert("active".into(), Value::Bool(current));
            }
            None => {
                body.shift_remove("active");
            }
        }
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn atlassian_user(active: Value) -> Value {
        let mut user = json!({
            "schemas": [ATLASSIAN_EXTENSION, CORE_USER_SCHEMA, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "userName": "u@x.com",
            "emails": [{"value": "u@x.com", "type": "work", "primary": true}],
            "title": "Engineer",
            "meta": {"resourceType": "User", "location": "https://api.atlassian.com/scim/directory/d/Users/1"},
            "groups": [],
            ATLASSIAN_EXTENSION: {"atlassianAccountId": "5f3"},
            "id": "1"
        });
        if !active.is_null() {
            user["active"] = active;
        }
        user
    }

    #[test]
    fn the_update_body_keeps_other_attributes_and_drops_exactly_the_read_only_parts() {
        let body = replacement_body(
            &atlassian_user(json!(true)),
            object(json!({"title": "Manager"})),
            true,
        );
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"u@x.com","emails":[{"value":"u@x.com","type":"work","primary":true}],"title":"Manager","id":"1","active":true}"#
        );
    }

    #[test]
    fn the_update_body_active_rule() {
        let set = |user_active: Value, profile: Value, allow: bool| {
            replacement_body(&atlassian_user(user_active), object(profile), allow)
                .get("active")
                .cloned()
        };
        // The profile's own value wins.
        assert_eq!(
            set(json!(true), json!({"active": false}), true),
            Some(json!(false))
        );
        assert_eq!(
            set(json!(false), json!({"active": true}), false),
            Some(json!(true))
        );
        // An inactive user is re-enabled only when enabling is allowed.
        assert_eq!(
            set(json!(false), json!({"title": "t"}), true),
            Some(json!(true))
        );
        assert_eq!(
            set(json!(false), json!({"title": "t"}), false),
            Some(json!(false))
        );
        assert_eq!(
            set(json!("False"), json!({"title": "t"}), true),
            Some(json!(true))
        );
        // Otherwise the current value stays, and an unknown one is not invented.
        assert_eq!(
            set(json!(true), json!({"title": "t"}), false),
            Some(json!(true))
        );
        assert_eq!(set(Value::Null, json!({"title": "t"}), true), None);
    }

    #[test]
    fn an_emails_object_is_sent_as_a_list() {
        let body = replacement_body(
            &atlassian_user(json!(true)),
            object(json!({"emails": {"value": "n@x.com", "primary": true}})),
            true,
        );
        assert_eq!(
            body["emails"],
            json!([{"value": "n@x.com", "primary": true}])
        );
        let body = creation_body(
            &object(json!({"userName": "u", "emails": {"value": "n@x.com"}})),
            true,
        );
        assert_eq!(body["emails"], json!([{"value": "n@x.com"}]));
    }

    #[test]
    fn the_creation_body_adds_schemas_and_active_only_when_missing_and_allowed() {
        let body = creation_body(&object(json!({"userName": "u"})), true);
        assert_eq!(
            body,
            json!({"userName": "u", "schemas": [CORE_USER_SCHEMA], "active": true})
        );
        assert_eq!(
            creation_body(&object(json!({"userName": "u"})), false),
            json!({"userName": "u", "schemas": [CORE_USER_SCHEMA]})
        );
        let kept = creation_body(&object(json!({"schemas": ["x"], "active": false})), true);
        assert_eq!(kept, json!({"schemas": ["x"], "active": false}));
    }
}
