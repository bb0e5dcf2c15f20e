//! The same connector under Node.js (jco): `host-test/node/iam-host.mjs` loads the gated
//! component (the connector composed with the gate, `support::gated_component`) and
//! implements only its imports (wire, clock, log, panic), its files and its command line.
//! Every folder of `tests/cases/` runs through it and through `iam-host`, and both must print
//! the same bytes on stdout and exit with the same status; the Node host's own checks
//! (`node --test`, in `host-test/node/test/`: its CLI, files, live runs against a local
//! server, recording) must pass too. The packages come from `npm ci --prefix host-test/node`
//! (CI runs it); this file never installs anything.

use std::process::Command;

use crate::other_hosts::{every_case_matches_iam_host, run_process};
use crate::support::gated_component;
use crate::support::hosts::{node_dir, node_host, require_node_modules};

/// Every case folder: byte-identical stdout and the same exit status under Node.js.
#[test]
fn every_case_prints_the_same_bytes_under_node() {
    require_node_modules();
    // The first run transpiles the component into target/jco/; the rest reuse it.
    every_case_matches_iam_host("node", node_host);
}

/// The Node host's own checks, run with Node's built-in test runner.
#[test]
fn the_node_host_passes_its_own_checks() {
    require_node_modules();
    let mut command = Command::new("node");
    command
        .current_dir(node_dir())
        .args(["--test", "test/"])
        .env("IAM_COMPONENT", gated_component());
    let output = run_process(command, "node --test (is Node.js installed?)");
    assert_eq!(
        output.code,
        0,
        "node --test host-test/node/test/ failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        output.stderr
    );
}
