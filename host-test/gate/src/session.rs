//! One command's requests through the gate, as a fixed sequence of small steps (Spin's
//! `send_request`), with no I/O of its own: the host calls [`Session::begin_send`], carries
//! the [`OutgoingRequest`] over its wire (unless replay answered), and hands the answer to
//! [`Session::end_send`].
//!
//! 1. The request's size, before anything else.
//! 2. Policy: every check, then the credential attached.
//! 3. The wall-clock budget: once it is spent, the answer is `timeout`, at once.
//! 4. The request budget: refusals first, and a guest that ignores them is stopped.
//! 5. The timeout: the guest's ask, capped by the host and by the wall-clock time left.
//! 6. The answer: replayed, or the wire's; the tenant's secrets scrubbed; the size cap;
//!    recorded when recording.
//!
//! The wall-clock limit bounds the time a command spends waiting in requests and sleeps, and
//! never kills a command that waits (behaviour.md §3): each request gets at most the time
//! that is left; once the budget is spent every further request answers `timeout` and every
//! sleep returns at once, so the guest's remaining retries end quickly in a failed result.

use std::sync::Arc;
use std::time::Duration;

use crate::cassette::Cassette;
use crate::policy::{Denial, GuestAsk, Policy, Refusal};
use crate::record::Recording;
use crate::replay::Replay;
use crate::secret::Flags;
use crate::wire::{IncomingResponse, OutgoingRequest, WireError};

/// Requests refused for the spent budget before the command is stopped: the connector stops
/// at the first refusal; a guest that sends this many more is looping, not handling an error.
const MAX_REFUSED_REQUESTS: u32 = 4;

/// The per-command budgets the gate enforces (WIT `gate.budget`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max_requests: u32,
    pub request_bytes: u64,
    pub response_bytes: u64,
    pub request_timeout_millis: u64,
    pub wall_millis: u64,
}

/// A request as the guest asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// The credential reference the guest names.
    pub auth: Option<String>,
    pub timeout_ms: Option<u32>,
}

impl GuestRequest {
    /// Bytes of URL, headers and body: what the request cap counts.
    pub fn size(&self) -> u64 {
        let headers: usize = self
            .headers
            .iter()
            .map(|(name, value)| name.len() + value.len())
            .sum();
        (self.url.len() + headers + self.body.as_ref().map_or(0, String::len)) as u64
    }
}

/// Why a request got no response (WIT `http.http-error`): values the guest handles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    Denied(Denial),
    Timeout,
    Transport(String),
    Tls(String),
    Protocol(String),
    UnknownCredential(String),
    ResponseTooLarge(u64),
    TooManyRequests(u32),
    /// The command's replay went wrong: the guest should return at once.
    Aborted,
}

/// Where a command's HTTP goes.
pub enum Mode {
    Replay(Replay),
    Live,
    Record(Recording),
}

/// What `begin_send` decided.
#[derive(Debug)]
pub enum Step {
    /// The answer, without the wire (a refusal, or a replayed answer).
    Answer(Result<IncomingResponse, HttpError>),
    /// Send this over the wire, then call `end_send`.
    Send(OutgoingRequest),
    /// The guest kept sending after its budget was spent: stop the command (`Stop::Requests`
    /// with this budget).
    Flood(u32),
}

/// What a sleep should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Nothing: replay's virtual clock moved, or the budget is spent.
    Done,
    /// Really wait this long.
    Sleep(Duration),
}

/// What a command leaves behind.
#[derive(Debug, Default)]
pub struct Finished {
    /// The replay failure to report instead of the entry.
    pub replay_failure: Option<String>,
    /// The recording of a `record` run.
    pub recording: Option<Cassette>,
}

/// One command's state in the gate.
pub struct Session {
    policy: Arc<Policy>,
    flags: Flags,
    budget: Budget,
    mode: Mode,
    /// When the command started, by the caller's clock (milliseconds).
    started_millis: u64,
    /// Set when a wait would have outlasted the wall-clock budget: it counts as spent.
    wall_spent: bool,
    requests_made: u32,
    requests_refused: u32,
    /// A replay mismatch: the command ends, and this is reported instead of its entry.
    fault: Option<String>,
}

impl Session {
    /// A command of a tenant (its policy and flags) under `budget`, started at
    /// `started_millis` by the caller's clock.
    pub fn new(
        policy: Arc<Policy>,
        flags: Flags,
        budget: Budget,
        mode: Mode,
        started_millis: u64,
    ) -> Session {
        Session {
            policy,
            flags,
            budget,
            mode,
            started_millis,
            wall_spent: false,
            requests_made: 0,
            requests_refused: 0,
            fault: None,
        }
    }

    /// Requests passed to the wire (or replay) so far.
    pub fn requests_made(&self) -> u32 {
        self.requests_made
    }

    /// Wall-clock time left at `now_millis`; none once the budget is spent.
    fn wall_left(&self, now_millis: u64) -> Option<u64> {
        if self.wall_spent {
            return None;
        }
        let elapsed = now_millis.saturating_sub(self.started_millis);
        self.budget
            .wall_millis
            .checked_sub(elapsed)
            .filter(|left| *left > 0)
    }

    /// Steps 1 to 5, and the replayed answer under replay.
    pub fn begin_send(&mut self, request: GuestRequest, now_millis: u64) -> Step {
        if self.fault.is_some() {
            return Step::Answer(Err(HttpError::Aborted));
        }
        let size = request.size();
        if size > self.budget.request_bytes {
            return Step::Answer(Err(HttpError::Denied(Denial::RequestTooLarge {
                size,
                cap: self.budget.request_bytes,
            })));
        }
        let GuestRequest {
            method,
            url,
            headers,
            body,
            auth,
            timeout_ms,
        } = request;
        let ask = GuestAsk {
            method: &method,
            url: &url,
            headers,
            auth: auth.as_deref(),
        };
        let allowed = match self.policy.authorize(ask) {
            Ok(allowed) => allowed,
            Err(Refusal::Denied(denial)) => return Step::Answer(Err(HttpError::Denied(denial))),
            Err(Refusal::UnknownCredential(name)) => {
                return Step::Answer(Err(HttpError::UnknownCredential(name)));
            }
        };
        let Some(wall_left) = self.wall_left(now_millis) else {
            return Step::Answer(Err(HttpError::Timeout));
        };
        if self.requests_made >= self.budget.max_requests {
            self.requests_refused += 1;
            if self.requests_refused > MAX_REFUSED_REQUESTS {
                return Step::Flood(self.budget.max_requests);
            }
            return Step::Answer(Err(HttpError::TooManyRequests(self.budget.max_requests)));
        }
        self.requests_made += 1;
        let cap = self.budget.request_timeout_millis;
        let asked = timeout_ms.map_or(cap, |asked| u64::from(asked).min(cap));
        let outgoing = OutgoingRequest {
            method,
            use_proxy: self.flags.proxy && !crate::policy::is_loopback(&allowed.url),
            url: allowed.url,
            headers: allowed.headers,
            body,
            timeout: Duration::from_millis(asked.min(wall_left)),
            max_response_bytes: self.budget.response_bytes,
            verify_tls: !self.flags.insecure,
        };
        if let Mode::Replay(replay) = &mut self.mode {
            let answer = replay.answer(&outgoing).map_err(|fault| {
                self.fault = Some(self.policy.scrub_text(fault));
                HttpError::Aborted
            });
            return Step::Answer(answer.and_then(|response| {
                self.deliver(&outgoing, self.policy.scrub_response(response))
            }));
        }
        Step::Send(outgoing)
    }

    /// Step 6 for an answer of the wire.
    pub fn end_send(
        &mut self,
        outgoing: &OutgoingRequest,
        answer: Result<IncomingResponse, WireError>,
    ) -> Result<IncomingResponse, HttpError> {
        match answer {
            Ok(response) => self.deliver(outgoing, self.policy.scrub_response(response)),
            Err(error) => Err(match self.policy.scrub_error(error) {
                WireError::Timeout => HttpError::Timeout,
                WireError::Transport(why) => HttpError::Transport(why),
                WireError::Tls(why) => HttpError::Tls(why),
                WireError::Protocol(why) => HttpError::Protocol(why),
                WireError::TooLarge => HttpError::ResponseTooLarge(self.budget.response_bytes),
            }),
        }
    }

    /// A scrubbed answer as the guest receives it: kept when recording, then capped.
    fn deliver(
        &mut self,
        outgoing: &OutgoingRequest,
        response: IncomingResponse,
    ) -> Result<IncomingResponse, HttpError> {
        if let Mode::Record(recording) = &mut self.mode {
            recording.keep(outgoing, &response);
        }
        if response.size() > self.budget.response_bytes {
            return Err(HttpError::ResponseTooLarge(self.budget.response_bytes));
        }
        Ok(response)
    }

    /// A retry's wait. One that would end past the wall-clock budget is not begun: it would
    /// leave nothing for the request after it, so the budget counts as spent and the guest's
    /// next requests answer `timeout` at once. Under replay, time is virtual.
    pub fn sleep(&mut self, millis: u64, now_millis: u64) -> Wait {
        match self.wall_left(now_millis) {
            Some(left) if millis <= left => {}
            _ => {
                self.wall_spent = true;
                return Wait::Done;
            }
        }
        match &mut self.mode {
            Mode::Replay(replay) => {
                replay.sleep(millis);
                Wait::Done
            }
            Mode::Live | Mode::Record(_) => Wait::Sleep(Duration::from_millis(millis)),
        }
    }

    /// The time the guest reads: virtual under replay, else the caller's clock.
    pub fn now_millis(&self, real_millis: u64) -> u64 {
        match &self.mode {
            Mode::Replay(replay) => replay.now_millis(),
            Mode::Live | Mode::Record(_) => real_millis,
        }
    }

    /// After the command: the replay failure (a mismatch, or interactions left unused) and
    /// the recording.
    pub fn finish(self) -> Finished {
        match self.mode {
            Mode::Replay(replay) => Finished {
                replay_failure: self.fault.or_else(|| replay.finish().err()),
                recording: None,
            },
            Mode::Record(recording) => Finished {
                replay_failure: None,
                recording: Some(recording.into_cassette()),
            },
            Mode::Live => Finished::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::PreparedCassette;
    use crate::secret::Secret;

    const URL: &str = "http://127.0.0.1:9/scim/directory/d/Users";

    fn budget() -> Budget {
        Budget {
            max_requests: 2,
            request_bytes: 1 << 10,
            response_bytes: 1 << 10,
            request_timeout_millis: 30_000,
            wall_millis: 120_000,
        }
    }

    fn session(mode: Mode) -> Session {
        let policy = Policy::for_instance(
            Some("http://127.0.0.1:9"),
            vec![("access_token".into(), Secret::new("t0k3n-abcdefgh"))],
        );
        let flags = Flags {
            insecure: false,
            proxy: true,
        };
        Session::new(Arc::new(policy), flags, budget(), mode, 1_000)
    }

    fn get(url: &str) -> GuestRequest {
        GuestRequest {
            method: "GET".into(),
            url: url.into(),
            headers: vec![("Accept".into(), "application/json".into())],
            body: None,
            auth: Some("access_token".into()),
            timeout_ms: Some(60_000),
        }
    }

    fn ok(body: &str) -> IncomingResponse {
        IncomingResponse {
            status: 200,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn an_allowed_request_leaves_with_the_credential_a_capped_timeout_and_no_proxy_to_loopback() {
        let mut session = session(Mode::Live);
        let Step::Send(outgoing) = session.begin_send(get(URL), 1_000) else {
            panic!("not sent")
        };
        assert_eq!(
            outgoing.headers.last(),
            Some(&("Authorization".into(), "Bearer t0k3n-abcdefgh".into()))
        );
        assert_eq!(outgoing.timeout, Duration::from_secs(30));
        assert!(outgoing.verify_tls && !outgoing.use_proxy);
        // The answer is scrubbed before the guest sees it.
        let answer = session.end_send(&outgoing, Ok(ok("echo t0k3n-abcdefgh")));
        assert_eq!(answer, Ok(ok("echo <redacted>")));
    }

    #[test]
    fn the_request_budget_refuses_then_stops_a_guest_that_ignores_it() {
        let mut session = session(Mode::Live);
        for _ in 0..2 {
            assert!(matches!(session.begin_send(get(URL), 1_000), Step::Send(_)));
        }
        for _ in 0..MAX_REFUSED_REQUESTS {
            assert!(matches!(
                session.begin_send(get(URL), 1_000),
                Step::Answer(Err(HttpError::TooManyRequests(2)))
            ));
        }
        assert!(matches!(
            session.begin_send(get(URL), 1_000),
            Step::Flood(2)
        ));
    }

    #[test]
    fn sizes_are_capped_both_ways() {
        let mut session = session(Mode::Live);
        let mut big = get(URL);
        big.body = Some("x".repeat(2000));
        assert!(matches!(
            session.begin_send(big, 1_000),
            Step::Answer(Err(HttpError::Denied(Denial::RequestTooLarge {
                cap: 1024,
                ..
            })))
        ));
        let Step::Send(outgoing) = session.begin_send(get(URL), 1_000) else {
            panic!("not sent")
        };
        assert_eq!(
            session.end_send(&outgoing, Ok(ok(&"y".repeat(2000)))),
            Err(HttpError::ResponseTooLarge(1024))
        );
        assert_eq!(
            session.end_send(&outgoing, Err(WireError::TooLarge)),
            Err(HttpError::ResponseTooLarge(1024))
        );
    }

    #[test]
    fn once_the_wall_clock_budget_is_spent_requests_time_out_and_sleeps_return() {
        let mut session = session(Mode::Live);
        // Ten seconds left: the request's timeout is cut to them.
        let Step::Send(outgoing) = session.begin_send(get(URL), 111_000) else {
            panic!("not sent")
        };
        assert_eq!(outgoing.timeout, Duration::from_secs(10));
        // A wait longer than what is left is not begun, and spends the budget.
        assert_eq!(session.sleep(20_000, 111_000), Wait::Done);
        assert!(matches!(
            session.begin_send(get(URL), 111_000),
            Step::Answer(Err(HttpError::Timeout))
        ));
        assert_eq!(session.sleep(1, 111_000), Wait::Done);
    }

    #[test]
    fn a_replay_mismatch_aborts_every_later_request_and_is_reported_scrubbed() {
        let cassette = format!(
            r#"{{"interactions": [{{"request": {{"method": "GET", "url": "{URL}"}}, "response": {{"status": 200, "body": "t0k3n-abcdefgh"}}}}]}}"#
        );
        let prepared = Arc::new(PreparedCassette::parse(&cassette).unwrap());
        let mut session = session(Mode::Replay(Replay::shared(prepared, 5)));
        assert_eq!(
            match session.begin_send(get(URL), 1_000) {
                Step::Answer(answer) => answer,
                other => panic!("{other:?}"),
            },
            Ok(ok("<redacted>"))
        );
        assert_eq!(session.sleep(3_000, 1_000), Wait::Done);
        assert_eq!(session.now_millis(99), 3_005);
        let other = format!("{URL}?t0k3n-abcdefgh");
        assert!(matches!(
            session.begin_send(get(&other), 1_000),
            Step::Answer(Err(HttpError::Aborted))
        ));
        assert!(matches!(
            session.begin_send(get(URL), 1_000),
            Step::Answer(Err(HttpError::Aborted))
        ));
        let failure = session.finish().replay_failure.unwrap();
        assert!(
            failure.starts_with("request #2 matched no recorded interaction"),
            "{failure}"
        );
        assert!(!failure.contains("t0k3n-abcdefgh"), "{failure}");
    }

    #[test]
    fn a_recording_keeps_the_scrubbed_answers() {
        let mut session = session(Mode::Record(Recording::default()));
        let Step::Send(outgoing) = session.begin_send(get(URL), 1_000) else {
            panic!("not sent")
        };
        session
            .end_send(&outgoing, Ok(ok(r#"{"t":"t0k3n-abcdefgh"}"#)))
            .unwrap();
        let text = session.finish().recording.unwrap().to_text();
        assert!(
            text.contains("Bearer <redacted>") && text.contains(r#""t": "<redacted>""#),
            "{text}"
        );
        assert!(!text.contains("t0k3n-abcdefgh"));
    }
}
