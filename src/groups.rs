//! The four group commands of XSOAR's ILM group sync (behaviour.md §8): `iam-get-group`,
//! `iam-create-group`, `iam-update-group` and `iam-delete-group`, one function each over
//! the SCIM client. Bad arguments are an `Error` (an error entry, nothing sent, see
//! [`arguments`]); everything the service answers is a result ([`result`]).
//!
//! No `*_enabled` flag gates these commands (§8).

pub mod arguments;
pub mod result;

use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::error::Error;
use crate::scim::group::{self as scim_group, FoundGroup};
use crate::scim::{Failure, ScimClient};
use crate::transport::Transport;
use arguments::{Given, GroupAction, GroupArguments, GroupKey};
pub use result::{GroupOutput, GroupResult};

/// The message of a group that was not found; with errorCode 404 it tells the sync script
/// to create the group (behaviour.md §8).
const GROUP_NOT_FOUND: &str = "Group Not Found";

/// The four group commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupCommand {
    Get,
    Create,
    Update,
    Delete,
}

impl GroupCommand {
    /// The markdown title (behaviour.md §8.4).
    pub fn title(self, brand: &str) -> String {
        let action = match self {
            GroupCommand::Get => "Get",
            GroupCommand::Create => "Create",
            GroupCommand::Update => "Update",
            GroupCommand::Delete => "Delete",
        };
        format!("{action} Group Results ({brand})")
    }

    /// The `EntryContext` key: the context paths the other integrations' `.yml` declare.
    pub fn context_key(self) -> &'static str {
        match self {
            GroupCommand::Get => "GetGroup(val.id && val.id == obj.id)",
            GroupCommand::Create => "CreateGroup(val.id && val.id == obj.id)",
            GroupCommand::Update => "UpdateGroup(val.id && val.id == obj.id)",
            GroupCommand::Delete => "DeleteGroup(val.id && val.id == obj.id)",
        }
    }
}

/// Run a group command with its arguments on a validated configuration.
pub fn run_group<T: Transport>(
    command: GroupCommand,
    config: &Config,
    args: &Map<String, Value>,
    transport: &mut T,
) -> Result<GroupOutput, Error> {
    let GroupArguments { given, action } = arguments::parse(command, args)?;
    let mut scim = ScimClient::new(
        transport,
        &config.url,
        &config.directory_id,
        &config.credential,
    );
    let result = match action {
        GroupAction::Get {
            key,
            include_members,
        } => get_group(&mut scim, &given, key, include_members),
        GroupAction::Create {
            display_name,
            external_id,
        } => create_group(&mut scim, &given, &display_name, external_id.as_deref()),
        GroupAction::Update { id, add, remove } => {
            update_group(&mut scim, &given, &id, &add, &remove)
        }
        GroupAction::Delete { id } => delete_group(&mut scim, &given, &id),
    };
    Ok(GroupOutput::new(
        command,
        result,
        &config.platform.brand,
        &config.instance_name,
    ))
}

/// A failure: success false with the `id` and `displayName` given (behaviour.md §8.3).
fn failed(given: &Given, failure: Failure, details: Option<Value>) -> GroupResult {
    GroupResult {
        success: false,
        id: given.id.clone(),
        display_name: given.display_name.clone(),
        members: None,
        error_code: failure.code,
        error_message: Some(failure.message),
        details,
    }
}

/// Not found: errorCode 404, which the sync script reads as "create it".
fn not_found(given: &Given) -> GroupResult {
    let failure = Failure {
        code: Some(404),
        message: GROUP_NOT_FOUND.into(),
    };
    failed(given, failure, None)
}

/// A success with this `id` and `displayName`.
fn succeeded(id: Option<String>, display_name: Option<String>) -> GroupResult {
    GroupResult {
        success: true,
        id,
        display_name,
        ..GroupResult::default()
    }
}

/// behaviour.md §8.2 get: by id when `scim` has one, else by displayName.
fn get_group<T: Transport>(
    scim: &mut ScimClient<'_, T>,
    given: &Given,
    key: GroupKey,
    include_members: bool,
) -> GroupResult {
    let (found, by_name) = match &key {
        GroupKey::Id(id) => (scim.get_group(id), false),
        GroupKey::DisplayName(display_name) => (scim.find_group(display_name), true),
    };
    let group = match found {
        Err(failure) => return failed(given, failure, None),
        Ok(None) => return not_found(given),
        Ok(Some(group)) => group,
    };
    // A listed group may come without its members: read it by id to show them.
    let group = if by_name && include_members && group.resource.get("members").is_none() {
        match scim.reread_group(&group.id) {
            Ok(group) => group,
            Err(failure) => return failed(given, failure, None),
        }
    } else {
        group
    };
    let display_name = group.display_name();
    let FoundGroup { id, resource } = group;
    let mut result = succeeded(Some(id), display_name);
    if include_members {
        result.members = Some(match resource.get("members") {
            Some(members @ Value::Array(_)) => members.clone(),
            _ => json!([]),
        });
    }
    result
}

/// behaviour.md §8.2 create: `POST /Groups`, no lookup first (a duplicate name is a 409).
fn create_group<T: Transport>(
    scim: &mut ScimClient<'_, T>,
    given: &Given,
    display_name: &str,
    external_id: Option<&str>,
) -> GroupResult {
    let body = scim_group::creation_body(display_name, external_id);
    match scim.create_group(&body) {
        // The answer's id and displayName, else the body's (an empty 201 is the body sent).
        Ok(created) => succeeded(
            match created.get("id") {
                Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
                _ => None,
            },
            scim_group::display_name_of(&created).or_else(|| Some(display_name.to_string())),
        ),
        Err(failure) => failed(given, failure, None),
    }
}

/// behaviour.md §8.2 update: the membership change in PATCH requests of at most 100 ids,
/// in order; the first failure stops the command and says how much was applied.
fn update_group<T: Transport>(
    scim: &mut ScimClient<'_, T>,
    given: &Given,
    id: &str,
    add: &[String],
    remove: &[String],
) -> GroupResult {
    let patches = scim_group::membership_patches(add, remove);
    let mut last_answer = None;
    for (succeeded_requests, patch) in patches.iter().enumerate() {
        match scim.patch_group(id, patch) {
            Ok(answer) => last_answer = answer,
            Err(failure) => {
                let details = json!({
                    "succeededRequests": succeeded_requests,
                    "totalRequests": patches.len(),
                });
                return failed(given, failure, Some(details));
            }
        }
    }
    let display_name = last_answer
        .as_ref()
        .and_then(scim_group::display_name_of)
        .or_else(|| given.display_name.clone());
    succeeded(Some(id.to_string()), display_name)
}

/// behaviour.md §8.2 delete: `DELETE /Groups/{id}`; a 404 is "not found".
fn delete_group<T: Transport>(
    scim: &mut ScimClient<'_, T>,
    given: &Given,
    id: &str,
) -> GroupResult {
    match scim.delete_group(id) {
        Ok(true) => succeeded(Some(id.to_string()), given.display_name.clone()),
        Ok(false) => not_found(given),
        Err(failure) => failed(given, failure, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::SendError;
    use crate::transport::fake::{FakeTransport, json as answer, with_header};

    const BASE: &str = "https://api.atlassian.com/scim/directory/d1";

    fn run(command: GroupCommand, args: Value, transport: &mut FakeTransport) -> GroupResult {
        let params = json!({"url": "https://api.atlassian.com", "directory_id": "d1"});
        let config = Config::from_params(params.as_object().unwrap(), Some("access_token"));
        let args = args.as_object().cloned().unwrap_or_default();
        run_group(command, &config.unwrap(), &args, transport)
            .unwrap()
            .result
    }

    fn sent(transport: &FakeTransport) -> Vec<(String, String)> {
        transport
            .sent
            .iter()
            .map(|r| (r.method.to_string(), r.url.clone()))
            .collect()
    }

    fn failure(code: Option<u16>, message: &str, given: (&str, Option<&str>)) -> GroupResult {
        GroupResult {
            success: false,
            id: Some(given.0.into()).filter(|id: &String| !id.is_empty()),
            display_name: given.1.map(str::to_string),
            error_code: code,
            error_message: Some(message.into()),
            ..GroupResult::default()
        }
    }

    const GROUP: &str = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"Eng","members":[{"value":"u1","display":"a@x.com"}],"meta":{"resourceType":"Group"}}"#;

    #[test]
    fn get_by_id_shows_members_only_when_asked() {
        let mut transport = FakeTransport::answering(vec![answer(200, GROUP), answer(200, GROUP)]);
        let plain = run(
            GroupCommand::Get,
            json!({"scim": {"id": "g1"}}),
            &mut transport,
        );
        assert_eq!(plain, succeeded(Some("g1".into()), Some("Eng".into())));
        let with_members = run(
            GroupCommand::Get,
            json!({"scim": {"id": "g1", "displayName": "ignored"}, "includeMembers": "true"}),
            &mut transport,
        );
        assert_eq!(
            with_members.members,
            Some(json!([{"value": "u1", "display": "a@x.com"}]))
        );
        assert_eq!(with_members.display_name.as_deref(), Some("Eng"));
        assert_eq!(
            sent(&transport)[1],
            ("GET".into(), format!("{BASE}/Groups/g1"))
        );
    }

    #[test]
    fn a_listed_group_without_members_is_read_again_only_when_members_are_asked_for() {
        let listed = r#"{"totalResults":1,"Resources":[{"id":"g1","displayName":"Eng"}]}"#;
        let mut transport = FakeTransport::answering(vec![
            answer(200, listed),
            answer(200, listed),
            answer(200, GROUP),
        ]);
        let plain = run(
            GroupCommand::Get,
            json!({"scim": {"displayName": "Eng"}}),
            &mut transport,
        );
        assert_eq!(plain, succeeded(Some("g1".into()), Some("Eng".into())));
        assert_eq!(transport.sent.len(), 1);
        let with_members = run(
            GroupCommand::Get,
            json!({"scim": {"displayName": "Eng"}, "includeMembers": true}),
            &mut transport,
        );
        assert_eq!(with_members.members.unwrap()[0]["value"], "u1");
        assert_eq!(
            sent(&transport)[2],
            ("GET".into(), format!("{BASE}/Groups/g1"))
        );
        // A listed group with members, or a group without any, is not read again.
        let mut transport = FakeTransport::answering(vec![answer(
            200,
            r#"{"totalResults":1,"Resources":[{"id":"g1","members":null}]}"#,
        )]);
        let result = run(
            GroupCommand::Get,
            json!({"scim": {"displayName": "Eng"}, "includeMembers": true}),
            &mut transport,
        );
        assert_eq!(result.members, Some(json!([])));
        assert_eq!(result.display_name, None);
        assert_eq!(transport.sent.len(), 1);
    }

    #[test]
    fn a_failed_reread_is_a_failure() {
        let mut transport = FakeTransport::answering(vec![
            answer(200, r#"{"totalResults":1,"Resources":[{"id":"g1"}]}"#),
            answer(404, r#"{"detail":"Group [g1] not found"}"#),
        ]);
        let result = run(
            GroupCommand::Get,
            json!({"scim": {"displayName": "Eng"}, "includeMembers": "TRUE"}),
            &mut transport,
        );
        assert_eq!(
            result,
            failure(Some(404), "Group [g1] not found", ("", Some("Eng")))
        );
    }

    #[test]
    fn not_found_is_404_group_not_found_with_what_was_given() {
        for (scim, body, status) in [
            (json!({"id": "g9", "displayName": "Eng"}), "{}", 404),
            (json!({"id": "g9"}), "", 200),
            (json!({"displayName": "Eng"}), r#"{"totalResults":0}"#, 200),
            (json!({"displayName": "Eng"}), "", 200),
        ] {
            let mut transport = FakeTransport::answering(vec![answer(status, body)]);
            let result = run(GroupCommand::Get, json!({"scim": scim}), &mut transport);
            let given = (
                scim["id"].as_str().unwrap_or_default(),
                scim["displayName"].as_str(),
            );
            assert_eq!(
                result,
                failure(Some(404), "Group Not Found", given),
                "{scim}"
            );
        }
    }

    #[test]
    fn an_ambiguous_name_is_a_failure_without_an_error_code() {
        let mut transport = FakeTransport::answering(vec![answer(
            200,
            r#"{"totalResults":2,"Resources":[{"id":"g1"},{"id":"g2"}]}"#,
        )]);
        let result = run(
            GroupCommand::Get,
            json!({"scim": {"displayName": "E\"ng"}}),
            &mut transport,
        );
        assert_eq!(
            result,
            failure(
                None,
                r#"2 groups match displayName eq "E\"ng"; refusing to act on an ambiguous match"#,
                ("", Some("E\"ng"))
            )
        );
    }

    #[test]
    fn create_takes_id_and_name_from_the_answer_else_from_the_body_sent() {
        let mut transport = FakeTransport::answering(vec![
            answer(201, r#"{"id":"g7","displayName":"Eng"}"#),
            answer(201, ""),
            answer(201, r#"{"id":"g8"}"#),
            answer(
                409,
                r#"{"status":"409","detail":"Group with name [Eng] already exists"}"#,
            ),
        ]);
        let create = |transport: &mut FakeTransport| {
            run(
                GroupCommand::Create,
                json!({"scim": {"displayName": "Eng", "externalId": "e1", "id": "given"}}),
                transport,
            )
        };
        assert_eq!(
            create(&mut transport),
            succeeded(Some("g7".into()), Some("Eng".into()))
        );
        assert_eq!(create(&mut transport), succeeded(None, Some("Eng".into())));
        assert_eq!(
            create(&mut transport),
            succeeded(Some("g8".into()), Some("Eng".into()))
        );
        assert_eq!(
            create(&mut transport),
            failure(
                Some(409),
                "Group with name [Eng] already exists",
                ("given", Some("Eng"))
            )
        );
        assert_eq!(transport.sent.len(), 4);
        assert_eq!(
            transport.sent[0].body.as_deref(),
            Some(
                r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng","externalId":"e1"}"#
            )
        );
    }

    #[test]
    fn update_sends_every_chunk_in_order_and_names_the_group_from_the_last_answer() {
        let add: Vec<String> = (1..=150).map(|n| format!("a{n}")).collect();
        let remove: Vec<String> = (1..=100).map(|n| format!("r{n}")).collect();
        let mut transport = FakeTransport::answering(vec![
            answer(200, r#"{"id":"g1","displayName":"First"}"#),
            answer(204, ""),
            answer(200, r#"{"id":"g1","displayName":"Eng"}"#),
        ]);
        let result = run(
            GroupCommand::Update,
            json!({"scim": {"id": "g1", "displayName": "Given"}, "memberIdsToAdd": add, "memberIdsToDelete": remove.join(",")}),
            &mut transport,
        );
        assert_eq!(result, succeeded(Some("g1".into()), Some("Eng".into())));
        assert_eq!(transport.sent.len(), 3);
        assert!(
            transport
                .sent
                .iter()
                .all(|r| r.method.to_string() == "PATCH" && r.url == format!("{BASE}/Groups/g1"))
        );
        // Without a name in the last answer, the name given.
        let mut transport = FakeTransport::answering(vec![
            answer(200, r#"{"id":"g1","displayName":"First"}"#),
            answer(204, ""),
        ]);
        let result = run(
            GroupCommand::Update,
            json!({"scim": {"id": "g1", "displayName": "Given"}, "memberIdsToAdd": add.iter().take(101).collect::<Vec<_>>()}),
            &mut transport,
        );
        assert_eq!(result, succeeded(Some("g1".into()), Some("Given".into())));
        let mut transport = FakeTransport::answering(vec![answer(204, "")]);
        let result = run(
            GroupCommand::Update,
            json!({"scim": {"id": "g1"}, "memberIdsToDelete": "u1"}),
            &mut transport,
        );
        assert_eq!(result, succeeded(Some("g1".into()), None));
    }

    #[test]
    fn an_update_failing_on_a_later_request_says_how_much_was_applied() {
        let add: Vec<String> = (1..=250).map(|n| format!("u{n}")).collect();
        let mut transport = FakeTransport::answering(vec![
            answer(200, r#"{"id":"g1","displayName":"Eng"}"#),
            answer(400, r#"{"detail":"User [u150] does not exist"}"#),
        ]);
        let result = run(
            GroupCommand::Update,
            json!({"scim": {"id": "g1"}, "memberIdsToAdd": add}),
            &mut transport,
        );
        assert_eq!(transport.sent.len(), 2);
        assert_eq!(
            result,
            GroupResult {
                details: Some(json!({"succeededRequests": 1, "totalRequests": 3})),
                ..failure(Some(400), "User [u150] does not exist", ("g1", None))
            }
        );
        // A 404 to the PATCH is a failure like any other, and a transport failure has no code.
        let mut transport = FakeTransport::answering(vec![
            answer(404, ""),
            Err(SendError::Tls("certificate expired".into())),
        ]);
        let update = |transport: &mut FakeTransport| {
            run(
                GroupCommand::Update,
                json!({"scim": {"id": "g1"}, "memberIdsToAdd": "u1"}),
                transport,
            )
        };
        let result = update(&mut transport);
        assert_eq!(
            (result.error_code, result.error_message.as_deref()),
            (Some(404), Some("HTTP 404 Not Found"))
        );
        assert_eq!(
            result.details,
            Some(json!({"succeededRequests": 0, "totalRequests": 1}))
        );
        let result = update(&mut transport);
        assert_eq!(result.error_code, None);
        assert!(!result.success);
    }

    #[test]
    fn delete_succeeds_on_204_and_is_not_found_on_404_also_after_a_retry() {
        let mut transport = FakeTransport::answering(vec![
            answer(204, ""),
            with_header(429, "Retry-After", "2"),
            answer(404, r#"{"detail":"gone"}"#),
        ]);
        let delete = |transport: &mut FakeTransport| {
            run(
                GroupCommand::Delete,
                json!({"scim": {"id": "g1", "displayName": "Eng"}}),
                transport,
            )
        };
        assert_eq!(
            delete(&mut transport),
            succeeded(Some("g1".into()), Some("Eng".into()))
        );
        assert_eq!(
            delete(&mut transport),
            failure(Some(404), "Group Not Found", ("g1", Some("Eng")))
        );
        assert_eq!(transport.slept, vec![2000]);
        assert_eq!(
            sent(&transport)[0],
            ("DELETE".into(), format!("{BASE}/Groups/g1"))
        );
    }

    #[test]
    fn a_group_id_of_dot_or_dot_dot_is_a_failed_result_and_nothing_is_sent() {
        for id in [".", ".."] {
            let message = format!(r#"Invalid id "{id}": "." and ".." cannot be used as an id"#);
            let mut transport = FakeTransport::default();
            let given = (id, None);
            assert_eq!(
                run(
                    GroupCommand::Get,
                    json!({"scim": {"id": id}}),
                    &mut transport
                ),
                failure(None, &message, given)
            );
            assert_eq!(
                run(
                    GroupCommand::Delete,
                    json!({"scim": {"id": id}}),
                    &mut transport
                ),
                failure(None, &message, given)
            );
            assert_eq!(
                run(
                    GroupCommand::Update,
                    json!({"scim": {"id": id}, "memberIdsToAdd": "u1"}),
                    &mut transport
                ),
                GroupResult {
                    details: Some(json!({"succeededRequests": 0, "totalRequests": 1})),
                    ..failure(None, &message, given)
                }
            );
            assert!(transport.sent.is_empty());
        }
        // A listed group whose id is "..": the server's answer is not used.
        let mut transport = FakeTransport::answering(vec![answer(
            200,
            r#"{"totalResults":1,"Resources":[{"id":"..","displayName":"Eng"}]}"#,
        )]);
        let result = run(
            GroupCommand::Get,
            json!({"scim": {"displayName": "Eng"}, "includeMembers": true}),
            &mut transport,
        );
        assert_eq!(
            result,
            failure(
                None,
                r#"The server returned a group whose "id" is not usable"#,
                ("", Some("Eng"))
            )
        );
        assert_eq!(transport.sent.len(), 1);
    }

    #[test]
    fn bad_arguments_are_an_error_and_nothing_is_sent() {
        let params = json!({"url": "https://api.atlassian.com", "directory_id": "d1"});
        let config =
            Config::from_params(params.as_object().unwrap(), Some("access_token")).unwrap();
        let mut transport = FakeTransport::default();
        let args = json!({"scim": {"id": "g1"}, "memberIdsToAdd": "a", "memberIdsToDelete": "a"});
        let error = run_group(
            GroupCommand::Update,
            &config,
            args.as_object().unwrap(),
            &mut transport,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"User id "a" is in both memberIdsToAdd and memberIdsToDelete"#
        );
        assert!(transport.sent.is_empty());
    }
}
