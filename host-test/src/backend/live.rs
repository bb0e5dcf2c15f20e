//! Live: each request to the real server, with reqwest over rustls (ring, Mozilla's roots
//! bundled). The instance's `insecure` and `proxy` flags reach it through [`LiveOptions`];
//! it moves bytes under the timeout and the size cap it is given, and nothing else: no
//! redirects are followed (one could lead off the allowed origin), a status is the guest's
//! to judge, and an error names its cause and the origin, never a header or a proxy URL.

use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

use super::proxy::ProxyEnv;
use futures_util::StreamExt as _;

use super::{
    Backend, BackendError, BoxFuture, IncomingResponse, OutgoingRequest, system_now_millis, within,
};
use iam_gate::secret::Flags;

/// How the host names itself to servers (their access logs).
const USER_AGENT: &str = concat!("iam-host/", env!("CARGO_PKG_VERSION"));
/// Request headers the client derives from the body it really sends. A guest-supplied value
/// could contradict the bytes on the wire (request smuggling), so these are dropped.
const FRAMING_HEADERS: [&str; 6] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "upgrade",
];
/// Real waiting one command may do between retries. The guest stops at 30 s of waiting per
/// command (behaviour.md §3); the host bounds it too, so a misbehaving guest cannot hold a
/// slot for long.
const MAX_SLEEP_PER_COMMAND: Duration = Duration::from_secs(30);
/// Requests of one `send_all` in flight at once: a directory read asks for hundreds of pages,
/// and a server (and this host's sockets) should see a bounded number of them at a time.
pub const MAX_IN_FLIGHT: usize = 64;

/// How live requests leave this machine, from the instance's flags and the host's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOptions {
    /// Skip TLS certificate verification (the instance's `insecure`).
    pub insecure: bool,
    /// The system proxy settings when the instance's `proxy` is on; `None` goes direct.
    pub proxy: Option<ProxyEnv>,
    pub connect_timeout: Duration,
    /// The most requests of one `send_all` carried at once (from 1; [`MAX_IN_FLIGHT`] by
    /// default).
    pub max_in_flight: usize,
}

impl LiveOptions {
    /// The options of an instance: its `insecure` and `proxy` flags (the proxy settings read
    /// from the system environment only when `proxy` is on) and a connect timeout.
    pub fn for_instance(params: &Map<String, Value>, connect_timeout: Duration) -> LiveOptions {
        let flags = Flags::of(params);
        LiveOptions {
            insecure: flags.insecure,
            proxy: flags.proxy.then(ProxyEnv::from_system),
            connect_timeout,
            max_in_flight: MAX_IN_FLIGHT,
        }
    }
}

/// An HTTP client for these options: one serves any number of commands (and keeps their
/// connections), so callers that run many commands build it once and share it.
pub fn client(options: &LiveOptions) -> Result<reqwest::Client, BackendError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| BackendError::Tls(format!("cannot set up TLS: {e}")))?;
    let tls = if options.insecure {
        tls.dangerous()
            .with_custom_certificate_verifier(Arc::new(insecure::AnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        tls.with_root_certificates(roots).with_no_client_auth()
    };
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(options.connect_timeout)
        // Set always: `proxy: false` must mean direct, whatever the environment says.
        .no_proxy();
    if let Some(env) = options.proxy.clone() {
        // Never name the proxy URL in an error: it may carry a password.
        for configured in [&env.https_proxy, &env.http_proxy].into_iter().flatten() {
            if Url::parse(configured).is_err() {
                return Err(BackendError::Transport(
                    "the system proxy setting is not a valid proxy URL".into(),
                ));
            }
        }
        builder = builder.proxy(reqwest::Proxy::custom(move |url| {
            env.proxy_for(url).map(str::to_string)
        }));
    }
    builder
        .build()
        .map_err(|_| BackendError::Transport("cannot set up the HTTP client".into()))
}

/// Sends requests to real servers.
pub struct Live {
    options: LiveOptions,
    /// Built on first use, or given by the caller.
    client: Option<reqwest::Client>,
    slept: Duration,
}

impl Live {
    pub fn new(options: LiveOptions) -> Live {
        Live {
            options,
            client: None,
            slept: Duration::ZERO,
        }
    }

    /// A live backend on a client shared with other commands (built by [`client`] for the
    /// same options).
    pub fn with_client(options: LiveOptions, client: reqwest::Client) -> Live {
        Live {
            options,
            client: Some(client),
            slept: Duration::ZERO,
        }
    }

    /// The client, built on first use.
    fn shared_client(&mut self) -> Result<reqwest::Client, BackendError> {
        match &self.client {
            Some(client) => Ok(client.clone()),
            None => {
                let client = client(&self.options)?;
                self.client = Some(client.clone());
                Ok(client)
            }
        }
    }
}

/// One request over `client`, its body read up to `max_body_bytes`.
async fn exchange(
    client: &reqwest::Client,
    request: &OutgoingRequest,
    max_body_bytes: u64,
) -> Result<IncomingResponse, BackendError> {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).map_err(|_| {
        BackendError::Transport(format!("{:?} is not an HTTP method", request.method))
    })?;
    let mut builder = client
        .request(method, request.url.clone())
        .timeout(request.timeout);
    for (name, value) in &request.headers {
        if !FRAMING_HEADERS
            .iter()
            .any(|framing| framing.eq_ignore_ascii_case(name))
        {
            builder = builder.header(name.as_str(), value.as_str());
        }
    }
    if let Some(body) = &request.body {
        builder = builder.body(body.clone());
    }
    let mut response = builder
        .send()
        .await
        .map_err(|e| backend_error(&e, &request.url))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    // Stop reading past the cap: a hostile server cannot fill the host's memory.
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| backend_error(&e, &request.url))?
    {
        if (body.len() + chunk.len()) as u64 > max_body_bytes {
            return Err(BackendError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(IncomingResponse {
        status,
        headers,
        body,
    })
}

/// A client error as a backend error that names the cause and the origin. Only the innermost
/// causes (I/O, TLS, HTTP parse errors) are quoted: they never hold a header or a proxy URL.
fn backend_error(error: &reqwest::Error, url: &Url) -> BackendError {
    let origin = url.origin().ascii_serialization();
    if error.is_timeout() {
        return BackendError::Timeout;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return BackendError::Tls(format!("the TLS connection to {origin} failed: {tls}"));
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if let Some(tls) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return BackendError::Tls(format!("the TLS connection to {origin} failed: {tls}"));
            }
            match io.kind() {
                std::io::ErrorKind::TimedOut => return BackendError::Timeout,
                std::io::ErrorKind::ConnectionRefused => {
                    return BackendError::Transport(format!(
                        "{origin} refused the connection (is the server running?)"
                    ));
                }
                _ => {}
            }
        }
        if let Some(http) = cause.downcast_ref::<hyper::Error>()
            && http.is_parse()
        {
            return BackendError::Protocol(format!("{origin} answered with invalid HTTP: {http}"));
        }
        source = cause.source();
    }
    let innermost = std::iter::successors(Some(error as &dyn std::error::Error), |e| e.source())
        .last()
        .map(ToString::to_string)
        .unwrap_or_default();
    // hyper-rustls hands rustls's verdict over as an I/O error holding only its text.
    if url.scheme() == "https" && error.is_connect() && is_tls_failure(&innermost) {
        return BackendError::Tls(format!(
            "the TLS connection to {origin} failed: {innermost}"
        ));
    }
    if error.is_connect() {
        BackendError::Transport(format!("cannot connect to {origin}: {innermost}"))
    } else {
        BackendError::Transport(format!("the request to {origin} failed: {innermost}"))
    }
}

/// rustls's words for a refused certificate or a failed handshake (`rustls::Error`'s Display).
const TLS_FAILURE_WORDS: [&str; 7] = [
    "certificate",
    "corrupt message",
    "alert",
    "handshake",
    "peer is incompatible",
    "peer misbehaved",
    "unexpected message",
];

fn is_tls_failure(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    TLS_FAILURE_WORDS
        .iter()
        .any(|words| message.contains(words))
}

impl Backend for Live {
    fn send<'a>(
        &'a mut self,
        request: &'a OutgoingRequest,
        max_body_bytes: u64,
    ) -> BoxFuture<'a, Result<IncomingResponse, BackendError>> {
        let client = self.shared_client();
        Box::pin(async move { exchange(&client?, request, max_body_bytes).await })
    }

    /// At most `max_in_flight` at once over the one client (its connections pooled), the
    /// answers in the order of `requests`.
    fn send_all<'a>(
        &'a mut self,
        requests: &'a [OutgoingRequest],
    ) -> BoxFuture<'a, Vec<Result<IncomingResponse, BackendError>>> {
        let client = self.shared_client();
        let at_once = self.options.max_in_flight.max(1);
        Box::pin(async move {
            let client = match client {
                Ok(client) => client,
                Err(error) => return requests.iter().map(|_| Err(error.clone())).collect(),
            };
            // Made up front: a lazy `map` in the stream would not be `Send` for every lifetime.
            let sending: Vec<_> = requests
                .iter()
                .map(|request| {
                    within(
                        request.timeout,
                        exchange(&client, request, request.max_response_bytes),
                    )
                })
                .collect();
            futures_util::stream::iter(sending)
                .buffered(at_once)
                .collect()
                .await
        })
    }

    fn sleep(&mut self, millis: u64) -> BoxFuture<'_, ()> {
        let wait =
            Duration::from_millis(millis).min(MAX_SLEEP_PER_COMMAND.saturating_sub(self.slept));
        self.slept += wait;
        Box::pin(tokio::time::sleep(wait))
    }

    fn now_millis(&mut self) -> u64 {
        system_now_millis()
    }
}

/// `insecure: true`: a verifier that accepts any certificate, checking only that the
/// handshake's signatures are well-formed for the algorithms offered.
mod insecure {
    use rustls::DigitallySignedStruct;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use std::sync::Arc;

    #[derive(Debug)]
    pub struct AnyCertificate(pub Arc<CryptoProvider>);

    impl ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;
    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    fn request(method: &str, url_text: &str, body: Option<&str>) -> OutgoingRequest {
        OutgoingRequest {
            method: method.into(),
            url: url(url_text),
            headers: vec![
                ("Accept".into(), "application/json".into()),
                ("Authorization".into(), "Bearer s3cr3t".into()),
            ],
            body: body.map(str::to_string),
            timeout: Duration::from_secs(5),
            max_response_bytes: 1 << 20,
            verify_tls: true,
            use_proxy: false,
        }
    }

    fn options() -> LiveOptions {
        LiveOptions {
            insecure: false,
            proxy: None,
            connect_timeout: Duration::from_secs(2),
            max_in_flight: MAX_IN_FLIGHT,
        }
    }

    /// A one-shot server on 127.0.0.1: it reads one request head, hands it to the test and
    /// writes `answer` (or nothing, when `None`, holding the connection open until dropped).
    fn one_shot_server(answer: Option<Vec<u8>>) -> (String, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (heads, received) = mpsc::channel();
        std::thread::spawn(move || {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream);
            let mut head = String::new();
            while reader.read_line(&mut head).is_ok_and(|n| n > 2) {}
            let _ignored = heads.send(head);
            let mut stream = reader.into_inner();
            match answer {
                Some(bytes) => {
                    let _ignored = stream.write_all(&bytes);
                }
                None => {
                    let _ignored = stream.read(&mut [0; 1]);
                }
            }
        });
        (format!("http://{address}"), received)
    }

    #[test]
    fn flags_are_booleans_or_true_false_strings_and_anything_else_is_off() {
        let connect = Duration::from_secs(10);
        let params = json!({"insecure": "TRUE", "proxy": false});
        let options = LiveOptions::for_instance(params.as_object().unwrap(), connect);
        assert!(options.insecure && options.proxy.is_none());
        assert_eq!(options.connect_timeout, connect);
        let params = json!({"insecure": "yes", "proxy": true});
        let options = LiveOptions::for_instance(params.as_object().unwrap(), connect);
        assert!(!options.insecure && options.proxy.is_some());
        assert_eq!(LiveOptions::for_instance(&Map::new(), connect).proxy, None);
    }

    #[tokio::test]
    async fn with_proxy_on_a_remote_request_goes_to_the_proxy_and_a_loopback_one_direct() {
        let (proxy, proxy_heads) = one_shot_server(Some(
            b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n".to_vec(),
        ));
        let (server, server_heads) = one_shot_server(Some(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_vec(),
        ));
        let target = format!("{server}/scim/Users");
        let proxied = LiveOptions {
            proxy: Some(ProxyEnv {
                http_proxy: Some(proxy),
                ..ProxyEnv::default()
            }),
            ..options()
        };
        // A remote target goes to the proxy (whatever it answers), and is never resolved here.
        let remote = "http://scim.proxied.example/scim/Users";
        let _answer = Live::new(proxied.clone())
            .send(&request("GET", remote, None), 1024)
            .await;
        let head = proxy_heads.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(
            head.starts_with("GET http://scim.proxied.example/scim/Users HTTP/1.1"),
            "the proxy saw: {head}"
        );
        // A loopback target goes direct even with the proxy on: the token stays on this machine.
        let response = Live::new(proxied)
            .send(&request("GET", &target, None), 1024)
            .await
            .unwrap();
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"{}"[..])
        );
        assert!(
            server_heads
                .recv_timeout(Duration::from_secs(5))
                .unwrap()
                .starts_with("GET /scim/Users HTTP/1.1")
        );
    }

    /// A server on 127.0.0.1 that answers no request before it holds `connections` at once:
    /// requests sent one after another never get an answer. It then answers each with the
    /// path it asked for as the body.
    fn server_answering_only_together(connections: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while held.len() < connections {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let mut reader = BufReader::new(stream);
                let mut head = String::new();
                while reader.read_line(&mut head).is_ok_and(|n| n > 2) {}
                let path = head.split(' ').nth(1).unwrap_or_default().to_string();
                held.push((reader.into_inner(), path));
            }
            for (mut stream, path) in held {
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{path}",
                    path.len()
                );
                let _ignored = stream.write_all(answer.as_bytes());
            }
        });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn send_all_carries_the_requests_at_once_and_answers_in_their_order() {
        let server = server_answering_only_together(8);
        let requests: Vec<OutgoingRequest> = (0..8)
            .map(|n| request("GET", &format!("{server}/page/{n}"), None))
            .collect();
        let answers = Live::new(options()).send_all(&requests).await;
        let bodies: Vec<String> = answers
            .into_iter()
            .map(|answer| String::from_utf8(answer.unwrap().body).unwrap())
            .collect();
        let expected: Vec<String> = (0..8).map(|n| format!("/page/{n}")).collect();
        assert_eq!(bodies, expected);
    }

    #[tokio::test]
    async fn send_all_carries_no_more_than_max_in_flight_at_once() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        // Each request is held 100 ms; the server keeps the most it held at once.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (open, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (open_here, most_here) = (open.clone(), most.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().take(6) {
                let Ok(stream) = stream else { return };
                let (open, most) = (open_here.clone(), most_here.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream);
                    let mut head = String::new();
                    while reader.read_line(&mut head).is_ok_and(|n| n > 2) {}
                    let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(100));
                    open.fetch_sub(1, Ordering::SeqCst);
                    let answer =
                        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                    let _ignored = reader.into_inner().write_all(answer.as_bytes());
                });
            }
        });
        let requests: Vec<OutgoingRequest> = (0..6)
            .map(|n| request("GET", &format!("http://{address}/page/{n}"), None))
            .collect();
        let two_at_once = LiveOptions {
            max_in_flight: 2,
            ..options()
        };
        let answers = Live::new(two_at_once).send_all(&requests).await;
        assert!(answers.iter().all(|answer| answer.is_ok()), "{answers:?}");
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn send_all_holds_each_request_to_its_own_timeout() {
        // The server never answers: the request given 200 ms times out then, not at the
        // 5 s the test's other requests are given.
        let (server, _heads) = one_shot_server(None);
        let mut quick = request("GET", &format!("{server}/quick"), None);
        quick.timeout = Duration::from_millis(200);
        let started = std::time::Instant::now();
        let answers = Live::new(options()).send_all(&[quick]).await;
        assert_eq!(answers, vec![Err(BackendError::Timeout)]);
        assert!(started.elapsed() < Duration::from_secs(4));
    }

    #[tokio::test]
    async fn the_request_goes_out_as_given_with_the_body_and_without_guest_framing() {
        let (server, heads) = one_shot_server(Some(
            b"HTTP/1.1 201 Created\r\nX-Seen: 1\r\ncontent-length: 4\r\n\r\ndone".to_vec(),
        ));
        let mut outgoing = request("POST", &format!("{server}/Users?x=1"), Some(r#"{"a":1}"#));
        outgoing
            .headers
            .push(("Content-Length".into(), "999".into()));
        let response = Live::new(options()).send(&outgoing, 1024).await.unwrap();
        assert_eq!(response.status, 201);
        assert!(response.headers.contains(&("x-seen".into(), "1".into())));
        let head = heads
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .to_ascii_lowercase();
        assert!(head.starts_with("post /users?x=1 http/1.1\r\n"), "{head}");
        assert!(
            head.contains("authorization: bearer s3cr3t\r\n")
                && head.contains("content-length: 7\r\n"),
            "{head}"
        );
        // (Not "999" alone: the server's port, in the host header, may hold it.)
        assert!(!head.contains("content-length: 999"), "{head}");
    }

    #[tokio::test]
    async fn a_body_past_the_cap_is_too_large() {
        let mut answer = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n".to_vec();
        answer.extend([b'x'; 100]);
        let (server, _heads) = one_shot_server(Some(answer));
        let result = Live::new(options())
            .send(&request("GET", &format!("{server}/big"), None), 99)
            .await;
        assert_eq!(result, Err(BackendError::TooLarge));
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_a_timeout() {
        let (server, _heads) = one_shot_server(None);
        let mut slow = request("GET", &format!("{server}/slow"), None);
        slow.timeout = Duration::from_millis(300);
        assert_eq!(
            Live::new(options()).send(&slow, 1024).await,
            Err(BackendError::Timeout)
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_a_transport_error_naming_the_origin() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let Err(BackendError::Transport(why)) = Live::new(options())
            .send(
                &request("GET", &format!("http://127.0.0.1:{port}/x"), None),
                1024,
            )
            .await
        else {
            panic!("expected a transport error")
        };
        assert!(why.contains(&format!("http://127.0.0.1:{port}")), "{why}");
        assert!(!why.contains("s3cr3t"));
    }

    #[tokio::test]
    async fn tls_to_a_plain_http_server_is_a_tls_error_not_a_crash() {
        let (server, _heads) = one_shot_server(Some(
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec(),
        ));
        let result = Live::new(options())
            .send(
                &request("GET", &server.replace("http://", "https://"), None),
                1024,
            )
            .await;
        assert!(matches!(result, Err(BackendError::Tls(_))), "{result:?}");
    }

    #[tokio::test]
    async fn a_redirect_is_handed_to_the_guest_not_followed() {
        let (server, _heads) = one_shot_server(Some(b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/elsewhere\r\ncontent-length: 0\r\n\r\n".to_vec()));
        let response = Live::new(options())
            .send(&request("GET", &format!("{server}/x"), None), 1024)
            .await
            .unwrap();
        assert_eq!(response.status, 302);
    }

    #[tokio::test]
    async fn sleeping_stops_at_the_command_budget() {
        let mut live = Live::new(options());
        live.slept = MAX_SLEEP_PER_COMMAND - Duration::from_millis(5);
        let started = std::time::Instant::now();
        live.sleep(60_000).await;
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(live.slept, MAX_SLEEP_PER_COMMAND);
    }
    #[tokio::test]
    async fn an_answer_that_is_not_http_is_a_protocol_error() {
        // Garbage from a hostile server cannot be cured by a retry: `protocol`, never
        // `transport` (behaviour.md §3).
        for garbage in [
            &b"HELLO THERE\r\n\r\n"[..],
            b"HTTP/1.1 abc Nonsense\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nbad header line\r\n\r\n",
            b"\x00\xff\x16\x03garbage\r\n\r\n",
        ] {
            let (server, _heads) = one_shot_server(Some(garbage.to_vec()));
            let result = Live::new(options())
                .send(&request("GET", &format!("{server}/x"), None), 1024)
                .await;
            let Err(BackendError::Protocol(why)) = &result else {
                panic!("{garbage:?}: expected a protocol error, got {result:?}")
            };
            assert!(why.contains("answered with invalid HTTP"), "{why}");
            assert!(!why.contains("s3cr3t"), "{why}");
        }
    }

    /// A TLS server on 127.0.0.1 with the repository's self-signed test certificate
    /// (tests/scim/tls), answering one request with `200 {}`.
    fn self_signed_server() -> String {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let tls_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/scim/tls");
        let certs = CertificateDer::pem_file_iter(tls_dir.join("cert.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(tls_dir.join("key.pem")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            // Two connections at most: the refused one and the insecure one.
            for stream in listener.incoming().take(2).flatten() {
                let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(connection, stream);
                let mut reader = BufReader::new(&mut tls);
                let mut head = String::new();
                while reader.read_line(&mut head).is_ok_and(|n| n > 2) {}
                if !head.is_empty() {
                    tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                        .ok();
                    tls.flush().ok();
                }
            }
        });
        format!("https://{address}")
    }

    #[tokio::test]
    async fn a_self_signed_certificate_is_a_tls_error_unless_insecure() {
        let server = self_signed_server();
        let result = Live::new(options())
            .send(&request("GET", &format!("{server}/x"), None), 1024)
            .await;
        let Err(BackendError::Tls(why)) = &result else {
            panic!("expected a TLS error, got {result:?}")
        };
        assert!(why.contains("certificate"), "{why}");
        assert!(why.contains(&server), "{why}");
        let insecure = LiveOptions {
            insecure: true,
            ..options()
        };
        let response = Live::new(insecure)
            .send(&request("GET", &format!("{server}/x"), None), 1024)
            .await
            .unwrap();
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"{}"[..])
        );
    }
}
