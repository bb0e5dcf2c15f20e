//! The plan's summary (sync.md §8): its counts and block reasons as JSON, in the spec's key
//! order, and as a markdown table for people, followed by the conflicts, the invalid lines
//! and the block reasons.

use serde_json::{Map, Value};

use crate::markdown;

/// The counts of a plan, and why it is blocked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub creates: u64,
    pub updates: u64,
    pub enables: u64,
    pub disables: u64,
    pub deprovisions: u64,
    pub group_creates: u64,
    pub member_adds: u64,
    pub member_removes: u64,
    pub deferred: u64,
    pub unchanged: u64,
    /// Directory users a `protect` glob matches.
    pub protected: u64,
    /// People in a conflict, and managed names two directory groups carry.
    pub conflicts: u64,
    pub invalid_lines: u64,
    pub directory_users: u64,
    pub directory_groups: u64,
    /// Valid desired profiles.
    pub desired: u64,
    pub blocked: Vec<String>,
}

impl Summary {
    /// The counts in sync.md §8's order, then `blocked`.
    fn counts(&self) -> [(&'static str, u64); 16] {
        [
            ("creates", self.creates),
            ("updates", self.updates),
            ("enables", self.enables),
            ("disables", self.disables),
            ("deprovisions", self.deprovisions),
            ("group_creates", self.group_creates),
            ("member_adds", self.member_adds),
            ("member_removes", self.member_removes),
            ("deferred", self.deferred),
            ("unchanged", self.unchanged),
            ("protected", self.protected),
            ("conflicts", self.conflicts),
            ("invalid_lines", self.invalid_lines),
            ("directory_users", self.directory_users),
            ("directory_groups", self.directory_groups),
            ("desired", self.desired),
        ]
    }

    /// The summary object of the header and the entry.
    pub fn to_value(&self) -> Value {
        let mut summary: Map<String, Value> = self
            .counts()
            .iter()
            .map(|(key, count)| (key.to_string(), Value::from(*count)))
            .collect();
        summary.insert("blocked".into(), Value::from(self.blocked.clone()));
        Value::Object(summary)
    }

    /// The markdown for people: the counts as a table, then the conflicts, the invalid lines
    /// and the block reasons, one per line (`sections`: title and lines, empty ones left out).
    pub fn markdown(&self, plan_id: &str, sections: &[(&str, Vec<String>)]) -> String {
        let counts = self.counts().map(|(key, count)| (key, Value::from(count)));
        let row: Vec<(&str, &Value)> = counts.iter().map(|(key, value)| (*key, value)).collect();
        let mut text = markdown::table(&format!("Sync plan {plan_id} (Atlassian IAM)"), &row);
        for (title, lines) in sections {
            if lines.is_empty() {
                continue;
            }
            text.push_str("\n### ");
            text.push_str(title);
            text.push('\n');
            for line in lines {
                text.push_str("- ");
                // One item a line, whatever the text holds.
                text.push_str(&line.replace(['\r', '\n'], " "));
                text.push('\n');
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_has_every_key_in_order_and_blocked_last() {
        let summary = Summary {
            creates: 1,
            deprovisions: 2,
            desired: 3,
            blocked: vec!["why".into()],
            ..Summary::default()
        };
        assert_eq!(
            crate::json::text(&summary.to_value()),
            r#"{"creates":1,"updates":0,"enables":0,"disables":0,"deprovisions":2,"group_creates":0,"member_adds":0,"member_removes":0,"deferred":0,"unchanged":0,"protected":0,"conflicts":0,"invalid_lines":0,"directory_users":0,"directory_groups":0,"desired":3,"blocked":["why"]}"#
        );
    }

    #[test]
    fn the_markdown_is_the_table_then_each_section_with_lines() {
        let summary = Summary {
            creates: 1,
            ..Summary::default()
        };
        let text = summary.markdown(
            "0123456789abcdef",
            &[
                ("Conflicts", vec!["line 2: a|b\nc".into()]),
                ("Blocked", vec![]),
            ],
        );
        assert_eq!(
            text,
            "### Sync plan 0123456789abcdef (Atlassian IAM)\n\
             |creates|updates|enables|disables|deprovisions|group_creates|member_adds|member_removes|deferred|unchanged|protected|conflicts|invalid_lines|directory_users|directory_groups|desired|\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n\
             | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |\n\
             \n### Conflicts\n- line 2: a|b c\n"
        );
    }
}
