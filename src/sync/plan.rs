//! The plan file's text (sync.md §8, contracts.md §2), made here so that every host writes
//! the same bytes: a header line `{"plan": {…}}`, then one job a line in the batch format,
//! `{"id", "tenant", "command", "args", "phase", "change"}`, each line ending in `\n`.
//! Job ids are `<plan id>-<n>`, n from 1 in plan order: phase by phase, and in a stable
//! order within each (desired lines, managed names, directory order).

use serde_json::{Value, json};

use super::summary::Summary;
use super::users::Job;
use crate::json;

/// The order in which jobs run: a phase starts when every job of the one before has its
/// result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// User creates, updates, enables and disables.
    Users = 1,
    GroupCreates = 2,
    MemberChanges = 3,
    Deprovisions = 4,
}

/// The job lines, numbered as they are added.
pub struct Jobs<'a> {
    plan_id: &'a str,
    tenant: &'a str,
    text: String,
    count: u64,
    last_phase: Phase,
}

impl<'a> Jobs<'a> {
    pub fn new(plan_id: &'a str, tenant: &'a str) -> Jobs<'a> {
        Jobs {
            plan_id,
            tenant,
            text: String::new(),
            count: 0,
            last_phase: Phase::Users,
        }
    }

    /// Add the next job; jobs come phase by phase.
    pub fn push(&mut self, phase: Phase, job: Job) {
        debug_assert!(phase >= self.last_phase, "jobs are added phase by phase");
        self.last_phase = phase;
        self.count += 1;
        let line = json!({
            "id": format!("{}-{}", self.plan_id, self.count),
            "tenant": self.tenant,
            "command": job.command,
            "args": job.args,
            "phase": phase as u8,
            "change": job.change,
        });
        json::push_value(&mut self.text, &line);
        self.text.push('\n');
    }

    /// The job lines.
    pub fn into_text(self) -> String {
        self.text
    }
}

/// What the header says besides the summary.
pub struct Header<'a> {
    pub id: &'a str,
    pub created: &'a str,
    pub tenant: &'a str,
    pub url: &'a str,
    pub directory_id: &'a str,
    /// `{"line", "userName", "ids"}` of each person in a conflict.
    pub conflicts: Vec<Value>,
    /// `{"displayName", "ids"}` of each managed name two directory groups carry.
    pub group_conflicts: Vec<Value>,
    /// `{"line", "reason"}` of each invalid desired line.
    pub invalid_lines: Vec<Value>,
}

/// The whole plan file: the header line, then the job lines.
pub fn plan_text(header: Header<'_>, summary: &Summary, jobs: Jobs<'_>) -> String {
    let header = json!({"plan": {
        "id": header.id,
        "created": header.created,
        "tenant": header.tenant,
        "url": header.url,
        "directory_id": header.directory_id,
        "summary": summary.to_value(),
        "blocked": summary.blocked,
        "conflicts": header.conflicts,
        "group_conflicts": header.group_conflicts,
        "invalid_lines": header.invalid_lines,
    }});
    let jobs = jobs.into_text();
    let mut text = String::with_capacity(jobs.len() + 1024);
    json::push_value(&mut text, &header);
    text.push('\n');
    text.push_str(&jobs);
    text
}
