//! `iam-host bench`: the performance figures of architecture.md, measured on this machine
//! with the component and, when the host is built with the `native` feature, with the same
//! guest logic compiled natively, on one cassette (the seed's `iam-update-user`: a lookup
//! and a PUT, two replayed exchanges).
//!
//! Timing lives here, in a benchmark, never in the test suite.

use anyhow::{Context as _, Result};
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iam_gate::cassette::Cassette;
use iam_host::backend::{Http, PreparedCassette};
use iam_host::internals;
use iam_host::limits::Limits;
use iam_host::{Host, HostConfig, Invocation, MAX_IN_FLIGHT, Outcome};

const CONFIG: &str = include_str!("../../../tests/cases/update_seed_example/config.json");
const ARGS: &str = include_str!("../../../tests/cases/update_seed_example/args.json");
const CASSETTE: &str = include_str!("../../../tests/cases/update_seed_example/cassette.json");

/// What to measure with.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub component: PathBuf,
    pub cache_dir: PathBuf,
    /// Commands timed one after another for the latency figures.
    pub iterations: usize,
    /// Threads for the throughput figure.
    pub threads: usize,
    /// How long each throughput run lasts.
    pub throughput_duration: Duration,
    /// The `iam-host` executable to time as whole processes; none skips that figure.
    pub cli: Option<PathBuf>,
}

/// The figures, named as architecture.md names its targets.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub compile_ms: f64,
    pub load_cwasm_ms: f64,
    pub command_us_p50: f64,
    pub command_us_p99: f64,
    /// test-module through the same sandbox: instantiation and one tiny exchange.
    pub floor_us_p50: f64,
    /// The guest's logic natively (no sandbox): only with the `native` feature.
    pub native_us_p50: Option<f64>,
    pub component_to_native_ratio: Option<f64>,
    pub throughput_per_s: f64,
    pub threads: usize,
    pub component_bytes: u64,
    pub peak_memory_bytes: u64,
    /// Median wall time of a whole `iam-host run` process (cache warm), when measured.
    pub cold_run_ms_p50: Option<f64>,
}

/// The benchmark's instance parameters, command arguments and cassette.
type Fixture = (Map<String, Value>, Map<String, Value>, Cassette);

fn fixture() -> Result<Fixture> {
    let object = |text: &str| -> Result<Map<String, Value>> {
        serde_json::from_str::<Value>(text)?
            .as_object()
            .cloned()
            .context("fixture is not an object")
    };
    Ok((
        object(CONFIG)?,
        object(ARGS)?,
        serde_json::from_str(CASSETTE)?,
    ))
}

/// The targets of architecture.md: (figure, limit, whether lower is better).
const TARGETS: [(&str, f64, bool); 7] = [
    ("command_us_p50", 50.0, true),
    ("throughput_per_s", 35_000.0, false),
    ("load_cwasm_ms", 1.0, true),
    ("component_bytes", 450_000.0, true),
    ("peak_memory_bytes", 2_097_152.0, true),
    ("component_to_native_ratio", 2.5, true),
    ("cold_run_ms_p50", 10.0, true),
];

impl BenchReport {
    /// One line per figure, with its target and whether it is met.
    pub fn summary(&self) -> String {
        let figures = serde_json::to_value(self).unwrap_or_default();
        let mut out = String::from("figure                       value        target\n");
        for (name, value) in figures.as_object().into_iter().flatten() {
            let Some(number) = value.as_f64() else {
                continue;
            };
            let target = TARGETS
                .iter()
                .find(|(target, _, _)| target == name)
                .map_or_else(String::new, |(_, limit, lower)| {
                    let met = if *lower {
                        number <= *limit
                    } else {
                        number >= *limit
                    };
                    format!(
                        "{} {limit}  {}",
                        if *lower { "<=" } else { ">=" },
                        if met { "met" } else { "NOT MET" }
                    )
                });
            out.push_str(&format!("{name:<28} {number:<12.2} {target}\n"));
        }
        out
    }
}

fn median_and_p99(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99))
}

pub fn run(options: &BenchOptions) -> Result<BenchReport> {
    let wasm = std::fs::read(&options.component)
        .with_context(|| format!("cannot read {}", options.component.display()))?;
    let limits = Limits::default();

    // Compiling from .wasm, and loading the precompiled artifact.
    let engine = internals::engine(&limits, MAX_IN_FLIGHT)?;
    let mut compile = Vec::new();
    let mut precompiled = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        precompiled = engine
            .precompile_component(&wasm)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        compile.push(start.elapsed().as_secs_f64() * 1e3);
    }
    // The real load path of a cached component: read the file, check it, deserialize.
    let load_dir =
        std::env::temp_dir().join(format!("iam-host-bench-cache-{}", std::process::id()));
    internals::load_cached(&engine, &options.component, &load_dir, &mut Vec::new())?;
    let mut load = Vec::new();
    for _ in 0..50 {
        let start = Instant::now();
        let component =
            internals::load_cached(&engine, &options.component, &load_dir, &mut Vec::new());
        load.push(start.elapsed().as_secs_f64() * 1e3);
        component?;
    }
    std::fs::remove_dir_all(&load_dir).ok();
    drop(precompiled);

    let host = Host::new(HostConfig {
        component: options.component.clone(),
        cache_dir: options.cache_dir.clone(),
        limits,
        max_in_flight: MAX_IN_FLIGHT,
    })?;
    let (params, args, cassette) = fixture()?;
    let prepared = Arc::new(PreparedCassette::from(cassette.clone()));
    let invocation = Invocation {
        command: "iam-update-user".to_string(),
        params: params.clone(),
        args: args.clone(),
    };
    let run_once = |host: &Host| -> Result<()> {
        let report = host.run_blocking(&invocation, Http::Replay(prepared.clone()));
        match report.outcome {
            Outcome::Entry { .. } => Ok(()),
            Outcome::ReplayFailed(why) => anyhow::bail!("the benchmark's replay failed: {why}"),
        }
    };
    for _ in 0..options.iterations.min(200) {
        run_once(&host)?;
    }
    let mut component_samples = Vec::with_capacity(options.iterations);
    for _ in 0..options.iterations {
        let start = Instant::now();
        run_once(&host)?;
        component_samples.push(start.elapsed().as_secs_f64() * 1e6);
    }
    let (command_us_p50, command_us_p99) = median_and_p99(component_samples);

    // The sandbox's floor: test-module, one tiny exchange and a tiny entry.
    let probe = Arc::new(PreparedCassette::from(Cassette {
        interactions: vec![serde_json::from_value(serde_json::json!({
            "request": {"method": "GET", "url": format!("{}/scim/directory/{}/Users?count=1", params["url"].as_str().unwrap_or_default(), params["directory_id"].as_str().unwrap_or_default())},
            "response": {"status": 200, "body": {"totalResults": 0}}
        }))?],
    }));
    let probe_invocation = Invocation {
        command: "test-module".to_string(),
        params: params.clone(),
        args: Map::new(),
    };
    let mut floor_samples = Vec::with_capacity(options.iterations);
    for _ in 0..options.iterations {
        let start = Instant::now();
        let report = host.run_blocking(&probe_invocation, Http::Replay(probe.clone()));
        floor_samples.push(start.elapsed().as_secs_f64() * 1e6);
        anyhow::ensure!(
            matches!(report.outcome, Outcome::Entry { .. }),
            "the floor probe failed: {:?}",
            report.outcome
        );
    }
    let floor_us_p50 = median_and_p99(floor_samples).0;

    #[cfg(feature = "native")]
    let native_us_p50 = Some(native::median(
        &params,
        &args,
        &cassette,
        options.iterations,
    )?);
    #[cfg(not(feature = "native"))]
    let native_us_p50: Option<f64> = None;

    let start = Instant::now();
    let throughput_per_s = std::thread::scope(|scope| -> Result<f64> {
        let workers: Vec<_> = (0..options.threads)
            .map(|_| {
                scope.spawn(|| -> Result<u64> {
                    let mut done = 0;
                    while start.elapsed() < options.throughput_duration {
                        run_once(&host)?;
                        done += 1;
                    }
                    Ok(done)
                })
            })
            .collect();
        let mut total = 0;
        for worker in workers {
            total += worker
                .join()
                .map_err(|_| anyhow::anyhow!("a benchmark thread panicked"))??;
        }
        Ok(total as f64 / start.elapsed().as_secs_f64())
    })?;

    Ok(BenchReport {
        compile_ms: median_and_p99(compile).0,
        load_cwasm_ms: median_and_p99(load).0,
        command_us_p50,
        command_us_p99,
        floor_us_p50,
        native_us_p50,
        component_to_native_ratio: native_us_p50.map(|native| command_us_p50 / native),
        throughput_per_s,
        threads: options.threads,
        component_bytes: wasm.len() as u64,
        peak_memory_bytes: host.peak_memory_bytes() as u64,
        cold_run_ms_p50: options
            .cli
            .as_ref()
            .map(|cli| cold_runs(cli, &options.component))
            .transpose()?,
    })
}

/// Processes timed for the cold-run figure.
const COLD_RUNS: usize = 30;

/// The median wall time of `iam-host run iam-update-user` as a fresh process, with the
/// precompiled component already cached (the first run warms it).
fn cold_runs(cli: &std::path::Path, component: &std::path::Path) -> Result<f64> {
    let dir = std::env::temp_dir().join(format!("iam-host-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let files = [
        ("config.json", CONFIG),
        ("args.json", ARGS),
        ("cassette.json", CASSETTE),
    ];
    for (name, text) in files {
        std::fs::write(dir.join(name), text).with_context(|| format!("cannot write {name}"))?;
    }
    let mut samples = Vec::with_capacity(COLD_RUNS);
    for round in 0..=COLD_RUNS {
        let start = Instant::now();
        let status = std::process::Command::new(cli)
            .arg("run")
            .arg("iam-update-user")
            .arg("--config")
            .arg(dir.join("config.json"))
            .arg("--args")
            .arg(dir.join("args.json"))
            .arg("--cassette")
            .arg(dir.join("cassette.json"))
            .arg("--component")
            .arg(component)
            .stdout(std::process::Stdio::null())
            .status()
            .with_context(|| format!("cannot run {}", cli.display()))?;
        let elapsed = start.elapsed().as_secs_f64() * 1e3;
        anyhow::ensure!(
            status.success(),
            "iam-host run failed during the benchmark ({status})"
        );
        if round > 0 {
            samples.push(elapsed);
        }
    }
    if let Err(error) = std::fs::remove_dir_all(&dir) {
        crate::diagnostic(&format!(
            "iam-host bench: cannot remove {}: {error}",
            dir.display()
        ));
    }
    Ok(median_and_p99(samples).0)
}

/// The guest's logic compiled natively: the physical floor for the sandbox's CPU cost.
#[cfg(feature = "native")]
mod native {
    use anyhow::Result;
    use serde_json::{Map, Value};
    use std::sync::Arc;
    use std::time::Instant;

    use super::median_and_p99;
    use iam_gate::cassette::Cassette;
    use iam_host::backend::PreparedCassette;
    use iam_host::limits::Limits;
    use iam_host::native::{NativeOutcome, NativeTenant};

    /// The median of the same invocation as the component gets, run natively behind the
    /// same gate (tenant split, policy, scrubbing, replay).
    pub fn median(
        params: &Map<String, Value>,
        args: &Map<String, Value>,
        cassette: &Cassette,
        iterations: usize,
    ) -> Result<f64> {
        let prepared = Arc::new(PreparedCassette::from(cassette.clone()));
        let tenant = NativeTenant::new(params, Limits::default());
        let mut samples = Vec::with_capacity(iterations);
        for round in 0..iterations + iterations.min(200) {
            let start = Instant::now();
            let outcome = tenant.run("iam-update-user", args, prepared.clone());
            anyhow::ensure!(
                matches!(
                    outcome,
                    NativeOutcome::Entry {
                        is_error: false,
                        ..
                    }
                ),
                "native run failed: {outcome:?}"
            );
            if round >= iterations.min(200) {
                samples.push(start.elapsed().as_secs_f64() * 1e6);
            }
        }
        Ok(median_and_p99(samples).0)
    }
}
