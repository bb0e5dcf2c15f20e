//! `iam-host`: run a connector command from the command line.
//!
//! ```text
//! iam-host run <COMMAND> --config <config.json> [--args <args.json>]
//!              (--cassette <cassette.json> | --live [--record <out.json>])
//!              [--component <file.wasm>] [--limits <limits.json>]
//! iam-host describe
//! ```
//!
//! stdout carries exactly one JSON entry; everything else goes to stderr. Exit status: 0 for
//! a Type 1 entry, 1 for a Type 4 entry, 2 for usage errors and unreadable or invalid files,
//! 3 when replay failed.

use anyhow::{Context as _, Result, bail};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use iam_host::backend::{Backend, Replay};
use iam_host::bench::BenchOptions;
use iam_host::cassette::Cassette;
use iam_host::limits::Limits;
use iam_host::live::{Live, LiveOptions, Record};
use iam_host::{Command, EntryType, Host, HostConfig, Invocation, Outcome, artifact};

const USAGE: &str = "usage: iam-host run <COMMAND> --config <config.json> [--args <args.json>]
                    (--cassette <cassette.json> | --live [--record <out.json>])
                    [--component <file.wasm>] [--limits <limits.json>]
       iam-host describe
       iam-host bench [--json] [--iterations N] [--threads N] [--seconds S] [--component F]
commands: iam-get-user, iam-create-user, iam-update-user, iam-disable-user, test-module, get-mapping-fields";

/// What ended the process, decided in one place (`exit_code`).
enum Ending {
    Printed(Outcome),
    /// Bad usage or an unreadable or invalid file.
    Usage(String),
}

fn exit_code(ending: &Ending) -> ExitCode {
    match ending {
        Ending::Printed(Outcome::Entry {
            entry_type: EntryType::Note,
            ..
        }) => ExitCode::from(0),
        Ending::Printed(Outcome::Entry {
            entry_type: EntryType::Error,
            ..
        }) => ExitCode::from(1),
        Ending::Usage(_) => ExitCode::from(2),
        Ending::Printed(Outcome::ReplayFailed(_)) => ExitCode::from(3),
    }
}

/// Where HTTP goes.
enum Transport {
    Cassette(PathBuf),
    Live { record: Option<PathBuf> },
}

/// The validated command line of `run`.
struct RunArgs {
    command: Command,
    config: PathBuf,
    args: Option<PathBuf>,
    transport: Transport,
    component: Option<PathBuf>,
    limits: Option<PathBuf>,
}

fn parse_run(mut words: impl Iterator<Item = String>) -> Result<RunArgs, String> {
    let command = words
        .next()
        .ok_or("missing <COMMAND>")?
        .parse::<Command>()?;
    let (mut config, mut args, mut cassette, mut live, mut record, mut component, mut limits) =
        (None, None, None, false, None, None, None);
    while let Some(word) = words.next() {
        let mut value = |flag: &str| {
            words
                .next()
                .map(PathBuf::from)
                .ok_or(format!("{flag} needs a value"))
        };
        match word.as_str() {
            "--config" => config = Some(value("--config")?),
            "--args" => args = Some(value("--args")?),
            "--cassette" => cassette = Some(value("--cassette")?),
            "--record" => record = Some(value("--record")?),
            "--component" => component = Some(value("--component")?),
            "--limits" => limits = Some(value("--limits")?),
            "--live" => live = true,
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    let config = config.ok_or("--config <config.json> is required")?;
    let transport = match (cassette, live, record) {
        (Some(path), false, None) => Transport::Cassette(path),
        (None, true, record) => Transport::Live { record },
        (None, false, Some(_)) => return Err("--record needs --live".into()),
        (None, false, None) => return Err("give --cassette <file> or --live".into()),
        (Some(_), _, _) => return Err("--cassette and --live exclude each other".into()),
    };
    Ok(RunArgs {
        command,
        config,
        args,
        transport,
        component,
        limits,
    })
}

fn read_json_object(path: &Path, what: &str) -> Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => bail!("{what} {} must hold a JSON object", path.display()),
        Err(e) => bail!("{what} {} is not valid JSON: {e}", path.display()),
    }
}

/// A path a recording can be written to, checked before the command runs, so that a typo
/// is a usage error and not a lost recording.
fn writable(path: &Path) -> Result<PathBuf> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        bail!(
            "cannot write the recording {}: {} is not a directory",
            path.display(),
            parent.display()
        );
    }
    if path.is_dir() {
        bail!(
            "cannot write the recording {}: it is a directory",
            path.display()
        );
    }
    Ok(path.to_path_buf())
}

fn run(run_args: RunArgs) -> Result<Outcome> {
    let params = read_json_object(&run_args.config, "config file")?;
    let args = match &run_args.args {
        Some(path) => read_json_object(path, "args file")?,
        None => Map::new(),
    };
    let limits = match &run_args.limits {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read limits file {}", path.display()))?;
            serde_json::from_str::<Limits>(&text)
                .with_context(|| format!("limits file {} is not valid", path.display()))?
        }
        None => Limits::default(),
    };
    let backend: Box<dyn Backend> = match &run_args.transport {
        Transport::Cassette(path) => Box::new(Replay::new(Cassette::load(path)?)),
        Transport::Live { record } => {
            let live = Live::new(LiveOptions::for_instance(&params, &limits));
            match record {
                None => Box::new(live),
                Some(path) => Box::new(Record::new(live, writable(path)?)),
            }
        }
    };
    let component = match run_args.component {
        Some(path) => path,
        None => artifact::ensure_default_component()?,
    };
    let host = Host::new(HostConfig {
        component,
        cache_dir: artifact::default_cache_dir(),
        limits,
    })?;
    let report = host.run(
        &Invocation {
            command: run_args.command,
            params,
            args,
        },
        backend,
    );
    for line in &report.log {
        write_line(
            std::io::stderr(),
            &format!("iam-host: guest {}: {}", line.level, line.message),
        );
    }
    Ok(report.outcome)
}

fn describe() -> Result<Outcome> {
    let about = atlassian_iam::commands::describe();
    let json = serde_json::json!({
        "name": about.name, "version": about.version, "commands": about.commands,
        "origins": about.origins, "credentials": about.credentials,
    });
    Ok(Outcome::Entry {
        entry_type: EntryType::Note,
        entry_json: json.to_string(),
    })
}

/// `iam-host bench [--json] [--iterations N] [--threads N] [--seconds S] [--component F]`:
/// a table of the figures and their targets, and with `--json` one JSON object as the last
/// line.
fn bench(mut words: impl Iterator<Item = String>) -> Result<Outcome> {
    let mut options = BenchOptions {
        component: PathBuf::new(),
        cache_dir: artifact::default_cache_dir(),
        iterations: 20_000,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        throughput_duration: std::time::Duration::from_secs(3),
        cli: std::env::current_exe().ok(),
    };
    let (mut json, mut component) = (false, None);
    while let Some(word) = words.next() {
        let mut number = |flag: &str| -> Result<f64> {
            let text = words
                .next()
                .with_context(|| format!("{flag} needs a value"))?;
            text.parse()
                .with_context(|| format!("{flag} needs a number, got {text:?}"))
        };
        match word.as_str() {
            "--json" => json = true,
            "--iterations" => options.iterations = number("--iterations")?.max(1.0) as usize,
            "--threads" => options.threads = number("--threads")?.max(1.0) as usize,
            "--seconds" => {
                options.throughput_duration =
                    std::time::Duration::from_secs_f64(number("--seconds")?.max(0.1))
            }
            "--component" => {
                component = Some(PathBuf::from(
                    words.next().context("--component needs a value")?,
                ))
            }
            other => bail!(
                "unexpected argument {other:?}; usage: iam-host bench [--json] [--iterations N] [--threads N] [--seconds S] [--component F]"
            ),
        }
    }
    options.component = match component {
        Some(path) => path,
        None => artifact::ensure_default_component()?,
    };
    let report = iam_host::bench::run(&options)?;
    let mut printed = report.summary();
    if json {
        printed.push_str(&serde_json::to_string(&report).context("cannot serialise the report")?);
    }
    Ok(Outcome::Entry {
        entry_type: EntryType::Note,
        entry_json: printed.trim_end().to_string(),
    })
}

/// Write one line. A reader that went away (`iam-host … | head`) leaves nowhere to report
/// to, and is no reason to panic: the exit status still says how the command ended.
fn write_line(mut out: impl Write, text: &str) {
    writeln!(out, "{text}").and_then(|()| out.flush()).ok();
}

fn main() -> ExitCode {
    let mut words = std::env::args().skip(1);
    let ending = match words.next().as_deref() {
        Some("run") => match parse_run(words) {
            Ok(run_args) => {
                run(run_args).map_or_else(|e| Ending::Usage(format!("{e:#}")), Ending::Printed)
            }
            Err(why) => Ending::Usage(format!("{why}\n{USAGE}")),
        },
        Some("describe") => {
            describe().map_or_else(|e| Ending::Usage(format!("{e:#}")), Ending::Printed)
        }
        Some("bench") => {
            bench(words).map_or_else(|e| Ending::Usage(format!("{e:#}")), Ending::Printed)
        }
        Some("-h" | "--help" | "help") => {
            write_line(std::io::stdout(), USAGE);
            return ExitCode::SUCCESS;
        }
        Some(other) => Ending::Usage(format!("unknown subcommand {other:?}\n{USAGE}")),
        None => Ending::Usage(USAGE.to_string()),
    };
    match &ending {
        Ending::Printed(Outcome::Entry { entry_json, .. }) => {
            write_line(std::io::stdout(), entry_json)
        }
        Ending::Printed(Outcome::ReplayFailed(why)) => write_line(
            std::io::stderr(),
            &format!("iam-host: replay failed: {why}"),
        ),
        Ending::Usage(why) => write_line(std::io::stderr(), &format!("iam-host: {why}")),
    }
    exit_code(&ending)
}
