//! A worker's audit file (`worker --audit`), a plan file submitted phase by phase (sync.md §8),
//! and `batch --metrics` and quarantine under `batch` (issue 23), on a real `nats-server` and
//! the project's SCIM server, or a loopback stand-in where the test must see each request's
//! time.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::scale::{
    NatsServer, RUN_TIMEOUT, Running, START_TIMEOUT, create_job, pulling_worker, read,
    results_by_id, start_iam_host, stop_worker, submitted, tenants_file, write_lines,
};
use crate::scale_customers::{
    add_tenants, get_job, http_get, loopback_tenant, loopback_tenants_file, parse_expositions,
    quarantined_after_5_refusals, revoked_and_healthy_jobs,
};
use crate::scim_server::ScimServer;
use crate::support::scratch::Scratch;
use crate::support::server::{Server, json_reply};

/// The requests the SCIM server logged (`"METHOD /path?query HTTP/1.1" status`), from line
/// `from` of its log on: each as (method, path and query).
fn logged_requests(server: &ScimServer, from: usize) -> Vec<(String, String)> {
    server
        .log_text()
        .lines()
        .skip(from)
        .filter_map(|line| {
            let request = line.split('"').nth(1)?;
            let mut parts = request.split(' ');
            Some((parts.next()?.to_string(), parts.next()?.to_string()))
        })
        .collect()
}

#[test]
fn a_worker_with_audit_writes_one_line_per_request_of_its_jobs_without_token_or_body() {
    let scratch = Scratch::new("worker-audit");
    let scim = ScimServer::start();
    let tenants = tenants_file(&scratch, &[("acme", &scim)]);
    let nats = NatsServer::start(&scratch);
    let audit = scratch.path("audit.jsonl");
    let audit_text = audit.to_string_lossy().into_owned();
    let before = scim.log_text().lines().count();
    let worker = pulling_worker(
        &scratch,
        &nats.url,
        &tenants,
        &["--audit", &audit_text, "--concurrency", "4"],
    );
    let mut jobs: Vec<String> = (0..4)
        .map(|n| create_job(&format!("c-{n}"), "acme", n))
        .collect();
    jobs.push(get_job("g-0", "acme", "acme-user-0@example.com"));
    jobs.push(get_job("g-1", "acme", "nobody@example.com"));
    let results = submitted(&scratch, &nats.url, &jobs);
    assert_eq!(results.len(), 6);
    stop_worker(&scratch, worker);

    // What the server received (its own log, written after each answer: wait for it) is what
    // the audit names, request for request.
    let audit_lines: Vec<Value> = read(&audit)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let deadline = Instant::now() + START_TIMEOUT;
    while logged_requests(&scim, before).len() < audit_lines.len() {
        assert!(Instant::now() < deadline, "{}", scim.log_text());
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut logged = logged_requests(&scim, before);
    let mut audited: Vec<(String, String)> = audit_lines
        .iter()
        .map(|line| {
            (
                line["method"].as_str().unwrap_or_default().to_string(),
                line["path"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    logged.sort();
    audited.sort();
    assert!(!logged.is_empty());
    assert_eq!(audited, logged, "one audit line per request the server got");
    // Each line is sync.md §8's, of a job of this run, and every job sent something.
    let commands: BTreeMap<&str, &str> = results
        .iter()
        .map(|(id, result)| (id.as_str(), result["command"].as_str().unwrap_or_default()))
        .collect();
    let mut jobs_seen = std::collections::BTreeSet::new();
    for line in &audit_lines {
        let mut keys: Vec<&str> = line
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "attempt", "command", "job", "method", "ms", "path", "status", "tenant", "ts"
            ],
            "{line}"
        );
        let job = line["job"].as_str().expect("a job id");
        assert_eq!(line["tenant"], "acme", "{line}");
        assert_eq!(
            line["command"].as_str(),
            commands.get(job).copied(),
            "{line}"
        );
        jobs_seen.insert(job.to_string());
    }
    assert_eq!(jobs_seen.len(), 6, "{jobs_seen:?}");
    // No token, no body (a created user's names travel only in the POST's body).
    let text = read(&audit);
    assert!(!text.contains(&scim.token), "the token is in the audit");
    for body_part in ["Scale User 0", "givenName", "schemas"] {
        assert!(
            !text.contains(body_part),
            "{body_part:?} in the audit:\n{text}"
        );
    }
}

/// A loopback stand-in finding no one, each request answered after the delay its e-mail's
/// phase (`p<phase>-…`) has, noting when it arrived and when it was answered.
type Timed = Arc<Mutex<Vec<(String, Instant, Instant)>>>;

fn phased_server() -> (Server, Timed) {
    let timed: Timed = Arc::new(Mutex::new(Vec::new()));
    let noted = timed.clone();
    let server = Server::start(move |raw| {
        let arrived = Instant::now();
        let request = String::from_utf8_lossy(raw).into_owned();
        let delay = if request.contains("p1-") {
            800
        } else if request.contains("p2-") {
            300
        } else {
            0
        };
        std::thread::sleep(Duration::from_millis(delay));
        noted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((request, arrived, Instant::now()));
        json_reply(200, r#"{"totalResults":0,"Resources":[]}"#)
    });
    (server, timed)
}

#[test]
fn a_plan_submitted_to_workers_runs_phase_by_phase() {
    let scratch = Scratch::new("plan-phases");
    let (server, timed) = phased_server();
    let tenants = loopback_tenants_file(&scratch, &[("acme", &server, "acme-token-123456")]);
    let nats = NatsServer::start(&scratch);
    // Room for every job at once: only the phases keep them apart.
    let worker = pulling_worker(
        &scratch,
        &nats.url,
        &tenants,
        &["--concurrency", "8", "--per-tenant", "8"],
    );
    let header = json!({"plan": {"id": "phasetest", "created": "2024-01-01T00:00:00Z",
        "tenant": "acme", "url": server.url(), "directory_id": "d", "summary": {}, "blocked": []}});
    let job = |id: &str, phase: u64| {
        let mut line: Value =
            serde_json::from_str(&get_job(id, "acme", &format!("{id}@example.com")))
                .expect("a job");
        line["phase"] = json!(phase);
        line["change"] = json!("a test");
        line.to_string()
    };
    // Later phases first in the file: published in file order, they would run first.
    let lines = vec![
        header.to_string(),
        job("p3-0", 3),
        job("p2-0", 2),
        job("p2-1", 2),
        job("p1-0", 1),
        job("p1-1", 1),
        job("p1-2", 1),
    ];
    let results = submitted(&scratch, &nats.url, &lines);
    assert_eq!(results.len(), 6, "{results:?}");
    for result in results.values() {
        assert_eq!(result["exit"], 0, "{result}");
    }
    stop_worker(&scratch, worker);
    let timed = timed.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let phase_of = |request: &str| {
        (1..=3)
            .find(|phase| request.contains(&format!("p{phase}-")))
            .unwrap_or_else(|| panic!("a request of no job: {request}"))
    };
    for phase in 1..=3 {
        assert!(
            timed
                .iter()
                .any(|(request, _, _)| phase_of(request) == phase)
        );
    }
    // A phase's first request comes after the last answer of the phase before (which its
    // job's result follows).
    for phase in 2..=3 {
        let earlier_answered = timed
            .iter()
            .filter(|(request, _, _)| phase_of(request) == phase - 1)
            .map(|(_, _, answered)| *answered)
            .max()
            .expect("requests of the phase before");
        let first_arrival = timed
            .iter()
            .filter(|(request, _, _)| phase_of(request) == phase)
            .map(|(_, arrived, _)| *arrived)
            .min()
            .expect("requests of the phase");
        assert!(
            first_arrival > earlier_answered,
            "a phase {phase} request came {:?} before the last phase {} answer",
            earlier_answered.saturating_duration_since(first_arrival),
            phase - 1
        );
    }
    let stderr = read(&scratch.path("submit.err"));
    assert!(
        stderr.contains("publishing phase 3 of the plan (1 jobs)"),
        "{stderr}"
    );
}

/// `iam-host batch` of `jobs` (in `jobs.jsonl`) for `tenants`, with `more` arguments, started;
/// and the file of its results (`results.jsonl`).
fn batching(
    scratch: &Scratch,
    tenants: &Path,
    jobs: &[String],
    more: &[&str],
) -> (Running, PathBuf) {
    let input = scratch.path("jobs.jsonl");
    write_lines(&input, jobs);
    let output = scratch.path("results.jsonl");
    let (tenants_text, input_text, output_text) = (
        tenants.to_string_lossy(),
        input.to_string_lossy(),
        output.to_string_lossy(),
    );
    let mut args = vec![
        "batch",
        "--tenants",
        &tenants_text,
        "--input",
        &input_text,
        "--output",
        &output_text,
    ];
    args.extend_from_slice(more);
    (start_iam_host(scratch, "batch", &args, true), output)
}

#[test]
fn batch_metrics_parse_during_a_run_and_their_job_counts_equal_the_results() {
    let scratch = Scratch::new("batch-metrics");
    let alpha = ScimServer::start();
    // A tenant whose one request is held until the test has scraped.
    let release = Arc::new(AtomicBool::new(false));
    let released = release.clone();
    let held = Server::start(move |_| {
        while !released.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(10));
        }
        json_reply(200, r#"{"totalResults":0,"Resources":[]}"#)
    });
    let tenants = tenants_file(&scratch, &[("alpha", &alpha)]);
    add_tenants(
        &tenants,
        vec![
            ("held", loopback_tenant(&held.url(), "held-token-123456")),
            // No url: each of its commands is a Type 4.
            ("broken", json!({"access_token": "broken-token-123456"})),
        ],
    );
    let mut jobs: Vec<String> = (0..10)
        .map(|n| create_job(&format!("alpha-{n}"), "alpha", n))
        .collect();
    jobs.push(json!({"id": "broken", "tenant": "broken", "command": "test-module"}).to_string());
    jobs.push(
        json!({"id": "no-such-tenant", "tenant": "delta", "command": "iam-get-user"}).to_string(),
    );
    // Refused as it is read: no command.
    jobs.push(json!({"id": "no-command", "tenant": "alpha"}).to_string());
    // Names no label may carry: each would be a series of its own for ever (a hostile job
    // file or customer makes as many as it likes).
    jobs.push(
        json!({"id": "no-such-command", "tenant": "alpha", "command": "iam-hostile-made-up"})
            .to_string(),
    );
    jobs.push(json!({"id": "hostile-tenant-line", "tenant": "hostile-made-up"}).to_string());
    jobs.push(get_job("held", "held", "held@example.com"));
    let (mut batch, output) = batching(
        &scratch,
        &tenants,
        &jobs,
        &["--metrics", "127.0.0.1:0", "--concurrency", "4"],
    );
    let deadline = Instant::now() + RUN_TIMEOUT;
    let address = loop {
        let stderr = read(&scratch.path("batch.err"));
        if let Some(address) = stderr
            .lines()
            .find_map(|line| line.split("on http://").nth(1))
        {
            break address.trim().to_string();
        }
        assert!(
            batch.is_running() && Instant::now() < deadline,
            "no metrics address: {stderr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Every job but the held one has its line: the counts must equal the file's now.
    crate::scale::wait_for_lines(&output, jobs.len() - 1, &mut batch);
    let (status, exposition) = http_get(&address, "/metrics");
    assert_eq!(status, 200);
    assert_eq!(http_get(&address, "/readyz"), (200, "ready\n".to_string()));
    let scrape = scratch.path("scrape.txt");
    std::fs::write(&scrape, &exposition).expect("keep the scrape");
    let mut by_exit = [0.0_f64; 3];
    for line in crate::scale::complete_lines(&output) {
        let result: Value = serde_json::from_str(&line).expect("a result line");
        by_exit[result["exit"].as_u64().expect("an exit") as usize] += 1.0;
    }
    release.store(true, Ordering::Relaxed);
    let parsed = parse_expositions(&[scrape]);
    let counts = &parsed[0]["jobs"];
    assert_eq!(by_exit, [10.0, 1.0, 4.0], "the run's own outcomes so far");
    for hostile in ["delta", "iam-hostile-made-up", "hostile-made-up"] {
        assert!(
            !exposition.contains(&format!("\"{hostile}\"")),
            "{hostile} is no label:\n{exposition}"
        );
    }
    assert!(
        exposition.contains(
            "iam_jobs_total{tenant=\"(unknown)\",command=\"iam-get-user\",outcome=\"refused\"} 1"
        ),
        "{exposition}"
    );
    for (outcome, expected) in ["ok", "error", "refused"].iter().zip(by_exit) {
        assert_eq!(
            counts[outcome].as_f64().unwrap_or(0.0),
            expected,
            "{outcome}: {counts}"
        );
    }
    assert!(
        exposition.contains("iam_commands_in_flight 1"),
        "the held command is in flight:\n{exposition}"
    );
    assert!(
        exposition.contains("iam_http_requests_total{tenant=\"alpha\",class=\"2xx\"}"),
        "{exposition}"
    );
    assert!(
        batch.wait(RUN_TIMEOUT).success(),
        "{}",
        read(&scratch.path("batch.err"))
    );
    let results = results_by_id(&output);
    assert_eq!(results.len(), jobs.len());
    assert_eq!(results["held"]["exit"], 0, "{}", results["held"]);
    assert_eq!(alpha.user_count(), 10);
}

#[test]
fn under_batch_a_revoked_token_quarantines_its_tenant_after_5_refusals() {
    let scratch = Scratch::new("batch-quarantine");
    let healthy = ScimServer::start();
    let revoked = Server::start(|_| json_reply(401, r#"{"detail":"revoked"}"#));
    let tenants = tenants_file(&scratch, &[("healthy", &healthy)]);
    add_tenants(
        &tenants,
        vec![(
            "revoked",
            loopback_tenant(&revoked.url(), "revoked-token-123456"),
        )],
    );
    let (mut batch, output) = batching(
        &scratch,
        &tenants,
        &revoked_and_healthy_jobs(),
        &["--concurrency", "6", "--per-tenant", "2"],
    );
    assert!(
        batch.wait(RUN_TIMEOUT).success(),
        "{}",
        read(&scratch.path("batch.err"))
    );
    let quarantined =
        quarantined_after_5_refusals(&results_by_id(&output), &revoked.requests(), &healthy);
    assert!(quarantined >= 7, "{quarantined} quarantined");
    let stderr = read(&scratch.path("batch.err"));
    assert!(
        stderr.contains("tenant \"revoked\" quarantined after 5 refusals"),
        "{stderr}"
    );
}
