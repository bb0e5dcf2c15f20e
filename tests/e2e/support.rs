//! Shared helpers: the component built once, the CLI runner, the in-process host and a JSON
//! comparison that shows both sides.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use iam_host::{Host, HostConfig, artifact, limits::Limits};

/// The release component, built once for the whole test run.
pub fn component() -> &'static Path {
    static COMPONENT: OnceLock<PathBuf> = OnceLock::new();
    COMPONENT.get_or_init(|| match artifact::build_component() {
        Ok(path) => path,
        Err(e) => panic!("cannot build the component: {e:#}"),
    })
}

/// A host over the built component with default limits, shared by the tests.
pub fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| host_with(Limits::default()))
}

pub fn host_with(limits: Limits) -> Host {
    let config = HostConfig {
        component: component().to_path_buf(),
        cache_dir: artifact::default_cache_dir(),
        limits,
    };
    match Host::new(config) {
        Ok(host) => host,
        Err(e) => panic!("cannot load the component: {e:#}"),
    }
}

/// Where the case folders are.
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cases")
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
    if args.first() == Some(&"run") {
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
