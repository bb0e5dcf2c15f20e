//! Live end-to-end tests: the real component, through the host's live backend (or `iam-host
//! run --live`), against a real SCIM 2.0 server: tests/scim/server.py, scim2-server 0.8.3
//! shaped like Atlassian, on 127.0.0.1. After each step the server's own state is read with
//! a direct request, so a test never trusts the entry alone. Also: record mode replays to
//! the same entry, the allowlist holds with real sockets, and the token never leaks.
//!
//! Each test starts its own server on a free port (the server picks it and says which) and
//! stops it by PID when the test ends, pass or fail (`ScimServer`'s Drop), which also removes
//! the test's scratch directory (configs, recordings, the server's log).

use serde_json::{Map, Value, json};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use iam_host::backend::{
    Backend, BackendError, IncomingResponse, OutgoingRequest, system_now_millis,
};
use iam_host::limits::Limits;
use iam_host::live::{Live, LiveOptions};
use iam_host::policy::Policy;
use iam_host::{CREDENTIAL_NAME, Command, EntryType, Invocation, Outcome, artifact};

use crate::support::{host, iam_host};

/// The directory id the servers serve, in Atlassian's `/scim/directory/<id>`.
const DIRECTORY: &str = "e2e-directory";
/// How long a server may take to start: importing pydantic takes about a second here, and
/// several tests start servers at once on two cores.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may take to write a request's log line after answering it.
const LOG_WAIT: Duration = Duration::from_secs(10);
/// The user the lifecycle tests provision (no `employeenumber`: scim2-server refuses the
/// `urn:scim:schemas:extension:enterprise:1.0` object the built-in mapper makes of it).
const JANE: &str = r#"{"email": "jane.doe@example.com", "username": "jane.doe@example.com", "givenname": "Jane",
    "surname": "Doe", "displayname": "Jane Doe", "title": "Engineer", "mobilephone": "+1 555 0100", "employeeid": "E-100"}"#;

/// A number unique to each server of this run.
fn next_server() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The python of the server's virtual environment, made by tests/scim/venv.sh (once per run;
/// instant when `.ci/run` has made it already).
fn scim_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let script = artifact::workspace_root().join("tests/scim/venv.sh");
        let output = Process::new("bash").arg(&script).stderr(Stdio::inherit()).output();
        match output {
            Ok(out) if out.status.success() => PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().lines().last().unwrap_or_default()),
            Ok(out) => panic!("{} failed ({}); the live tests need python3 and the pinned scim2-server (run .ci/run)", script.display(), out.status),
            Err(e) => panic!("cannot run {}: {e}", script.display()),
        }
    })
}

/// A running SCIM server, stopped by PID when dropped.
struct ScimServer {
    child: Child,
    /// `http://127.0.0.1:<port>`: the instance's `url`.
    url: String,
    /// `<url>/scim/directory/<id>`.
    base: String,
    /// A token no test output may contain: unique per server, so a leak names its test.
    token: String,
    /// The test's scratch directory: the server's log, configs, recordings.
    dir: PathBuf,
    log: PathBuf,
}

impl ScimServer {
    fn start() -> ScimServer {
        ScimServer::start_with(&[])
    }

    /// A server on https with the self-signed certificate of tests/scim/tls/.
    fn start_tls() -> ScimServer {
        let tls = artifact::workspace_root().join("tests/scim/tls");
        let (cert, key) = (tls.join("cert.pem"), tls.join("key.pem"));
        ScimServer::start_with(&[
            "--tls-cert".as_ref(),
            cert.as_os_str(),
            "--tls-key".as_ref(),
            key.as_os_str(),
        ])
    }

    fn start_with(extra_args: &[&std::ffi::OsStr]) -> ScimServer {
        let number = next_server();
        let token = format!("live-e2e-t0ken-{}-{number}", std::process::id());
        let dir =
            std::env::temp_dir().join(format!("iam-host-live-{}-{number}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let log = dir.join("server.log");
        let log_file = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
        let mut child = Process::new(scim_python())
            .arg(artifact::workspace_root().join("tests/scim/server.py"))
            .args([
                "--port",
                "0",
                "--directory",
                DIRECTORY,
                "--exit-on-stdin-eof",
            ])
            .args(extra_args)
            .env("SCIM_TOKEN", &token)
            // Held open by `child` until it is dropped; should this process die without
            // running Drop, the pipe closes and the server exits on its own.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start tests/scim/server.py: {e}"));
        // The server prints `listening <base>` once it accepts connections. Read it on a
        // thread so that a server that hangs is a timeout, not a hung test.
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, first_line) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _read = BufReader::new(stdout).read_line(&mut line);
            let _gone = lines.send(line);
        });
        let mut server = ScimServer {
            child,
            url: String::new(),
            base: String::new(),
            token,
            dir,
            log,
        };
        let line = first_line
            .recv_timeout(SERVER_START_TIMEOUT)
            .unwrap_or_default();
        let Some(base) = line.trim().strip_prefix("listening ") else {
            panic!(
                "the SCIM server did not start (first line {line:?}); its log:\n{}",
                server.log_text()
            );
        };
        server.base = base.to_string();
        server.url = base.split("/scim/").next().unwrap_or_default().to_string();
        server.wait_until_ready();
        server
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        loop {
            if self.direct("GET", "/ServiceProviderConfig", None).0 == 200 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the SCIM server never answered; its log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The instance parameters of a tenant on this server.
    fn params(&self, extra: Value) -> Map<String, Value> {
        let mut params = json!({"url": self.url, "access_token": self.token, "directory_id": DIRECTORY, "instance_name": "live"});
        if let (Some(params), Value::Object(extra)) = (params.as_object_mut(), extra) {
            params.extend(extra);
        }
        params.as_object().cloned().unwrap_or_default()
    }

    /// A request straight to the server (not through the host): status and JSON body.
    fn direct(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        // This test's own server, on a self-signed certificate when it serves https.
        let tls = ureq::tls::TlsConfig::builder()
            .disable_verification(true)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .tls_config(tls)
            .proxy(None)
            .build()
            .into();
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", "application/scim+json");
        let sent = match body {
            Some(body) => agent.run(request.body(body.to_string()).expect("request")),
            None => agent.run(request.body(()).expect("request")),
        };
        match sent {
            Ok(mut response) => {
                let text = response.body_mut().read_to_string().unwrap_or_default();
                (
                    response.status().as_u16(),
                    serde_json::from_str(&text).unwrap_or(Value::Null),
                )
            }
            Err(_) => (0, Value::Null),
        }
    }

    /// The user as the server holds it, `None` when it answers 404.
    fn user(&self, id: &str) -> Option<Value> {
        match self.direct("GET", &format!("/Users/{id}"), None) {
            (200, user) => Some(user),
            (404, _) => None,
            (status, body) => panic!("GET /Users/{id} answered {status}: {body}"),
        }
    }

    fn user_count(&self) -> u64 {
        let (status, list) = self.direct("GET", "/Users", None);
        assert_eq!(status, 200, "{list}");
        list["totalResults"].as_u64().expect("totalResults")
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait until the server's log holds `fragment`: it writes a request's line only after
    /// the answer has gone out, so the client can be faster than the log.
    fn wait_for_log(&self, fragment: &str) {
        let deadline = Instant::now() + LOG_WAIT;
        while !self.log_text().contains(fragment) {
            assert!(
                Instant::now() < deadline,
                "the server's log never showed {fragment:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stop the server now (by PID) and wait for it, so that its port is closed.
    fn stop(&mut self) {
        // An error here means it has already exited, which is what we want.
        let _already_gone = self.child.kill();
        let _status = self.child.wait();
    }
}

impl Drop for ScimServer {
    fn drop(&mut self) {
        self.stop();
        // Nothing to do if it is gone already; a leftover temp directory harms no test.
        let _removed = std::fs::remove_dir_all(&self.dir);
    }
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// Run a command through the library with the live backend; the entry as JSON. Checks on
/// every run that the token reached neither the entry nor the log nor the guest.
fn run_live(
    server: &ScimServer,
    command: Command,
    params: Map<String, Value>,
    args: Value,
) -> Value {
    let backend = Live::new(LiveOptions::for_instance(&params, &Limits::default()));
    run_with(server, command, params, args, Box::new(backend))
}

fn run_with(
    server: &ScimServer,
    command: Command,
    params: Map<String, Value>,
    args: Value,
    backend: Box<dyn Backend>,
) -> Value {
    let report = host().run(
        &Invocation {
            command,
            params,
            args: object(args),
        },
        backend,
    );
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
        Command::CreateUser,
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

    let entry = run_live(&server, Command::TestModule, params.clone(), json!({}));
    assert_eq!(
        entry,
        json!({"Type": 1, "ContentsFormat": "text", "Contents": "ok"})
    );

    let entry = run_live(
        &server,
        Command::CreateUser,
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
        Command::GetUser,
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
        Command::UpdateUser,
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
        Command::CreateUser,
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
        Command::DisableUser,
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
        Command::DisableUser,
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
        Command::UpdateUser,
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
        Command::DisableUser,
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
        Command::GetUser,
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
    let entry = run_live(&server, Command::TestModule, params, json!({}));
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
struct NoWait(Live);

impl Backend for NoWait {
    fn send(
        &mut self,
        request: &OutgoingRequest,
        max_body_bytes: u64,
    ) -> Result<IncomingResponse, BackendError> {
        self.0.send(request, max_body_bytes)
    }
    fn sleep(&mut self, _millis: u64) {}
    fn now_millis(&mut self) -> u64 {
        system_now_millis()
    }
    fn finish(&mut self) -> Result<(), String> {
        self.0.finish()
    }
}

fn no_wait(params: &Map<String, Value>) -> Box<dyn Backend> {
    Box::new(NoWait(Live::new(LiveOptions::for_instance(
        params,
        &Limits::default(),
    ))))
}

#[test]
fn a_server_that_is_down_gives_a_failed_result_not_a_crash() {
    let mut server = ScimServer::start();
    server.stop();
    let params = server.params(json!({}));
    let entry = run_with(
        &server,
        Command::GetUser,
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
    // address), B's URL is denied.
    let (url_a, requests_to_a) = redirecting_server(other_origin_users.clone());
    let policy = Policy::for_instance(Some(&url_a), CREDENTIAL_NAME, None);
    let denied = policy
        .check(&other_origin_users, &["accept"])
        .expect_err("B is another origin");
    assert!(
        denied.contains(&format!(
            "is not allowed; this tenant may reach only {url_a}"
        )),
        "{denied}"
    );

    // A real command against A, which redirects every request to B: the host does not follow
    // it off the origin, the guest sees the 302, and B never hears of it.
    let mut params = server_b.params(json!({}));
    params.insert("url".into(), json!(url_a));
    let entry = run_with(
        &server_b,
        Command::GetUser,
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
        Command::GetUser,
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
        Command::TestModule,
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
        let entry = run_live(&server, Command::TestModule, params, json!({}));
        assert_eq!(
            entry,
            json!({"Type": 1, "ContentsFormat": "text", "Contents": "ok"})
        );
    }
    let params = server.params(json!({"insecure": true}));
    let id = {
        let entry = run_live(
            &server,
            Command::CreateUser,
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
