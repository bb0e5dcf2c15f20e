//! What the plan does for each desired person and for each directory user nobody desires
//! (sync.md §4), as the job of an existing command:
//!
//! | situation | job |
//! | --- | --- |
//! | no directory user matches | `iam-create-user`, `allow-enable` true (false when `active` is false) |
//! | matched, inactive, desired active | `iam-update-user`, `allow-enable` true (an enable, whatever else differs) |
//! | matched, active, desired inactive | `iam-disable-user`, `disable-method` patch (only that) |
//! | matched, some carried attribute differs | `iam-update-user`, `allow-enable` false |
//! | matched and equal | none (unchanged) |
//! | not matched, in scope, active | deprovision: `iam-disable-user` with `disable-method` patch, or delete under `on_missing: delete`; nothing under `ignore` |
//!
//! One person gets at most one job. Every job for a matched user carries the user's SCIM `id`
//! in its `user-profile`, so the command finds the user by id whatever changed.

use serde_json::{Map, Value, json};

use super::compare;
use super::desired::DesiredProfile;
use super::directory::{Directory, DirectoryUser};
use crate::commands::IamCommand;
use crate::invocation::Command;

/// The commands the user jobs run.
const CREATE_USER: Command = Command::Iam(IamCommand::CreateUser);
const UPDATE_USER: Command = Command::Iam(IamCommand::UpdateUser);
const DISABLE_USER: Command = Command::Iam(IamCommand::DisableUser);

/// What the plan does for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Enable,
    Disable,
    Unchanged,
    /// Matched a protected user: no action.
    Protected,
    /// Matching was not clear (sync.md §3): no action.
    Conflict,
}

/// A job before it has its id and phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub command: &'static str,
    pub args: Value,
    /// What differs, for a person reading the plan.
    pub change: String,
}

/// A desired person and what the plan does for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub line: usize,
    pub user_name: Box<str>,
    /// The directory users the matching rules found.
    pub found: Vec<u32>,
    /// The managed groups it names (ids of `groups::Names`).
    pub groups: Vec<u32>,
    pub action: Action,
    /// The job of a create, update, enable or disable.
    pub job: Option<Job>,
}

impl Person {
    /// The person, the users its rules found, and the groups it names: its action and job.
    pub fn new(
        desired: DesiredProfile,
        found: Vec<u32>,
        groups: Vec<u32>,
        directory: &Directory,
        protected: &[bool],
    ) -> Person {
        let (action, job) = match found.as_slice() {
            [] => (Action::Create, Some(create_job(&desired))),
            [user] if protected[*user as usize] => (Action::Protected, None),
            [user] => matched(&desired, &directory.users[*user as usize]),
            _ => (Action::Conflict, None),
        };
        Person {
            line: desired.line,
            user_name: desired.user_name.into_boxed_str(),
            found,
            groups,
            action,
            job,
        }
    }

    /// Matching turned out not to be clear: no action.
    pub fn set_conflict(&mut self) {
        self.action = Action::Conflict;
        self.job = None;
    }

    /// The one directory user it stands for, when it acts on one (or leaves it unchanged).
    pub fn matched_user(&self) -> Option<u32> {
        match (self.action, self.found.as_slice()) {
            (Action::Update | Action::Enable | Action::Disable | Action::Unchanged, [user]) => {
                Some(*user)
            }
            _ => None,
        }
    }
}

fn create_job(desired: &DesiredProfile) -> Job {
    Job {
        command: CREATE_USER.name(),
        args: json!({"user-profile": desired.profile, "allow-enable": desired.active}),
        change: format!("create {}", desired.user_name),
    }
}

/// The action and job of a person matched to `user`, one job at most.
fn matched(desired: &DesiredProfile, user: &DirectoryUser) -> (Action, Option<Job>) {
    let attributes = user.attributes();
    let differences = compare::differences(&desired.body, &attributes);
    let profile = || with_id(&desired.profile, &user.id);
    let active_change = |to: bool| {
        let mut text = String::from("active: ");
        compare::push_shown(&mut text, attributes.get("active"));
        text.push_str(if to { " → true" } else { " → false" });
        text
    };
    if !desired.active && user.is_active() {
        let job = Job {
            command: DISABLE_USER.name(),
            args: json!({"user-profile": profile(), "disable-method": "patch"}),
            change: active_change(false),
        };
        return (Action::Disable, Some(job));
    }
    if desired.active && !user.is_active() {
        let mut change = active_change(true);
        if !differences.is_empty() {
            change.push_str("; ");
            change.push_str(&compare::change_text(&differences));
        }
        let job = Job {
            command: UPDATE_USER.name(),
            args: json!({"user-profile": profile(), "allow-enable": true}),
            change,
        };
        return (Action::Enable, Some(job));
    }
    if differences.is_empty() {
        return (Action::Unchanged, None);
    }
    // Active and desired active, or inactive and desired inactive: the update keeps it so.
    let job = Job {
        command: UPDATE_USER.name(),
        args: json!({"user-profile": profile(), "allow-enable": false}),
        change: compare::change_text(&differences),
    };
    (Action::Update, Some(job))
}

/// The profile with the matched user's SCIM `id`, by which the command finds the user.
fn with_id(profile: &Map<String, Value>, id: &str) -> Map<String, Value> {
    let mut profile = profile.clone();
    profile.insert("id".into(), Value::String(id.into()));
    profile
}

/// What becomes of a directory user that no desired person matches (sync.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMissing {
    /// `iam-disable-user` with `disable-method` patch: reversible (the default).
    Disable,
    /// `iam-disable-user` with `disable-method` delete: Atlassian cannot undo it.
    Delete,
    /// Nothing.
    Ignore,
}

/// The deprovision jobs, in directory order: each active user that nobody's rules found and
/// no glob protects. A user found by anyone (a conflict included) is never deprovisioned,
/// and one already inactive needs nothing.
pub fn deprovisions(
    directory: &Directory,
    found_by_someone: &[bool],
    protected: &[bool],
    on_missing: OnMissing,
) -> Vec<Job> {
    let (method, what) = match on_missing {
        OnMissing::Ignore => return Vec::new(),
        OnMissing::Disable => ("patch", "active: true → false"),
        OnMissing::Delete => ("delete", "deleted"),
    };
    directory
        .users
        .iter()
        .enumerate()
        .filter(|(at, user)| !found_by_someone[*at] && !protected[*at] && user.is_active())
        .map(|(_, user)| Job {
            command: DISABLE_USER.name(),
            args: json!({"user-profile": {"id": user.id}, "disable-method": method}),
            change: format!("{} is not in the desired state: {what}", user.name()),
        })
        .collect()
}
