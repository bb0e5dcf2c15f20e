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

use std::path::PathBuf;
use std::process::Command;

use iam_host_cli::artifact;

use crate::other_hosts::{every_case_matches_iam_host, run_process};
use crate::support::hosts::{
    python, python_cache_dir as cache_dir, python_host, python_package_dir as package_dir,
    venv_executable,
};
use crate::support::{component, gated_component};

/// The python of the local SCIM server's environment (tests/scim/venv.sh), for the live tests.
fn scim_python() -> PathBuf {
    venv_executable(
        &artifact::workspace_root().join("tests/scim/venv.sh"),
        "the live tests need python3 and the pinned scim2-server",
    )
}

/// Every case folder: byte-identical stdout and the same exit status under Python.
#[test]
fn every_case_prints_the_same_bytes_under_python() {
    // The first run compiles the component into the cache; the rest load it.
    every_case_matches_iam_host("the Python host", python_host);
}

/// The Python host's own suite (pytest). Where it checks bytes, it compares them with this
/// build of iam-host.
#[test]
fn the_python_host_passes_its_own_tests() {
    let (hostile_connector, hostile_gated) = crate::support::hosts::hostile_components();
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
