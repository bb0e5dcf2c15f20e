//! Shared helpers: the component built once, the CLI runner, the in-process host, the one
//! scripted test backend (`Scripted`, with the `Seen` record a test keeps of what it was
//! sent), and a JSON comparison that shows both sides.

pub mod hosts;
pub mod scratch;
pub mod server;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use iam_host::backend::{Backend, BackendError, BoxFuture, IncomingResponse, OutgoingRequest};
use iam_host::{
    EntryType, Host, HostConfig, Http, Invocation, MAX_IN_FLIGHT, Outcome, Report, limits::Limits,
};
use iam_host_cli::artifact;
use serde_json::{Map, Value, json};

/// The scripted backend's clock at the start: 2024-01-01T00:00:00Z, so that `Retry-After`
/// dates are reproducible.
pub const SCRIPT_START_MILLIS: u64 = 1_704_067_200_000;

/// The release component, built once for the whole test run. `IAM_TEST_COMPONENT` names a
/// prebuilt one instead (to test a given build, or while the guest's sources are mid-change).
pub fn component() -> &'static Path {
    static COMPONENT: OnceLock<PathBuf> = OnceLock::new();
    COMPONENT.get_or_init(|| {
        if let Some(path) = std::env::var_os("IAM_TEST_COMPONENT") {
            return PathBuf::from(path);
        }
        match artifact::build_component() {
            Ok(path) => path,
            Err(e) => panic!("cannot build the component: {e:#}"),
        }
    })
}

/// The built connector composed with the gate (`iam-host gated`): what the Python and Node
/// hosts load. Composed once per test run, beside the connector.
pub fn gated_component() -> &'static Path {
    static GATED: OnceLock<PathBuf> = OnceLock::new();
    GATED.get_or_init(|| {
        let gated = component().with_file_name("atlassian_iam_gated.wasm");
        match artifact::compose_gated(component(), &gated) {
            Ok(()) => gated,
            Err(e) => panic!("cannot compose the gated component: {e:#}"),
        }
    })
}

/// A host over the built component with default limits, shared by the tests.
pub fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| host_with(Limits::default()))
}

pub fn host_with(limits: Limits) -> Host {
    host_over(component(), limits)
}

/// A host over any component (the real one, or a hostile one) with these limits.
pub fn host_over(component: &Path, limits: Limits) -> Host {
    new_host(component, limits, MAX_IN_FLIGHT)
}

/// A host over the built component whose pool holds `max_in_flight` commands at once.
pub fn host_over_pool(max_in_flight: u32) -> Host {
    new_host(component(), Limits::default(), max_in_flight)
}

fn new_host(component: &Path, limits: Limits, max_in_flight: u32) -> Host {
    let config = HostConfig {
        component: component.to_path_buf(),
        cache_dir: artifact::default_cache_dir(),
        limits,
        max_in_flight,
    };
    match Host::new(config) {
        Ok(host) => host,
        Err(e) => panic!("cannot load the component {}: {e:#}", component.display()),
    }
}

/// Run one command on `host` from this (plain) thread.
pub fn run(
    host: &Host,
    command: &str,
    params: Map<String, Value>,
    args: Map<String, Value>,
    backend: impl Backend + 'static,
) -> Report {
    let invocation = Invocation {
        command: command.to_string(),
        params,
        args,
    };
    host.run_blocking(&invocation, Http::live(backend))
}

/// A JSON object value as a map (anything else as an empty map).
pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Tenant `n`'s token (8 characters or more: behaviour.md §1 refuses shorter ones).
pub fn tenant_token(n: usize) -> String {
    format!("s3cr3t-token-{n}")
}

/// Tenant `n`'s instance parameters: its own origin and its own token.
pub fn tenant_params(n: usize) -> Map<String, Value> {
    object(
        json!({"url": format!("https://tenant-{n}.example"), "access_token": tenant_token(n), "directory_id": format!("d-{n}")}),
    )
}

/// The entry of a report, parsed, and its type.
pub fn entry_of(report: &Report) -> (EntryType, Value) {
    let Outcome::Entry {
        entry_type,
        entry_json,
    } = &report.outcome
    else {
        panic!("expected an entry, got {:?}", report.outcome);
    };
    let entry = serde_json::from_str(entry_json)
        .unwrap_or_else(|e| panic!("the entry is not JSON ({e}): {entry_json}"));
    (*entry_type, entry)
}

/// A server's answer, for a script.
pub fn answer(
    status: u16,
    headers: &[(&str, &str)],
    body: impl Into<Vec<u8>>,
) -> Result<IncomingResponse, BackendError> {
    let headers = headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    Ok(IncomingResponse {
        status,
        headers,
        body: body.into(),
    })
}

/// What a [`Scripted`] backend was sent and asked to wait, kept by the test while the backend
/// itself goes into the host.
#[derive(Clone, Default)]
pub struct Seen(Arc<Mutex<Observed>>);

#[derive(Default)]
struct Observed {
    requests: Vec<OutgoingRequest>,
    slept: Vec<u64>,
}

impl Seen {
    fn observed(&self) -> MutexGuard<'_, Observed> {
        // A test thread that panicked while holding the lock left a usable record.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every request as it left the host (method, URL, headers with the credential, body,
    /// and the timeout the host gave it), in order.
    pub fn requests(&self) -> Vec<OutgoingRequest> {
        self.observed().requests.clone()
    }

    /// Every wait the guest asked for, in order.
    pub fn slept(&self) -> Vec<u64> {
        self.observed().slept.clone()
    }
}

/// A script: the answer to each request.
type Script = Box<dyn FnMut(&OutgoingRequest) -> Result<IncomingResponse, BackendError> + Send>;

/// How a [`Scripted`] backend answers.
enum Responder {
    Script(Script),
    /// Another backend's answers (a live server), with the waits still virtual.
    Forward(Box<dyn Backend>),
}

/// The test backend: it answers each request from a script (or another backend), records
/// every request and every wait in its [`Seen`], and waits in virtual time.
pub struct Scripted {
    responder: Responder,
    seen: Seen,
    now_millis: u64,
    /// Real time each answer takes (a slow server); none by default.
    delay: Duration,
}

impl Scripted {
    /// A backend that answers each request with what `respond` returns for it.
    pub fn new<Respond>(respond: Respond) -> Scripted
    where
        Respond: FnMut(&OutgoingRequest) -> Result<IncomingResponse, BackendError> + Send + 'static,
    {
        Scripted::with(Responder::Script(Box::new(respond)))
    }

    /// A backend that gives these answers in order, and `200 {}` past their end.
    pub fn answering(answers: Vec<Result<IncomingResponse, BackendError>>) -> Scripted {
        let mut answers = VecDeque::from(answers);
        Scripted::new(move |_| {
            answers
                .pop_front()
                .unwrap_or_else(|| answer(200, &[], "{}"))
        })
    }

    /// `backend`'s answers and clock, its waits replaced by virtual ones (a live server
    /// without the real waits between retries).
    pub fn forwarding(backend: impl Backend + 'static) -> Scripted {
        Scripted::with(Responder::Forward(Box::new(backend)))
    }

    fn with(responder: Responder) -> Scripted {
        Scripted {
            responder,
            seen: Seen::default(),
            now_millis: SCRIPT_START_MILLIS,
            delay: Duration::ZERO,
        }
    }

    /// Start the virtual clock at `now_millis` (ms since the Unix epoch).
    pub fn at(mut self, now_millis: u64) -> Scripted {
        self.now_millis = now_millis;
        self
    }

    /// Take `delay` of real time to give each answer, as a slow server does.
    pub fn delayed(mut self, delay: Duration) -> Scripted {
        self.delay = delay;
        self
    }

    /// The record of what this backend is sent, for the test to keep.
    pub fn seen(&self) -> Seen {
        self.seen.clone()
    }
}

impl Backend for Scripted {
    fn send<'a>(
        &'a mut self,
        request: &'a OutgoingRequest,
        max_body_bytes: u64,
    ) -> BoxFuture<'a, Result<IncomingResponse, BackendError>> {
        self.seen.observed().requests.push(request.clone());
        Box::pin(async move {
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            match &mut self.responder {
                Responder::Script(respond) => respond(request),
                Responder::Forward(backend) => backend.send(request, max_body_bytes).await,
            }
        })
    }

    fn sleep(&mut self, millis: u64) -> BoxFuture<'_, ()> {
        self.seen.observed().slept.push(millis);
        self.now_millis = self.now_millis.saturating_add(millis);
        Box::pin(std::future::ready(()))
    }

    fn now_millis(&mut self) -> u64 {
        match &mut self.responder {
            Responder::Script(_) => self.now_millis,
            Responder::Forward(backend) => backend.now_millis(),
        }
    }
}

/// Where the case folders are.
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/cases")
}

/// What a CLI run printed.
#[derive(Debug)]
pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run `iam-host` with these arguments and the built component.
pub fn iam_host(args: &[&str]) -> CliOutput {
    let mut command = Command::new(env!("CARGO_BIN_EXE_iam-host"));
    command.args(args);
    if matches!(args.first(), Some(&"run") | Some(&"describe")) {
        command.arg("--component").arg(component());
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run iam-host: {e}"));
    CliOutput {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Assert two JSON values are equal including object key order; on failure print both
/// pretty, so the difference can be read.
#[macro_export]
macro_rules! assert_json_eq {
    ($actual:expr, $expected:expr, $($context:tt)*) => {{
        let actual: &serde_json::Value = &$actual;
        let expected: &serde_json::Value = &$expected;
        let (a, e) = (serde_json::to_string_pretty(actual).unwrap_or_default(), serde_json::to_string_pretty(expected).unwrap_or_default());
        if a != e {
            let first_difference = a.lines().zip(e.lines()).position(|(x, y)| x != y).unwrap_or(0);
            panic!(
                "{}\n--- expected\n{e}\n--- actual\n{a}\n--- first differing line: {}\n  expected: {}\n  actual:   {}",
                format!($($context)*),
                first_difference + 1,
                e.lines().nth(first_difference).unwrap_or(""),
                a.lines().nth(first_difference).unwrap_or(""),
            );
        }
    }};
}
