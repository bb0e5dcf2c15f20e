//! `iam-host bench --in-flight`: architecture.md's in-flight target, measured. A loopback
//! server (plain HTTP/1.1 on tokio, bound to 127.0.0.1) answers every request after a fixed
//! latency (100 ms) with a SCIM list of one user; one `batch`, in this process and through the
//! same code as `iam-host batch`, runs `iam-get-user` jobs (one request each) against it with
//! `--concurrency 600`. Reported: commands per second and their ratio to the ideal
//! (concurrency ÷ latency), the most commands in flight and the most requests the server held
//! waiting at once, and the memory each command in flight costs (the rise of the process's
//! resident set over its level before the run, divided by the peak in flight).
//!
//! Timing lives here, in a benchmark, never in the test suite.

use anyhow::{Context as _, Result, bail};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use super::batch::{self, BatchOptions};
use super::progress::Display;
use super::runner::RunnerOptions;
use super::tenants::Tenants;
use crate::artifact;
use iam_host::limits::Limits;
use iam_host::{Host, HostConfig};

/// architecture.md: at least this many commands per second with `--concurrency 600`...
pub const TARGET_COMMANDS_PER_S: f64 = 1_000.0;
/// ...and at least this many waiting on the network at once.
pub const TARGET_WAITING: usize = 500;
/// How often the resident set is sampled during the run.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(5);
/// The largest request head the loopback server reads: the connector's are well under 4 KiB.
const MAX_REQUEST_HEAD_BYTES: usize = 64 << 10;
/// The one user every lookup finds.
const USER_LIST: &str = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":1,"startIndex":1,"itemsPerPage":1,"Resources":[{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"bench-user-id","userName":"bench.user@example.com","active":true,"emails":[{"value":"bench.user@example.com","primary":true}]}]}"#;

/// `iam-host bench --in-flight` and its settings.
#[derive(Args, Debug, Clone)]
pub struct InFlightArgs {
    /// Measure commands in flight against a slow loopback server instead (architecture.md's
    /// in-flight target).
    #[arg(long = "in-flight")]
    pub enabled: bool,
    /// With --in-flight: the batch's --concurrency (and --per-tenant: one tenant).
    #[arg(long, value_name = "N", default_value_t = 600)]
    pub concurrency: usize,
    /// With --in-flight: iam-get-user commands to run.
    #[arg(long, value_name = "N", default_value_t = 12_000)]
    pub commands: usize,
    /// With --in-flight: how long the loopback server takes to answer each request.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub latency_ms: u64,
}

/// The figures.
#[derive(Debug, Clone, Serialize)]
pub struct InFlightReport {
    pub commands: u64,
    pub concurrency: usize,
    pub latency_ms: u64,
    pub seconds: f64,
    pub commands_per_s: f64,
    /// concurrency ÷ latency: every slot always waiting on the server.
    pub ideal_per_s: f64,
    pub ratio_to_ideal: f64,
    /// The most commands running at once (sandboxes alive).
    pub peak_in_flight: usize,
    /// The most requests the server held waiting at once.
    pub peak_waiting: usize,
    pub requests: u64,
    pub failed: u64,
    pub rss_before_bytes: u64,
    pub rss_peak_bytes: u64,
    pub bytes_per_in_flight: u64,
}

impl InFlightReport {
    pub fn summary(&self) -> String {
        let met = |ok: bool| if ok { "met" } else { "NOT MET" };
        format!(
            "in flight: {} iam-get-user commands, --concurrency {}, server latency {} ms\n\
             commands_per_s       {:<10.0} target >= {TARGET_COMMANDS_PER_S}  {}\n\
             peak_waiting         {:<10} target >= {TARGET_WAITING}  {}\n\
             peak_in_flight       {}\n\
             ideal_per_s          {:.0} (concurrency / latency); ratio {:.2}\n\
             bytes_per_in_flight  {} ({:.2} MiB; resident set {} -> {} MiB)\n\
             requests             {} ({} failed commands)\n",
            self.commands,
            self.concurrency,
            self.latency_ms,
            self.commands_per_s,
            met(self.commands_per_s >= TARGET_COMMANDS_PER_S),
            self.peak_waiting,
            met(self.peak_waiting >= TARGET_WAITING),
            self.peak_in_flight,
            self.ideal_per_s,
            self.ratio_to_ideal,
            self.bytes_per_in_flight,
            self.bytes_per_in_flight as f64 / f64::from(1 << 20),
            self.rss_before_bytes >> 20,
            self.rss_peak_bytes >> 20,
            self.requests,
            self.failed,
        )
    }
}

/// The loopback server's counters.
#[derive(Default)]
struct ServerCounts {
    waiting: AtomicUsize,
    peak_waiting: AtomicUsize,
    requests: AtomicU64,
}

/// Read one request off a keep-alive connection: its head (as text) and its body (by
/// `content-length`). `None` when the connection ends or the head is past its cap. Bytes read
/// past the request stay in `buffer` for the next one.
pub async fn read_request(
    socket: &mut TcpStream,
    buffer: &mut Vec<u8>,
) -> Option<(String, Vec<u8>)> {
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buffer.len() > MAX_REQUEST_HEAD_BYTES {
            return None;
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let body_bytes: usize = head
        .to_ascii_lowercase()
        .lines()
        .find_map(|line| line.strip_prefix("content-length:").map(str::to_string))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + body_bytes {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
    let body = buffer[head_end..head_end + body_bytes].to_vec();
    buffer.drain(..head_end + body_bytes);
    Some((head, body))
}

/// Serve one connection: read each request, hold it for `latency`, answer the user list.
async fn serve(mut socket: TcpStream, latency: Duration, counts: Arc<ServerCounts>) {
    let mut buffer = Vec::with_capacity(4096);
    while read_request(&mut socket, &mut buffer).await.is_some() {
        counts.requests.fetch_add(1, Ordering::Relaxed);
        let waiting = counts.waiting.fetch_add(1, Ordering::Relaxed) + 1;
        counts.peak_waiting.fetch_max(waiting, Ordering::Relaxed);
        tokio::time::sleep(latency).await;
        counts.waiting.fetch_sub(1, Ordering::Relaxed);
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{USER_LIST}",
            USER_LIST.len()
        );
        if socket.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The process's resident set, from /proc (Linux).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| {
                    value
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(0, |kib| kib * 1024)
}

/// Run the in-flight benchmark.
pub fn run(args: &InFlightArgs, component: Option<PathBuf>) -> Result<InFlightReport> {
    if args.commands == 0 {
        bail!("--commands must be at least 1");
    }
    let latency = Duration::from_millis(args.latency_ms);
    let runner = RunnerOptions::new(args.concurrency, args.concurrency, Limits::default())
        .map_err(anyhow::Error::msg)?;
    let component = match component {
        Some(path) => path,
        None => artifact::ensure_default_component()?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let dir = std::env::temp_dir().join(format!("iam-host-in-flight-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let measured = runtime.block_on(measure(args, runner, latency, component, &dir));
    if let Err(error) = std::fs::remove_dir_all(&dir) {
        crate::diagnostic(&format!(
            "iam-host bench: cannot remove {}: {error}",
            dir.display()
        ));
    }
    measured
}

async fn measure(
    args: &InFlightArgs,
    runner: RunnerOptions,
    latency: Duration,
    component: PathBuf,
    dir: &std::path::Path,
) -> Result<InFlightReport> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind the loopback server")?;
    let address = listener.local_addr()?;
    let counts = Arc::new(ServerCounts::default());
    let server_counts = counts.clone();
    let server = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            socket.set_nodelay(true).ok();
            tokio::spawn(serve(socket, latency, server_counts.clone()));
        }
    });

    let tenants = Tenants::parse(
        &serde_json::json!({"tenants": {"bench": {
            "url": format!("http://{address}"),
            "access_token": "in-flight-bench-token",
            "directory_id": "bench",
            "instance_name": "bench",
        }}})
        .to_string(),
    )?;
    let job = |n: usize| {
        serde_json::json!({"id": format!("get-{n}"), "tenant": "bench", "command": "iam-get-user",
            "args": {"user-profile": {"email": "bench.user@example.com", "username": "bench.user@example.com"}}})
        .to_string()
    };
    let write_jobs = |path: &std::path::Path, count: usize| -> Result<()> {
        let text: String = (0..count).map(|n| job(n) + "\n").collect();
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    let host = Arc::new(Host::new(HostConfig {
        component,
        cache_dir: artifact::default_cache_dir(),
        limits: runner.limits,
        max_in_flight: iam_host::MAX_IN_FLIGHT,
    })?);

    // A few commands first, one at a time: the component's code and the client are warm, and
    // the resident set before the run holds everything but what commands in flight add.
    let warm_input = dir.join("warm.jsonl");
    write_jobs(&warm_input, 8)?;
    let warm = BatchOptions {
        input: warm_input,
        output: dir.join("warm-results.jsonl"),
        runner: RunnerOptions {
            concurrency: 1,
            per_tenant: 1,
            ..runner
        },
        display: Display::Hidden,
        audit: None,
    };
    let warmed = batch::run(host.clone(), &tenants, &warm).await?;
    if warmed.failed > 0 {
        let results = std::fs::read_to_string(&warm.output).unwrap_or_default();
        bail!(
            "the warm-up commands failed: {}",
            results.lines().next().unwrap_or("")
        );
    }
    let requests_before = counts.requests.load(Ordering::Relaxed);

    let input = dir.join("jobs.jsonl");
    write_jobs(&input, args.commands)?;
    let options = BatchOptions {
        input,
        output: dir.join("results.jsonl"),
        runner,
        display: Display::Hidden,
        audit: None,
    };
    let rss_before = resident_bytes();
    let sampling = Arc::new(AtomicBool::new(true));
    let peak_rss = Arc::new(AtomicU64::new(rss_before));
    let sampler = {
        let (sampling, peak_rss) = (sampling.clone(), peak_rss.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak_rss.fetch_max(resident_bytes(), Ordering::Relaxed);
                std::thread::sleep(RSS_SAMPLE_EVERY);
            }
        })
    };
    let started = Instant::now();
    let summary = batch::run(host, &tenants, &options).await;
    let seconds = started.elapsed().as_secs_f64();
    sampling.store(false, Ordering::Relaxed);
    sampler.join().ok();
    server.abort();
    let summary = summary?;

    let commands = summary.ran;
    let commands_per_s = commands as f64 / seconds;
    let ideal_per_s = args.concurrency as f64 / latency.as_secs_f64().max(1e-9);
    let rss_peak = peak_rss.load(Ordering::Relaxed);
    Ok(InFlightReport {
        commands,
        concurrency: args.concurrency,
        latency_ms: args.latency_ms,
        seconds,
        commands_per_s,
        ideal_per_s,
        ratio_to_ideal: commands_per_s / ideal_per_s,
        peak_in_flight: summary.peak_in_flight,
        peak_waiting: counts.peak_waiting.load(Ordering::Relaxed),
        requests: counts.requests.load(Ordering::Relaxed) - requests_before,
        failed: summary.failed,
        rss_before_bytes: rss_before,
        rss_peak_bytes: rss_peak,
        bytes_per_in_flight: rss_peak.saturating_sub(rss_before)
            / summary.peak_in_flight.max(1) as u64,
    })
}

/// The printed text of `iam-host bench --in-flight [--json]`.
pub fn report_text(args: &InFlightArgs, json: bool, component: Option<PathBuf>) -> Result<String> {
    let report = run(args, component)?;
    let mut text = report.summary();
    if json {
        text.push_str(&serde_json::to_string(&report).context("cannot serialise the report")?);
    }
    Ok(text.trim_end().to_string())
}
