//! The gate's core as a Wasm component (world `gate-core` of wit/gate.wit): the `iam-gate`
//! library behind the connector's `http` and `clock`. `session.begin` takes the instance's
//! configuration, token included, and keeps the command's [`Session`]; the connector's
//! requests and sleeps then go through it, and only finished requests reach the host's wire.
//! The token stays in this instance's memory; the connector, in its own, never sees it.
//!
//! This file only converts between WIT records and the library's types: the rules are the
//! library's, the same the Rust host links natively.

#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "gate-core",
});

use std::cell::RefCell;
use std::sync::Arc;

use exports::iam::atlassian::clock::Guest as ClockGuest;
use exports::iam::atlassian::http::{
    Denial, Guest as HttpGuest, Header, HttpError, OriginRefusal, Request, Response, SizeRefusal,
    UnparsableUrl,
};
use exports::iam::atlassian::session::{
    Budget, Closed, Guest as SessionGuest, Mode, Opened, Refused,
};
use iam::atlassian::{clock, panic, wire};

use iam_gate::policy::Denial as GateDenial;
use iam_gate::replay::{PreparedCassette, Replay};
use iam_gate::session::{
    self as gate_session, GuestRequest, HttpError as GateError, Session, Step, Wait,
};
use iam_gate::tenant::{Begun, Tenant};
use iam_gate::wire::{IncomingResponse, OutgoingRequest, WireError};
use serde_json::{Map, Value};

struct Core;

export!(Core);

/// The system allocator, telling the host when this instance's memory runs out
/// (`panic.out-of-memory`), as the connector does: a cassette too large for the memory limit
/// then ends in the memory stop, not in a bare trap.
struct Reporting;

// SAFETY: every call is passed on to `System` unchanged.
unsafe impl std::alloc::GlobalAlloc for Reporting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let block = unsafe { std::alloc::System.alloc(layout) };
        if block.is_null() {
            out_of_memory(layout.size());
        }
        block
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        let block = unsafe { std::alloc::System.realloc(ptr, layout, new_size) };
        if block.is_null() {
            out_of_memory(new_size);
        }
        block
    }
}

#[global_allocator]
static ALLOCATOR: Reporting = Reporting;

fn out_of_memory(more_bytes: usize) {
    const PAGE_BYTES: u64 = 64 << 10;
    let current = core::arch::wasm32::memory_size(0) as u64 * PAGE_BYTES;
    panic::out_of_memory(current.saturating_add(more_bytes as u64));
}

/// The command in progress: its session, and when it began by the host's clock.
struct Open {
    session: Session,
    started_millis: u64,
}

thread_local! {
    static OPEN: RefCell<Option<Open>> = const { RefCell::new(None) };
}

/// Milliseconds since the command began, by the host's clock.
fn elapsed(open: &Open) -> u64 {
    clock::now_millis().saturating_sub(open.started_millis)
}

/// A JSON object from its text, or why it is not one.
fn object(text: &str, what: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("the {what} is not a JSON object")),
        Err(e) => Err(format!("the {what} is not valid JSON: {e}")),
    }
}

impl SessionGuest for Core {
    fn begin(
        command: String,
        config_json: String,
        args_json: String,
        mode: Mode,
        budget: Budget,
        credentials: Vec<String>,
    ) -> Result<Opened, Refused> {
        let params = object(&config_json, "configuration").map_err(Refused::Unusable)?;
        let args = object(&args_json, "arguments").map_err(Refused::Unusable)?;
        let mode = match mode {
            Mode::Replay(text) => {
                let cassette = PreparedCassette::parse(&text)
                    .map_err(|e| Refused::Unusable(format!("the cassette is not valid: {e}")))?;
                gate_session::Mode::Replay(Replay::shared(Arc::new(cassette), clock::now_millis()))
            }
            Mode::Live => gate_session::Mode::Live,
            Mode::Recording => gate_session::Mode::Record(Default::default()),
        };
        let tenant = Tenant::prepare(&params, &credentials);
        let budget = gate_session::Budget {
            max_requests: budget.max_requests,
            request_bytes: budget.request_bytes,
            response_bytes: budget.response_bytes,
            request_timeout_millis: budget.request_timeout_ms,
            wall_millis: budget.wall_ms,
        };
        let (session, invocation_json) = match tenant.begin(&command, &args, budget, mode, 0) {
            Begun::Run {
                session,
                invocation_json,
            } => (session, invocation_json),
            Begun::Refused {
                entry_json,
                finished,
            } => {
                return Err(Refused::Closed(Closed {
                    is_error: true,
                    entry_json,
                    replay_failure: finished.replay_failure,
                    recording_json: finished.recording.map(|c| c.to_text()),
                }));
            }
        };
        let opened = Opened {
            invocation_json,
            credential: tenant.credential.clone(),
        };
        OPEN.with_borrow_mut(|open| {
            *open = Some(Open {
                session,
                started_millis: clock::now_millis(),
            });
        });
        Ok(opened)
    }

    fn finish(is_error: bool, entry_json: String) -> Closed {
        let finished = OPEN
            .with_borrow_mut(Option::take)
            .map(|open| open.session.finish())
            .unwrap_or_default();
        Closed {
            is_error,
            entry_json,
            replay_failure: finished.replay_failure,
            recording_json: finished.recording.map(|c| c.to_text()),
        }
    }
}

impl HttpGuest for Core {
    fn send(request: Request) -> Result<Response, HttpError> {
        let step = begin_send(request);
        let answer = match step {
            Step::Send(outgoing) => end_send(&outgoing, wired(&outgoing)),
            step => answered(step),
        };
        answer.map(response).map_err(http_error)
    }

    /// Each request through the session as `send` takes it, all in list order: every check
    /// first, then the wire (`wire.send-all` of those that passed, which the host may carry
    /// at once, in batches: see [`carry`]), then every answer.
    fn send_all(requests: Vec<Request>) -> Vec<Result<Response, HttpError>> {
        let steps: Vec<Step> = requests.into_iter().map(begin_send).collect();
        let outgoing: Vec<wire::Outgoing> = steps
            .iter()
            .filter_map(|step| match step {
                Step::Send(outgoing) => Some(to_wire(outgoing)),
                _ => None,
            })
            .collect();
        let mut wired = carry(&outgoing).into_iter();
        steps
            .into_iter()
            .map(|step| match step {
                Step::Send(outgoing) => {
                    let answer = wired.next().unwrap_or_else(no_answer);
                    end_send(&outgoing, answer)
                }
                step => answered(step),
            })
            .map(|answer| answer.map(response).map_err(http_error))
            .collect()
    }
}

/// The most requests one `wire.send-all` carries.
const WIRE_BATCH: usize = 32;

/// The most response bytes (the sum of the requests' `max-response-bytes`) one
/// `wire.send-all` may bring back. A host holds a call's answers at once, and under wasmtime's
/// C API (the Python host) each byte of a body is a value of its own, 32 bytes: 32 answers of
/// the default 10 MiB cap would be 10 GiB, which a hostile server could fill. With this bound
/// a call is at worst 2 GiB of such values (at the default cap, 6 requests a call; at a 2 MiB
/// cap, all 32).
const WIRE_BATCH_BYTES: u64 = 64 << 20;

/// The host's answers to `outgoing`, exactly one per request, in order: the requests go in
/// batches of at most [`WIRE_BATCH`] requests and [`WIRE_BATCH_BYTES`] (one request at least),
/// and a host that answers fewer requests of a batch than it was given has failed the rest of
/// that batch (one that answers more: the extra are dropped).
fn carry(outgoing: &[wire::Outgoing]) -> Vec<Result<IncomingResponse, WireError>> {
    let mut answers = Vec::with_capacity(outgoing.len());
    let mut rest = outgoing;
    while !rest.is_empty() {
        let size = batch_size(rest);
        let (batch, after) = rest.split_at(size);
        let mut wired = wire::send_all(batch).into_iter().map(from_wire);
        answers.extend((0..batch.len()).map(|_| wired.next().unwrap_or_else(no_answer)));
        rest = after;
    }
    answers
}

/// How many of `requests` (at least one) the next `wire.send-all` carries.
fn batch_size(requests: &[wire::Outgoing]) -> usize {
    let mut bytes = 0u64;
    let fitting = requests
        .iter()
        .take(WIRE_BATCH)
        .take_while(|request| {
            bytes = bytes.saturating_add(request.max_response_bytes);
            bytes <= WIRE_BATCH_BYTES
        })
        .count();
    fitting.max(1)
}

/// The answer to a request the host gave none for.
fn no_answer() -> Result<IncomingResponse, WireError> {
    Err(WireError::Transport(
        "the host gave no answer to this request".into(),
    ))
}

/// Steps 1 to 5 of the session for one guest request (and replay's answer).
fn begin_send(request: Request) -> Step {
    let asked = GuestRequest {
        method: request.method,
        url: request.url,
        headers: request
            .headers
            .into_iter()
            .map(|h| (h.name, h.value))
            .collect(),
        body: request.body,
        auth: request.auth,
        timeout_ms: request.timeout_ms,
    };
    let step = OPEN.with_borrow_mut(|open| match open {
        Some(open) => {
            let now = elapsed(open);
            open.session.begin_send(asked, now)
        }
        None => Step::Answer(Err(GateError::Aborted)),
    });
    if let Step::Flood(budget) = step {
        panic::flooded(budget);
        core::arch::wasm32::unreachable()
    }
    step
}

/// The answer of a step that does not go to the wire.
fn answered(step: Step) -> Result<IncomingResponse, GateError> {
    match step {
        Step::Answer(answer) => answer,
        // `begin_send` stops a flood and the caller wires a `Send`: neither reaches here.
        Step::Send(_) | Step::Flood(_) => Err(GateError::Aborted),
    }
}

/// Step 6 of the session: the wire's answer scrubbed, capped, recorded.
fn end_send(
    outgoing: &OutgoingRequest,
    wired: Result<IncomingResponse, WireError>,
) -> Result<IncomingResponse, GateError> {
    OPEN.with_borrow_mut(|open| match open {
        Some(open) => open.session.end_send(outgoing, wired),
        None => Err(GateError::Aborted),
    })
}

/// An allowed request over the host's wire.
fn wired(outgoing: &OutgoingRequest) -> Result<IncomingResponse, WireError> {
    from_wire(wire::send(&to_wire(outgoing)))
}

/// An allowed request as the wire takes it.
fn to_wire(outgoing: &OutgoingRequest) -> wire::Outgoing {
    wire::Outgoing {
        method: outgoing.method.clone(),
        url: outgoing.url.to_string(),
        headers: outgoing
            .headers
            .iter()
            .map(|(name, value)| wire::Header {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        body: outgoing.body.clone(),
        timeout_ms: u64::try_from(outgoing.timeout.as_millis()).unwrap_or(u64::MAX),
        max_response_bytes: outgoing.max_response_bytes,
        verify_tls: outgoing.verify_tls,
        use_proxy: outgoing.use_proxy,
    }
}

/// The wire's answer as the session takes it.
fn from_wire(
    wired: Result<wire::Incoming, wire::WireError>,
) -> Result<IncomingResponse, WireError> {
    wired
        .map(|incoming| IncomingResponse {
            status: incoming.status,
            headers: incoming
                .headers
                .into_iter()
                .map(|h| (h.name, h.value))
                .collect(),
            body: incoming.body,
        })
        .map_err(|error| match error {
            wire::WireError::Timeout => WireError::Timeout,
            wire::WireError::Transport(why) => WireError::Transport(why),
            wire::WireError::Tls(why) => WireError::Tls(why),
            wire::WireError::Protocol(why) => WireError::Protocol(why),
            wire::WireError::TooLarge => WireError::TooLarge,
        })
}

impl ClockGuest for Core {
    fn now_millis() -> u64 {
        let real = clock::now_millis();
        OPEN.with_borrow(|open| match open {
            Some(open) => open.session.now_millis(real),
            None => real,
        })
    }

    fn sleep(millis: u64) {
        let wait = OPEN.with_borrow_mut(|open| match open {
            Some(open) => {
                let now = elapsed(open);
                open.session.sleep(millis, now)
            }
            None => Wait::Done,
        });
        if let Wait::Sleep(_) = wait {
            clock::sleep(millis);
        }
    }
}

fn response(response: IncomingResponse) -> Response {
    Response {
        status: response.status,
        headers: response
            .headers
            .into_iter()
            .map(|(name, value)| Header { name, value })
            .collect(),
        body: response.body,
    }
}

fn http_error(error: GateError) -> HttpError {
    match error {
        GateError::Denied(denial) => HttpError::Denied(match denial {
            GateDenial::NotAbsolute { url, reason } => {
                Denial::NotAbsolute(UnparsableUrl { url, reason })
            }
            GateDenial::NoHost(url) => Denial::NoHost(url),
            GateDenial::OriginNotAllowed { origin, allowed } => {
                Denial::OriginNotAllowed(OriginRefusal { origin, allowed })
            }
            GateDenial::PlainHttp(origin) => Denial::PlainHttp(origin),
            GateDenial::UserInfo => Denial::UserInfo,
            GateDenial::PathChanges(path) => Denial::PathChanges(path),
            GateDenial::ForbiddenHeader(name) => Denial::ForbiddenHeader(name),
            GateDenial::MethodNotAllowed(method) => Denial::MethodNotAllowed(method),
            GateDenial::RequestTooLarge { size, cap } => {
                Denial::RequestTooLarge(SizeRefusal { size, cap })
            }
        }),
        GateError::Timeout => HttpError::Timeout,
        GateError::Transport(why) => HttpError::Transport(why),
        GateError::Tls(why) => HttpError::Tls(why),
        GateError::Protocol(why) => HttpError::Protocol(why),
        GateError::UnknownCredential(name) => HttpError::UnknownCredential(name),
        GateError::ResponseTooLarge(cap) => HttpError::ResponseTooLarge(cap),
        GateError::TooManyRequests(budget) => HttpError::TooManyRequests(budget),
        GateError::Aborted => HttpError::Aborted,
    }
}
