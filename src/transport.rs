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

/// What the connector needs from its environment.
pub trait Transport {
    /// Send one request.
    fn send(&mut self, request: &Request) -> Result<Response, SendError>;
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
    }
}
