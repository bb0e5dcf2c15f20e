//! The seam between the connector's logic and whatever carries its HTTP: plain Rust types
//! for a request, a response and a transport failure, and the `Transport` trait.
//!
//! The component implements `Transport` with the host's imports (`component.rs`); native
//! code (unit tests, the host's native benchmark) implements it in memory. Nothing here knows
//! about WIT, wasm or tokens: a request names its credential, it never carries one.

use std::fmt;

/// HTTP methods the SCIM client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request as the guest builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// The name of the host-held credential to attach, never the secret itself.
    pub credential: Option<String>,
}

/// A response as the transport delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why the host's policy refused a request (WIT `http.denial`). The host sends it typed;
/// the connector words it (its `Display`), so every host gives the same text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// The URL (user information replaced) did not parse, for the parser's reason.
    NotAbsolute {
        url: String,
        reason: String,
    },
    /// The URL (user information replaced) names no host.
    NoHost(String),
    /// The origin asked for, and the tenant's (none when its url is unusable).
    OriginNotAllowed {
        origin: String,
        allowed: Option<String>,
    },
    /// Plain http to this origin, which is not loopback.
    PlainHttp(String),
    UserInfo,
    /// The path as parsed.
    PathChanges(String),
    ForbiddenHeader(String),
    MethodNotAllowed(String),
    RequestTooLarge {
        size: u64,
        cap: u64,
    },
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Texts from the guest's request are quoted as JSON strings.
        let quoted = |text: &str| {
            let mut literal = String::with_capacity(text.len() + 2);
            crate::json::push_string_literal(&mut literal, text);
            literal
        };
        match self {
            Denial::NotAbsolute { url, reason } => {
                write!(f, "{} is not an absolute URL ({reason})", quoted(url))
            }
            Denial::NoHost(url) => write!(f, "{} has no host", quoted(url)),
            Denial::OriginNotAllowed {
                origin,
                allowed: Some(allowed),
            } => write!(
                f,
                "origin {origin} is not allowed; this tenant may reach only {allowed}"
            ),
            Denial::OriginNotAllowed {
                origin,
                allowed: None,
            } => write!(
                f,
                "origin {origin} is not allowed; this tenant has no usable url configured"
            ),
            Denial::PlainHttp(origin) => write!(
                f,
                "plain http is allowed only to a loopback address; {origin} must use https"
            ),
            Denial::UserInfo => f.write_str("URLs with user information are not allowed"),
            Denial::PathChanges(path) => write!(
                f,
                "the path of the request URL changes when parsed (to {}): dot segments (\".\", \"..\", \"%2E%2E\"), backslashes and unencoded characters are not allowed",
                quoted(path)
            ),
            Denial::ForbiddenHeader(name) => {
                write!(f, "the guest may not set the {} header", quoted(name))
            }
            Denial::MethodNotAllowed(method) => {
                write!(f, "method {} is not allowed", quoted(method))
            }
            Denial::RequestTooLarge { size, cap } => write!(
                f,
                "the request of {size} bytes is larger than the host's cap of {cap} bytes"
            ),
        }
    }
}

/// Why a request produced no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    Denied(Denial),
    Timeout,
    Transport(String),
    /// The certificate was refused or the TLS handshake failed: a retry cannot cure it.
    Tls(String),
    /// The answer was not valid HTTP: a retry cannot cure it.
    Protocol(String),
    UnknownCredential(String),
    ResponseTooLarge(u64),
    TooManyRequests(u32),
    /// The host is ending the command (its replay went wrong); never retried.
    Aborted,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Denied(why) => write!(f, "the host refused the request: {why}"),
            SendError::Timeout => f.write_str("the request timed out"),
            SendError::Transport(why) => write!(f, "the server could not be reached: {why}"),
            SendError::Tls(why) => write!(f, "the TLS connection to the server failed: {why}"),
            SendError::Protocol(why) => {
                write!(f, "the server's answer was not valid HTTP: {why}")
            }
            SendError::UnknownCredential(name) => {
                write!(f, "the host holds no credential named {name:?}")
            }
            SendError::ResponseTooLarge(cap) => {
                write!(
                    f,
                    "the response was larger than the host's cap of {cap} bytes"
                )
            }
            SendError::TooManyRequests(budget) => {
                write!(
                    f,
                    "the command used up its budget of {budget} HTTP requests"
                )
            }
            SendError::Aborted => f.write_str("the host ended the command"),
        }
    }
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

/// What a host without a platform mapper answers to [`Transport::map_object`] (every host
/// but the XSOAR integration's Python engine).
pub const NO_PLATFORM_MAPPER: &str = "this host has no platform mapper";

/// What the connector needs from its environment.
pub trait Transport {
    /// Send one request.
    fn send(&mut self, request: &Request) -> Result<Response, SendError>;
    /// Send several requests, which the host may carry at once; the results in the order of
    /// `requests`. Each counts against the command's budget as one `send` and passes the same
    /// policy (a denied one is denied alone). By default one `send` after another, as a test
    /// transport wants.
    fn send_all(&mut self, requests: Vec<Request>) -> Vec<Result<Response, SendError>> {
        requests.iter().map(|request| self.send(request)).collect()
    }
    /// Map `object` (JSON text of one object) with the platform's mapper named `mapper` for
    /// `incident_type` (XSOAR's `demisto.mapObject`, WIT `platform.map-object`): the mapped
    /// object as JSON text, or why it could not be mapped. By default the answer of a host
    /// without a platform mapper, [`NO_PLATFORM_MAPPER`].
    fn map_object(
        &mut self,
        object: &str,
        mapper: &str,
        incident_type: &str,
    ) -> Result<String, String> {
        let _ = (object, mapper, incident_type);
        Err(NO_PLATFORM_MAPPER.to_string())
    }
    /// Wait before a retry (virtual under replay).
    fn sleep(&mut self, millis: u64);
    /// Milliseconds since the Unix epoch (virtual under replay).
    fn now_millis(&mut self) -> u64;
    /// A diagnostic line for the host's log.
    fn log(&mut self, level: LogLevel, message: &str);
}

/// An in-memory transport for unit tests: answers from a queue and records what was sent.
#[cfg(test)]
pub mod fake {
    use super::*;
    use std::collections::VecDeque;

    #[derive(Default)]
    pub struct FakeTransport {
        pub answers: VecDeque<Result<Response, SendError>>,
        pub sent: Vec<Request>,
        pub slept: Vec<u64>,
        pub now: u64,
        /// The platform mapper's answers to `map_object`, in order; when none is left it
        /// answers as a host without one ([`NO_PLATFORM_MAPPER`]).
        pub platform_answers: VecDeque<Result<String, String>>,
        /// What `map_object` was asked: `(object, mapper, incident_type)`.
        pub platform_asked: Vec<(String, String, String)>,
    }

    impl FakeTransport {
        pub fn answering(answers: Vec<Result<Response, SendError>>) -> Self {
            FakeTransport {
                answers: answers.into(),
                ..Default::default()
            }
        }
    }

    /// A response with a JSON body and optional headers.
    pub fn json(status: u16, body: &str) -> Result<Response, SendError> {
        Ok(Response {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        })
    }

    pub fn with_header(status: u16, name: &str, value: &str) -> Result<Response, SendError> {
        Ok(Response {
            status,
            headers: vec![(name.to_string(), value.to_string())],
            body: Vec::new(),
        })
    }

    impl Transport for FakeTransport {
        fn send(&mut self, request: &Request) -> Result<Response, SendError> {
            self.sent.push(request.clone());
            self.answers
                .pop_front()
                .unwrap_or_else(|| Err(SendError::Transport("no answer queued".into())))
        }
        fn sleep(&mut self, millis: u64) {
            self.slept.push(millis);
            self.now += millis;
        }
        fn now_millis(&mut self) -> u64 {
            self.now
        }
        fn log(&mut self, _level: LogLevel, _message: &str) {}
        fn map_object(
            &mut self,
            object: &str,
            mapper: &str,
            incident_type: &str,
        ) -> Result<String, String> {
            self.platform_asked
                .push((object.into(), mapper.into(), incident_type.into()));
            self.platform_answers
                .pop_front()
                .unwrap_or_else(|| Err(NO_PLATFORM_MAPPER.to_string()))
        }
    }

    #[test]
    fn send_all_by_default_sends_each_in_order_and_answers_in_order() {
        let mut transport = FakeTransport::answering(vec![
            json(200, "first"),
            Err(SendError::Timeout),
            json(201, "third"),
        ]);
        let request = |path: &str| Request {
            method: Method::Get,
            url: format!("https://a.example/{path}"),
            headers: Vec::new(),
            body: None,
            credential: None,
        };
        let answers = transport.send_all(vec![request("1"), request("2"), request("3")]);
        assert_eq!(
            answers,
            vec![
                json(200, "first"),
                Err(SendError::Timeout),
                json(201, "third")
            ]
        );
        let urls: Vec<&str> = transport.sent.iter().map(|r| r.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://a.example/1",
                "https://a.example/2",
                "https://a.example/3"
            ]
        );
    }

    #[test]
    fn without_a_platform_mapper_map_object_says_so() {
        let mut transport = FakeTransport::default();
        transport
            .platform_answers
            .push_back(Ok(r#"{"a":1}"#.into()));
        assert_eq!(
            transport.map_object("{}", "m", "User Profile"),
            Ok(r#"{"a":1}"#.into())
        );
        assert_eq!(
            transport.map_object("{}", "m", "User Profile"),
            Err("this host has no platform mapper".into())
        );
        assert_eq!(transport.platform_asked.len(), 2);
    }
}
