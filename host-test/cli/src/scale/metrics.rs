//! `--metrics ADDR` on `worker` and `batch`: what the process counts, in the Prometheus text
//! exposition (version 0.0.4, by the official Rust client `prometheus-client`), and its health,
//! served over HTTP/1 (hyper) at
//!
//! * `/metrics`: jobs by tenant, command and outcome; HTTP requests by tenant and status class;
//!   request latency (a histogram, by tenant); commands in flight; Retry-After waits;
//!   quarantined tenants; redeliveries;
//! * `/healthz`: 200 while the process runs;
//! * `/readyz`: 200 once it can take work (a worker: connected to NATS with its streams and
//!   consumer open), else 503.
//!
//! The counts are kept whether or not anything serves them: they cost a lookup per job and per
//! request. No label carries anything but a tenant's name, a command's name and fixed words.

use anyhow::{Context as _, Result};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use iam_host::backend::{Backend, BackendError, BoxFuture, IncomingResponse, OutgoingRequest};

/// How a job ended, as its result line says: `exit` 0, 1 or 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A Type 1 entry (`exit: 0`).
    Ok,
    /// A Type 4 entry (`exit: 1`), quarantine and limits included.
    Error,
    /// No command to run (`exit: 2`): an unknown tenant or command, a malformed job.
    Refused,
}

impl Outcome {
    pub fn of_exit(exit: u8) -> Outcome {
        match exit {
            0 => Outcome::Ok,
            1 => Outcome::Error,
            _ => Outcome::Refused,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Refused => "refused",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    tenant: String,
    command: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    tenant: String,
    /// `2xx` … `5xx`, or `none` when no answer came (timeout, connection, TLS).
    class: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TenantLabels {
    tenant: String,
}

/// Request latency buckets: 5 ms doubling to about 41 s (a command's retries stop at 30 s).
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// The process's metrics: one process, one set of counts (as every Prometheus client keeps a
/// default registry).
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

/// Everything a `worker` or a `batch` counts.
pub struct Metrics {
    registry: Registry,
    jobs: Family<JobLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<TenantLabels, Histogram, fn() -> Histogram>,
    in_flight: Gauge,
    retry_after_waits: Family<TenantLabels, Counter>,
    quarantined: Gauge,
    quarantines: Family<TenantLabels, Counter>,
    redeliveries: Counter,
    /// Whether the process can take work now (`/readyz`).
    ready: AtomicBool,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("iam");
        let jobs = Family::<JobLabels, Counter>::default();
        registry.register(
            "jobs",
            "Jobs that ended, by tenant, command and outcome (ok: Type 1, error: Type 4, refused: exit 2)",
            jobs.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests sent for jobs, by tenant and status class (none: no answer)",
            requests.clone(),
        );
        let latency = Family::<TenantLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from sending a request to its answer, by tenant",
            latency.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "commands_in_flight",
            "Commands running now",
            in_flight.clone(),
        );
        let retry_after_waits = Family::<TenantLabels, Counter>::default();
        registry.register(
            "retry_after_waits",
            "Pauses of a tenant's requests after a 429 or 503 (the wait its command chose)",
            retry_after_waits.clone(),
        );
        let quarantined = Gauge::default();
        registry.register(
            "quarantined_tenants",
            "Tenants quarantined now (their token refused again and again)",
            quarantined.clone(),
        );
        let quarantines = Family::<TenantLabels, Counter>::default();
        registry.register(
            "quarantines",
            "Times a tenant was quarantined",
            quarantines.clone(),
        );
        let redeliveries = Counter::default();
        registry.register(
            "job_redeliveries",
            "Jobs this worker received again after another delivery got no result",
            redeliveries.clone(),
        );
        Metrics {
            registry,
            jobs,
            requests,
            latency,
            in_flight,
            retry_after_waits,
            quarantined,
            quarantines,
            redeliveries,
            ready: AtomicBool::new(false),
        }
    }

    /// A job's result line was written (batch) or stored (worker).
    pub fn job_ended(&self, tenant: &str, command: &str, outcome: Outcome) {
        self.jobs
            .get_or_create(&JobLabels {
                tenant: tenant.to_string(),
                command: command.to_string(),
                outcome: outcome.label(),
            })
            .inc();
    }

    /// A request got `status` (`None`: no answer) after `took`.
    pub fn request_ended(&self, tenant: &str, status: Option<u16>, took: Duration) {
        let class = match status {
            Some(100..=199) => "1xx",
            Some(200..=299) => "2xx",
            Some(300..=399) => "3xx",
            Some(400..=499) => "4xx",
            Some(500..=599) => "5xx",
            Some(_) => "other",
            None => "none",
        };
        self.requests
            .get_or_create(&RequestLabels {
                tenant: tenant.to_string(),
                class,
            })
            .inc();
        self.latency
            .get_or_create(&TenantLabels {
                tenant: tenant.to_string(),
            })
            .observe(took.as_secs_f64());
    }

    /// The gauge of commands in flight (the runner moves it).
    pub fn in_flight(&self) -> &Gauge {
        &self.in_flight
    }

    pub fn retry_after_wait(&self, tenant: &str) {
        self.retry_after_waits
            .get_or_create(&TenantLabels {
                tenant: tenant.to_string(),
            })
            .inc();
    }

    pub fn quarantine_started(&self, tenant: &str) {
        self.quarantined.inc();
        self.quarantines
            .get_or_create(&TenantLabels {
                tenant: tenant.to_string(),
            })
            .inc();
    }

    pub fn quarantine_lifted(&self) {
        self.quarantined.dec();
    }

    pub fn redelivered(&self) {
        self.redeliveries.inc();
    }

    /// Whether `/readyz` answers 200.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The exposition, as `/metrics` serves it.
    pub fn text(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        prometheus_text::encode(&mut text, &self.registry).ok();
        text
    }
}

fn answer(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

fn route(metrics: &Metrics, request: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if request.method() != hyper::Method::GET && request.method() != hyper::Method::HEAD {
        return answer(StatusCode::METHOD_NOT_ALLOWED, PLAIN, "GET only\n".into());
    }
    match request.uri().path() {
        "/metrics" => answer(
            StatusCode::OK,
            prometheus_text::CONTENT_TYPE,
            metrics.text(),
        ),
        "/healthz" => answer(StatusCode::OK, PLAIN, "ok\n".into()),
        "/readyz" if metrics.is_ready() => answer(StatusCode::OK, PLAIN, "ready\n".into()),
        "/readyz" => answer(
            StatusCode::SERVICE_UNAVAILABLE,
            PLAIN,
            "not ready: not connected, or the streams are not open\n".into(),
        ),
        _ => answer(
            StatusCode::NOT_FOUND,
            PLAIN,
            "/metrics, /healthz or /readyz\n".into(),
        ),
    }
}

/// How the `/metrics` server keeps a client from holding what the process needs: a client
/// that connects and never sends, sends slowly, or never reads its answer is let go, and no
/// number of clients can take the descriptors its jobs' connections need.
#[derive(Debug, Clone, Copy)]
struct ServerLimits {
    /// Time to send a request's head (hyper's header read timeout, also between requests of a
    /// kept-alive connection).
    head: Duration,
    /// The longest one connection is served, kept-alive requests and slow reads included.
    connection: Duration,
    /// Connections served at once; more wait in the listen backlog.
    connections: usize,
}

const SERVER_LIMITS: ServerLimits = ServerLimits {
    head: Duration::from_secs(10),
    connection: Duration::from_secs(60),
    connections: 32,
};

/// The most a request's head may take in bytes (hyper's smallest buffer): the three paths
/// need no more, and no body is ever read.
const MAX_HEAD_BYTES: usize = 8 * 1024;

/// Serve `metrics` on `address` until the process ends. Binding happens here (an error is the
/// caller's exit 2); the address bound (port 0 picks one) is returned and printed.
pub async fn serve(address: &str, metrics: &'static Metrics, label: &str) -> Result<SocketAddr> {
    let wanted: SocketAddr = address.parse().with_context(|| {
        format!("--metrics {address:?} is not an address such as 127.0.0.1:9464")
    })?;
    let listener = tokio::net::TcpListener::bind(wanted)
        .await
        .with_context(|| format!("cannot serve --metrics on {wanted}"))?;
    let bound = listener.local_addr().unwrap_or(wanted);
    crate::diagnostic(&format!(
        "{label}: serving /metrics, /healthz and /readyz on http://{bound}"
    ));
    tokio::spawn(accept(listener, metrics, SERVER_LIMITS));
    Ok(bound)
}

/// Accept and serve connections within `limits`, for ever.
async fn accept(
    listener: tokio::net::TcpListener,
    metrics: &'static Metrics,
    limits: ServerLimits,
) {
    let connections = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.connections));
    loop {
        // The semaphore is never closed.
        let Ok(permit) = connections.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors, say: try again shortly rather than spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |request| {
                let response = route(metrics, &request);
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.head)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            // A client that goes away mid-request is its own business; one that outstays
            // its time is dropped with its connection.
            tokio::time::timeout(limits.connection, connection)
                .await
                .ok();
        });
    }
}

/// A backend that counts each request's status class and time on the wire for its tenant.
pub struct Measured<B> {
    inner: B,
    tenant: String,
}

impl<B: Backend> Measured<B> {
    pub fn new(inner: B, tenant: &str) -> Measured<B> {
        Measured {
            inner,
            tenant: tenant.to_string(),
        }
    }
}

impl<B: Backend> Backend for Measured<B> {
    fn send<'a>(
        &'a mut self,
        request: &'a OutgoingRequest,
        max_body_bytes: u64,
    ) -> BoxFuture<'a, Result<IncomingResponse, BackendError>> {
        Box::pin(async move {
            let started = Instant::now();
            let response = self.inner.send(request, max_body_bytes).await;
            let status = response.as_ref().ok().map(|answer| answer.status);
            global().request_ended(&self.tenant, status, started.elapsed());
            response
        })
    }

    /// The inner backend's own `send_all`, each answer counted as a request of its own; each
    /// request's latency is the whole list's (they travel together, and none took longer).
    fn send_all<'a>(
        &'a mut self,
        requests: &'a [OutgoingRequest],
    ) -> BoxFuture<'a, Vec<Result<IncomingResponse, BackendError>>> {
        Box::pin(async move {
            let started = Instant::now();
            let answers = self.inner.send_all(requests).await;
            let took = started.elapsed();
            for answer in &answers {
                let status = answer.as_ref().ok().map(|answer| answer.status);
                global().request_ended(&self.tenant, status, took);
            }
            answers
        })
    }

    fn sleep(&mut self, millis: u64) -> BoxFuture<'_, ()> {
        self.inner.sleep(millis)
    }

    fn now_millis(&mut self) -> u64 {
        self.inner.now_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scale::testing::{Fake, request};

    #[tokio::test]
    async fn a_list_of_requests_counts_each_answer_as_a_request() {
        // Answers a list with 200, 401, 503 and no answer, in turn.
        let fake = Fake::answering([Some(200), Some(401), Some(503), None].repeat(2)).lists_only();
        // A tenant of this test's own: the counts are the process's.
        let mut measured = Measured::new(fake, "send-all-counted");
        let answers = measured.send_all(&vec![request(); 8]).await;
        assert_eq!(answers.len(), 8);
        assert_eq!(
            measured.inner.lists_sent(),
            vec![8],
            "one list, not eight sends"
        );
        let text = global().text();
        for line in [
            "iam_http_requests_total{tenant=\"send-all-counted\",class=\"2xx\"} 2",
            "iam_http_requests_total{tenant=\"send-all-counted\",class=\"4xx\"} 2",
            "iam_http_requests_total{tenant=\"send-all-counted\",class=\"5xx\"} 2",
            "iam_http_requests_total{tenant=\"send-all-counted\",class=\"none\"} 2",
            "iam_http_request_duration_seconds_count{tenant=\"send-all-counted\"} 8",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }

    /// A server on a loopback port of its own, within `limits`.
    async fn server(limits: ServerLimits) -> SocketAddr {
        let metrics: &'static Metrics = Box::leak(Box::new(Metrics::new()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let address = listener.local_addr().expect("its address");
        tokio::spawn(accept(listener, metrics, limits));
        address
    }

    /// Send `request` and read the answer until the server closes (`None`: not closed within
    /// `patience`).
    async fn exchange(address: SocketAddr, request: &[u8], patience: Duration) -> Option<String> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        stream.write_all(request).await.expect("send");
        let mut answer = Vec::new();
        let read = tokio::time::timeout(patience, stream.read_to_end(&mut answer)).await;
        // A reset after a refused head is a close too.
        read.ok()
            .map(|_| String::from_utf8_lossy(&answer).into_owned())
    }

    #[tokio::test]
    async fn a_client_that_never_sends_is_let_go_and_holds_no_other_clients_back() {
        let limits = ServerLimits {
            head: Duration::from_millis(200),
            connection: Duration::from_secs(30),
            connections: 2,
        };
        let address = server(limits).await;
        // As many silent clients as the server serves at once, then one that asks.
        let silent: Vec<_> = (0..limits.connections)
            .map(|_| tokio::spawn(exchange(address, b"", Duration::from_secs(10))))
            .collect();
        let healthz = exchange(
            address,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(10),
        )
        .await;
        let healthz = healthz.expect("the asking client is answered and let go");
        assert!(healthz.starts_with("HTTP/1.1 200"), "{healthz}");
        for client in silent {
            let closed = client.await.expect("a silent client");
            assert!(closed.is_some(), "a silent client is let go");
        }
    }

    #[tokio::test]
    async fn a_request_head_over_8_kib_is_refused() {
        let address = server(SERVER_LIMITS).await;
        let mut request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
        request.extend(std::iter::repeat_n(b'a', 20 * 1024));
        request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        let answer = exchange(address, &request, Duration::from_secs(10))
            .await
            .expect("the connection is closed");
        assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    #[test]
    fn counts_show_in_the_exposition_by_their_labels() {
        let metrics = Metrics::new();
        metrics.job_ended("acme", "iam-get-user", Outcome::Ok);
        metrics.job_ended("acme", "iam-get-user", Outcome::Ok);
        metrics.job_ended("acme", "iam-get-user", Outcome::of_exit(2));
        metrics.request_ended("acme", Some(401), Duration::from_millis(20));
        metrics.request_ended("acme", None, Duration::from_secs(1));
        let text = metrics.text();
        for line in [
            "iam_jobs_total{tenant=\"acme\",command=\"iam-get-user\",outcome=\"ok\"} 2",
            "iam_jobs_total{tenant=\"acme\",command=\"iam-get-user\",outcome=\"refused\"} 1",
            "iam_http_requests_total{tenant=\"acme\",class=\"4xx\"} 1",
            "iam_http_requests_total{tenant=\"acme\",class=\"none\"} 1",
            "iam_http_request_duration_seconds_count{tenant=\"acme\"} 2",
            "iam_quarantined_tenants 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }
}
