//! The same component under Node.js (jco): `tests/js/iam-host.mjs` is a second host, written
//! independently of the wasmtime one. Every folder of `tests/cases/` runs through both, and
//! both must print the same bytes on stdout and exit with the same status; the JS host's own
//! checks (`node --test`, in `tests/js/test/`) must pass too. The JS packages come from
//! `npm ci --prefix tests/js` (CI runs it); this file never installs anything.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::{cases_dir, component};

/// Bytes of context shown on each side of the first difference.
const CONTEXT_BYTES: usize = 120;

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

/// What one host printed, stdout kept as bytes so that the comparison is exact.
struct Run {
    code: i32,
    stdout: Vec<u8>,
    stderr: String,
}

fn run(mut command: Command, what: &str) -> Run {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `iam-host` and `node tests/js/iam-host.mjs` with the same arguments and component.
fn both_hosts(args: &[String]) -> (Run, Run) {
    let mut rust = Command::new(env!("CARGO_BIN_EXE_iam-host"));
    rust.args(args).arg("--component").arg(component());
    let mut node = Command::new("node");
    node.arg(js_dir().join("iam-host.mjs"))
        .args(args)
        .arg("--component")
        .arg(component());
    (
        run(rust, "iam-host"),
        run(node, "node (is Node.js installed?)"),
    )
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
fn difference(name: &str, rust: &Run, node: &Run) -> Option<String> {
    if rust.stdout == node.stdout && rust.code == node.code {
        return None;
    }
    let at = rust
        .stdout
        .iter()
        .zip(&node.stdout)
        .position(|(a, b)| a != b)
        .unwrap_or(rust.stdout.len().min(node.stdout.len()));
    let around = |bytes: &[u8]| {
        String::from_utf8_lossy(
            &bytes[at.saturating_sub(CONTEXT_BYTES)..(at + CONTEXT_BYTES).min(bytes.len())],
        )
        .into_owned()
    };
    Some(format!(
        "{name}: exit {} (iam-host) vs {} (node); stdout {} vs {} bytes, first difference at byte {at}\n  iam-host: …{}…\n  node:     …{}…\n  iam-host stderr: {}\n  node stderr:     {}",
        rust.code,
        node.code,
        rust.stdout.len(),
        node.stdout.len(),
        around(&rust.stdout),
        around(&node.stdout),
        rust.stderr.trim(),
        node.stderr.trim(),
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
fn every_case_prints_the_same_bytes_under_node() {
    require_node_modules();
    let dirs = case_dirs();
    assert!(!dirs.is_empty(), "tests/cases has no case folders");
    let differences = Mutex::new(Vec::new());
    let compare = |dir: &PathBuf| {
        let name = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let (rust, node) = both_hosts(&case_args(dir));
        if let Some(why) = difference(&name, &rust, &node) {
            differences
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(why);
        }
    };
    // The first run transpiles the component into target/jco/; the rest reuse it.
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
        "{} of {} cases differ between iam-host and node:\n\n{}",
        differences.len(),
        dirs.len(),
        differences.join("\n\n")
    );
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
    let output = run(command, "node --test (is Node.js installed?)");
    assert_eq!(
        output.code,
        0,
        "node --test tests/js/test/ failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        output.stderr
    );
}
