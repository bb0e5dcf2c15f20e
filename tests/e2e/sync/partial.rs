//! A partial read plans nothing (sync.md §2): a hostile loopback server holds 250 users (three
//! pages of 100) and breaks one rule at a time. Under each host that plans (iam-host and the
//! Python host), each ends with exit 1, one line on stderr naming the page and why, the same
//! line from both, and the plan file left as it was. And a whole read asks for the pages after
//! the first at once (`wire.send-all`), which each host carries at once.

use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::directory::{PLAN_HOSTS, PLAN_ID, SyncHost, fixture};
use crate::support::CliOutput;
use crate::support::scratch::Scratch;
use crate::support::server::{Reply, Server, http};

const USERS: u64 = 250;
const TOKEN: &str = "hostile-sync-t0ken";

/// How the server breaks the read.
#[derive(Clone, Copy)]
enum Break {
    /// The page at startIndex 101 answers 503 (Retry-After 0) every time.
    FailingPage,
    /// The page at startIndex 201 holds 49 users where 50 are due.
    ShortPage,
    /// The page at startIndex 101 says totalResults 251.
    TotalChanges,
    /// The page at startIndex 201 holds the id of user 1 again.
    DuplicateId,
    /// Nothing: the directory is read whole.
    Nothing,
}

fn user(n: u64) -> Value {
    let name = format!("user-{n}@example.com");
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": format!("id-{n}"),
        "userName": name, "active": true, "emails": [{"value": name, "primary": true, "type": "work"}]})
}

/// The answer to one raw request.
fn answer(raw: &[u8], broken: Break) -> Reply {
    let text = String::from_utf8_lossy(raw);
    let target = text
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let start_index: u64 = target
        .split(['?', '&'])
        .find_map(|pair| pair.strip_prefix("startIndex="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let list = |total: u64, resources: Vec<Value>| {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": total, "startIndex": start_index, "itemsPerPage": resources.len(),
            "Resources": resources});
        http(
            200,
            &[("content-type", "application/scim+json")],
            &body.to_string(),
        )
    };
    if target.contains("/Groups") {
        return list(0, Vec::new());
    }
    if !target.contains("/Users") {
        return http(404, &[], "{}");
    }
    let last = (start_index + 99).min(USERS);
    let mut page: Vec<Value> = (start_index..=last).map(user).collect();
    match (broken, start_index) {
        (Break::FailingPage, 101) => {
            return http(503, &[("retry-after", "0")], "{\"detail\": \"busy\"}");
        }
        (Break::ShortPage, 201) => {
            page.pop();
        }
        (Break::TotalChanges, 101) => return list(USERS + 1, page),
        (Break::DuplicateId, 201) => page[10] = user(1),
        _ => {}
    }
    list(USERS, page)
}

/// `sync plan` of the server's directory (with `--max-deprovision` as given) under `host`,
/// the plan written to a file that held "the plan before".
fn plan_under(host: SyncHost, server: &Server, more: &[&str]) -> (CliOutput, String) {
    let scratch = Scratch::new("sync-partial");
    let config = scratch.json(
        "config.json",
        &json!({"url": server.url(), "access_token": TOKEN, "directory_id": "d"}),
    );
    let plan = scratch.write("plan.jsonl", "the plan before\n");
    let (config, desired, out) = (
        config.display().to_string(),
        fixture("desired.jsonl").display().to_string(),
        plan.display().to_string(),
    );
    let mut args = vec![
        "plan",
        "--config",
        &config,
        "--desired",
        &desired,
        "--out",
        &out,
        "--plan-id",
        PLAN_ID,
    ];
    args.extend_from_slice(more);
    let output = host.sync(&args);
    (
        output,
        std::fs::read_to_string(&plan).expect("the plan file"),
    )
}

fn check(broken: Break, page: u64, why: &str) {
    let mut lines_by_host = Vec::new();
    for host in PLAN_HOSTS {
        let server = Server::start(move |raw| answer(raw, broken));
        let (output, plan) = plan_under(host, &server, &[]);
        assert_eq!(output.code, 1, "{host:?}: {output:?}");
        let lines: Vec<&str> = output.stderr.trim_end().lines().collect();
        assert_eq!(lines.len(), 1, "{host:?}: one line: {output:?}");
        assert!(
            lines[0].contains(&format!("startIndex {page}")) && lines[0].contains(why),
            "{host:?}: {output:?}"
        );
        assert!(!output.stderr.contains(TOKEN), "{host:?}");
        assert_eq!(plan, "the plan before\n", "{host:?}: left as it was");
        assert!(
            !output.stdout.contains("\"creates\""),
            "{host:?}: no summary: {output:?}"
        );
        lines_by_host.push((host, lines[0].to_string()));
    }
    let (first, line) = &lines_by_host[0];
    for (host, other) in &lines_by_host[1..] {
        assert_eq!(other, line, "{host:?} and {first:?} say it differently");
    }
}

#[test]
fn a_page_that_fails_after_its_retries_plans_nothing() {
    check(Break::FailingPage, 101, "503");
}

#[test]
fn a_short_page_plans_nothing() {
    check(Break::ShortPage, 201, "49");
}

#[test]
fn a_total_that_changes_between_pages_plans_nothing() {
    check(Break::TotalChanges, 101, "251");
}

#[test]
fn an_id_that_shows_twice_plans_nothing() {
    check(Break::DuplicateId, 201, "id-1");
}

#[test]
fn each_host_asks_for_the_pages_after_the_first_at_once() {
    // The Users pages after the first (startIndex 101 and 201, which the connector asks for
    // together once the first page has given totalResults) are answered after 500 ms, and the
    // server counts how many of them it holds at once: 2 under a host that carries them at
    // once, only ever 1 under one that sends them one after the other.
    for host in PLAN_HOSTS {
        let (held, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let server = {
            let (held, most) = (held.clone(), most.clone());
            Server::start(move |raw| {
                let text = String::from_utf8_lossy(raw);
                let later_page = text.contains("/Users")
                    && ["startIndex=101", "startIndex=201"]
                        .iter()
                        .any(|page| text.contains(page));
                if !later_page {
                    return answer(raw, Break::Nothing);
                }
                let now = held.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(500));
                held.fetch_sub(1, Ordering::SeqCst);
                answer(raw, Break::Nothing)
            })
        };
        // None of the fixture's people is in this directory: its 250 users are deprovisions.
        let (output, plan) = plan_under(host, &server, &["--max-deprovision", "1000"]);
        assert_eq!(output.code, 0, "{host:?}: {output:?}");
        assert!(plan.contains("\"iam-disable-user\""), "{host:?}: {plan}");
        assert_eq!(
            most.load(Ordering::SeqCst),
            2,
            "{host:?}: the later pages held at once"
        );
    }
}
