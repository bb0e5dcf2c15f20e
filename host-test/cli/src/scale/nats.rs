//! What `worker` and `submit` share on NATS JetStream: the connection (30 s to reach a server
//! at start, then the client's own reconnects, each loss and recovery reported on stderr), the
//! two streams and the workers' durable consumer, message ids, and publishing until stored.
//!
//! * `IAM_JOBS` (subjects `iam.jobs.<tenant>`): a work queue, on disk. A job stays until a
//!   worker acks it; `submit` publishes each with its tenant and id as `Nats-Msg-Id`, so a
//!   file submitted again within the 24-hour duplicate window adds no job twice, and one
//!   tenant's ids never collide with another's.
//! * `IAM_RESULTS` (subjects `iam.results.<tenant>`): one result line per tenant and job id,
//!   on disk, deduplicated over 24 hours (a job run twice, after a worker died before its ack,
//!   stores one result), kept for 7 days.
//! * `iam-workers`: the durable pull consumer every worker on every machine shares (filter
//!   `iam.jobs.>`): explicit acks, redelivery after the ack wait.
//!
//! A tenant's subjects are its own, so NATS's permissions can confine a customer's user to
//! them (README, "Many customers"). Workers create the streams; a customer's `submit` has no
//! right to, and needs none. Job and result payloads are the lines of `jobs` and never hold a
//! token.

use anyhow::{Result, anyhow, bail};
use async_nats::jetstream::{self, consumer, stream};
use async_nats::{Client, ConnectOptions, Event};
use sha2::{Digest as _, Sha256};

use super::auth::NatsAccess;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

pub const JOBS_STREAM: &str = "IAM_JOBS";
/// The prefix of every jobs subject: `iam.jobs.<tenant>`.
pub const JOBS_SUBJECT: &str = "iam.jobs";
pub const RESULTS_STREAM: &str = "IAM_RESULTS";
/// The prefix of every results subject: `iam.results.<tenant>`.
pub const RESULTS_SUBJECT: &str = "iam.results";
pub const WORKERS_CONSUMER: &str = "iam-workers";
/// Where replies to workers come: the client's usual inbox prefix (a worker's NATS user may
/// read it; a customer's may not).
pub const WORKERS_INBOX: &str = "_INBOX";

/// Where replies to a customer's `submit` come: its own inbox, `_INBOX_<tenant>`, which its
/// NATS user alone may read (README, "Many customers").
pub fn tenant_inbox(tenant: &str) -> String {
    format!("_INBOX_{tenant}")
}
/// How long a job id deduplicates (architecture.md: at least 24 hours): a file resubmitted
/// within a day adds nothing, and a job run twice stores one result.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// How long results are kept for `submit` to collect: a week covers a `submit` resumed after
/// a weekend; the stream stays bounded.
pub const RESULTS_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// How long a server may take to answer at start (architecture.md); then exit 2.
pub const CONNECT_WITHIN: Duration = Duration::from_secs(30);
/// Jobs a worker may hold unacknowledged on the consumer, all workers together: above any
/// sensible sum of `--concurrency`, so that the server never starves a worker that has room.
const MAX_ACK_PENDING: i64 = 100_000;
/// Deliveries of one job at most. A job whose worker died twice in a row is run again; one
/// that keeps taking workers down is answered on its last delivery instead (worker.rs), so
/// nothing is redelivered for ever.
pub const MAX_DELIVER: i64 = 5;
/// Messages a stream keeps at most: far more than one submission holds.
const STREAM_MAX_MESSAGES: i64 = 1_000_000;
/// Bytes a stream keeps at most: a million jobs or results of a few kilobytes each.
const STREAM_MAX_BYTES: i64 = 4 << 30;
/// How long a job waits for a worker before the stream drops it (its submitter's results
/// stream keeps a week too).
const JOBS_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Longest job id used as its own `Nats-Msg-Id`; longer ones (and any with a character a
/// header value cannot hold) are hashed.
const MAX_PLAIN_MESSAGE_ID_BYTES: usize = 200;
/// Back-off between retries of anything NATS refused or did not answer.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LONGEST_RETRY: Duration = Duration::from_secs(5);

/// A tenant's jobs subject.
pub fn jobs_subject(tenant: &str) -> String {
    format!("{JOBS_SUBJECT}.{tenant}")
}

/// A tenant's results subject.
pub fn results_subject(tenant: &str) -> String {
    format!("{RESULTS_SUBJECT}.{tenant}")
}

/// The tenant a subject under `prefix` names (`iam.jobs.acme` gives `acme`): one token after
/// the prefix, and a valid tenant name.
pub fn tenant_of<'a>(subject: &'a str, prefix: &str) -> Option<&'a str> {
    let tenant = subject.strip_prefix(prefix)?.strip_prefix('.')?;
    super::tenants::check_name(tenant).ok().map(|()| tenant)
}

/// The `Nats-Msg-Id` of a job and of its result, scoped by tenant (one tenant's job id never
/// deduplicates another's): `<tenant>:<id>` when a header can carry the id as it is (printable
/// ASCII, no space at either end, at most 200 bytes), else `sha256:` and the hex digest of the
/// tenant and the id. A tenant name holds no `:`, so no two pairs share a message id.
pub fn message_id(tenant: &str, job_id: &str) -> String {
    let plain = !job_id.is_empty()
        && job_id.len() <= MAX_PLAIN_MESSAGE_ID_BYTES
        && job_id.bytes().all(|byte| (b' '..=b'~').contains(&byte))
        && !job_id.starts_with(' ')
        && !job_id.ends_with(' ');
    if plain {
        return format!("{tenant}:{job_id}");
    }
    let mut hasher = Sha256::new();
    hasher.update(tenant.as_bytes());
    hasher.update([0]);
    hasher.update(job_id.as_bytes());
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// A `--nats` value fit to print: any `user:password@` (or token) in it shown as `***@`.
pub fn printable_url(url: &str) -> String {
    url.split(',')
        .map(|server| match (server.find("://"), server.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                format!("{}***{}", &server[..scheme_end + 3], &server[at..])
            }
            (None, Some(at)) => format!("***{}", &server[at..]),
            _ => server.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Growing waits for retries: 100 ms, doubling, at most 5 s.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: FIRST_RETRY }
    }
}

impl Backoff {
    /// The wait before the next retry.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(LONGEST_RETRY);
        wait
    }

    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_wait()).await;
    }
}

/// Connect to the servers of `access` (one, or several separated by commas: the client learns
/// the rest of a cluster from them) with its credential and TLS, replies coming to subjects
/// under `inbox_prefix` (a customer's user may read only its own). Retried for 30 s; an error
/// then is the caller's exit 2, as is a credential the server refuses. Later losses are
/// retried by the client for as long as it runs, each reported on stderr.
pub async fn connect(access: &NatsAccess, label: &str, inbox_prefix: &str) -> Result<Client> {
    connect_reporting(access, label, inbox_prefix, None).await
}

/// [`connect`], the server's permissions violations (its `-ERR 'Permissions Violation for
/// Publish to "…"'`, for which a publish or a request gets no answer at all) sent to
/// `refusals` instead of stderr, each as the server words it: the caller knows which of them
/// it cannot do without.
pub async fn connect_watching_refusals(
    access: &NatsAccess,
    label: &str,
    inbox_prefix: &str,
) -> Result<(Client, mpsc::UnboundedReceiver<String>)> {
    let (refusals, refused) = mpsc::unbounded_channel();
    let client = connect_reporting(access, label, inbox_prefix, Some(refusals)).await?;
    Ok((client, refused))
}

async fn connect_reporting(
    access: &NatsAccess,
    label: &str,
    inbox_prefix: &str,
    refusals: Option<mpsc::UnboundedSender<String>>,
) -> Result<Client> {
    let url = access.servers.as_str();
    let deadline = Instant::now() + CONNECT_WITHIN;
    let mut backoff = Backoff::default();
    let servers: Vec<&str> = url
        .split(',')
        .map(str::trim)
        .filter(|server| !server.is_empty())
        .collect();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let reporter = Arc::new(EventReporter {
            label: label.to_string(),
            disconnected: AtomicBool::new(false),
            refusals: refusals.clone(),
        });
        let options = access
            .apply(ConnectOptions::new())?
            .custom_inbox_prefix(inbox_prefix)
            .name(label)
            .connection_timeout(left.clamp(Duration::from_millis(100), Duration::from_secs(5)))
            .event_callback(move |event| {
                let reporter = reporter.clone();
                async move { reporter.report(&event) }
            });
        match async_nats::connect_with_options(&servers, options).await {
            Ok(client) => return Ok(client),
            Err(error) => {
                if matches!(error.kind(), async_nats::ConnectErrorKind::ServerParse) {
                    bail!(
                        "--nats {} is not a NATS server address: {error}",
                        printable_url(url)
                    );
                }
                if matches!(
                    error.kind(),
                    async_nats::ConnectErrorKind::AuthorizationViolation
                        | async_nats::ConnectErrorKind::Authentication
                ) {
                    bail!(
                        "the NATS server at {} refused {} ({error})",
                        printable_url(url),
                        access.credential_kind()
                    );
                }
                // A certificate refused on either side is refused again on every try.
                if let Some(why) = tls_refusal(&error) {
                    bail!(
                        "the TLS handshake with the NATS server at {} failed: {why}",
                        printable_url(url)
                    );
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    bail!(
                        "cannot reach the NATS server at {} within {} s: {error}",
                        printable_url(url),
                        CONNECT_WITHIN.as_secs()
                    );
                }
                tokio::time::sleep(backoff.next_wait().min(left)).await;
            }
        }
    }
}

/// Why a connection attempt failed for good in TLS, when it did: the TLS setup could not be
/// made (an unreadable certificate or key), the server's certificate is not one `--nats-ca`
/// vouches for, or the server refused the handshake (this client's certificate, or none). The
/// client reports the last two as I/O errors; the TLS library's own error inside names them.
fn tls_refusal(error: &async_nats::ConnectError) -> Option<String> {
    use async_nats::rustls::Error as TlsError;
    if matches!(error.kind(), async_nats::ConnectErrorKind::Tls) {
        return Some(format!("{error}"));
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(current) = cause {
        // An `io::Error` hides what it wraps from `source()`: look inside it.
        let inner = match current.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => Some(current),
        };
        match inner.and_then(|inner| inner.downcast_ref::<TlsError>()) {
            Some(TlsError::InvalidCertificate(why)) => {
                return Some(format!(
                    "the server's certificate is not accepted ({why:?}); --nats-ca must hold the CA that signed it"
                ));
            }
            Some(TlsError::AlertReceived(alert)) => {
                return Some(format!(
                    "the server refused the handshake ({alert:?}); it may require a client certificate (--nats-cert, --nats-key) signed by a CA it trusts"
                ));
            }
            Some(other) => return Some(other.to_string()),
            None => {}
        }
        cause = current.source();
    }
    None
}

/// Reports the connection's events on stderr: each loss and each recovery once, not every
/// failed attempt in between.
struct EventReporter {
    label: String,
    disconnected: AtomicBool,
    /// Where permissions violations go, when the caller watches for them.
    refusals: Option<mpsc::UnboundedSender<String>>,
}

/// Whether a server's error is a permissions violation (the server words it
/// `Permissions Violation for Publish to "subject"`, or `for Subscription to`).
pub fn is_permissions_violation(error: &str) -> bool {
    error
        .to_ascii_lowercase()
        .starts_with("permissions violation")
}

impl EventReporter {
    fn report(&self, event: &Event) {
        let label = &self.label;
        match event {
            Event::Disconnected => {
                self.disconnected.store(true, Ordering::Relaxed);
                super::metrics::global().set_ready(false);
                crate::diagnostic(&format!(
                    "{label}: lost the connection to NATS; reconnecting"
                ));
            }
            Event::Connected => {
                if self.disconnected.swap(false, Ordering::Relaxed) {
                    super::metrics::global().set_ready(true);
                    crate::diagnostic(&format!("{label}: reconnected to NATS"));
                } else {
                    crate::diagnostic(&format!("{label}: connected to NATS"));
                }
            }
            Event::ServerError(async_nats::ServerError::Other(error))
                if is_permissions_violation(error) && self.refusals.is_some() =>
            {
                if let Some(refusals) = &self.refusals {
                    refusals.send(error.clone()).ok();
                }
            }
            // Each failed reconnect attempt; the loss has been reported.
            Event::ClientError(_) if self.disconnected.load(Ordering::Relaxed) => {}
            // Only this process closes its connection, on its way out.
            Event::Closed => {}
            // Slow-consumer and lame-duck notices are worth a line too; none is fatal.
            other => crate::diagnostic(&format!("{label}: NATS: {other}")),
        }
    }
}

/// Replicas of a stream this process creates: three on a cluster that has room for them, so a
/// job or a result survives the loss of a server; one on a single server.
const REPLICAS: [usize; 2] = [3, 1];

/// The jobs and results streams, created when missing (by whichever process comes first). An
/// existing stream is used as it is (its replicas, limits and all).
pub async fn streams(context: &jetstream::Context) -> Result<(stream::Stream, stream::Stream)> {
    let jobs = stream::Config {
        name: JOBS_STREAM.to_string(),
        description: Some("iam-host jobs: a work queue, one message per job id".into()),
        subjects: vec![format!("{JOBS_SUBJECT}.*")],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        max_messages: STREAM_MAX_MESSAGES,
        max_bytes: STREAM_MAX_BYTES,
        max_age: JOBS_MAX_AGE,
        // A full queue refuses new jobs (their submitter retries) rather than dropping old ones.
        discard: stream::DiscardPolicy::New,
        ..stream::Config::default()
    };
    let results = stream::Config {
        name: RESULTS_STREAM.to_string(),
        description: Some("iam-host results: one result line per job id".into()),
        subjects: vec![format!("{RESULTS_SUBJECT}.*")],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        max_age: RESULTS_MAX_AGE,
        max_messages: STREAM_MAX_MESSAGES,
        max_bytes: STREAM_MAX_BYTES,
        discard: stream::DiscardPolicy::Old,
        ..stream::Config::default()
    };
    Ok((
        open_stream(context, jobs).await?,
        open_stream(context, results).await?,
    ))
}

async fn open_stream(
    context: &jetstream::Context,
    config: stream::Config,
) -> Result<stream::Stream> {
    let mut refused = None;
    for replicas in REPLICAS {
        let config = stream::Config {
            num_replicas: replicas,
            ..config.clone()
        };
        match context.get_or_create_stream(config).await {
            Ok(stream) => return Ok(stream),
            // A single server refuses replicas; a small cluster may lack room for three.
            Err(error) => refused = Some(error),
        }
    }
    let why = refused.map_or_else(String::new, |error| error.to_string());
    bail!("cannot open the JetStream stream {}: {why}", config.name)
}

/// The workers' durable consumer, created with `ack_wait` when missing. An existing one keeps
/// its own ack wait (a worker must not shorten it under the others' feet): the wait in force
/// is returned, so each worker paces its in-progress acks by it.
pub async fn workers_consumer(
    jobs: &stream::Stream,
    ack_wait: Duration,
) -> Result<(consumer::PullConsumer, Duration)> {
    let mut consumer: consumer::PullConsumer = jobs
        .get_or_create_consumer(
            WORKERS_CONSUMER,
            consumer::pull::Config {
                durable_name: Some(WORKERS_CONSUMER.to_string()),
                description: Some("iam-host workers, on every machine".into()),
                filter_subject: format!("{JOBS_SUBJECT}.*"),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait,
                max_ack_pending: MAX_ACK_PENDING,
                max_deliver: MAX_DELIVER,
                ..consumer::pull::Config::default()
            },
        )
        .await
        .map_err(|error| anyhow!("cannot open the consumer {WORKERS_CONSUMER}: {error}"))?;
    let in_force = consumer
        .info()
        .await
        .map(|info| info.config.ack_wait)
        .unwrap_or(ack_wait);
    Ok((consumer, in_force))
}

/// Publish until the stream has stored the message (or found it a duplicate), retrying with
/// back-off whatever goes wrong (a worker, `make_streams`, creates the streams again when they
/// are gone; a customer's `submit` has no right to, and waits for a worker to); `note` hears
/// about each failure.
///
/// Bytes of a message besides its payload that NATS counts against the server's
/// `max_payload`: the headers (`Nats-Msg-Id` and the framing). Generous: a job id over 200
/// bytes travels as a 71-byte hash.
const HEADER_ALLOWANCE_BYTES: usize = 1024;

/// The largest payload a message to this server may carry (its `max_payload`, 1 MiB unless
/// configured, less the headers' allowance). Past it a publish can never succeed: retrying it
/// would only hold a slot for ever.
pub fn payload_room(client: &async_nats::Client) -> usize {
    client
        .server_info()
        .max_payload
        .saturating_sub(HEADER_ALLOWANCE_BYTES)
}

pub async fn publish_until_stored(
    context: &jetstream::Context,
    subject: &str,
    message_id: &str,
    payload: &str,
    make_streams: bool,
    note: &(dyn Fn(String) + Send + Sync),
) {
    let mut backoff = Backoff::default();
    loop {
        let publish = jetstream::message::PublishMessage::build()
            .payload(payload.to_string().into())
            .message_id(message_id);
        let stored = match context.send_publish(subject.to_string(), publish).await {
            Ok(acknowledgement) => acknowledgement.await.map(|_| ()).map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        match stored {
            Ok(()) => return,
            Err(error) => {
                note(format!(
                    "publishing to {subject} failed ({error}); retrying"
                ));
                if make_streams {
                    // A server restarted with an empty store has no streams: make them again.
                    if let Err(error) = streams(context).await {
                        note(format!("cannot open the streams ({error})"));
                    }
                }
                backoff.wait().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_job_id_is_its_own_message_id_scoped_by_its_tenant() {
        assert_eq!(message_id("acme", "job-1"), "acme:job-1");
        assert_eq!(message_id("acme", "a b:c/d"), "acme:a b:c/d");
        assert_ne!(message_id("acme", "job-1"), message_id("globex", "job-1"));
    }

    #[test]
    fn an_id_a_header_cannot_carry_is_hashed_with_its_tenant() {
        for id in ["a\r\nb", " padded", "é", &"x".repeat(201)] {
            let hashed = message_id("acme", id);
            assert!(hashed.starts_with("sha256:"), "{id:?} -> {hashed}");
            assert_eq!(hashed.len(), "sha256:".len() + 64);
            assert_eq!(
                message_id("acme", id),
                hashed,
                "the same id, the same message id"
            );
            assert_ne!(message_id("globex", id), hashed, "another tenant's");
        }
        assert_ne!(message_id("acme", "é"), message_id("acme", "è"));
    }

    #[test]
    fn a_subject_names_its_tenant() {
        assert_eq!(jobs_subject("acme"), "iam.jobs.acme");
        assert_eq!(tenant_of("iam.jobs.acme", JOBS_SUBJECT), Some("acme"));
        assert_eq!(tenant_of("iam.results.acme", RESULTS_SUBJECT), Some("acme"));
        for subject in [
            "iam.jobs",
            "iam.jobs.",
            "iam.jobs.a.b",
            "iam.jobsx.a",
            "iam.results.a",
        ] {
            assert_eq!(tenant_of(subject, JOBS_SUBJECT), None, "{subject}");
        }
    }

    #[test]
    fn a_password_in_the_server_address_is_never_printed() {
        assert_eq!(
            printable_url("nats://worker:s3cret@a.example:4222,nats://b.example:4222"),
            "nats://***@a.example:4222,nats://b.example:4222"
        );
        assert_eq!(printable_url("t0ken@127.0.0.1:4222"), "***@127.0.0.1:4222");
        assert_eq!(
            printable_url("nats://127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
    }

    #[test]
    fn backoff_doubles_up_to_five_seconds() {
        let mut backoff = Backoff::default();
        let waits: Vec<u128> = (0..8).map(|_| backoff.next_wait().as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
    }
}
