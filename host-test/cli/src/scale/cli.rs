//! The command lines of `iam-host batch`, `worker` and `submit` (architecture.md, "Batch and
//! scale-out contract"), and their exit status: 0 once the run is complete (a worker: once it
//! stopped as asked), 2 for usage errors, unreadable or invalid files and a NATS server not
//! reached within 30 s; a worker's second stop signal exits 130 at once. Each function turns
//! its arguments into the options of its run, runs it on a multi-threaded async runtime and
//! returns how it ended; `main.rs` decides the exit status, as for every subcommand.

use anyhow::{Context as _, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::audit::AuditLog;
use super::auth::{NatsAccess, NatsAuthArgs};
use super::batch::{self, BatchOptions};
use super::jobs::{BlockedPlan, INPUT_FILE, read_plan_header};
use super::metrics;
use super::progress::Display;
use super::quarantine::QuarantinePolicy;
use super::runner::{DEFAULT_CONCURRENCY, DEFAULT_PER_TENANT, RunnerOptions};
use super::submit::{self, SubmitOptions};
use super::tenants::Tenants;
use super::worker::{self, WorkerOptions};
use crate::read_limits;
use iam_host::limits::Limits;
use iam_host::{Host, files};

/// `--ack-wait` by default (architecture.md).
pub const DEFAULT_ACK_WAIT_SECS: u64 = 60;

/// What the jobs run with: the component and the per-command limits.
#[derive(Args, Debug, Clone)]
pub struct SandboxArgs {
    /// The component (default: this repository's, built when missing or stale).
    #[arg(long, value_name = "FILE")]
    pub component: Option<PathBuf>,
    /// Per-command sandbox limits as a JSON object (memory_bytes, cpu_millis, …).
    #[arg(long, value_name = "limits.json")]
    pub limits: Option<PathBuf>,
}

/// How many commands at once.
#[derive(Args, Debug, Clone)]
pub struct ConcurrencyArgs {
    /// Commands in flight at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Commands in flight at once for any one tenant.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PER_TENANT)]
    pub per_tenant: usize,
}

/// When a tenant is quarantined (quarantine.rs), and what is served about the run.
#[derive(Args, Debug, Clone)]
pub struct WatchArgs {
    /// Quarantine a tenant after this many 401/403 answers in a row (0: never).
    #[arg(long, value_name = "N", default_value_t = super::quarantine::DEFAULT_AFTER)]
    pub quarantine_after: u32,
    /// The wait before a quarantined tenant's first probe, in milliseconds (tests).
    #[arg(long, value_name = "MS", hide = true, default_value_t = super::quarantine::FIRST_PROBE.as_millis() as u64)]
    pub quarantine_probe_ms: u64,
    /// Serve Prometheus metrics (/metrics), /healthz and /readyz on this address (host:port).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct BatchArgs {
    /// The tenants: {"tenants": {"<name>": {instance parameters, token included}}}.
    #[arg(long, value_name = "tenants.json")]
    pub tenants: PathBuf,
    /// The jobs, one JSON object a line: {"id", "tenant", "command", "args"}.
    #[arg(long, value_name = "jobs.jsonl")]
    pub input: PathBuf,
    /// Where result lines are appended; the ids it has already are skipped.
    #[arg(long, value_name = "results.jsonl")]
    pub output: PathBuf,
    #[command(flatten)]
    pub concurrency: ConcurrencyArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub watch: WatchArgs,
    #[command(flatten)]
    pub plan: PlanInputArgs,
    /// Append one JSON line per HTTP request sent for a job (no body, no header, no token).
    #[arg(long, value_name = "audit.jsonl")]
    pub audit: Option<PathBuf>,
}

/// How a plan file of `iam-host sync plan` is taken as input (sync.md §8).
#[derive(Args, Debug, Clone)]
pub struct PlanInputArgs {
    /// Run a blocked plan anyway (its header lists why it is blocked).
    #[arg(long)]
    pub force: bool,
}

/// Refuse a blocked plan unless `--force` (a [`BlockedPlan`] error: exit 4), before anything
/// runs or is written. A job file that is not a plan passes.
pub fn check_plan_input(input: &Path, plan: &PlanInputArgs) -> Result<()> {
    if let Some(header) = read_plan_header(input)?
        && header.is_blocked()
        && !plan.force
    {
        return Err(BlockedPlan {
            reasons: header.blocked,
        }
        .into());
    }
    Ok(())
}

/// Open the audit file, when one is asked for (before the component loads).
pub fn open_audit(path: Option<&Path>) -> Result<Option<Arc<AuditLog>>> {
    path.map(AuditLog::open).transpose()
}

#[derive(Args, Debug, Clone)]
pub struct WorkerArgs {
    /// The NATS server (several, comma-separated, for a cluster): nats://host:port.
    #[arg(long, value_name = "nats://host:port")]
    pub nats: String,
    /// The tenants this worker can run jobs for.
    #[arg(long, value_name = "tenants.json")]
    pub tenants: PathBuf,
    #[command(flatten)]
    pub concurrency: ConcurrencyArgs,
    /// Seconds a job may go unacknowledged before the server hands it to another worker
    /// (when this worker creates the shared consumer).
    #[arg(long, value_name = "SECS", default_value_t = DEFAULT_ACK_WAIT_SECS)]
    pub ack_wait: u64,
    #[command(flatten)]
    pub auth: NatsAuthArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    #[command(flatten)]
    pub watch: WatchArgs,
    /// Append one JSON line per HTTP request sent for a job (no body, no header, no token).
    #[arg(long, value_name = "audit.jsonl")]
    pub audit: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct SubmitArgs {
    /// The NATS server (several, comma-separated, for a cluster): nats://host:port.
    #[arg(long, value_name = "nats://host:port")]
    pub nats: String,
    /// The jobs, one JSON object a line.
    #[arg(long, value_name = "jobs.jsonl")]
    pub input: PathBuf,
    /// Where result lines are appended, one per job id; the ids it has already are skipped.
    #[arg(long, value_name = "results.jsonl")]
    pub output: PathBuf,
    #[command(flatten)]
    pub auth: NatsAuthArgs,
    #[command(flatten)]
    pub plan: PlanInputArgs,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("iam-host-scale")
        .build()
        .context("cannot start the async runtime")
}

fn runner_options(
    concurrency: &ConcurrencyArgs,
    watch: &WatchArgs,
    limits: Limits,
    label: &'static str,
) -> Result<RunnerOptions> {
    let options = RunnerOptions::new(concurrency.concurrency, concurrency.per_tenant, limits)
        .map_err(anyhow::Error::msg)?;
    if watch.quarantine_probe_ms == 0 {
        bail!("--quarantine-probe-ms must be at least 1");
    }
    Ok(RunnerOptions {
        quarantine: QuarantinePolicy {
            after: watch.quarantine_after,
            first_probe: Duration::from_millis(watch.quarantine_probe_ms),
        },
        label,
        ..options
    })
}

/// Serve the metrics when `--metrics` asks (on the runtime that runs the jobs); an address
/// that cannot be bound is a usage error.
async fn serve_metrics(watch: &WatchArgs, label: &str) -> Result<()> {
    if let Some(address) = &watch.metrics {
        metrics::serve(address, metrics::global(), label).await?;
    }
    Ok(())
}

/// The NATS servers, credential and TLS the options give (secrets from files or the
/// environment only).
fn nats_access(servers: &str, auth: &NatsAuthArgs) -> Result<NatsAccess> {
    NatsAccess::new(servers, auth, |name| std::env::var(name).ok())
}

/// Load the component with the jobs' limits.
pub fn load_host(component: Option<PathBuf>, limits: Limits) -> Result<Arc<Host>> {
    crate::load_host(component, limits, iam_host::MAX_IN_FLIGHT).map(Arc::new)
}

/// `iam-host batch`.
pub fn batch(args: BatchArgs) -> Result<()> {
    let limits = read_limits(args.sandbox.limits.as_deref())?;
    let runner = runner_options(&args.concurrency, &args.watch, limits, "iam-host batch")?;
    if files::same_file(&args.input, &args.output) {
        bail!("--output must not be the --input file");
    }
    if args.audit.as_deref().is_some_and(|audit| {
        files::same_file(audit, &args.input) || files::same_file(audit, &args.output)
    }) {
        bail!("--audit must be neither the --input nor the --output file");
    }
    let tenants = Tenants::load(&args.tenants)?;
    // Every file before the component loads: a bad input costs no start-up.
    files::open(&args.input, INPUT_FILE)?;
    check_plan_input(&args.input, &args.plan)?;
    let audit = open_audit(args.audit.as_deref())?;
    let host = load_host(args.sandbox.component.clone(), limits)?;
    let options = BatchOptions {
        input: args.input.clone(),
        output: args.output.clone(),
        runner,
        display: Display::Auto,
        audit,
    };
    runtime()?.block_on(async {
        serve_metrics(&args.watch, "iam-host batch").await?;
        // Nothing to connect to: ready at once.
        metrics::global().set_ready(true);
        batch::run(host, &tenants, &options).await
    })?;
    Ok(())
}

/// `iam-host worker`.
pub fn worker(args: WorkerArgs) -> Result<()> {
    let limits = read_limits(args.sandbox.limits.as_deref())?;
    let runner = runner_options(&args.concurrency, &args.watch, limits, "iam-host worker")?;
    if args.ack_wait == 0 {
        bail!("--ack-wait must be at least 1 second");
    }
    let nats = nats_access(&args.nats, &args.auth)?;
    let tenants = Tenants::load(&args.tenants)?;
    let audit = open_audit(args.audit.as_deref())?;
    let host = load_host(args.sandbox.component.clone(), limits)?;
    let options = WorkerOptions {
        nats,
        runner,
        ack_wait: Duration::from_secs(args.ack_wait),
        display: Display::Auto,
        audit,
    };
    runtime()?.block_on(async {
        serve_metrics(&args.watch, "iam-host worker").await?;
        worker::run(host, &tenants, &options).await
    })?;
    Ok(())
}

/// `iam-host submit`.
pub fn submit(args: SubmitArgs) -> Result<()> {
    if files::same_file(&args.input, &args.output) {
        bail!("--output must not be the --input file");
    }
    // Before anything is connected to or written.
    files::open(&args.input, INPUT_FILE)?;
    check_plan_input(&args.input, &args.plan)?;
    let options = SubmitOptions {
        nats: nats_access(&args.nats, &args.auth)?,
        input: args.input.clone(),
        output: args.output.clone(),
        display: Display::Auto,
    };
    runtime()?.block_on(submit::run(&options))?;
    Ok(())
}
