//! Issue 13, the host's side: each attack reproduced end to end and its fix asserted. Hostile
//! loopback servers (bound to 127.0.0.1, stopped when the test ends) echo the token in every
//! form, never answer, answer garbage, present a self-signed certificate, delete the
//! recording's folder mid-run or pose as a proxy; hostile files (`/dev/zero`, `/dev/full`,
//! names that are not UTF-8, limits as an array) and a tampered compiled-component cache are
//! handed to the CLI; the hostile component reaches for dot segments and URLs with a password.
//! In none of them does the token, in any form, reach stdout, stderr, an entry, a log line or
//! a cassette.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use iam_host::limits::Limits;
use iam_host_cli::artifact;
use serde_json::{Value, json};

use crate::support::server::{Reply, Server, http};
use crate::support::{self, Scripted, hosts, object};

/// The tenant's token in these tests: its base64 holds `+` and `/`, so every form differs.
pub(crate) const TOKEN: &str = "hardening/T0k+n=4?~~-secret";

// ---------------------------------------------------------------------------------------
// The token in every form a server may echo it in, and the check that none got out.

fn base64(input: &[u8], url_safe: bool) -> String {
    let alphabet: &[u8; 64] = if url_safe {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    } else {
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    };
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let n = chunk
            .iter()
            .chain(std::iter::repeat(&0))
            .take(3)
            .fold(0u32, |n, &b| (n << 8) | u32::from(b));
        for index in 0..4 {
            if index <= chunk.len() {
                out.push(char::from(
                    alphabet[((n >> (18 - 6 * index)) & 63) as usize],
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn percent_all(text: &str, upper: bool) -> String {
    text.bytes()
        .map(|b| {
            if upper {
                format!("%{b:02X}")
            } else {
                format!("%{b:02x}")
            }
        })
        .collect()
}

/// encodeURIComponent's choice: letters, digits and `-_.!~*'()` stay.
fn percent_component(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn json_unicode(text: &str, upper: bool) -> String {
    text.chars()
        .map(|c| {
            if upper {
                format!("\\u{:04X}", c as u32)
            } else {
                format!("\\u{:04x}", c as u32)
            }
        })
        .collect()
}

/// Every form of `token` the host must scrub (behaviour.md §1).
pub(crate) fn token_forms(token: &str) -> Vec<String> {
    let standard = base64(token.as_bytes(), false);
    let url_safe = base64(token.as_bytes(), true);
    vec![
        token.to_string(),
        percent_all(token, true),
        percent_all(token, false),
        percent_component(token),
        token.replace('/', "\\/"),
        json_unicode(token, false),
        json_unicode(token, true),
        standard.trim_end_matches('=').to_string(),
        standard,
        url_safe.trim_end_matches('=').to_string(),
        url_safe,
    ]
}

/// Fail when any form of `token` is in `text`.
pub(crate) fn assert_no_token(token: &str, what: &str, text: &str) {
    for form in token_forms(token) {
        assert!(
            !text.contains(&form),
            "a form of the token ({form}) is in {what}:\n{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// A hostile loopback server.

/// A TLS server on 127.0.0.1 with the repository's self-signed certificate (tests/scim/tls),
/// answering every request with an empty SCIM list. Stops with the test process; counts
/// connections.
fn self_signed_server() -> (String, Arc<AtomicUsize>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/scim/tls");
    let certs = CertificateDer::pem_file_iter(tls.join("cert.pem"))
        .expect("cert.pem")
        .collect::<Result<Vec<_>, _>>()
        .expect("certificates");
    let key = PrivateKeyDer::from_pem_file(tls.join("key.pem")).expect("key.pem");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("certificate"),
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::Relaxed);
            let config = config.clone();
            std::thread::spawn(move || {
                let Ok(connection) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(connection, stream);
                let mut reader = BufReader::new(&mut tls);
                let mut head = String::new();
                while reader.read_line(&mut head).is_ok_and(|n| n > 2) {}
                if !head.is_empty() {
                    let body = r#"{"totalResults":0,"Resources":[]}"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    tls.write_all(answer.as_bytes()).ok();
                    tls.flush().ok();
                }
            });
        }
    });
    (format!("https://{address}"), connections)
}

// ---------------------------------------------------------------------------------------
// Running the CLI.

/// A scratch folder for one test, removed when it ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("iam-hardening-{}-{name}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).expect("scratch folder");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Write `value` as JSON to `name`; its path.
    fn json(&self, name: &str, value: &Value) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, value.to_string()).expect("write");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Where a run's stderr goes.
#[derive(Clone, Copy, PartialEq)]
enum Stderr {
    Captured,
    /// `/dev/full`: every write fails (ENOSPC), as on a closed or full stream.
    Full,
}

/// `iam-host` with these arguments (the built component added for `run`, unless the test
/// gives one), environment changes and stderr.
fn iam_host_with(args: &[&OsStr], env: &[(&str, Option<&str>)], stderr: Stderr) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_iam-host"));
    command.args(args);
    if args.first() == Some(&OsStr::new("run")) && !args.contains(&OsStr::new("--component")) {
        command.arg("--component").arg(support::component());
    }
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command.stdin(Stdio::null()).stdout(Stdio::piped());
    match stderr {
        Stderr::Captured => command.stderr(Stdio::piped()),
        Stderr::Full => command.stderr(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .expect("/dev/full"),
        ),
    };
    let started = Instant::now();
    let output = command.output().expect("run iam-host");
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        took: started.elapsed(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "iam-host panicked:\n{}",
        run.stderr
    );
    assert_ne!(run.code, 101, "iam-host panicked (exit 101)");
    run
}

fn iam_host(args: &[&OsStr]) -> Run {
    iam_host_with(args, &[], Stderr::Captured)
}

fn os<'a>(words: &'a [&'a str]) -> Vec<&'a OsStr> {
    words.iter().map(OsStr::new).collect()
}

/// The instance parameters of a tenant on `url` with `token`.
pub(crate) fn params(url: &str, token: &str, extra: Value) -> Value {
    let mut params = json!({"url": url, "access_token": token, "directory_id": "d1"});
    if let (Some(params), Value::Object(extra)) = (params.as_object_mut(), extra) {
        params.extend(extra);
    }
    params
}

fn entry(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON entry ({e}): {}\nstderr: {}",
            run.stdout, run.stderr
        )
    })
}

pub(crate) fn get_user_args() -> Value {
    json!({"user-profile": {"username": "jd@example.com"}})
}

// ---------------------------------------------------------------------------------------
// 1. A token the server echoes.

/// A SCIM list whose user carries the token in every form: as its userName, percent-encoded,
/// JSON-escaped, in base64; plus the forms in headers.
pub(crate) fn echoing_user(token: &str) -> Reply {
    let body = format!(
        r#"{{"totalResults":1,"Resources":[{{"id":"u1","userName":"{raw}","active":true,"emails":[{{"value":"{pct}@example.com","primary":true}}],"title":"{b64}","nickName":"{b64url}","displayName":"{escaped}","profileUrl":"https://x.example/?t={pct_lower}&u={component}","locale":"{slashed}"}}]}}"#,
        raw = token,
        pct = percent_all(token, true),
        pct_lower = percent_all(token, false),
        component = percent_component(token),
        b64 = base64(token.as_bytes(), false),
        b64url = base64(token.as_bytes(), true).trim_end_matches('='),
        escaped = json_unicode(token, false),
        slashed = token.replace('/', "\\/"),
    );
    let bearer = format!("Bearer {token}");
    let basic = base64(format!("user:{token}").as_bytes(), false);
    http(
        200,
        &[
            ("content-type", "application/json"),
            ("x-echo", &bearer),
            ("x-basic", &basic),
        ],
        &body,
    )
}

#[test]
fn a_token_the_server_echoes_reaches_no_entry_log_or_recording_and_live_and_replay_agree() {
    let server = Server::start(|_| echoing_user(TOKEN));
    let dir = Scratch::new("echo");
    let config = dir.json("config.json", &params(&server.url(), TOKEN, json!({})));
    let args = dir.json("args.json", &get_user_args());
    let recording = dir.path("recording.json");
    let live = iam_host(&[
        OsStr::new("run"),
        OsStr::new("iam-get-user"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--args"),
        args.as_os_str(),
        OsStr::new("--live"),
        OsStr::new("--record"),
        recording.as_os_str(),
    ]);
    assert_eq!(live.code, 0, "{}", live.stderr);
    let found = entry(&live);
    assert_eq!(found["Contents"]["success"], true, "{found:#}");
    assert_eq!(found["Contents"]["username"], "<redacted>", "{found:#}");
    let cassette = std::fs::read_to_string(&recording).expect("the recording");
    for (what, text) in [
        ("stdout", &live.stdout),
        ("stderr", &live.stderr),
        ("the recording", &cassette),
    ] {
        assert_no_token(TOKEN, what, text);
    }
    assert!(cassette.contains("Bearer <redacted>"), "{cassette}");
    // The server did get the token: the host attached it.
    let requests = server.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.contains(&format!("authorization: Bearer {TOKEN}"))),
        "{requests:?}"
    );
    // Replayed, the recording gives the same bytes: the guest saw the scrubbed answer live.
    let replay = iam_host(&[
        OsStr::new("run"),
        OsStr::new("iam-get-user"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--args"),
        args.as_os_str(),
        OsStr::new("--cassette"),
        recording.as_os_str(),
    ]);
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    assert_eq!(replay.stdout, live.stdout, "live and replay differ");
}

#[test]
fn a_token_quoted_in_an_error_answer_is_redacted_in_the_failed_result() {
    for (answer, expected) in [
        (
            format!(r#"{{"detail":"invalid credentials: Bearer {TOKEN}"}}"#),
            "invalid credentials: Bearer <redacted>".to_string(),
        ),
        (
            format!("<html><body><p>Token {TOKEN} was refused ({})</p></body></html>", base64(TOKEN.as_bytes(), false)),
            "HTTP 403 Forbidden: <html><body><p>Token <redacted> was refused (<redacted>)</p></body></html>".to_string(),
        ),
    ] {
        let status = if answer.starts_with('{') { 401 } else { 403 };
        let server = Server::start(move |_| http(status, &[], &answer));
        let dir = Scratch::new(&format!("error-{status}"));
        let config = dir.json("config.json", &params(&server.url(), TOKEN, json!({})));
        let args = dir.json("args.json", &get_user_args());
        let run = iam_host(&[
            OsStr::new("run"),
            OsStr::new("iam-get-user"),
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--args"),
            args.as_os_str(),
            OsStr::new("--live"),
        ]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let failed = entry(&run);
        assert_eq!(failed["Contents"]["errorCode"], status, "{failed:#}");
        assert_eq!(failed["Contents"]["errorMessage"], expected.as_str(), "{failed:#}");
        assert_no_token(TOKEN, "stdout", &run.stdout);
        assert_no_token(TOKEN, "stderr", &run.stderr);
    }
}

/// A cassette whose answers carry the token in every form, as raw text, so that the escapes
/// reach the host as written.
fn echoing_cassette(dir: &Scratch) -> PathBuf {
    let Reply::Bytes(raw) = echoing_user(TOKEN) else {
        unreachable!()
    };
    let raw = String::from_utf8(raw).expect("text");
    let body = raw.split("\r\n\r\n").nth(1).expect("a body").to_string();
    dir.json(
        "cassette.json",
        &json!({"interactions": [{
            "request": {"method": "GET", "url": "https://api.atlassian.com/scim/directory/d1/Users?filter=userName%20eq%20%22jd%40example.com%22"},
            "response": {"status": 200, "headers": {"x-echo": format!("Bearer {TOKEN}")}, "body": body}
        }]}),
    )
}

#[test]
fn a_replayed_token_is_scrubbed_too_and_both_hosts_print_the_same_bytes() {
    let dir = Scratch::new("replay-echo");
    let config = dir.json(
        "config.json",
        &params("https://api.atlassian.com", TOKEN, json!({})),
    );
    let args = dir.json("args.json", &get_user_args());
    let cassette = echoing_cassette(&dir);
    let words: Vec<&OsStr> = vec![
        OsStr::new("run"),
        OsStr::new("iam-get-user"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--args"),
        args.as_os_str(),
        OsStr::new("--cassette"),
        cassette.as_os_str(),
    ];
    let rust = iam_host(&words);
    assert_eq!(rust.code, 0, "{}", rust.stderr);
    assert_no_token(TOKEN, "stdout", &rust.stdout);
    assert_no_token(TOKEN, "stderr", &rust.stderr);
    assert!(rust.stdout.contains("<redacted>"), "{}", rust.stdout);
    let node = hosts::node_host(&words)
        .output()
        .expect("node (is Node.js installed?)");
    assert_eq!(
        (
            node.status.code(),
            String::from_utf8_lossy(&node.stdout).into_owned()
        ),
        (Some(0), rust.stdout.clone()),
        "the Node.js host differs; its stderr: {}",
        String::from_utf8_lossy(&node.stderr)
    );
}

#[test]
fn a_token_shorter_than_eight_characters_is_refused_before_anything_is_sent() {
    let short = "Ab3$xy7";
    let server = Server::start(|_| http(200, &[], "{}"));
    let dir = Scratch::new("short");
    let expected = json!({"Type": 4, "ContentsFormat": "text", "Contents": "Invalid configuration: the access token (\"access_token\" or \"access_token_creds.password\") is shorter than 8 characters, too short for the host to keep it out of the answers it passes on"});
    for (name, config) in [
        ("plain", params(&server.url(), short, json!({}))),
        (
            "creds",
            params(
                &server.url(),
                "",
                json!({"access_token_creds": {"password": short}}),
            ),
        ),
    ] {
        let config = dir.json(&format!("{name}.json"), &config);
        let live = iam_host(&[
            OsStr::new("run"),
            OsStr::new("test-module"),
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--live"),
        ]);
        assert_eq!(live.code, 1, "{}", live.stderr);
        assert_eq!(entry(&live), expected);
        assert_no_token(short, "stdout", &live.stdout);
        assert_no_token(short, "stderr", &live.stderr);
        // Replayed (under both hosts), the same entry, and the empty cassette is all used.
        let cassette = dir.json("empty.json", &json!({"interactions": []}));
        let words: Vec<&OsStr> = vec![
            OsStr::new("run"),
            OsStr::new("test-module"),
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--cassette"),
            cassette.as_os_str(),
        ];
        let replay = iam_host(&words);
        assert_eq!((replay.code, entry(&replay)), (1, expected.clone()));
        let node = hosts::node_host(&words)
            .output()
            .expect("node (is Node.js installed?)");
        assert_eq!(
            String::from_utf8_lossy(&node.stdout),
            replay.stdout,
            "{}",
            String::from_utf8_lossy(&node.stderr)
        );
    }
    assert_eq!(server.connections(), 0, "a request was sent");
}

#[test]
fn a_token_that_is_a_word_of_the_cassette_format_leaves_the_recording_intact() {
    // Regression: the recording scrubbed its own keys, so this token wrote
    // `"<redacted>"` for `"interactions"`, broke the file, and the error showed the token.
    let token = "interactions";
    let server = Server::start(move |_| echoing_user(token));
    let dir = Scratch::new("word");
    let config = dir.json("config.json", &params(&server.url(), token, json!({})));
    let args = dir.json("args.json", &get_user_args());
    let recording = dir.path("recording.json");
    let live = iam_host(&[
        OsStr::new("run"),
        OsStr::new("iam-get-user"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--args"),
        args.as_os_str(),
        OsStr::new("--live"),
        OsStr::new("--record"),
        recording.as_os_str(),
    ]);
    assert_eq!(live.code, 0, "{}", live.stderr);
    assert_no_token(token, "stdout", &live.stdout);
    assert_no_token(token, "stderr", &live.stderr);
    let cassette = read_cassette(&recording);
    // Only the format's own key holds the word; no recorded value does.
    let values = serde_json::to_string(&cassette.interactions).expect("JSON");
    assert_no_token(token, "the recorded interactions", &values);
    let replay = iam_host(&[
        OsStr::new("run"),
        OsStr::new("iam-get-user"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--args"),
        args.as_os_str(),
        OsStr::new("--cassette"),
        recording.as_os_str(),
    ]);
    assert_eq!(
        (replay.code, &replay.stdout),
        (0, &live.stdout),
        "{}",
        replay.stderr
    );
}

// ---------------------------------------------------------------------------------------
// 2 and 9: what the hostile component reaches for.

fn hostile_component() -> &'static Path {
    static HOSTILE: OnceLock<PathBuf> = OnceLock::new();
    HOSTILE.get_or_init(|| {
        artifact::build_wasm_package("hostile-guest")
            .unwrap_or_else(|e| panic!("cannot build tests/hostile: {e:#}"))
    })
}

fn hostile_host() -> &'static iam_host::Host {
    static HOST: OnceLock<iam_host::Host> = OnceLock::new();
    HOST.get_or_init(|| support::host_over(hostile_component(), Limits::default()))
}

/// The hostile component's request to `target`: the entry's message, and how many requests
/// reached the server.
fn reach(target: &str) -> (String, usize) {
    let mut params = object(params(
        "https://tenant-1.example",
        TOKEN,
        json!({"hostile": "reach"}),
    ));
    params.insert("target".into(), json!(target));
    let backend = Scripted::answering(Vec::new());
    let seen = backend.seen();
    let report = support::run(
        hostile_host(),
        "test-module",
        params,
        Default::default(),
        backend,
    );
    let (_, entry) = support::entry_of(&report);
    let message = entry["Contents"].as_str().unwrap_or_default().to_string();
    (message, seen.requests().len())
}

#[test]
fn a_path_that_changes_when_parsed_is_denied_and_never_sent() {
    for path in [
        "/scim/directory/d1/Users/..",
        "/scim/directory/d1/Users/../../admin",
        "/scim/directory/d1/Users/%2E%2E",
        "/scim/directory/d1/Users/%2e%2E/admin",
        "/scim/directory/d1/Users/.%2E",
        "/scim/directory/d1/Users/%2E",
        "/scim/directory/d1/Users/./x",
        "/scim/directory/d1\\..\\admin",
    ] {
        let (message, sent) = reach(&format!("https://tenant-1.example{path}"));
        assert!(
            message.contains("HttpError::Denied(Denial::PathChanges("),
            "{path}: {message}"
        );
        assert_eq!(sent, 0, "{path}: the request was sent");
    }
    // An encoded dot inside a segment is no dot segment: it goes out as written.
    let (message, sent) = reach("https://tenant-1.example/scim/directory/d1/Users/a%2E%2Eb");
    assert_eq!((message.as_str(), sent), ("the request was sent (200)", 1));
}

#[test]
fn a_url_with_a_password_is_refused_without_printing_it() {
    for target in [
        "https://jdoe:hunter2-secret@tenant-1.example/scim/directory/d1/Users",
        "https://jdoe:hunter2-secret@/scim",
        "https://jdoe:hunter2-secret@[::1/scim",
        "https://jdoe:hunter2-secret@tenant-2.example/scim",
    ] {
        let (message, sent) = reach(target);
        assert!(
            message.starts_with("the request failed: HttpError::Denied("),
            "{target}: {message}"
        );
        assert!(
            !message.contains("hunter2") && !message.contains("jdoe"),
            "{target}: {message}"
        );
        assert_eq!(sent, 0, "{target}");
    }
}

// ---------------------------------------------------------------------------------------
// 3. Recordings.

fn created_user() -> Reply {
    http(
        201,
        &[("content-type", "application/json")],
        r#"{"id":"u9","userName":"jd@example.com","active":true,"emails":[{"value":"jd@example.com","primary":true}]}"#,
    )
}

fn is_post(raw: &[u8]) -> bool {
    raw.starts_with(b"POST ")
}

fn create_args() -> Value {
    json!({"user-profile": {"email": "jd@example.com", "username": "jd@example.com"}})
}

#[test]
fn recording_over_anything_that_exists_is_refused_before_any_request_and_before_the_config() {
    let server = Server::start(|_| http(200, &[], r#"{"totalResults":0,"Resources":[]}"#));
    let dir = Scratch::new("record-refused");
    let config = dir.json("config.json", &params(&server.url(), TOKEN, json!({})));
    let existing = dir.json("existing.json", &json!({"keep": "me"}));
    let folder = dir.path("folder");
    std::fs::create_dir(&folder).expect("folder");
    let dangling = dir.path("dangling.json");
    std::os::unix::fs::symlink(dir.path("nowhere"), &dangling).expect("symlink");
    let missing_config = dir.path("no-such-config.json");
    for (target, overwrite) in [
        (existing.as_path(), false),
        (Path::new("/dev/full"), false),
        (Path::new("/dev/full"), true),
        (Path::new("/dev/null"), true),
        (folder.as_path(), false),
        (folder.as_path(), true),
        (dangling.as_path(), false),
    ] {
        for config in [config.as_os_str(), missing_config.as_os_str()] {
            let mut words = vec![
                OsStr::new("run"),
                OsStr::new("iam-create-user"),
                OsStr::new("--config"),
                config,
                OsStr::new("--args"),
                OsStr::new(r#"{"user-profile": {"email": "jd@example.com"}}"#),
                OsStr::new("--live"),
                OsStr::new("--record"),
                target.as_os_str(),
            ];
            if overwrite {
                words.push(OsStr::new("--overwrite"));
            }
            let run = iam_host(&words);
            let name = target.display();
            assert_eq!(run.code, 2, "{name}: {}", run.stderr);
            assert_eq!(run.stdout, "", "{name}");
            assert_eq!(run.stderr.lines().count(), 1, "{name}: {}", run.stderr);
            assert!(
                run.stderr.contains("refusing to overwrite"),
                "{name}: {}",
                run.stderr
            );
        }
    }
    assert_eq!(server.connections(), 0, "a request was sent");
    assert_eq!(
        std::fs::read_to_string(&existing).expect("kept"),
        r#"{"keep":"me"}"#
    );
    // --overwrite replaces a file, and only with a whole cassette.
    let run = iam_host(&[
        OsStr::new("run"),
        OsStr::new("test-module"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--live"),
        OsStr::new("--record"),
        existing.as_os_str(),
        OsStr::new("--overwrite"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    read_cassette(&existing);
    let left: Vec<_> = std::fs::read_dir(&dir.0)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn a_recording_that_cannot_be_written_still_prints_the_entry_and_exits_2() {
    // Regression: the user was created, and stdout stayed empty (exit 3). Here the server
    // deletes the recording's folder while it creates the user.
    let dir = Scratch::new("record-lost");
    let out = dir.path("out");
    std::fs::create_dir(&out).expect("out");
    let doomed = out.clone();
    let server = Server::start(move |raw| {
        if is_post(raw) {
            std::fs::remove_dir_all(&doomed).ok();
            created_user()
        } else {
            http(200, &[], r#"{"totalResults":0,"Resources":[]}"#)
        }
    });
    let config = dir.json("config.json", &params(&server.url(), TOKEN, json!({})));
    let args = dir.json("args.json", &create_args());
    let recording = out.join("create.json");
    let run = iam_host(&[
        OsStr::new("run"),
        OsStr::new("iam-create-user"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--args"),
        args.as_os_str(),
        OsStr::new("--live"),
        OsStr::new("--record"),
        recording.as_os_str(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let created = entry(&run);
    assert_eq!(
        (&created["Contents"]["success"], &created["Contents"]["id"]),
        (&json!(true), &json!("u9")),
        "{created:#}"
    );
    assert!(
        run.stderr.contains(&format!(
            "cannot write the recording {}",
            recording.display()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("No such file or directory"),
        "{}",
        run.stderr
    );
    assert!(server.requests().iter().any(|r| r.starts_with("POST ")));
    assert_no_token(TOKEN, "stderr", &run.stderr);
}

// ---------------------------------------------------------------------------------------
// 4. Time, and failures a retry cannot cure.

#[test]
fn a_server_that_never_answers_ends_in_a_failed_result_within_the_wall_clock_budget() {
    // Regression: with the default limits the guest's 4 tries of 30 s plus its waits ran past
    // the host's 120 s, and the command ended in a Type 4 entry. The same, scaled down.
    let server = Server::start(|_| Reply::Never);
    let dir = Scratch::new("never");
    let config = dir.json("config.json", &params(&server.url(), TOKEN, json!({})));
    let args = dir.json("args.json", &get_user_args());
    let limits = dir.json(
        "limits.json",
        &json!({"wall_millis": 3000, "request_timeout_millis": 1000}),
    );
    let run = iam_host(&[
        OsStr::new("run"),
        OsStr::new("iam-get-user"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--args"),
        args.as_os_str(),
        OsStr::new("--live"),
        OsStr::new("--limits"),
        limits.as_os_str(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let failed = entry(&run);
    assert_eq!(failed["Type"], 1, "{failed:#}");
    assert_eq!(
        (
            &failed["Contents"]["success"],
            &failed["Contents"]["errorCode"]
        ),
        (&json!(false), &Value::Null),
        "{failed:#}"
    );
    let message = failed["Contents"]["errorMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("timed out"), "{message}");
    // Two tries fit the budget; the retries after it answered at once, without a request.
    assert!(
        server.connections() <= 2,
        "{} connections",
        server.connections()
    );
    assert!(run.took < Duration::from_secs(10), "took {:?}", run.took);
    assert_no_token(TOKEN, "stderr", &run.stderr);
}

#[test]
fn garbage_from_the_server_is_a_protocol_failure_and_never_retried() {
    let server = Server::start(|_| Reply::Bytes(b"SSH-2.0-OpenSSH_9.6\r\n\r\n\x00\xff".to_vec()));
    let dir = Scratch::new("garbage");
    let config = dir.json("config.json", &params(&server.url(), TOKEN, json!({})));
    let args = dir.json("args.json", &get_user_args());
    let run = iam_host(&[
        OsStr::new("run"),
        OsStr::new("iam-get-user"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--args"),
        args.as_os_str(),
        OsStr::new("--live"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let failed = entry(&run);
    let message = failed["Contents"]["errorMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("answered with invalid HTTP"), "{message}");
    assert_eq!(
        server.connections(),
        1,
        "a GET that cannot be cured was retried"
    );
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
}

#[test]
fn a_self_signed_certificate_is_refused_and_never_retried() {
    let (url, connections) = self_signed_server();
    let dir = Scratch::new("tls");
    let config = dir.json("config.json", &params(&url, TOKEN, json!({})));
    let args = dir.json("args.json", &get_user_args());
    let run = iam_host(&[
        OsStr::new("run"),
        OsStr::new("iam-get-user"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--args"),
        args.as_os_str(),
        OsStr::new("--live"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let failed = entry(&run);
    let message = failed["Contents"]["errorMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("certificate"), "{message}");
    assert_eq!(
        connections.load(Ordering::Relaxed),
        1,
        "a refused certificate was retried"
    );
    // With `insecure`, the same server is reached.
    let config = dir.json(
        "insecure.json",
        &params(&url, TOKEN, json!({"insecure": true})),
    );
    let run = iam_host(&[
        OsStr::new("run"),
        OsStr::new("test-module"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--live"),
    ]);
    assert_eq!(
        (run.code, entry(&run)),
        (
            0,
            json!({"Type": 1, "ContentsFormat": "text", "Contents": "ok"})
        ),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------
// 5. The proxy.

const PROXY_PASSWORD: &str = "proxy-pass-Wd9";

#[test]
fn a_loopback_target_never_goes_through_the_proxy_and_no_message_shows_its_password() {
    let proxy = Server::start(|_| http(407, &[("proxy-authenticate", "Basic realm=\"p\"")], ""));
    let proxy_url = format!("http://proxyuser:{PROXY_PASSWORD}@{}", proxy.address());
    let env = [
        ("HTTP_PROXY", Some(proxy_url.as_str())),
        ("HTTPS_PROXY", Some(proxy_url.as_str())),
        ("http_proxy", Some(proxy_url.as_str())),
        ("https_proxy", Some(proxy_url.as_str())),
        ("NO_PROXY", None),
        ("no_proxy", None),
    ];
    let server = Server::start(|_| http(200, &[], r#"{"totalResults":0,"Resources":[]}"#));
    let dir = Scratch::new("proxy");
    let config = dir.json(
        "local.json",
        &params(&server.url(), TOKEN, json!({"proxy": true})),
    );
    let run = iam_host_with(
        &[
            OsStr::new("run"),
            OsStr::new("test-module"),
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--live"),
        ],
        &env,
        Stderr::Captured,
    );
    assert_eq!(
        (run.code, entry(&run)),
        (
            0,
            json!({"Type": 1, "ContentsFormat": "text", "Contents": "ok"})
        ),
        "{}",
        run.stderr
    );
    assert_eq!(
        proxy.connections(),
        0,
        "a loopback request went through the proxy"
    );
    assert!(server.requests()[0].contains(&format!("authorization: Bearer {TOKEN}")));

    // A remote target does go through the proxy, which refuses it: the message names neither
    // the proxy's password nor the token, and the proxy never saw the token.
    let config = dir.json(
        "remote.json",
        &params(
            "https://scim.proxied.example",
            TOKEN,
            json!({"proxy": true}),
        ),
    );
    let limits = dir.json("limits.json", &json!({"wall_millis": 1500}));
    let run = iam_host_with(
        &[
            OsStr::new("run"),
            OsStr::new("test-module"),
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("--live"),
            OsStr::new("--limits"),
            limits.as_os_str(),
        ],
        &env,
        Stderr::Captured,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        proxy
            .requests()
            .iter()
            .any(|r| r.starts_with("CONNECT scim.proxied.example:443")),
        "{:?}",
        proxy.requests()
    );
    let basic = base64(format!("proxyuser:{PROXY_PASSWORD}").as_bytes(), false);
    for (what, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !text.contains(PROXY_PASSWORD) && !text.contains(&basic),
            "{what}: {text}"
        );
        assert_no_token(TOKEN, what, text);
    }
    for request in proxy.requests() {
        assert_no_token(TOKEN, "what the proxy saw", &request);
    }
}

// ---------------------------------------------------------------------------------------
// 6. Hostile files and names.

fn seed_case(file: &str) -> PathBuf {
    support::cases_dir().join("get_seed_example").join(file)
}

#[test]
fn paths_that_are_not_utf8_work_and_a_command_that_is_not_utf8_is_a_usage_error() {
    let dir = Scratch::new("utf8");
    let config = dir.0.join(OsStr::from_bytes(b"config-\xff\xfe.json"));
    let args = dir.0.join(OsStr::from_bytes(b"args-\xc3(.json"));
    std::fs::copy(seed_case("config.json"), &config).expect("copy");
    std::fs::copy(seed_case("args.json"), &args).expect("copy");
    let cassette = seed_case("cassette.json");
    let run = iam_host(&[
        OsStr::new("run"),
        OsStr::new("iam-get-user"),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--args"),
        args.as_os_str(),
        OsStr::new("--cassette"),
        cassette.as_os_str(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(seed_case("expected.json")).expect("expected"),
    )
    .expect("JSON");
    assert_eq!(entry(&run), expected);
    // A file that is missing under such a name is named (lossily), in one line.
    let missing = dir.0.join(OsStr::from_bytes(b"missing-\xff.json"));
    let run = iam_host(&[
        OsStr::new("run"),
        OsStr::new("iam-get-user"),
        OsStr::new("--config"),
        missing.as_os_str(),
        OsStr::new("--cassette"),
        cassette.as_os_str(),
    ]);
    assert_eq!(
        (run.code, run.stderr.lines().count()),
        (2, 1),
        "{}",
        run.stderr
    );
    let command = OsString::from(OsStr::from_bytes(b"iam-get-\xffuser"));
    let run = iam_host(&[
        OsStr::new("run"),
        &command,
        OsStr::new("--config"),
        config.as_os_str(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn an_input_file_over_its_cap_is_refused_with_one_line() {
    // Sparse files one byte over each cap: read up to the cap and refused, never whole. (A
    // device or a FIFO is refused before it is read: tests/e2e/input_files.rs.)
    let dir = Scratch::new("over-cap");
    let over = |name: &str, cap: u64| -> PathBuf {
        let path = dir.0.join(name);
        let file = std::fs::File::create(&path).expect("a scratch file");
        file.set_len(cap + 1).expect("a sparse file");
        path
    };
    let config = seed_case("config.json");
    let cassette = seed_case("cassette.json");
    let mib = |n: u64| n << 20;
    for (flag, what, cap, shown) in [
        ("--args", "args file", mib(16), "16 MiB"),
        ("--limits", "limits file", mib(16), "16 MiB"),
        ("--component", "component", mib(64), "64 MiB"),
        ("--config", "config file", mib(16), "16 MiB"),
        ("--cassette", "cassette", mib(256), "256 MiB"),
    ] {
        let big = over(&format!("{what}.json").replace(' ', "-"), cap);
        let mut words: Vec<&OsStr> = os(&["run", "iam-get-user"]);
        let file_for = |name: &str, own: &Path| -> PathBuf {
            if flag == name {
                big.clone()
            } else {
                own.to_path_buf()
            }
        };
        let config = file_for("--config", &config);
        let cassette = file_for("--cassette", &cassette);
        words.extend([OsStr::new("--config"), config.as_os_str()]);
        words.extend([OsStr::new("--cassette"), cassette.as_os_str()]);
        if !matches!(flag, "--config" | "--cassette") {
            words.extend([OsStr::new(flag), big.as_os_str()]);
        }
        let run = iam_host(&words);
        assert_eq!(run.code, 2, "{flag}: {}", run.stderr);
        assert_eq!(
            run.stderr.trim_end(),
            format!(
                "iam-host: {what} {} is larger than the {shown} the host reads",
                big.display()
            ),
            "{flag}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// 7. The compiled-component cache.

/// A copy of the component with a custom section of its own, so that it has a cache file
/// of its own (the cache is keyed by the component's hash) that this test may tamper with.
fn unique_component(dir: &Scratch) -> PathBuf {
    let mut wasm = std::fs::read(support::component()).expect("the component");
    let name = b"iam-hardening";
    let payload = format!("{}-{:?}", std::process::id(), Instant::now());
    let content_len = 1 + name.len() + payload.len();
    assert!(name.len() < 128 && content_len < 128);
    wasm.push(0); // custom section
    wasm.push(content_len as u8);
    wasm.push(name.len() as u8);
    wasm.extend_from_slice(name);
    wasm.extend_from_slice(payload.as_bytes());
    let path = dir.path("component.wasm");
    std::fs::write(&path, wasm).expect("write the component");
    path
}

/// The cache file of `component` (by the first 16 bytes of its BLAKE3 digest, as engine.rs
/// names it).
fn cache_file(component: &Path) -> PathBuf {
    let digest = blake3::hash(&std::fs::read(component).expect("read")).to_hex();
    let prefix = &digest[..32];
    let dir = artifact::default_cache_dir();
    std::fs::read_dir(&dir)
        .expect("the cache folder")
        .flatten()
        .map(|entry| entry.path())
        .find(|path| {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with(prefix) && name.ends_with(".cwasm")
        })
        .unwrap_or_else(|| panic!("no cache file for {prefix} in {}", dir.display()))
}

#[test]
fn a_tampered_cache_file_is_compiled_afresh_and_a_full_stderr_is_no_panic() {
    let dir = Scratch::new("cache");
    let component = unique_component(&dir);
    let words = |stderr_words: &[&OsStr]| -> Vec<OsString> {
        let mut words: Vec<OsString> = vec![
            "run".into(),
            "iam-get-user".into(),
            "--config".into(),
            seed_case("config.json").into(),
            "--args".into(),
            seed_case("args.json").into(),
            "--cassette".into(),
            seed_case("cassette.json").into(),
            "--component".into(),
            component.clone().into(),
        ];
        words.extend(stderr_words.iter().map(OsString::from));
        words
    };
    let words = words(&[]);
    let words: Vec<&OsStr> = words.iter().map(OsString::as_os_str).collect();
    let first = iam_host(&words);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let cached = cache_file(&component);
    let written = std::fs::read(&cached).expect("the cache file");
    let tamper = || {
        let mut bytes = written.clone();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(&cached, bytes).expect("tamper");
    };
    tamper();
    let second = iam_host(&words);
    assert_eq!(
        (second.code, &second.stdout),
        (0, &first.stdout),
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains("recompiling"), "{}", second.stderr);
    assert_eq!(
        std::fs::read(&cached).expect("rewritten"),
        written,
        "the tampered file stayed"
    );
    // Its warning cannot be written: still the entry, no panic.
    tamper();
    let third = iam_host_with(&words, &[], Stderr::Full);
    assert_eq!((third.code, &third.stdout), (0, &first.stdout));
    let digest = cached.with_extension("cwasm.blake3");
    assert_eq!(
        std::fs::read_to_string(&digest).expect("the digest beside the cache file"),
        blake3::hash(&written).to_hex().as_str(),
        "the digest is not the written artifact's"
    );
    std::fs::remove_file(&cached).ok();
    std::fs::remove_file(&digest).ok();
}

// ---------------------------------------------------------------------------------------
// 8. The limits file.

#[test]
fn limits_given_as_an_array_or_without_cpu_time_are_refused() {
    let dir = Scratch::new("limits");
    for (limits, expected) in [
        (
            json!([1048576, 1000, 8, 65536, 1000, 1000, 0, 65536]),
            "a JSON object of limits",
        ),
        (json!({"cpu_millis": 0}), "cpu_millis must be at least 1"),
        (json!({"wall_milis": 1}), "unknown field `wall_milis`"),
    ] {
        let path = dir.json("limits.json", &limits);
        let mut words = os(&["run", "iam-get-user", "--config"]);
        let config = seed_case("config.json");
        let cassette = seed_case("cassette.json");
        words.extend([
            config.as_os_str(),
            OsStr::new("--cassette"),
            cassette.as_os_str(),
            OsStr::new("--limits"),
            path.as_os_str(),
        ]);
        let run = iam_host(&words);
        assert_eq!(run.code, 2, "{limits}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{limits}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert_eq!(run.stdout, "");
    }
}

// ---------------------------------------------------------------------------------------
// 11. A cassette of many interactions.

/// Run `iam-host` and follow its peak resident memory (VmHWM) until it exits, in bytes.
fn peak_memory(args: &[&OsStr]) -> (i32, u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iam-host"))
        .args(args)
        .arg("--component")
        .arg(support::component())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run iam-host");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(kilobytes) = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kilobytes * 1024);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            return (status.code().unwrap_or(-1), peak);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_cassette_of_many_interactions_takes_a_small_multiple_of_its_size() {
    // Regression: every interaction was parsed and prepared up front, nine times the file.
    const INTERACTIONS: usize = 20_000;
    let dir = Scratch::new("many");
    let seed: Value = serde_json::from_str(
        &std::fs::read_to_string(seed_case("cassette.json")).expect("the seed cassette"),
    )
    .expect("JSON");
    let one = seed["interactions"][0].to_string();
    let many = dir.path("many.json");
    let text = format!(
        r#"{{"interactions": [{}]}}"#,
        vec![one; INTERACTIONS].join(",\n")
    );
    std::fs::write(&many, &text).expect("write");
    let words = |cassette: &Path| -> Vec<OsString> {
        vec![
            "run".into(),
            "iam-get-user".into(),
            "--config".into(),
            seed_case("config.json").into(),
            "--args".into(),
            seed_case("args.json").into(),
            "--cassette".into(),
            cassette.into(),
        ]
    };
    let small = words(&seed_case("cassette.json"));
    let (code, baseline) = peak_memory(&small.iter().map(OsString::as_os_str).collect::<Vec<_>>());
    assert_eq!(code, 0);
    let big = words(&many);
    let (code, peak) = peak_memory(&big.iter().map(OsString::as_os_str).collect::<Vec<_>>());
    // The first interaction answers; the others are unused, which fails the replay.
    assert_eq!(code, 3);
    let file = text.len() as u64;
    assert!(
        peak.saturating_sub(baseline) < 4 * file,
        "{} MB over the baseline for a {} MB cassette",
        peak.saturating_sub(baseline) >> 20,
        file >> 20
    );
}

/// A cassette file, parsed as the gate parses cassettes.
fn read_cassette(path: &std::path::Path) -> iam_gate::cassette::Cassette {
    let text = std::fs::read_to_string(path).expect("a readable cassette");
    iam_gate::cassette::Cassette::parse(&text).expect("a valid cassette")
}
