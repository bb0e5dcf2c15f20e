//! `iam-host batch`: every job of an input file, run live on this machine, each result line
//! appended to the output file as soon as its command ends. A rerun skips every id the output
//! already has (after cutting off a torn last line), so an interrupted batch resumes without
//! repeating a finished job.
//!
//! It reads the input twice: once to count what there is to do (the progress total), once to
//! run it, so that the input never has to fit in memory.

use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};

use super::jobs::{Line, open_input};
use super::output::Output;
use super::progress::{Display, Progress};
use super::runner::{Runner, RunnerOptions};
use super::tenants::Tenants;
use iam_host::Host;

/// Jobs read ahead of the running ones, each waiting for its tenant's share. Jobs of a busy
/// tenant wait here while other tenants' jobs behind them start, so the bound is large; a job
/// waiting costs its arguments and a small task (about a kilobyte).
const MAX_QUEUED_JOBS: usize = 65_536;

/// What one batch is given.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    pub input: PathBuf,
    pub output: PathBuf,
    pub runner: RunnerOptions,
    pub display: Display,
}

/// How a batch went.
#[derive(Debug, Clone, Default)]
pub struct BatchSummary {
    /// Non-blank lines of the input: one result line each.
    pub total: u64,
    /// Lines the output had already (a resumed run).
    pub skipped: u64,
    /// Commands run by this run.
    pub ran: u64,
    /// `exit: 2` lines this run wrote.
    pub refused: u64,
    /// Lines this run wrote whose `exit` is not 0.
    pub failed: u64,
    /// The most commands that ran at once.
    pub peak_in_flight: usize,
    pub elapsed: Duration,
}

/// What the first reading of the input found.
struct Plan {
    total: u64,
    already: u64,
    already_failed: u64,
}

fn plan(input: &Path, done: &std::collections::HashMap<String, bool>) -> Result<Plan> {
    let mut plan = Plan {
        total: 0,
        already: 0,
        already_failed: 0,
    };
    for line in open_input(input)? {
        let (_, line) =
            line.with_context(|| format!("cannot read the input file {}", input.display()))?;
        plan.total += 1;
        if let Some(succeeded) = done.get(line.key()) {
            plan.already += 1;
            plan.already_failed += u64::from(!succeeded);
        }
    }
    Ok(plan)
}

/// Run a batch. Errors are the run's own (an unreadable input, an unwritable output): exit 2.
pub async fn run(
    host: Arc<Host>,
    tenants: &Tenants,
    options: &BatchOptions,
) -> Result<BatchSummary> {
    let started = Instant::now();
    let resumed = Output::open(&options.output)?;
    if resumed.cut_bytes > 0 {
        crate::diagnostic(&format!(
            "iam-host batch: cut a torn last line ({} bytes) off {}",
            resumed.cut_bytes,
            options.output.display()
        ));
    }
    let done = resumed.done;
    let mut output = resumed.output;
    let plan = plan(&options.input, &done)?;
    let progress = Arc::new(Progress::start(
        "iam-host batch",
        Some(plan.total),
        plan.already,
        plan.already_failed,
        options.display,
    ));
    let runner = Arc::new(Runner::new(host, tenants, &options.runner));

    // One writer: lines reach the file whole and in the order commands end.
    let (lines, mut to_write) = mpsc::unbounded_channel::<(String, bool)>();
    let writer_progress = progress.clone();
    let writer = tokio::spawn(async move {
        let mut written = 0u64;
        while let Some((line, failed)) = to_write.recv().await {
            output.append(&line)?;
            writer_progress.record(failed);
            written += 1;
        }
        anyhow::Ok(written)
    });

    let queued = Arc::new(Semaphore::new(MAX_QUEUED_JOBS));
    let mut summary = BatchSummary {
        total: plan.total,
        skipped: plan.already,
        ..BatchSummary::default()
    };
    let mut expected = 0u64;
    let mut tasks = tokio::task::JoinSet::new();
    for line in open_input(&options.input)? {
        let (_, line) = line
            .with_context(|| format!("cannot read the input file {}", options.input.display()))?;
        if done.contains_key(line.key()) {
            continue;
        }
        expected += 1;
        let job = match line {
            Line::Refused(refusal) => {
                summary.refused += 1;
                if lines.send((refusal.line(), true)).is_err() {
                    break;
                }
                continue;
            }
            Line::Job(job) => job,
        };
        if let Err(refusal) = runner.check(&job) {
            summary.refused += 1;
            if lines.send((refusal.line(), true)).is_err() {
                break;
            }
            continue;
        }
        summary.ran += 1;
        let Ok(place) = queued.clone().acquire_owned().await else {
            break;
        };
        let (runner, lines) = (runner.clone(), lines.clone());
        tasks.spawn(async move {
            let finished = runner.run(&job).await;
            // The writer is gone only when writing failed; that error ends the run.
            lines.send((finished.line, finished.exit != 0)).ok();
            drop(place);
        });
        // Reap finished tasks as we go, so the set does not grow with the input.
        while tasks.try_join_next().is_some() {}
    }
    drop(lines);
    while tasks.join_next().await.is_some() {}
    let written = writer
        .await
        .context("the output writer stopped unexpectedly")??;
    summary.failed = progress.failed() - plan.already_failed;
    summary.peak_in_flight = runner.in_flight().peak();
    summary.elapsed = started.elapsed();
    progress.finish();
    if written != expected {
        bail!(
            "{} of {expected} jobs got no result line in {}; run the batch again to finish them",
            expected - written,
            options.output.display()
        );
    }
    Ok(summary)
}
