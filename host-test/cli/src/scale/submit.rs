//! `iam-host submit`: put the jobs of an input file on the jobs stream and write exactly one
//! result line per job id as the workers' results come in, however long that takes.
//!
//! It answers itself what it can check without a tenants file (the form of a line, repeated
//! ids); the workers answer unknown tenants and commands. It publishes each job with its id as
//! `Nats-Msg-Id`, so a file submitted again adds no job twice. Before publishing it reads the
//! results already stored, so a rerun (after an interruption, or with the output file lost)
//! writes what is there without asking for it again, and the ids its output has are skipped.

use anyhow::{Context as _, Result, anyhow};
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt as _;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc};

use super::jobs::{Line, Refusal, open_input, result_key};
use super::nats::{self, Backoff, JOBS_SUBJECT, message_id};
use super::output::Output;
use super::progress::{Display, Progress};

/// How long `submit` waits without a result before it publishes the jobs still waiting again.
const REPUBLISH_AFTER: std::time::Duration = std::time::Duration::from_secs(15);

/// Publishes awaiting the stream's acknowledgement at once: enough to keep a remote server
/// busy, few enough that a lost connection leaves little to retry.
const PUBLISHES_IN_FLIGHT: usize = 256;
const LABEL: &str = "iam-host submit";

/// What one submission is given.
#[derive(Debug, Clone)]
pub struct SubmitOptions {
    pub nats: String,
    pub input: PathBuf,
    pub output: PathBuf,
    pub display: Display,
}

/// How a submission went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubmitSummary {
    pub total: u64,
    pub skipped: u64,
    /// Jobs published (the stream drops those it already has).
    pub published: u64,
    /// Results that were already stored when the submission started.
    pub collected: u64,
    /// `exit: 2` lines answered by `submit` itself.
    pub refused: u64,
}

/// What the input asks for, beyond what the output has.
struct Plan {
    total: u64,
    already: u64,
    already_failed: u64,
    /// Refusals to write (their keys are not in the output yet).
    refusals: Vec<String>,
    /// Job ids waiting for a result, with the tenant and command each job named: a result is
    /// taken only if it names the same (issue 23: a result stored under the id by another
    /// tenant's or command's job is not this job's).
    waiting: HashMap<String, (String, String)>,
}

/// What to do with each line of the input: jobs already done are skipped, refused lines and
/// jobs too large for a message (`payload_room`) are answered here, the rest wait for a
/// result.
fn plan(
    input: &Path,
    done: &std::collections::HashMap<String, bool>,
    payload_room: usize,
) -> Result<Plan> {
    let mut plan = Plan {
        total: 0,
        already: 0,
        already_failed: 0,
        refusals: Vec::new(),
        waiting: HashMap::new(),
    };
    for line in open_input(input)? {
        let (_, line) =
            line.with_context(|| format!("cannot read the input file {}", input.display()))?;
        plan.total += 1;
        if let Some(succeeded) = done.get(line.key()) {
            plan.already += 1;
            plan.already_failed += u64::from(!succeeded);
            continue;
        }
        match line {
            Line::Refused(refusal) => plan.refusals.push(refusal.line()),
            Line::Job(job) => {
                let size = job.to_json().len();
                if size > payload_room {
                    plan.refusals.push(
                        Refusal {
                            key: job.id,
                            tenant: Some(job.tenant),
                            command: Some(job.command),
                            error: format!(
                                "the job is {size} bytes, more than the {payload_room} bytes a NATS message can carry"
                            ),
                        }
                        .line(),
                    );
                } else {
                    plan.waiting.insert(job.id, (job.tenant, job.command));
                }
            }
        }
    }
    Ok(plan)
}

/// A result from the results stream, or the news that every result stored before the
/// submission started has been read.
enum Stored {
    Result { id: String, exit: i64, line: String },
    CaughtUp,
}

/// Submit a file and collect its results. Errors are the run's own: an unreadable input, an
/// unwritable output, a NATS server not reached within 30 s (exit 2).
pub async fn run(options: &SubmitOptions) -> Result<SubmitSummary> {
    let resumed = Output::open(&options.output)?;
    if resumed.cut_bytes > 0 {
        crate::diagnostic(&format!(
            "{LABEL}: cut a torn last line ({} bytes) off {}",
            resumed.cut_bytes,
            options.output.display()
        ));
    }
    let mut output = resumed.output;
    let client = nats::connect(&options.nats, LABEL).await?;
    let mut plan = plan(&options.input, &resumed.done, nats::payload_room(&client))?;
    let context = jetstream::new(client.clone());
    let (_jobs, results) = nats::streams(&context).await?;

    let progress = Arc::new(Progress::start(
        LABEL,
        Some(plan.total),
        plan.already,
        plan.already_failed,
        options.display,
    ));
    let mut summary = SubmitSummary {
        total: plan.total,
        skipped: plan.already,
        ..SubmitSummary::default()
    };
    for line in plan.refusals.drain(..) {
        output.append(&line)?;
        progress.record(true);
        summary.refused += 1;
    }

    let (stored_tx, mut stored) = mpsc::unbounded_channel();
    let reader_progress = progress.clone();
    let reader = tokio::spawn(read_results(
        context.clone(),
        results,
        stored_tx,
        reader_progress,
    ));
    let mut publisher: Option<tokio::task::JoinHandle<Result<()>>> = None;
    while !plan.waiting.is_empty() {
        let event = tokio::select! {
            event = stored.recv() => event,
            () = tokio::time::sleep(REPUBLISH_AFTER) => {
                // No result for a while: publish the jobs still waiting again. The stream
                // drops those it holds (their ids are message ids); a server that came back
                // with an empty store gets them anew, so every job still ends.
                if publisher.as_ref().is_some_and(tokio::task::JoinHandle::is_finished) {
                    progress.note(&format!(
                        "{LABEL}: no result for {} s; publishing the {} jobs still waiting again",
                        REPUBLISH_AFTER.as_secs(),
                        plan.waiting.len()
                    ));
                    publisher = Some(tokio::spawn(publish_jobs(
                        context.clone(),
                        options.input.clone(),
                        plan.waiting.keys().cloned().collect(),
                        progress.clone(),
                    )));
                }
                continue;
            }
        };
        let Some(event) = event else {
            return Err(anyhow!("the results reader stopped unexpectedly"));
        };
        match event {
            Stored::CaughtUp => {
                if publisher.is_none() {
                    summary.collected = summary.total
                        - summary.skipped
                        - summary.refused
                        - plan.waiting.len() as u64;
                    let to_publish: HashSet<String> = plan.waiting.keys().cloned().collect();
                    summary.published = to_publish.len() as u64;
                    publisher = Some(tokio::spawn(publish_jobs(
                        context.clone(),
                        options.input.clone(),
                        to_publish,
                        progress.clone(),
                    )));
                }
            }
            Stored::Result { id, exit, line } => {
                let Some((tenant, command)) = plan.waiting.get(&id) else {
                    continue;
                };
                if !names_job(&line, tenant, command) {
                    progress.note(&format!(
                        "{LABEL}: ignored a result stored under the id {id:?} that names another tenant or command than the job's"
                    ));
                    continue;
                }
                plan.waiting.remove(&id);
                output.append(&line)?;
                progress.record(exit != 0);
            }
        }
    }
    reader.abort();
    if let Some(publisher) = publisher {
        // Every job has its result: whatever is still being published is a duplicate.
        publisher.abort();
    }
    if let Err(error) = client.flush().await {
        progress.note(&format!(
            "{LABEL}: could not flush the connection ({error})"
        ));
    }
    progress.finish();
    Ok(summary)
}

/// Whether a result line names this tenant and command: every result a worker writes for a
/// job `submit` sent does, refusals included.
fn names_job(line: &str, tenant: &str, command: &str) -> bool {
    let Ok(serde_json::Value::Object(result)) = serde_json::from_str(line) else {
        return false;
    };
    let matches =
        |key: &str, expected: &str| result.get(key).and_then(|v| v.as_str()) == Some(expected);
    matches("tenant", tenant) && matches("command", command)
}

/// Read the results stream from its start, forever: each result, and `CaughtUp` once the
/// results stored before the start have been read. The ordered consumer recovers from lost
/// connections itself; should its stream end, a new one picks up after the last result seen.
async fn read_results(
    context: jetstream::Context,
    mut results: stream::Stream,
    stored: mpsc::UnboundedSender<Stored>,
    progress: Arc<Progress>,
) -> Result<()> {
    let mut backoff = Backoff::default();
    let last_at_start = loop {
        match results.info().await {
            Ok(info) => break info.state.last_sequence,
            Err(error) => {
                progress.note(&format!(
                    "{LABEL}: cannot read the results stream's state ({error}); retrying"
                ));
                backoff.wait().await;
            }
        }
    };
    let mut caught_up = last_at_start == 0;
    if caught_up {
        stored.send(Stored::CaughtUp).ok();
    }
    let mut next_sequence = 1;
    loop {
        // A stream that holds fewer results than were read is a new one (a server back with
        // an empty store): read it from its start.
        if next_sequence > 1
            && let Ok(info) = results.info().await
            && info.state.last_sequence + 1 < next_sequence
        {
            next_sequence = 1;
        }
        let deliver_policy = if next_sequence <= 1 {
            consumer::DeliverPolicy::All
        } else {
            consumer::DeliverPolicy::ByStartSequence {
                start_sequence: next_sequence,
            }
        };
        let created = results
            .create_consumer(consumer::pull::OrderedConfig {
                deliver_policy,
                ..consumer::pull::OrderedConfig::default()
            })
            .await;
        let mut messages = match created {
            Ok(ordered) => match ordered.messages().await {
                Ok(messages) => messages,
                Err(error) => {
                    progress.note(&format!("{LABEL}: cannot read results ({error}); retrying"));
                    backoff.wait().await;
                    continue;
                }
            },
            Err(error) => {
                progress.note(&format!("{LABEL}: cannot read results ({error}); retrying"));
                backoff.wait().await;
                // The stream may be gone (a server back with an empty store): open it again,
                // and read it from its start (results already taken are ignored).
                if let Ok((_jobs, fresh)) = nats::streams(&context).await {
                    results = fresh;
                    next_sequence = 1;
                }
                continue;
            }
        };
        while let Some(next) = messages.next().await {
            let message = match next {
                Ok(message) => message,
                Err(error) => {
                    // Read on with a new consumer (from the last result seen), after a wait.
                    progress.note(&format!("{LABEL}: reading results: {error}"));
                    backoff.wait().await;
                    break;
                }
            };
            backoff = Backoff::default();
            let (sequence, pending) = message
                .info()
                .map(|info| (info.stream_sequence, info.pending))
                .unwrap_or((next_sequence, 1));
            next_sequence = sequence + 1;
            let line = String::from_utf8_lossy(&message.payload).into_owned();
            if let Some((id, exit)) = result_key(&line)
                && !line.contains('\n')
            {
                let exit = exit.unwrap_or(1);
                if stored.send(Stored::Result { id, exit, line }).is_err() {
                    return Ok(());
                }
            }
            if !caught_up && (sequence >= last_at_start || pending == 0) {
                caught_up = true;
                stored.send(Stored::CaughtUp).ok();
            }
        }
        backoff.wait().await;
    }
}

/// Publish every job of the input whose id is in `to_publish`, with its id as message id.
async fn publish_jobs(
    context: jetstream::Context,
    input: PathBuf,
    to_publish: HashSet<String>,
    progress: Arc<Progress>,
) -> Result<()> {
    let in_flight = Arc::new(Semaphore::new(PUBLISHES_IN_FLIGHT));
    let mut publishes = tokio::task::JoinSet::new();
    for line in open_input(&input)? {
        let (_, line) =
            line.with_context(|| format!("cannot read the input file {}", input.display()))?;
        let Line::Job(job) = line else {
            continue;
        };
        if !to_publish.contains(&job.id) {
            continue;
        }
        let place = in_flight.clone().acquire_owned().await?;
        let (context, progress) = (context.clone(), progress.clone());
        publishes.spawn(async move {
            let note = |text: String| progress.note(&format!("{LABEL}: {text}"));
            nats::publish_until_stored(
                &context,
                JOBS_SUBJECT,
                &message_id(&job.id),
                &job.to_json(),
                &note,
            )
            .await;
            drop(place);
        });
        while publishes.try_join_next().is_some() {}
    }
    while publishes.join_next().await.is_some() {}
    Ok(())
}
