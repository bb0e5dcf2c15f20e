//! What the Node.js and Python hosts' tests share: running a host as a process, and checking
//! that another host prints the same bytes as `iam-host` on every case folder, with the same
//! exit status.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::cases::case_args;
use crate::support::{cases_dir, component};

/// Bytes of context shown on each side of the first difference.
const CONTEXT_BYTES: usize = 120;

/// What one host printed, stdout kept as bytes so that the comparison is exact.
pub struct HostRun {
    /// The exit status, or minus the signal that ended the process (-11: SIGSEGV).
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

pub fn run_process(mut command: Command, what: &str) -> HostRun {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    HostRun {
        code: output
            .status
            .code()
            .unwrap_or_else(|| -output.status.signal().unwrap_or(0)),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Why the two runs of a case differ, or none.
fn difference(name: &str, label: &str, rust: &HostRun, other: &HostRun) -> Option<String> {
    if rust.stdout == other.stdout && rust.code == other.code {
        return None;
    }
    let at = rust
        .stdout
        .iter()
        .zip(&other.stdout)
        .position(|(a, b)| a != b)
        .unwrap_or(rust.stdout.len().min(other.stdout.len()));
    let around = |bytes: &[u8]| {
        String::from_utf8_lossy(
            &bytes[at.saturating_sub(CONTEXT_BYTES).min(bytes.len())
                ..(at + CONTEXT_BYTES).min(bytes.len())],
        )
        .into_owned()
    };
    Some(format!(
        "{name}: exit {} (iam-host) vs {} ({label}); stdout {} vs {} bytes, first difference at byte {at}\n  iam-host: …{}…\n  {label}: …{}…\n  iam-host stderr: {}\n  {label} stderr: {}",
        rust.code,
        other.code,
        rust.stdout.len(),
        other.stdout.len(),
        around(&rust.stdout),
        around(&other.stdout),
        rust.stderr.trim(),
        other.stderr.trim(),
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

/// Every case folder, whatever folders exist now, through `iam-host` and through the host
/// that `other` starts for a command line (given the same component): byte-identical stdout
/// and the same exit status. The first case runs alone (it warms the other host's cache),
/// the rest on every core.
pub fn every_case_matches_iam_host(label: &str, other: impl Fn(&[String]) -> Command + Sync) {
    let dirs = case_dirs();
    assert!(!dirs.is_empty(), "tests/cases has no case folders");
    let differences = Mutex::new(Vec::new());
    let compare = |dir: &PathBuf| {
        let name = dir.file_name().map_or_else(
            || dir.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let args = case_args(&name);
        let mut rust = Command::new(env!("CARGO_BIN_EXE_iam-host"));
        rust.args(&args).arg("--component").arg(component());
        let rust = run_process(rust, "iam-host");
        let other = run_process(other(&args), label);
        if let Some(why) = difference(&name, label, &rust, &other) {
            differences
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(why);
        }
    };
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
        "{} of {} cases differ between iam-host and {label}:\n\n{}",
        differences.len(),
        dirs.len(),
        differences.join("\n\n")
    );
}
