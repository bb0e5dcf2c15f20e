//! The three hosts' command lines, for tests that run the same command through each: `iam-host`
//! (over the connector, the gate linked natively), the Python host and the Node host (each over
//! the gated component: the connector composed with the gate). The Python environment comes
//! from `host-test/python/venv.sh` and the Node packages from `npm ci --prefix host-test/node`
//! (`.ci/run` makes both); a machine without them fails these tests with the fix.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use iam_host_cli::artifact;

use super::{component, gated_component};

/// The Python host's package folder.
pub fn python_package_dir() -> PathBuf {
    artifact::workspace_root().join("host-test/python")
}

/// What a venv script of the repository (`tests/scim/venv.sh`, `tests/nats/venv.sh`,
/// `host-test/python/venv.sh`) makes: it prints the executable's path as its last line. Run
/// once per test run by each caller's `OnceLock`; instant when `.ci/run` has run it already.
/// `needs` says what the tests need when it fails.
pub fn venv_executable(script: &Path, needs: &str) -> PathBuf {
    let output = Command::new("bash")
        .arg(script)
        .stderr(Stdio::inherit())
        .output();
    let executable = match output {
        Ok(out) if out.status.success() => PathBuf::from(
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .lines()
                .last()
                .unwrap_or_default(),
        ),
        Ok(out) => panic!(
            "{} failed ({}): {needs} (run .ci/run)",
            script.display(),
            out.status
        ),
        Err(e) => panic!("cannot run {}: {e}", script.display()),
    };
    assert!(
        executable.is_file(),
        "{} printed {}, which is not a file",
        script.display(),
        executable.display()
    );
    executable
}

/// The python of the Python host's virtual environment, made by host-test/python/venv.sh.
pub fn python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        venv_executable(
            &python_package_dir().join("venv.sh"),
            "the Python host's tests need python3 and the pinned packages of host-test/python/requirements.txt",
        )
    })
}

/// The compiled-component cache of the Python host in these tests (never the user's).
pub fn python_cache_dir() -> PathBuf {
    artifact::workspace_root().join("target/iam-host-python-test-cache")
}

/// `python -m iam_host <args>` from the package's source tree, over `component` (a gated one).
pub fn python_host_over<S: AsRef<OsStr>>(args: &[S], component: &Path) -> Command {
    let mut command = Command::new(python());
    command
        .arg("-m")
        .arg("iam_host")
        .args(args)
        .arg("--component")
        .arg(component)
        .env("PYTHONPATH", python_package_dir())
        .env("IAM_HOST_CACHE_DIR", python_cache_dir());
    command
}

/// The Python host over the gated component.
pub fn python_host<S: AsRef<OsStr>>(args: &[S]) -> Command {
    python_host_over(args, gated_component())
}

/// The tests' hostile guest (tests/hostile), built once per run: as iam-host loads it, and
/// composed with the gate as the Python and Node hosts load it.
pub fn hostile_components() -> &'static (PathBuf, PathBuf) {
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

/// The Node host's folder.
pub fn node_dir() -> PathBuf {
    artifact::workspace_root().join("host-test/node")
}

/// Fail with the fix when the Node packages are not installed.
pub fn require_node_modules() {
    let jco = node_dir().join("node_modules/@bytecodealliance/jco/package.json");
    assert!(
        jco.is_file(),
        "host-test/node/node_modules is missing (no {}): run `npm ci --prefix host-test/node` first (CI does)",
        jco.display()
    );
}

/// `node host-test/node/iam-host.mjs <args>` over `component` (a gated one).
pub fn node_host_over<S: AsRef<OsStr>>(args: &[S], component: &Path) -> Command {
    require_node_modules();
    let mut command = Command::new("node");
    command
        .arg(node_dir().join("iam-host.mjs"))
        .args(args)
        .arg("--component")
        .arg(component);
    command
}

/// The Node host over the gated component.
pub fn node_host<S: AsRef<OsStr>>(args: &[S]) -> Command {
    node_host_over(args, gated_component())
}

/// `iam-host <args>` over `component` (a connector).
pub fn iam_host_over<S: AsRef<OsStr>>(args: &[S], component: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_iam-host"));
    command.args(args).arg("--component").arg(component);
    command
}

/// `iam-host <args>` over the built connector.
pub fn iam_host<S: AsRef<OsStr>>(args: &[S]) -> Command {
    iam_host_over(args, component())
}
