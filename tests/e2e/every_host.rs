//! Hostile servers, live, under every host: the same command line through `iam-host` (the gate
//! linked natively), the Python host and the Node host (the gate composed in Wasm) must end the
//! same way, byte for byte on stdout and with the same exit status, because the rules are the
//! gate's and only the wire is each host's own. Each scenario also checks what the outcome
//! must be, worked out from the contract, on iam-host's output.
//!
//! Servers bind 127.0.0.1 and stop when dropped (support/server.rs).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::hardening::{TOKEN, assert_no_token, echoing_user, get_user_args, params};
use crate::support::hosts::{self, hostile_components};
use crate::support::scratch::Scratch;
use crate::support::server::{Reply, Server, http};

/// How one host ended.
struct Ended {
    host: &'static str,
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

fn ended(host: &'static str, mut command: Command, env: &[(&str, &str)]) -> Ended {
    // Only the proxy settings a scenario gives: none from the machine running the tests.
    for name in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "NO_PROXY",
        "no_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied()).stdin(Stdio::null());
    let started = Instant::now();
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run the {host} host: {e}"));
    Ended {
        host,
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// Run `words` under every host (`connectors`: iam-host's connector and the others' gated
/// component) with `env`; every host must match iam-host's exit status and stdout. All three
/// runs, iam-host's first.
fn under_every_host(
    words: &[&OsStr],
    env: &[(&str, &str)],
    connectors: Option<&(PathBuf, PathBuf)>,
) -> Vec<Ended> {
    let (rust, python, node) = match connectors {
        Some((connector, gated)) => (
            hosts::iam_host_over(words, connector),
            hosts::python_host_over(words, gated),
            hosts::node_host_over(words, gated),
        ),
        None => (
            hosts::iam_host(words),
            hosts::python_host(words),
            hosts::node_host(words),
        ),
    };
    let runs = vec![
        ended("iam-host", rust, env),
        ended("Python", python, env),
        ended("Node", node, env),
    ];
    let reference = &runs[0];
    for run in &runs[1..] {
        assert_eq!(
            (run.code, &run.stdout),
            (reference.code, &reference.stdout),
            "the {} host differs from iam-host\n  its stderr: {}\n  iam-host's stderr: {}",
            run.host,
            run.stderr.trim_end(),
            reference.stderr.trim_end()
        );
    }
    runs
}

fn entry(run: &Ended) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: stdout is not one entry ({e}): {}\n{}",
            run.host, run.stdout, run.stderr
        )
    })
}

fn live_get_user(config: &Path, args: &Path) -> Vec<PathBuf> {
    vec![
        "run".into(),
        "iam-get-user".into(),
        "--config".into(),
        config.to_path_buf(),
        "--args".into(),
        args.to_path_buf(),
        "--live".into(),
    ]
}

/// The words of `run test-module` with the hostile guest (tests/hostile): its instance is
/// `settings` (the `hostile` mode and what that mode reads) over `url`, the token and a
/// directory, written to `name` in `dir`; `rest` follows.
fn hostile_test_module(
    dir: &Scratch,
    name: &str,
    url: &str,
    settings: Value,
    rest: Vec<PathBuf>,
) -> Vec<PathBuf> {
    let mut config = json!({"url": url, "access_token": TOKEN, "directory_id": "d"});
    for (key, value) in settings.as_object().cloned().unwrap_or_default() {
        config[key] = value;
    }
    let mut words: Vec<PathBuf> = vec![
        "run".into(),
        "test-module".into(),
        "--config".into(),
        dir.json(name, &config),
    ];
    words.extend(rest);
    words
}

fn os(words: &[PathBuf]) -> Vec<&OsStr> {
    words.iter().map(|w| w.as_os_str()).collect()
}

#[test]
fn a_token_echoed_in_every_form_reaches_no_host_output() {
    let server = Server::start(|_| echoing_user(TOKEN));
    let dir = Scratch::new("echo");
    let config = dir.json("config.json", &params(&server.url(), TOKEN, json!({})));
    let args = dir.json("args.json", &get_user_args());
    let words = live_get_user(&config, &args);
    let runs = under_every_host(&os(&words), &[], None);
    let found = entry(&runs[0]);
    assert_eq!(runs[0].code, 0, "{}", runs[0].stderr);
    assert_eq!(found["Contents"]["success"], true, "{found:#}");
    assert_eq!(found["Contents"]["username"], "<redacted>", "{found:#}");
    for run in &runs {
        assert_no_token(TOKEN, &format!("{}'s stdout", run.host), &run.stdout);
        assert_no_token(TOKEN, &format!("{}'s stderr", run.host), &run.stderr);
    }
    // Each host sent the token itself: the gate attached it.
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    let attached = format!("authorization: bearer {}", TOKEN.to_ascii_lowercase());
    assert!(
        requests
            .iter()
            .all(|r| r.to_ascii_lowercase().contains(&attached)),
        "{requests:?}"
    );
}

#[test]
fn ids_of_dot_and_dot_dot_are_failed_results_and_nothing_is_sent() {
    let server = Server::start(|_| http(200, &[], "{}"));
    let dir = Scratch::new("dots");
    let config = dir.json("config.json", &params(&server.url(), TOKEN, json!({})));
    for id in [".", ".."] {
        let args = dir.json(
            "args.json",
            &json!({"user-profile": {"id": id, "email": "jd@example.com"}}),
        );
        let words = live_get_user(&config, &args);
        let runs = under_every_host(&os(&words), &[], None);
        let found = entry(&runs[0]);
        assert_eq!(
            (runs[0].code, &found["Contents"]["success"]),
            (0, &json!(false)),
            "{id}: {found:#}"
        );
    }
    assert_eq!(server.connections(), 0, "a request was sent");
}

#[test]
fn a_loopback_target_never_goes_through_the_proxy_under_any_host() {
    let password = "proxy-pass-Every7";
    let target = Server::start(|_| {
        http(
            200,
            &[("content-type", "application/json")],
            r#"{"totalResults":0,"Resources":[]}"#,
        )
    });
    let proxy = Server::start(|_| http(502, &[], "the proxy must not be used"));
    let dir = Scratch::new("proxy");
    let config = dir.json(
        "config.json",
        &params(&target.url(), TOKEN, json!({"proxy": true})),
    );
    let args = dir.json("args.json", &get_user_args());
    let proxy_url = format!("http://proxyuser:{password}@{}", proxy.address());
    let env = [
        ("HTTP_PROXY", proxy_url.as_str()),
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("http_proxy", proxy_url.as_str()),
    ];
    let words = live_get_user(&config, &args);
    let runs = under_every_host(&os(&words), &env, None);
    assert_eq!(runs[0].code, 0, "{}", runs[0].stderr);
    assert_eq!(proxy.connections(), 0, "the proxy was used");
    assert_eq!(
        target.connections(),
        3,
        "each host reached the target directly"
    );
    for run in &runs {
        assert!(
            !run.stdout.contains(password) && !run.stderr.contains(password),
            "{}: {}{}",
            run.host,
            run.stdout,
            run.stderr
        );
    }
}

/// A live `iam-get-user` against `server` under every host, with a 1 s request timeout and a
/// 3 s wall budget: each host exits 0 with the same entry, within 15 s, and the entry says the
/// request timed out. The entry, for more checks. (`case` names the run in a failure.)
fn a_timed_out_get_user_under_every_host(server: &Server, case: &str) -> Value {
    let dir = Scratch::new("timed-out");
    let config = dir.json("config.json", &params(&server.url(), TOKEN, json!({})));
    let args = dir.json("args.json", &get_user_args());
    let limits = dir.json(
        "limits.json",
        &json!({"wall_millis": 3000, "request_timeout_millis": 1000}),
    );
    let mut words = live_get_user(&config, &args);
    words.extend(["--limits".into(), limits]);
    let runs = under_every_host(&os(&words), &[], None);
    let found = entry(&runs[0]);
    assert_eq!(runs[0].code, 0, "{case}: {}", runs[0].stderr);
    let message = found["Contents"]["errorMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("timed out"), "{case}: {message}");
    for run in &runs {
        assert!(
            run.took < Duration::from_secs(15),
            "{case}: {} took {:?}",
            run.host,
            run.took
        );
    }
    found
}

#[test]
fn a_server_that_never_answers_is_a_failed_result_within_the_budget_under_every_host() {
    let server = Server::start(|_| Reply::Never);
    let found = a_timed_out_get_user_under_every_host(&server, "never answers");
    assert_eq!(
        (
            &found["Contents"]["success"],
            &found["Contents"]["errorCode"]
        ),
        (&json!(false), &Value::Null),
        "{found:#}"
    );
}

#[test]
fn a_server_that_drips_its_answer_is_a_failed_result_within_the_budget_under_every_host() {
    // Each byte comes well within any read timeout, but the whole answer would take minutes:
    // the request's timeout (1 s) bounds the request, not each read. Once with the head
    // dripped, once with the head whole and the body dripped.
    let body = "x".repeat(600);
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let head_len = answer.find(body.as_str()).unwrap_or(0);
    for dripped_head in [true, false] {
        let answer = answer.clone();
        let server = Server::start(move |_| Reply::Drip {
            bytes: answer.clone().into_bytes(),
            at_once: if dripped_head { 0 } else { head_len },
            every: Duration::from_millis(200),
        });
        a_timed_out_get_user_under_every_host(&server, &format!("dripped head {dripped_head}"));
    }
}

#[test]
fn an_oversized_answer_is_a_failed_result_naming_the_cap_under_every_host() {
    let body = format!(
        r#"{{"totalResults":1,"Resources":[{{"id":"u1","userName":"{}"}}]}}"#,
        "x".repeat(200_000)
    );
    let server = Server::start(move |_| http(200, &[("content-type", "application/json")], &body));
    let dir = Scratch::new("oversized");
    let config = dir.json("config.json", &params(&server.url(), TOKEN, json!({})));
    let args = dir.json("args.json", &get_user_args());
    let limits = dir.json("limits.json", &json!({"response_bytes": 65536}));
    let mut words = live_get_user(&config, &args);
    words.extend(["--limits".into(), limits]);
    let runs = under_every_host(&os(&words), &[], None);
    let found = entry(&runs[0]);
    let message = found["Contents"]["errorMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.ends_with("the response was larger than the host's cap of 65536 bytes"),
        "{found:#}"
    );
}

#[test]
fn a_configured_url_with_a_password_reaches_nothing_and_prints_no_password() {
    let server = Server::start(|_| http(200, &[], "{}"));
    let dir = Scratch::new("userinfo");
    let url = format!("http://jdoe:hunter2-secret@{}", server.address());
    let config = dir.json("config.json", &params(&url, TOKEN, json!({})));
    let args = dir.json("args.json", &get_user_args());
    let words = live_get_user(&config, &args);
    let runs = under_every_host(&os(&words), &[], None);
    for run in &runs {
        assert!(
            !run.stdout.contains("hunter2") && !run.stderr.contains("hunter2"),
            "{}: {}{}",
            run.host,
            run.stdout,
            run.stderr
        );
    }
    assert_eq!(server.connections(), 0, "a request was sent");
}

#[test]
fn a_memory_bomb_ends_in_the_same_entry_naming_the_limit_under_every_host() {
    let dir = Scratch::new("bomb");
    let cassette = dir.json("cassette.json", &json!({"interactions": []}));
    let limits = dir.json("limits.json", &json!({"memory_bytes": 16 << 20}));
    let words = hostile_test_module(
        &dir,
        "config.json",
        "https://a.example",
        json!({"hostile": "memory"}),
        vec!["--cassette".into(), cassette, "--limits".into(), limits],
    );
    let runs = under_every_host(&os(&words), &[], Some(hostile_components()));
    let found = entry(&runs[0]);
    assert_eq!(runs[0].code, 1, "{}", runs[0].stderr);
    let contents = found["Contents"].as_str().unwrap_or_default();
    assert!(
        contents.starts_with("The test-module command was stopped by the host: it used more than its memory limit of 16777216 bytes (it asked for "),
        "{contents}"
    );
}

#[test]
fn every_hostile_guest_ends_in_the_same_entry_under_every_host() {
    // What the Rust host's sandbox tests (limits.rs) and the Python suite check of the hostile
    // guest, held under the Node host too: each stop is named from a typed cause, never from
    // text the guest wrote (panic-logged only logs a panic's words, then traps). A stack
    // overflow is a trap in the runtime's own words, which differ under V8: see below.
    let dir = Scratch::new("hostile");
    let cassette = dir.json("cassette.json", &json!({"interactions": []}));
    let limits = dir.json(
        "limits.json",
        &json!({"memory_bytes": 16 << 20, "cpu_millis": 500}),
    );
    for (mode, stopped_by) in [
        ("panic", "the component panicked: panicked at "),
        ("panic-logged", "the component trapped: "),
        ("loop", "it used more than its CPU time limit of 500 ms"),
    ] {
        let words = hostile_test_module(
            &dir,
            &format!("{mode}.json"),
            "https://a.example",
            json!({"hostile": mode}),
            vec![
                "--cassette".into(),
                cassette.clone(),
                "--limits".into(),
                limits.clone(),
            ],
        );
        let runs = under_every_host(&os(&words), &[], Some(hostile_components()));
        let contents = entry(&runs[0])["Contents"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            runs[0].code == 1
                && contents.starts_with(&format!(
                    "The test-module command was stopped by the host: {stopped_by}"
                )),
            "{mode}: {contents}"
        );
    }
}

#[test]
fn a_stack_overflow_is_a_trap_under_every_host() {
    let dir = Scratch::new("stack");
    let cassette = dir.json("cassette.json", &json!({"interactions": []}));
    let words = hostile_test_module(
        &dir,
        "config.json",
        "https://a.example",
        json!({"hostile": "stack"}),
        vec!["--cassette".into(), cassette],
    );
    let (connector, gated) = hostile_components();
    let runs = [
        ended(
            "iam-host",
            hosts::iam_host_over(&os(&words), connector),
            &[],
        ),
        ended("Python", hosts::python_host_over(&os(&words), gated), &[]),
        ended("Node", hosts::node_host_over(&os(&words), gated), &[]),
    ];
    // The trap is named in each runtime's words: wasmtime's (iam-host, Python) or V8's (Node).
    assert_eq!(runs[1].stdout, runs[0].stdout, "Python: {}", runs[1].stderr);
    for (run, words) in runs.iter().zip([
        "call stack exhausted",
        "call stack exhausted",
        "Maximum call stack size exceeded",
    ]) {
        let contents = entry(run)["Contents"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            run.code == 1
                && contents.starts_with(
                    "The test-module command was stopped by the host: the component trapped: "
                )
                && contents.ends_with(words),
            "{}: {contents}",
            run.host
        );
    }
}

#[test]
fn a_guest_that_floods_its_request_budget_is_stopped_the_same_way_under_every_host() {
    let server = Server::start(|_| http(200, &[], "{}"));
    let dir = Scratch::new("flood");
    let limits = dir.json("limits.json", &json!({"max_requests": 8}));
    let words = hostile_test_module(
        &dir,
        "config.json",
        &server.url(),
        json!({"hostile": "flood"}),
        vec!["--live".into(), "--limits".into(), limits],
    );
    let runs = under_every_host(&os(&words), &[], Some(hostile_components()));
    assert_eq!(
        entry(&runs[0])["Contents"],
        "The test-module command was stopped by the host: it kept sending HTTP requests after using up its budget of 8"
    );
    // Each host sent the budget and not one request more.
    assert_eq!(server.connections(), 3 * 8);
}

/// The hostile guest's `send-all` mode (tests/hostile: `count` requests to
/// `<url>/hostile/<n>` in one `http.send-all`, the one at `deny` with a `Cookie` header),
/// run as test-module with these extra words.
fn send_all_words(dir: &Scratch, url: &str, max_requests: u32, mode: &[&str]) -> Vec<PathBuf> {
    let limits = dir.json("limits.json", &json!({"max_requests": max_requests}));
    let mut rest: Vec<PathBuf> = vec!["--limits".into(), limits];
    rest.extend(mode.iter().map(PathBuf::from));
    hostile_test_module(
        dir,
        "send-all.json",
        url,
        json!({"hostile": "send-all", "count": "5", "deny": "1"}),
        rest,
    )
}

/// What the guest reports of five requests, the second denied for its `Cookie` header, under
/// a budget of three: the answers in list order; the denied one refused alone (a refusal
/// spends no budget); the three others allowed sent; the fifth refused for the budget.
fn send_all_expected(bodies: [&str; 3]) -> String {
    format!(
        "0: 200 {}; 1: HttpError::Denied(Denial::ForbiddenHeader(\"Cookie\")); 2: 200 {}; 3: 200 {}; 4: HttpError::TooManyRequests(3)",
        bodies[0], bodies[1], bodies[2]
    )
}

#[test]
fn a_send_all_under_replay_answers_in_list_order_and_counts_each_request_under_every_host() {
    let dir = Scratch::new("send-all-replay");
    // The cassette's answers differ, so an answer given to the wrong request shows.
    let interactions: Vec<Value> = [0, 2, 3]
        .iter()
        .map(|n| {
            json!({"request": {"method": "GET", "url": format!("https://a.example/hostile/{n}")},
                   "response": {"status": 200, "body": format!("replayed-{n}")}})
        })
        .collect();
    let cassette = dir.json("cassette.json", &json!({ "interactions": interactions }));
    let cassette = cassette.to_string_lossy().into_owned();
    let words = send_all_words(&dir, "https://a.example", 3, &["--cassette", &cassette]);
    let runs = under_every_host(&os(&words), &[], Some(hostile_components()));
    assert_eq!(runs[0].code, 0, "{}", runs[0].stderr);
    assert_eq!(
        entry(&runs[0])["Contents"],
        send_all_expected(["replayed-0", "replayed-2", "replayed-3"])
    );
}

#[test]
fn a_send_all_live_sends_only_the_allowed_requests_and_answers_in_order_under_every_host() {
    // Each answer names the path it answers.
    let server = Server::start(|raw| {
        let head = String::from_utf8_lossy(raw);
        let path = head.split(' ').nth(1).unwrap_or_default().to_string();
        http(200, &[], &format!("answer-to-{path}"))
    });
    let dir = Scratch::new("send-all-live");
    let words = send_all_words(&dir, &server.url(), 3, &["--live"]);
    let runs = under_every_host(&os(&words), &[], Some(hostile_components()));
    assert_eq!(runs[0].code, 0, "{}", runs[0].stderr);
    assert_eq!(
        entry(&runs[0])["Contents"],
        send_all_expected([
            "answer-to-/hostile/0",
            "answer-to-/hostile/2",
            "answer-to-/hostile/3"
        ])
    );
    // Three requests per host reached the server: never the denied one nor the fifth.
    assert_eq!(server.connections(), 3 * 3);
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .all(|r| !r.to_ascii_lowercase().contains("cookie")),
        "{requests:?}"
    );
}

#[test]
fn iam_host_and_the_python_host_carry_a_send_all_at_once() {
    // Eight requests to a server that takes 300 ms over each: carried one after another they
    // take 2.4 s from the first arrival to the last answer; carried at once, about 300 ms
    // (iam-host), or 600 ms in the gate's two batches at the default response cap (6 and 2,
    // the Python host). Measured at the server, so a host's start-up does not count. The bound
    // is generous. (The Node host's wire is synchronous: it sends them one after another.)
    const TAKES: Duration = Duration::from_millis(300);
    let (connector, gated) = hostile_components();
    for host in ["iam-host", "Python"] {
        let times: std::sync::Arc<std::sync::Mutex<Vec<(Instant, Instant)>>> = Default::default();
        let server = {
            let times = times.clone();
            Server::start(move |_| {
                let arrived = Instant::now();
                std::thread::sleep(TAKES);
                times
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((arrived, Instant::now()));
                http(200, &[], "slow")
            })
        };
        let dir = Scratch::new("send-all-at-once");
        let words = hostile_test_module(
            &dir,
            "config.json",
            &server.url(),
            json!({"hostile": "send-all", "count": "8"}),
            vec!["--live".into()],
        );
        let command = match host {
            "iam-host" => hosts::iam_host_over(&os(&words), connector),
            _ => hosts::python_host_over(&os(&words), gated),
        };
        let run = ended(host, command, &[]);
        assert_eq!(run.code, 0, "{host}: {}", run.stderr);
        let expected: Vec<String> = (0..8).map(|n| format!("{n}: 200 slow")).collect();
        assert_eq!(entry(&run)["Contents"], expected.join("; "), "{host}");
        let times = times.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(times.len(), 8, "{host}");
        let first = times.iter().map(|(arrived, _)| *arrived).min().unwrap();
        let last = times.iter().map(|(_, answered)| *answered).max().unwrap();
        assert!(
            last - first < Duration::from_millis(1500),
            "{host}: eight requests of 300 ms took {:?} at the server: not carried at once",
            last - first
        );
    }
}

#[test]
fn no_command_line_host_has_a_platform_mapper() {
    // The hostile guest's `map-object` mode reports what `platform.map-object` answered.
    let dir = Scratch::new("map-object");
    let cassette = dir.json("cassette.json", &json!({"interactions": []}));
    let words = hostile_test_module(
        &dir,
        "config.json",
        "https://a.example",
        json!({"hostile": "map-object", "mapper": "Atlassian IAM - Outgoing"}),
        vec!["--cassette".into(), cassette],
    );
    let runs = under_every_host(&os(&words), &[], Some(hostile_components()));
    assert_eq!(runs[0].code, 0, "{}", runs[0].stderr);
    assert_eq!(
        entry(&runs[0])["Contents"],
        "refused: this host has no platform mapper"
    );
}
