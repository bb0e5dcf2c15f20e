//! Every case of tests/cases/ again, natively: the guest library's own entry point
//! (`atlassian_iam::invocation::run`, which the component's adapter also calls) behind the
//! same gate as a sandboxed command (`iam_host::native`: the token out of the parameters,
//! policy, the credential attached, the case's cassette replayed with the gate's matching).
//! It must give the same bytes as the component gives through `iam-host run`, and the same
//! exit status: a difference is logic in the adapter or the engine, where there must be none.

use serde_json::{Map, Value};

use iam_host::backend::load_cassette;
use iam_host::limits::Limits;
use iam_host::native::{NativeOutcome, NativeTenant};

use crate::cases::{case_command, expected_failure, run_case_cli};
use crate::support::cases_dir;

/// `iam-host run`'s exit status when replay fails.
const REPLAY_FAILED: i32 = 3;
/// `iam-host run`'s exit status for an unreadable or invalid file.
const USAGE_ERROR: i32 = 2;
/// Bytes of context shown on each side of the first difference.
const CONTEXT_BYTES: usize = 120;

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
    let params = read_object(name, "config.json");
    let args = read_object(name, "args.json");
    let cassette_path = cases_dir().join(name).join("cassette.json");
    let cassette = load_cassette(&cassette_path).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    let tenant = NativeTenant::new(&params, Limits::default());
    match tenant.run(&case_command(name), &args, cassette) {
        NativeOutcome::ReplayFailed(why) => NativeRun {
            stdout: String::new(),
            code: REPLAY_FAILED,
            replay_failure: Some(why),
        },
        NativeOutcome::Entry {
            is_error,
            entry_json,
        } => NativeRun {
            stdout: format!("{entry_json}\n"),
            code: i32::from(is_error),
            replay_failure: None,
        },
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
