//! Groups (behaviour.md §8.2): reading a group resource, the group endpoints (get by id,
//! find by displayName, create, change membership, delete), and the membership change cut
//! into PATCH requests of at most [`MEMBERS_PER_REQUEST`] ids.
//!
//! It knows SCIM group resources, not XSOAR arguments or results.

use serde_json::{Map, Value, json};

use super::{
    Failure, ScimClient, body_or_sent, eq_filter, escape_filter_value, expect_object,
    not_found_as_none, usable_id,
};
use crate::transport::{Method, Transport};

const GROUPS: &str = "Groups";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Member ids per PATCH request: behaviour.md §8.2, the size other SCIM clients use, and
/// Atlassian's page size; 15,000 ids then take 150 requests.
pub const MEMBERS_PER_REQUEST: usize = 100;

/// A group as a lookup found it, checked: its id can be used in a path.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundGroup {
    pub id: String,
    /// The group resource as read.
    pub resource: Value,
}

impl FoundGroup {
    /// Check a group resource a lookup returned before anything uses it (behaviour.md §3
    /// [fix]): its `id` is a non-empty string other than `.` and `..`.
    pub fn check(resource: Value) -> Result<FoundGroup, Failure> {
        let id = usable_id(&resource, "group")?;
        Ok(FoundGroup { id, resource })
    }

    /// The group's `displayName`, when it is a non-empty string.
    pub fn display_name(&self) -> Option<String> {
        display_name_of(&self.resource)
    }
}

/// `displayName` of a group resource or answer body, when it is a non-empty string.
pub fn display_name_of(group: &Value) -> Option<String> {
    match group.get("displayName") {
        Some(Value::String(name)) if !name.is_empty() => Some(name.clone()),
        _ => None,
    }
}

/// The `POST /Groups` body: the core Group schema, `displayName`, and `externalId` when
/// there is one.
pub fn creation_body(display_name: &str, external_id: Option<&str>) -> Value {
    let mut body = Map::new();
    body.insert("schemas".into(), json!([GROUP_SCHEMA]));
    body.insert("displayName".into(), json!(display_name));
    if let Some(external_id) = external_id {
        body.insert("externalId".into(), json!(external_id));
    }
    Value::Object(body)
}

/// The PatchOp bodies of a membership change, in the order they are sent: the ids to add,
/// then the ids to remove, cut into chunks of [`MEMBERS_PER_REQUEST`]. A chunk has one
/// `add` of all its additions (when it has any), then one `remove` per removal, whose path
/// holds the id escaped as a filter value.
pub fn membership_patches(add: &[String], remove: &[String]) -> Vec<Value> {
    let ids: Vec<(bool, &String)> = add
        .iter()
        .map(|id| (true, id))
        .chain(remove.iter().map(|id| (false, id)))
        .collect();
    ids.chunks(MEMBERS_PER_REQUEST)
        .map(|chunk| {
            let additions: Vec<Value> = chunk
                .iter()
                .filter(|(adding, _)| *adding)
                .map(|(_, id)| json!({ "value": id }))
                .collect();
            let mut operations = Vec::with_capacity(chunk.len());
            if !additions.is_empty() {
                operations.push(json!({"op": "add", "path": "members", "value": additions}));
            }
            for (_, id) in chunk.iter().filter(|(adding, _)| !*adding) {
                let path = format!("members[value eq \"{}\"]", escape_filter_value(id));
                operations.push(json!({"op": "remove", "path": path}));
            }
            json!({"schemas": [PATCH_OP_SCHEMA], "Operations": operations})
        })
        .collect()
}

impl<T: Transport> ScimClient<'_, T> {
    /// `GET /Groups/{id}`: the group, or none on 404 or an empty 200.
    pub fn get_group(&mut self, id: &str) -> Result<Option<FoundGroup>, Failure> {
        not_found_as_none(self.get_resource(GROUPS, id))?
            .map(FoundGroup::check)
            .transpose()
    }

    /// `GET /Groups/{id}` of a group known to exist (found by its name): anything but the
    /// group, 404 and an empty answer included, is a failure.
    pub fn reread_group(&mut self, id: &str) -> Result<FoundGroup, Failure> {
        match self.get_resource(GROUPS, id)? {
            Some(group) => FoundGroup::check(group),
            None => Err(Failure {
                code: Some(200),
                message: format!(
                    "The answer to GET {} is empty",
                    self.resource_url(GROUPS, id)?
                ),
            }),
        }
    }

    /// `GET /Groups?filter=displayName eq "…"`: the group, none, or a failure when more than
    /// one matches.
    pub fn find_group(&mut self, display_name: &str) -> Result<Option<FoundGroup>, Failure> {
        self.find_resource(GROUPS, "groups", &eq_filter("displayName", display_name))?
            .map(FoundGroup::check)
            .transpose()
    }

    /// `POST /Groups`: the created group (the sent body when the answer had none).
    pub fn create_group(&mut self, body: &Value) -> Result<Value, Failure> {
        let url = self.collection_url(GROUPS);
        let answer = self.call(Method::Post, url.clone(), Some(body))?;
        body_or_sent(answer, body, Method::Post, &url)
    }

    /// `PATCH /Groups/{id}` with one PatchOp body: the answer's group, if it sent one.
    pub fn patch_group(&mut self, id: &str, body: &Value) -> Result<Option<Value>, Failure> {
        let url = self.resource_url(GROUPS, id)?;
        let answer = self.call(Method::Patch, url.clone(), Some(body))?;
        answer
            .body
            .map(|group| expect_object(group, answer.status, Method::Patch, &url))
            .transpose()
    }

    /// `DELETE /Groups/{id}`: true when deleted, false on 404 (also after retries).
    pub fn delete_group(&mut self, id: &str) -> Result<bool, Failure> {
        let url = self.resource_url(GROUPS, id)?;
        match self.call(Method::Delete, url, None) {
            Ok(_) => Ok(true),
            Err(Failure {
                code: Some(404), ..
            }) => Ok(false),
            Err(failure) => Err(failure),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::tests::{BASE, client};
    use crate::transport::fake::{FakeTransport, json, with_header};

    fn ids(prefix: &str, count: usize) -> Vec<String> {
        (1..=count).map(|n| format!("{prefix}{n}")).collect()
    }

    fn operations(patch: &Value) -> &Vec<Value> {
        patch["Operations"].as_array().unwrap()
    }

    #[test]
    fn a_membership_change_is_cut_into_chunks_of_one_hundred_ids_adds_first() {
        let patches = membership_patches(&ids("a", 150), &ids("r", 100));
        assert_eq!(patches.len(), 3);
        // 100 additions; 50 additions and 50 removals; 50 removals.
        assert_eq!(operations(&patches[0]).len(), 1);
        assert_eq!(
            operations(&patches[0])[0]["value"]
                .as_array()
                .unwrap()
                .len(),
            100
        );
        assert_eq!(operations(&patches[1]).len(), 51);
        assert_eq!(
            operations(&patches[1])[0]["value"]
                .as_array()
                .unwrap()
                .len(),
            50
        );
        assert_eq!(operations(&patches[1])[0]["value"][0]["value"], "a101");
        assert_eq!(
            operations(&patches[1])[1]["path"],
            "members[value eq \"r1\"]"
        );
        assert_eq!(operations(&patches[2]).len(), 50);
        assert_eq!(
            operations(&patches[2])[49]["path"],
            "members[value eq \"r100\"]"
        );
        assert_eq!(membership_patches(&ids("a", 100), &[]).len(), 1);
        assert_eq!(membership_patches(&ids("a", 101), &[]).len(), 2);
        assert_eq!(membership_patches(&ids("a", 15_000), &[]).len(), 150);
    }

    #[test]
    fn a_patch_body_is_byte_for_byte_the_spec_shape() {
        let patches = membership_patches(&["u1".into(), "u2".into()], &[r#"o"b\x"#.into()]);
        assert_eq!(
            crate::json::text(&patches[0]),
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"u1"},{"value":"u2"}]},{"op":"remove","path":"members[value eq \"o\\\"b\\\\x\"]"}]}"#
        );
        let only_removals = membership_patches(&[], &["u3".into()]);
        assert_eq!(
            crate::json::text(&only_removals[0]),
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"remove","path":"members[value eq \"u3\"]"}]}"#
        );
    }

    #[test]
    fn the_creation_body_has_schemas_display_name_and_an_external_id_when_given() {
        assert_eq!(
            crate::json::text(&creation_body("Eng", None)),
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng"}"#
        );
        assert_eq!(
            crate::json::text(&creation_body("Eng", Some("x-1"))),
            r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng","externalId":"x-1"}"#
        );
    }

    #[test]
    fn a_group_is_found_by_id_or_by_display_name_and_checked() {
        let mut transport = FakeTransport::answering(vec![
            json(200, r#"{"id":"g1","displayName":"Eng"}"#),
            json(404, r#"{"detail":"no such group"}"#),
            json(200, ""),
            json(
                200,
                r#"{"totalResults":1,"Resources":[{"id":"g2","displayName":"o\"b"}]}"#,
            ),
            json(200, r#"{"totalResults":0,"Resources":[]}"#),
            json(200, r#"{"id":"..","displayName":"Eng"}"#),
            json(
                200,
                r#"{"totalResults":1,"Resources":[{"displayName":"x"}]}"#,
            ),
        ]);
        let mut scim = client(&mut transport);
        let found = scim.get_group("g1").unwrap().unwrap();
        assert_eq!(
            (found.id.as_str(), found.display_name()),
            ("g1", Some("Eng".into()))
        );
        assert_eq!(scim.get_group("g1").unwrap(), None);
        assert_eq!(scim.get_group("g1").unwrap(), None);
        assert_eq!(scim.find_group("o\"b").unwrap().unwrap().id, "g2");
        assert_eq!(scim.find_group("none").unwrap(), None);
        let unusable =
            Failure::without_code(r#"The server returned a group whose "id" is not usable"#);
        assert_eq!(scim.get_group("g1").unwrap_err(), unusable);
        assert_eq!(scim.find_group("x").unwrap_err(), unusable);
        assert_eq!(
            transport.sent[3].url,
            format!("{BASE}/Groups?filter=displayName%20eq%20%22o%5C%22b%22")
        );
    }

    #[test]
    fn more_than_one_group_with_the_name_is_refused() {
        let mut transport = FakeTransport::answering(vec![json(
            200,
            r#"{"totalResults":3,"Resources":[{"id":"1"},{"id":"2"}]}"#,
        )]);
        assert_eq!(
            client(&mut transport).find_group("a\\b").unwrap_err(),
            Failure::without_code(
                r#"3 groups match displayName eq "a\\b"; refusing to act on an ambiguous match"#
            )
        );
    }

    #[test]
    fn a_reread_fails_on_404_and_on_an_empty_answer() {
        let mut transport =
            FakeTransport::answering(vec![json(404, r#"{"detail":"Group gone"}"#), json(200, "")]);
        let mut scim = client(&mut transport);
        assert_eq!(
            scim.reread_group("g1").unwrap_err(),
            Failure {
                code: Some(404),
                message: "Group gone".into()
            }
        );
        assert_eq!(
            scim.reread_group("g1").unwrap_err(),
            Failure {
                code: Some(200),
                message: format!("The answer to GET {BASE}/Groups/g1 is empty")
            }
        );
    }

    #[test]
    fn delete_is_true_on_success_false_on_404_even_after_a_retry() {
        let mut transport = FakeTransport::answering(vec![
            json(204, ""),
            with_header(503, "Retry-After", "1"),
            json(404, r#"{"detail":"gone"}"#),
            json(403, r#"{"error":"Forbidden"}"#),
        ]);
        let mut scim = client(&mut transport);
        assert!(scim.delete_group("g1").unwrap());
        assert!(!scim.delete_group("g1").unwrap());
        assert_eq!(scim.delete_group("g1").unwrap_err().code, Some(403));
        assert_eq!(transport.slept, vec![1000]);
    }

    #[test]
    fn patch_and_delete_are_retried_like_put_and_post_only_on_429_and_503() {
        let mut transport = FakeTransport::answering(vec![
            json(502, ""),
            json(200, r#"{"id":"g1"}"#),
            json(500, ""),
            json(503, ""),
            json(201, r#"{"id":"g2"}"#),
        ]);
        let mut scim = client(&mut transport);
        let patch = &membership_patches(&["u1".into()], &[])[0];
        assert!(scim.patch_group("g1", patch).unwrap().is_some());
        assert_eq!(
            scim.create_group(&creation_body("G", None))
                .unwrap_err()
                .code,
            Some(500)
        );
        assert_eq!(
            scim.create_group(&creation_body("G", None)).unwrap()["id"],
            "g2"
        );
        assert_eq!(transport.sent.len(), 5);
    }

    #[test]
    fn group_ids_of_dot_or_dot_dot_are_never_sent() {
        let mut transport = FakeTransport::default();
        let mut scim = client(&mut transport);
        for id in [".", ".."] {
            let refused = crate::scim::invalid_id(id);
            assert_eq!(scim.get_group(id).unwrap_err(), refused);
            assert_eq!(scim.patch_group(id, &json!({})).unwrap_err(), refused);
            assert_eq!(scim.delete_group(id).unwrap_err(), refused);
        }
        assert!(transport.sent.is_empty());
    }
}
