//! Users: reading a user resource (its primary e-mail, `active`, text fields) and the user
//! endpoints: finding a user by id, userName or e-mail (behaviour.md §3.1, with the 400
//! fallback), creating, replacing, deactivating and deleting one.
//!
//! It knows SCIM user resources, not XSOAR profiles: how a profile yields an `Identifier`
//! is the command layer's business (`profile.rs`).

use serde_json::{Value, json};

use super::{
    Failure, ScimClient, body_or_sent, eq_filter, expect_object, not_found_as_none, unusable,
    usable_id,
};
use crate::transport::{LogLevel, Method, Transport};

const USERS: &str = "Users";

/// How a user is looked up (behaviour.md §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    Id(String),
    UserName(String),
    Email(String),
}

/// A user as a lookup found it, checked: its id can be used in a path.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundUser {
    pub id: String,
    /// The user resource as read.
    pub resource: Value,
}

impl FoundUser {
    /// Check a user resource a lookup returned before anything uses it (behaviour.md §3
    /// [fix]): `id` a usable non-empty string; `userName` absent, null or a string; `active`
    /// absent, null, a boolean or `"true"`/`"false"` in any case.
    pub fn check(resource: Value) -> Result<FoundUser, Failure> {
        let id = usable_id(&resource, "user")?;
        if !matches!(
            resource.get("userName"),
            None | Some(Value::Null | Value::String(_))
        ) {
            return Err(unusable("user", "userName"));
        }
        match resource.get("active") {
            None | Some(Value::Null | Value::Bool(_)) => {}
            Some(Value::String(s))
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {}
            Some(_) => return Err(unusable("user", "active")),
        }
        Ok(FoundUser { id, resource })
    }
}

/// A non-empty string, or a number as its decimal text.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether an `emails` entry is primary: `primary` is the boolean `true` or the string
/// `"true"` in any case.
pub fn is_primary(entry: &Value) -> bool {
    match entry.get("primary") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The primary e-mail of a user resource: the value of the first `emails` entry marked
/// primary.
pub fn primary_email(user: &Value) -> Option<String> {
    let entries = match user.get("emails") {
        Some(Value::Array(entries)) => entries.as_slice(),
        Some(entry @ Value::Object(_)) => std::slice::from_ref(entry),
        _ => return None,
    };
    entries
        .iter()
        .find(|entry| is_primary(entry))
        .and_then(|entry| entry.get("value"))
        .and_then(scalar_text)
}

/// `active` of a user resource: a boolean or `"true"`/`"false"`; anything else is unknown.
pub fn active_of(user: &Value) -> Option<bool> {
    match user.get("active") {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A string field of a user resource.
pub fn text_field(user: &Value, key: &str) -> Option<String> {
    user.get(key).and_then(scalar_text)
}

impl<T: Transport> ScimClient<'_, T> {
    /// `GET /Users/{id}`: the user, or none on 404 (behaviour.md §3.1 [fix]).
    pub fn get_user(&mut self, id: &str) -> Result<Option<FoundUser>, Failure> {
        not_found_as_none(self.get_resource(USERS, id))?
            .map(FoundUser::check)
            .transpose()
    }

    /// Find the user by an identifier: none when there is none, a failure when the match is
    /// ambiguous.
    pub fn find_user(&mut self, identifier: &Identifier) -> Result<Option<FoundUser>, Failure> {
        match identifier {
            Identifier::Id(id) => self.get_user(id),
            Identifier::UserName(user_name) => {
                self.find_user_by_filter(&eq_filter("userName", user_name))
            }
            Identifier::Email(email) => {
                match self.find_user_by_filter(&eq_filter("emails.value", email)) {
                    // behaviour.md §3.1 [fix]: Atlassian filters only on userName/externalId and
                    // answers 400 to anything else; the e-mail is usually the userName.
                    Err(Failure {
                        code: Some(400), ..
                    }) => {
                        self.log(
                            LogLevel::Info,
                            "the server refused an emails filter; looking the user up by userName",
                        );
                        self.find_user_by_filter(&eq_filter("userName", email))
                    }
                    other => other,
                }
            }
        }
    }

    fn find_user_by_filter(&mut self, filter: &str) -> Result<Option<FoundUser>, Failure> {
        self.find_resource(USERS, "users", filter)?
            .map(FoundUser::check)
            .transpose()
    }

    /// `POST /Users`: the created user (the sent body when the answer had none).
    pub fn create_user(&mut self, body: &Value) -> Result<Value, Failure> {
        let url = self.collection_url(USERS);
        let answer = self.call(Method::Post, url.clone(), Some(body))?;
        body_or_sent(answer, body, Method::Post, &url)
    }

    /// `PUT /Users/{id}`: the replaced user (the sent body when the answer had none).
    pub fn replace_user(&mut self, id: &str, body: &Value) -> Result<Value, Failure> {
        let url = self.resource_url(USERS, id)?;
        let answer = self.call(Method::Put, url.clone(), Some(body))?;
        body_or_sent(answer, body, Method::Put, &url)
    }

    /// `PATCH /Users/{id}` setting `active` to false: the answer's user, if it sent one.
    pub fn deactivate_user(&mut self, id: &str) -> Result<Option<Value>, Failure> {
        let url = self.resource_url(USERS, id)?;
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": false}]
        });
        let answer = self.call(Method::Patch, url.clone(), Some(&body))?;
        answer
            .body
            .map(|user| expect_object(user, answer.status, Method::Patch, &url))
            .transpose()
    }

    /// `DELETE /Users/{id}`; 404 means already gone (behaviour.md §4.4).
    pub fn delete_user(&mut self, id: &str) -> Result<Option<Value>, Failure> {
        let url = self.resource_url(USERS, id)?;
        match self.call(Method::Delete, url.clone(), None) {
            Ok(answer) => answer
                .body
                .map(|user| expect_object(user, answer.status, Method::Delete, &url))
                .transpose(),
            Err(Failure {
                code: Some(404), ..
            }) => Ok(None),
            Err(failure) => Err(failure),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::tests::client;
    use crate::transport::fake::{FakeTransport, json};

    #[test]
    fn zero_results_or_no_resources_mean_not_found() {
        for body in [
            r#"{"totalResults":0,"Resources":[]}"#,
            r#"{"totalResults":0}"#,
            r#"{"schemas":[]}"#,
            "",
        ] {
            let mut transport = FakeTransport::answering(vec![json(200, body)]);
            assert_eq!(
                client(&mut transport)
                    .find_user(&Identifier::UserName("u".into()))
                    .unwrap(),
                None,
                "{body}"
            );
        }
    }

    #[test]
    fn more_than_one_match_is_refused() {
        let mut transport = FakeTransport::answering(vec![json(
            200,
            r#"{"totalResults":2,"Resources":[{"id":"1"}]}"#,
        )]);
        let failure = client(&mut transport)
            .find_user(&Identifier::UserName("o\"brien".into()))
            .unwrap_err();
        assert_eq!(
            failure,
            Failure::without_code(
                r#"2 users match userName eq "o\"brien"; refusing to act on an ambiguous match"#
            )
        );
        let mut transport = FakeTransport::answering(vec![json(
            200,
            r#"{"totalResults":1,"Resources":[{"id":"1"},{"id":"2"},{"id":"3"}]}"#,
        )]);
        let failure = client(&mut transport)
            .find_user(&Identifier::UserName("u".into()))
            .unwrap_err();
        assert!(failure.message.starts_with("3 users match"));
    }

    #[test]
    fn an_email_filter_refused_with_400_falls_back_to_user_name() {
        let mut transport = FakeTransport::answering(vec![
            json(
                400,
                r#"{"status":"400","scimType":"invalidFilter","detail":"Resource [USER] invalid filter"}"#,
            ),
            json(
                200,
                r#"{"totalResults":1,"Resources":[{"id":"7","userName":"a@b.c"}]}"#,
            ),
        ]);
        let user = client(&mut transport)
            .find_user(&Identifier::Email("a@b.c".into()))
            .unwrap()
            .unwrap();
        assert_eq!(user.id, "7");
        assert_eq!(user.resource["userName"], "a@b.c");
        assert!(
            transport.sent[0]
                .url
                .ends_with("filter=emails.value%20eq%20%22a%40b.c%22")
        );
        assert!(
            transport.sent[1]
                .url
                .ends_with("filter=userName%20eq%20%22a%40b.c%22")
        );
    }

    #[test]
    fn a_404_by_id_is_not_found_and_other_failures_keep_their_status() {
        let mut transport = FakeTransport::answering(vec![
            json(404, r#"{"detail":"no"}"#),
            json(403, r#"{"error":"Forbidden"}"#),
        ]);
        let mut scim = client(&mut transport);
        assert_eq!(scim.get_user("x").unwrap(), None);
        assert_eq!(
            scim.get_user("x").unwrap_err(),
            Failure {
                code: Some(403),
                message: "Forbidden".into()
            }
        );
    }

    #[test]
    fn an_empty_put_answer_stands_for_the_sent_body() {
        let mut transport = FakeTransport::answering(vec![json(204, "")]);
        let sent = json!({"userName": "u", "active": true});
        assert_eq!(
            client(&mut transport).replace_user("1", &sent).unwrap(),
            sent
        );
    }

    #[test]
    fn primary_email_needs_a_primary_entry() {
        assert_eq!(
            primary_email(&json!({"emails":[{"value":"a"},{"value":"b","primary":"TRUE"}]})),
            Some("b".into())
        );
        assert_eq!(primary_email(&json!({"emails":[{"value":"a"}]})), None);
    }

    #[test]
    fn a_looked_up_user_must_have_a_usable_id_user_name_and_active() {
        let unusable = |field: &str| {
            Failure::without_code(format!(
                "The server returned a user whose \"{field}\" is not usable"
            ))
        };
        let cases = [
            (r#"{"userName":"u"}"#, "id"),
            (r#"{"id":"","userName":"u"}"#, "id"),
            (r#"{"id":7}"#, "id"),
            (r#"{"id":null}"#, "id"),
            (r#"{"id":".."}"#, "id"),
            (r#"{"id":"."}"#, "id"),
            (r#"{"id":"1","userName":5}"#, "userName"),
            (r#"{"id":"1","userName":["u"]}"#, "userName"),
            (r#"{"id":"1","active":"yes"}"#, "active"),
            (r#"{"id":"1","active":1}"#, "active"),
            (r#"{"id":"1","active":{}}"#, "active"),
            (r#"{"userName":5,"active":1}"#, "id"),
            (r#"{"id":"1","userName":5,"active":1}"#, "userName"),
        ];
        for (user, field) in cases {
            // By id, and as the resource of a list answer.
            let list = format!(r#"{{"totalResults":1,"Resources":[{user}]}}"#);
            let mut transport = FakeTransport::answering(vec![json(200, user), json(200, &list)]);
            let mut scim = client(&mut transport);
            assert_eq!(scim.get_user("1").unwrap_err(), unusable(field), "{user}");
            assert_eq!(
                scim.find_user(&Identifier::UserName("u".into()))
                    .unwrap_err(),
                unusable(field),
                "{user}"
            );
        }
        for user in [
            r#"{"id":"1"}"#,
            r#"{"id":" ","userName":null,"active":null}"#,
            r#"{"id":"...","userName":"","active":"FALSE"}"#,
            r#"{"id":"1","active":true}"#,
            r#"{"id":"1","active":"True"}"#,
        ] {
            let mut transport = FakeTransport::answering(vec![json(200, user)]);
            let found = client(&mut transport).get_user("1").unwrap().unwrap();
            assert_eq!(found.resource, serde_json::from_str::<Value>(user).unwrap());
        }
    }

    #[test]
    fn answers_to_writes_are_not_checked_like_lookups() {
        let mut transport = FakeTransport::answering(vec![
            json(201, r#"{"id":7,"active":"yes"}"#),
            json(200, r#"{"userName":5}"#),
        ]);
        let mut scim = client(&mut transport);
        assert_eq!(scim.create_user(&json!({})).unwrap()["id"], 7);
        assert_eq!(scim.replace_user("1", &json!({})).unwrap()["userName"], 5);
    }
}
