//! A real SCIM 2.0 server for the tests: tests/scim/server.py (scim2-server, pinned, shaped
//! like Atlassian) on 127.0.0.1, one per test on a port it picks itself and announces, stopped
//! by PID when the test ends, pass or fail (`ScimServer`'s Drop), which also removes the test's
//! scratch directory (configs, recordings, the server's log). A test reads the server's own
//! state with direct requests (ureq, not the host's client), so that it never trusts the entry
//! alone. It knows nothing of the component or the host.

use serde_json::{Map, Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use iam_host_cli::artifact;

use crate::support::hosts::venv_executable;

/// The directory id the servers serve, in Atlassian's `/scim/directory/<id>`.
pub const DIRECTORY: &str = "e2e-directory";
/// How long a server may take to start: importing pydantic takes about a second here, and
/// several tests start servers at once on two cores.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may take to write a request's log line after answering it.
const LOG_WAIT: Duration = Duration::from_secs(10);

/// A number unique to each server of this run.
fn next_server() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The python of the server's virtual environment, made by tests/scim/venv.sh (once per run).
fn scim_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        venv_executable(
            &artifact::workspace_root().join("tests/scim/venv.sh"),
            "the live tests need python3 and the pinned scim2-server",
        )
    })
}

/// A running SCIM server, stopped by PID when dropped.
pub struct ScimServer {
    child: Child,
    /// `http://127.0.0.1:<port>`: the instance's `url`.
    pub url: String,
    /// `<url>/scim/directory/<id>`.
    pub base: String,
    /// A token no test output may contain: unique per server, so a leak names its test.
    pub token: String,
    /// The test's scratch directory: the server's log, configs, recordings.
    pub dir: PathBuf,
    log: PathBuf,
}

impl ScimServer {
    pub fn start() -> ScimServer {
        ScimServer::start_with(&[])
    }

    /// A server on https with the self-signed certificate of tests/scim/tls/.
    pub fn start_tls() -> ScimServer {
        let tls = artifact::workspace_root().join("tests/scim/tls");
        let (cert, key) = (tls.join("cert.pem"), tls.join("key.pem"));
        ScimServer::start_with(&[
            "--tls-cert".as_ref(),
            cert.as_os_str(),
            "--tls-key".as_ref(),
            key.as_os_str(),
        ])
    }

    pub fn start_with(extra_args: &[&std::ffi::OsStr]) -> ScimServer {
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
    pub fn params(&self, extra: Value) -> Map<String, Value> {
        let mut params = json!({"url": self.url, "access_token": self.token, "directory_id": DIRECTORY, "instance_name": "live"});
        if let (Some(params), Value::Object(extra)) = (params.as_object_mut(), extra) {
            params.extend(extra);
        }
        params.as_object().cloned().unwrap_or_default()
    }

    /// A request straight to the server (not through the host): status and JSON body.
    pub fn direct(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
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
    pub fn user(&self, id: &str) -> Option<Value> {
        match self.direct("GET", &format!("/Users/{id}"), None) {
            (200, user) => Some(user),
            (404, _) => None,
            (status, body) => panic!("GET /Users/{id} answered {status}: {body}"),
        }
    }

    pub fn user_count(&self) -> u64 {
        let (status, list) = self.direct("GET", "/Users", None);
        assert_eq!(status, 200, "{list}");
        list["totalResults"].as_u64().expect("totalResults")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server's log once it has stopped growing for a moment: it writes a request's line
    /// only after the answer has gone out, so a client that has its answers (a finished run,
    /// all its results written) can still be ahead of the log by a line or two.
    pub fn settled_log_text(&self) -> String {
        let deadline = Instant::now() + LOG_WAIT;
        let mut text = self.log_text();
        loop {
            std::thread::sleep(Duration::from_millis(150));
            let now = self.log_text();
            if now == text || Instant::now() >= deadline {
                return now;
            }
            text = now;
        }
    }

    /// Wait until the server's log holds `fragment`: it writes a request's line only after
    /// the answer has gone out, so the client can be faster than the log.
    pub fn wait_for_log(&self, fragment: &str) {
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
    pub fn stop(&mut self) {
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
