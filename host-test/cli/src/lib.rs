//! The `iam-host` command line over the host library (`iam_host`): the subcommands' pieces
//! that tests also use. `artifact` builds the components and composes the connector with the
//! gate; `bench` measures the host; `scale` is batch, worker and submit; `sync` is `sync plan`,
//! `apply` and `run`. `main.rs` parses the command line and decides the exit status.

pub mod artifact;
pub mod bench;
pub mod scale;
pub mod sync;

/// Write one line to stderr. A closed or full stderr is nowhere to report to, and no reason
/// to panic (as `eprintln!` would): the exit status still says how the command ended.
pub fn diagnostic(line: &str) {
    use std::io::Write as _;
    let mut stderr = std::io::stderr().lock();
    writeln!(stderr, "{line}")
        .and_then(|()| stderr.flush())
        .ok();
}

/// A host for a subcommand, its warnings (a cache compiled afresh or not written) on stderr.
pub fn new_host(config: iam_host::HostConfig) -> anyhow::Result<iam_host::Host> {
    let host = iam_host::Host::new(config)?;
    for warning in host.warnings() {
        diagnostic(&format!("iam-host: {warning}"));
    }
    Ok(host)
}
