//! Comparing a desired person's mapped body with its directory user as SCIM compares
//! attributes (sync.md §4): `userName` and e-mail values ignoring case; the multi-valued
//! attributes (`emails`, `phoneNumbers`, `addresses`) as sets, order ignored; everything else
//! exactly. Only what the body carries is compared, down to sub-attributes: what the
//! directory holds beyond it (a `name.formatted` the server adds, an e-mail's `display`) is
//! left as it is, and is no difference. As in SCIM (RFC 7643 §2.5), an attribute that is
//! absent, null or an empty list has no value, whichever of the three the body and the
//! directory use.

use serde_json::{Map, Value};

use crate::json;

/// The multi-valued attributes compared as sets.
const MULTI_VALUED: [&str; 3] = ["emails", "phoneNumbers", "addresses"];
/// Attributes of a body that are not compared: `id` is how the user was found, `schemas`
/// are the server's to extend, `active` is the enable and disable rules' business.
const NOT_COMPARED: [&str; 3] = ["id", "schemas", "active"];

/// One attribute the directory holds otherwise than the body.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference<'a> {
    pub attribute: &'a str,
    /// What the directory holds; none when it has no such attribute.
    pub old: Option<&'a Value>,
    pub new: &'a Value,
}

/// The attributes of `body` that `user` (its resource's attributes) holds otherwise, in the
/// body's order.
pub fn differences<'a>(
    body: &'a Map<String, Value>,
    user: &'a Map<String, Value>,
) -> Vec<Difference<'a>> {
    body.iter()
        .filter(|(attribute, _)| !NOT_COMPARED.contains(&attribute.as_str()))
        .filter_map(|(attribute, new)| {
            let old = user.get(attribute);
            let same = (unassigned(Some(new)) && unassigned(old))
                || old.is_some_and(|old| attribute_equal(attribute, new, old));
            (!same).then_some(Difference {
                attribute,
                old,
                new,
            })
        })
        .collect()
}

/// Whether the directory's `old` value of `attribute` is what the body's `new` asks for.
fn attribute_equal(attribute: &str, new: &Value, old: &Value) -> bool {
    match attribute {
        "userName" => same_text_ignoring_case(new, old),
        _ if MULTI_VALUED.contains(&attribute) => same_set(new, old, attribute == "emails"),
        _ => carried_equal(new, old, false),
    }
}

/// Two strings equal ignoring case; anything else exactly.
fn same_text_ignoring_case(new: &Value, old: &Value) -> bool {
    match (new, old) {
        (Value::String(new), Value::String(old)) => {
            new == old || new.to_lowercase() == old.to_lowercase()
        }
        _ => new == old,
    }
}

/// Multi-valued attributes as sets: each entry of one matches an entry of the other (an
/// object counts as a one-entry list). For `emails`, the `value`s compare ignoring case.
fn same_set(new: &Value, old: &Value, emails: bool) -> bool {
    fn entries(value: &Value) -> Option<&[Value]> {
        match value {
            Value::Array(items) => Some(items),
            Value::Object(_) => Some(std::slice::from_ref(value)),
            _ => None,
        }
    }
    let (Some(new), Some(old)) = (entries(new), entries(old)) else {
        return new == old;
    };
    let matches = |n: &Value, o: &Value| carried_equal(n, o, emails);
    new.iter().all(|n| old.iter().any(|o| matches(n, o)))
        && old.iter().all(|o| new.iter().any(|n| matches(n, o)))
}

/// `new` equals `old` in everything `new` carries: objects key by key (keys `old` has beyond
/// `new` do not count), anything else exactly; `email_values` compares a `value` key (or a
/// bare string) ignoring case.
fn carried_equal(new: &Value, old: &Value, email_values: bool) -> bool {
    match (new, old) {
        (Value::Object(new), Value::Object(old)) => {
            new.iter().all(|(key, new)| match old.get(key) {
                old if unassigned(Some(new)) && unassigned(old) => true,
                Some(old) if email_values && key == "value" => same_text_ignoring_case(new, old),
                Some(old) => carried_equal(new, old, false),
                None => false,
            })
        }
        (Value::String(_), Value::String(_)) if email_values => same_text_ignoring_case(new, old),
        _ => new == old,
    }
}

/// Whether a value is SCIM's "no value" (RFC 7643 §2.5): absent, null, or an empty list.
fn unassigned(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::Array(items)) => items.is_empty(),
        Some(_) => false,
    }
}

/// `attribute: old → new; …` for a person reading the plan: strings as they are, other
/// values as compact JSON, an absent one as `(none)`.
pub fn change_text(differences: &[Difference<'_>]) -> String {
    let mut text = String::new();
    for (at, difference) in differences.iter().enumerate() {
        if at > 0 {
            text.push_str("; ");
        }
        text.push_str(difference.attribute);
        text.push_str(": ");
        push_shown(&mut text, difference.old);
        text.push_str(" → ");
        push_shown(&mut text, Some(difference.new));
    }
    text
}

/// A value as a change shows it.
pub fn push_shown(text: &mut String, value: Option<&Value>) {
    match value {
        None => text.push_str("(none)"),
        Some(Value::String(s)) => text.push_str(s),
        Some(other) => json::push_value(text, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn differing(body: Value, user: Value) -> Vec<String> {
        let (body, user) = (object(body), object(user));
        differences(&body, &user)
            .iter()
            .map(|d| d.attribute.to_string())
            .collect()
    }

    #[test]
    fn user_name_and_email_values_compare_ignoring_case_and_other_text_exactly() {
        assert!(differing(
            json!({"userName": "Alice@Example.com", "emails": [{"value": "ALICE@example.com", "primary": true}]}),
            json!({"userName": "alice@example.com", "emails": [{"value": "alice@example.com", "primary": true}]}),
        )
        .is_empty());
        assert_eq!(
            differing(
                json!({"title": "Engineer", "displayName": "Alice"}),
                json!({"title": "engineer", "displayName": "Alice"}),
            ),
            ["title"]
        );
        // An e-mail's other sub-attributes are not text compared ignoring case.
        assert_eq!(
            differing(
                json!({"emails": [{"value": "a@x", "type": "Work"}]}),
                json!({"emails": [{"value": "a@x", "type": "work"}]}),
            ),
            ["emails"]
        );
    }

    #[test]
    fn multi_valued_attributes_are_sets_and_other_lists_are_not() {
        let body = json!({
            "emails": [{"value": "a@x"}, {"value": "b@x"}],
            "phoneNumbers": [{"type": "work", "value": "1"}, {"type": "mobile", "value": "2"}],
            "addresses": [{"locality": "Oslo"}, {"locality": "Bergen"}],
            "roles": ["a", "b"]
        });
        let user = json!({
            "emails": [{"value": "B@x"}, {"value": "a@x"}],
            "phoneNumbers": [{"value": "2", "type": "mobile"}, {"value": "1", "type": "work"}],
            "addresses": [{"locality": "Bergen"}, {"locality": "Oslo"}],
            "roles": ["b", "a"]
        });
        assert_eq!(differing(body, user), ["roles"]);
        // A set with one entry more or less differs, either way.
        assert_eq!(
            differing(
                json!({"emails": [{"value": "a@x"}]}),
                json!({"emails": [{"value": "a@x"}, {"value": "c@x"}]}),
            ),
            ["emails"]
        );
        assert_eq!(
            differing(
                json!({"emails": [{"value": "a@x"}, {"value": "c@x"}]}),
                json!({"emails": [{"value": "a@x"}]}),
            ),
            ["emails"]
        );
        // An object stands for a one-entry list, as the create body wraps it.
        assert!(
            differing(
                json!({"emails": {"value": "a@x", "primary": true}}),
                json!({"emails": [{"value": "a@x", "primary": true}]}),
            )
            .is_empty()
        );
    }

    #[test]
    fn only_what_the_body_carries_is_compared() {
        let user = json!({
            "id": "u1",
            "userName": "a@x",
            "title": "Boss",
            "name": {"givenName": "Ann", "familyName": "Lee", "formatted": "Ann Lee"},
            "emails": [{"value": "a@x", "primary": true, "type": "work", "display": "Ann"}],
            "active": false,
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:scim:schemas:extension:atlassian-external:1.0"]
        });
        let body = json!({
            "userName": "a@x",
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"primary": true, "type": "work", "value": "a@x"}],
            "active": true,
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "other"
        });
        assert!(differing(body, user.clone()).is_empty());
        // A carried sub-attribute that differs, and an attribute the directory lacks.
        assert_eq!(
            differing(
                json!({"name": {"givenName": "Anne", "familyName": "Lee"}, "displayName": "Ann Lee"}),
                user,
            ),
            ["name", "displayName"]
        );
    }

    #[test]
    fn absent_null_and_an_empty_list_are_the_same_no_value() {
        // RFC 7643 §2.5: unassigned, null and an empty multi-valued attribute are one state.
        assert!(
            differing(
                json!({"title": null, "phoneNumbers": [], "addresses": null, "roles": []}),
                json!({"addresses": [], "roles": null}),
            )
            .is_empty()
        );
        assert!(
            differing(
                json!({"name": {"givenName": "Ann", "middleName": null, "honorifics": []}}),
                json!({"name": {"givenName": "Ann", "honorifics": null}}),
            )
            .is_empty()
        );
        // A value against no value differs, either way round.
        assert_eq!(
            differing(
                json!({"title": null, "phoneNumbers": [], "nickName": "Al"}),
                json!({"title": "Boss", "phoneNumbers": [{"value": "1"}]}),
            ),
            ["title", "phoneNumbers", "nickName"]
        );
        assert_eq!(
            differing(
                json!({"name": {"middleName": "Jo"}}),
                json!({"name": {"middleName": null}}),
            ),
            ["name"]
        );
    }

    #[test]
    fn numbers_and_booleans_compare_exactly() {
        assert_eq!(
            differing(json!({"x": 1, "y": true}), json!({"x": "1", "y": true})),
            ["x"]
        );
    }

    #[test]
    fn the_change_text_shows_old_and_new_of_each_difference() {
        let body = object(
            json!({"title": "Senior Engineer", "displayName": "Ann", "phoneNumbers": [{"value": "2"}]}),
        );
        let user = object(json!({"title": "Engineer", "phoneNumbers": [{"value": "1"}]}));
        assert_eq!(
            change_text(&differences(&body, &user)),
            r#"title: Engineer → Senior Engineer; displayName: (none) → Ann; phoneNumbers: [{"value":"1"}] → [{"value":"2"}]"#
        );
    }
}
