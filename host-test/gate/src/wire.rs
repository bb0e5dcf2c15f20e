//! What crosses the wire: a request the gate has allowed (its credential attached) and the
//! answer a host's wire gives back. A host's wire sends what it is given and applies no
//! policy of its own.

use std::time::Duration;
use url::Url;

/// A request as it leaves the gate: every check passed, the credential attached.
#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    pub method: String,
    pub url: Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// The most time the request may take: the guest's ask, capped by the budgets.
    pub timeout: Duration,
    /// The most bytes of headers and body the wire may read.
    pub max_response_bytes: u64,
    /// Whether the server's certificate is verified (the instance's `insecure` unset).
    pub verify_tls: bool,
    /// Whether the system proxy is used: the instance's `proxy`, and never for a loopback
    /// address, whatever the environment says.
    pub use_proxy: bool,
}

/// A response as the wire received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl IncomingResponse {
    /// Bytes of headers and body: what the response cap counts.
    pub fn size(&self) -> u64 {
        let headers: usize = self
            .headers
            .iter()
            .map(|(name, value)| name.len() + value.len())
            .sum();
        (headers + self.body.len()) as u64
    }
}

/// Why the wire gave no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    Timeout,
    /// DNS, connect, reset: a retry may cure it.
    Transport(String),
    /// The certificate was refused or the handshake failed: a retry cannot cure it.
    Tls(String),
    /// The answer was not valid HTTP: a retry cannot cure it.
    Protocol(String),
    /// The answer exceeded `max_response_bytes`; the wire stopped reading.
    TooLarge,
}
