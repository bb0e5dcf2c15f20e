//! `Backend`: how the host carries a request that policy has allowed. `Replay` answers from
//! a cassette in order and in virtual time; the live and recording backends talk to real
//! servers (`live.rs`).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use url::Url;

use crate::cassette::{ActualRequest, Cassette, Matcher};

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
    Transport(String),
    /// The body exceeded the cap; the backend stopped reading.
    TooLarge,
    /// The host cannot go on with this command (a replay mismatch): it ends the sandbox.
    Fault(String),
}

pub trait Backend: Send {
    /// Send one request; a body larger than `max_body_bytes` is `TooLarge`.
    fn send(
        &mut self,
        request: &OutgoingRequest,
        max_body_bytes: u64,
    ) -> Result<IncomingResponse, BackendError>;
    /// Wait before a retry.
    fn sleep(&mut self, millis: u64);
    /// Milliseconds since the Unix epoch.
    fn now_millis(&mut self) -> u64;
    /// Called once after the command: a replay checks that every interaction was used, a
    /// recording writes its cassette. An error here is a replay failure.
    fn finish(&mut self) -> Result<(), String>;
}

/// Milliseconds since the Unix epoch by the system clock.
pub fn system_now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A cassette with its responses rendered once, to replay any number of times.
pub struct PreparedCassette {
    cassette: Cassette,
    matchers: Vec<Matcher>,
    responses: Vec<IncomingResponse>,
}

impl From<Cassette> for PreparedCassette {
    fn from(cassette: Cassette) -> PreparedCassette {
        let responses = cassette
            .interactions
            .iter()
            .map(|interaction| IncomingResponse {
                status: interaction.response.status,
                headers: interaction.response.header_pairs(),
                body: interaction.response.body_bytes(),
            })
            .collect();
        let matchers = cassette
            .interactions
            .iter()
            .map(|interaction| interaction.request.matcher())
            .collect();
        PreparedCassette {
            cassette,
            matchers,
            responses,
        }
    }
}

/// Answers from a cassette, in order, and sleeps in virtual time.
pub struct Replay {
    prepared: Arc<PreparedCassette>,
    next: usize,
    virtual_now: u64,
    /// Total virtual time slept, for reports and tests.
    pub slept_millis: u64,
}

impl Replay {
    pub fn new(cassette: Cassette) -> Replay {
        Replay::shared(Arc::new(cassette.into()))
    }

    /// A replay of a cassette shared with other replays (benchmarks, many tenants).
    pub fn shared(prepared: Arc<PreparedCassette>) -> Replay {
        Replay {
            prepared,
            next: 0,
            virtual_now: system_now_millis(),
            slept_millis: 0,
        }
    }
}

impl Backend for Replay {
    fn send(
        &mut self,
        request: &OutgoingRequest,
        _max_body_bytes: u64,
    ) -> Result<IncomingResponse, BackendError> {
        let actual = ActualRequest {
            method: &request.method,
            url: &request.url,
            headers: &request.headers,
            body: request.body.as_deref(),
        };
        let interactions = &self.prepared.cassette.interactions;
        let (Some(interaction), Some(matcher), Some(response)) = (
            interactions.get(self.next),
            self.prepared.matchers.get(self.next),
            self.prepared.responses.get(self.next),
        ) else {
            return Err(BackendError::Fault(format!(
                "request #{} matched no recorded interaction (the cassette has only {}):\n  actual:   {}\n  hint: record it with --live --record, or add it to the cassette",
                self.next + 1,
                interactions.len(),
                actual.describe()
            )));
        };
        if let Some(why) = matcher.mismatch(&interaction.request, &actual) {
            return Err(BackendError::Fault(format!(
                "request #{} does not match the recorded interaction: {why}\n  expected: {}\n  actual:   {}\n  hint: interactions are replayed in order; re-record the cassette if the connector's requests changed",
                self.next + 1,
                interaction.request.describe(),
                actual.describe()
            )));
        }
        self.next += 1;
        Ok(response.clone())
    }

    fn sleep(&mut self, millis: u64) {
        self.virtual_now = self.virtual_now.saturating_add(millis);
        self.slept_millis = self.slept_millis.saturating_add(millis);
    }

    fn now_millis(&mut self) -> u64 {
        self.virtual_now
    }

    fn finish(&mut self) -> Result<(), String> {
        let unused = &self.prepared.cassette.interactions
            [self.next.min(self.prepared.cassette.interactions.len())..];
        match unused.first() {
            None => Ok(()),
            Some(first) => Err(format!(
                "{} recorded interaction(s) were not used; the first: {}\n  hint: the connector made fewer requests than recorded",
                unused.len(),
                first.request.describe()
            )),
        }
    }
}
