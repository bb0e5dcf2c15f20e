//! `Backend`: how the host carries a request that policy has allowed. Four of them, one
//! module each: [`replay`] answers from a cassette in order and in virtual time, [`live`]
//! talks to real servers (through the proxy [`proxy`] chooses), and [`record`] does what
//! `live` does while keeping every exchange for a cassette. They know nothing of the guest,
//! the policy or the limits: by the time a request gets here the host has checked it,
//! attached the credential and set its timeout, and what a backend answers is scrubbed of
//! the tenant's secrets before the guest or a recording ([`Backend::delivered`]) sees it.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use url::Url;

pub mod live;
pub mod proxy;
pub mod record;
pub mod replay;

pub use live::{Live, LiveOptions};
pub use record::{Record, Recording};
pub use replay::{PreparedCassette, Replay};

/// A future a backend returns; boxed so that `Backend` stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A request as it leaves the host: the credential attached.
#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    pub method: String,
    pub url: Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub timeout: Duration,
}

/// A response as the backend received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a backend gave no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendError {
    Timeout,
    /// DNS, connect, reset: a retry may cure it.
    Transport(String),
    /// The certificate was refused or the handshake failed: a retry cannot cure it.
    Tls(String),
    /// The answer was not valid HTTP: a retry cannot cure it.
    Protocol(String),
    /// The body exceeded the cap; the backend stopped reading.
    TooLarge,
    /// The host cannot go on with this command (a replay mismatch): it ends the sandbox.
    Fault(String),
}

pub trait Backend: Send {
    /// Send one request; a body larger than `max_body_bytes` is `TooLarge`.
    fn send<'a>(
        &'a mut self,
        request: &'a OutgoingRequest,
        max_body_bytes: u64,
    ) -> BoxFuture<'a, Result<IncomingResponse, BackendError>>;
    /// The response to `request` as the guest receives it (the tenant's secrets scrubbed):
    /// what a recording keeps. Called for every response `send` returned.
    fn delivered(&mut self, _request: &OutgoingRequest, _response: &IncomingResponse) {}
    /// Wait before a retry.
    fn sleep(&mut self, millis: u64) -> BoxFuture<'_, ()>;
    /// Milliseconds since the Unix epoch.
    fn now_millis(&mut self) -> u64;
    /// Called once after the command: a replay checks that every interaction was used, a
    /// recording has nothing left to do. An error here is a replay failure.
    fn finish(&mut self) -> Result<(), String>;
}

/// Milliseconds since the Unix epoch by the system clock.
pub fn system_now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
