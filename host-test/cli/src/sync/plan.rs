//! Making a plan (sync.md §8, contracts §2): the desired file read with its cap, the
//! component's `sync-plan` command run live with a budget for a whole directory, and the plan
//! file written byte for byte as the component made it. The host picks the plan's id (16
//! random lowercase hex digits) and its `created` time; everything else in the plan is the
//! component's.

use anyhow::{Context as _, Result, bail};
use serde_json::{Map, Value};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::instance::Instance;
use crate::scale::audit::rfc3339;
use iam_host::backend::{Http, Live, LiveOptions};
use iam_host::limits::Limits;
use iam_host::{EntryType, Host, Invocation, Outcome, files};

/// The component's command that plans.
pub const SYNC_PLAN: &str = "sync-plan";
/// The largest desired file read: 100,300 profiles are about 30 MB; the whole text goes into
/// the sandbox, which must also hold the directory.
pub const DESIRED_BYTES: u64 = 256 << 20;
/// How the desired file is named in messages.
pub const DESIRED_FILE: &str = "desired file";

/// The limits of one `sync-plan` command: reading a 100,000-user directory is about 1,000
/// user pages and 10 group pages (plus retries), holding it takes hundreds of MiB of guest
/// memory, and the read and the diff take seconds of CPU. A user command keeps its own small
/// limits (`Limits::default`).
pub fn plan_limits() -> Limits {
    Limits {
        memory_bytes: 2 << 30,
        cpu_millis: 300_000,
        max_requests: 20_000,
        wall_millis: 600_000,
        ..Limits::default()
    }
}

/// A host for `sync-plan`: one command at a time, with [`plan_limits`].
pub fn plan_host(component: Option<PathBuf>) -> Result<Arc<Host>> {
    crate::load_host(component, plan_limits(), 1).map(Arc::new)
}

/// What a plan is asked for (sync.md §8's options of `sync plan`).
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub desired: PathBuf,
    pub protect: Vec<String>,
    pub manage_groups: Vec<String>,
    pub on_missing: Option<String>,
    pub max_deprovision: Option<String>,
    pub max_member_removals: Option<String>,
    /// Test aids: the plan's id and creation time, fixed instead of chosen.
    pub plan_id: Option<String>,
    pub created: Option<String>,
    /// The most directory pages read at once (sync.md §8 `--concurrency`).
    pub pages_at_once: usize,
}

/// How planning ended.
pub enum Planned {
    /// A plan, blocked or not.
    Made {
        /// sync.md §8's summary, `blocked` included.
        summary: Value,
        /// The plan file's whole text, as the component wrote it.
        text: String,
        /// The summary table for people, then the conflicts and the block reasons.
        human: String,
    },
    /// No plan: `exit` 1 (the directory could not be read whole, or the command was
    /// stopped) or 2 (an unusable option or instance), and one line saying why.
    Failed { exit: u8, message: String },
}

impl Planned {
    /// The reasons a made plan is blocked (empty when it is not, or when no plan was made).
    pub fn blocked(&self) -> Vec<String> {
        match self {
            Planned::Made { summary, .. } => blocked_reasons(summary),
            Planned::Failed { .. } => Vec::new(),
        }
    }
}

/// The `blocked` reasons of a summary, as text.
pub fn blocked_reasons(summary: &Value) -> Vec<String> {
    summary
        .get("blocked")
        .and_then(Value::as_array)
        .map(|reasons| {
            reasons
                .iter()
                .map(|reason| match reason {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The changes a summary counts: a plan with none needs no apply (`sync run` stops there).
pub fn actions(summary: &Value) -> u64 {
    [
        "creates",
        "updates",
        "enables",
        "disables",
        "deprovisions",
        "group_creates",
        "member_adds",
        "member_removes",
    ]
    .iter()
    .filter_map(|key| summary.get(*key).and_then(Value::as_u64))
    .sum()
}

/// The desired file's format, from its name: `.csv` (any case) is CSV, anything else JSON
/// lines (sync.md §1).
pub fn desired_format(path: &Path) -> &'static str {
    match path.extension() {
        Some(extension) if extension.eq_ignore_ascii_case("csv") => "csv",
        _ => "jsonl",
    }
}

/// A new plan id: 16 random lowercase hex digits.
pub fn new_plan_id() -> Result<String> {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .context("cannot read /dev/urandom for the plan's id")?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Whether `--out` can take the plan, checked before anything is read or sent: a regular
/// file or nothing, never a link, a directory or a device, never the desired file (exit 2).
pub fn check_out_target(out: &Path, desired: &Path) -> Result<()> {
    check_output_target(out, "--out", "plan")?;
    if files::same_file(out, desired) {
        bail!("--out must not be the --desired file")
    }
    Ok(())
}

/// Whether the output file `path` of option `flag` (the `what` file: "plan", "results",
/// "audit") can be written, checked before anything is read or sent: a regular file or
/// nothing, never a symbolic link (only the file named is ever written), a directory or a
/// device (exit 2, one line naming the option).
pub fn check_output_target(path: &Path, flag: &str, what: &str) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            bail!(
                "{flag} {} is a symbolic link; give the {what} file's own path",
                path.display()
            )
        }
        Ok(meta) if !meta.is_file() => {
            bail!("{flag} {} is not a regular file", path.display())
        }
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let parent = path
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if parent.is_dir() {
                Ok(())
            } else {
                bail!(
                    "cannot write the {what} {}: {} is not a directory",
                    path.display(),
                    parent.display()
                )
            }
        }
        Err(error) => bail!("cannot write the {what} {}: {error}", path.display()),
    }
}

/// Write the plan file: the component's text, byte for byte, through a temporary file
/// renamed over `out`, so a reader never sees half a plan and a failed plan leaves the old
/// file as it was.
pub fn write_plan(out: &Path, text: &str) -> Result<()> {
    files::write_atomically(out, text.as_bytes(), true)
}

/// Read the desired file with its cap (only a regular file).
pub fn read_desired(path: &Path) -> Result<String> {
    files::read_capped_text(path, DESIRED_BYTES, DESIRED_FILE)
}

/// The invocation's arguments (contracts §2).
fn plan_args(
    instance_tenant: &str,
    options: &PlanOptions,
    desired_text: String,
) -> Result<Map<String, Value>> {
    let plan_id = match &options.plan_id {
        Some(id) => id.clone(),
        None => new_plan_id()?,
    };
    let created = options
        .created
        .clone()
        .unwrap_or_else(|| rfc3339(SystemTime::now(), false));
    let mut desired = Map::new();
    desired.insert("format".into(), desired_format(&options.desired).into());
    desired.insert("text".into(), Value::String(desired_text));
    let mut args = Map::new();
    args.insert("desired".into(), Value::Object(desired));
    args.insert("plan_id".into(), plan_id.into());
    args.insert("created".into(), created.into());
    args.insert("tenant".into(), instance_tenant.into());
    args.insert("protect".into(), options.protect.clone().into());
    args.insert("manage_groups".into(), options.manage_groups.clone().into());
    let optional = [
        ("on_missing", &options.on_missing),
        ("max_deprovision", &options.max_deprovision),
        ("max_member_removals", &options.max_member_removals),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            args.insert(key.into(), value.clone().into());
        }
    }
    Ok(args)
}

/// Run `sync-plan` for `instance` against its live directory.
pub async fn make_plan(
    host: &Host,
    instance: &Instance,
    options: &PlanOptions,
    desired_text: String,
) -> Result<Planned> {
    let invocation = Invocation {
        command: SYNC_PLAN.into(),
        params: instance.params.clone(),
        args: plan_args(&instance.tenant, options, desired_text)?,
    };
    let live = LiveOptions {
        max_in_flight: options.pages_at_once,
        ..LiveOptions::for_instance(
            &instance.params,
            Duration::from_millis(plan_limits().connect_timeout_millis),
        )
    };
    // The guest's log (each page it retries) stays unprinted: a plan ends with one line
    // saying how it went (sync.md §2), and its failure names the page and why.
    let report = host
        .run(&invocation, Http::Live(Box::new(Live::new(live))))
        .await;
    Ok(planned(report.outcome, report.stop.is_some()))
}

/// What the component's answer means (contracts §2).
fn planned(outcome: Outcome, stopped: bool) -> Planned {
    let (entry_type, entry_json) = match outcome {
        Outcome::Entry {
            entry_type,
            entry_json,
        } => (entry_type, entry_json),
        Outcome::ReplayFailed(why) => {
            return Planned::Failed {
                exit: 1,
                message: format!("the plan failed: {why}"),
            };
        }
    };
    let entry = serde_json::from_str::<Value>(&entry_json).unwrap_or(Value::Null);
    let contents = &entry["Contents"];
    match entry_type {
        EntryType::Note => match (&contents["summary"], &contents["plan"]) {
            (Value::Object(_), Value::String(text)) => Planned::Made {
                summary: contents["summary"].clone(),
                text: text.clone(),
                human: entry["HumanReadable"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            },
            _ => Planned::Failed {
                exit: 1,
                message: "the component answered sync-plan without a plan".into(),
            },
        },
        EntryType::Error => {
            let message = contents["message"]
                .as_str()
                .or_else(|| contents.as_str())
                .unwrap_or("the plan failed")
                .to_string();
            // "read", and a command the host stopped (its limits): no plan could be made from
            // what the directory gave. Anything else is the input's: an unusable option, or an
            // instance the component or the gate refused (a token too short to scrub).
            let exit = if contents["failure"] == "read" || stopped {
                1
            } else {
                2
            };
            Planned::Failed { exit, message }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_comes_from_the_extension() {
        assert_eq!(desired_format(Path::new("people.csv")), "csv");
        assert_eq!(desired_format(Path::new("PEOPLE.CSV")), "csv");
        assert_eq!(desired_format(Path::new("people.jsonl")), "jsonl");
        assert_eq!(desired_format(Path::new("people")), "jsonl");
        assert_eq!(desired_format(Path::new("people.csv.txt")), "jsonl");
    }

    #[test]
    fn a_plan_id_is_16_lowercase_hex_digits_and_new_each_time() {
        let (a, b) = (new_plan_id().expect("id"), new_plan_id().expect("id"));
        assert_eq!(a.len(), 16);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_ne!(a, b);
    }

    #[test]
    fn actions_count_every_change_but_not_what_stays() {
        let summary = serde_json::json!({"creates": 1, "updates": 2, "enables": 3, "disables": 4,
            "deprovisions": 5, "group_creates": 6, "member_adds": 7, "member_removes": 8,
            "deferred": 100, "unchanged": 100, "protected": 100, "conflicts": 100, "blocked": []});
        assert_eq!(actions(&summary), 36);
    }

    #[test]
    fn a_failure_is_exit_1_for_a_read_or_a_stop_and_2_for_the_input() {
        let failed = |contents: serde_json::Value, stopped: bool| {
            let entry = serde_json::json!({"Type": 4, "ContentsFormat": "json",
                "Contents": contents, "HumanReadable": "why"});
            let outcome = Outcome::Entry {
                entry_type: EntryType::Error,
                entry_json: entry.to_string(),
            };
            match planned(outcome, stopped) {
                Planned::Failed { exit, message } => (exit, message),
                Planned::Made { .. } => panic!("a failure made a plan"),
            }
        };
        let why = "why".to_string();
        let read = serde_json::json!({"failure": "read", "message": "why"});
        let input = serde_json::json!({"failure": "input", "message": "why"});
        assert_eq!(failed(read, false), (1, why.clone()));
        assert_eq!(failed(input, false), (2, why.clone()));
        // The gate's refusal of an instance is a text entry: the input's, exit 2.
        assert_eq!(failed(serde_json::json!("why"), false), (2, why.clone()));
        // A command the host stopped (a limit): no plan could be made, exit 1.
        assert_eq!(failed(serde_json::json!("why"), true), (1, why));
    }
}
