//! Live end-to-end tests: the real component, through the host's live backend (or `iam-host
//! run --live`), against a real SCIM 2.0 server (`scim_server`: tests/scim/server.py,
//! scim2-server 0.8.3 shaped like Atlassian, on 127.0.0.1). After each step the server's own
//! state is read with a direct request, so a test never trusts the entry alone. Also: record
//! mode replays to the same entry, the allowlist holds with real sockets, and the token never
//! leaks. Each test starts its own server, stopped when the test ends.

use serde_json::{Map, Value, json};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use iam_host::backend::{Backend, Live, LiveOptions};
use iam_host::limits::Limits;
use iam_host::{EntryType, Outcome};

use crate::limits::hostile_host;
use crate::scim_server::ScimServer;
use crate::support::{Scripted, entry_of, host, iam_host, object, run};

/// The user the lifecycle tests provision (no `employeenumber`: scim2-server refuses the
/// `urn:scim:schemas:extension:enterprise:1.0` object the built-in mapper makes of it).
const JANE: &str = r#"{"email": "jane.doe@example.com", "username": "jane.doe@example.com", "givenname": "Jane",
    "surname": "Doe", "displayname": "Jane Doe", "title": "Engineer", "mobilephone": "+1 555 0100", "employeeid": "E-100"}"#;

/// Run a command through the library with the live backend; the entry as JSON. Checks on
/// every run that the token reached neither the entry nor the log nor the guest.
fn run_live(server: &ScimServer, command: &str, params: Map<String, Value>, args: Value) -> Value {
    let backend = live_backend(&params);
    run_with(server, command, params, args, backend)
}

/// The host's live backend for an instance, with the default connect timeout.
fn live_backend(params: &Map<String, Value>) -> Live {
    let connect_timeout = Duration::from_millis(Limits::default().connect_timeout_millis);
    Live::new(LiveOptions::for_instance(params, connect_timeout))
}

fn run_with(
    server: &ScimServer,
    command: &str,
    params: Map<String, Value>,
    args: Value,
    backend: impl Backend + 'static,
) -> Value {
    let report = run(host(), command, params, object(args), backend);
    let Outcome::Entry {
        entry_type,
        entry_json,
    } = &report.outcome
    else {
        panic!("{:?}", report.outcome)
    };
    assert!(
        !entry_json.contains(&server.token),
        "the token is in the entry: {entry_json}"
    );
    for line in &report.log {
        assert!(
            !line.message.contains(&server.token),
            "the token is in the guest log: {}",
            line.message
        );
    }
    for request in &report.guest_requests {
        assert!(
            !format!("{request:?}").contains(&server.token),
            "the guest saw the token: {request:?}"
        );
    }
    let entry: Value = serde_json::from_str(entry_json).expect("the entry is JSON");
    assert_eq!(
        *entry_type == EntryType::Note,
        entry["Type"] == 1,
        "{entry}"
    );
    entry
}

fn profile_args(profile: &str, allow_enable: &str) -> Value {
    json!({"user-profile": profile, "allow-enable": allow_enable})
}

/// The vendor result of an IAM entry, after checking the fields every success shares.
fn succeeded<'a>(entry: &'a Value, action: &str) -> &'a Value {
    let contents = &entry["Contents"];
    assert_eq!(
        (&entry["Type"], &contents["action"], &contents["success"]),
        (&json!(1), &json!(action), &json!(true)),
        "{entry:#}"
    );
    assert_eq!(contents["errorMessage"], "", "{entry:#}");
    contents
}

/// Create Jane through the component and return her id as the server knows it.
fn create_jane(server: &ScimServer) -> String {
    let entry = run_live(
        server,
        "iam-create-user",
        server.params(json!({})),
        profile_args(JANE, "true"),
    );
    let contents = succeeded(&entry, "create");
    let id = contents["id"].as_str().expect("an id").to_string();
    let stored = server.user(&id).expect("the created user is on the server");
    assert_eq!(stored["active"], true, "{stored:#}");
    id
}

#[test]
fn test_module_create_get_and_update_keep_the_server_record_whole() {
    let server = ScimServer::start();
    let params = server.params(json!({}));

    let entry = run_live(&server, "test-module", params.clone(), json!({}));
    assert_eq!(
        entry,
        json!({"Type": 1, "ContentsFormat": "text", "Contents": "ok"})
    );

    let entry = run_live(
        &server,
        "iam-create-user",
        params.clone(),
        profile_args(JANE, "true"),
    );
    let contents = succeeded(&entry, "create");
    let id = contents["id"].as_str().expect("an id").to_string();
    assert_eq!(
        (
            &contents["active"],
            &contents["username"],
            &contents["email"]
        ),
        (
            &json!(true),
            &json!("jane.doe@example.com"),
            &json!("jane.doe@example.com")
        )
    );
    let stored = server.user(&id).expect("created on the server");
    assert_eq!(stored["userName"], "jane.doe@example.com");
    assert_eq!(
        stored["name"],
        json!({"familyName": "Doe", "givenName": "Jane"})
    );
    assert_eq!(
        (
            &stored["title"],
            &stored["externalId"],
            &stored["displayName"],
            &stored["active"]
        ),
        (
            &json!("Engineer"),
            &json!("E-100"),
            &json!("Jane Doe"),
            &json!(true)
        )
    );
    assert_eq!(
        stored["emails"],
        json!([{"value": "jane.doe@example.com", "type": "work", "primary": true}])
    );
    assert_eq!(
        stored["phoneNumbers"],
        json!([{"value": "+1 555 0100", "type": "work"}])
    );

    let entry = run_live(
        &server,
        "iam-get-user",
        params.clone(),
        profile_args(r#"{"username": "jane.doe@example.com"}"#, "true"),
    );
    let contents = succeeded(&entry, "get");
    assert_eq!(
        (&contents["id"], &contents["active"]),
        (&json!(id), &json!(true))
    );
    assert_eq!(contents["details"]["title"], "Engineer");
    assert_eq!(
        server.user(&id),
        Some(stored.clone()),
        "a get changed the server"
    );

    // One attribute changes; everything the profile does not mention stays (behaviour.md §4.3).
    let entry = run_live(
        &server,
        "iam-update-user",
        params.clone(),
        profile_args(
            r#"{"username": "jane.doe@example.com", "title": "Staff Engineer"}"#,
            "true",
        ),
    );
    let contents = succeeded(&entry, "update");
    assert_eq!(
        (&contents["id"], &contents["active"]),
        (&json!(id), &json!(true))
    );
    let updated = server.user(&id).expect("still on the server");
    assert_eq!(updated["title"], "Staff Engineer");
    for kept in [
        "userName",
        "name",
        "externalId",
        "displayName",
        "emails",
        "phoneNumbers",
        "active",
    ] {
        assert_eq!(
            updated[kept], stored[kept],
            "the update lost {kept}: {updated:#}"
        );
    }

    // Creating a user who exists updates her (behaviour.md §4.2): the result says "update".
    let entry = run_live(
        &server,
        "iam-create-user",
        params,
        profile_args(JANE, "true"),
    );
    let contents = succeeded(&entry, "update");
    assert_eq!(contents["id"], json!(id));
    assert_eq!(server.user_count(), 1, "a second user was created");
    assert_eq!(server.user(&id).expect("still there")["title"], "Engineer");
}

#[test]
fn disable_by_patch_keeps_the_record_and_update_with_allow_enable_re_enables() {
    let server = ScimServer::start();
    let params = server.params(json!({}));
    let id = create_jane(&server);
    let by_name = r#"{"username": "jane.doe@example.com"}"#;

    let entry = run_live(
        &server,
        "iam-disable-user",
        params.clone(),
        json!({"user-profile": by_name}),
    );
    let contents = succeeded(&entry, "disable");
    assert_eq!(
        (&contents["active"], &contents["id"]),
        (&json!(false), &json!(id))
    );
    let disabled = server.user(&id).expect("a PATCH keeps the record");
    assert_eq!(disabled["active"], false);
    assert_eq!(disabled["title"], "Engineer");

    let entry = run_live(
        &server,
        "iam-disable-user",
        params.clone(),
        json!({"user-profile": by_name}),
    );
    let contents = &entry["Contents"];
    assert_eq!(
        (
            &contents["success"],
            &contents["skipped"],
            &contents["reason"]
        ),
        (
            &json!(true),
            &json!(true),
            &json!("User is already disabled.")
        ),
        "{entry:#}"
    );
    assert_eq!(contents["details"]["id"], json!(id));
    assert_eq!(
        server.user(&id),
        Some(disabled),
        "a skipped disable changed the server"
    );

    let entry = run_live(
        &server,
        "iam-update-user",
        params,
        profile_args(by_name, "true"),
    );
    let contents = succeeded(&entry, "update");
    assert_eq!(contents["active"], true);
    let enabled = server.user(&id).expect("still there");
    assert_eq!(
        (&enabled["active"], &enabled["title"]),
        (&json!(true), &json!("Engineer"))
    );
}

#[test]
fn disable_by_delete_removes_the_user_and_get_then_reports_it_missing() {
    let server = ScimServer::start();
    let params = server.params(json!({"disable_method": "delete"}));
    let id = create_jane(&server);
    let by_name = r#"{"username": "jane.doe@example.com"}"#;

    let entry = run_live(
        &server,
        "iam-disable-user",
        params.clone(),
        json!({"user-profile": by_name}),
    );
    let contents = succeeded(&entry, "disable");
    assert_eq!(
        (&contents["active"], &contents["id"]),
        (&json!(false), &json!(id))
    );
    assert_eq!(server.user(&id), None, "DELETE left the user on the server");
    assert_eq!(server.user_count(), 0);

    let entry = run_live(
        &server,
        "iam-get-user",
        params,
        json!({"user-profile": by_name}),
    );
    let contents = &entry["Contents"];
    assert_eq!(
        (
            &contents["success"],
            &contents["errorCode"],
            &contents["errorMessage"]
        ),
        (&json!(false), &json!(404), &json!("User does not exist")),
        "{entry:#}"
    );
}

#[test]
fn a_wrong_token_fails_test_module_naming_the_401() {
    let server = ScimServer::start();
    let mut params = server.params(json!({}));
    params.insert("access_token".into(), json!("not-the-token"));
    let entry = run_live(&server, "test-module", params, json!({}));
    assert_eq!(
        (&entry["Type"], &entry["ContentsFormat"]),
        (&json!(4), &json!("text")),
        "{entry:#}"
    );
    let message = entry["Contents"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Failed to execute test-module command. 401 "),
        "{message}"
    );
    assert!(!message.contains("not-the-token"), "{message}");
    server.wait_for_log("\" 401 ");
}

/// The live backend without real waits between retries: retry timing is the guest's logic,
/// covered by the replay cases; here only the sockets matter.
fn no_wait(params: &Map<String, Value>) -> Scripted {
    Scripted::forwarding(live_backend(params))
}

#[test]
fn a_server_that_is_down_gives_a_failed_result_not_a_crash() {
    let mut server = ScimServer::start();
    server.stop();
    let params = server.params(json!({}));
    let entry = run_with(
        &server,
        "iam-get-user",
        params.clone(),
        json!({"user-profile": {"username": "jane"}}),
        no_wait(&params),
    );
    let contents = &entry["Contents"];
    assert_eq!(
        (&entry["Type"], &contents["success"], &contents["errorCode"]),
        (&json!(1), &json!(false), &json!(null)),
        "{entry:#}"
    );
    let message = contents["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("refused the connection") && message.contains(&server.url),
        "{message}"
    );

    // The CLI too: a Type 4 entry and exit 1, never a panic. (It really waits between the
    // guest's retries: about 7 s.)
    let config = write_json(&server.dir.join("config.json"), &Value::Object(params));
    let out = iam_host(&["run", "test-module", "--config", &config, "--live"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let entry: Value = serde_json::from_str(&out.stdout).expect("one JSON entry");
    assert!(
        entry["Contents"]
            .as_str()
            .unwrap_or_default()
            .contains("refused the connection"),
        "{entry}"
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

/// A server that answers every request with a redirect to `location`, counting requests.
fn redirecting_server(location: String) -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let (seen, received) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            let _read = reader.read_line(&mut request_line);
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let answer = format!(
                "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _written = reader.into_inner().write_all(answer.as_bytes());
            if seen.send(request_line).is_err() {
                return;
            }
        }
    });
    (url, received)
}

#[test]
fn a_request_to_another_origin_is_refused_by_the_host() {
    let server_b = ScimServer::start();
    let other_origin_users = format!("{}/Users?filter=userName%20eq%20%22jane%22", server_b.base);

    // The tenant's policy: configured for origin A (another port on the same loopback
    // address), B's URL is denied. The policy is the host's own, so a guest that asks for B
    // outright (the hostile component's `reach`) meets it, before any socket opens.
    let (url_a, requests_to_a) = redirecting_server(other_origin_users.clone());
    let mut params = server_b.params(json!({"hostile": "reach", "target": other_origin_users}));
    params.insert("url".into(), json!(url_a));
    let backend = no_wait(&params);
    let sent = backend.seen();
    let report = run(hostile_host(), "test-module", params, Map::new(), backend);
    let (entry_type, entry) = entry_of(&report);
    let denied = entry["Contents"].as_str().unwrap_or_default();
    assert_eq!(entry_type, EntryType::Error, "{entry}");
    assert!(
        denied.starts_with("the request failed: HttpError::Denied(Denial::OriginNotAllowed(")
            && denied.contains(&format!("allowed: Some(\"{url_a}\")")),
        "{denied}"
    );
    assert!(sent.requests().is_empty(), "{:?}", sent.requests());

    // A real command against A, which redirects every request to B: the host does not follow
    // it off the origin, the guest sees the 302, and B never hears of it.
    let mut params = server_b.params(json!({}));
    params.insert("url".into(), json!(url_a));
    let entry = run_with(
        &server_b,
        "iam-get-user",
        params.clone(),
        json!({"user-profile": {"username": "jane"}}),
        no_wait(&params),
    );
    let contents = &entry["Contents"];
    assert_eq!(
        (&contents["success"], &contents["errorCode"]),
        (&json!(false), &json!(302)),
        "{entry:#}"
    );
    let asked = requests_to_a
        .recv_timeout(Duration::from_secs(5))
        .unwrap_or_default();
    assert!(
        asked.starts_with("GET /scim/directory/"),
        "A was not asked: {asked:?}"
    );
    assert!(
        !server_b.log_text().contains("/Users"),
        "B was reached: {}",
        server_b.log_text()
    );

    // Plain http to a non-loopback host is refused by the policy before any socket opens.
    let mut params = server_b.params(json!({}));
    params.insert("url".into(), json!("http://api.atlassian.com"));
    let entry = run_with(
        &server_b,
        "iam-get-user",
        params.clone(),
        json!({"user-profile": {"username": "jane"}}),
        no_wait(&params),
    );
    let message = entry["Contents"]["errorMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("plain http is allowed only to a loopback address"),
        "{entry:#}"
    );
}

fn write_json(path: &Path, value: &Value) -> String {
    std::fs::write(path, value.to_string())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path.to_string_lossy().into_owned()
}

/// Every step of a user's life through `iam-host run --live --record`, each recording
/// replayed with `--cassette` to the same bytes on stdout.
#[test]
fn a_live_recording_replays_to_the_identical_entry() {
    let server = ScimServer::start();
    let dir = &server.dir;
    let config = write_json(
        &dir.join("config.json"),
        &Value::Object(server.params(json!({}))),
    );
    let steps = [
        ("test-module", json!({})),
        ("get-mapping-fields", json!({})),
        ("iam-create-user", profile_args(JANE, "true")),
        (
            "iam-get-user",
            json!({"user-profile": {"username": "jane.doe@example.com"}}),
        ),
        (
            "iam-update-user",
            profile_args(
                r#"{"username": "jane.doe@example.com", "title": "Staff Engineer"}"#,
                "true",
            ),
        ),
        (
            "iam-disable-user",
            json!({"user-profile": {"username": "jane.doe@example.com"}}),
        ),
    ];
    for (step, (command, args)) in steps.iter().enumerate() {
        let args = write_json(&dir.join(format!("args-{step}.json")), args);
        let recording = dir
            .join(format!("recording-{step}.json"))
            .to_string_lossy()
            .into_owned();
        let live = iam_host(&[
            "run", command, "--config", &config, "--args", &args, "--live", "--record", &recording,
        ]);
        assert_eq!(live.code, 0, "{command} live: {}", live.stderr);
        let cassette: Value =
            serde_json::from_str(&std::fs::read_to_string(&recording).expect("the recording"))
                .expect("JSON");
        let interactions = cassette["interactions"].as_array().expect("interactions");
        assert!(!interactions.is_empty(), "{command} recorded nothing");
        for interaction in interactions {
            assert_eq!(
                interaction["request"]["headers"]["authorization"], "Bearer <redacted>",
                "{interaction:#}"
            );
            assert!(
                interaction["request"].get("body").is_some(),
                "{interaction:#}"
            );
        }
        let replay = iam_host(&[
            "run",
            command,
            "--config",
            &config,
            "--args",
            &args,
            "--cassette",
            &recording,
        ]);
        assert_eq!(replay.code, 0, "{command} replay: {}", replay.stderr);
        assert_eq!(
            replay.stdout, live.stdout,
            "{command}: the replay differs from the live run"
        );
    }
    // The JSON bodies are stored as JSON (a user, not a string), the first step's list too.
    let create: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("recording-2.json")).expect("read"))
            .expect("JSON");
    let post = create["interactions"]
        .as_array()
        .and_then(|i| i.last())
        .expect("the POST");
    assert_eq!(
        (&post["request"]["method"], &post["response"]["status"]),
        (&json!("POST"), &json!(201))
    );
    assert_eq!(post["request"]["body"]["userName"], "jane.doe@example.com");
    assert_eq!(post["response"]["body"]["userName"], "jane.doe@example.com");
}

#[test]
fn the_token_never_appears_in_output_logs_or_recordings() {
    let server = ScimServer::start();
    let dir = &server.dir;
    let config = write_json(
        &dir.join("config.json"),
        &Value::Object(server.params(json!({}))),
    );
    let runs = [
        ("iam-create-user", profile_args(JANE, "true")),
        (
            "iam-update-user",
            profile_args(
                r#"{"username": "jane.doe@example.com", "title": "Lead"}"#,
                "true",
            ),
        ),
        (
            "iam-disable-user",
            json!({"user-profile": {"username": "jane.doe@example.com"}}),
        ),
        (
            "iam-get-user",
            json!({"user-profile": {"username": "nobody@example.com"}}),
        ),
    ];
    for (step, (command, args)) in runs.iter().enumerate() {
        let args = write_json(&dir.join(format!("args-{step}.json")), args);
        let recording = dir.join(format!("recording-{step}.json"));
        let out = iam_host(&[
            "run",
            command,
            "--config",
            &config,
            "--args",
            &args,
            "--live",
            "--record",
            &recording.to_string_lossy(),
        ]);
        assert_eq!(out.code, 0, "{command}: {}", out.stderr);
        let recorded = std::fs::read_to_string(&recording).expect("the recording");
        for (what, text) in [
            ("stdout", &out.stdout),
            ("stderr", &out.stderr),
            ("the recording", &recorded),
        ] {
            assert!(
                !text.contains(&server.token),
                "{command}: the token is in {what}:\n{text}"
            );
        }
        assert!(recorded.contains("Bearer <redacted>"), "{recorded}");
    }
    // The server's log names every request, and never a header.
    server.wait_for_log("\"POST /scim/directory/");
    server.wait_for_log("\"PATCH /scim/directory/");
    let log = server.log_text();
    assert!(
        !log.contains(&server.token),
        "the token is in the server log:\n{log}"
    );
}

#[test]
fn tls_is_verified_unless_the_instance_is_insecure() {
    let server = ScimServer::start_tls();
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );

    // The certificate is self-signed: verification refuses it, and the entry names why.
    let params = server.params(json!({}));
    let entry = run_with(
        &server,
        "test-module",
        params.clone(),
        json!({}),
        no_wait(&params),
    );
    let message = entry["Contents"].as_str().unwrap_or_default();
    assert_eq!(entry["Type"], 4, "{entry:#}");
    assert!(message.contains("certificate"), "{message}");
    assert!(
        !server.log_text().contains("/Users"),
        "a request got through: {}",
        server.log_text()
    );

    for insecure in [json!(true), json!("true")] {
        let params = server.params(json!({"insecure": insecure}));
        let entry = run_live(&server, "test-module", params, json!({}));
        assert_eq!(
            entry,
            json!({"Type": 1, "ContentsFormat": "text", "Contents": "ok"})
        );
    }
    let params = server.params(json!({"insecure": true}));
    let id = {
        let entry = run_live(
            &server,
            "iam-create-user",
            params,
            profile_args(JANE, "true"),
        );
        succeeded(&entry, "create")["id"]
            .as_str()
            .expect("an id")
            .to_string()
    };
    assert_eq!(
        server.user(&id).expect("created over https")["userName"],
        "jane.doe@example.com"
    );
}

#[test]
fn recording_into_a_missing_directory_is_a_usage_error() {
    let server = ScimServer::start();
    let config = write_json(
        &server.dir.join("config.json"),
        &Value::Object(server.params(json!({}))),
    );
    let missing = server.dir.join("no-such-dir/recording.json");
    let out = iam_host(&[
        "run",
        "test-module",
        "--config",
        &config,
        "--live",
        "--record",
        &missing.to_string_lossy(),
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    assert!(
        out.stderr.contains("cannot write the recording")
            && out.stderr.contains("is not a directory"),
        "{}",
        out.stderr
    );
    assert!(
        !server.log_text().contains("/Users"),
        "it ran the command: {}",
        server.log_text()
    );
}

/// The group sync's whole path (behaviour.md §8) against the real server: a missing group is
/// a 404 result (so the sync would create it), then create, find by name, add two users that
/// iam-create-user made, read the members back, remove one, delete, and get and delete again
/// (each a 404). Every step is checked on the server itself; `run_live` checks that the token
/// reaches no entry, log line or guest request.
#[test]
fn a_group_lives_through_the_group_sync_on_the_server() {
    let server = ScimServer::start();
    let params = || server.params(json!({}));
    let group = |command: &str, args: Value| run_live(&server, command, params(), args);
    let contents = |entry: &Value| {
        assert_eq!(entry["Type"], 1, "{entry:#}");
        entry["Contents"].clone()
    };
    let members_on_server = |id: &str| -> Vec<String> {
        let (status, stored) = server.direct("GET", &format!("/Groups/{id}"), None);
        assert_eq!(status, 200, "{stored}");
        let mut members: Vec<String> = stored["members"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["value"].as_str().map(str::to_string))
            .collect();
        members.sort();
        members
    };

    let missing = contents(&group(
        "iam-get-group",
        json!({"scim": {"displayName": "Engineering"}}),
    ));
    assert_eq!(
        missing,
        json!({"brand": "Atlassian IAM", "instanceName": "live", "success": false,
               "displayName": "Engineering", "errorCode": 404, "errorMessage": "Group Not Found"})
    );

    let created = contents(&group(
        "iam-create-group",
        json!({"scim": {"displayName": "Engineering"}}),
    ));
    assert_eq!(created["success"], true, "{created:#}");
    assert_eq!(created["displayName"], "Engineering");
    let id = created["id"]
        .as_str()
        .expect("the new group's id")
        .to_string();
    let (status, stored) = server.direct("GET", &format!("/Groups/{id}"), None);
    assert_eq!(
        (status, &stored["displayName"]),
        (200, &json!("Engineering"))
    );

    let found = contents(&group(
        "iam-get-group",
        json!({"scim": {"displayName": "Engineering"}}),
    ));
    assert_eq!(
        (&found["success"], &found["id"]),
        (&json!(true), &json!(id))
    );

    let jane = create_jane(&server);
    let john = run_live(
        &server,
        "iam-create-user",
        params(),
        profile_args(
            r#"{"email": "john.roe@example.com", "username": "john.roe@example.com", "givenname": "John", "surname": "Roe"}"#,
            "true",
        ),
    );
    let john = succeeded(&john, "create")["id"]
        .as_str()
        .expect("an id")
        .to_string();

    let added = contents(&group(
        "iam-update-group",
        json!({"scim": {"id": id}, "memberIdsToAdd": [jane, john]}),
    ));
    assert_eq!(added["success"], true, "{added:#}");
    let mut both = vec![jane.clone(), john.clone()];
    both.sort();
    assert_eq!(members_on_server(&id), both);

    let read = contents(&group(
        "iam-get-group",
        json!({"scim": {"id": id}, "includeMembers": "true"}),
    ));
    let mut listed: Vec<String> = read["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["value"].as_str().map(str::to_string))
        .collect();
    listed.sort();
    assert_eq!(listed, both);

    let removed = contents(&group(
        "iam-update-group",
        json!({"scim": {"id": id}, "memberIdsToDelete": jane}),
    ));
    assert_eq!(removed["success"], true, "{removed:#}");
    assert_eq!(members_on_server(&id), std::slice::from_ref(&john));

    let deleted = contents(&group("iam-delete-group", json!({"scim": {"id": id}})));
    assert_eq!(
        deleted,
        json!({"brand": "Atlassian IAM", "instanceName": "live", "success": true, "id": id})
    );
    assert_eq!(server.direct("GET", &format!("/Groups/{id}"), None).0, 404);
    // Users are not touched by deleting their group.
    assert!(server.user(&john).is_some());

    for command in ["iam-get-group", "iam-delete-group"] {
        let gone = contents(&group(command, json!({"scim": {"id": id}})));
        assert_eq!(
            (&gone["success"], &gone["errorCode"], &gone["errorMessage"]),
            (&json!(false), &json!(404), &json!("Group Not Found")),
            "{command}: {gone:#}"
        );
    }
}
