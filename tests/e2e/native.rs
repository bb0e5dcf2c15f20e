//! Every case of tests/cases/ again, natively: the guest library's own entry point
//! (`atlassian_iam::invocation::run`, which the component's adapter also calls) over a
//! `Transport` that plays the host's part (the token out of the parameters, the credential
//! attached) and replays the case's cassette with the host's own matching
//! (`iam_host::cassette`). It must give the same bytes as the component gives through
//! `iam-host run`, and the same exit status: a difference is logic in the adapter or the
//! host, where there must be none.

use serde_json::{Map, Value, json};
use url::Url;

use atlassian_iam::invocation::{self, EntryType};
use atlassian_iam::transport::{LogLevel, Request, Response, SendError, Transport};
use iam_host::backend::system_now_millis;
use iam_host::cassette::{ActualRequest, Cassette, Matcher};
use iam_host::{CREDENTIAL_NAME, Secret, split_secret};

use crate::cases::{case_command, expected_failure, run_case_cli};
use crate::support::cases_dir;

/// `iam-host run`'s exit status when replay fails.
const REPLAY_FAILED: i32 = 3;
/// `iam-host run`'s exit status for an unreadable or invalid file.
const USAGE_ERROR: i32 = 2;
/// Bytes of context shown on each side of the first difference.
const CONTEXT_BYTES: usize = 120;

/// The host's side of a native run: the tenant's token, and the case's cassette replayed in
/// order, in virtual time, with the host's matchers.
struct ReplayingHost {
    token: Option<Secret>,
    cassette: Cassette,
    matchers: Vec<Matcher>,
    next: usize,
    virtual_now: u64,
    /// Why the replay failed: the host would end the command there (exit 3).
    failed: Option<String>,
}

impl ReplayingHost {
    fn new(token: Option<Secret>, cassette: Cassette) -> ReplayingHost {
        let matchers = cassette
            .interactions
            .iter()
            .map(|interaction| interaction.request.matcher())
            .collect();
        ReplayingHost {
            token,
            cassette,
            matchers,
            next: 0,
            // As the host's replay: the virtual clock starts at the real time.
            virtual_now: system_now_millis(),
            failed: None,
        }
    }

    /// The request as the host's backend sees it: the credential attached after the guest's
    /// own headers, as the host's policy attaches it.
    fn headers(&self, request: &Request) -> Result<Vec<(String, String)>, SendError> {
        let mut headers = request.headers.clone();
        match (request.credential.as_deref(), &self.token) {
            (None, _) => {}
            (Some(CREDENTIAL_NAME), Some(token)) => headers.push((
                "Authorization".to_string(),
                format!("Bearer {}", token.expose()),
            )),
            (Some(other), _) => return Err(SendError::UnknownCredential(other.to_string())),
        }
        Ok(headers)
    }

    /// Why the run is a replay failure: a request that matched nothing, or interactions the
    /// command left unused.
    fn replay_failure(&self) -> Option<String> {
        self.failed.clone().or_else(|| {
            let unused = self.cassette.interactions.len().saturating_sub(self.next);
            (unused > 0).then(|| format!("{unused} recorded interaction(s) were not used"))
        })
    }
}

impl Transport for ReplayingHost {
    fn send(&mut self, request: &Request) -> Result<Response, SendError> {
        if self.failed.is_some() {
            return Err(SendError::Transport("the replay has failed".into()));
        }
        // The host's order: the URL first, then the credential.
        let url = Url::parse(&request.url).map_err(|e| {
            SendError::Denied(format!("{:?} is not an absolute URL ({e})", request.url))
        })?;
        let headers = self.headers(request)?;
        let actual = ActualRequest {
            method: request.method.as_str(),
            url: &url,
            headers: &headers,
            body: request.body.as_deref(),
        };
        let number = self.next + 1;
        let answer = match (
            self.cassette.interactions.get(self.next),
            self.matchers.get(self.next),
        ) {
            (Some(interaction), Some(matcher)) => {
                match matcher.mismatch(&interaction.request, &actual) {
                    None => Ok(Response {
                        status: interaction.response.status,
                        headers: interaction.response.header_pairs(),
                        body: interaction.response.body_bytes(),
                    }),
                    Some(why) => Err(format!(
                        "request #{number} does not match the recorded interaction: {why}\n  expected: {}\n  actual:   {}",
                        interaction.request.describe(),
                        actual.describe()
                    )),
                }
            }
            _ => Err(format!(
                "request #{number} matched no recorded interaction: {}",
                actual.describe()
            )),
        };
        match answer {
            Ok(response) => {
                self.next += 1;
                Ok(response)
            }
            Err(why) => {
                self.failed = Some(why.clone());
                Err(SendError::Transport(why))
            }
        }
    }

    fn sleep(&mut self, millis: u64) {
        self.virtual_now = self.virtual_now.saturating_add(millis);
    }

    fn now_millis(&mut self) -> u64 {
        self.virtual_now
    }

    fn log(&mut self, _level: LogLevel, _message: &str) {}
}

/// A JSON object from a case file, or an empty one when the file is absent.
fn read_object(name: &str, file: &str) -> Map<String, Value> {
    let path = cases_dir().join(name).join(file);
    if !path.exists() {
        return Map::new();
    }
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {file}: {e}"));
    match serde_json::from_str(&text) {
        Ok(Value::Object(map)) => map,
        other => panic!("{name}: {file} is not a JSON object: {other:?}"),
    }
}

/// How a native run ended, as `iam-host run` would print it: its stdout and exit status.
struct NativeRun {
    stdout: String,
    code: i32,
    replay_failure: Option<String>,
}

fn run_natively(name: &str) -> NativeRun {
    let (params, token) = split_secret(&read_object(name, "config.json"));
    let args = read_object(name, "args.json");
    let cassette_path = cases_dir().join(name).join("cassette.json");
    let cassette = Cassette::load(&cassette_path).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    let credential = token.as_ref().map(|_| CREDENTIAL_NAME);
    // The invocation as the host hands it to the component (`invocation.json` in the WIT).
    let invocation_json =
        json!({"command": case_command(name), "params": params, "args": args}).to_string();
    let mut host = ReplayingHost::new(token, cassette);
    let outcome = invocation::run(&invocation_json, credential, &mut host);
    if let Some(why) = host.replay_failure() {
        return NativeRun {
            stdout: String::new(),
            code: REPLAY_FAILED,
            replay_failure: Some(why),
        };
    }
    NativeRun {
        stdout: format!("{}\n", outcome.entry_json),
        code: match outcome.entry_type {
            EntryType::Note => 0,
            EntryType::Error => 1,
        },
        replay_failure: None,
    }
}

/// The case natively and through the component: the same stdout, byte for byte, and the same
/// exit status.
fn check_natively(name: &str) {
    // A case that expects exit 2 fails in the host before any command runs (an unreadable or
    // invalid config, args or cassette file): there is nothing to run natively. A case that
    // expects exit 3 (a replay mismatch or unused interactions) is run: the native replay,
    // with the same matchers, must fail too.
    if expected_failure(name).is_some_and(|(code, _)| code == USAGE_ERROR) {
        return;
    }
    let component = run_case_cli(name);
    let native = run_natively(name);
    if component.stdout == native.stdout && component.code == native.code {
        return;
    }
    let (ours, theirs) = (component.stdout.as_bytes(), native.stdout.as_bytes());
    let at = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let around = |bytes: &[u8]| {
        let end = at.saturating_add(CONTEXT_BYTES).min(bytes.len());
        String::from_utf8_lossy(&bytes[at.saturating_sub(CONTEXT_BYTES).min(end)..end]).into_owned()
    };
    panic!(
        "{name}: the component (exit {}) and the native core (exit {}) differ; stdout {} vs {} bytes, first difference at byte {at}\n  component: …{}…\n  native:    …{}…\n  component stderr: {}\n  native replay failure: {:?}",
        component.code,
        native.code,
        ours.len(),
        theirs.len(),
        around(ours),
        around(theirs),
        component.stderr.trim_end(),
        native.replay_failure,
    );
}

macro_rules! native_tests {
    ($($name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                check_natively(stringify!($name));
            }
        )*
    };
}

crate::for_each_case!(native_tests);
