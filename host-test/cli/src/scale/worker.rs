//! `iam-host worker`: pull jobs from the shared durable consumer, run each, store its result
//! line in the results stream, and only then ack the job. Workers on any number of machines
//! share the consumer; each runs at most `--concurrency` jobs at once and at most
//! `--per-tenant` of a tenant's. A job waiting for its tenant's share holds no fetch slot, so
//! one tenant's backlog never keeps another tenant's jobs from being fetched (up to
//! [`MAX_WAITING`] such jobs are held; past that, a waiting job keeps its slot).
//!
//! A job's tenant is the one its subject names (`iam.jobs.<tenant>`), which NATS's
//! permissions guard: a body that names another tenant is refused and gets no result, since a
//! result would be written under that tenant's subject by the worker's own hand.
//!
//! Nothing is lost when a worker dies, even by `kill -9`: a job it held is unacked, so the
//! server hands it to another worker after the ack wait, and running a command again is
//! harmless (commands are idempotent; the results stream keeps the first result per job id).
//! While a job waits or runs, the worker sends in-progress acks every third of the ack wait,
//! so that a live worker's job is never handed to a second worker meanwhile.
//!
//! With `--audit FILE`, every HTTP request a job sends is one line of that file, as under
//! `batch` (audit.rs; sync.md §8).
//!
//! SIGTERM or SIGINT: stop fetching, hand back (nak) the jobs fetched but not started, finish
//! the ones running, exit 0. A second signal exits at once with 130.

use anyhow::{Result, anyhow};
use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use futures_util::StreamExt as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use super::audit::AuditLog;
use super::auth::NatsAccess;
use super::jobs::{Job, Refusal, parse_job, result_line};
use super::metrics::{self, Outcome};
use super::nats::{self, Backoff, JOBS_SUBJECT, message_id, results_subject};
use super::progress::{Display, Progress};
use super::runner::{Runner, RunnerOptions};
use super::tenants::Tenants;
use iam_gate::stop::error_entry;
use iam_host::Host;

/// How long one pull waits for jobs before asking again. Short, because after a stop signal
/// the worker waits out its open pull to hand back whatever it still brings.
const FETCH_EXPIRES: Duration = Duration::from_secs(2);
/// Most jobs asked for in one pull.
const MAX_FETCH: usize = 256;
/// Most jobs a worker holds that wait for their tenant's share without a fetch slot: each
/// costs its arguments and an in-progress ack every third of the ack wait.
pub const MAX_WAITING: usize = 4096;
/// The status of a second signal: killed by SIGINT, as a shell reports it.
pub const SECOND_SIGNAL_EXIT: i32 = 130;
const LABEL: &str = "iam-host worker";

/// What one worker is given.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub nats: NatsAccess,
    pub runner: RunnerOptions,
    pub ack_wait: Duration,
    pub display: Display,
    /// Where every request sent for a job is written (`--audit`).
    pub audit: Option<Arc<AuditLog>>,
}

/// How a worker's run went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerSummary {
    pub ran: u64,
    pub failed: u64,
    pub handed_back: u64,
}

/// What every job handler of a worker shares.
struct Shared {
    runner: Runner,
    context: jetstream::Context,
    stopping: watch::Receiver<bool>,
    /// A third of the ack wait in force.
    progress_every: Duration,
    progress: Progress,
    handed_back: std::sync::atomic::AtomicU64,
    /// Places for jobs that wait for their tenant's share without a fetch slot.
    waiting: Arc<Semaphore>,
    /// The largest result line a message carries (`nats::payload_room`).
    payload_room: usize,
}

impl Shared {
    fn note(&self, message: String) {
        self.progress.note(&format!("{LABEL}: {message}"));
    }
}

/// Resolves once a stop was asked for (at once if it was already).
async fn stopped(stopping: &watch::Receiver<bool>) {
    let mut stopping = stopping.clone();
    // The sender lives as long as the worker; if it were gone, stopping is all that is left.
    stopping.wait_for(|stop| *stop).await.ok();
}

/// First SIGTERM or SIGINT: ask to stop. Second: exit now with 130.
fn watch_signals(stop: watch::Sender<bool>) -> Result<()> {
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| anyhow!("cannot watch for SIGTERM: {e}"))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| anyhow!("cannot watch for SIGINT: {e}"))?;
    tokio::spawn(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        crate::diagnostic(&format!(
            "{LABEL}: stopping: no more fetching; jobs not started are handed back, running ones finish (a second signal exits at once)"
        ));
        stop.send_replace(true);
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        crate::diagnostic(&format!("{LABEL}: second signal: exiting at once"));
        std::process::exit(SECOND_SIGNAL_EXIT);
    });
    Ok(())
}

/// Run a worker until it is told to stop. Errors are for the start (NATS unreachable within
/// 30 s, the streams cannot be opened): exit 2.
pub async fn run(
    host: Arc<Host>,
    tenants: &Tenants,
    options: &WorkerOptions,
) -> Result<WorkerSummary> {
    let (stop, stopping) = watch::channel(false);
    watch_signals(stop)?;
    let client = nats::connect(&options.nats, LABEL, nats::WORKERS_INBOX).await?;
    let context = jetstream::new(client.clone());
    let (jobs, _results) = nats::streams(&context).await?;
    let (consumer, ack_wait) = nats::workers_consumer(&jobs, options.ack_wait).await?;
    metrics::global().set_ready(true);
    if ack_wait != options.ack_wait {
        crate::diagnostic(&format!(
            "{LABEL}: the consumer {} already has an ack wait of {} s (not the {} s asked for); using it",
            nats::WORKERS_CONSUMER,
            ack_wait.as_secs_f64(),
            options.ack_wait.as_secs_f64()
        ));
    }
    let payload_room = nats::payload_room(&client);
    let runner_options = RunnerOptions {
        max_result_bytes: Some(payload_room),
        label: LABEL,
        ..options.runner
    };
    let shared = Arc::new(Shared {
        runner: Runner::new(host, tenants, &runner_options).with_audit(options.audit.clone()),
        context,
        stopping: stopping.clone(),
        progress_every: (ack_wait / 3).max(Duration::from_millis(100)),
        progress: Progress::start(LABEL, None, 0, 0, options.display),
        handed_back: Default::default(),
        waiting: Arc::new(Semaphore::new(MAX_WAITING)),
        payload_room,
    });
    crate::diagnostic(&format!(
        "{LABEL}: pulling jobs from {} with {} (up to {} at once, {} per tenant)",
        nats::printable_url(&options.nats.servers),
        options.nats.credential_kind(),
        options.runner.concurrency,
        options.runner.per_tenant
    ));
    let mut handlers = JoinSet::new();
    fetch_until_stopped(
        consumer,
        ack_wait,
        options.runner.concurrency,
        &shared,
        &mut handlers,
    )
    .await;
    while handlers.join_next().await.is_some() {}
    if let Err(error) = client.flush().await {
        crate::diagnostic(&format!(
            "{LABEL}: could not flush the last acks ({error}); those jobs will be redelivered and their results are already stored"
        ));
    }
    shared.progress.finish();
    let summary = WorkerSummary {
        ran: shared.progress.done(),
        failed: shared.progress.failed(),
        handed_back: shared
            .handed_back
            .load(std::sync::atomic::Ordering::Relaxed),
    };
    crate::diagnostic(&format!(
        "{LABEL}: stopped after {} jobs ({} failed, {} handed back)",
        summary.ran, summary.failed, summary.handed_back
    ));
    Ok(summary)
}

/// The streams and the workers' consumer, opened again (and made again when a server came
/// back with an empty store); the consumer is replaced only when that worked.
async fn reopen(consumer: &mut PullConsumer, ack_wait: Duration, shared: &Shared) {
    let reopened = async {
        let (jobs, _results) = nats::streams(&shared.context).await?;
        nats::workers_consumer(&jobs, ack_wait).await
    };
    match reopened.await {
        Ok((fresh, _)) => {
            *consumer = fresh;
            metrics::global().set_ready(true);
        }
        Err(error) => shared.note(format!(
            "cannot open the jobs' consumer ({error}); retrying"
        )),
    }
}

/// Pull jobs while there is room, one handler each, until a stop is asked for; then hand back
/// whatever the last pull still brings.
async fn fetch_until_stopped(
    mut consumer: PullConsumer,
    ack_wait: Duration,
    concurrency: usize,
    shared: &Arc<Shared>,
    handlers: &mut JoinSet<()>,
) {
    let slots = Arc::new(Semaphore::new(concurrency));
    let mut backoff = Backoff::default();
    while !*shared.stopping.borrow() {
        let first = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
            () = stopped(&shared.stopping) => return,
        };
        let mut room = vec![first];
        while room.len() < MAX_FETCH {
            match slots.clone().try_acquire_owned() {
                Ok(slot) => room.push(slot),
                Err(_) => break,
            }
        }
        let pulled = consumer
            .batch()
            .max_messages(room.len())
            .expires(FETCH_EXPIRES)
            .messages()
            .await;
        let mut batch = match pulled {
            Ok(batch) => batch,
            Err(error) => {
                metrics::global().set_ready(false);
                shared.note(format!("cannot pull jobs ({error}); retrying"));
                drop(room);
                backoff.wait().await;
                reopen(&mut consumer, ack_wait, shared).await;
                continue;
            }
        };
        loop {
            let next = tokio::select! {
                next = batch.next() => next,
                () = stopped(&shared.stopping) => break,
            };
            match next {
                None => break,
                Some(Err(error)) => {
                    metrics::global().set_ready(false);
                    shared.note(format!("pulling jobs failed ({error}); retrying"));
                    backoff.wait().await;
                    reopen(&mut consumer, ack_wait, shared).await;
                    break;
                }
                Some(Ok(message)) => {
                    backoff = Backoff::default();
                    // A pull never brings more jobs than it asked for.
                    let slot = room.pop();
                    let shared = shared.clone();
                    handlers.spawn(async move { handle(message, slot, &shared).await });
                }
            }
            while handlers.try_join_next().is_some() {}
        }
        if *shared.stopping.borrow() {
            // The server may still deliver to this pull until it expires: hand those back.
            let drain = tokio::time::timeout(FETCH_EXPIRES + Duration::from_secs(1), async {
                while let Some(next) = batch.next().await {
                    if let Ok(message) = next {
                        hand_back(&message, shared).await;
                    }
                }
            });
            // Whatever has not arrived by then is redelivered after the ack wait.
            drain.await.ok();
        }
    }
}

/// Nak a job not started, for immediate redelivery to another worker.
async fn hand_back(message: &jetstream::Message, shared: &Shared) {
    shared
        .handed_back
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Err(error) = message.ack_with(AckKind::Nak(None)).await {
        shared.note(format!(
            "could not hand a job back ({error}); it is redelivered after the ack wait"
        ));
    }
}

/// The job a message carries, its tenant taken from the subject (`iam.jobs.<tenant>`); `Err`
/// with what to do instead: drop it (nothing can be answered) or answer a refusal.
enum NotAJob {
    /// Not for any worker to answer: dropped, with the reason logged.
    Drop(String),
    /// A refusal to store as its result.
    Refuse(Refusal),
}

fn read_job(message: &jetstream::Message, runner: &Runner) -> Result<Job, NotAJob> {
    let subject = message.subject.as_str();
    let Some(tenant) = nats::tenant_of(subject, JOBS_SUBJECT) else {
        return Err(NotAJob::Drop(format!(
            "a message on {subject:?}, which names no tenant"
        )));
    };
    let text = String::from_utf8_lossy(&message.payload);
    let mut body = match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(body)) => body,
        // Refused below as `parse_job` words it (with the id, if it has one).
        _ => serde_json::Map::new(),
    };
    match body.get("tenant") {
        None => {
            body.insert("tenant".into(), tenant.into());
        }
        Some(named) if named.as_str() == Some(tenant) => {}
        Some(named) => {
            // A result written under this subject would be this tenant's, by a worker's
            // hand: a message made by anyone else (NATS lets a consumer deliver anywhere)
            // must never get one.
            return Err(NotAJob::Drop(format!(
                "a job on {subject:?} that names the tenant {named}"
            )));
        }
    }
    let text = if body.len() > 1 {
        serde_json::Value::Object(body).to_string()
    } else {
        text.into_owned()
    };
    parse_job(&text, "").map_err(|mut refusal| {
        if refusal.key.is_empty() {
            // Not from `submit`: without an id there is nowhere to put a result.
            return NotAJob::Drop(format!("a message that is not a job ({})", refusal.error));
        }
        refusal.tenant = Some(tenant.to_string());
        runner.count_end(
            tenant,
            refusal.command.as_deref().unwrap_or_default(),
            Outcome::Refused,
        );
        NotAJob::Refuse(refusal)
    })
}

/// One job: check it, wait for its tenant's share, run it, store its result, ack it.
async fn handle(message: jetstream::Message, slot: Option<OwnedSemaphorePermit>, shared: &Shared) {
    let job = match read_job(&message, &shared.runner) {
        Ok(job) => job,
        Err(NotAJob::Drop(why)) => {
            drop_job(&message, &why, shared).await;
            return;
        }
        Err(NotAJob::Refuse(refusal)) => {
            let tenant = nats::tenant_of(message.subject.as_str(), JOBS_SUBJECT).unwrap_or("");
            refuse(&message, tenant, &refusal, shared).await;
            return;
        }
    };
    if let Err(refusal) = shared.runner.check(&job) {
        refuse(&message, &job.tenant, &refusal, shared).await;
        return;
    }
    if let Ok(info) = message.info()
        && info.delivered > 1
    {
        metrics::global().redelivered();
        if info.delivered >= nats::MAX_DELIVER {
            // Its last delivery: a job that took a worker down this often is not run again,
            // and ends with a Type 4 result so that its submitter is not left waiting.
            let given_up = error_entry(&format!(
                "The {} command was not run: its job was delivered {} times without a result (a worker stopped while running it each time)",
                job.command, info.delivered
            ));
            shared.note(format!(
                "job {:?} delivered {} times: given up",
                job.id, info.delivered
            ));
            shared
                .runner
                .count_end(&job.tenant, &job.command, Outcome::Error);
            let line = result_line(&job, 1, &given_up);
            finish(&message, &job.tenant, &job.id, &line, 1, shared).await;
            return;
        }
        shared.note(format!(
            "job {:?} delivered again (attempt {}): running it again",
            job.id, info.delivered
        ));
    }
    let Some(admission) = wait_for_admission(&message, &job, slot, shared).await else {
        hand_back(&message, shared).await;
        return;
    };
    let run = shared.runner.execute(&job, admission);
    tokio::pin!(run);
    let mut ticks = progress_ticks(shared.progress_every);
    let finished = loop {
        tokio::select! {
            finished = &mut run => break finished,
            _ = ticks.tick() => in_progress(&message, shared).await,
        }
    };
    finish(
        &message,
        &job.tenant,
        &job.id,
        &finished.line,
        finished.exit,
        shared,
    )
    .await;
}

/// Wait for `waited`, telling the server the job is held meanwhile. `None` when a stop came
/// first (the job is to be handed back) or `waited` gave none.
async fn holding<T>(
    message: &jetstream::Message,
    shared: &Shared,
    waited: impl std::future::Future<Output = Option<T>>,
) -> Option<T> {
    tokio::pin!(waited);
    let mut ticks = progress_ticks(shared.progress_every);
    loop {
        tokio::select! {
            got = &mut waited => return got,
            () = stopped(&shared.stopping) => return None,
            _ = ticks.tick() => in_progress(message, shared).await,
        }
    }
}

/// Wait for the tenant's share and a slot, telling the server the job is held meanwhile. A
/// job whose tenant has no share free gives its fetch `slot` back while it waits (when one
/// of the [`MAX_WAITING`] places is free), so other tenants' jobs are still fetched. `None`
/// when a stop came first (the job is to be handed back).
async fn wait_for_admission(
    message: &jetstream::Message,
    job: &Job,
    slot: Option<OwnedSemaphorePermit>,
    shared: &Shared,
) -> Option<super::runner::Admission> {
    let (share, _waiting) = match shared.runner.try_share(job) {
        Some(share) => (share, None),
        None => {
            let waiting = shared.waiting.clone().try_acquire_owned().ok();
            if waiting.is_some() {
                drop(slot);
            }
            (
                holding(message, shared, shared.runner.share(job)).await?,
                waiting,
            )
        }
    };
    let admission = holding(message, shared, shared.runner.admit_with(share)).await?;
    // A stop that came while the slot was being granted still means "not started".
    if *shared.stopping.borrow() {
        return None;
    }
    Some(admission)
}

fn progress_ticks(every: Duration) -> tokio::time::Interval {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks
}

async fn in_progress(message: &jetstream::Message, shared: &Shared) {
    if let Err(error) = message.ack_with(AckKind::Progress).await {
        shared.note(format!("could not extend a job's ack wait ({error})"));
    }
}

/// Drop a message no result can answer (terminated: never delivered again).
async fn drop_job(message: &jetstream::Message, why: &str, shared: &Shared) {
    shared.note(format!("dropped {why}; nothing is answered"));
    if let Err(error) = message.ack_with(AckKind::Term).await {
        shared.note(format!("could not drop it ({error})"));
    }
}

/// Answer a refused job with its refusal, cut short when it quotes more than a message can
/// carry (an unknown command of most of a megabyte).
async fn refuse(message: &jetstream::Message, tenant: &str, refusal: &Refusal, shared: &Shared) {
    match refusal.line_within(shared.payload_room) {
        Some(line) => finish(message, tenant, &refusal.key, &line, 2, shared).await,
        None => {
            let why = "a job whose id and names alone are more than a result can carry";
            drop_job(message, why, shared).await;
        }
    }
}

/// Store the result line under the tenant's results subject, then ack the job: a worker that
/// dies between the two leaves a stored result and a job that runs again, whose second result
/// the stream drops. A line larger than a message can carry could never be stored (it would
/// be retried for ever, holding a slot through SIGTERM): its job is dropped instead.
async fn finish(
    message: &jetstream::Message,
    tenant: &str,
    id: &str,
    line: &str,
    exit: u8,
    shared: &Shared,
) {
    if line.len() > shared.payload_room {
        let why = format!(
            "a job whose result is {} bytes, more than a message can carry",
            line.len()
        );
        drop_job(message, &why, shared).await;
        return;
    }
    let note = |text: String| shared.note(text);
    nats::publish_until_stored(
        &shared.context,
        &results_subject(tenant),
        &message_id(tenant, id),
        line,
        true,
        &note,
    )
    .await;
    if let Err(error) = message.double_ack().await {
        shared.note(format!(
            "could not ack job {id:?} ({error}); it will run again, and its result is stored once"
        ));
    }
    shared.progress.record(exit != 0);
}
