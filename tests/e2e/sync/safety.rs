//! What keeps a sync safe (sync.md §5, §7, §8): a blocked plan is written but not applied
//! without --force (nothing sent), a plan for another directory is refused before any request,
//! deprovisioning deletes only under --on-missing delete, and an apply killed with SIGKILL
//! resumes from its results file, phase by phase, each job done once, every request it sent in
//! the audit file without the token or a body.

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::directory::{Directory, PLAN_ID, fixture, last_json_line, read_plan, results_by_id};
use crate::scim_server::DIRECTORY;
use crate::support::component;

const PROTECT: &str = "ADMIN@*";

fn one_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.trim_end().lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr: {stderr:?}");
    lines[0]
}

#[test]
fn an_invalid_line_blocks_the_plan_and_apply_sends_nothing_without_force() {
    let directory = Directory::seeded();
    let desired = directory.path("desired.jsonl");
    let mut text = std::fs::read_to_string(fixture("desired.jsonl")).expect("read");
    text.push_str("this line is not JSON\n");
    std::fs::write(&desired, text).expect("write");
    let plan = directory.path("plan.jsonl");
    let planned = directory.plan(&desired, &plan, &["--protect", PROTECT, "--json"]);
    assert_eq!(planned.code, 4, "blocked: {planned:?}");
    assert!(one_line(&planned.stderr).contains("blocked"), "{planned:?}");
    let summary = last_json_line(&planned);
    assert_eq!(summary["invalid_lines"], 1);
    assert!(!summary["blocked"].as_array().expect("blocked").is_empty());
    let (header, jobs) = read_plan(&plan);
    assert_eq!(
        header["blocked"], summary["blocked"],
        "the plan is written with its reasons"
    );
    assert_eq!(header["invalid_lines"][0]["line"], 9);

    let results = directory.path("results.jsonl");
    let before = directory.logged_requests().len();
    let refused = directory.apply(&directory.config, &plan, &results, &[]);
    assert_eq!(refused.code, 4, "{refused:?}");
    assert!(one_line(&refused.stderr).contains("--force"), "{refused:?}");
    assert_eq!(directory.logged_requests().len(), before, "nothing sent");
    assert!(!results.exists(), "nothing written");

    let forced = directory.apply(&directory.config, &plan, &results, &["--force"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    assert_eq!(results_by_id(&results).len(), jobs.len());
    assert!(directory.all_users().contains_key("henry@example.com"));
}

#[test]
fn deprovisions_past_the_limit_and_an_empty_desired_state_block_the_plan() {
    let directory = Directory::seeded();
    let plan = directory.path("plan.jsonl");
    // Only alice stays: the other 7 active unprotected users would go; 50 % of the 8 is 4.
    let alice = directory.path("alice.jsonl");
    let first = std::fs::read_to_string(fixture("desired.jsonl")).expect("read");
    std::fs::write(
        &alice,
        first.lines().next().expect("alice").to_string() + "\n",
    )
    .expect("write");
    let planned = directory.plan(
        &alice,
        &plan,
        &["--protect", PROTECT, "--json", "--max-deprovision", "50%"],
    );
    assert_eq!(planned.code, 4, "{planned:?}");
    let summary = last_json_line(&planned);
    assert_eq!(summary["deprovisions"], 7, "{summary}");
    assert_eq!(read_plan(&plan).0["blocked"], summary["blocked"]);
    // The same with the default limit (10 % of 8, but never fewer than 10): not blocked.
    let allowed = directory.plan(&alice, &plan, &["--protect", PROTECT, "--json"]);
    assert_eq!(allowed.code, 0, "{allowed:?}");
    assert_eq!(last_json_line(&allowed)["blocked"], json!([]));

    let empty = directory.path("empty.jsonl");
    std::fs::write(&empty, "\n").expect("write");
    let planned = directory.plan(&empty, &plan, &["--protect", PROTECT, "--json"]);
    assert_eq!(
        planned.code, 4,
        "an empty desired state blocks: {planned:?}"
    );
    assert_eq!(last_json_line(&planned)["desired"], 0);
    assert!(
        directory
            .logged_requests()
            .iter()
            .all(|line| !line.contains("\"PATCH ")
                && !line.contains("\"DELETE ")
                && !line.contains("\"PUT "))
    );
}

#[test]
fn a_plan_for_another_directory_is_refused_before_any_request() {
    let directory = Directory::seeded();
    let plan = directory.path("plan.jsonl");
    let planned = directory.plan(&fixture("desired.jsonl"), &plan, &["--protect", PROTECT]);
    assert_eq!(planned.code, 0, "{planned:?}");
    let results = directory.path("results.jsonl");
    let other_directory = directory.path("other-directory.json");
    std::fs::write(&other_directory, json!({"url": directory.server.url, "access_token": directory.server.token, "directory_id": "another-directory"}).to_string()).expect("write");
    let other_url = directory.path("other-url.json");
    std::fs::write(&other_url, json!({"url": "http://127.0.0.1:9", "access_token": directory.server.token, "directory_id": DIRECTORY}).to_string()).expect("write");
    let before = directory.logged_requests().len();
    for config in [&other_directory, &other_url] {
        let refused = directory.apply(config, &plan, &results, &["--force"]);
        assert_eq!(refused.code, 2, "{refused:?}");
        assert!(
            one_line(&refused.stderr).contains("another-directory")
                || refused.stderr.contains("127.0.0.1:9"),
            "{refused:?}"
        );
        assert!(!results.exists());
    }
    assert_eq!(directory.logged_requests().len(), before, "nothing sent");
}

#[test]
fn deprovisioning_deletes_only_under_on_missing_delete() {
    let directory = Directory::seeded();
    let plan = directory.path("plan.jsonl");
    let planned = directory.plan(
        &fixture("desired.jsonl"),
        &plan,
        &["--protect", PROTECT, "--on-missing", "delete"],
    );
    assert_eq!(planned.code, 0, "{planned:?}");
    let (_, jobs) = read_plan(&plan);
    let disables: BTreeMap<&str, &Value> = jobs
        .iter()
        .filter(|job| job["command"] == "iam-disable-user")
        .map(|job| {
            (
                job["args"]["user-profile"]["id"].as_str().expect("an id"),
                job,
            )
        })
        .collect();
    assert_eq!(
        disables[directory.id("frank@example.com")]["args"]["disable-method"],
        "delete"
    );
    assert_eq!(
        disables[directory.id("erin@example.com")]["args"]["disable-method"],
        "patch",
        "a desired active:false is never a delete"
    );
    let applied = directory.apply(
        &directory.config,
        &plan,
        &directory.path("results.jsonl"),
        &[],
    );
    assert_eq!(applied.code, 0, "{applied:?}");
    assert!(
        directory
            .server
            .user(directory.id("frank@example.com"))
            .is_none(),
        "frank deleted: {:#?}\n{}",
        results_by_id(&directory.path("results.jsonl")),
        directory.server.log_text()
    );
    assert_eq!(
        directory
            .server
            .user(directory.id("erin@example.com"))
            .expect("erin stays")["active"],
        false
    );
    assert!(
        directory
            .server
            .user(directory.id("admin@example.com"))
            .is_some(),
        "protected"
    );
}

/// A running `iam-host sync apply`, killed by PID.
struct Apply(std::process::Child);

impl Apply {
    fn kill(&mut self) {
        let status = Command::new("kill")
            .arg("-KILL")
            .arg(self.0.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
        self.0.wait().ok();
    }
}

impl Drop for Apply {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

fn complete_lines(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.matches('\n').count()
}

#[test]
fn an_apply_killed_with_sigkill_resumes_each_job_once_in_phase_order_and_audits_every_request() {
    let directory = Directory::seeded();
    // The fixture and 30 new people: 35 user jobs in phase 1, then the other phases.
    let desired = directory.path("desired.jsonl");
    let mut text = std::fs::read_to_string(fixture("desired.jsonl")).expect("read");
    for n in 0..30 {
        let name = format!("new-{n}@example.com");
        text.push_str(&json!({"username": name, "email": name, "employeeid": format!("N{n}"), "givenname": "New", "surname": format!("Person {n}")}).to_string());
        text.push('\n');
    }
    std::fs::write(&desired, text).expect("write");
    let plan = directory.path("plan.jsonl");
    let planned = directory.plan(&desired, &plan, &["--protect", PROTECT]);
    assert_eq!(planned.code, 0, "{planned:?}");
    let (_, jobs) = read_plan(&plan);
    let phase_of: BTreeMap<String, u64> = jobs
        .iter()
        .map(|job| {
            (
                job["id"].as_str().expect("id").to_string(),
                job["phase"].as_u64().expect("phase"),
            )
        })
        .collect();

    let (results, audit) = (
        directory.path("results.jsonl"),
        directory.path("audit.jsonl"),
    );
    let args = |_: ()| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_iam-host"));
        command
            .args(["sync", "apply", "--config"])
            .arg(&directory.config)
            .arg("--plan")
            .arg(&plan)
            .arg("--output")
            .arg(&results)
            .arg("--audit")
            .arg(&audit)
            .args(["--concurrency", "1", "--component"])
            .arg(component())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    };
    let mut first = Apply(args(()).spawn().expect("start the apply"));
    let deadline = Instant::now() + Duration::from_secs(120);
    while complete_lines(&results) < 6 {
        assert!(Instant::now() < deadline, "the apply never wrote 6 results");
        std::thread::sleep(Duration::from_millis(2));
    }
    first.kill();
    let done_before: BTreeSet<String> = results_by_id(&results).into_keys().collect();
    assert!(done_before.len() < jobs.len(), "killed before the end");
    let lookup = |log: &str, id: &str| -> usize {
        // Each user job looks its user up by its userName (or by id): its own lines in the log.
        let job = jobs.iter().find(|job| job["id"] == id).expect("a job");
        let name = job["args"]["user-profile"]["username"]
            .as_str()
            .unwrap_or("")
            .replace('@', "%40");
        log.matches(&format!("%22{name}%22")).count()
    };
    let log_before = directory.server.settled_log_text();
    let counted_before: BTreeMap<String, usize> = done_before
        .iter()
        .filter(|id| phase_of[*id] == 1)
        .map(|id| (id.clone(), lookup(&log_before, id)))
        .collect();

    let second = args(()).output().expect("run the apply again");
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let by_id = results_by_id(&results);
    assert_eq!(
        by_id.keys().cloned().collect::<BTreeSet<_>>(),
        phase_of.keys().cloned().collect::<BTreeSet<_>>(),
        "one result per job"
    );
    assert!(
        by_id.values().all(|result| result["exit"] == 0),
        "{by_id:#?}"
    );
    let log_after = directory.server.settled_log_text();
    for (id, count) in &counted_before {
        assert_eq!(
            lookup(&log_after, id),
            *count,
            "{id} was done before the kill and not run again"
        );
    }
    // Phase by phase: no result of a phase before every result of the phase before it.
    let order: Vec<u64> = std::fs::read_to_string(&results)
        .expect("results")
        .lines()
        .map(|line| {
            phase_of[serde_json::from_str::<Value>(line).expect("JSON")["id"]
                .as_str()
                .expect("id")]
        })
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "results in phase order: {order:?}"
    );
    assert_eq!(directory.all_users().len(), 10 + 31);

    // The audit: one line per request sent for a job, no token, no body, no header.
    let audit_text = std::fs::read_to_string(&audit).expect("the audit file");
    assert!(
        !audit_text.contains(&directory.server.token),
        "no token in the audit"
    );
    let mut audited_jobs = BTreeSet::new();
    for line in audit_text.lines() {
        let entry: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let keys: BTreeSet<&str> = entry
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        let outcome = if keys.contains("status") {
            "status"
        } else {
            "error"
        };
        assert_eq!(
            keys,
            BTreeSet::from([
                "ts", "tenant", "job", "command", "method", "path", outcome, "ms", "attempt"
            ]),
            "{line}"
        );
        assert_eq!(entry["tenant"], super::directory::DEFAULT_TENANT);
        assert!(
            entry["path"]
                .as_str()
                .expect("path")
                .starts_with(&format!("/scim/directory/{DIRECTORY}/")),
            "{line}"
        );
        assert!(
            entry["status"]
                .as_u64()
                .is_some_and(|status| (200..300).contains(&status) || status == 404),
            "{line}"
        );
        assert!(entry["attempt"].as_u64() >= Some(1) && entry["ms"].as_u64().is_some());
        assert!(entry["ts"].as_str().expect("ts").ends_with('Z'));
        audited_jobs.insert(entry["job"].as_str().expect("job").to_string());
        assert!(entry["job"].as_str().expect("job").starts_with(PLAN_ID));
    }
    assert_eq!(
        audited_jobs,
        phase_of.keys().cloned().collect(),
        "every job's requests are audited"
    );
    let patches = audit_text
        .lines()
        .filter(|line| line.contains("\"method\":\"PATCH\"") || line.contains("\"method\":\"PUT\""))
        .count();
    assert!(patches > 0);
    assert!(
        !audit_text.contains("Bearer") && !audit_text.contains("userName\\\""),
        "no header, no body"
    );
}
