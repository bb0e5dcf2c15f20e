//! Sandbox limits and fault tolerance. Hostile components (tests/hostile, built against the
//! real WIT) loop, bomb memory, flood requests, panic, overflow their stack, sleep forever or
//! send oversized requests: each is stopped at its limit with the cause named in a Type 4
//! entry, while a well-behaved tenant on the same host, at the same time, succeeds. Hostile
//! servers answer the real component with bodies that are not JSON, wrongly typed, nested
//! 100,000 deep, larger than the cap or not UTF-8, and with 429 more often than the retry
//! limit: each is a failed result, never a panic or a trap.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use iam_host::backend::{BackendError, IncomingResponse, OutgoingRequest};
use iam_host::limits::{DEFAULT_RESPONSE_BYTES, Limits};
use iam_host::{EntryType, Host, HostConfig, Report};
use iam_host_cli::artifact;
use serde_json::{Map, Value, json};

use crate::fuzz;
use crate::support::{
    self, Scripted, Seen, answer, entry_of, object, run, tenant_params, tenant_token,
};

/// Limits of the hostile host: small, so that each hostile mode meets its limit quickly, and
/// still far above what the well-behaved mode needs (one request, microseconds of CPU), even
/// on a loaded 2-core machine.
fn hostile_limits() -> Limits {
    Limits {
        memory_bytes: 16 << 20,
        cpu_millis: 500,
        max_requests: 8,
        response_bytes: 64 << 10,
        wall_millis: 20_000,
        request_bytes: 64 << 10,
        ..Limits::default()
    }
}

/// The hostile component, built once per test run (as `support::component` builds the real
/// one).
pub fn hostile_component() -> &'static Path {
    static HOSTILE: OnceLock<PathBuf> = OnceLock::new();
    HOSTILE.get_or_init(|| match artifact::build_wasm_package("hostile-guest") {
        Ok(wasm) => wasm,
        Err(e) => panic!("cannot build the hostile component (tests/hostile): {e:#}"),
    })
}

/// One host over the hostile component, shared by the tests, as tenants share a host.
pub fn hostile_host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| support::host_over(hostile_component(), hostile_limits()))
}

/// Run test-module on the hostile host for tenant `n`, in hostile mode `mode`.
fn run_hostile(mode: &str, n: usize) -> (Report, Vec<OutgoingRequest>) {
    let mut params = tenant_params(n);
    params.insert("hostile".into(), json!(mode));
    let backend = Scripted::answering(Vec::new());
    let seen = backend.seen();
    let report = run(hostile_host(), "test-module", params, Map::new(), backend);
    (report, seen.requests())
}

/// The Type 4 message of a command the host stopped.
fn stopped_message(report: &Report) -> String {
    let (entry_type, entry) = entry_of(report);
    assert_eq!(entry_type, EntryType::Error, "{entry}");
    assert_eq!(entry["Type"], json!(4), "{entry}");
    let contents = entry["Contents"].as_str().unwrap_or_default().to_string();
    assert!(
        contents.starts_with("The test-module command was stopped by the host: "),
        "{contents}"
    );
    contents
}

/// Check that the well-behaved tenant `n` succeeded with one request, to its own origin,
/// carrying its own token.
fn assert_well_behaved(n: usize, report: &Report, sent: &[OutgoingRequest]) {
    let (entry_type, entry) = entry_of(report);
    assert_eq!(
        (entry_type, &entry),
        (
            EntryType::Note,
            &json!({"Type": 1, "ContentsFormat": "text", "Contents": "ok"})
        ),
        "tenant {n}"
    );
    let [request] = sent else {
        panic!("tenant {n} sent {sent:?}")
    };
    assert_eq!(
        request.url.as_str(),
        format!("https://tenant-{n}.example/hostile")
    );
    let authorization: Vec<&str> = request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(authorization, [format!("Bearer {}", tenant_token(n))]);
}

/// Run hostile `mode` for tenant 1 while tenant 2 runs well-behaved commands on the same host
/// until the hostile one has ended; the hostile report and what its server saw.
fn contained(mode: &str) -> (Report, Vec<OutgoingRequest>) {
    std::thread::scope(|scope| {
        let hostile = scope.spawn(|| run_hostile(mode, 1));
        let mut well_behaved_runs = 0;
        while well_behaved_runs == 0 || !hostile.is_finished() {
            let (report, sent) = run_hostile("none", 2);
            assert_well_behaved(2, &report, &sent);
            well_behaved_runs += 1;
        }
        hostile
            .join()
            .unwrap_or_else(|_| panic!("the host panicked on the hostile mode {mode:?}"))
    })
}

#[test]
fn an_endless_loop_is_stopped_at_the_cpu_limit() {
    let (report, sent) = contained("loop");
    assert_eq!(
        stopped_message(&report),
        "The test-module command was stopped by the host: it used more than its CPU time limit of 500 ms"
    );
    assert!(sent.is_empty());
}

#[test]
fn a_memory_bomb_is_stopped_at_the_memory_limit() {
    let (report, _) = contained("memory");
    let message = stopped_message(&report);
    assert!(
        message.contains("it used more than its memory limit of 16777216 bytes (it asked for "),
        "{message}"
    );
}

#[test]
fn a_request_flood_is_stopped_after_its_budget() {
    let (report, sent) = contained("flood");
    assert_eq!(
        stopped_message(&report),
        "The test-module command was stopped by the host: it kept sending HTTP requests after using up its budget of 8"
    );
    // Only the budget reached the server; the refusals after it never left the host.
    assert_eq!(sent.len(), 8);
}

#[test]
fn a_panic_is_reported_with_its_message() {
    let (report, _) = contained("panic");
    let message = stopped_message(&report);
    assert!(message.contains("the component panicked: "), "{message}");
    assert!(
        message.contains("hostile guest panics on purpose"),
        "{message}"
    );
}

#[test]
fn a_log_line_that_reads_like_a_panic_is_no_panic() {
    // A panic reaches the host through `panic.panicked`, never from sniffed text: a guest that
    // logs "panicked at …" and then traps is reported as the trap it is.
    let (report, _) = contained("panic-logged");
    let message = stopped_message(&report);
    assert_eq!(
        message,
        "The test-module command was stopped by the host: the component trapped: wasm trap: wasm `unreachable` instruction executed"
    );
}

#[test]
fn a_stack_overflow_is_a_named_trap() {
    let (report, _) = contained("stack");
    let message = stopped_message(&report);
    assert!(
        message.contains("the component trapped: ") && message.contains("stack"),
        "{message}"
    );
}

#[test]
fn an_endless_sleep_returns_at_once_and_the_command_ends_by_itself() {
    // behaviour.md §3: a wait past the wall-clock budget is not begun; `sleep` returns at
    // once (the budget counts as spent), and the guest goes on to its own answer.
    let mut params = tenant_params(1);
    params.insert("hostile".into(), json!("sleep"));
    let backend = Scripted::answering(Vec::new());
    let seen = backend.seen();
    let report = run(hostile_host(), "test-module", params, Map::new(), backend);
    assert_eq!(
        entry_of(&report),
        (
            EntryType::Note,
            json!({"Type": 1, "ContentsFormat": "text", "Contents": "slept"})
        )
    );
    assert!(seen.slept().is_empty(), "{:?}", seen.slept());
}

#[test]
fn an_oversized_request_is_refused_before_it_is_copied() {
    let (report, sent) = contained("big-request");
    let (entry_type, entry) = entry_of(&report);
    assert_eq!(entry_type, EntryType::Error);
    let message = entry["Contents"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(
            "the request failed: HttpError::Denied(Denial::RequestTooLarge(SizeRefusal { size: "
        ) && message.ends_with(", cap: 65536 }))"),
        "{message}"
    );
    assert!(sent.is_empty() && report.guest_requests.is_empty());
}

#[test]
fn every_hostile_mode_at_once_leaves_the_well_behaved_tenants_unharmed() {
    const MODES: [&str; 8] = [
        "loop",
        "memory",
        "flood",
        "panic",
        "panic-logged",
        "stack",
        "sleep",
        "big-request",
    ];
    std::thread::scope(|scope| {
        let hostile: Vec<_> = MODES
            .iter()
            .enumerate()
            .map(|(n, mode)| scope.spawn(move || (mode, run_hostile(mode, 100 + n))))
            .collect();
        let well_behaved: Vec<_> = (0..4)
            .map(|n| {
                scope.spawn(move || {
                    for _ in 0..25 {
                        let (report, sent) = run_hostile("none", n);
                        assert_well_behaved(n, &report, &sent);
                    }
                })
            })
            .collect();
        for handle in well_behaved {
            handle
                .join()
                .unwrap_or_else(|_| panic!("a well-behaved tenant failed"));
        }
        for handle in hostile {
            let (mode, (report, _)) = handle
                .join()
                .unwrap_or_else(|_| panic!("the host panicked"));
            let (entry_type, entry) = entry_of(&report);
            let expected = match *mode {
                "big-request" => "RequestTooLarge",
                // A wait past the budget returns at once (behaviour.md §3).
                "sleep" => "slept",
                _ => "stopped by the host",
            };
            assert!(
                entry["Contents"]
                    .as_str()
                    .is_some_and(|c| c.contains(expected)),
                "{mode}: {entry_type:?} {entry}"
            );
        }
    });
}

/// A host whose wall-clock limit (1 s) is short enough to meet in a test, over a CPU limit
/// (300 ms) shorter than the server's delays: what the guest waits for is not its CPU time.
fn slow_host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| {
        let limits = Limits {
            cpu_millis: 300,
            wall_millis: 1_000,
            ..hostile_limits()
        };
        support::host_over(hostile_component(), limits)
    })
}

/// Run test-module against a server that takes `delay_millis` to answer `200 {}`; the report
/// and the timeouts the server was given.
fn run_slow(delay_millis: u64) -> (Report, Vec<Duration>) {
    let mut params = tenant_params(3);
    params.insert("hostile".into(), json!("none"));
    let backend = Scripted::answering(Vec::new()).delayed(Duration::from_millis(delay_millis));
    let seen = backend.seen();
    let report = run(slow_host(), "test-module", params, Map::new(), backend);
    let timeouts = seen
        .requests()
        .iter()
        .map(|request| request.timeout)
        .collect();
    (report, timeouts)
}

#[test]
fn time_blocked_in_a_slow_server_is_not_the_guests_cpu_time() {
    // The server takes longer than the whole CPU limit; the guest only waited.
    let (report, _) = run_slow(500);
    assert_eq!(
        entry_of(&report).1,
        json!({"Type": 1, "ContentsFormat": "text", "Contents": "ok"})
    );
}

#[test]
fn a_server_that_stalls_past_the_wall_clock_limit_is_a_timeout_for_the_guest() {
    // behaviour.md §3: a command waiting in a host call is never killed for wall time; the
    // request answers `timeout` and the guest ends the command itself.
    let (report, timeouts) = run_slow(1_200);
    assert_eq!(
        entry_of(&report).1,
        json!({"Type": 4, "ContentsFormat": "text", "Contents": "the request failed: HttpError::Timeout"})
    );
    // The backend was told to give up within what was left of the command's time.
    let [timeout] = timeouts.as_slice() else {
        panic!("{timeouts:?}")
    };
    assert!(*timeout <= Duration::from_millis(1_000), "{timeout:?}");
}

#[test]
fn a_guest_cannot_reach_another_tenants_origin_credential_or_headers() {
    for (reach, refusal) in [
        (
            json!({"target": "https://tenant-2.example/scim"}),
            "HttpError::Denied(Denial::OriginNotAllowed(OriginRefusal { origin: \"https://tenant-2.example:443\", allowed: Some(\"https://tenant-1.example:443\") }))",
        ),
        (
            json!({"as": "token-2"}),
            "HttpError::UnknownCredential(\"token-2\")",
        ),
        (
            json!({"header": "Authorization"}),
            "HttpError::Denied(Denial::ForbiddenHeader(\"Authorization\"))",
        ),
    ] {
        let mut params = tenant_params(1);
        params.insert("hostile".into(), json!("reach"));
        params.extend(object(reach.clone()));
        let backend = Scripted::answering(Vec::new());
        let sent = backend.seen();
        let report = run(hostile_host(), "test-module", params, Map::new(), backend);
        let (entry_type, entry) = entry_of(&report);
        assert_eq!(entry_type, EntryType::Error, "{reach}");
        assert_eq!(
            entry["Contents"].as_str(),
            Some(format!("the request failed: {refusal}").as_str()),
            "{reach}"
        );
        assert!(
            sent.requests().is_empty(),
            "{reach}: a refused request reached the server"
        );
    }
}

/// The real component against a scripted server, with the default limits: the entry and
/// what the server saw.
fn run_real(
    command: &str,
    args: Value,
    answers: Vec<Result<IncomingResponse, BackendError>>,
) -> (EntryType, Value, Seen) {
    let params = object(
        json!({"url": "https://api.atlassian.com", "access_token": "t0k3n-s3cr3t", "directory_id": "d1"}),
    );
    let backend = Scripted::answering(answers);
    let seen = backend.seen();
    let report = run(support::host(), command, params, object(args), backend);
    let (entry_type, entry) = entry_of(&report);
    let contents = entry["Contents"].to_string();
    assert!(
        !contents.contains("stopped by the host"),
        "the component was stopped: {contents}"
    );
    (entry_type, entry, seen)
}

fn get_user_args() -> Value {
    json!({"user-profile": {"email": "jd@example.com", "username": "jd@example.com"}})
}

/// The vendor result of a failed IAM command: its errorCode and errorMessage.
fn failed_result(entry_type: EntryType, entry: &Value) -> (Value, String) {
    assert_eq!(entry_type, EntryType::Note, "{entry}");
    let contents = &entry["Contents"];
    assert_eq!(
        (&contents["success"], &contents["skipped"]),
        (&json!(false), &json!(false)),
        "{entry}"
    );
    (
        contents["errorCode"].clone(),
        contents["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[test]
fn an_answer_that_is_not_json_is_a_failed_result() {
    let (entry_type, entry, _) = run_real(
        "iam-get-user",
        get_user_args(),
        vec![answer(200, &[], "<html>maintenance</html>")],
    );
    let (code, message) = failed_result(entry_type, &entry);
    assert_eq!(code, json!(200));
    assert!(message.starts_with("The answer to GET https://api.atlassian.com/scim/directory/d1/Users?filter=userName%20eq%20%22jd%40example.com%22 is not JSON ("), "{message}");
    assert!(
        message.ends_with("): <html>maintenance</html>"),
        "{message}"
    );

    let (entry_type, entry, _) = run_real("test-module", json!({}), vec![answer(200, &[], "OK")]);
    assert_eq!(entry_type, EntryType::Error);
    assert!(
        entry["Contents"].as_str().is_some_and(
            |m| m.starts_with("Failed to execute test-module command. 200 The answer to GET ")
        ),
        "{entry}"
    );
}

#[test]
fn wrongly_typed_answers_are_failed_results() {
    // A list response that is an array, a user that is a number, a list whose Resources hold
    // a string: each names the request and its status.
    for (body, expected) in [
        (r#"[{"id":"1"}]"#, "is not a SCIM list response"),
        (
            r#"{"totalResults":1,"Resources":[5]}"#,
            "is not a JSON object",
        ),
        (
            r#"{"totalResults":1,"Resources":["jd"]}"#,
            "is not a JSON object",
        ),
        (
            r#"{"totalResults":"two","Resources":[{"id":"1"},{"id":"2"}]}"#,
            "2 users match userName eq \"jd@example.com\"",
        ),
    ] {
        let (entry_type, entry, _) = run_real(
            "iam-get-user",
            get_user_args(),
            vec![answer(200, &[], body)],
        );
        let (_, message) = failed_result(entry_type, &entry);
        assert!(message.contains(expected), "{body}: {message}");
    }
    // A user found whose id is an object cannot be disabled.
    let user =
        r#"{"totalResults":1,"Resources":[{"id":{"value":"1"},"userName":"jd","active":"maybe"}]}"#;
    let (entry_type, entry, server) = run_real(
        "iam-disable-user",
        get_user_args(),
        vec![answer(200, &[], user)],
    );
    assert_eq!(
        failed_result(entry_type, &entry),
        (
            Value::Null,
            // behaviour.md §3: what a lookup returns is checked before it is used.
            "The server returned a user whose \"id\" is not usable".into()
        )
    );
    assert_eq!(server.requests().len(), 1);
    // A schema whose attributes are not a list has no fields; an answer with wrong types in
    // the error keys falls back to the status line.
    let (entry_type, entry, _) = run_real(
        "get-mapping-fields",
        json!({}),
        vec![answer(200, &[], r#"{"attributes":"none"}"#)],
    );
    assert_eq!(
        (entry_type, entry),
        (
            EntryType::Note,
            json!({"Type": 1, "ContentsFormat": "json", "Contents": {"User Profile": {}}})
        )
    );
    let (entry_type, entry, _) = run_real(
        "iam-get-user",
        get_user_args(),
        vec![answer(
            403,
            &[],
            r#"{"detail":5,"error":[],"message":null}"#,
        )],
    );
    assert_eq!(
        failed_result(entry_type, &entry),
        (
            json!(403),
            r#"HTTP 403 Forbidden: {"detail":5,"error":[],"message":null}"#.into()
        )
    );
}

#[test]
fn answers_nested_100000_deep_hit_the_parsers_recursion_limit_in_the_component() {
    const DEPTH: usize = 100_000;
    for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
        let body = format!("{}{}", open.repeat(DEPTH), close.repeat(DEPTH));
        let (entry_type, entry, _) = run_real(
            "iam-get-user",
            get_user_args(),
            vec![answer(200, &[], body.clone())],
        );
        let (code, message) = failed_result(entry_type, &entry);
        assert_eq!(code, json!(200));
        assert!(
            message.contains("is not JSON (recursion limit exceeded at line 1 column "),
            "{message}"
        );
        // The same body as an error answer: its message quotes the first 500 bytes.
        let (entry_type, entry, _) = run_real(
            "get-mapping-fields",
            json!({}),
            vec![answer(400, &[], body)],
        );
        assert_eq!(entry_type, EntryType::Error);
        let message = entry["Contents"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(
                "Failed to execute get-mapping-fields command. 400 HTTP 400 Bad Request: "
            ),
            "{message}"
        );
        assert_eq!(
            message.len(),
            "Failed to execute get-mapping-fields command. 400 HTTP 400 Bad Request: ".len() + 500
        );
    }
    // In the profile argument too.
    let deep_profile = format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH));
    let (entry_type, entry, server) = run_real(
        "iam-get-user",
        json!({"user-profile": deep_profile}),
        Vec::new(),
    );
    assert_eq!(entry_type, EntryType::Error);
    assert!(
        entry["Contents"].as_str().is_some_and(|m| m.starts_with(
            "Invalid user-profile argument: not valid JSON (recursion limit exceeded"
        )),
        "{entry}"
    );
    assert!(server.requests().is_empty());
}

#[test]
fn an_answer_larger_than_the_cap_is_a_failed_result() {
    let cap = DEFAULT_RESPONSE_BYTES as usize;
    let (entry_type, entry, _) = run_real(
        "iam-get-user",
        get_user_args(),
        vec![answer(200, &[], vec![b' '; cap + 1])],
    );
    assert_eq!(
        failed_result(entry_type, &entry),
        (
            Value::Null,
            format!(
                "GET https://api.atlassian.com/scim/directory/d1/Users?filter=userName%20eq%20%22jd%40example.com%22 failed: the response was larger than the host's cap of {cap} bytes"
            )
        )
    );
    // Headers count towards the cap: they are copied into the guest as well.
    let header = "h".repeat(cap);
    let (entry_type, entry, _) = run_real(
        "iam-get-user",
        get_user_args(),
        vec![answer(200, &[("X-Padding", header.as_str())], "{}")],
    );
    assert!(failed_result(entry_type, &entry).1.ends_with(&format!(
        "the response was larger than the host's cap of {cap} bytes"
    )));
}

#[test]
fn an_answer_under_the_cap_that_parses_into_more_than_the_memory_limit_ends_there() {
    // 1 MiB of `[0,0,…]` is half a million JSON values: parsed, with the vector's growth,
    // they need more than the default 64 MiB, although the body is a tenth of the default
    // response cap. The command ends with a Type 4 entry naming the memory limit.
    let body = format!("[{}0]", "0,".repeat(1 << 19));
    let params = object(
        json!({"url": "https://api.atlassian.com", "access_token": "t0k3n-s3cr3t", "directory_id": "d1"}),
    );
    let report = run(
        support::host(),
        "get-mapping-fields",
        params,
        Map::new(),
        Scripted::answering(vec![answer(200, &[], body)]),
    );
    let (entry_type, entry) = entry_of(&report);
    assert_eq!(entry_type, EntryType::Error);
    let message = entry["Contents"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("The get-mapping-fields command was stopped by the host: it used more than its memory limit of 67108864 bytes"),
        "{message}"
    );
}

#[test]
fn a_user_far_larger_than_the_components_arena_comes_back_whole() {
    // The component's allocator hands out its first 256 KiB from an arena and the rest from
    // the system allocator (src/arena.rs). A 0.7 MB user makes the parser's buffers and the
    // entry outgrow the arena mid-way, so blocks move from one allocator to the other; every
    // byte must still arrive.
    let title: String = (0..60_000).map(|i| format!("Ü{i:x}\"")).collect();
    let emails: Vec<Value> = (0..4_000)
        .map(|i| json!({"value": format!("user{i}@example.com"), "type": "work", "primary": i == 3_999}))
        .collect();
    let user = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "big-1",
        "userName": "jd@example.com",
        "active": true,
        "title": title,
        "emails": emails,
    });
    let list = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 1,
        "Resources": [user],
    });
    let body = list.to_string();
    assert!(body.len() > 700_000, "{} bytes", body.len());
    let (entry_type, entry, _) = run_real(
        "iam-get-user",
        get_user_args(),
        vec![answer(200, &[], body)],
    );
    assert_eq!(entry_type, EntryType::Note);
    let contents = &entry["Contents"];
    assert_eq!(
        (&contents["success"], &contents["id"], &contents["email"]),
        (
            &json!(true),
            &json!("big-1"),
            &json!("user3999@example.com")
        ),
        "{}",
        contents["errorMessage"]
    );
    assert_eq!(contents["details"], user);
}

#[test]
fn answers_that_are_not_utf8_are_failed_results() {
    let (entry_type, entry, _) = run_real(
        "iam-get-user",
        get_user_args(),
        vec![answer(200, &[], b"\xff\xfe{\"id\":\"1\"}".to_vec())],
    );
    let (code, message) = failed_result(entry_type, &entry);
    assert_eq!(code, json!(200));
    assert!(
        message.contains("is not JSON (") && message.ends_with("): \u{fffd}\u{fffd}{\"id\":\"1\"}"),
        "{message}"
    );
    // Invalid UTF-8 inside a JSON string of an error body: the status line and the lossy text.
    let (entry_type, entry, _) = run_real(
        "iam-get-user",
        get_user_args(),
        vec![answer(400, &[], b"{\"detail\":\"bad \xc3\x28\"}".to_vec())],
    );
    assert_eq!(
        failed_result(entry_type, &entry),
        (
            json!(400),
            "HTTP 400 Bad Request: {\"detail\":\"bad \u{fffd}(\"}".into()
        )
    );
}

#[test]
fn answering_429_more_often_than_the_retry_limit_is_a_failed_result() {
    let throttled = || answer(429, &[("Retry-After", "2")], r#"{"detail":"slow down"}"#);
    let (entry_type, entry, server) = run_real(
        "iam-get-user",
        get_user_args(),
        (0..10).map(|_| throttled()).collect(),
    );
    assert_eq!(
        failed_result(entry_type, &entry),
        (json!(429), "slow down".into())
    );
    // The first try and three retries, waiting as asked.
    assert_eq!(server.requests().len(), 4);
    assert_eq!(server.slept(), [2_000, 2_000, 2_000]);
    // Without Retry-After the waits back off; a POST is retried on 429 as well.
    let bare = || answer(429, &[], "");
    let create = json!({"user-profile": {"email": "jd@example.com"}});
    let not_found = answer(200, &[], r#"{"totalResults":0}"#);
    let (entry_type, entry, server) = run_real(
        "iam-create-user",
        create,
        [not_found]
            .into_iter()
            .chain((0..10).map(|_| bare()))
            .collect(),
    );
    assert_eq!(
        failed_result(entry_type, &entry),
        (json!(429), "HTTP 429 Too Many Requests".into())
    );
    assert_eq!(server.requests().len(), 5);
    assert_eq!(server.slept(), [1_000, 2_000, 4_000]);
    // A wait longer than the command's 30 s is not waited: that answer is the result.
    let (entry_type, entry, server) = run_real(
        "iam-get-user",
        get_user_args(),
        vec![answer(503, &[("Retry-After", "31")], "")],
    );
    assert_eq!(
        failed_result(entry_type, &entry),
        (json!(503), "HTTP 503 Service Unavailable".into())
    );
    assert!(server.slept().is_empty());
}

#[test]
fn a_retry_after_date_millions_of_years_ahead_is_not_a_trap_in_the_component() {
    // The date arithmetic overflows u64 for such a year; in the release component overflow
    // wraps, so the command must still end in a result (see the native test below).
    let far = answer(
        503,
        &[("Retry-After", "Sun, 06 Nov 600000000 08:49:37 GMT")],
        "",
    );
    let (entry_type, entry, _) = run_real(
        "iam-get-user",
        get_user_args(),
        vec![far.clone(), far.clone(), far.clone(), far],
    );
    assert_eq!(failed_result(entry_type, &entry).0, json!(503));
}

#[test]
fn a_retry_after_date_millions_of_years_ahead_does_not_panic_natively() {
    let far = fuzz::Answer::Response {
        status: 503,
        headers: vec![(
            "Retry-After".into(),
            "Sun, 06 Nov 600000000 08:49:37 GMT".into(),
        )],
        body: fuzz::Body::Text(String::new()),
    };
    let case = fuzz::Case {
        command: "iam-get-user".into(),
        params_json: r#"{"url":"https://api.atlassian.com","directory_id":"d1"}"#.into(),
        credential: true,
        profile_json: Some(r#"{"username":"jd@example.com"}"#.into()),
        allow_enable: true,
        answers: vec![far.clone(), far.clone(), far.clone(), far],
        now_millis: 1_704_067_200_000,
        note: None,
    };
    if let Err(why) = fuzz::run_native(&case) {
        panic!("{why}");
    }
}

#[test]
fn a_memory_limit_below_the_components_own_memory_is_refused_when_the_host_starts() {
    // 64 KiB is less than the guest's initial memory (its stack and data): no command
    // could ever run, so the host refuses to load rather than fail every command.
    let limits = Limits {
        memory_bytes: 64 << 10,
        ..Limits::default()
    };
    let config = HostConfig {
        component: support::component().to_path_buf(),
        cache_dir: artifact::default_cache_dir(),
        limits,
        max_in_flight: 1,
    };
    let Err(error) = Host::new(config) else {
        panic!("a host started with a memory limit below the component's initial memory")
    };
    let message = format!("{error:#}");
    assert!(
        message.contains("does not fit the host's limits (memory limit 65536 bytes)")
            && message.contains("memory has a minimum byte size of"),
        "{message}"
    );
}
