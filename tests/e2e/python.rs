//! The same connector under Python (wasmtime-py): `host-test/python` is the `iam_host` package,
//! a host that loads the connector composed with the gate (`support::gated_component`, the
//! host contract in Wasm) and gives it only the wire, the clock, the log, the panic reports and
//! a sandbox. Every folder of `tests/cases/` runs through both CLIs (iam-host over the
//! connector, Python over the gated component), and both must print the same bytes on stdout
//! and exit with the same status; the Python host's own suite (pytest,
//! `host-test/python/tests/`: its CLI contract and files, limits with the hostile guest
//! composed with the gate, compared with iam-host, the XSOAR integration, live runs against the
//! local SCIM server, a fresh-venv install) must pass too.
//!
//! The Python environment comes from `host-test/python/venv.sh` (pinned, in
//! `target/python-host-venv`; `.ci/run` makes it first, so here it is instant). A machine
//! where it cannot be made fails these tests with the reason; they never pass silently.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use iam_host::artifact;

use crate::other_hosts::{every_case_matches_iam_host, run_process};
use crate::support::{component, gated_component};

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

/// `python -m iam_host …` from the package's source tree, with the gated component.
fn python_host(args: &[String]) -> Command {
    let mut command = Command::new(python());
    command
        .arg("-m")
        .arg("iam_host")
        .args(args)
        .arg("--component")
        .arg(gated_component())
        .env("PYTHONPATH", package_dir())
        .env("IAM_HOST_CACHE_DIR", cache_dir());
    command
}

/// Every case folder: byte-identical stdout and the same exit status under Python.
#[test]
fn every_case_prints_the_same_bytes_under_python() {
    // The first run compiles the component into the cache; the rest load it.
    every_case_matches_iam_host("the Python host", python_host);
}

/// The tests' hostile guest (tests/hostile), built once per run: as iam-host loads it, and
/// composed with the gate as the Python host loads it.
fn hostile() -> &'static (PathBuf, PathBuf) {
    static HOSTILE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    HOSTILE.get_or_init(|| {
        let connector = match artifact::build_wasm_package("hostile-guest") {
            Ok(wasm) => wasm,
            Err(e) => panic!("cannot build the hostile component (tests/hostile): {e:#}"),
        };
        let gated = component().with_file_name("hostile_guest_gated.wasm");
        if let Err(e) = artifact::compose_gated(&connector, &gated) {
            panic!("cannot compose the hostile component with the gate: {e:#}");
        }
        (connector, gated)
    })
}

/// The Python host's own suite (pytest). Where it checks bytes, it compares them with this
/// build of iam-host.
#[test]
fn the_python_host_passes_its_own_tests() {
    let (hostile_connector, hostile_gated) = hostile();
    let mut command = Command::new(python());
    command
        .current_dir(package_dir())
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"])
        .env("IAM_COMPONENT", gated_component())
        .env("IAM_CONNECTOR", component())
        .env("IAM_HOSTILE_COMPONENT", hostile_gated)
        .env("IAM_HOSTILE_CONNECTOR", hostile_connector)
        .env("IAM_HOST_RUST_CLI", env!("CARGO_BIN_EXE_iam-host"))
        .env("IAM_SCIM_PYTHON", scim_python())
        .env("IAM_HOST_CACHE_DIR", cache_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let output = run_process(
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
