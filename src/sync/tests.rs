//! `sync-plan` end to end through `invocation::run`, against a scripted directory: each rule
//! of sync.md with its expected plan worked out by hand from the spec.

use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};

use crate::invocation::{self, CREDENTIAL_NAME, EntryType};
use crate::transport::{LogLevel, Method, Request, Response, SendError, Transport};

const PLAN_ID: &str = "0123456789abcdef";
const BASE: &str = "https://api.atlassian.com/scim/directory/d1/";

/// A directory that answers `GET …/Users?startIndex=…&count=100` and `…/Groups?…` from its
/// users and groups, unless an answer is scripted for that page.
#[derive(Default)]
struct FakeDirectory {
    users: Vec<Value>,
    groups: Vec<Value>,
    /// Answers for a page (`Users?startIndex=101&count=100`), used before the generated one.
    scripted: HashMap<String, VecDeque<Result<Response, SendError>>>,
    /// The pages asked for, in order.
    asked: Vec<String>,
    /// How many requests each `send_all` carried.
    batches: Vec<usize>,
    slept: Vec<u64>,
}

impl FakeDirectory {
    fn new(users: Vec<Value>, groups: Vec<Value>) -> FakeDirectory {
        FakeDirectory {
            users,
            groups,
            ..FakeDirectory::default()
        }
    }

    fn script(&mut self, page: &str, answers: Vec<Result<Response, SendError>>) {
        self.scripted.insert(page.to_string(), answers.into());
    }

    /// The list response of a page as the directory holds it.
    fn page(resources: &[Value], start_index: usize) -> Value {
        let from = (start_index - 1).min(resources.len());
        let to = (from + 100).min(resources.len());
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": resources.len(),
            "startIndex": start_index,
            "itemsPerPage": to - from,
            "Resources": &resources[from..to],
        })
    }
}

fn answer(status: u16, body: &Value) -> Result<Response, SendError> {
    Ok(Response {
        status,
        headers: Vec::new(),
        body: crate::json::text(body).into_bytes(),
    })
}

impl Transport for FakeDirectory {
    fn send(&mut self, request: &Request) -> Result<Response, SendError> {
        assert_eq!(request.method, Method::Get, "the plan only reads");
        let page = request
            .url
            .strip_prefix(BASE)
            .unwrap_or(&request.url)
            .to_string();
        self.asked.push(page.clone());
        if let Some(answer) = self.scripted.get_mut(&page).and_then(VecDeque::pop_front) {
            return answer;
        }
        let (collection, query) = page.split_once('?').unwrap_or_default();
        let start_index: usize = query
            .strip_prefix("startIndex=")
            .and_then(|rest| rest.strip_suffix("&count=100"))
            .and_then(|start| start.parse().ok())
            .unwrap_or_else(|| panic!("unexpected request {}", request.url));
        let resources = match collection {
            "Users" => &self.users,
            "Groups" => &self.groups,
            other => panic!("unexpected collection {other}"),
        };
        answer(200, &FakeDirectory::page(resources, start_index))
    }
    fn send_all(&mut self, requests: Vec<Request>) -> Vec<Result<Response, SendError>> {
        self.batches.push(requests.len());
        requests.iter().map(|request| self.send(request)).collect()
    }
    fn sleep(&mut self, millis: u64) {
        self.slept.push(millis);
    }
    fn now_millis(&mut self) -> u64 {
        0
    }
    fn log(&mut self, _level: LogLevel, _message: &str) {}
}

/// A directory user whose primary e-mail is `email`.
fn user(
    id: &str,
    user_name: &str,
    email: &str,
    external_id: Option<&str>,
    title: &str,
    active: bool,
) -> Value {
    let mut user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": id,
        "userName": user_name,
        "emails": [{"value": email, "type": "work", "primary": true}],
        "title": title,
        "active": active,
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z"},
        "groups": []
    });
    if let Some(external_id) = external_id {
        user["externalId"] = json!(external_id);
    }
    user
}

/// An active directory user whose e-mail is its userName.
fn simple_user(id: &str, name: &str) -> Value {
    user(id, name, name, None, "Staff", true)
}

/// A desired profile that the built-in mapper maps to what `user` holds.
fn profile(user_name: &str, email: &str, employee_id: Option<&str>, title: &str) -> Value {
    let mut profile = json!({"username": user_name, "email": email, "title": title});
    if let Some(employee_id) = employee_id {
        profile["employeeid"] = json!(employee_id);
    }
    profile
}

fn simple_profile(name: &str) -> Value {
    profile(name, name, None, "Staff")
}

fn group(id: &str, name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members
        .iter()
        .map(|m| json!({"value": m, "display": m}))
        .collect();
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": id, "displayName": name, "members": members})
}

fn jsonl(profiles: &[Value]) -> String {
    profiles
        .iter()
        .map(|p| crate::json::text(p) + "\n")
        .collect()
}

/// The arguments of a plan of `text` (JSONL), with `extra` arguments over them.
fn args(text: &str, extra: Value) -> Value {
    let mut args = json!({
        "desired": {"format": "jsonl", "text": text},
        "plan_id": PLAN_ID,
        "created": "2025-01-02T03:04:05Z",
        "tenant": "acme"
    });
    for (key, value) in extra.as_object().cloned().unwrap_or_default() {
        args[key] = value;
    }
    args
}

/// Run `sync-plan` with `args` on the default instance (plus `params`).
fn run(directory: &mut FakeDirectory, args: Value, params: Value) -> (EntryType, Value) {
    let mut instance = json!({"url": "https://api.atlassian.com", "directory_id": "d1"});
    for (key, value) in params.as_object().cloned().unwrap_or_default() {
        instance[key] = value;
    }
    let invocation = json!({"command": "sync-plan", "params": instance, "args": args});
    let outcome = invocation::run(
        &crate::json::text(&invocation),
        Some(CREDENTIAL_NAME),
        directory,
    );
    let entry = serde_json::from_str(&outcome.entry_json).expect("the entry is JSON");
    (outcome.entry_type, entry)
}

/// A plan made: its summary, header and job lines.
struct Made {
    summary: Value,
    header: Value,
    jobs: Vec<Value>,
    markdown: String,
}

fn planned(directory: &mut FakeDirectory, args: Value, params: Value) -> Made {
    let (entry_type, entry) = run(directory, args, params);
    assert_eq!(entry_type, EntryType::Note, "{entry}");
    assert_eq!(entry["Type"], 1);
    assert_eq!(entry["ContentsFormat"], "json");
    let text = entry["Contents"]["plan"].as_str().expect("the plan text");
    assert!(text.ends_with('\n'), "every line ends in a line break");
    let mut lines = text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"));
    let header = lines.next().expect("the header");
    let summary = entry["Contents"]["summary"].clone();
    assert_eq!(
        header["plan"]["summary"], summary,
        "the header carries the summary"
    );
    Made {
        summary,
        header: header["plan"].clone(),
        jobs: lines.collect(),
        markdown: entry["HumanReadable"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    }
}

/// The summary with these counts and every other count 0.
fn summary(counts: Value) -> Value {
    let mut summary = json!({
        "creates": 0, "updates": 0, "enables": 0, "disables": 0, "deprovisions": 0,
        "group_creates": 0, "member_adds": 0, "member_removes": 0, "deferred": 0,
        "unchanged": 0, "protected": 0, "conflicts": 0, "invalid_lines": 0,
        "directory_users": 0, "directory_groups": 0, "desired": 0, "blocked": []
    });
    for (key, value) in counts.as_object().cloned().unwrap_or_default() {
        summary[key] = value;
    }
    summary
}

/// A job line as the plan must write it: the n-th job of the plan.
fn job(n: usize, command: &str, args: Value, phase: u8, change: &str) -> Value {
    json!({"id": format!("{PLAN_ID}-{n}"), "tenant": "acme", "command": command, "args": args, "phase": phase, "change": change})
}

#[test]
fn an_unchanged_directory_plans_nothing_and_the_header_says_where() {
    let mut directory = FakeDirectory::new(
        vec![
            user("u1", "ann@x.com", "ann@x.com", Some("E1"), "Engineer", true),
            user("u2", "bob@x.com", "bob@x.com", Some("E2"), "Designer", true),
        ],
        vec![],
    );
    let desired = jsonl(&[
        profile("ann@x.com", "ann@x.com", Some("E1"), "Engineer"),
        profile("BOB@x.com", "Bob@X.com", Some("E2"), "Designer"),
    ]);
    let made = planned(&mut directory, args(&desired, json!({})), json!({}));
    assert_eq!(
        made.summary,
        summary(json!({"unchanged": 2, "directory_users": 2, "desired": 2}))
    );
    assert!(made.jobs.is_empty());
    assert_eq!(
        made.header,
        json!({
            "id": PLAN_ID, "created": "2025-01-02T03:04:05Z", "tenant": "acme",
            "url": "https://api.atlassian.com", "directory_id": "d1",
            "summary": made.summary, "blocked": [], "conflicts": [], "group_conflicts": [],
            "invalid_lines": []
        })
    );
    assert!(
        made.markdown
            .starts_with(&format!("### Sync plan {PLAN_ID} (Atlassian IAM)\n"))
    );
}

#[test]
fn a_rename_is_matched_by_external_id_and_updates_the_user_by_its_id() {
    let mut directory = FakeDirectory::new(
        vec![user(
            "u1",
            "ann@x.com",
            "ann@x.com",
            Some("E1"),
            "Engineer",
            true,
        )],
        vec![],
    );
    let desired = jsonl(&[profile(
        "ann.lee@x.com",
        "ann.lee@x.com",
        Some("E1"),
        "Engineer",
    )]);
    let made = planned(&mut directory, args(&desired, json!({})), json!({}));
    assert_eq!(
        made.summary,
        summary(json!({"updates": 1, "directory_users": 1, "desired": 1}))
    );
    assert_eq!(
        made.jobs,
        [job(
            1,
            "iam-update-user",
            json!({"user-profile": {"username": "ann.lee@x.com", "email": "ann.lee@x.com", "title": "Engineer", "employeeid": "E1", "id": "u1"}, "allow-enable": false}),
            1,
            r#"emails: [{"value":"ann@x.com","type":"work","primary":true}] → [{"primary":true,"type":"work","value":"ann.lee@x.com"}]; userName: ann@x.com → ann.lee@x.com"#,
        )]
    );
}

#[test]
fn a_user_name_only_change_is_matched_by_the_primary_email() {
    let mut directory = FakeDirectory::new(
        vec![user(
            "u2",
            "bob@x.com",
            "bob.smith@x.com",
            None,
            "Designer",
            true,
        )],
        vec![],
    );
    let desired = jsonl(&[profile("robert@x.com", "Bob.Smith@x.com", None, "Designer")]);
    let made = planned(&mut directory, args(&desired, json!({})), json!({}));
    assert_eq!(made.summary["updates"], 1);
    assert_eq!(made.summary["creates"], 0);
    assert_eq!(made.summary["deprovisions"], 0);
    assert_eq!(made.jobs.len(), 1);
    assert_eq!(made.jobs[0]["args"]["user-profile"]["id"], "u2");
    // The e-mail differs only in case: not a difference.
    assert_eq!(made.jobs[0]["change"], "userName: bob@x.com → robert@x.com");
}

#[test]
fn conflicts_get_no_action_block_nothing_and_their_users_are_never_deprovisioned() {
    let mut directory = FakeDirectory::new(
        vec![
            user("u1", "ann@x.com", "ann@x.com", Some("E1"), "Engineer", true),
            user("u2", "bob@x.com", "bob@x.com", Some("E2"), "Designer", true),
            user("u3", "cy@x.com", "cy@x.com", Some("E3"), "Staff", true),
            user("u4", "dee@x.com", "dee@x.com", Some("E4"), "Staff", true),
        ],
        vec![],
    );
    let desired = jsonl(&[
        // externalId says Ann, userName and e-mail say Bob: two users.
        profile("bob@x.com", "bob@x.com", Some("E1"), "Designer"),
        // Two people for Cy: one by userName, one by externalId.
        profile("cy@x.com", "cy@x.com", None, "Staff"),
        profile("cy2@x.com", "cy2@x.com", Some("E3"), "Boss"),
        profile("dee@x.com", "dee@x.com", Some("E4"), "Staff"),
    ]);
    let made = planned(&mut directory, args(&desired, json!({})), json!({}));
    assert_eq!(
        made.summary,
        summary(json!({"unchanged": 1, "conflicts": 3, "directory_users": 4, "desired": 4}))
    );
    // Ann is found only by a conflicted person, yet not deprovisioned; no update for anyone.
    assert!(made.jobs.is_empty(), "{:?}", made.jobs);
    assert_eq!(
        made.header["conflicts"],
        json!([
            {"line": 1, "userName": "bob@x.com", "ids": ["u1", "u2"]},
            {"line": 2, "userName": "cy@x.com", "ids": ["u3"]},
            {"line": 3, "userName": "cy2@x.com", "ids": ["u3"]}
        ])
    );
    assert!(
        made.markdown
            .contains("\n### Conflicts\n- line 1: bob@x.com (ids: u1, u2)\n"),
        "{}",
        made.markdown
    );
}

#[test]
fn one_job_per_person_enable_wins_over_update_and_disable_comes_alone() {
    let mut directory = FakeDirectory::new(
        vec![
            user("u1", "ann@x.com", "ann@x.com", None, "Engineer", false),
            user("u2", "bob@x.com", "bob@x.com", None, "Designer", true),
            user("u3", "cy@x.com", "cy@x.com", None, "X", false),
            user("u4", "dee@x.com", "dee@x.com", None, "Y", false),
        ],
        vec![],
    );
    let mut bob = profile("bob@x.com", "bob@x.com", None, "Lead");
    bob["active"] = json!(false);
    let mut cy = profile("cy@x.com", "cy@x.com", None, "X2");
    cy["active"] = json!(false);
    let mut dee = profile("dee@x.com", "dee@x.com", None, "Y");
    dee["active"] = json!("FALSE");
    let desired = jsonl(&[
        profile("ann@x.com", "ann@x.com", None, "Senior Engineer"),
        bob,
        cy,
        dee,
    ]);
    // The instance deletes on disable; the sync still patches (sync.md §4).
    let made = planned(
        &mut directory,
        args(&desired, json!({})),
        json!({"disable_method": "delete"}),
    );
    assert_eq!(
        made.summary,
        summary(
            json!({"updates": 1, "enables": 1, "disables": 1, "unchanged": 1, "directory_users": 4, "desired": 4})
        )
    );
    assert_eq!(
        made.jobs,
        [
            job(
                1,
                "iam-update-user",
                json!({"user-profile": {"username": "ann@x.com", "email": "ann@x.com", "title": "Senior Engineer", "id": "u1"}, "allow-enable": true}),
                1,
                "active: false → true; title: Engineer → Senior Engineer"
            ),
            job(
                2,
                "iam-disable-user",
                json!({"user-profile": {"username": "bob@x.com", "email": "bob@x.com", "title": "Lead", "id": "u2"}, "disable-method": "patch"}),
                1,
                "active: true → false"
            ),
            job(
                3,
                "iam-update-user",
                json!({"user-profile": {"username": "cy@x.com", "email": "cy@x.com", "title": "X2", "id": "u3"}, "allow-enable": false}),
                1,
                "title: X → X2"
            ),
        ]
    );
}

#[test]
fn a_new_person_is_created_enabled_unless_desired_inactive() {
    let mut directory = FakeDirectory::new(vec![simple_user("u1", "ann@x.com")], vec![]);
    let mut off = simple_profile("off@x.com");
    off["active"] = json!(false);
    let desired = jsonl(&[
        simple_profile("ann@x.com"),
        simple_profile("new@x.com"),
        off,
    ]);
    let made = planned(&mut directory, args(&desired, json!({})), json!({}));
    assert_eq!(
        made.jobs,
        [
            job(
                1,
                "iam-create-user",
                json!({"user-profile": simple_profile("new@x.com"), "allow-enable": true}),
                1,
                "create new@x.com"
            ),
            job(
                2,
                "iam-create-user",
                json!({"user-profile": simple_profile("off@x.com"), "allow-enable": false}),
                1,
                "create off@x.com"
            ),
        ]
    );
    assert_eq!(made.summary["creates"], 2);
}

#[test]
fn deprovisioning_disables_by_patch_deletes_only_when_asked_and_skips_inactive_users() {
    let users = vec![
        simple_user("u1", "ann@x.com"),
        simple_user("u2", "bob@x.com"),
        user("u3", "cy@x.com", "cy@x.com", None, "Staff", false),
    ];
    let desired = jsonl(&[simple_profile("ann@x.com")]);
    // The default, even where the instance would delete.
    let mut directory = FakeDirectory::new(users.clone(), vec![]);
    let made = planned(
        &mut directory,
        args(&desired, json!({})),
        json!({"disable_method": "delete"}),
    );
    assert_eq!(
        made.jobs,
        [job(
            1,
            "iam-disable-user",
            json!({"user-profile": {"id": "u2"}, "disable-method": "patch"}),
            4,
            "bob@x.com is not in the desired state: active: true → false"
        )]
    );
    assert_eq!(made.summary["deprovisions"], 1);
    let mut directory = FakeDirectory::new(users.clone(), vec![]);
    let made = planned(
        &mut directory,
        args(&desired, json!({"on_missing": "delete"})),
        json!({}),
    );
    assert_eq!(
        made.jobs,
        [job(
            1,
            "iam-disable-user",
            json!({"user-profile": {"id": "u2"}, "disable-method": "delete"}),
            4,
            "bob@x.com is not in the desired state: deleted"
        )]
    );
    let mut directory = FakeDirectory::new(users, vec![]);
    let made = planned(
        &mut directory,
        args(&desired, json!({"on_missing": "ignore"})),
        json!({}),
    );
    assert!(made.jobs.is_empty());
    assert_eq!(made.summary["deprovisions"], 0);
}

#[test]
fn protected_users_are_never_changed_deprovisioned_added_or_removed() {
    let mut ann = user("u2", "ann@x.com", "ann@x.com", None, "Engineer", true);
    ann["emails"] = json!([{"value": "ann@x.com", "primary": true}, {"value": "ann@vip.example"}]);
    let mut directory = FakeDirectory::new(
        vec![
            simple_user("u1", "admin@x.com"),
            ann,
            simple_user("u3", "cy@x.com"),
        ],
        vec![group("g1", "Eng", &["u1", "u3"])],
    );
    let mut ann_wants = profile("ann@x.com", "ann@x.com", None, "Boss");
    ann_wants["groups"] = json!(["Eng"]);
    let desired = jsonl(&[ann_wants, simple_profile("cy@x.com")]);
    let made = planned(
        &mut directory,
        args(&desired, json!({"protect": ["ADMIN@*", "*@VIP.example"]})),
        json!({}),
    );
    // Only Cy leaves Eng: the admin stays in it, Ann is neither updated nor added.
    assert_eq!(
        made.summary,
        summary(
            json!({"member_removes": 1, "unchanged": 1, "protected": 2, "directory_users": 3, "directory_groups": 1, "desired": 2})
        )
    );
    assert_eq!(
        made.jobs,
        [job(
            1,
            "iam-update-group",
            json!({"scim": {"id": "g1", "displayName": "Eng"}, "memberIdsToDelete": ["u3"]}),
            3,
            "members of Eng: remove cy@x.com"
        )]
    );
}

#[test]
fn managed_groups_only_keep_their_ids_defer_what_cannot_be_added_and_are_never_deleted() {
    let mut directory = FakeDirectory::new(
        vec![
            simple_user("u1", "ann@x.com"),
            simple_user("u2", "bob@x.com"),
            simple_user("u3", "cy@x.com"),
            simple_user("u4", "dee@x.com"),
        ],
        vec![
            group("g1", "Eng", &["u1", "u2"]),
            group("g2", "Ops", &["u3"]),
            group("g3", "Dup", &[]),
            group("g4", "Dup", &["u1"]),
            group("g5", "Empty", &["u4", "ghost"]),
        ],
    );
    let with_groups = |name: &str, groups: Value| {
        let mut p = simple_profile(name);
        p["groups"] = groups;
        p
    };
    let desired = jsonl(&[
        with_groups("ann@x.com", json!(["Eng"])),
        with_groups("bob@x.com", json!([])),
        with_groups("cy@x.com", json!(["Eng", " Dup ", "New", "Eng"])),
        simple_profile("dee@x.com"),
        with_groups("eve@x.com", json!(["Eng", "New"])),
    ]);
    let made = planned(
        &mut directory,
        args(&desired, json!({"manage_groups": ["Empty"]})),
        json!({}),
    );
    assert_eq!(
        made.summary,
        summary(json!({
            "creates": 1, "group_creates": 1, "member_adds": 1, "member_removes": 2,
            // Eve into Eng and New, Cy into New (a group the plan creates).
            "deferred": 3, "unchanged": 4, "conflicts": 1,
            "directory_users": 4, "directory_groups": 5, "desired": 5
        }))
    );
    assert_eq!(
        made.jobs,
        [
            job(
                1,
                "iam-create-user",
                json!({"user-profile": simple_profile("eve@x.com"), "allow-enable": true}),
                1,
                "create eve@x.com"
            ),
            job(
                2,
                "iam-create-group",
                json!({"scim": {"displayName": "New"}}),
                2,
                "create group New"
            ),
            job(
                3,
                "iam-update-group",
                json!({"scim": {"id": "g1", "displayName": "Eng"}, "memberIdsToAdd": ["u3"], "memberIdsToDelete": ["u2"]}),
                3,
                "members of Eng: add cy@x.com; remove bob@x.com"
            ),
            // The unknown member "ghost" is left alone.
            job(
                4,
                "iam-update-group",
                json!({"scim": {"id": "g5", "displayName": "Empty"}, "memberIdsToDelete": ["u4"]}),
                3,
                "members of Empty: remove dee@x.com"
            ),
        ]
    );
    assert_eq!(
        made.header["group_conflicts"],
        json!([{"displayName": "Dup", "ids": ["g3", "g4"]}])
    );
    assert!(
        made.markdown
            .contains("- group Dup: carried by 2 groups (ids: g3, g4)\n"),
        "{}",
        made.markdown
    );
}

#[test]
fn too_many_deprovisions_block_the_plan_which_is_still_written() {
    // 12 active users, one desired: 11 to deprovision, over the default's 10.
    let users: Vec<Value> = (1..=12)
        .map(|n| simple_user(&format!("u{n}"), &format!("p{n}@x.com")))
        .collect();
    let desired = jsonl(&[simple_profile("p1@x.com")]);
    let mut directory = FakeDirectory::new(users.clone(), vec![]);
    let made = planned(&mut directory, args(&desired, json!({})), json!({}));
    let reason = "it would deprovision 11 users, more than the 10 allowed (the default: 10% of the 12 active, unprotected users, at least 10 and at most 500)";
    assert_eq!(made.summary["blocked"], json!([reason]));
    assert_eq!(made.header["blocked"], json!([reason]));
    assert_eq!(made.jobs.len(), 11);
    assert!(
        made.markdown
            .ends_with(&format!("\n### Blocked\n- {reason}\n")),
        "{}",
        made.markdown
    );
    for (limit, blocked) in [("11", false), ("10", true), ("100%", false), ("50%", true)] {
        let mut directory = FakeDirectory::new(users.clone(), vec![]);
        let made = planned(
            &mut directory,
            args(&desired, json!({"max_deprovision": limit})),
            json!({}),
        );
        assert_eq!(made.summary["blocked"] != json!([]), blocked, "{limit}");
    }
    // Protected users are not in the base, nor deprovisioned: 2 protected leave 9 of 10.
    let mut directory = FakeDirectory::new(users, vec![]);
    let made = planned(
        &mut directory,
        args(&desired, json!({"protect": ["p1?@x.com"]})),
        json!({}),
    );
    assert_eq!(made.summary["deprovisions"], 8);
    assert_eq!(made.summary["blocked"], json!([]));
}

#[test]
fn too_many_member_removals_block_the_plan() {
    let users: Vec<Value> = (1..=12)
        .map(|n| simple_user(&format!("u{n}"), &format!("p{n}@x.com")))
        .collect();
    let ids: Vec<String> = (1..=12).map(|n| format!("u{n}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let desired: Vec<Value> = (1..=12)
        .map(|n| simple_profile(&format!("p{n}@x.com")))
        .collect();
    let desired = jsonl(&desired);
    let mut directory = FakeDirectory::new(users.clone(), vec![group("g1", "Big", &ids)]);
    let made = planned(
        &mut directory,
        args(&desired, json!({"manage_groups": ["Big"]})),
        json!({}),
    );
    assert_eq!(made.summary["member_removes"], 12);
    assert_eq!(
        made.summary["blocked"],
        json!([
            "it would remove 12 group memberships, more than the 10 allowed (the default: 10% of the 12 current memberships of the managed groups, at least 10 and at most 1000)"
        ])
    );
    let mut directory = FakeDirectory::new(users, vec![group("g1", "Big", &ids)]);
    let made = planned(
        &mut directory,
        args(
            &desired,
            json!({"manage_groups": ["Big"], "max_member_removals": "12"}),
        ),
        json!({}),
    );
    assert_eq!(made.summary["blocked"], json!([]));
}

#[test]
fn an_invalid_line_or_an_empty_desired_state_blocks_the_plan() {
    let users = vec![
        simple_user("u1", "ann@x.com"),
        simple_user("u2", "bob@x.com"),
    ];
    let text = format!(
        "{}\n[1]\n\n{{\"title\": \"no name\"}}\nnot json\n{{\"username\": \"x@x.com\", \"groups\": \"Eng\"}}\n",
        crate::json::text(&simple_profile("ann@x.com"))
    );
    let mut directory = FakeDirectory::new(users.clone(), vec![]);
    let made = planned(&mut directory, args(&text, json!({})), json!({}));
    assert_eq!(made.summary["invalid_lines"], 4);
    assert_eq!(made.summary["desired"], 1);
    assert_eq!(
        made.summary["blocked"],
        json!([
            "the desired state has 4 invalid lines (see invalid_lines): the people on them could be deprovisioned"
        ])
    );
    let lines: Vec<&Value> = made.header["invalid_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["line"])
        .collect();
    assert_eq!(lines, [2, 4, 5, 6]);
    assert_eq!(
        made.header["invalid_lines"][0]["reason"],
        "expected a JSON object, got an array"
    );
    assert_eq!(
        made.header["invalid_lines"][1]["reason"],
        "the profile has no userName once mapped by the outgoing mapper"
    );
    assert_eq!(
        made.header["invalid_lines"][3]["reason"],
        "\"groups\" must be a list of group names, got a string"
    );
    for text in ["", "\n \n"] {
        let mut directory = FakeDirectory::new(users.clone(), vec![]);
        let made = planned(&mut directory, args(text, json!({})), json!({}));
        assert_eq!(
            made.summary["blocked"],
            json!(["the desired state is empty"])
        );
        assert_eq!(made.summary["deprovisions"], 2);
    }
}

#[test]
fn a_csv_desired_state_plans_as_its_jsonl_twin() {
    let users = vec![
        user("u1", "ann@x.com", "ann@x.com", None, "Engineer", true),
        simple_user("u2", "bob@x.com"),
    ];
    let groups = vec![group("g1", "Eng", &[])];
    let csv = "\u{feff}username,email,title,groups,active\r\n\
               ann@x.com,ann@x.com,\"Senior, Engineer\",Eng; Ops;,\r\n\
               bob@x.com,bob@x.com,Staff,,false\r\n\
               new@x.com,new@x.com,,,TRUE\r\n\
               bad,row\r\n";
    let mut directory = FakeDirectory::new(users.clone(), groups.clone());
    let mut csv_args = args(csv, json!({}));
    csv_args["desired"]["format"] = json!("csv");
    let from_csv = planned(&mut directory, csv_args, json!({}));
    let jsonl_text = jsonl(&[
        json!({"username": "ann@x.com", "email": "ann@x.com", "title": "Senior, Engineer", "groups": ["Eng", "Ops"]}),
        json!({"username": "bob@x.com", "email": "bob@x.com", "title": "Staff", "active": false}),
        json!({"username": "new@x.com", "email": "new@x.com"}),
    ]);
    let mut directory = FakeDirectory::new(users, groups);
    let from_jsonl = planned(&mut directory, args(&jsonl_text, json!({})), json!({}));
    assert_eq!(from_csv.jobs, from_jsonl.jobs);
    assert_eq!(from_csv.jobs.len(), 5, "{:?}", from_csv.jobs);
    assert_eq!(
        from_csv.header["invalid_lines"],
        json!([{"line": 5, "reason": "bad CSV row: it has 2 fields where the header has 5"}])
    );
}

#[test]
fn jobs_are_numbered_in_plan_order_phase_by_phase() {
    let mut directory = FakeDirectory::new(
        vec![
            simple_user("u1", "ann@x.com"),
            simple_user("u2", "old@x.com"),
        ],
        vec![group("g1", "Eng", &["u2"])],
    );
    let mut ann = simple_profile("ann@x.com");
    ann["groups"] = json!(["Eng", "New"]);
    let desired = jsonl(&[ann, simple_profile("new@x.com")]);
    let made = planned(&mut directory, args(&desired, json!({})), json!({}));
    let order: Vec<(String, u64, String)> = made
        .jobs
        .iter()
        .map(|j| {
            (
                j["id"].as_str().unwrap().to_string(),
                j["phase"].as_u64().unwrap(),
                j["command"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("1", 1, "iam-create-user"),
        ("2", 2, "iam-create-group"),
        ("3", 3, "iam-update-group"),
        ("4", 4, "iam-disable-user"),
    ];
    let expected: Vec<(String, u64, String)> = expected
        .iter()
        .map(|(n, phase, command)| (format!("{PLAN_ID}-{n}"), *phase, command.to_string()))
        .collect();
    assert_eq!(order, expected);
    assert!(made.jobs.iter().all(|j| j["tenant"] == "acme"));
}

#[test]
fn the_pages_after_the_first_are_asked_for_together_two_hundred_at_a_time() {
    // 20,101 users: 202 pages; 150 groups: 2 pages.
    let users: Vec<Value> = (1..=20_101)
        .map(|n| json!({"id": format!("u{n}"), "userName": format!("p{n}@x.com"), "active": true}))
        .collect();
    let groups: Vec<Value> = (1..=150)
        .map(|n| group(&format!("g{n}"), &format!("G{n}"), &[]))
        .collect();
    let mut directory = FakeDirectory::new(users, groups);
    let made = planned(
        &mut directory,
        args(&jsonl(&[simple_profile("p1@x.com")]), json!({})),
        json!({}),
    );
    assert_eq!(made.summary["directory_users"], 20_101);
    assert_eq!(made.summary["directory_groups"], 150);
    // The first pages of both; then 201 user pages and 1 group page, 200 at a time.
    assert_eq!(directory.batches, [2, 200, 2]);
    assert_eq!(
        directory.asked[..3],
        [
            "Users?startIndex=1&count=100",
            "Groups?startIndex=1&count=100",
            "Users?startIndex=101&count=100"
        ]
    );
    assert_eq!(
        directory.asked.last().map(String::as_str),
        Some("Groups?startIndex=101&count=100")
    );
    // Blocked: 20,100 to deprovision, over the 500 allowed.
    assert_eq!(made.summary["deprovisions"], 20_100);
    assert_eq!(made.summary["blocked"].as_array().map(Vec::len), Some(1));
}

/// A read that fails: the "read" failure entry, and its message.
fn read_failure(directory: &mut FakeDirectory) -> String {
    let desired = jsonl(&[simple_profile("p1@x.com")]);
    let (entry_type, entry) = run(directory, args(&desired, json!({})), json!({}));
    assert_eq!(entry_type, EntryType::Error, "{entry}");
    assert_eq!(entry["Type"], 4);
    assert_eq!(entry["ContentsFormat"], "json");
    assert_eq!(entry["Contents"]["failure"], "read");
    let message = entry["Contents"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(entry["HumanReadable"], message.as_str());
    assert!(!message.contains('\n'));
    let prefix = "The directory could not be read whole, so no plan was made: ";
    message
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{message}"))
        .to_string()
}

fn users(count: usize) -> Vec<Value> {
    (1..=count)
        .map(|n| simple_user(&format!("u{n}"), &format!("p{n}@x.com")))
        .collect()
}

#[test]
fn a_page_that_fails_after_its_retries_plans_nothing() {
    let mut directory = FakeDirectory::new(users(150), vec![]);
    let busy = || answer(503, &json!({"detail": "busy"}));
    directory.script(
        "Users?startIndex=101&count=100",
        vec![busy(), busy(), busy(), busy()],
    );
    assert_eq!(
        read_failure(&mut directory),
        "the Users page at startIndex 101: the server answered 503: busy"
    );
    assert_eq!(directory.slept, [1000, 2000, 4000]);
    // A page that a retry cures is read.
    let mut directory = FakeDirectory::new(users(150), vec![]);
    directory.script("Users?startIndex=101&count=100", vec![busy(), busy()]);
    let made = planned(
        &mut directory,
        args(
            &jsonl(&[simple_profile("p1@x.com")]),
            json!({"max_deprovision": "100%"}),
        ),
        json!({}),
    );
    assert_eq!(made.summary["directory_users"], 150);
    // A transport failure names the request.
    let mut directory = FakeDirectory::new(users(10), vec![]);
    directory.script(
        "Groups?startIndex=1&count=100",
        vec![Err(SendError::Tls("bad certificate".into()))],
    );
    assert_eq!(
        read_failure(&mut directory),
        format!(
            "the Groups page at startIndex 1: GET {BASE}Groups?startIndex=1&count=100 failed: the TLS connection to the server failed: bad certificate"
        )
    );
}

#[test]
fn a_short_page_plans_nothing_the_last_page_included() {
    let all = users(150);
    let mut short = FakeDirectory::page(&all, 101);
    short["Resources"].as_array_mut().unwrap().pop();
    let mut directory = FakeDirectory::new(all.clone(), vec![]);
    directory.script("Users?startIndex=101&count=100", vec![answer(200, &short)]);
    assert_eq!(
        read_failure(&mut directory),
        "the Users page at startIndex 101: it holds 49 users where 50 were expected (totalResults 150)"
    );
    let mut short = FakeDirectory::page(&all, 1);
    short["Resources"].as_array_mut().unwrap().truncate(60);
    let mut directory = FakeDirectory::new(all, vec![]);
    directory.script("Users?startIndex=1&count=100", vec![answer(200, &short)]);
    assert_eq!(
        read_failure(&mut directory),
        "the Users page at startIndex 1: it holds 60 users where 100 were expected (totalResults 150)"
    );
    // A group page too.
    let groups: Vec<Value> = (1..=3).map(|n| group(&format!("g{n}"), "G", &[])).collect();
    let mut short = FakeDirectory::page(&groups, 1);
    short["Resources"].as_array_mut().unwrap().pop();
    let mut directory = FakeDirectory::new(users(3), groups);
    directory.script("Groups?startIndex=1&count=100", vec![answer(200, &short)]);
    assert_eq!(
        read_failure(&mut directory),
        "the Groups page at startIndex 1: it holds 2 groups where 3 were expected (totalResults 3)"
    );
}

#[test]
fn a_total_that_changes_between_pages_plans_nothing() {
    let all = users(150);
    let mut changed = FakeDirectory::page(&all, 101);
    changed["totalResults"] = json!(151);
    let mut directory = FakeDirectory::new(all, vec![]);
    directory.script(
        "Users?startIndex=101&count=100",
        vec![answer(200, &changed)],
    );
    assert_eq!(
        read_failure(&mut directory),
        "the Users page at startIndex 101: totalResults is 151 where the first page said 150"
    );
}

#[test]
fn an_id_that_shows_twice_plans_nothing() {
    let mut all = users(150);
    all[120]["id"] = json!("u7");
    let mut directory = FakeDirectory::new(all, vec![]);
    assert_eq!(
        read_failure(&mut directory),
        r#"the Users page at startIndex 101: the user id "u7" shows twice"#
    );
    let groups = vec![group("g1", "A", &[]), group("g1", "B", &[])];
    let mut directory = FakeDirectory::new(users(3), groups);
    assert_eq!(
        read_failure(&mut directory),
        r#"the Groups page at startIndex 1: the group id "g1" shows twice"#
    );
}

#[test]
fn a_listed_resource_that_cannot_be_used_plans_nothing() {
    let mut all = users(3);
    all[1]["id"] = json!("..");
    let mut directory = FakeDirectory::new(all, vec![]);
    assert_eq!(
        read_failure(&mut directory),
        r#"the Users page at startIndex 1: The server returned a user whose "id" is not usable"#
    );
    let mut directory = FakeDirectory::new(users(3), vec![]);
    directory.script(
        "Users?startIndex=1&count=100",
        vec![answer(200, &json!({"Resources": []}))],
    );
    assert_eq!(
        read_failure(&mut directory),
        "the Users page at startIndex 1: the answer has no usable totalResults"
    );
}

#[test]
fn a_total_too_large_to_read_fails_at_the_first_page_without_asking_for_more() {
    // A server that claims 10^12 users with a full first page: reading it would take 10^10
    // pages. The plan stops at the first page (one million users is the most it reads).
    let mut first = FakeDirectory::page(&users(100), 1);
    first["totalResults"] = json!(1_000_000_000_000_u64);
    let mut directory = FakeDirectory::new(users(3), vec![]);
    directory.script("Users?startIndex=1&count=100", vec![answer(200, &first)]);
    assert_eq!(
        read_failure(&mut directory),
        "the Users page at startIndex 1: totalResults is 1000000000000, more than the 1000000 users one plan reads"
    );
    assert_eq!(directory.batches, [2], "no page after the first two");
    // The largest number there is, with no resources: a failure too, not an overflow.
    let mut directory = FakeDirectory::new(users(3), vec![]);
    directory.script(
        "Groups?startIndex=1&count=100",
        vec![answer(
            200,
            &json!({"totalResults": u64::MAX, "Resources": []}),
        )],
    );
    assert_eq!(
        read_failure(&mut directory),
        "the Groups page at startIndex 1: totalResults is 18446744073709551615, more than the 1000000 groups one plan reads"
    );
    assert_eq!(directory.batches, [2]);
    // One million exactly is read (its pages asked for): only more is refused.
    let mut first = FakeDirectory::page(&users(100), 1);
    first["totalResults"] = json!(1_000_000);
    let mut directory = FakeDirectory::new(users(150), vec![]);
    directory.script("Users?startIndex=1&count=100", vec![answer(200, &first)]);
    assert_eq!(
        read_failure(&mut directory),
        "the Users page at startIndex 101: totalResults is 150 where the first page said 1000000"
    );
}

#[test]
fn hostile_pages_are_read_failures_never_a_panic() {
    let raw = |bytes: &[u8]| {
        Ok(Response {
            status: 200,
            headers: Vec::new(),
            body: bytes.to_vec(),
        })
    };
    let cases: Vec<(Result<Response, SendError>, &str)> = vec![
        (
            raw(b"{\"totalResults\": 1, \"Resources\": [{\"id\": \"\xff\xfe\"}]}"),
            "not JSON",
        ),
        (raw(b"[1, 2]"), "the answer is not a SCIM list response"),
        (
            raw(b"{\"totalResults\": -1}"),
            "the answer has no usable totalResults",
        ),
        (raw(b"{\"totalResults\": 1e400}"), "not JSON"),
        (
            raw(b"{\"totalResults\": 2.5}"),
            "the answer has no usable totalResults",
        ),
        (
            raw(b"{\"totalResults\": 1, \"Resources\": {}}"),
            "\"Resources\" is not a list",
        ),
        (
            raw(b"{\"totalResults\": 2, \"Resources\": [7, \"u\"]}"),
            "is not usable",
        ),
        (
            raw(b"{\"totalResults\": 1, \"Resources\": [{\"id\": \"u1\", \"userName\": 5}]}"),
            "is not usable",
        ),
        (
            raw(b"{\"totalResults\": 1, \"Resources\": [{\"id\": \"u1\", \"active\": []}]}"),
            "is not usable",
        ),
    ];
    for (page, why) in cases {
        let mut directory = FakeDirectory::new(users(3), vec![]);
        directory.script("Users?startIndex=1&count=100", vec![page]);
        let message = read_failure(&mut directory);
        assert!(
            message.starts_with("the Users page at startIndex 1: ") && message.contains(why),
            "{message}"
        );
    }
    // A group whose members are not a list of ids, and odd but readable users.
    let mut directory = FakeDirectory::new(
        users(1),
        vec![json!({"id": "g1", "displayName": "G", "members": [{"value": 5}]})],
    );
    assert_eq!(
        read_failure(&mut directory),
        r#"the Groups page at startIndex 1: the group "g1" has members that are not usable"#
    );
    let odd = vec![json!({"id": "u1", "emails": 12, "externalId": {"a": 1}, "name": [1e300]})];
    let mut directory = FakeDirectory::new(odd, vec![]);
    let made = planned(
        &mut directory,
        args(&jsonl(&[simple_profile("p1@x.com")]), json!({})),
        json!({}),
    );
    assert_eq!(made.summary["directory_users"], 1);
    assert_eq!(made.summary["creates"], 1);
    assert_eq!(made.summary["deprovisions"], 1);
}

#[test]
fn unusable_arguments_and_instances_are_input_failures_and_send_nothing() {
    let cases = [
        (
            json!({"max_deprovision": "lots"}),
            json!({}),
            "Invalid max_deprovision argument: expected a count N or a share P% (such as 25 or 2.5%), got \"lots\"",
        ),
        (
            json!({}),
            json!({"url": null}),
            "Invalid configuration: missing required key \"url\"",
        ),
        (json!({}), json!({"mapper_out": "Nope"}), ""),
    ];
    for (extra, params, message) in cases {
        let mut directory = FakeDirectory::new(users(3), vec![]);
        let (entry_type, entry) = run(&mut directory, args("", extra), params);
        assert_eq!(entry_type, EntryType::Error);
        assert_eq!(entry["Contents"]["failure"], "input", "{entry}");
        if !message.is_empty() {
            assert_eq!(entry["Contents"]["message"], message);
        }
        assert!(directory.asked.is_empty());
    }
}

#[test]
fn a_member_change_is_one_job_per_patch_request_of_ids() {
    // Eng holds u1..u30. The desired state keeps u1..u10 in it, leaves u11..u30 out and puts
    // u31..u230 in: 200 additions and 20 removals, 220 ids, which iam-update-group sends as
    // PATCHes of at most 100 ids each (behaviour.md §8.2). One job per PATCH, so that the
    // chunks run side by side and each has its own result.
    let members: Vec<String> = (1..=30).map(|n| format!("u{n}")).collect();
    let members: Vec<&str> = members.iter().map(String::as_str).collect();
    let mut directory = FakeDirectory::new(users(230), vec![group("g1", "Eng", &members)]);
    let profiles: Vec<Value> = (1..=230)
        .map(|n| {
            let mut profile = simple_profile(&format!("p{n}@x.com"));
            if !(11..=30).contains(&n) {
                profile["groups"] = json!(["Eng"]);
            }
            profile
        })
        .collect();
    let extra = json!({"max_member_removals": "20"});
    let made = planned(&mut directory, args(&jsonl(&profiles), extra), json!({}));
    assert_eq!(made.summary["member_adds"], 200);
    assert_eq!(made.summary["member_removes"], 20);
    let ids = |from: usize, to: usize| -> Value {
        (from..=to)
            .map(|n| Value::String(format!("u{n}")))
            .collect()
    };
    let sent: Vec<(Value, Value, Value)> = made
        .jobs
        .iter()
        .map(|job| {
            assert_eq!(
                (job["command"].as_str(), job["phase"].as_u64()),
                (Some("iam-update-group"), Some(3))
            );
            assert_eq!(
                job["args"]["scim"],
                json!({"id": "g1", "displayName": "Eng"})
            );
            (
                job["id"].clone(),
                job["args"]["memberIdsToAdd"].clone(),
                job["args"]["memberIdsToDelete"].clone(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            (json!(format!("{PLAN_ID}-1")), ids(31, 130), Value::Null),
            (json!(format!("{PLAN_ID}-2")), ids(131, 230), Value::Null),
            (json!(format!("{PLAN_ID}-3")), Value::Null, ids(11, 30)),
        ]
    );
}
