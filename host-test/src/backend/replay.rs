//! Replay: answers from a cassette, strictly in order, and sleeps in virtual time.

use std::sync::Arc;

use super::{
    Backend, BackendError, BoxFuture, IncomingResponse, OutgoingRequest, system_now_millis,
};
use crate::cassette::{ActualRequest, Cassette, Matcher};

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
        }
    }
}

impl Replay {
    fn answer(&mut self, request: &OutgoingRequest) -> Result<IncomingResponse, BackendError> {
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
}

impl Backend for Replay {
    fn send<'a>(
        &'a mut self,
        request: &'a OutgoingRequest,
        _max_body_bytes: u64,
    ) -> BoxFuture<'a, Result<IncomingResponse, BackendError>> {
        let answer = self.answer(request);
        Box::pin(std::future::ready(answer))
    }

    fn sleep(&mut self, millis: u64) -> BoxFuture<'_, ()> {
        self.virtual_now = self.virtual_now.saturating_add(millis);
        Box::pin(std::future::ready(()))
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
