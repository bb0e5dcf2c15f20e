//! Where the guest component is, and building it when it is missing or older than its
//! sources, so that `iam-host run` needs no extra step. The CLI and the tests use this one
//! path; the Node and Python hosts look in the same place (`target/component/`).
//!
//! Also the gated component every other host loads: the connector composed with the gate's
//! core and front (wit/gate.wit) by `wac-graph`, so that it imports only the wire, the clock,
//! the log and the panic report (`iam-host gated`).

use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

/// The workspace root (the guest crate), known at build time: two folders above this
/// package (`host-test/cli`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// The release component built by this repository.
pub fn default_component() -> PathBuf {
    target_dir().join("component").join("atlassian_iam.wasm")
}

/// The connector composed with the gate, as the Python and Node hosts load it.
pub fn default_gated_component() -> PathBuf {
    target_dir()
        .join("component")
        .join("atlassian_iam_gated.wasm")
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

/// Build the connector (cargo decides what is stale; its output goes to stderr) and make it
/// a component at [`default_component`].
///
/// The connector is built for `wasm32-unknown-unknown` and made a component here with
/// `wit-component` (what `wasm-tools component new` does), not built for `wasm32-wasip2`:
/// it imports only the host's own interfaces (`wit/iam.wit`), none of the fifteen WASI ones
/// Rust's standard library pulls in on `wasm32-wasip2` (stdio, environment, exit, terminals,
/// random) that the connector never needs. So it can reach nothing else even in principle,
/// and each command's sandbox is cheaper to set up (BENCHMARKS.md).
pub fn build_component() -> Result<PathBuf> {
    let core = cargo_build("atlassian-iam", CONNECTOR_TARGET)?;
    let component = default_component();
    componentize(&core, &component)?;
    Ok(component)
}

/// The default gated component, composed first when missing or older than its sources (the
/// connector's and the gate's).
pub fn ensure_gated_component() -> Result<PathBuf> {
    let gated = default_gated_component();
    let gate_sources = workspace_root().join("host-test").join("gate");
    if !gated.is_file() || sources_newer_than(&gated) || newest(&gate_sources) > modified(&gated) {
        let connector = ensure_default_component()?;
        compose_gated(&connector, &gated)?;
    }
    Ok(gated)
}

/// Compose `connector` (a component of the `connector` world) with the gate's core and front
/// into `output`: the front's `gate` export is the only export; the connector's `http` and
/// `clock` come from the core; what nobody inside provides (the wire, the clock, the log,
/// the panic report, and whatever else `connector` imports) is imported.
pub fn compose_gated(connector: &Path, output: &Path) -> Result<()> {
    let core = componentized("iam-gate-core")?;
    let front = componentized("iam-gate-front")?;
    let connector_bytes =
        std::fs::read(connector).with_context(|| format!("cannot read {}", connector.display()))?;
    let bytes = compose(&connector_bytes, &core, &front)
        .with_context(|| format!("cannot compose {} with the gate", connector.display()))?;
    let dir = output.parent().context("the output path has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    iam_host::files::write_atomically(output, &bytes, true)
}

/// A package of this workspace built for the connector's target and made a component.
fn componentized(package: &str) -> Result<Vec<u8>> {
    let core = cargo_build(package, CONNECTOR_TARGET)?;
    let component = target_dir()
        .join("component")
        .join(format!("{}.wasm", package.replace('-', "_")));
    componentize(&core, &component)?;
    std::fs::read(&component).with_context(|| format!("cannot read {}", component.display()))
}

/// The interfaces the gate's core gives the connector in place of the host's.
const GATED_INTERFACES: [&str; 2] = ["http", "clock"];

/// An interface of the contract by its full name (`iam:atlassian/<name>@<version>`).
fn interface(name: &str) -> String {
    const PACKAGE: &str = "iam:atlassian";
    const VERSION: &str = "0.4.0";
    format!("{PACKAGE}/{name}@{VERSION}")
}

/// The composition itself (see [`compose_gated`]). The connector's imports that no part
/// gives (log, panic, platform) stay imports of the composed component: the host's.
fn compose(connector: &[u8], core: &[u8], front: &[u8]) -> Result<Vec<u8>> {
    use wac_graph::{CompositionGraph, EncodeOptions, types::Package};
    let mut graph = CompositionGraph::new();
    let register = |graph: &mut CompositionGraph, name: &str, bytes: &[u8]| {
        let package = Package::from_bytes(name, None, bytes.to_vec(), graph.types_mut())?;
        anyhow::Ok(graph.register_package(package)?)
    };
    let connector = register(&mut graph, "iam:connector", connector)?;
    let core = register(&mut graph, "iam:gate-core", core)?;
    let front = register(&mut graph, "iam:gate-front", front)?;
    let core = graph.instantiate(core);
    let connector = graph.instantiate(connector);
    let front = graph.instantiate(front);
    for name in GATED_INTERFACES {
        let export = graph.alias_instance_export(core, &interface(name))?;
        graph.set_instantiation_argument(connector, &interface(name), export)?;
    }
    let session = graph.alias_instance_export(core, &interface("session"))?;
    graph.set_instantiation_argument(front, &interface("session"), session)?;
    let commands = graph.alias_instance_export(connector, &interface("commands"))?;
    graph.set_instantiation_argument(front, &interface("commands"), commands)?;
    let gate = graph.alias_instance_export(front, &interface("gate"))?;
    graph.export(gate, interface("gate"))?;
    Ok(graph.encode(EncodeOptions::default())?)
}

/// The connector's build target: no WASI (see [`build_component`]).
const CONNECTOR_TARGET: &str = "wasm32-unknown-unknown";
/// Build another component of the workspace (the tests' deliberately hostile guest) as the
/// connector is built: for the connector's target, made a component in `target/component/`.
pub fn build_wasm_package(package: &str) -> Result<PathBuf> {
    let core = cargo_build(package, CONNECTOR_TARGET)?;
    let component = target_dir()
        .join("component")
        .join(format!("{}.wasm", package.replace('-', "_")));
    componentize(&core, &component)?;
    Ok(component)
}

/// `cargo build --release --target <target> --package <package>`, and the `.wasm` it made.
fn cargo_build(package: &str, target: &str) -> Result<PathBuf> {
    let root = workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    crate::diagnostic(&format!(
        "iam-host: building {package} (cargo build --release --target {target})…"
    ));
    let status = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--target",
            target,
            "--package",
            package,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status()
        .with_context(|| format!("cannot run cargo to build {package}"))?;
    if !status.success() {
        bail!(
            "building {package} failed ({status}); is the {target} target installed? (rustup target add {target})"
        );
    }
    let wasm = target_dir()
        .join(target)
        .join("release")
        .join(format!("{}.wasm", package.replace('-', "_")));
    if !wasm.is_file() {
        bail!("cargo built no .wasm at {}", wasm.display());
    }
    Ok(wasm)
}

/// Make the core module at `core` (which carries its WIT world in a custom section, as
/// wit-bindgen writes it) a component at `component`, written whole or not at all.
fn componentize(core: &Path, component: &Path) -> Result<()> {
    let module = std::fs::read(core).with_context(|| format!("cannot read {}", core.display()))?;
    let bytes = wit_component::ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .and_then(|encoder| encoder.encode())
        .with_context(|| format!("cannot make a component of {}", core.display()))?;
    let dir = component
        .parent()
        .context("the component path has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    iam_host::files::write_atomically(component, &bytes, true)
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

fn modified(path: &Path) -> SystemTime {
    path.metadata()
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
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
