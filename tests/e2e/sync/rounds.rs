//! The fixture (tests/sync/README.md): its first plan job by job, two rounds of plan and apply
//! (the deferred memberships added by the second), `sync run` reaching the same state, a CSV
//! desired file giving the same jobs, and the Python host writing the same plan bytes.

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

use super::directory::{
    CREATED, DEFAULT_TENANT, Directory, PLAN_ID, fixture, flag, last_json_line, read_plan,
    results_by_id, summary, sync,
};
use crate::support::hosts;

/// The glob that protects the fixture's administrator, in another case than its userName.
const PROTECT: &str = "ADMIN@*";

/// The first plan's summary, by hand (README): henry created; robert (bob renamed, matched by
/// externalId E2) and carol (title) updated; dave enabled; erin disabled; frank deprovisioned
/// (disabled); new-team created; bob added to eng and frank removed from it; henry's eng and
/// carol's new-team memberships deferred; alice and ivan unchanged; admin protected; the gina
/// profile a conflict (E9 is gina.b, the userName is gina).
fn first_summary() -> Value {
    summary(&[
        ("creates", 1),
        ("updates", 2),
        ("enables", 1),
        ("disables", 1),
        ("deprovisions", 1),
        ("group_creates", 1),
        ("member_adds", 1),
        ("member_removes", 1),
        ("deferred", 2),
        ("unchanged", 2),
        ("protected", 1),
        ("conflicts", 1),
        ("directory_users", 10),
        ("directory_groups", 2),
        ("desired", 8),
    ])
}

/// After the first apply: the two deferred memberships are plain additions now.
fn second_summary() -> Value {
    summary(&[
        ("member_adds", 2),
        ("unchanged", 7),
        ("protected", 1),
        ("conflicts", 1),
        ("directory_users", 11),
        ("directory_groups", 3),
        ("desired", 8),
    ])
}

/// Once the directory is the desired state: nothing to do.
fn final_summary() -> Value {
    summary(&[
        ("unchanged", 7),
        ("protected", 1),
        ("conflicts", 1),
        ("directory_users", 11),
        ("directory_groups", 3),
        ("desired", 8),
    ])
}

/// The user a job names by id in its `user-profile`.
fn profile_id(job: &Value) -> Option<&str> {
    job["args"]["user-profile"]["id"].as_str()
}

/// The first plan's jobs, by hand: phase 1 the five user jobs, 2 the group create, 3 eng's
/// member changes, 4 frank's deprovision; ids `<plan id>-1…` in order.
fn check_first_jobs(directory: &Directory, jobs: &[Value]) {
    for (n, job) in jobs.iter().enumerate() {
        assert_eq!(job["id"], format!("{PLAN_ID}-{}", n + 1), "{job}");
        assert_eq!(job["tenant"], DEFAULT_TENANT, "{job}");
        assert!(job["change"].is_string(), "{job}");
    }
    let phases: Vec<u64> = jobs
        .iter()
        .map(|job| job["phase"].as_u64().expect("phase"))
        .collect();
    assert!(
        phases.windows(2).all(|w| w[0] <= w[1]),
        "jobs in phase order: {phases:?}"
    );
    let in_phase =
        |phase: u64| -> Vec<&Value> { jobs.iter().filter(|job| job["phase"] == phase).collect() };

    let users = in_phase(1);
    assert_eq!(users.len(), 5, "{users:#?}");
    let by_target: BTreeMap<String, &Value> = users
        .iter()
        .map(|job| {
            let target = match profile_id(job) {
                Some(id) => id.to_string(),
                None => job["args"]["user-profile"]["username"]
                    .as_str()
                    .unwrap_or("?")
                    .to_string(),
            };
            (target, *job)
        })
        .collect();
    let henry = by_target["henry@example.com"];
    assert_eq!(henry["command"], "iam-create-user");
    assert_eq!(flag(&henry["args"]["allow-enable"]), Some(true));
    for (name, allow_enable) in [
        ("bob@example.com", false),
        ("carol@example.com", false),
        ("dave@example.com", true),
    ] {
        let job = by_target[directory.id(name)];
        assert_eq!(job["command"], "iam-update-user", "{name}: {job}");
        assert_eq!(
            flag(&job["args"]["allow-enable"]),
            Some(allow_enable),
            "{name}: {job}"
        );
    }
    assert_eq!(
        by_target[directory.id("bob@example.com")]["args"]["user-profile"]["username"],
        "robert@example.com"
    );
    let erin = by_target[directory.id("erin@example.com")];
    assert_eq!(erin["command"], "iam-disable-user");
    assert_eq!(erin["args"]["disable-method"], "patch");

    let group_creates = in_phase(2);
    assert_eq!(group_creates.len(), 1, "{group_creates:#?}");
    assert_eq!(group_creates[0]["command"], "iam-create-group");
    assert!(group_creates[0]["args"].to_string().contains("new-team"));

    let member_changes = in_phase(3);
    assert!(!member_changes.is_empty());
    for job in &member_changes {
        assert_eq!(job["command"], "iam-update-group", "{job}");
        assert!(
            job["args"].to_string().contains(&directory.groups["eng"]),
            "eng by its id: {job}"
        );
        assert!(
            !job["args"]
                .to_string()
                .contains(directory.id("admin@example.com")),
            "admin is protected: {job}"
        );
    }

    let deprovisions = in_phase(4);
    assert_eq!(deprovisions.len(), 1, "{deprovisions:#?}");
    assert_eq!(deprovisions[0]["command"], "iam-disable-user");
    assert_eq!(
        profile_id(deprovisions[0]),
        Some(directory.id("frank@example.com"))
    );
    assert_eq!(
        deprovisions[0]["args"]["disable-method"], "patch",
        "deprovision disables unless asked"
    );
    assert_eq!(jobs.len(), 7 + member_changes.len());

    // Protected, conflicting and unchanged users get no job at all.
    let job_text: String = jobs.iter().map(Value::to_string).collect();
    for name in [
        "admin@example.com",
        "gina@example.com",
        "gina.b@example.com",
        "ivan@example.com",
    ] {
        assert!(
            !job_text.contains(directory.id(name)),
            "{name} must get no job"
        );
    }
}

/// The directory once the fixture's desired state is reached (README, "after").
fn check_final_state(directory: &Directory, before: &BTreeMap<String, Value>, eng_id: &str) {
    let users = directory.all_users();
    let names: BTreeSet<&str> = users.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "admin@example.com",
            "alice@example.com",
            "carol@example.com",
            "dave@example.com",
            "erin@example.com",
            "frank@example.com",
            "gina.b@example.com",
            "gina@example.com",
            "henry@example.com",
            "ivan@example.com",
            "robert@example.com",
        ])
    );
    assert_eq!(
        users["robert@example.com"]["id"],
        directory.id("bob@example.com"),
        "renamed in place"
    );
    assert_eq!(
        users["robert@example.com"]["emails"][0]["value"],
        "robert@example.com"
    );
    assert_eq!(users["carol@example.com"]["title"], "Sales Lead");
    assert_eq!(users["dave@example.com"]["active"], true);
    assert_eq!(users["erin@example.com"]["active"], false);
    assert_eq!(
        users["frank@example.com"]["active"], false,
        "deprovisioned by disabling, not deleted"
    );
    let henry = &users["henry@example.com"];
    assert_eq!(
        (&henry["active"], &henry["externalId"], &henry["title"]),
        (&json!(true), &json!("E10"), &json!("Engineer"))
    );
    for untouched in [
        "admin@example.com",
        "gina@example.com",
        "gina.b@example.com",
        "alice@example.com",
        "ivan@example.com",
    ] {
        assert_eq!(
            users[untouched], before[untouched],
            "{untouched} was never changed"
        );
    }
    let groups = directory.all_groups();
    assert_eq!(groups.len(), 3);
    assert_eq!(groups["eng"]["id"], eng_id, "a group keeps its id");
    let set = |names: &[&str]| {
        names
            .iter()
            .map(|n| n.to_string())
            .collect::<BTreeSet<String>>()
    };
    assert_eq!(
        directory.members("eng"),
        set(&[
            "admin@example.com",
            "alice@example.com",
            "henry@example.com",
            "robert@example.com"
        ])
    );
    assert_eq!(directory.members("new-team"), set(&["carol@example.com"]));
    assert_eq!(
        directory.members("ops"),
        set(&["ivan@example.com"]),
        "an unmanaged group is left alone"
    );
}

#[test]
fn two_rounds_of_plan_and_apply_reach_the_desired_state_and_a_third_plan_has_no_action() {
    let directory = Directory::seeded();
    let before = directory.all_users();
    let eng_id = directory.groups["eng"].clone();
    let desired = fixture("desired.jsonl");
    let (plan, results) = (
        directory.path("plan.jsonl"),
        directory.path("results.jsonl"),
    );

    let planned = directory.plan(&desired, &plan, &["--protect", PROTECT, "--json"]);
    assert_eq!(planned.code, 0, "{planned:?}");
    assert_eq!(last_json_line(&planned), first_summary());
    let (header, jobs) = read_plan(&plan);
    assert_eq!(header["id"], PLAN_ID);
    assert_eq!(header["created"], CREATED);
    assert_eq!(header["tenant"], DEFAULT_TENANT);
    assert_eq!(header["url"], directory.server.url.as_str());
    assert_eq!(header["directory_id"], crate::scim_server::DIRECTORY);
    assert_eq!(header["summary"], first_summary());
    assert_eq!(header["blocked"], json!([]));
    assert_eq!(header["invalid_lines"], json!([]));
    let conflicts = header["conflicts"].as_array().expect("conflicts");
    assert_eq!(conflicts.len(), 1, "{conflicts:?}");
    assert_eq!(
        (&conflicts[0]["line"], &conflicts[0]["userName"]),
        (&json!(6), &json!("gina@example.com"))
    );
    let ids: BTreeSet<&str> = conflicts[0]["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        ids,
        BTreeSet::from([
            directory.id("gina@example.com"),
            directory.id("gina.b@example.com")
        ])
    );
    check_first_jobs(&directory, &jobs);
    assert!(
        directory
            .logged_requests()
            .iter()
            .all(|line| line.contains("\"GET ")
                || line.contains("\"POST /scim/directory/e2e-directory/Users HTTP")
                || line.contains("\"POST /scim/directory/e2e-directory/Groups HTTP")),
        "a plan reads and changes nothing (only the seeding POSTs): {:#?}",
        directory.logged_requests()
    );
    let seeded_posts = 12;
    assert_eq!(
        directory
            .logged_requests()
            .iter()
            .filter(|l| l.contains("\"POST "))
            .count(),
        seeded_posts
    );

    let applied = directory.apply(&directory.config, &plan, &results, &[]);
    assert_eq!(applied.code, 0, "{applied:?}");
    let first_results = results_by_id(&results);
    assert_eq!(first_results.len(), jobs.len());
    for result in first_results.values() {
        assert_eq!(result["exit"], 0, "{result}");
    }

    let second = directory.plan(&desired, &plan, &["--protect", PROTECT, "--json"]);
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(
        last_json_line(&second),
        second_summary(),
        "the deferred memberships are added now"
    );
    let (_, second_jobs) = read_plan(&plan);
    assert!(
        second_jobs
            .iter()
            .all(|job| job["phase"] == 3 && job["command"] == "iam-update-group"),
        "{second_jobs:#?}"
    );
    // The tests pin every plan's id: the second plan's results go to a file of their own.
    let results = directory.path("results-2.jsonl");
    let applied = directory.apply(&directory.config, &plan, &results, &[]);
    assert_eq!(applied.code, 0, "{applied:?}");
    assert_eq!(results_by_id(&results).len(), second_jobs.len());
    // Applied again: every job has its result already, so the rerun sends nothing.
    let requests = directory.logged_requests().len();
    let again = directory.apply(&directory.config, &plan, &results, &[]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(
        directory.logged_requests().len(),
        requests,
        "a rerun skips jobs with results"
    );

    check_final_state(&directory, &before, &eng_id);
    let third = directory.plan(&desired, &plan, &["--protect", PROTECT, "--json"]);
    assert_eq!(third.code, 0, "{third:?}");
    assert_eq!(last_json_line(&third), final_summary());
    let (_, third_jobs) = read_plan(&plan);
    assert!(third_jobs.is_empty(), "{third_jobs:#?}");
}

#[test]
fn sync_run_reaches_the_desired_state_and_prints_the_last_plans_summary() {
    let directory = Directory::seeded();
    let before = directory.all_users();
    let eng_id = directory.groups["eng"].clone();
    let config = directory.config.display().to_string();
    let desired = fixture("desired.jsonl").display().to_string();
    let out = directory.path("plan.jsonl").display().to_string();
    let results = directory.path("results.jsonl").display().to_string();
    let run = sync(&[
        "run",
        "--config",
        &config,
        "--desired",
        &desired,
        "--out",
        &out,
        "--output",
        &results,
        "--protect",
        PROTECT,
        "--json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        last_json_line(&run),
        final_summary(),
        "run stops at the plan with no action"
    );
    check_final_state(&directory, &before, &eng_id);
    // Two applies: the first plan's jobs and the second's, each with one result.
    let results = results_by_id(std::path::Path::new(&results));
    assert!(
        results.values().all(|result| result["exit"] == 0),
        "{results:#?}"
    );
    let plans: BTreeSet<&str> = results
        .keys()
        .map(|id| id.rsplit_once('-').expect("<plan>-<n>").0)
        .collect();
    assert_eq!(plans.len(), 2, "{plans:?}");
    assert!(
        plans.iter().all(|id| id.len() == 16
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())),
        "{plans:?}"
    );

    // A fresh plan: 0 actions, and its table for people without --json.
    let plan = sync(&[
        "plan",
        "--config",
        &config,
        "--desired",
        &desired,
        "--out",
        &out,
        "--protect",
        PROTECT,
    ]);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(
        !plan.stdout.trim().is_empty() && !plan.stdout.trim_start().starts_with('{'),
        "{plan:?}"
    );
}

#[test]
fn a_csv_desired_file_gives_the_same_jobs_as_its_json_lines() {
    let directory = Directory::seeded();
    let (json_plan, csv_plan) = (directory.path("json.jsonl"), directory.path("csv.jsonl"));
    let from_json = directory.plan(
        &fixture("desired.jsonl"),
        &json_plan,
        &["--protect", PROTECT, "--json"],
    );
    let from_csv = directory.plan(
        &fixture("desired.csv"),
        &csv_plan,
        &["--protect", PROTECT, "--json"],
    );
    assert_eq!(
        (from_json.code, from_csv.code),
        (0, 0),
        "{from_json:?}\n{from_csv:?}"
    );
    assert_eq!(last_json_line(&from_csv), first_summary());
    let ((_, json_jobs), (csv_header, csv_jobs)) = (read_plan(&json_plan), read_plan(&csv_plan));
    assert_eq!(csv_jobs, json_jobs);
    // The CSV's header row is its line 1: the gina profile is on line 7.
    assert_eq!(csv_header["conflicts"][0]["line"], 7);
}

#[test]
fn the_python_host_writes_the_same_plan_bytes() {
    let directory = Directory::seeded();
    let rust_plan = directory.path("rust.jsonl");
    let planned = directory.plan(
        &fixture("desired.jsonl"),
        &rust_plan,
        &["--protect", PROTECT],
    );
    assert_eq!(planned.code, 0, "{planned:?}");
    let python_plan = directory.path("python.jsonl");
    let config = directory.config.display().to_string();
    let desired = fixture("desired.jsonl").display().to_string();
    let out = python_plan.display().to_string();
    let python = hosts::python_host(&[
        "sync",
        "plan",
        "--config",
        &config,
        "--desired",
        &desired,
        "--out",
        &out,
        "--protect",
        PROTECT,
        "--plan-id",
        PLAN_ID,
        "--created",
        CREATED,
        "--json",
    ])
    .output()
    .expect("run the Python host");
    assert_eq!(
        python.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&python.stderr)
    );
    let python_summary: Value = serde_json::from_str(
        String::from_utf8_lossy(&python.stdout)
            .trim_end()
            .lines()
            .last()
            .unwrap_or_default(),
    )
    .expect("a JSON summary");
    assert_eq!(python_summary, first_summary());
    assert_eq!(
        std::fs::read(&python_plan).expect("the Python plan"),
        std::fs::read(&rust_plan).expect("the Rust plan"),
        "the same bytes from both hosts"
    );
}
