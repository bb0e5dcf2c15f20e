//! The live backends: `Live` carries each request to the real server with ureq over rustls,
//! and `Record` does the same while writing every exchange to a cassette with the token
//! redacted (VCR's record mode). They know nothing of the guest or the policy: by the time a
//! request gets here the host has checked its origin and attached the credential
//! (`imports.rs`). They only move bytes, under the timeouts, the proxy choice and the size
//! cap they are given; the instance's `insecure` and `proxy` flags reach them through
//! [`LiveOptions`].

use serde_json::{Map, Value};
use std::fmt;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::time::Duration;
use ureq::http;
use url::Url;

use crate::backend::{Backend, BackendError, IncomingResponse, OutgoingRequest, system_now_millis};
use crate::cassette::{Cassette, Interaction, RecordedRequest, RecordedResponse, redact_headers};
use crate::limits::Limits;

/// How the host names itself to servers (their access logs), in place of ureq's default.
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
/// Response headers a cassette leaves out: framing describes the bytes as received, while a
/// replay sends the body re-serialised; a cookie is a credential.
const UNRECORDED_RESPONSE_HEADERS: [&str; 5] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "set-cookie",
];
/// Real waiting one command may do between retries. The guest stops at 30 s of waiting per
/// command (behaviour.md §3); the host bounds it too, because epoch deadlines do not count
/// time spent inside host calls, and a misbehaving guest must not hold a thread.
const MAX_SLEEP_PER_COMMAND: Duration = Duration::from_secs(30);
/// What a secret found in a recorded exchange is replaced with.
const REDACTED: &str = "<redacted>";

/// How live requests leave this machine, from the instance's flags and the host's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOptions {
    /// Skip TLS certificate verification (the instance's `insecure`).
    pub insecure: bool,
    /// The system proxy settings when the instance's `proxy` is on; `None` goes direct.
    pub proxy: Option<ProxyEnv>,
    pub connect_timeout: Duration,
}

impl LiveOptions {
    /// The options of an instance: its `insecure` and `proxy` flags (read from the system
    /// environment only when `proxy` is on) and the connect timeout of `limits`.
    pub fn for_instance(params: &Map<String, Value>, limits: &Limits) -> LiveOptions {
        LiveOptions {
            insecure: flag(params, "insecure"),
            proxy: flag(params, "proxy").then(ProxyEnv::from_system),
            connect_timeout: Duration::from_millis(limits.connect_timeout_millis),
        }
    }
}

/// An instance flag: `true` or `"true"` (any case) is on (behaviour.md §1). Anything else is
/// off, the safe side: the guest reports an invalid value as a configuration error before it
/// sends any request, so the host need not report it again.
fn flag(params: &Map<String, Value>, key: &str) -> bool {
    match params.get(key) {
        Some(Value::Bool(on)) => *on,
        Some(Value::String(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The system proxy settings: `HTTPS_PROXY` for https, `HTTP_PROXY` for http, and the hosts
/// in `NO_PROXY` that go direct (upper- or lower-case names, upper-case first, as curl reads
/// them). Its Debug hides the proxy URLs, which may carry a password.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    pub https_proxy: Option<String>,
    pub http_proxy: Option<String>,
    pub no_proxy: Option<String>,
}

impl fmt::Debug for ProxyEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyEnv")
            .field("https_proxy", &self.https_proxy.as_ref().map(|_| "<set>"))
            .field("http_proxy", &self.http_proxy.as_ref().map(|_| "<set>"))
            .field("no_proxy", &self.no_proxy)
            .finish()
    }
}

impl ProxyEnv {
    /// The settings of this process's environment.
    pub fn from_system() -> ProxyEnv {
        let read = |upper: &str, lower: &str| {
            [upper, lower].into_iter().find_map(|name| {
                std::env::var(name)
                    .ok()
                    .filter(|value| !value.trim().is_empty())
            })
        };
        ProxyEnv {
            https_proxy: read("HTTPS_PROXY", "https_proxy"),
            http_proxy: read("HTTP_PROXY", "http_proxy"),
            no_proxy: read("NO_PROXY", "no_proxy"),
        }
    }

    /// The proxy a request to `url` goes through, if any.
    pub fn proxy_for(&self, url: &Url) -> Option<&str> {
        let proxy = match url.scheme() {
            "https" => self.https_proxy.as_deref(),
            "http" => self.http_proxy.as_deref(),
            _ => None,
        }?;
        (!self.bypasses(url)).then_some(proxy)
    }

    /// Whether `NO_PROXY` sends `url` direct. Entries are separated by commas: `*` (every
    /// host), a host name (itself and its subdomains; a leading `.` or `*.` is optional), an
    /// IP address, each optionally with `:port`. CIDR ranges are not supported.
    fn bypasses(&self, url: &Url) -> bool {
        let (Some(list), Some(host)) = (&self.no_proxy, url.host_str()) else {
            return false;
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = url.port_or_known_default();
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .any(|entry| {
                if entry == "*" {
                    return true;
                }
                let (name, entry_port) = split_port(entry);
                let name = name
                    .trim_start_matches("*.")
                    .trim_start_matches('.')
                    .to_ascii_lowercase();
                let port_matches = entry_port.is_none_or(|p| Some(p) == port);
                port_matches && (host == name || host.ends_with(&format!(".{name}")))
            })
    }
}

/// `host:port` into its parts; a bare IPv6 address (several colons) has no port unless it is
/// bracketed.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        let (address, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (
            address,
            after.strip_prefix(':').and_then(|p| p.parse().ok()),
        );
    }
    match entry.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(port) => (name, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

/// Sends requests to real servers.
pub struct Live {
    options: LiveOptions,
    /// The agent and the proxy it was built for, made on first use. A command reaches one
    /// origin, so in practice one agent (and its connection pool) serves the whole command.
    agent: Option<(Option<String>, ureq::Agent)>,
    slept: Duration,
}

impl Live {
    pub fn new(options: LiveOptions) -> Live {
        Live {
            options,
            agent: None,
            slept: Duration::ZERO,
        }
    }

    fn agent_for(&mut self, url: &Url) -> Result<ureq::Agent, BackendError> {
        let proxy = self
            .options
            .proxy
            .as_ref()
            .and_then(|env| env.proxy_for(url))
            .map(str::to_string);
        match &self.agent {
            Some((built_for, agent)) if *built_for == proxy => Ok(agent.clone()),
            _ => {
                let agent = build_agent(&self.options, proxy.as_deref())?;
                self.agent = Some((proxy, agent.clone()));
                Ok(agent)
            }
        }
    }
}

fn build_agent(options: &LiveOptions, proxy: Option<&str>) -> Result<ureq::Agent, BackendError> {
    // Never name the proxy URL in an error: it may carry a password.
    let proxy = proxy
        .map(|uri| {
            ureq::Proxy::new(uri).map_err(|_| {
                BackendError::Transport("the system proxy setting is not a valid proxy URL".into())
            })
        })
        .transpose()?;
    let tls = ureq::tls::TlsConfig::builder()
        .disable_verification(options.insecure)
        .build();
    let config = ureq::Agent::config_builder()
        // Set always: ureq's default reads the environment's proxy, and `proxy: false` must
        // mean direct.
        .proxy(proxy)
        .tls_config(tls)
        // A status is the guest's to judge (behaviour.md §3), not a transport error.
        .http_status_as_error(false)
        // A redirect may lead off the allowed origin, past the policy; the guest sees the 3xx.
        .max_redirects(0)
        .timeout_connect(Some(options.connect_timeout))
        .user_agent(USER_AGENT)
        .build();
    Ok(ureq::Agent::new_with_config(config))
}

/// Send one `http::Request` (with or without a body) under the request's overall timeout.
fn run<S: ureq::AsSendBody>(
    agent: &ureq::Agent,
    request: http::Request<S>,
    timeout: Duration,
) -> Result<http::Response<ureq::Body>, ureq::Error> {
    agent.run(
        agent
            .configure_request(request)
            .timeout_global(Some(timeout))
            .build(),
    )
}

/// A client error as a backend error that names the cause and the origin (never a header,
/// so never the token).
fn backend_error(error: ureq::Error, url: &Url) -> BackendError {
    let origin = url.origin().ascii_serialization();
    match error {
        ureq::Error::Timeout(_) => BackendError::Timeout,
        ureq::Error::Io(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            BackendError::Timeout
        }
        ureq::Error::BodyExceedsLimit(_) => BackendError::TooLarge,
        ureq::Error::HostNotFound => {
            BackendError::Transport(format!("cannot resolve the host of {origin}"))
        }
        // rustls's verdict arrives as an I/O error; say plainly that the certificate was refused.
        ureq::Error::Io(e) if e.to_string().contains("certificate") => {
            BackendError::Transport(format!("the TLS certificate of {origin} was refused: {e}"))
        }
        ureq::Error::Io(e) if e.kind() == ErrorKind::ConnectionRefused => BackendError::Transport(
            format!("{origin} refused the connection (is the server running?)"),
        ),
        other => BackendError::Transport(format!("request to {origin} failed: {other}")),
    }
}

impl Backend for Live {
    fn send(
        &mut self,
        request: &OutgoingRequest,
        max_body_bytes: u64,
    ) -> Result<IncomingResponse, BackendError> {
        let agent = self.agent_for(&request.url)?;
        let mut builder = http::Request::builder()
            .method(request.method.as_str())
            .uri(request.url.as_str());
        for (name, value) in &request.headers {
            if !FRAMING_HEADERS
                .iter()
                .any(|framing| framing.eq_ignore_ascii_case(name))
            {
                builder = builder.header(name.as_str(), value.as_str());
            }
        }
        // http::Error names the kind of problem, never the header's value.
        let invalid =
            |e: http::Error| BackendError::Transport(format!("the request cannot be sent: {e}"));
        let sent = match &request.body {
            Some(body) => run(
                &agent,
                builder.body(body.clone()).map_err(invalid)?,
                request.timeout,
            ),
            None => run(&agent, builder.body(()).map_err(invalid)?, request.timeout),
        };
        let mut response = sent.map_err(|e| backend_error(e, &request.url))?;
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
        // Stop reading one byte past the cap: a hostile server cannot fill the host's memory.
        let body = response
            .body_mut()
            .with_config()
            .limit(max_body_bytes)
            .read_to_vec()
            .map_err(|e| backend_error(e, &request.url))?;
        Ok(IncomingResponse {
            status,
            headers,
            body,
        })
    }

    fn sleep(&mut self, millis: u64) {
        let wait =
            Duration::from_millis(millis).min(MAX_SLEEP_PER_COMMAND.saturating_sub(self.slept));
        self.slept += wait;
        std::thread::sleep(wait);
    }

    fn now_millis(&mut self) -> u64 {
        system_now_millis()
    }

    fn finish(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Sends requests live and writes every exchange to a cassette when the command ends.
///
/// A transport failure (refused connection, timeout) has no form in the cassette format, so
/// it is not recorded: a replay of such a run stops where the failure was.
pub struct Record {
    live: Live,
    path: PathBuf,
    interactions: Vec<Interaction>,
    /// Bearer tokens seen in requests: scrubbed from everything recorded, in case a server
    /// echoes one back in a body or a header.
    secrets: Vec<String>,
}

impl Record {
    /// Record through `live` into the cassette at `path` (written by `finish`).
    pub fn new(live: Live, path: PathBuf) -> Record {
        Record {
            live,
            path,
            interactions: Vec::new(),
            secrets: Vec::new(),
        }
    }
}

impl Backend for Record {
    fn send(
        &mut self,
        request: &OutgoingRequest,
        max_body_bytes: u64,
    ) -> Result<IncomingResponse, BackendError> {
        for (name, value) in &request.headers {
            if name.eq_ignore_ascii_case("authorization")
                && let Some((_, token)) = value.split_once(' ')
                && !token.is_empty()
                && !self.secrets.iter().any(|known| known == token)
            {
                self.secrets.push(token.to_string());
            }
        }
        let response = self.live.send(request, max_body_bytes)?;
        self.interactions
            .push(recorded_interaction(request, &response));
        Ok(response)
    }

    fn sleep(&mut self, millis: u64) {
        self.live.sleep(millis);
    }

    fn now_millis(&mut self) -> u64 {
        self.live.now_millis()
    }

    fn finish(&mut self) -> Result<(), String> {
        let cassette = Cassette {
            interactions: std::mem::take(&mut self.interactions),
        };
        let cassette = scrub_cassette(&cassette, &self.secrets)
            .map_err(|e| format!("cannot write the recording {}: {e}", self.path.display()))?;
        cassette.save(&self.path).map_err(|e| format!("{e:#}"))
    }
}

/// One exchange in cassette form: the request's headers with the token redacted and its
/// body as JSON (`null` when none, a string when it is not JSON); the response's body as
/// JSON when it parses (key order kept), else its raw text, absent when empty.
pub fn recorded_interaction(request: &OutgoingRequest, response: &IncomingResponse) -> Interaction {
    let request_body = match request.body.as_deref() {
        None => Value::Null,
        Some(text) if text.trim().is_empty() => Value::Null,
        // The replay matcher parses the actual body the same way, so any JSON value matches.
        Some(text) => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
        }
    };
    let response_headers: Map<String, Value> = response
        .headers
        .iter()
        .filter(|(name, _)| {
            !UNRECORDED_RESPONSE_HEADERS
                .iter()
                .any(|skip| skip.eq_ignore_ascii_case(name))
        })
        .fold(Map::new(), |mut headers, (name, value)| {
            // A repeated header joins as one comma-separated value (RFC 9110 §5.3).
            let joined = match headers.get(name) {
                Some(Value::String(earlier)) => format!("{earlier}, {value}"),
                _ => value.clone(),
            };
            headers.insert(name.clone(), Value::String(joined));
            headers
        });
    Interaction {
        request: RecordedRequest {
            method: request.method.clone(),
            url: request.url.to_string(),
            headers: Some(redact_headers(&request.headers)),
            body: Some(request_body),
        },
        response: RecordedResponse {
            status: response.status,
            headers: (!response_headers.is_empty()).then_some(response_headers),
            body: response_body(&response.body),
        },
    }
}

/// A response body as the cassette stores it. A JSON string would be replayed as its raw
/// text without the quotes, so a body that is a JSON string stays raw text too.
fn response_body(bytes: &[u8]) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(bytes);
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::String(_)) | Err(_) => Some(Value::String(text.into_owned())),
        Ok(value) => Some(value),
    }
}

/// The cassette with every occurrence of a secret, in any key or string, replaced.
fn scrub_cassette(cassette: &Cassette, secrets: &[String]) -> Result<Cassette, serde_json::Error> {
    let mut value = serde_json::to_value(cassette)?;
    scrub(&mut value, secrets);
    serde_json::from_value(value)
}

fn scrub(value: &mut Value, secrets: &[String]) {
    let clean = |text: &str| {
        secrets.iter().fold(text.to_string(), |text, secret| {
            text.replace(secret.as_str(), REDACTED)
        })
    };
    match value {
        Value::String(text) if secrets.iter().any(|secret| text.contains(secret.as_str())) => {
            *text = clean(text)
        }
        Value::Array(items) => items.iter_mut().for_each(|item| scrub(item, secrets)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                scrub(&mut item, secrets);
                map.insert(clean(&key), item);
            }
        }
        _ => {}
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
        }
    }

    fn options() -> LiveOptions {
        LiveOptions {
            insecure: false,
            proxy: None,
            connect_timeout: Duration::from_secs(2),
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
        let limits = Limits::default();
        let params = json!({"insecure": "TRUE", "proxy": false});
        let options = LiveOptions::for_instance(params.as_object().unwrap(), &limits);
        assert!(options.insecure && options.proxy.is_none());
        assert_eq!(
            options.connect_timeout,
            Duration::from_millis(limits.connect_timeout_millis)
        );
        let params = json!({"insecure": "yes", "proxy": true});
        let options = LiveOptions::for_instance(params.as_object().unwrap(), &limits);
        assert!(!options.insecure && options.proxy.is_some());
        assert_eq!(LiveOptions::for_instance(&Map::new(), &limits).proxy, None);
    }

    #[test]
    fn the_proxy_follows_the_scheme_and_no_proxy_sends_direct() {
        let env = ProxyEnv {
            https_proxy: Some("http://secure-proxy:3128".into()),
            http_proxy: Some("http://plain-proxy:3128".into()),
            no_proxy: Some(
                "localhost, .internal.example,*.corp.example, 10.1.2.3, api.example:8443, [::1]:9"
                    .into(),
            ),
        };
        assert_eq!(
            env.proxy_for(&url("https://api.atlassian.com/x")),
            Some("http://secure-proxy:3128")
        );
        assert_eq!(
            env.proxy_for(&url("http://127.0.0.1:8080/x")),
            Some("http://plain-proxy:3128")
        );
        for direct in [
            "http://localhost:5000/",
            "https://a.internal.example/",
            "https://internal.example/",
            "https://x.corp.example/",
            "http://10.1.2.3/",
            "https://api.example:8443/",
            "http://[::1]:9/",
        ] {
            assert_eq!(env.proxy_for(&url(direct)), None, "{direct}");
        }
        for proxied in [
            "https://api.example/",
            "https://notinternal.example/",
            "http://10.1.2.33/",
            "http://[::1]:10/",
        ] {
            assert!(env.proxy_for(&url(proxied)).is_some(), "{proxied}");
        }
        let everything = ProxyEnv {
            no_proxy: Some("*".into()),
            ..env.clone()
        };
        assert_eq!(
            everything.proxy_for(&url("https://api.atlassian.com/")),
            None
        );
        let https_only = ProxyEnv {
            http_proxy: None,
            ..env
        };
        assert_eq!(
            https_only.proxy_for(&url("http://api.atlassian.com/")),
            None
        );
    }

    #[test]
    fn proxy_urls_never_print() {
        let env = ProxyEnv {
            https_proxy: Some("http://user:pa55word@proxy:3128".into()),
            ..ProxyEnv::default()
        };
        assert!(!format!("{env:?}").contains("pa55word"));
    }

    #[test]
    fn with_proxy_on_the_request_goes_to_the_proxy_and_with_it_off_direct() {
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
        // Whatever the proxy answers, the request went to it and not to the server.
        let _answer = Live::new(proxied).send(&request("GET", &target, None), 1024);
        let head = proxy_heads.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(
            head.contains(server.trim_start_matches("http://")),
            "the proxy saw: {head}"
        );
        assert!(server_heads.try_recv().is_err());

        let response = Live::new(options())
            .send(&request("GET", &target, None), 1024)
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

    #[test]
    fn the_request_goes_out_as_given_with_the_body_and_without_guest_framing() {
        let (server, heads) = one_shot_server(Some(
            b"HTTP/1.1 201 Created\r\nX-Seen: 1\r\ncontent-length: 4\r\n\r\ndone".to_vec(),
        ));
        let mut outgoing = request("POST", &format!("{server}/Users?x=1"), Some(r#"{"a":1}"#));
        outgoing
            .headers
            .push(("Content-Length".into(), "999".into()));
        let response = Live::new(options()).send(&outgoing, 1024).unwrap();
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
        assert!(!head.contains("999"), "{head}");
    }

    #[test]
    fn a_body_past_the_cap_is_too_large() {
        let mut answer = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n".to_vec();
        answer.extend([b'x'; 100]);
        let (server, _heads) = one_shot_server(Some(answer));
        let result = Live::new(options()).send(&request("GET", &format!("{server}/big"), None), 99);
        assert_eq!(result, Err(BackendError::TooLarge));
    }

    #[test]
    fn a_server_that_never_answers_is_a_timeout() {
        let (server, _heads) = one_shot_server(None);
        let mut slow = request("GET", &format!("{server}/slow"), None);
        slow.timeout = Duration::from_millis(300);
        assert_eq!(
            Live::new(options()).send(&slow, 1024),
            Err(BackendError::Timeout)
        );
    }

    #[test]
    fn a_closed_port_is_a_transport_error_naming_the_origin() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let Err(BackendError::Transport(why)) = Live::new(options()).send(
            &request("GET", &format!("http://127.0.0.1:{port}/x"), None),
            1024,
        ) else {
            panic!("expected a transport error")
        };
        assert!(why.contains(&format!("http://127.0.0.1:{port}")), "{why}");
        assert!(!why.contains("s3cr3t"));
    }

    #[test]
    fn tls_to_a_plain_http_server_is_a_transport_error_not_a_crash() {
        let (server, _heads) = one_shot_server(Some(
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_vec(),
        ));
        let result = Live::new(options()).send(
            &request("GET", &server.replace("http://", "https://"), None),
            1024,
        );
        assert!(
            matches!(result, Err(BackendError::Transport(_))),
            "{result:?}"
        );
    }

    #[test]
    fn a_redirect_is_handed_to_the_guest_not_followed() {
        let (server, _heads) = one_shot_server(Some(b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/elsewhere\r\ncontent-length: 0\r\n\r\n".to_vec()));
        let response = Live::new(options())
            .send(&request("GET", &format!("{server}/x"), None), 1024)
            .unwrap();
        assert_eq!(response.status, 302);
    }

    #[test]
    fn a_recorded_exchange_redacts_the_token_and_keeps_json_in_order() {
        let response = IncomingResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("content-length".into(), "20".into()),
                ("set-cookie".into(), "s=1".into()),
                ("vary".into(), "a".into()),
                ("vary".into(), "b".into()),
            ],
            body: br#"{"z": 1, "a": [true]}"#.to_vec(),
        };
        let interaction = recorded_interaction(
            &request(
                "PUT",
                "http://127.0.0.1:9/Users/1",
                Some(r#"{"b":2,"a":1}"#),
            ),
            &response,
        );
        let text = serde_json::to_string(&interaction).unwrap();
        assert_eq!(
            text,
            r#"{"request":{"method":"PUT","url":"http://127.0.0.1:9/Users/1","headers":{"accept":"application/json","authorization":"Bearer <redacted>"},"body":{"b":2,"a":1}},"response":{"status":200,"headers":{"content-type":"application/json","vary":"a, b"},"body":{"z":1,"a":[true]}}}"#
        );
    }

    #[test]
    fn recorded_bodies_are_null_raw_text_or_absent() {
        let empty = IncomingResponse {
            status: 204,
            headers: vec![],
            body: vec![],
        };
        let interaction = recorded_interaction(
            &request("DELETE", "http://127.0.0.1:9/Users/1", None),
            &empty,
        );
        assert_eq!(interaction.request.body, Some(Value::Null));
        assert_eq!(interaction.response.body, None);
        assert_eq!(
            response_body(b"<html>oops</html>"),
            Some(json!("<html>oops</html>"))
        );
        // A JSON string is kept as its raw text, quotes included, so a replay sends the same bytes.
        assert_eq!(response_body(br#""quoted""#), Some(json!("\"quoted\"")));
        let replayed = RecordedResponse {
            status: 200,
            headers: None,
            body: response_body(br#""quoted""#),
        };
        assert_eq!(replayed.body_bytes(), br#""quoted""#);
    }

    #[test]
    fn a_token_echoed_by_the_server_is_scrubbed_from_the_recording() {
        let cassette: Cassette = serde_json::from_value(json!({"interactions": [{
            "request": {"method": "GET", "url": "http://127.0.0.1:9/x?t=s3cr3t", "body": null},
            "response": {"status": 400, "headers": {"x-echo": "Bearer s3cr3t"}, "body": {"detail": "bad token s3cr3t", "s3cr3t": [1]}}
        }]}))
        .unwrap();
        let text =
            serde_json::to_string(&scrub_cassette(&cassette, &["s3cr3t".into()]).unwrap()).unwrap();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(
            text.contains(r#""detail":"bad token <redacted>""#),
            "{text}"
        );
    }

    #[test]
    fn sleeping_stops_at_the_command_budget() {
        let mut live = Live::new(options());
        live.slept = MAX_SLEEP_PER_COMMAND - Duration::from_millis(5);
        let started = std::time::Instant::now();
        live.sleep(60_000);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(live.slept, MAX_SLEEP_PER_COMMAND);
    }
}
