//! Workers shared by many customers (issue 23), end to end on a real `nats-server` and the
//! project's SCIM servers (or loopback stand-ins where a server must misbehave):
//!
//! * NATS's own permissions, as README's multi-customer configuration gives them: a customer
//!   runs and reads only its own tenant; no forged or pre-published result, and no job id
//!   used first by someone else, takes a real job's place;
//! * fairness: one tenant's slow backlog does not hold back another tenant's job;
//! * quarantine: a revoked token stops its tenant's requests after 5 refusals, a probe lifts it;
//! * `/metrics` (read by the reference Python parser), `/healthz` and `/readyz`;
//! * SIGTERM ends a worker with commands in flight.
//!
//! Everything binds 127.0.0.1, every process is stopped by PID, the loads are a few dozen jobs.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::scale::{
    NatsServer, RUN_TIMEOUT, Running, create_job, nats_server_binary, pulling_worker, read,
    results_by_id, start_iam_host_with, stop_worker, submitted, submitting, tenants_file,
    users_named, write_lines,
};
use crate::scim_server::ScimServer;
use crate::support::scratch::Scratch;
use crate::support::server::{Server, json_reply};

/// What a NATS user may publish to and subscribe to: written into a `nats-server` config here,
/// and into a user JWT by the `.creds` test (scale_credentials.rs).
pub(crate) struct Permissions {
    pub(crate) publish: Vec<String>,
    pub(crate) subscribe: Vec<String>,
}

impl Permissions {
    fn new(publish: &[&str], subscribe: &[&str]) -> Permissions {
        let owned = |subjects: &[&str]| subjects.iter().map(|s| (*s).to_string()).collect();
        Permissions {
            publish: owned(publish),
            subscribe: owned(subscribe),
        }
    }

    /// As a `permissions` block of a `nats-server` config (whose syntax takes JSON arrays).
    pub(crate) fn config(&self) -> String {
        format!(
            "{{ publish: {}, subscribe: {} }}",
            json!(self.publish),
            json!(self.subscribe)
        )
    }
}

/// The permissions of one customer's NATS user: publish its own jobs, make a results consumer
/// filtered to its own subject and pull from it; read its own inbox. Nothing else (no stream
/// information, no other consumer, no results subject to write).
pub(crate) fn customer_permissions(tenant: &str) -> Permissions {
    Permissions::new(
        &[
            &format!("iam.jobs.{tenant}"),
            &format!("$JS.API.CONSUMER.CREATE.IAM_RESULTS.*.iam.results.{tenant}"),
            "$JS.API.CONSUMER.MSG.NEXT.IAM_RESULTS.*",
        ],
        &[&format!("_INBOX_{tenant}.>")],
    )
}

/// The workers' permissions: the JetStream API and acks, every results subject, their inbox.
pub(crate) fn worker_permissions() -> Permissions {
    Permissions::new(&["$JS.API.>", "$JS.ACK.>", "iam.results.*"], &["_INBOX.>"])
}

/// A `nats-server` whose users are the workers' (an nkey, its seed in `worker.nk`, with
/// [`worker_permissions`]) and `users` (name, password, permissions); and a worker on it for
/// `tenants`, pulling jobs.
pub(crate) fn nats_with_users(
    scratch: &Scratch,
    tenants: &Path,
    users: &[(&str, &str, String)],
) -> (NatsServer, Running) {
    let worker_key = nkeys::KeyPair::new_user();
    let seed = worker_key.seed().expect("a seed");
    let seed_file = scratch.path("worker.nk");
    std::fs::write(&seed_file, format!("{seed}\n")).expect("write the seed");
    let mut config = format!(
        "authorization {{ users = [\n  {{ nkey: \"{}\", permissions: {} }}\n",
        worker_key.public_key(),
        worker_permissions().config()
    );
    for (user, password, permissions) in users {
        config += &format!(
            "  {{ user: {user}, password: \"{password}\", permissions: {permissions} }}\n"
        );
    }
    config += "] }\n";
    let nats = NatsServer::start_with(scratch, Some(&config));
    let seed_path = seed_file.to_string_lossy().into_owned();
    let worker = pulling_worker(
        scratch,
        &nats.url,
        tenants,
        &["--nats-nkey-file", &seed_path],
    );
    (nats, worker)
}

/// A client of `url` as `user`, on a current-thread runtime.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

async fn connect_as(url: &str, user: &str, password: &str, inbox: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .user_and_password(user.into(), password.into())
        .custom_inbox_prefix(inbox)
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("{user} cannot connect: {e}"))
}

/// Publish to JetStream and wait for the stream's acknowledgement: whether it was stored.
async fn stored(
    context: &async_nats::jetstream::Context,
    subject: &str,
    message_id: &str,
    payload: String,
) -> bool {
    let publish = async_nats::jetstream::message::PublishMessage::build()
        .payload(payload.into())
        .message_id(message_id);
    let acked = async {
        context
            .send_publish(subject.to_string(), publish)
            .await
            .ok()?
            .await
            .ok()
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(3), acked).await,
        Ok(Some(_))
    )
}

pub(crate) fn get_job(id: &str, tenant: &str, email: &str) -> String {
    json!({"id": id, "tenant": tenant, "command": "iam-get-user",
           "args": {"user-profile": {"email": email}}})
    .to_string()
}

fn submit_args<'a>(url: &'a str, input: &'a str, output: &'a str) -> Vec<&'a str> {
    vec![
        "submit", "--nats", url, "--input", input, "--output", output,
    ]
}

#[test]
fn a_customer_runs_and_reads_only_its_own_tenant_and_nothing_takes_a_real_jobs_place() {
    let scratch = Scratch::new("customers");
    let (acme_server, globex_server) = (ScimServer::start(), ScimServer::start());
    let tenants = tenants_file(
        &scratch,
        &[("acme", &acme_server), ("globex", &globex_server)],
    );
    // The workers' user is an nkey; the customers' are users with passwords.
    let (nats, worker) = nats_with_users(
        &scratch,
        &tenants,
        &[
            ("acme", "acme-pw-1", customer_permissions("acme").config()),
            (
                "globex",
                "globex-pw-2",
                customer_permissions("globex").config(),
            ),
        ],
    );

    let runtime = runtime();
    runtime.block_on(async {
        let acme = connect_as(&nats.url, "acme", "acme-pw-1", "_INBOX_acme").await;
        let acme_js = async_nats::jetstream::new(acme.clone());
        let globex = connect_as(&nats.url, "globex", "globex-pw-2", "_INBOX_globex").await;
        let globex_js = async_nats::jetstream::new(globex.clone());

        // globex runs a job whose id acme will use too: each tenant's ids are its own.
        let shared = create_job("shared-1", "globex", 1);
        assert!(stored(&globex_js, "iam.jobs.globex", "globex:shared-1", shared).await);
        // acme itself used the id dup-1 earlier, for another command.
        let earlier = get_job("dup-1", "acme", "someone@example.com");
        assert!(stored(&acme_js, "iam.jobs.acme", "acme:dup-1", earlier).await);

        // acme cannot run a job as globex: not on globex's subject...
        let as_globex = create_job("sneaky-1", "globex", 98);
        assert!(
            !stored(&acme_js, "iam.jobs.globex", "globex:sneaky-1", as_globex).await,
            "acme published to globex's jobs"
        );
        // ...and a body naming globex on acme's own subject is dropped by the worker.
        let in_disguise = create_job("sneaky-2", "globex", 99);
        assert!(stored(&acme_js, "iam.jobs.acme", "acme:sneaky-2", in_disguise).await);
        // acme cannot forge a result, not even its own tenant's.
        let forged = json!({"id": "acme-1", "tenant": "acme", "command": "iam-create-user",
            "exit": 0, "entry": {"Type": 1, "ContentsFormat": "text", "Contents": "forged"}});
        assert!(
            !stored(
                &acme_js,
                "iam.results.acme",
                "acme:acme-1",
                forged.to_string()
            )
            .await,
            "acme wrote a result"
        );

        // acme cannot read globex's results: no consumer on globex's subject, no stream
        // information, no message on the subject itself once globex's result is stored.
        let mut snoop = acme
            .subscribe("iam.results.globex")
            .await
            .expect("subscribe");
        let deadline = Instant::now() + RUN_TIMEOUT;
        while users_named(&globex_server, "globex-user-1@example.com") == 0 {
            assert!(Instant::now() < deadline, "globex's job never ran");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let consumer = async_nats::jetstream::consumer::pull::Config {
            name: Some("snoop".into()),
            filter_subject: "iam.results.globex".into(),
            ..Default::default()
        };
        let made = tokio::time::timeout(
            Duration::from_secs(3),
            acme_js.create_consumer_on_stream(consumer, "IAM_RESULTS"),
        )
        .await;
        assert!(
            !matches!(made, Ok(Ok(_))),
            "acme made a consumer of globex's results"
        );
        let info =
            tokio::time::timeout(Duration::from_secs(3), acme_js.get_stream("IAM_RESULTS")).await;
        assert!(
            !matches!(info, Ok(Ok(_))),
            "acme read the results stream's information"
        );
        let seen = tokio::time::timeout(
            Duration::from_secs(2),
            futures_util::StreamExt::next(&mut snoop),
        )
        .await;
        assert!(
            !matches!(seen, Ok(Some(_))),
            "acme read a message of globex's"
        );
    });

    // acme's own submission, with its password from the environment: its jobs run as acme.
    let input = scratch.path("acme-jobs.jsonl");
    write_lines(
        &input,
        &[
            create_job("acme-1", "acme", 1),
            create_job("shared-1", "acme", 2),
            create_job("dup-1", "acme", 3),
        ],
    );
    let output = scratch.path("acme-results.jsonl");
    let (input_text, output_text) = (input.to_string_lossy(), output.to_string_lossy());
    let mut args = submit_args(&nats.url, &input_text, &output_text);
    args.extend(["--nats-user", "acme"]);
    let mut submit = start_iam_host_with(
        &scratch,
        "submit",
        &args,
        &[("IAM_NATS_PASSWORD", "acme-pw-1")],
        false,
    );
    assert!(
        submit.wait(RUN_TIMEOUT).success(),
        "{}",
        read(&scratch.path("submit.err"))
    );
    let results = results_by_id(&output);
    assert_eq!(results.len(), 3, "{results:?}");
    for id in ["acme-1", "shared-1"] {
        let result = &results[id];
        assert_eq!(
            (&result["tenant"], &result["command"], &result["exit"]),
            (&json!("acme"), &json!("iam-create-user"), &json!(0)),
            "{result}"
        );
        assert_eq!(result["entry"]["Contents"]["success"], true, "{result}");
    }
    // The id acme used first for a get is refused for the create, not merged with it.
    let dup = &results["dup-1"];
    assert_eq!(dup["exit"], 2, "{dup}");
    assert!(
        dup["error"]
            .as_str()
            .is_some_and(|e| e.contains("already used")),
        "{dup}"
    );
    assert_eq!(users_named(&acme_server, "acme-user-1@example.com"), 1);
    assert_eq!(users_named(&acme_server, "acme-user-2@example.com"), 1);
    assert_eq!(acme_server.user_count(), 2, "dup-1's create was never sent");
    assert_eq!(
        globex_server.user_count(),
        1,
        "only globex's own job ran for globex"
    );
    let worker_err = read(&scratch.path("worker.err"));
    assert!(
        worker_err.contains("on \"iam.jobs.acme\" that names the tenant \"globex\""),
        "{worker_err}"
    );
    stop_worker(&scratch, worker);
}

/// A loopback stand-in of a SCIM server that finds no user, after `delay`, and notes when each
/// request arrived.
pub(crate) fn finding_no_one(delay: Duration) -> (Server, Arc<Mutex<Vec<Instant>>>) {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let noted = arrivals.clone();
    let server = Server::start(move |_| {
        noted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Instant::now());
        std::thread::sleep(delay);
        json_reply(200, r#"{"totalResults":0,"Resources":[]}"#)
    });
    (server, arrivals)
}

pub(crate) fn loopback_tenant(url: &str, token: &str) -> Value {
    json!({"url": url, "access_token": token, "directory_id": "d"})
}

/// A tenants file (`tenants.json`) of `tenants` (name, loopback server, token).
pub(crate) fn loopback_tenants_file(
    scratch: &Scratch,
    tenants: &[(&str, &Server, &str)],
) -> PathBuf {
    let all: serde_json::Map<String, Value> = tenants
        .iter()
        .map(|(name, server, token)| (name.to_string(), loopback_tenant(&server.url(), token)))
        .collect();
    let path = scratch.path("tenants.json");
    std::fs::write(&path, json!({ "tenants": all }).to_string()).expect("write the tenants file");
    path
}

/// Add `more` (name, tenant) to the tenants file at `path`.
pub(crate) fn add_tenants(path: &Path, more: Vec<(&str, Value)>) {
    let mut all: Value = serde_json::from_str(&read(path)).expect("the tenants file");
    for (name, tenant) in more {
        all["tenants"][name] = tenant;
    }
    std::fs::write(path, all.to_string()).expect("write the tenants file");
}

#[test]
fn one_tenants_slow_backlog_does_not_hold_back_another_tenants_job_on_a_worker() {
    let scratch = Scratch::new("fairness");
    let (slow, slow_arrivals) = finding_no_one(Duration::from_secs(1));
    let (fast, fast_arrivals) = finding_no_one(Duration::ZERO);
    let tenants = loopback_tenants_file(
        &scratch,
        &[
            ("slow", &slow, "slow-token-123456"),
            ("fast", &fast, "fast-token-123456"),
        ],
    );
    let nats = NatsServer::start(&scratch);
    // One of a tenant's commands at a time, four in all: twelve slow jobs take 12 s.
    let worker = pulling_worker(
        &scratch,
        &nats.url,
        &tenants,
        &["--concurrency", "4", "--per-tenant", "1"],
    );
    // The slow backlog first: the fast tenant's job comes once the worker is busy with it.
    let jobs: Vec<String> = (0..12)
        .map(|n| get_job(&format!("slow-{n}"), "slow", "nobody@example.com"))
        .collect();
    let input = scratch.path("slow.jsonl");
    write_lines(&input, &jobs);
    let output = scratch.path("slow-results.jsonl");
    let mut slow_submit = submitting(&scratch, &nats.url, &input, &output);
    let deadline = Instant::now() + RUN_TIMEOUT;
    while slow_arrivals
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .len()
        < 2
    {
        assert!(
            Instant::now() < deadline,
            "{}",
            read(&scratch.path("worker.err"))
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let fast_input = scratch.path("fast.jsonl");
    write_lines(
        &fast_input,
        &[get_job("fast-1", "fast", "nobody@example.com")],
    );
    let fast_output = scratch.path("fast-results.jsonl");
    let (input_text, output_text) = (fast_input.to_string_lossy(), fast_output.to_string_lossy());
    let submitted = Instant::now();
    let mut fast_submit = start_iam_host_with(
        &scratch,
        "submit-fast",
        &submit_args(&nats.url, &input_text, &output_text),
        &[],
        false,
    );
    assert!(
        fast_submit.wait(RUN_TIMEOUT).success(),
        "{}",
        read(&scratch.path("submit-fast.err"))
    );
    let fast_arrived = fast_arrivals.lock().unwrap_or_else(|p| p.into_inner())[0];
    // Before the fix the fast job waited behind the slow backlog for about 10 s (the fetch
    // slots held by slow jobs waiting for their share). A generous bound: less than 2 s from
    // its submission (a process start included).
    let delay = fast_arrived.saturating_duration_since(submitted);
    assert!(
        delay < Duration::from_secs(2),
        "the fast tenant's job waited {delay:?} behind the slow tenant's backlog"
    );
    assert!(
        slow_submit.wait(RUN_TIMEOUT).success(),
        "{}",
        read(&scratch.path("submit.err"))
    );
    assert_eq!(results_by_id(&output).len(), 12);
    stop_worker(&scratch, worker);
}

#[test]
fn a_revoked_token_quarantines_its_tenant_after_5_refusals_and_a_passing_probe_lifts_it() {
    let scratch = Scratch::new("quarantine");
    let healthy = ScimServer::start();
    let revoked = Arc::new(AtomicBool::new(true));
    let still_revoked = revoked.clone();
    let server = Server::start(move |request| {
        if still_revoked.load(Ordering::Relaxed) {
            return json_reply(401, r#"{"detail":"revoked"}"#);
        }
        let _ = request;
        json_reply(200, r#"{"totalResults":0,"Resources":[]}"#)
    });
    let tenants = scratch.path("tenants.json");
    let mut all = serde_json::Map::new();
    all.insert(
        "revoked".into(),
        loopback_tenant(&server.url(), "revoked-token-123456"),
    );
    all.insert(
        "healthy".into(),
        Value::Object(healthy.params(json!({"instance_name": "healthy"}))),
    );
    std::fs::write(&tenants, json!({ "tenants": all }).to_string()).expect("write tenants");
    let nats = NatsServer::start(&scratch);
    let worker = pulling_worker(
        &scratch,
        &nats.url,
        &tenants,
        &[
            "--concurrency",
            "6",
            "--per-tenant",
            "2",
            "--quarantine-probe-ms",
            "1000",
        ],
    );
    let results = submitted(&scratch, &nats.url, &revoked_and_healthy_jobs());
    quarantined_after_5_refusals(&results, &server.requests(), &healthy);
    let stderr = || read(&scratch.path("worker.err"));
    assert!(
        stderr().contains("tenant \"revoked\" quarantined after 5 refusals"),
        "{}",
        stderr()
    );

    // The token works again: a probe (1 s, 2 s, 4 s … after the quarantine) lifts it.
    revoked.store(false, Ordering::Relaxed);
    let deadline = Instant::now() + RUN_TIMEOUT;
    while !stderr().contains("quarantine lifted") {
        assert!(Instant::now() < deadline, "{}", stderr());
        std::thread::sleep(Duration::from_millis(100));
    }
    let input = scratch.path("after.jsonl");
    write_lines(
        &input,
        &[get_job("revoked-after", "revoked", "someone@example.com")],
    );
    let output = scratch.path("after-results.jsonl");
    let (input_text, output_text) = (input.to_string_lossy(), output.to_string_lossy());
    let mut again = start_iam_host_with(
        &scratch,
        "submit-after",
        &submit_args(&nats.url, &input_text, &output_text),
        &[],
        false,
    );
    assert!(again.wait(RUN_TIMEOUT).success());
    assert_eq!(results_by_id(&output)["revoked-after"]["exit"], 0);
    stop_worker(&scratch, worker);
}

/// Twelve lookups of the tenant "revoked" and six new users of the tenant "healthy".
pub(crate) fn revoked_and_healthy_jobs() -> Vec<String> {
    let mut jobs: Vec<String> = (0..12)
        .map(|n| get_job(&format!("revoked-{n}"), "revoked", "someone@example.com"))
        .collect();
    jobs.extend((0..6).map(|n| create_job(&format!("healthy-{n}"), "healthy", n)));
    jobs
}

/// The results of [`revoked_and_healthy_jobs`], "revoked" a server that refuses its token
/// (`requests`: all it was sent): no more than 5 of its lookups were sent (the rest of its
/// requests are quarantine probes), one refused job per lookup sent, every other job of the
/// tenant ended as quarantined; every job of "healthy" (on `healthy`) ran. How many were
/// quarantined.
pub(crate) fn quarantined_after_5_refusals(
    results: &BTreeMap<String, Value>,
    requests: &[String],
    healthy: &ScimServer,
) -> usize {
    assert_eq!(results.len(), 18);
    // A refused lookup is an IAM result (Type 1, success false, errorCode 401); once the
    // tenant is quarantined, its jobs end with a Type 4 entry that says so.
    let (mut refused, mut quarantined) = (0, 0);
    for n in 0..12 {
        let result = &results[&format!("revoked-{n}")];
        let entry = &result["entry"];
        if entry["Contents"]["errorCode"] == 401 {
            assert_eq!(result["exit"], 0, "{result}");
            refused += 1;
        } else {
            assert_eq!(result["exit"], 1, "{result}");
            let contents = entry["Contents"].as_str().unwrap_or_default();
            assert!(contents.contains("is quarantined"), "{result}");
            quarantined += 1;
        }
    }
    assert_eq!(refused + quarantined, 12);
    for n in 0..6 {
        let result = &results[&format!("healthy-{n}")];
        assert_eq!(result["exit"], 0, "{result}");
    }
    assert_eq!(healthy.user_count(), 6, "the other tenant's jobs all ran");
    let user_requests = requests.iter().filter(|r| r.contains("filter=")).count();
    let probes = requests.iter().filter(|r| r.contains("count=1")).count();
    assert!(
        user_requests <= 5,
        "{user_requests} user requests reached the server after its token was revoked"
    );
    assert_eq!(user_requests + probes, requests.len(), "{requests:?}");
    assert_eq!(refused, user_requests, "one answer per request sent");
    quarantined
}

/// `GET http://<address><path>`: the status and the body.
pub(crate) fn http_get(address: &str, path: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .get(&format!("http://{address}{path}"))
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .read_to_string()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    (status, body)
}

/// Parse each exposition with the reference parser (Python's `prometheus_client.parser`, in
/// the NATS venv): per file, each family's name and the `iam_jobs_total` samples summed by
/// outcome. A file it cannot parse fails the test.
pub(crate) fn parse_expositions(files: &[PathBuf]) -> Vec<Value> {
    let python = nats_server_binary().with_file_name("python");
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
parsed = []
for path in sys.argv[1:]:
    families = list(text_string_to_metric_families(open(path).read()))
    jobs = {}
    for family in families:
        for sample in family.samples:
            if sample.name == "iam_jobs_total":
                outcome = sample.labels["outcome"]
                jobs[outcome] = jobs.get(outcome, 0) + sample.value
    parsed.append({"families": sorted(f.name for f in families), "jobs": jobs})
print(json.dumps(parsed))
"#;
    let output = std::process::Command::new(&python)
        .arg("-c")
        .arg(script)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        output.status.success(),
        "the parser refused the exposition: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the parser's JSON")
}

#[test]
fn a_workers_metrics_parse_during_a_run_and_their_job_counts_equal_the_results() {
    let scratch = Scratch::new("metrics");
    let (alpha, beta) = (ScimServer::start(), ScimServer::start());
    let tenants = tenants_file(&scratch, &[("alpha", &alpha), ("beta", &beta)]);
    // A third tenant whose configuration has no url: each of its commands is a Type 4.
    let mut all: Value = serde_json::from_str(&read(&tenants)).expect("the tenants file");
    all["tenants"]["broken"] = json!({"access_token": "broken-token-123456"});
    std::fs::write(&tenants, all.to_string()).expect("write the tenants file");
    let nats = NatsServer::start(&scratch);
    let worker = pulling_worker(
        &scratch,
        &nats.url,
        &tenants,
        &[
            "--metrics",
            "127.0.0.1:0",
            "--concurrency",
            "4",
            "--per-tenant",
            "2",
        ],
    );
    let stderr = read(&scratch.path("worker.err"));
    let address = stderr
        .lines()
        .find_map(|line| line.split("on http://").nth(1))
        .unwrap_or_else(|| panic!("no metrics address: {stderr}"))
        .trim()
        .to_string();
    assert_eq!(http_get(&address, "/healthz").0, 200);
    assert_eq!(http_get(&address, "/readyz"), (200, "ready\n".to_string()));

    let mut jobs = Vec::new();
    for n in 0..20 {
        jobs.push(create_job(&format!("alpha-{n}"), "alpha", n));
        jobs.push(create_job(&format!("beta-{n}"), "beta", n));
    }
    // Answered by the worker: a Type 4 and two refusals.
    jobs.push(json!({"id": "broken", "tenant": "broken", "command": "test-module"}).to_string());
    jobs.push(
        json!({"id": "no-such-tenant", "tenant": "delta", "command": "iam-get-user"}).to_string(),
    );
    jobs.push(
        json!({"id": "no-such-command", "tenant": "beta", "command": "iam-frob"}).to_string(),
    );
    let input = scratch.path("jobs.jsonl");
    write_lines(&input, &jobs);
    let output = scratch.path("results.jsonl");
    let mut submit = submitting(&scratch, &nats.url, &input, &output);
    let mut scrapes = Vec::new();
    while submit.is_running() {
        let (status, text) = http_get(&address, "/metrics");
        assert_eq!(status, 200);
        let path = scratch.path(&format!("scrape-{}.txt", scrapes.len()));
        std::fs::write(&path, text).expect("keep the scrape");
        scrapes.push(path);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        submit.wait(RUN_TIMEOUT).success(),
        "{}",
        read(&scratch.path("submit.err"))
    );
    let (_, last) = http_get(&address, "/metrics");
    let last_path = scratch.path("scrape-last.txt");
    std::fs::write(&last_path, &last).expect("keep the scrape");
    scrapes.push(last_path);
    assert!(scrapes.len() >= 2, "at least one scrape during the run");
    let parsed = parse_expositions(&scrapes);

    let results = results_by_id(&output);
    assert_eq!(results.len(), 43);
    let mut by_exit = [0.0_f64; 3];
    for result in results.values() {
        let exit = result["exit"].as_u64().expect("an exit") as usize;
        by_exit[exit] += 1.0;
    }
    assert_eq!(by_exit, [40.0, 1.0, 2.0], "the run's own outcomes");
    let final_counts = &parsed.last().expect("the last scrape")["jobs"];
    for (outcome, expected) in ["ok", "error", "refused"].iter().zip(by_exit) {
        assert_eq!(
            final_counts[outcome].as_f64().unwrap_or(0.0),
            expected,
            "{outcome}: {final_counts}"
        );
    }
    let families = &parsed.last().expect("the last scrape")["families"];
    for family in [
        "iam_jobs",
        "iam_http_requests",
        "iam_http_request_duration_seconds",
        "iam_commands_in_flight",
        "iam_quarantined_tenants",
        "iam_job_redeliveries",
    ] {
        assert!(
            families
                .as_array()
                .is_some_and(|all| all.iter().any(|f| f == family)),
            "{family} in {families}"
        );
    }
    // (Families by tenant with no sample yet, such as Retry-After waits and quarantines when
    // none happened, are left out of the exposition.)
    assert!(
        last.contains("iam_http_requests_total{tenant=\"alpha\",class=\"2xx\"}"),
        "{last}"
    );
    stop_worker(&scratch, worker);
}

#[test]
fn sigterm_ends_a_worker_with_commands_in_flight_and_a_poison_job() {
    let scratch = Scratch::new("sigterm");
    let (slow, arrivals) = finding_no_one(Duration::from_secs(3));
    let huge_name = "x".repeat(4_700_000);
    let big = Server::start(move |_| {
        json_reply(
            200,
            &format!(
                r#"{{"totalResults":1,"Resources":[{{"id":"u1","userName":"jd@example.com","active":true,"displayName":"{huge_name}"}}]}}"#
            ),
        )
    });
    let tenants = loopback_tenants_file(
        &scratch,
        &[
            ("slow", &slow, "slow-token-123456"),
            ("big", &big, "big-token-1234567"),
        ],
    );
    let nats = NatsServer::start(&scratch);
    let mut worker = pulling_worker(
        &scratch,
        &nats.url,
        &tenants,
        &["--concurrency", "4", "--per-tenant", "2"],
    );
    let mut jobs = vec![get_job("poison", "big", "jd@example.com")];
    jobs.extend((0..10).map(|n| get_job(&format!("slow-{n}"), "slow", "nobody@example.com")));
    let input = scratch.path("jobs.jsonl");
    write_lines(&input, &jobs);
    let output = scratch.path("results.jsonl");
    let _submit = submitting(&scratch, &nats.url, &input, &output);
    let deadline = Instant::now() + RUN_TIMEOUT;
    while arrivals.lock().unwrap_or_else(|p| p.into_inner()).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "{}",
            read(&scratch.path("worker.err"))
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Two slow commands in flight, eight jobs waiting for the tenant's share.
    worker.signal("TERM");
    let status = worker.wait(Duration::from_secs(30));
    let stderr = read(&scratch.path("worker.err"));
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(" stopped after "), "{stderr}");
}

/// The result lines stored under `tenant`'s results subject, by id, once `ids` all have one
/// (read through a consumer of the test's own; `None` when they do not within `within`).
async fn stored_results(
    context: &async_nats::jetstream::Context,
    tenant: &str,
    ids: &[&str],
    within: Duration,
) -> Option<std::collections::BTreeMap<String, Value>> {
    use futures_util::StreamExt as _;
    let config = async_nats::jetstream::consumer::pull::Config {
        filter_subject: format!("iam.results.{tenant}"),
        ..Default::default()
    };
    let reader = async {
        let stream = loop {
            // The worker makes the stream when it starts.
            match context.get_stream("IAM_RESULTS").await {
                Ok(stream) => break stream,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let consumer = stream.create_consumer(config).await.expect("a consumer");
        let mut messages = consumer.messages().await.expect("messages");
        let mut found = std::collections::BTreeMap::new();
        while !ids.iter().all(|id| found.contains_key(*id)) {
            let message = messages.next().await?.ok()?;
            let value: Value = serde_json::from_slice(&message.payload).ok()?;
            if let Some(id) = value["id"].as_str() {
                found.insert(id.to_string(), value);
            }
        }
        Some(found)
    };
    tokio::time::timeout(within, reader).await.ok().flatten()
}

#[test]
fn a_job_whose_refusal_is_larger_than_a_message_or_an_id_taken_by_a_message_without_a_command_still_ends()
 {
    // Found in review: (1) a job naming an unknown command of 700 KB was refused with the
    // command quoted in the error, a line over NATS's 1 MiB, which the worker retried for ever:
    // the job held its slot (with --concurrency 1, the worker ran nothing else) and SIGTERM
    // never ended the worker. (2) A message under a job's id that gave no usable command was
    // refused by the worker with a result naming no command, which submit ignored as not
    // the tenant's: it waited for ever for a result the stream would never take.
    let scratch = Scratch::new("refusal-too-large");
    let (server, arrivals) = finding_no_one(Duration::ZERO);
    let tenants = loopback_tenants_file(&scratch, &[("acme", &server, "acme-token-123456")]);
    let nats = NatsServer::start(&scratch);
    let worker = pulling_worker(&scratch, &nats.url, &tenants, &["--concurrency", "1"]);
    let huge_command = "x".repeat(700_000);
    let runtime = runtime();
    let results = runtime.block_on(async {
        let client = async_nats::connect(&nats.url).await.expect("connect");
        let context = async_nats::jetstream::new(client);
        let huge = json!({"id": "huge-1", "command": huge_command}).to_string();
        assert!(stored(&context, "iam.jobs.acme", "acme:huge-1", huge).await);
        let after = json!({"id": "after-1", "command": "no-such-command"}).to_string();
        assert!(stored(&context, "iam.jobs.acme", "acme:after-1", after).await);
        let no_command = json!({"id": "taken-1", "command": 5}).to_string();
        assert!(stored(&context, "iam.jobs.acme", "acme:taken-1", no_command).await);
        stored_results(
            &context,
            "acme",
            &["huge-1", "after-1", "taken-1"],
            Duration::from_secs(60),
        )
        .await
    });
    let results = results.unwrap_or_else(|| {
        panic!(
            "the worker answered not every job within 60 s:\n{}",
            read(&scratch.path("worker.err"))
        )
    });
    let huge = &results["huge-1"];
    assert_eq!(huge["exit"], 2, "{}", huge["error"]);
    assert_eq!(huge["tenant"], "acme");
    assert_eq!(huge["command"].as_str(), Some(huge_command.as_str()));
    assert!(
        huge["error"]
            .as_str()
            .is_some_and(|error| error.starts_with("the job is refused; the refusal, ")),
        "{}",
        huge["error"]
    );
    assert_eq!(results["after-1"]["exit"], 2);
    assert_eq!(results["taken-1"]["exit"], 2);

    // submit's own job under the id taken-1 is refused, not left waiting.
    let input = scratch.path("jobs.jsonl");
    write_lines(&input, &[get_job("taken-1", "acme", "jd@example.com")]);
    let output = scratch.path("results.jsonl");
    let mut submit = submitting(&scratch, &nats.url, &input, &output);
    let status = submit.wait(Duration::from_secs(60));
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        read(&scratch.path("submit.err"))
    );
    let written = results_by_id(&output);
    let taken = &written["taken-1"];
    assert_eq!(
        (&taken["exit"], &taken["tenant"], &taken["command"]),
        (&json!(2), &json!("acme"), &json!("iam-get-user")),
        "{taken}"
    );
    assert!(
        taken["error"]
            .as_str()
            .is_some_and(|error| error.contains("already used by a message that is no job")),
        "{taken}"
    );
    assert!(
        arrivals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty(),
        "no job ran"
    );
    // The worker holds no job: SIGTERM ends it, exit 0.
    stop_worker(&scratch, worker);
}
