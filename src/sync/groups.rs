//! Groups (sync.md §6). The managed groups are those a desired person names, plus the
//! `manage_groups` ones; no other group is changed, and none is ever deleted (a group keeps its
//! id). A managed name that two directory groups carry is a conflict, and that group is left
//! alone. A managed group missing from the directory is created (`iam-create-group`); a
//! present one gets its members added and removed by id (`iam-update-group`, PATCH).
//!
//! A group's desired members are the directory users matched to the people naming it.
//! Protected users, and users involved in a conflict, are never added or removed. A member
//! that is not a listed user is left as it is: the read cannot tell who it is. A person still
//! to be created cannot be added in the same plan, nor can anyone join a group the plan
//! creates: such a membership is deferred (counted), for the next plan.

use serde_json::{Value, json};
use std::collections::HashMap;

use super::directory::Directory;
use super::users::{Action, Job, Person};
use crate::groups::GroupCommand;
use crate::invocation::Command;
use crate::scim::group::MEMBERS_PER_REQUEST;

/// The commands the group jobs run.
const CREATE_GROUP: Command = Command::Group(GroupCommand::Create);
const UPDATE_GROUP: Command = Command::Group(GroupCommand::Update);

/// The managed group names, each once, in the order first named.
#[derive(Debug, Default)]
pub struct Names {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Names {
    /// The id of `name`, given it is managed.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// A managed name two or more directory groups carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConflict {
    pub name: u32,
    /// Their indexes in `Directory::groups`.
    pub groups: Vec<u32>,
}

/// The members to add to and remove from one directory group, as user indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberChange {
    pub name: u32,
    pub group: u32,
    pub adds: Vec<u32>,
    pub removes: Vec<u32>,
}

/// What the plan does to groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupPlan {
    /// Managed names to create, in name order.
    pub creates: Vec<u32>,
    pub changes: Vec<MemberChange>,
    /// Memberships left for a later plan.
    pub deferred: u64,
    pub conflicts: Vec<GroupConflict>,
    /// The current memberships of the managed groups found (what `max_member_removals`
    /// is a share of).
    pub memberships: u64,
}

/// Plan the managed groups. `fixed[user]`: the user is protected or involved in a conflict.
pub fn plan(names: &Names, people: &[Person], directory: &Directory, fixed: &[bool]) -> GroupPlan {
    // Who each managed name wants: matched users, and how many people still to be created.
    let mut wanted: Vec<Vec<u32>> = vec![Vec::new(); names.len()];
    let mut to_create: Vec<u64> = vec![0; names.len()];
    for person in people {
        match (person.action, person.matched_user()) {
            (Action::Create, _) => {
                for name in &person.groups {
                    to_create[*name as usize] += 1;
                }
            }
            (_, Some(user)) => {
                for name in &person.groups {
                    wanted[*name as usize].push(user);
                }
            }
            (_, None) => {}
        }
    }
    let mut by_name: HashMap<&str, Vec<u32>> = HashMap::new();
    for (at, group) in directory.groups.iter().enumerate() {
        if let Some(name) = &group.display_name {
            by_name.entry(name).or_default().push(at as u32);
        }
    }
    let mut plan = GroupPlan::default();
    for (name, mut wanted) in (0..names.len() as u32).zip(wanted) {
        let to_create = to_create[name as usize];
        match by_name.get(names.name(name)).map(Vec::as_slice) {
            None | Some([]) => {
                plan.creates.push(name);
                plan.deferred += to_create + wanted.len() as u64;
            }
            Some([group]) => {
                let found = &directory.groups[*group as usize];
                plan.memberships += found.membership_count;
                plan.deferred += to_create;
                wanted.sort_unstable();
                wanted.dedup();
                let current = &found.members;
                let adds: Vec<u32> = wanted
                    .iter()
                    .filter(|user| !fixed[**user as usize] && current.binary_search(user).is_err())
                    .copied()
                    .collect();
                let removes: Vec<u32> = current
                    .iter()
                    .filter(|user| !fixed[**user as usize] && wanted.binary_search(user).is_err())
                    .copied()
                    .collect();
                if !adds.is_empty() || !removes.is_empty() {
                    plan.changes.push(MemberChange {
                        name,
                        group: *group,
                        adds,
                        removes,
                    });
                }
            }
            Some(groups) => plan.conflicts.push(GroupConflict {
                name,
                groups: groups.to_vec(),
            }),
        }
    }
    plan
}

/// The `iam-create-group` job of a managed name.
pub fn create_job(name: &str) -> Job {
    Job {
        command: CREATE_GROUP.name(),
        args: json!({"scim": {"displayName": name}}),
        change: format!("create group {name}"),
    }
}

/// The `iam-update-group` jobs of a member change: one per PATCH the command would send (at
/// most 100 ids, additions first, as the command cuts them), so that a large change runs
/// side by side and each chunk has its own result.
pub fn update_jobs(change: &MemberChange, names: &Names, directory: &Directory) -> Vec<Job> {
    let group = &directory.groups[change.group as usize];
    let name = names.name(change.name);
    let ids: Vec<(bool, u32)> = change
        .adds
        .iter()
        .map(|user| (true, *user))
        .chain(change.removes.iter().map(|user| (false, *user)))
        .collect();
    ids.chunks(MEMBERS_PER_REQUEST)
        .map(|chunk| {
            let users = |adding: bool| chunk.iter().filter(move |(add, _)| *add == adding);
            let id_list = |adding: bool| -> Value {
                users(adding)
                    .map(|(_, user)| Value::String(directory.users[*user as usize].id.to_string()))
                    .collect()
            };
            let names_of = |adding: bool| -> Vec<&str> {
                users(adding)
                    .map(|(_, user)| directory.users[*user as usize].name())
                    .collect()
            };
            let mut args = serde_json::Map::new();
            args.insert("scim".into(), json!({"id": group.id, "displayName": name}));
            let mut change_text = format!("members of {name}:");
            for (adding, key, verb) in [
                (true, "memberIdsToAdd", "add"),
                (false, "memberIdsToDelete", "remove"),
            ] {
                let who = names_of(adding);
                if !who.is_empty() {
                    args.insert(key.into(), id_list(adding));
                    if !change_text.ends_with(':') {
                        change_text.push(';');
                    }
                    change_text.push_str(&format!(" {verb} {}", who.join(", ")));
                }
            }
            Job {
                command: UPDATE_GROUP.name(),
                args: Value::Object(args),
                change: change_text,
            }
        })
        .collect()
}
