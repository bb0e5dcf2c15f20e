//! The same component under Node.js (jco): `tests/js/iam-host.mjs` is a second host, written
//! independently of the wasmtime one. Every folder of `tests/cases/` runs through both, and
//! both must print the same bytes on stdout and exit with the same status; the JS host's own
//! checks (`node --test`, in `tests/js/test/`) must pass too. The JS packages come from
//! `npm ci --prefix tests/js` (CI runs it); this file never installs anything.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::other_hosts::{every_case_matches_iam_host, run_process};
use crate::support::component;

fn js_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/js")
}

/// Fail with the fix when the JS packages are not installed.
fn require_node_modules() {
    let jco = js_dir().join("node_modules/@bytecodealliance/jco/package.json");
    assert!(
        jco.is_file(),
        "tests/js/node_modules is missing (no {}): run `npm ci --prefix tests/js` first (CI does)",
        jco.display()
    );
}

/// Every case folder: byte-identical stdout and the same exit status under Node.js.
#[test]
fn every_case_prints_the_same_bytes_under_node() {
    require_node_modules();
    // The first run transpiles the component into target/jco/; the rest reuse it.
    every_case_matches_iam_host("node", |args| {
        let mut node = Command::new("node");
        node.arg(js_dir().join("iam-host.mjs"))
            .args(args)
            .arg("--component")
            .arg(component());
        node
    });
}

/// The JS host's own checks: its JSON, matching and policy rules, and its CLI contract
/// (usage errors exit 2, replay mismatches exit 3), run with Node's built-in test runner.
#[test]
fn the_node_host_passes_its_own_checks() {
    require_node_modules();
    let mut command = Command::new("node");
    command
        .current_dir(js_dir())
        .args(["--test", "test/"])
        .env("IAM_COMPONENT", component());
    let output = run_process(command, "node --test (is Node.js installed?)");
    assert_eq!(
        output.code,
        0,
        "node --test tests/js/test/ failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        output.stderr
    );
}
