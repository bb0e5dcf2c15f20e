//! `iam-host batch`: every job of an input file, run live on this machine, each result line
//! appended to the output file as soon as its command ends. A rerun skips every id the output
//! already has (after cutting off a torn last line), so an interrupted batch resumes without
//! repeating a finished job.
//!
//! It reads the input twice: once to count what there is to do (the progress total), once to
//! run it, so that the input never has to fit in memory.
//!
//! A plan file of `iam-host sync plan` (sync.md §8) is run phase by phase: the input is read
//! once per phase, and a phase starts only when every job of the one before has its result
//! line in the output. Whether a blocked plan may run at all is the caller's to decide.

use anyhow::{Context as _, Result, bail};
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::audit::AuditLog;
use super::jobs::{Line, open_input};
use super::metrics::Outcome as JobOutcome;
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
    /// Where every request sent for a job is written (`--audit`).
    pub audit: Option<Arc<AuditLog>>,
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
struct Survey {
    total: u64,
    already: u64,
    already_failed: u64,
    /// For a plan: the phases of the jobs still to run, in order. `None`: not a plan.
    phases: Option<BTreeSet<u64>>,
}

fn survey(input: &Path, done: &HashMap<String, bool>) -> Result<Survey> {
    let mut survey = Survey {
        total: 0,
        already: 0,
        already_failed: 0,
        phases: None,
    };
    let mut lines = open_input(input)?;
    while let Some(line) = lines.next() {
        let (_, line) =
            line.with_context(|| format!("cannot read the input file {}", input.display()))?;
        survey.total += 1;
        if let Some(succeeded) = done.get(line.key()) {
            survey.already += 1;
            survey.already_failed += u64::from(!succeeded);
        } else if let Some(phase) = lines.phase() {
            survey.phases.get_or_insert_default().insert(phase);
        }
        if lines.header().is_some() {
            survey.phases.get_or_insert_default();
        }
    }
    Ok(survey)
}

/// What the writer is given: a line to append, or a request to say when everything sent
/// before it is in the file.
enum ToWrite {
    Line(String, bool),
    Flush(oneshot::Sender<()>),
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
    let survey = survey(&options.input, &done)?;
    let progress = Arc::new(Progress::start(
        "iam-host batch",
        Some(survey.total),
        survey.already,
        survey.already_failed,
        options.display,
    ));
    let runner =
        Arc::new(Runner::new(host, tenants, &options.runner).with_audit(options.audit.clone()));

    // One writer: lines reach the file whole and in the order commands end.
    let (lines, mut to_write) = mpsc::unbounded_channel::<ToWrite>();
    let writer_progress = progress.clone();
    let writer = tokio::spawn(async move {
        let mut written = 0u64;
        while let Some(item) = to_write.recv().await {
            match item {
                ToWrite::Line(line, failed) => {
                    output.append(&line)?;
                    writer_progress.record(failed);
                    written += 1;
                }
                ToWrite::Flush(flushed) => {
                    flushed.send(()).ok();
                }
            }
        }
        anyhow::Ok(written)
    });

    let queued = Arc::new(Semaphore::new(MAX_QUEUED_JOBS));
    let mut summary = BatchSummary {
        total: survey.total,
        skipped: survey.already,
        ..BatchSummary::default()
    };
    let mut expected = 0u64;
    // A plain input is one pass over every job; a plan, one pass per phase still to run (and
    // one when none is left, for the lines it refuses).
    let passes: Vec<Option<u64>> = match &survey.phases {
        Some(phases) if !phases.is_empty() => phases.iter().copied().map(Some).collect(),
        _ => vec![None],
    };
    let mut tasks = tokio::task::JoinSet::new();
    'passes: for (pass, phase) in passes.into_iter().enumerate() {
        let mut input = open_input(&options.input)?;
        while let Some(line) = input.next() {
            let (_, line) = line.with_context(|| {
                format!("cannot read the input file {}", options.input.display())
            })?;
            if done.contains_key(line.key()) {
                continue;
            }
            let job = match line {
                // A refused line has no phase: it is answered in the first pass.
                Line::Refused(_) if pass > 0 => continue,
                Line::Refused(refusal) => {
                    expected += 1;
                    summary.refused += 1;
                    // Counted as the worker counts a line it refuses: every result line is.
                    runner.count_end(
                        refusal.tenant.as_deref().unwrap_or_default(),
                        refusal.command.as_deref().unwrap_or_default(),
                        JobOutcome::Refused,
                    );
                    if lines.send(ToWrite::Line(refusal.line(), true)).is_err() {
                        break 'passes;
                    }
                    continue;
                }
                Line::Job(_) if phase.is_some() && input.phase() != phase => continue,
                Line::Job(job) => job,
            };
            expected += 1;
            if let Err(refusal) = runner.check(&job) {
                summary.refused += 1;
                if lines.send(ToWrite::Line(refusal.line(), true)).is_err() {
                    break 'passes;
                }
                continue;
            }
            summary.ran += 1;
            let Ok(place) = queued.clone().acquire_owned().await else {
                break 'passes;
            };
            let (runner, lines) = (runner.clone(), lines.clone());
            tasks.spawn(async move {
                let finished = runner.run(&job).await;
                // The writer is gone only when writing failed; that error ends the run.
                lines
                    .send(ToWrite::Line(finished.line, finished.exit != 0))
                    .ok();
                drop(place);
            });
            // Reap finished tasks as we go, so the set does not grow with the input.
            while tasks.try_join_next().is_some() {}
        }
        // The phase ends when each of its jobs has its line in the output file.
        while tasks.join_next().await.is_some() {}
        let (flushed, written) = oneshot::channel();
        if lines.send(ToWrite::Flush(flushed)).is_err() || written.await.is_err() {
            break;
        }
    }
    drop(lines);
    while tasks.join_next().await.is_some() {}
    let written = writer
        .await
        .context("the output writer stopped unexpectedly")??;
    summary.failed = progress.failed() - survey.already_failed;
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
