//! Matching a desired person to a directory user (sync.md §3), on the mapped body:
//! 1. `externalId` equal (both have one; exact);
//! 2. `userName` equal, ignoring case;
//! 3. the primary e-mail (the entry marked primary, else the first) equal, ignoring case.
//!
//! A person matches the one user the rules find; rules that find nobody do not count, so a
//! rename is matched by `externalId`, or by the e-mail when only the `userName` changed.
//! When the rules find two users, or two people find the same user, each person involved is
//! a conflict: no action, and none of the users it found is deprovisioned. Two people with
//! the same `userName` are the same person twice: a conflict too.

use serde_json::{Map, Value};
use std::collections::HashMap;

use super::directory::DirectoryUser;
use crate::profile::email_to_look_up;
use crate::scim::user::scalar_text;

/// The directory users by each identifier the rules compare.
#[derive(Debug, Default)]
pub struct Index {
    external_ids: HashMap<Box<str>, Vec<u32>>,
    /// Lower-cased.
    user_names: HashMap<Box<str>, Vec<u32>>,
    /// Lower-cased primary e-mails.
    emails: HashMap<Box<str>, Vec<u32>>,
}

impl Index {
    pub fn new(users: &[DirectoryUser]) -> Index {
        let mut index = Index::default();
        for (at, user) in users.iter().enumerate() {
            let at = at as u32;
            let add = |map: &mut HashMap<Box<str>, Vec<u32>>, key: Box<str>| {
                map.entry(key).or_default().push(at);
            };
            if let Some(external_id) = &user.external_id {
                add(&mut index.external_ids, external_id.clone());
            }
            if let Some(user_name) = &user.user_name {
                add(&mut index.user_names, user_name.to_lowercase().into());
            }
            if let Some(email) = &user.primary_email {
                add(&mut index.emails, email.to_lowercase().into());
            }
        }
        index
    }

    /// The directory users the three rules find for a mapped body, each once, in directory
    /// order.
    pub fn find(&self, body: &Map<String, Value>) -> Vec<u32> {
        let mut found = Vec::new();
        let mut look = |map: &HashMap<Box<str>, Vec<u32>>, key: Option<String>| {
            if let Some(hits) = key.and_then(|key| map.get(key.as_str())) {
                found.extend_from_slice(hits);
            }
        };
        look(
            &self.external_ids,
            body.get("externalId").and_then(scalar_text),
        );
        look(
            &self.user_names,
            body.get("userName")
                .and_then(scalar_text)
                .map(|name| name.to_lowercase()),
        );
        look(
            &self.emails,
            body.get("emails")
                .and_then(email_to_look_up)
                .map(|email| email.to_lowercase()),
        );
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// Which people are conflicts, given the users each found and its `userName`: those that
/// found more than one user, those that found a user someone else found too, and those that
/// share their `userName` (ignoring case) with another person.
pub fn conflicts<'p>(people: impl Iterator<Item = (&'p [u32], &'p str)> + Clone) -> Vec<bool> {
    let mut finders: HashMap<u32, u32> = HashMap::new();
    let mut names: HashMap<String, u32> = HashMap::new();
    for (found, user_name) in people.clone() {
        for user in found {
            *finders.entry(*user).or_default() += 1;
        }
        *names.entry(user_name.to_lowercase()).or_default() += 1;
    }
    people
        .map(|(found, user_name)| {
            found.len() > 1
                || found.iter().any(|user| finders[user] > 1)
                || names[&user_name.to_lowercase()] > 1
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(id: &str, user_name: &str, external_id: Option<&str>, email: &str) -> DirectoryUser {
        DirectoryUser {
            id: id.into(),
            user_name: Some(user_name.into()),
            external_id: external_id.map(Into::into),
            active: Some(true),
            emails: vec![email.into()],
            primary_email: Some(email.into()),
            resource: "{}".into(),
        }
    }

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn directory() -> Vec<DirectoryUser> {
        vec![
            user("u0", "ann@x.com", Some("E1"), "ann@x.com"),
            user("u1", "bob@x.com", None, "Bob.Smith@x.com"),
            user("u2", "cy@x.com", Some("E3"), "cy@x.com"),
        ]
    }

    #[test]
    fn a_rename_is_matched_by_external_id() {
        let index = Index::new(&directory());
        // Ann's userName and e-mail changed; her externalId did not.
        let renamed = body(json!({"userName": "ann.lee@x.com", "externalId": "E1",
            "emails": [{"value": "ann.lee@x.com", "primary": true}]}));
        assert_eq!(index.find(&renamed), [0]);
        // externalId is exact: "e1" is another id.
        let other_case = body(json!({"userName": "new@x.com", "externalId": "e1"}));
        assert_eq!(index.find(&other_case), Vec::<u32>::new());
    }

    #[test]
    fn a_user_name_only_change_is_matched_by_the_primary_email_ignoring_case() {
        let index = Index::new(&directory());
        let renamed = body(json!({"userName": "robert@x.com",
            "emails": [{"value": "other@x.com"}, {"value": "BOB.SMITH@x.com", "primary": true}]}));
        assert_eq!(index.find(&renamed), [1]);
        // Without a primary entry the first counts.
        let first =
            body(json!({"userName": "robert@x.com", "emails": [{"value": "bob.smith@X.com"}]}));
        assert_eq!(index.find(&first), [1]);
    }

    #[test]
    fn the_user_name_matches_ignoring_case_and_rules_finding_the_same_user_agree() {
        let index = Index::new(&directory());
        let same = body(json!({"userName": "CY@X.COM", "externalId": "E3",
            "emails": [{"value": "cy@x.com", "primary": true}]}));
        assert_eq!(index.find(&same), [2]);
        assert_eq!(
            index.find(&body(json!({"userName": "nobody@x.com"}))),
            Vec::<u32>::new()
        );
    }

    #[test]
    fn rules_finding_two_users_find_both() {
        let index = Index::new(&directory());
        // externalId says Ann, userName says Bob.
        let torn = body(json!({"userName": "bob@x.com", "externalId": "E1"}));
        assert_eq!(index.find(&torn), [0, 1]);
    }

    #[test]
    fn conflicts_are_two_users_for_one_person_one_user_for_two_people_or_one_name_twice() {
        let people: Vec<(Vec<u32>, &str)> = vec![
            (vec![0, 1], "torn@x.com"), // two users
            (vec![2], "a@x.com"),       // shares user 2 with the next
            (vec![2], "b@x.com"),
            (vec![3], "c@x.com"), // alone: fine
            (vec![], "new@x.com"),
            (vec![], "NEW@x.com"), // the same new person twice
            (vec![1], "d@x.com"),  // user 1 was also found by the first
            (vec![], "e@x.com"),
        ];
        let conflicted = conflicts(people.iter().map(|(found, name)| (found.as_slice(), *name)));
        assert_eq!(
            conflicted,
            [true, true, true, false, true, true, true, false]
        );
    }
}
