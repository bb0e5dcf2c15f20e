//! `iam-host`: run a connector command from the command line.
//!
//! ```text
//! iam-host run <COMMAND> --config <config.json> [--args <args.json | inline JSON>]
//!              (--cassette <cassette.json> | --live [--record <out.json> [--overwrite]])
//!              [--component <file.wasm>] [--limits <limits.json>]
//! iam-host describe [--component <file.wasm>]
//! iam-host bench [--json] [--iterations N] [--threads N] [--seconds S] [--component F]
//! iam-host bench --in-flight [--json] [--concurrency N] [--commands N] [--latency-ms MS]
//! iam-host bench --sync [--json] [--users N] [--concurrency N] [--latency-ms MS]
//! iam-host batch --tenants <tenants.json> --input <jobs.jsonl> --output <results.jsonl> …
//! iam-host worker --nats <nats://host:port> --tenants <tenants.json> …
//! iam-host submit --nats <nats://host:port> --input <jobs.jsonl> --output <results.jsonl>
//! iam-host sync (plan | apply | run) …   (sync.md §8; exit 0, 1, 2 or 4)
//! ```
//!
//! `batch`, `worker` and `submit` are `iam_host_cli::scale::cli`'s (their own exit statuses).
//!
//! stdout carries exactly one JSON entry; everything else goes to stderr. Exit status: 0 for
//! a Type 1 entry, 1 for a Type 4 entry, 2 for usage errors and unreadable or invalid files,
//! 3 when replay failed. The commands are the component's (`describe`): this binary knows
//! none of them.

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde_json::{Map, Value};
use std::ffi::{OsStr, OsString};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use iam_host::backend::{Http, Live, LiveOptions, load_cassette, save_cassette};
use iam_host::limits::Limits;
use iam_host::{EntryType, Host, Invocation, Outcome, files};
use iam_host_cli::artifact;
use iam_host_cli::bench::BenchOptions;
use iam_host_cli::scale::jobs::BlockedPlan;
use iam_host_cli::sync::cli::SyncEnd;

/// Run the Atlassian IAM component's commands in a sandbox.
#[derive(Parser)]
#[command(name = "iam-host", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Subcommands,
}

#[derive(Subcommand)]
enum Subcommands {
    /// Run one command and print its XSOAR entry (exactly one JSON document) on stdout.
    Run(RunArgs),
    /// Print the component's description: its name, version, commands and credentials.
    Describe {
        /// The component (default: this repository's, built when missing or stale).
        #[arg(long, value_name = "FILE")]
        component: Option<PathBuf>,
    },
    /// Compose a connector with the gate into the component the Python and Node hosts load,
    /// and print its path.
    Gated {
        /// The connector component (default: this repository's, built when missing or stale).
        #[arg(long, value_name = "FILE")]
        connector: Option<PathBuf>,
        /// Where to write it (default: target/component/atlassian_iam_gated.wasm, composed
        /// only when missing or stale).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Measure the host: per-command latency, throughput, load time, memory.
    Bench(BenchArgs),
    /// Run every job of a file live on this machine, appending one result line per job.
    Batch(iam_host_cli::scale::cli::BatchArgs),
    /// Run jobs from NATS JetStream, with any number of workers on any number of machines.
    Worker(iam_host_cli::scale::cli::WorkerArgs),
    /// Put a file's jobs on NATS JetStream and write one result line per job as they come.
    Submit(iam_host_cli::scale::cli::SubmitArgs),
    /// Keep a directory in a desired state: plan the changes, review them, apply them.
    Sync(iam_host_cli::sync::cli::SyncArgs),
}

#[derive(Args)]
struct RunArgs {
    /// The command, one of those the component's `describe` lists (e.g. iam-get-user).
    #[arg(value_name = "COMMAND")]
    command: String,
    /// The XSOAR instance parameters (url, access_token, directory_id, …) as a JSON file.
    #[arg(long, value_name = "config.json")]
    config: Option<PathBuf>,
    /// The command's arguments: a JSON file, or inline JSON when the value starts with `{`.
    #[arg(long, value_name = "args.json | JSON")]
    args: Option<OsString>,
    /// Replay HTTP from this cassette, strictly in order.
    #[arg(long, value_name = "cassette.json")]
    cassette: Option<PathBuf>,
    /// Talk to the configured url for real.
    #[arg(long)]
    live: bool,
    /// With --live: also write what happened as a cassette (the token redacted).
    #[arg(long, value_name = "out.json")]
    record: Option<PathBuf>,
    /// With --record: replace a cassette that already exists.
    #[arg(long)]
    overwrite: bool,
    /// The component (default: this repository's, built when missing or stale).
    #[arg(long, value_name = "FILE")]
    component: Option<PathBuf>,
    /// Per-command sandbox limits as a JSON object (memory_bytes, cpu_millis, …).
    #[arg(long, value_name = "limits.json")]
    limits: Option<PathBuf>,
}

#[derive(Args)]
struct BenchArgs {
    /// Also print the figures as one JSON object on the last line.
    #[arg(long)]
    json: bool,
    /// Commands timed for the latency figures.
    #[arg(long, default_value_t = 20_000)]
    iterations: usize,
    /// Threads for the throughput figure (default: the number of cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Seconds the throughput figure runs.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// The component (default: this repository's).
    #[arg(long, value_name = "FILE")]
    component: Option<PathBuf>,
    #[command(flatten)]
    in_flight: iam_host_cli::scale::bench::InFlightArgs,
    #[command(flatten)]
    sync: iam_host_cli::sync::bench::SyncBenchArgs,
}

/// What ended the process, decided in one place (`exit_code`).
enum Ending {
    /// An entry (or replay failure).
    Printed(Outcome),
    /// An entry, and then a recording that could not be written (architecture.md
    /// "--record"): the entry is printed, the error follows it and wins the exit status.
    Unrecorded(Outcome, String),
    /// Printed text that is not an entry (describe, bench).
    Text(String),
    /// A run that reported as it went (batch, worker, submit) and is complete.
    Done,
    /// Bad usage or an unreadable or invalid file.
    Usage(String),
    /// A blocked plan, given to run without `--force` (sync.md §8): nothing was sent.
    Blocked(String),
    /// A sync command: what it prints, and its status (0, 1 or 4).
    Sync(SyncEnd),
}

fn exit_code(ending: &Ending) -> ExitCode {
    match ending {
        Ending::Printed(Outcome::Entry {
            entry_type: EntryType::Note,
            ..
        })
        | Ending::Text(_)
        | Ending::Done => ExitCode::from(0),
        Ending::Printed(Outcome::Entry {
            entry_type: EntryType::Error,
            ..
        }) => ExitCode::from(1),
        Ending::Usage(_) | Ending::Unrecorded(..) => ExitCode::from(2),
        Ending::Printed(Outcome::ReplayFailed(_)) => ExitCode::from(3),
        Ending::Blocked(_) => ExitCode::from(4),
        Ending::Sync(end) => ExitCode::from(end.exit),
    }
}

/// Where HTTP goes.
enum Transport {
    Cassette(PathBuf),
    Live { record: Option<PathBuf> },
}

/// The checks of the command line that need no file: each a usage error.
fn transport_of(run: &RunArgs) -> Result<Transport, String> {
    if run.overwrite && run.record.is_none() {
        return Err("--overwrite goes with --record".into());
    }
    match (&run.cassette, run.live, &run.record) {
        (Some(path), false, None) => Ok(Transport::Cassette(path.clone())),
        (None, true, record) => Ok(Transport::Live {
            record: record.clone(),
        }),
        (None, false, Some(_)) => Err("--record needs --live".into()),
        (None, false, None) => Err("give --cassette <file> or --live".into()),
        (Some(_), _, _) => Err("--cassette and --live exclude each other".into()),
    }
}

fn read_json_object(path: &Path, what: &str) -> Result<Map<String, Value>> {
    let text = files::read_capped_text(path, files::CONFIG_BYTES, what)?;
    parse_json_object(&text, &format!("{what} {}", path.display()))
}

fn parse_json_object(text: &str, what: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => bail!("{what} must hold a JSON object"),
        Err(e) => bail!("{what} is not valid JSON: {e}"),
    }
}

/// `--args`: inline JSON when the value starts with `{` (after spaces), else a file (whose
/// name need not be UTF-8).
fn read_args(value: &OsStr) -> Result<Map<String, Value>> {
    match value.to_str() {
        Some(text) if text.trim_start().starts_with('{') => parse_json_object(text, "--args"),
        _ => read_json_object(Path::new(value), "args file"),
    }
}

/// Whether a recording may be written at `path`, checked before any request and before the
/// configuration is read (architecture.md "--record"): a usage error, not a lost recording
/// after the side effects. Anything already there (a file, a directory, a device, a link,
/// dangling or not) is kept unless `--overwrite` says to replace it, and even then only a
/// file or a link is replaced, never a directory or a device.
fn check_record_target(path: &Path, overwrite: bool) -> Result<(), String> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match std::fs::symlink_metadata(path) {
        Ok(_) if !overwrite => Err(format!(
            "refusing to overwrite {} with the recording: something already exists there (give --overwrite to replace it)",
            path.display()
        )),
        Ok(meta) if !(meta.is_file() || meta.file_type().is_symlink()) => Err(format!(
            "refusing to overwrite {} with the recording: it is not a regular file, so --overwrite does not replace it",
            path.display()
        )),
        Ok(_) => Ok(()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!(
            "cannot write the recording {}: {e}",
            path.display()
        )),
        Err(_) if !parent.is_dir() => Err(format!(
            "cannot write the recording {}: {} is not a directory",
            path.display(),
            parent.display()
        )),
        Err(_) => Ok(()),
    }
}

fn load_host(component: Option<PathBuf>, limits: Limits) -> Result<Host> {
    // `run` and `describe` run one command at a time (describe's sandbox is gone before the
    // command's): a pool of one, so that the process does not set up 1024 sandboxes.
    iam_host_cli::load_host(component, limits, 1)
}

fn run(run_args: RunArgs) -> Result<Ending> {
    let transport = match transport_of(&run_args) {
        Ok(transport) => transport,
        Err(why) => return Ok(Ending::Usage(why)),
    };
    if let Transport::Live { record: Some(path) } = &transport
        && let Err(why) = check_record_target(path, run_args.overwrite)
    {
        return Ok(Ending::Usage(why));
    }
    let limits = iam_host_cli::read_limits(run_args.limits.as_deref())?;
    let host = load_host(run_args.component.clone(), limits)?;
    if !host.has_command(&run_args.command) {
        return Ok(Ending::Usage(format!(
            "unknown command {:?}; expected one of {}",
            run_args.command,
            host.description().commands.join(", ")
        )));
    }
    let Some(config) = &run_args.config else {
        return Ok(Ending::Usage("--config <config.json> is required".into()));
    };
    let params = read_json_object(config, "config file")?;
    let args = match &run_args.args {
        Some(value) => read_args(value)?,
        None => Map::new(),
    };
    let http = match &transport {
        Transport::Cassette(path) => Http::Replay(load_cassette(path)?),
        Transport::Live { record } => {
            let options = LiveOptions::for_instance(
                &params,
                Duration::from_millis(limits.connect_timeout_millis),
            );
            let live = Box::new(Live::new(options));
            match record {
                None => Http::Live(live),
                Some(_) => Http::Record(live),
            }
        }
    };
    let report = host.run_blocking(
        &Invocation {
            command: run_args.command,
            params,
            args,
        },
        http,
    );
    for line in &report.log {
        write_line(
            std::io::stderr(),
            &format!("iam-host: guest {}: {}", line.level, line.message),
        );
    }
    // Written whenever the command ran, after it: a recording that cannot be written costs
    // the recording, never the entry of a command whose side effects happened.
    if let Transport::Live { record: Some(path) } = &transport
        && let Err(why) = save_cassette(
            &report.recording.clone().unwrap_or_default(),
            path,
            run_args.overwrite,
        )
    {
        return Ok(Ending::Unrecorded(report.outcome, format!("{why:#}")));
    }
    Ok(Ending::Printed(report.outcome))
}

fn describe(component: Option<PathBuf>) -> Result<Ending> {
    let host = load_host(component, Limits::default())?;
    let about = host.description();
    let json = serde_json::json!({
        "name": about.name, "version": about.version, "commands": about.commands,
        "origins": about.origins, "credentials": about.credentials,
    });
    Ok(Ending::Text(json.to_string()))
}

fn gated(connector: Option<PathBuf>, output: Option<PathBuf>) -> Result<Ending> {
    let path = match (connector, output) {
        (None, None) => artifact::ensure_gated_component()?,
        (connector, output) => {
            let connector = match connector {
                Some(path) => path,
                None => artifact::ensure_default_component()?,
            };
            let output = output.unwrap_or_else(artifact::default_gated_component);
            artifact::compose_gated(&connector, &output)?;
            output
        }
    };
    Ok(Ending::Text(path.display().to_string()))
}

/// A table of the figures and their targets, and with `--json` one JSON object as the last
/// line.
fn bench(args: BenchArgs) -> Result<Ending> {
    if args.sync.enabled {
        let text = iam_host_cli::sync::bench::report_text(
            &args.sync,
            args.in_flight.concurrency,
            args.in_flight.latency_ms,
            args.json,
            args.component,
        )?;
        return Ok(Ending::Text(text));
    }
    if args.in_flight.enabled {
        let text =
            iam_host_cli::scale::bench::report_text(&args.in_flight, args.json, args.component)?;
        return Ok(Ending::Text(text));
    }
    let options = BenchOptions {
        component: match args.component {
            Some(path) => path,
            None => artifact::ensure_default_component()?,
        },
        cache_dir: artifact::default_cache_dir(),
        iterations: args.iterations.max(1),
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
            .max(1),
        throughput_duration: Duration::from_secs_f64(args.seconds.max(0.1)),
        cli: std::env::current_exe().ok(),
    };
    let report = iam_host_cli::bench::run(&options)?;
    let mut printed = report.summary();
    if args.json {
        printed.push_str(&serde_json::to_string(&report).context("cannot serialise the report")?);
    }
    Ok(Ending::Text(printed.trim_end().to_string()))
}

/// Write one line. A reader that went away (`iam-host … | head`) leaves nowhere to report
/// to, and is no reason to panic: the exit status still says how the command ended.
fn write_line(mut out: impl Write, text: &str) {
    writeln!(out, "{text}").and_then(|()| out.flush()).ok();
}

/// An entry goes out indented when a person reads it, compact for scripts and pipes.
fn entry_text(entry_json: &str) -> String {
    if std::io::stdout().is_terminal()
        && let Ok(value) = serde_json::from_str::<Value>(entry_json)
        && let Ok(pretty) = serde_json::to_string_pretty(&value)
    {
        return pretty;
    }
    entry_json.to_string()
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version print on stdout and succeed; the rest are usage errors.
            let code = if error.use_stderr() { 2 } else { 0 };
            error.print().ok();
            return ExitCode::from(code);
        }
    };
    let ended = match cli.command {
        Subcommands::Run(run_args) => run(run_args),
        Subcommands::Describe { component } => describe(component),
        Subcommands::Gated { connector, output } => gated(connector, output),
        Subcommands::Bench(args) => bench(args),
        Subcommands::Batch(args) => iam_host_cli::scale::cli::batch(args).map(|()| Ending::Done),
        Subcommands::Worker(args) => iam_host_cli::scale::cli::worker(args).map(|()| Ending::Done),
        Subcommands::Submit(args) => iam_host_cli::scale::cli::submit(args).map(|()| Ending::Done),
        Subcommands::Sync(args) => iam_host_cli::sync::cli::sync(args).map(Ending::Sync),
    };
    let ending = ended.unwrap_or_else(|e| {
        if e.downcast_ref::<BlockedPlan>().is_some() {
            Ending::Blocked(format!("{e:#}"))
        } else {
            Ending::Usage(format!("{e:#}"))
        }
    });
    match &ending {
        Ending::Printed(Outcome::Entry { entry_json, .. }) => {
            write_line(std::io::stdout(), &entry_text(entry_json))
        }
        Ending::Printed(Outcome::ReplayFailed(why)) => write_line(
            std::io::stderr(),
            &format!("iam-host: replay failed: {why}"),
        ),
        Ending::Unrecorded(outcome, why) => {
            if let Outcome::Entry { entry_json, .. } = outcome {
                write_line(std::io::stdout(), &entry_text(entry_json));
            }
            write_line(std::io::stderr(), &format!("iam-host: {why}"));
        }
        Ending::Text(text) => write_line(std::io::stdout(), text),
        Ending::Done => {}
        Ending::Sync(end) => {
            if let Some(text) = &end.stdout {
                write_line(std::io::stdout(), text);
            }
            if let Some(why) = &end.message {
                write_line(std::io::stderr(), &format!("iam-host: {why}"));
            }
        }
        Ending::Usage(why) | Ending::Blocked(why) => {
            write_line(std::io::stderr(), &format!("iam-host: {why}"))
        }
    }
    exit_code(&ending)
}
