//! Where the guest component is, and building it when it is missing or older than its
//! sources, so that `iam-host run` needs no extra step. The CLI and the tests use this one
//! path.

use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

/// The workspace root (the guest crate), known at build time.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// The release component built by this repository.
pub fn default_component() -> PathBuf {
    target_dir()
        .join("wasm32-wasip2")
        .join("release")
        .join("atlassian_iam.wasm")
}

/// Where precompiled components are cached.
pub fn default_cache_dir() -> PathBuf {
    target_dir().join("iam-host-cache")
}

/// The default component, built first when missing or older than the guest's sources.
pub fn ensure_default_component() -> Result<PathBuf> {
    let component = default_component();
    if !component.is_file() || sources_newer_than(&component) {
        build_component()?;
    }
    Ok(component)
}

/// Run cargo for the guest (cargo decides what is stale); its output goes to stderr.
pub fn build_component() -> Result<PathBuf> {
    build_wasm_package("atlassian-iam")
}

/// Build one of the workspace's packages as a release `wasm32-wasip2` component and return
/// its `.wasm` (the tests also build a deliberately hostile guest this way).
pub fn build_wasm_package(package: &str) -> Result<PathBuf> {
    let root = workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    crate::diagnostic(&format!(
        "iam-host: building {package} (cargo build --release --target wasm32-wasip2)…"
    ));
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--package",
            package,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .with_context(|| format!("cannot run cargo to build {package}"))?;
    if !status.success() {
        bail!(
            "building {package} failed ({status}); is the wasm32-wasip2 target installed? (rustup target add wasm32-wasip2)"
        );
    }
    let wasm = default_component().with_file_name(format!("{}.wasm", package.replace('-', "_")));
    if !wasm.is_file() {
        bail!("cargo built no component at {}", wasm.display());
    }
    Ok(wasm)
}

fn sources_newer_than(component: &Path) -> bool {
    let Ok(built) = component.metadata().and_then(|m| m.modified()) else {
        return true;
    };
    let root = workspace_root();
    [root.join("src"), root.join("wit"), root.join("Cargo.toml")]
        .iter()
        .any(|path| newest(path) > built)
}

fn newest(path: &Path) -> SystemTime {
    let own = path
        .metadata()
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    match std::fs::read_dir(path) {
        Ok(entries) => entries
            .flatten()
            .map(|entry| newest(&entry.path()))
            .fold(own, SystemTime::max),
        Err(_) => own,
    }
}
