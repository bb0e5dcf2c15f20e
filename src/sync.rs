//! `sync-plan` (sync.md, contracts.md §2): read the whole directory, compare it with a
//! desired state, and make the plan that would bring the directory there, as the text of a
//! plan file whose job lines are the existing commands. The rules live here so every host
//! plans alike; hosts only carry the requests and write the text.
//!
//! The steps, one module each:
//! - [`options`]: the arguments, checked before any request;
//! - [`directory`]: the paged read of users and groups, and the partial-read rules (§2);
//! - [`desired`]: the desired profiles (JSONL or CSV), each mapped as iam-create-user maps it;
//! - [`matching`]: which directory user each person is, and the conflicts (§3);
//! - [`compare`] and [`users`]: what differs, and each person's one job (§4);
//! - [`scope`]: the `protect` globs (§5); [`groups`]: the managed groups (§6);
//! - [`safety`]: the limits and the other reasons a plan is blocked (§7);
//! - [`plan`] and [`summary`]: the plan file's text, its summary and the markdown (§8).

pub mod compare;
pub mod desired;
pub mod directory;
pub mod groups;
pub mod matching;
pub mod options;
pub mod plan;
pub mod safety;
pub mod scope;
pub mod summary;
pub mod users;

#[cfg(test)]
mod tests;

use serde_json::{Map, Value, json};

use crate::commands::Mappers;
use crate::config::Config;
use crate::invocation::{EntryType, Outcome};
use crate::json;
use crate::scim::ScimClient;
use crate::transport::Transport;
use directory::Directory;
use options::Options;
use plan::{Header, Jobs, Phase};
use summary::Summary;
use users::{Action, Person};

/// Why no plan was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoPlan {
    /// An unusable argument or instance: the host exits 2.
    Input(String),
    /// The directory could not be read whole: the host exits 1.
    Read(String),
}

/// A plan made (blocked or not).
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub summary: Summary,
    /// The plan file's whole text.
    pub text: String,
    pub markdown: String,
}

/// Run `sync-plan` on a validated instance with its `args`: the planned entry, or the failed
/// one (contracts.md §2).
pub fn run<T: Transport>(
    config: &Config,
    mappers: &Mappers,
    args: &Map<String, Value>,
    transport: &mut T,
) -> Outcome {
    match make_plan(config, mappers, args, transport) {
        Ok(planned) => Outcome {
            entry_type: EntryType::Note,
            entry_json: json::text(&json!({
                "Type": 1,
                "ContentsFormat": "json",
                "Contents": {"summary": planned.summary.to_value(), "plan": planned.text},
                "HumanReadable": planned.markdown,
            })),
        },
        Err(NoPlan::Input(message)) => input_failure(&message),
        Err(NoPlan::Read(message)) => failure("read", &message),
    }
}

/// The failed entry of an unusable instance or argument.
pub fn input_failure(message: &str) -> Outcome {
    failure("input", message)
}

/// The failed entry: `failure` is "input" or "read".
fn failure(failure: &str, message: &str) -> Outcome {
    // One line, whatever a server put into it.
    let message = message.replace(['\r', '\n'], " ");
    Outcome {
        entry_type: EntryType::Error,
        entry_json: json::text(&json!({
            "Type": 4,
            "ContentsFormat": "json",
            "Contents": {"failure": failure, "message": message},
            "HumanReadable": message,
        })),
    }
}

/// Check the arguments, read the directory, and plan.
pub fn make_plan<T: Transport>(
    config: &Config,
    mappers: &Mappers,
    args: &Map<String, Value>,
    transport: &mut T,
) -> Result<Planned, NoPlan> {
    let options = Options::parse(args, &config.instance_name).map_err(NoPlan::Input)?;
    let mut scim = ScimClient::new(
        transport,
        &config.url,
        &config.directory_id,
        &config.credential,
    );
    let directory = directory::read(&mut scim).map_err(|why| {
        NoPlan::Read(format!(
            "The directory could not be read whole, so no plan was made: {why}"
        ))
    })?;
    Ok(plan(config, mappers, &options, &directory, transport))
}

/// The plan of `options`' desired state against the directory as read (`transport` maps
/// profiles when the platform's mapper is the instance's).
pub fn plan<T: Transport>(
    config: &Config,
    mappers: &Mappers,
    options: &Options<'_>,
    directory: &Directory,
    transport: &mut T,
) -> Planned {
    let users = &directory.users;
    let protected = scope::protected(users, &options.protect);
    let index = matching::Index::new(users);
    let mut names = groups::Names::default();
    let mut people: Vec<Person> = Vec::new();
    let mut invalid_lines = Vec::new();
    let outgoing = mappers.outgoing.as_ref();
    for item in desired::read(options.format, options.text, outgoing, transport) {
        match item {
            Ok(desired) => {
                let found = index.find(&desired.body);
                let groups = desired
                    .groups
                    .iter()
                    .map(|name| names.intern(name))
                    .collect();
                people.push(Person::new(desired, found, groups, directory, &protected));
            }
            Err(invalid) => invalid_lines.push(invalid),
        }
    }
    for name in &options.manage_groups {
        names.intern(name);
    }

    // Conflicts, and the users nobody may touch or deprovision.
    let conflicted =
        matching::conflicts(people.iter().map(|p| (p.found.as_slice(), &*p.user_name)));
    let mut found_by_someone = vec![false; users.len()];
    let mut fixed = protected.clone();
    for (person, conflicted) in people.iter_mut().zip(conflicted) {
        for user in &person.found {
            found_by_someone[*user as usize] = true;
            if conflicted {
                fixed[*user as usize] = true;
            }
        }
        if conflicted {
            person.set_conflict();
        }
    }
    let group_plan = groups::plan(&names, &people, directory, &fixed);
    let deprovisions =
        users::deprovisions(directory, &found_by_someone, &protected, options.on_missing);

    let count = |action: Action| people.iter().filter(|p| p.action == action).count() as u64;
    let mut summary = Summary {
        creates: count(Action::Create),
        updates: count(Action::Update),
        enables: count(Action::Enable),
        disables: count(Action::Disable),
        deprovisions: deprovisions.len() as u64,
        group_creates: group_plan.creates.len() as u64,
        member_adds: group_plan.changes.iter().map(|c| c.adds.len() as u64).sum(),
        member_removes: group_plan
            .changes
            .iter()
            .map(|c| c.removes.len() as u64)
            .sum(),
        deferred: group_plan.deferred,
        unchanged: count(Action::Unchanged),
        protected: protected.iter().filter(|p| **p).count() as u64,
        conflicts: count(Action::Conflict) + group_plan.conflicts.len() as u64,
        invalid_lines: invalid_lines.len() as u64,
        directory_users: users.len() as u64,
        directory_groups: directory.groups.len() as u64,
        desired: people.len() as u64,
        blocked: Vec::new(),
    };
    let exposure = safety::Exposure {
        deprovisions: summary.deprovisions,
        active_unprotected: users
            .iter()
            .zip(&protected)
            .filter(|(user, protected)| user.is_active() && !**protected)
            .count() as u64,
        member_removals: summary.member_removes,
        memberships: group_plan.memberships,
        desired: summary.desired,
        invalid_lines: summary.invalid_lines,
    };
    summary.blocked = safety::block_reasons(
        exposure,
        options.max_deprovision,
        options.max_member_removals,
    );

    // The jobs, phase by phase.
    let mut jobs = Jobs::new(options.plan_id, &options.tenant);
    // (line, userName, the ids the rules found) of each person in a conflict.
    let conflicts: Vec<(usize, Box<str>, Vec<&str>)> = people
        .iter()
        .filter(|p| p.action == Action::Conflict)
        .map(|p| {
            let ids = p.found.iter().map(|u| &*users[*u as usize].id).collect();
            (p.line, p.user_name.clone(), ids)
        })
        .collect();
    for person in people {
        if let Some(job) = person.job {
            jobs.push(Phase::Users, job);
        }
    }
    for name in &group_plan.creates {
        jobs.push(Phase::GroupCreates, groups::create_job(names.name(*name)));
    }
    for change in &group_plan.changes {
        for job in groups::update_jobs(change, &names, directory) {
            jobs.push(Phase::MemberChanges, job);
        }
    }
    for job in deprovisions {
        jobs.push(Phase::Deprovisions, job);
    }

    // (displayName, the ids of the groups that carry it) of each managed name in a conflict.
    let group_conflicts: Vec<(&str, Vec<&str>)> = group_plan
        .conflicts
        .iter()
        .map(|conflict| {
            let ids = conflict
                .groups
                .iter()
                .map(|g| &*directory.groups[*g as usize].id)
                .collect();
            (names.name(conflict.name), ids)
        })
        .collect();
    let sections = [
        (
            "Conflicts",
            conflicts
                .iter()
                .map(|(line, user_name, ids)| {
                    format!("line {line}: {user_name} (ids: {})", ids.join(", "))
                })
                .chain(group_conflicts.iter().map(|(name, ids)| {
                    format!(
                        "group {name}: carried by {} groups (ids: {})",
                        ids.len(),
                        ids.join(", ")
                    )
                }))
                .collect(),
        ),
        (
            "Invalid lines",
            invalid_lines
                .iter()
                .map(|invalid| format!("line {}: {}", invalid.line, invalid.reason))
                .collect(),
        ),
        ("Blocked", summary.blocked.clone()),
    ];
    let markdown = summary.markdown(options.plan_id, &sections);
    let header = Header {
        id: options.plan_id,
        created: options.created,
        tenant: &options.tenant,
        url: &config.url,
        directory_id: &config.directory_id,
        conflicts: conflicts
            .iter()
            .map(|(line, user_name, ids)| json!({"line": line, "userName": user_name, "ids": ids}))
            .collect(),
        group_conflicts: group_conflicts
            .iter()
            .map(|(name, ids)| json!({"displayName": name, "ids": ids}))
            .collect(),
        invalid_lines: invalid_lines
            .iter()
            .map(|invalid| json!({"line": invalid.line, "reason": invalid.reason}))
            .collect(),
    };
    let text = plan::plan_text(header, &summary, jobs);
    Planned {
        summary,
        text,
        markdown,
    }
}
