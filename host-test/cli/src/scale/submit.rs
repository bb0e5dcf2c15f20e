//! `iam-host submit`: publish the jobs of a file to the jobs stream and write exactly one
//! result line per job id as the workers' results come in, however long that takes.
//!
//! It answers itself what it can check without a tenants file (the form of a line, repeated
//! ids); the workers answer unknown tenants and commands. It publishes each job to its
//! tenant's subject (`iam.jobs.<tenant>`) with its tenant and id as `Nats-Msg-Id`, so a file
//! submitted again adds no job twice. It reads only its own tenants' results
//! (`iam.results.<tenant>`, through a consumer of its own with that filter and an unguessable
//! name, replies in `_INBOX_<tenant>` when the file has one tenant) and takes a result only
//! for a job it sent, of the same tenant and command. A result under a job's id that names
//! another command is the result of another job that used the id first: the job is refused
//! (an exit-2 line), never merged. Before publishing it reads the results already stored, so a
//! rerun (after an interruption, or with the output file lost) writes what is there without
//! asking for it again, and the ids its output has are skipped.
//!
//! It needs no right but these (README, "Many customers"): it creates no stream (the workers
//! do) and asks for no stream's information (which names every tenant).
//!
//! A plan file of `iam-host sync plan` is submitted phase by phase (sync.md §8), as `batch`
//! runs it: a phase's jobs are published only once every job of the phases before has its
//! result line, so that no worker can run a member change before its group exists.

use anyhow::{Context as _, Result, anyhow};
use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt as _;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

use super::auth::NatsAccess;
use super::jobs::{Line, Refusal, open_input, result_key};
use super::nats::{self, Backoff, RESULTS_STREAM, jobs_subject, message_id, results_subject};
use super::output::Output;
use super::progress::{Display, Progress};
use super::tenants::check_name;

/// How long `submit` waits without a result before it publishes the jobs still waiting again.
const REPUBLISH_AFTER: std::time::Duration = std::time::Duration::from_secs(15);

/// Publishes awaiting the stream's acknowledgement at once: enough to keep a remote server
/// busy, few enough that a lost connection leaves little to retry.
const PUBLISHES_IN_FLIGHT: usize = 256;
const LABEL: &str = "iam-host submit";
/// How long the server keeps a results consumer nobody reads (a `submit` that was killed).
const READER_INACTIVE: Duration = Duration::from_secs(300);
/// How far back a results consumer made again starts before the last result seen: room for
/// the clocks of a cluster's servers, which stamp the results.
const RESUME_MARGIN: Duration = Duration::from_secs(60);

/// What one submission is given.
#[derive(Debug, Clone)]
pub struct SubmitOptions {
    pub nats: NatsAccess,
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
    refusals: Vec<Refusal>,
    /// Job ids waiting for a result, with what each job named: a result is taken only if it
    /// names the same tenant and command. Changed only through [`Plan::wait`] and
    /// [`Plan::take`], which keep `per_phase`.
    waiting: HashMap<String, Waiting>,
    /// How many jobs of each phase wait: the current phase is the first, found at once after
    /// each result (a scan of `waiting` per result made a million-job submit quadratic).
    per_phase: BTreeMap<Option<u64>, usize>,
}

/// A job waiting for its result.
struct Waiting {
    tenant: String,
    command: String,
    /// The job's size as it travels.
    bytes: usize,
    /// Its phase, when the input is a plan (`None` for every job of a plain job file).
    phase: Option<u64>,
}

impl Plan {
    /// The phase whose jobs may be published now: the first that has a job waiting for its
    /// result (`Some(None)` for a plain job file, all of whose jobs go at once); `None` when
    /// no job waits.
    fn current_phase(&self) -> Option<Option<u64>> {
        self.per_phase.keys().next().copied()
    }

    /// A job now waits for its result.
    fn wait(&mut self, id: String, job: Waiting) {
        *self.per_phase.entry(job.phase).or_default() += 1;
        if let Some(replaced) = self.waiting.insert(id, job) {
            // Ids are unique in an input (`JobLines`); kept exact all the same.
            self.left_phase(replaced.phase);
        }
    }

    /// A job no longer waits (it has its result, or is answered here).
    fn take(&mut self, id: &str) -> Option<Waiting> {
        let job = self.waiting.remove(id)?;
        self.left_phase(job.phase);
        Some(job)
    }

    fn left_phase(&mut self, phase: Option<u64>) {
        if let Some(count) = self.per_phase.get_mut(&phase) {
            *count -= 1;
            if *count == 0 {
                self.per_phase.remove(&phase);
            }
        }
    }

    /// The ids of the waiting jobs of `phase`.
    fn ids_of_phase(&self, phase: Option<u64>) -> HashSet<String> {
        self.waiting
            .iter()
            .filter(|(_, job)| job.phase == phase)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// The tenants whose results are read.
    fn tenants(&self) -> BTreeSet<String> {
        self.waiting
            .values()
            .map(|job| job.tenant.clone())
            .collect()
    }

    /// Answer here the jobs larger than a message can carry (`payload_room`).
    fn refuse_too_large(&mut self, payload_room: usize) {
        let too_large: Vec<String> = self
            .waiting
            .iter()
            .filter(|(_, job)| job.bytes > payload_room)
            .map(|(id, _)| id.clone())
            .collect();
        for id in too_large {
            if let Some(job) = self.take(&id) {
                self.refusals.push(Refusal {
                    key: id,
                    tenant: Some(job.tenant),
                    command: Some(job.command),
                    error: format!(
                        "the job is {} bytes, more than the {payload_room} bytes a NATS message can carry",
                        job.bytes
                    ),
                });
            }
        }
    }
}

/// What to do with each line of the input: jobs already done are skipped, refused lines are
/// answered here, the rest wait for a result.
fn plan(input: &Path, done: &std::collections::HashMap<String, bool>) -> Result<Plan> {
    let mut plan = Plan {
        total: 0,
        already: 0,
        already_failed: 0,
        refusals: Vec::new(),
        waiting: HashMap::new(),
        per_phase: BTreeMap::new(),
    };
    let mut lines = open_input(input)?;
    while let Some(line) = lines.next() {
        let (_, line) =
            line.with_context(|| format!("cannot read the input file {}", input.display()))?;
        plan.total += 1;
        if let Some(succeeded) = done.get(line.key()) {
            plan.already += 1;
            plan.already_failed += u64::from(!succeeded);
            continue;
        }
        match line {
            Line::Refused(refusal) => plan.refusals.push(refusal),
            Line::Job(job) => {
                if let Err(error) = check_name(&job.tenant) {
                    // It names no subject a worker reads.
                    plan.refusals.push(job.refuse(error.to_string()));
                    continue;
                }
                let bytes = job.to_json().len();
                plan.wait(
                    job.id,
                    Waiting {
                        tenant: job.tenant,
                        command: job.command,
                        bytes,
                        phase: lines.phase(),
                    },
                );
            }
        }
    }
    Ok(plan)
}

/// A result from a tenant's results subject, or the news that every result of a tenant stored
/// before the submission started has been read.
enum Stored {
    Result {
        /// The tenant whose subject it came on.
        tenant: String,
        id: String,
        exit: i64,
        line: String,
    },
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
    let mut plan = plan(&options.input, &resumed.done)?;
    let tenants = plan.tenants();
    // A customer's user may read only its own inbox; an operator's submit of several tenants
    // uses the usual one.
    let inbox = match tenants.iter().next() {
        Some(tenant) if tenants.len() == 1 => nats::tenant_inbox(tenant),
        _ => nats::WORKERS_INBOX.to_string(),
    };
    let (client, mut refused) =
        nats::connect_watching_refusals(&options.nats, LABEL, &inbox).await?;
    plan.refuse_too_large(nats::payload_room(&client));
    let tenants = plan.tenants();
    let context = jetstream::new(client.clone());
    // The streams, made here when this user may (an operator's, an open server's); a
    // customer's user may not, and waits for the workers, which make them.
    let maker = context.clone();
    tokio::spawn(async move { nats::streams(&maker).await.ok() });

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
    for refusal in plan.refusals.drain(..) {
        output.append(&refusal.line())?;
        progress.record(true);
        summary.refused += 1;
    }

    let (stored_tx, mut stored) = mpsc::unbounded_channel();
    let readers: Vec<_> = tenants
        .iter()
        .map(|tenant| {
            tokio::spawn(read_results(
                context.clone(),
                tenant.clone(),
                stored_tx.clone(),
                progress.clone(),
            ))
        })
        .collect();
    drop(stored_tx);
    let mut readers_behind = tenants.len();
    let mut publisher: Option<tokio::task::JoinHandle<Result<()>>> = None;
    // The phase being published (`Some(None)`: a plain job file, published whole).
    let mut publishing: Option<Option<u64>> = None;
    while !plan.waiting.is_empty() {
        let event = tokio::select! {
            event = stored.recv() => event,
            Some(violation) = refused.recv() => {
                // The server answers a publish or a request it does not permit with an error
                // line and nothing else: without this, submit would retry it for ever.
                if let Some(reason) = run_ending_refusal(&violation, &tenants) {
                    for reader in &readers {
                        reader.abort();
                    }
                    if let Some(publisher) = &publisher {
                        publisher.abort();
                    }
                    progress.finish();
                    return Err(anyhow!(reason));
                }
                continue;
            }
            () = tokio::time::sleep(REPUBLISH_AFTER) => {
                // No result for a while: publish the jobs still waiting again. The stream
                // drops those it holds (their ids are message ids); a server that came back
                // with an empty store gets them anew, so every job still ends.
                if publisher.as_ref().is_some_and(tokio::task::JoinHandle::is_finished)
                    && let Some(phase) = publishing
                {
                    let again = plan.ids_of_phase(phase);
                    progress.note(&format!(
                        "{LABEL}: no result for {} s; publishing the {} jobs still waiting again",
                        REPUBLISH_AFTER.as_secs(),
                        again.len()
                    ));
                    publisher = Some(tokio::spawn(publish_jobs(
                        context.clone(),
                        options.input.clone(),
                        again,
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
                readers_behind = readers_behind.saturating_sub(1);
                if readers_behind == 0 && publisher.is_none() {
                    summary.collected = summary.total
                        - summary.skipped
                        - summary.refused
                        - plan.waiting.len() as u64;
                    if let Some(phase) = plan.current_phase() {
                        publishing = Some(phase);
                        publisher = Some(publish_phase(
                            phase,
                            &plan,
                            &mut summary,
                            &context,
                            &options.input,
                            &progress,
                        ));
                    }
                }
            }
            Stored::Result {
                tenant: came_for,
                id,
                exit,
                line,
            } => {
                let Some(job) = plan.waiting.get(&id) else {
                    continue;
                };
                if job.tenant != came_for {
                    continue;
                }
                let (line, exit) = match command_named(&line, &job.tenant) {
                    Named::This(command) if command == job.command => (line, exit),
                    named @ (Named::This(_) | Named::NoCommand) => {
                        // Another message of this tenant used the id first (a job of another
                        // command, or one with no usable command, which the worker refused):
                        // this job is not run under it (the stream took the first for this
                        // id), nor merged, nor left waiting for a result that never comes.
                        let other = match named {
                            Named::This(command) => format!("a {command} job"),
                            _ => "a message that is no job".to_string(),
                        };
                        progress.note(&format!(
                            "{LABEL}: the id {id:?} is already taken by {other} of the tenant {:?}; refused",
                            job.tenant
                        ));
                        let refusal = Refusal {
                            key: id.clone(),
                            tenant: Some(job.tenant.clone()),
                            command: Some(job.command.clone()),
                            error: format!(
                                "the id {id:?} is already used by {other} of this tenant, sent earlier; give the job an id of its own"
                            ),
                        };
                        (refusal.line(), 2)
                    }
                    Named::OtherTenant => {
                        progress.note(&format!(
                            "{LABEL}: ignored a result stored under the id {id:?} that is not the tenant {:?}'s",
                            job.tenant
                        ));
                        continue;
                    }
                };
                plan.take(&id);
                output.append(&line)?;
                progress.record(exit != 0);
                // The last result of a plan's phase: the next phase's jobs go out now.
                let next = plan.current_phase();
                if publishing.is_some()
                    && next != publishing
                    && let Some(phase) = next
                {
                    if let Some(earlier) = publisher.take() {
                        // Whatever it still republishes already has its result.
                        earlier.abort();
                    }
                    publishing = Some(phase);
                    publisher = Some(publish_phase(
                        phase,
                        &plan,
                        &mut summary,
                        &context,
                        &options.input,
                        &progress,
                    ));
                }
            }
        }
    }
    for reader in readers {
        reader.abort();
    }
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

/// Start publishing a phase's waiting jobs (`None`: a plain job file, whole) in a task of its
/// own: counted as published, and the phase named (nothing is said for a plain job file).
fn publish_phase(
    phase: Option<u64>,
    plan: &Plan,
    summary: &mut SubmitSummary,
    context: &jetstream::Context,
    input: &Path,
    progress: &Arc<Progress>,
) -> tokio::task::JoinHandle<Result<()>> {
    let to_publish = plan.ids_of_phase(phase);
    summary.published += to_publish.len() as u64;
    if let Some(phase) = phase {
        progress.note(&format!(
            "{LABEL}: publishing phase {phase} of the plan ({} jobs)",
            to_publish.len()
        ));
    }
    tokio::spawn(publish_jobs(
        context.clone(),
        input.to_path_buf(),
        to_publish,
        progress.clone(),
    ))
}

/// What a permissions violation means for this run: `None` for one submit does without (the
/// streams are the workers' to make, so a customer's user may not), else the one line that
/// ends the run (exit 2): submit cannot publish its jobs or read their results.
fn run_ending_refusal(violation: &str, tenants: &BTreeSet<String>) -> Option<String> {
    // `Permissions Violation for Publish to "subject"` (or `for Subscription to`).
    let subject = violation
        .split_once('"')
        .and_then(|(_, rest)| rest.rsplit_once('"'))
        .map_or("", |(subject, _)| subject);
    if subject.starts_with("$JS.API.STREAM.") {
        return None;
    }
    if let Some(tenant) = tenants
        .iter()
        .find(|tenant| subject == jobs_subject(tenant))
    {
        return Some(format!(
            "the NATS server does not let this user submit jobs for the tenant {tenant:?} ({violation}); a customer's user may submit only its own tenant's jobs"
        ));
    }
    if let Some(tenant) = tenants.iter().find(|tenant| {
        subject.starts_with(&format!("{}.", nats::tenant_inbox(tenant)))
            || subject.ends_with(&format!(".{}", results_subject(tenant)))
    }) {
        return Some(format!(
            "the NATS server does not let this user read the results of the tenant {tenant:?} ({violation}); a customer's user may submit and read only its own tenant's jobs"
        ));
    }
    Some(format!(
        "the NATS server does not let this user do what submit needs ({violation}); a customer's user may submit and read only its own tenant's jobs, one tenant per file"
    ))
}

/// What a result line names.
#[derive(Debug, PartialEq, Eq)]
enum Named {
    /// A result of the tenant's, of this command.
    This(String),
    /// A result of the tenant's with no command: a worker's refusal of a message that gave
    /// none (never one `submit` sent).
    NoCommand,
    /// Not a result of the tenant's.
    OtherTenant,
}

/// What a result line of `tenant`'s subject names. Every result a worker writes names the
/// tenant of its subject, and the job's command whenever the job gave one (refusals included).
fn command_named(line: &str, tenant: &str) -> Named {
    let Ok(serde_json::Value::Object(result)) = serde_json::from_str(line) else {
        return Named::OtherTenant;
    };
    let text = |key: &str| result.get(key).and_then(|v| v.as_str());
    if text("tenant") != Some(tenant) {
        return Named::OtherTenant;
    }
    match text("command") {
        Some(command) => Named::This(command.to_string()),
        None => Named::NoCommand,
    }
}

/// Read a tenant's results subject from its start, forever: each result, and `CaughtUp` once
/// the results stored before the start have been read. The consumer is this submission's own
/// (an unguessable name, filtered to the tenant's subject), so a customer's NATS user can be
/// allowed to make it and nothing else; the server drops it a few minutes after this process
/// stops reading. Should it fail (a lost server, a store wiped), a new one reads on from a
/// minute before the last result seen, or from the start if none was.
async fn read_results(
    context: jetstream::Context,
    tenant: String,
    stored: mpsc::UnboundedSender<Stored>,
    progress: Arc<Progress>,
) -> Result<()> {
    let mut backoff = Backoff::default();
    let mut caught_up = false;
    let mut last_seen = None;
    loop {
        let deliver_policy = match last_seen {
            None => consumer::DeliverPolicy::All,
            Some(published) => consumer::DeliverPolicy::ByStartTime {
                start_time: published - RESUME_MARGIN,
            },
        };
        let config = consumer::pull::Config {
            name: Some(format!("iam-submit-{tenant}-{}", nuid::next())),
            description: Some(format!("iam-host submit: the results of {tenant}")),
            filter_subject: results_subject(&tenant),
            deliver_policy,
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: READER_INACTIVE,
            memory_storage: true,
            num_replicas: 1,
            ..consumer::pull::Config::default()
        };
        let created = context
            .create_consumer_on_stream(config, RESULTS_STREAM)
            .await;
        let reader = match created {
            Ok(reader) => reader,
            Err(error) => {
                progress.note(&format!(
                    "{LABEL}: cannot read the results of {tenant:?} yet ({error}); retrying (workers create the streams)"
                ));
                backoff.wait().await;
                continue;
            }
        };
        let mut before_start = reader.cached_info().num_pending;
        if !caught_up && before_start == 0 {
            caught_up = true;
            stored.send(Stored::CaughtUp).ok();
        }
        let mut messages = match reader.messages().await {
            Ok(messages) => messages,
            Err(error) => {
                progress.note(&format!("{LABEL}: cannot read results ({error}); retrying"));
                backoff.wait().await;
                continue;
            }
        };
        while let Some(next) = messages.next().await {
            let message = match next {
                Ok(message) => message,
                Err(error) => {
                    // Read on with a new consumer, after a wait.
                    progress.note(&format!("{LABEL}: reading results: {error}"));
                    break;
                }
            };
            backoff = Backoff::default();
            let pending = match message.info() {
                Ok(info) => {
                    last_seen = Some(info.published);
                    info.pending
                }
                Err(_) => 1,
            };
            let line = String::from_utf8_lossy(&message.payload).into_owned();
            if let Some((id, exit)) = result_key(&line)
                && !line.contains('\n')
            {
                let result = Stored::Result {
                    tenant: tenant.clone(),
                    id,
                    exit: exit.unwrap_or(1),
                    line,
                };
                if stored.send(result).is_err() {
                    return Ok(());
                }
            }
            before_start = before_start.saturating_sub(1);
            if !caught_up && (before_start == 0 || pending == 0) {
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
                &jobs_subject(&job.tenant),
                &message_id(&job.tenant, &job.id),
                &job.to_json(),
                false,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(phase: Option<u64>, bytes: usize) -> Waiting {
        Waiting {
            tenant: "acme".into(),
            command: "c".into(),
            bytes,
            phase,
        }
    }

    #[test]
    fn the_current_phase_is_the_first_with_a_job_waiting() {
        let mut plan = Plan {
            total: 0,
            already: 0,
            already_failed: 0,
            refusals: Vec::new(),
            waiting: HashMap::new(),
            per_phase: BTreeMap::new(),
        };
        assert_eq!(plan.current_phase(), None);
        plan.wait("a".into(), waiting(Some(3), 10));
        plan.wait("b".into(), waiting(Some(1), 10));
        plan.wait("c".into(), waiting(Some(1), 5_000));
        plan.wait("d".into(), waiting(Some(2), 10));
        assert_eq!(plan.current_phase(), Some(Some(1)));
        assert!(plan.take("b").is_some());
        assert!(plan.take("b").is_none(), "taken once");
        assert_eq!(plan.current_phase(), Some(Some(1)));
        // A job answered here (too large) leaves its phase too.
        plan.refuse_too_large(1_000);
        assert_eq!(plan.refusals.len(), 1);
        assert_eq!(plan.current_phase(), Some(Some(2)));
        assert_eq!(plan.ids_of_phase(Some(2)), HashSet::from(["d".to_string()]));
        plan.take("d");
        assert_eq!(plan.current_phase(), Some(Some(3)));
        plan.take("a");
        assert_eq!(plan.current_phase(), None);
        assert!(plan.waiting.is_empty() && plan.per_phase.is_empty());
    }

    #[test]
    fn a_result_names_its_tenants_command_or_none_and_another_tenants_is_not_its() {
        let named = |line: &str| command_named(line, "acme");
        assert_eq!(
            named(r#"{"id":"a","tenant":"acme","command":"iam-get-user","exit":0,"entry":{}}"#),
            Named::This("iam-get-user".into())
        );
        // Regression: a worker's refusal of a message with no usable command (published
        // earlier under a job's id by anyone who may publish the tenant's jobs) names none;
        // it was taken as "not the tenant's" and ignored, so submit waited for ever.
        assert_eq!(
            named(
                r#"{"id":"a","tenant":"acme","exit":2,"error":"\"command\" must be a non-empty string"}"#
            ),
            Named::NoCommand
        );
        assert_eq!(
            named(r#"{"id":"a","tenant":"globex","command":"c","exit":0}"#),
            Named::OtherTenant
        );
        assert_eq!(
            named(r#"{"stream":"IAM_JOBS","seq":3}"#),
            Named::OtherTenant
        );
        assert_eq!(named("not json"), Named::OtherTenant);
    }
}
