//! The `iam-host` command line over the host library (`iam_host`): the subcommands' pieces
//! that tests also use. `artifact` builds the components and composes the connector with the
//! gate; `bench` measures the host; `scale` is batch, worker and submit; `sync` is `sync plan`,
//! `apply` and `run`. `main.rs` parses the command line and decides the exit status.

pub mod artifact;
pub mod bench;
pub mod scale;
pub mod sync;

use anyhow::{Context as _, Result};
use iam_host::files;
use iam_host::limits::Limits;
use std::path::{Path, PathBuf};

/// Write one line to stderr. A closed or full stderr is nowhere to report to, and no reason
/// to panic (as `eprintln!` would): the exit status still says how the command ended.
pub fn diagnostic(line: &str) {
    use std::io::Write as _;
    let mut stderr = std::io::stderr().lock();
    writeln!(stderr, "{line}")
        .and_then(|()| stderr.flush())
        .ok();
}

/// A host for a subcommand: the component given, or the default one (built when missing),
/// through the shared `.cwasm` cache; its warnings (a cache compiled afresh or not written)
/// on stderr.
pub fn load_host(
    component: Option<PathBuf>,
    limits: Limits,
    max_in_flight: u32,
) -> Result<iam_host::Host> {
    let component = match component {
        Some(path) => path,
        None => artifact::ensure_default_component()?,
    };
    let host = iam_host::Host::new(iam_host::HostConfig {
        component,
        cache_dir: artifact::default_cache_dir(),
        limits,
        max_in_flight,
    })?;
    for warning in host.warnings() {
        diagnostic(&format!("iam-host: {warning}"));
    }
    Ok(host)
}

/// The limits file of `--limits` (only a regular file, with the config cap), or the default
/// limits without one.
pub fn read_limits(path: Option<&Path>) -> Result<Limits> {
    let Some(path) = path else {
        return Ok(Limits::default());
    };
    let text = files::read_capped_text(path, files::CONFIG_BYTES, "limits file")?;
    serde_json::from_str::<Limits>(&text)
        .with_context(|| format!("limits file {} is not valid", path.display()))
}
