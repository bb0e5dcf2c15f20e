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

use crate::support::scratch::Scratch;
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

/// `iam-host run <command> --config <config> --args <args>`, then `rest`.
fn run_command(command: &str, config: &Path, args: &Path, rest: &[&OsStr]) -> Run {
    let mut words = vec![
        OsStr::new("run"),
        OsStr::new(command),
        OsStr::new("--config"),
        config.as_os_str(),
        OsStr::new("--args"),
        args.as_os_str(),
    ];
    words.extend_from_slice(rest);
    iam_host(&words)
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

mod big_cassette;
mod cache;
mod failures;
mod files;
mod limits_file;
mod proxy;
mod reach;
mod recording;
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

fn seed_case(file: &str) -> PathBuf {
    support::cases_dir().join("get_seed_example").join(file)
}

/// A cassette file, parsed as the gate parses cassettes.
fn read_cassette(path: &std::path::Path) -> iam_gate::cassette::Cassette {
    let text = std::fs::read_to_string(path).expect("a readable cassette");
    iam_gate::cassette::Cassette::parse(&text).expect("a valid cassette")
}

mod token;
