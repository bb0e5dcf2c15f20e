//! The fixture directory on a real SCIM server: tests/sync/directory.json's users and groups
//! POSTed in order (the server picks the ids, kept here by userName and displayName), the
//! server's own state read back with direct requests (never through the host), and the
//! `iam-host sync` command line.

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::scim_server::{DIRECTORY, ScimServer};
use crate::support::CliOutput;
use crate::support::hosts;
use iam_host_cli::artifact;

/// The plan id and time the tests pin (the hosts' hidden `--plan-id` and `--created`).
pub const PLAN_ID: &str = "0123456789abcdef";
pub const CREATED: &str = "2024-05-01T12:00:00Z";
/// The jobs' tenant of a config without `instance_name` (sync.md §8).
pub const DEFAULT_TENANT: &str = "Atlassian IAM_instance_1";

/// A fixture file of tests/sync/.
pub fn fixture(name: &str) -> PathBuf {
    artifact::workspace_root().join("tests/sync").join(name)
}

/// A seeded server, the ids it gave, and a config for it.
pub struct Directory {
    pub server: ScimServer,
    /// userName → id, as seeded.
    pub users: BTreeMap<String, String>,
    /// displayName → id, as seeded.
    pub groups: BTreeMap<String, String>,
    /// `config.json` of the instance (no `instance_name`).
    pub config: PathBuf,
}

impl Directory {
    /// A fresh server holding tests/sync/directory.json.
    pub fn seeded() -> Directory {
        let server = ScimServer::start();
        let seed: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture("directory.json")).expect("read directory.json"),
        )
        .expect("directory.json is JSON");
        let mut users = BTreeMap::new();
        for user in seed["users"].as_array().expect("users") {
            let (status, created) = server.direct("POST", "/Users", Some(user));
            assert_eq!(status, 201, "seeding {user}: {created}");
            users.insert(
                user["userName"].as_str().expect("userName").to_string(),
                created["id"].as_str().expect("id").to_string(),
            );
        }
        let mut groups = BTreeMap::new();
        for group in seed["groups"].as_array().expect("groups") {
            let members: Vec<Value> = group["members"]
                .as_array()
                .expect("members")
                .iter()
                .map(|name| json!({"value": users[name.as_str().expect("a userName")]}))
                .collect();
            let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": group["displayName"], "members": members});
            let (status, created) = server.direct("POST", "/Groups", Some(&body));
            assert_eq!(status, 201, "seeding {body}: {created}");
            groups.insert(
                group["displayName"]
                    .as_str()
                    .expect("displayName")
                    .to_string(),
                created["id"].as_str().expect("id").to_string(),
            );
        }
        let config = server.dir.join("config.json");
        let params =
            json!({"url": server.url, "access_token": server.token, "directory_id": DIRECTORY});
        std::fs::write(&config, params.to_string()).expect("write the config");
        Directory {
            server,
            users,
            groups,
            config,
        }
    }

    /// A path in the test's scratch folder (removed with the server).
    pub fn path(&self, name: &str) -> PathBuf {
        self.server.dir.join(name)
    }

    pub fn id(&self, user_name: &str) -> &str {
        &self.users[user_name]
    }

    /// Every user the server holds, by userName.
    pub fn all_users(&self) -> BTreeMap<String, Value> {
        let (status, list) = self.server.direct("GET", "/Users?count=1000", None);
        assert_eq!(status, 200, "{list}");
        list["Resources"]
            .as_array()
            .expect("Resources")
            .iter()
            .map(|user| {
                (
                    user["userName"].as_str().expect("userName").to_string(),
                    user.clone(),
                )
            })
            .collect()
    }

    /// Every group the server holds, by displayName.
    pub fn all_groups(&self) -> BTreeMap<String, Value> {
        let (status, list) = self.server.direct("GET", "/Groups?count=1000", None);
        assert_eq!(status, 200, "{list}");
        list["Resources"]
            .as_array()
            .expect("Resources")
            .iter()
            .map(|group| {
                (
                    group["displayName"]
                        .as_str()
                        .expect("displayName")
                        .to_string(),
                    group.clone(),
                )
            })
            .collect()
    }

    /// The userNames of a group's members.
    pub fn members(&self, group: &str) -> BTreeSet<String> {
        let by_id: BTreeMap<String, String> = self
            .all_users()
            .into_iter()
            .map(|(name, user)| (user["id"].as_str().expect("id").to_string(), name))
            .collect();
        self.all_groups()[group]["members"]
            .as_array()
            .map(|members| {
                members
                    .iter()
                    .map(|member| by_id[member["value"].as_str().expect("value")].clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The requests the server has logged so far (method and path, one line each).
    pub fn logged_requests(&self) -> Vec<String> {
        self.server
            .log_text()
            .lines()
            .filter(|line| line.contains(" HTTP/1."))
            .map(str::to_string)
            .collect()
    }

    /// `iam-host sync plan` of `desired` for this instance, pinned id and time, with `more`.
    pub fn plan(&self, desired: &Path, out: &Path, more: &[&str]) -> CliOutput {
        let mut args = vec![
            "plan".to_string(),
            "--config".into(),
            self.config.display().to_string(),
            "--desired".into(),
            desired.display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "--plan-id".into(),
            PLAN_ID.into(),
            "--created".into(),
            CREATED.into(),
        ];
        args.extend(more.iter().map(|word| word.to_string()));
        sync(&args)
    }

    /// `iam-host sync apply` of `plan` for this instance (config `config`), with `more`.
    pub fn apply(&self, config: &Path, plan: &Path, output: &Path, more: &[&str]) -> CliOutput {
        let mut args = vec![
            "apply".to_string(),
            "--config".into(),
            config.display().to_string(),
            "--plan".into(),
            plan.display().to_string(),
            "--output".into(),
            output.display().to_string(),
        ];
        args.extend(more.iter().map(|word| word.to_string()));
        sync(&args)
    }
}

/// A host with a `sync` command: `iam-host` (plan, apply, run) and the Python host (plan
/// only). The Node host has none (README says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncHost {
    IamHost,
    Python,
}

/// The hosts that have `sync plan`: a rule of planning holds under each.
pub const PLAN_HOSTS: [SyncHost; 2] = [SyncHost::IamHost, SyncHost::Python];

impl SyncHost {
    /// `sync <args>` under this host, over its component (the connector for iam-host, the
    /// gated component for Python), not yet run.
    pub fn command<S: AsRef<str>>(self, args: &[S]) -> Command {
        let mut words = vec!["sync"];
        words.extend(args.iter().map(AsRef::as_ref));
        match self {
            SyncHost::IamHost => hosts::iam_host(&words),
            SyncHost::Python => hosts::python_host(&words),
        }
    }

    /// `sync <args>` under this host, run to its end.
    pub fn sync<S: AsRef<str>>(self, args: &[S]) -> CliOutput {
        let output = self
            .command(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {self:?}: {e}"));
        CliOutput {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// `iam-host sync <args> --component <the built connector>`.
pub fn sync<S: AsRef<str>>(args: &[S]) -> CliOutput {
    SyncHost::IamHost.sync(args)
}

/// The last line of stdout as JSON (`--json`'s summary).
pub fn last_json_line(output: &CliOutput) -> Value {
    let line = output.stdout.trim_end().lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("the last stdout line is not JSON ({e}): {output:?}"))
}

/// A plan file: its header (the object under "plan") and its job lines.
pub fn read_plan(path: &Path) -> (Value, Vec<Value>) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read the plan {}: {e}", path.display()));
    assert!(text.ends_with('\n'), "every plan line ends with a newline");
    let mut lines = text.lines().map(|line| {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    });
    let header = lines.next().expect("a header line");
    (header["plan"].clone(), lines.collect())
}

/// A result file's lines by id; fails on an id given twice.
pub fn results_by_id(path: &Path) -> BTreeMap<String, Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut by_id = BTreeMap::new();
    for line in text.lines() {
        let value: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let id = value["id"].as_str().expect("an id").to_string();
        assert!(
            by_id.insert(id.clone(), value).is_none(),
            "two result lines for {id}"
        );
    }
    by_id
}

/// A summary with every count 0 but those given, and `blocked` empty (sync.md §8's keys).
pub fn summary(counts: &[(&str, u64)]) -> Value {
    let mut summary = json!({"creates": 0, "updates": 0, "enables": 0, "disables": 0,
        "deprovisions": 0, "group_creates": 0, "member_adds": 0, "member_removes": 0,
        "deferred": 0, "unchanged": 0, "protected": 0, "conflicts": 0, "invalid_lines": 0,
        "directory_users": 0, "directory_groups": 0, "desired": 0, "blocked": []});
    for (key, count) in counts {
        assert!(summary.get(*key).is_some(), "{key} is not a summary key");
        summary[*key] = json!(count);
    }
    summary
}

/// An argument that may be a boolean or its text (`allow-enable`), as a boolean.
pub fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) => Some(text.eq_ignore_ascii_case("true")),
        _ => None,
    }
}
