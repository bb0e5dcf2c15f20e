//! The same component under Python (wasmtime-py): `host-test/python` is a third host, the
//! `iam_host` package, written independently of the Rust one. Every folder of `tests/cases/`
//! runs through both CLIs, and both must print the same bytes on stdout and exit with the
//! same status; the Python host's own suite (pytest, `host-test/python/tests/`: its CLI
//! contract, policy, scrubbing, limits with the hostile component, the XSOAR integration,
//! live runs against the local SCIM server, a fresh-venv install) must pass too.
//!
//! The Python environment comes from `host-test/python/venv.sh` (pinned, in
//! `target/python-host-venv`; `.ci/run` makes it first, so here it is instant). A machine
//! where it cannot be made fails these tests with the reason; they never pass silently.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use iam_host::artifact;

use crate::support::{cases_dir, component};

/// Bytes of context shown on each side of the first difference.
const CONTEXT_BYTES: usize = 120;

fn package_dir() -> PathBuf {
    artifact::workspace_root().join("host-test/python")
}

/// The python of the Python host's virtual environment, made by host-test/python/venv.sh
/// (once per run).
fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let script = package_dir().join("venv.sh");
        let output = Command::new("bash")
            .arg(&script)
            .stderr(Stdio::inherit())
            .output();
        let python = match output {
            Ok(out) if out.status.success() => PathBuf::from(
                String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or_default(),
            ),
            Ok(out) => panic!(
                "{} failed ({}): the Python host's tests need python3 and the pinned packages of \
                 host-test/python/requirements.txt (run .ci/run)",
                script.display(),
                out.status
            ),
            Err(e) => panic!("cannot run {}: {e}", script.display()),
        };
        assert!(
            python.is_file(),
            "{} printed {}, which is not a python",
            script.display(),
            python.display()
        );
        python
    })
}

/// The python of the local SCIM server's environment (tests/scim/venv.sh), for the live tests.
fn scim_python() -> PathBuf {
    let script = artifact::workspace_root().join("tests/scim/venv.sh");
    match Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
    {
        Ok(out) if out.status.success() => PathBuf::from(
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .lines()
                .last()
                .unwrap_or_default(),
        ),
        Ok(out) => panic!("{} failed ({})", script.display(), out.status),
        Err(e) => panic!("cannot run {}: {e}", script.display()),
    }
}

/// The compiled-component cache of these tests (never the user's).
fn cache_dir() -> PathBuf {
    artifact::workspace_root().join("target/iam-host-python-test-cache")
}

/// `python -m iam_host …` from the package's source tree, with the built component.
fn python_host(args: &[String]) -> Command {
    let mut command = Command::new(python());
    command
        .arg("-m")
        .arg("iam_host")
        .args(args)
        .arg("--component")
        .arg(component())
        .env("PYTHONPATH", package_dir())
        .env("IAM_HOST_CACHE_DIR", cache_dir());
    command
}

/// What one host printed, stdout kept as bytes so that the comparison is exact.
struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

fn run(mut command: Command, what: &str) -> Run {
    let output: Output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The command line of a case folder, as `cases.rs` builds it.
fn case_args(dir: &Path) -> Vec<String> {
    let name = dir.display();
    let command = std::fs::read_to_string(dir.join("command.txt"))
        .unwrap_or_else(|e| panic!("{name}/command.txt: {e}"));
    let path = |file: &str| dir.join(file).to_string_lossy().into_owned();
    let mut args = vec![
        "run".to_string(),
        command.trim().to_string(),
        "--config".into(),
        path("config.json"),
    ];
    if dir.join("args.json").exists() {
        args.extend(["--args".into(), path("args.json")]);
    }
    args.extend(["--cassette".into(), path("cassette.json")]);
    args
}

/// Why the two runs of a case differ, or none.
fn difference(name: &str, rust: &Run, python: &Run) -> Option<String> {
    if rust.stdout == python.stdout && rust.code == python.code {
        return None;
    }
    let at = rust
        .stdout
        .iter()
        .zip(&python.stdout)
        .position(|(a, b)| a != b)
        .unwrap_or(rust.stdout.len().min(python.stdout.len()));
    let around = |bytes: &[u8]| {
        String::from_utf8_lossy(
            &bytes[at.saturating_sub(CONTEXT_BYTES).min(bytes.len())
                ..(at + CONTEXT_BYTES).min(bytes.len())],
        )
        .into_owned()
    };
    Some(format!(
        "{name}: exit {} (iam-host) vs {} (python); stdout {} vs {} bytes, first difference at byte {at}\n  iam-host: …{}…\n  python:   …{}…\n  iam-host stderr: {}\n  python stderr:   {}",
        rust.code,
        python.code,
        rust.stdout.len(),
        python.stdout.len(),
        around(&rust.stdout),
        around(&python.stdout),
        rust.stderr.trim(),
        python.stderr.trim(),
    ))
}

fn case_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("tests/cases exists")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

/// Every case folder, whatever folders exist now: byte-identical stdout, the same exit status.
#[test]
fn every_case_prints_the_same_bytes_under_python() {
    let dirs = case_dirs();
    assert!(!dirs.is_empty(), "tests/cases has no case folders");
    let differences = Mutex::new(Vec::new());
    let compare = |dir: &PathBuf| {
        let name = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let args = case_args(dir);
        let mut rust = Command::new(env!("CARGO_BIN_EXE_iam-host"));
        rust.args(&args).arg("--component").arg(component());
        let rust = run(rust, "iam-host");
        let python = run(python_host(&args), "the Python host");
        if let Some(why) = difference(&name, &rust, &python) {
            differences
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(why);
        }
    };
    // The first run compiles the component into the cache; the rest load it.
    compare(&dirs[0]);
    let next = AtomicUsize::new(1);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while let Some(dir) = dirs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    compare(dir);
                }
            });
        }
    });
    let mut differences = differences
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    differences.sort();
    assert!(
        differences.is_empty(),
        "{} of {} cases differ between iam-host and the Python host:\n\n{}",
        differences.len(),
        dirs.len(),
        differences.join("\n\n")
    );
}

/// The Python host's own suite (pytest). Its case-by-case check against expected.json is left
/// out: the test above compares every case with iam-host, byte for byte.
#[test]
fn the_python_host_passes_its_own_tests() {
    let hostile = match artifact::build_wasm_package("hostile-guest") {
        Ok(wasm) => wasm,
        Err(e) => panic!("cannot build the hostile component (tests/hostile): {e:#}"),
    };
    let mut command = Command::new(python());
    command
        .current_dir(package_dir())
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .args(["--ignore", "tests/test_cases.py"])
        .env("IAM_COMPONENT", component())
        .env("IAM_HOSTILE_COMPONENT", &hostile)
        .env("IAM_SCIM_PYTHON", scim_python())
        .env("IAM_HOST_CACHE_DIR", cache_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let output = run(
        command,
        "pytest (host-test/python/venv.sh makes its environment)",
    );
    assert_eq!(
        output.code,
        0,
        "pytest host-test/python/tests failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        output.stderr
    );
}
