//! The component's imports, implemented on `StoreState`. `send` hands the guest's request to
//! the gate's session (sizes, policy, budgets, replay), carries what the gate allows over the
//! wire under the time the gate gives it, and hands the answer back to the gate (scrubbing,
//! caps, recording); `send-all` does the same for many requests, carried together. Refusals
//! are typed `http-error` values; a guest that ignores its refusals is stopped (a trap), as is
//! one that panics or runs out of memory (`panic`). This host has no platform mapper
//! (`platform.map-object` says so).
//!
//! Time spent waiting in `send` and `sleep` is metered so that it counts against the
//! wall-clock budget (the gate's) and not against the CPU limit (the engine's).

use std::time::Instant;
use wasmtime::Result;

use iam_gate::policy::Denial;
use iam_gate::session::{GuestRequest, HttpError as GateError, Step, Wait};
use iam_gate::stop::Stop;

use crate::backend::{system_now_millis, within};
use crate::bindings::{
    ClockImports, Header, HttpError, HttpImports, LogImports, LogLevel, OriginRefusal,
    PanicImports, PlatformImports, Request, Response, SizeRefusal, UnparsableUrl, WitDenial,
};
use crate::store::{LogLine, StoreState};

/// Log lines kept per command: a command logs a handful (one per retry).
const MAX_LOG_LINES: usize = 256;
/// Bytes kept of one log line.
const MAX_LOG_LINE_BYTES: usize = 2048;
/// Requests kept for the report: enough to show what a well-behaved guest asked, while a
/// guest looping on denied requests cannot grow the host's memory.
const MAX_RECORDED_REQUESTS: usize = 64;

impl StoreState {
    /// Keep the request as the guest asked for it, for the report; one refused for its size
    /// is not kept (the host copies nothing of it).
    fn note_request(&mut self, asked: GuestRequest, step: &Step) {
        let too_large = matches!(
            step,
            Step::Answer(Err(GateError::Denied(Denial::RequestTooLarge { .. })))
        );
        if !too_large {
            self.guest_requests.push(asked);
        }
    }

    /// End the command: record why, and trap.
    fn stop_now<T>(&mut self, stop: Stop) -> Result<T> {
        let why = stop.describe();
        self.note_stop(stop);
        Err(wasmtime::Error::msg(why))
    }
}

impl StoreState {
    /// Steps 1 to 5 of the gate for one guest request (and replay's answer), the request kept
    /// for the report.
    fn begin_send(&mut self, request: Request, now: u64) -> Step {
        let Request {
            method,
            url,
            headers,
            body,
            auth,
            timeout_ms,
        } = request;
        let asked = GuestRequest {
            method,
            url,
            headers: headers.into_iter().map(|h| (h.name, h.value)).collect(),
            body,
            auth,
            timeout_ms,
        };
        let kept = (self.guest_requests.len() < MAX_RECORDED_REQUESTS).then(|| asked.clone());
        let step = self.session.begin_send(asked, now);
        if let Some(kept) = kept {
            self.note_request(kept, &step);
        }
        step
    }
}

impl HttpImports for StoreState {
    async fn send(&mut self, request: Request) -> Result<Result<Response, HttpError>> {
        let now = self.meter.elapsed_millis();
        let outgoing = match self.begin_send(request, now) {
            Step::Answer(answer) => return Ok(wit_answer(answer)),
            Step::Flood(budget) => return self.stop_now(Stop::Requests(budget)),
            Step::Send(outgoing) => outgoing,
        };
        let Some(wire) = self.wire.as_mut() else {
            // Only replay has no wire, and replay answers in the gate.
            return Ok(Err(HttpError::Aborted));
        };
        let entered = Instant::now();
        let sending = wire.send(&outgoing, outgoing.max_response_bytes);
        let answer = within(outgoing.timeout, sending).await;
        self.meter.add_host_time(entered);
        Ok(wit_answer(self.session.end_send(&outgoing, answer)))
    }

    /// Every request through the gate in list order (policy, budget, replay's order), then
    /// the allowed ones over the wire together (the backend bounds how many at once), then
    /// each answer through the gate in list order (scrubbing, caps, recording).
    async fn send_all(
        &mut self,
        requests: Vec<Request>,
    ) -> Result<Vec<Result<Response, HttpError>>> {
        let now = self.meter.elapsed_millis();
        // The gate's answer for each request, or none for one that goes over the wire.
        let mut answered = Vec::with_capacity(requests.len());
        let mut outgoing = Vec::new();
        for request in requests {
            match self.begin_send(request, now) {
                Step::Answer(answer) => answered.push(Some(answer)),
                Step::Flood(budget) => return self.stop_now(Stop::Requests(budget)),
                Step::Send(request) => {
                    answered.push(None);
                    outgoing.push(request);
                }
            }
        }
        let wired = match self.wire.as_mut() {
            Some(wire) if !outgoing.is_empty() => {
                let entered = Instant::now();
                let wired = wire.send_all(&outgoing).await;
                self.meter.add_host_time(entered);
                wired
            }
            // Only replay has no wire, and replay answers in the gate.
            _ => Vec::new(),
        };
        let mut wired = outgoing.iter().zip(wired);
        Ok(answered
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| match wired.next() {
                    Some((outgoing, answer)) => self.session.end_send(outgoing, answer),
                    None => Err(GateError::Aborted),
                })
            })
            .map(wit_answer)
            .collect())
    }
}

/// The gate's answer as the WIT carries it.
fn wit_answer(
    answer: std::result::Result<iam_gate::wire::IncomingResponse, GateError>,
) -> std::result::Result<Response, HttpError> {
    match answer {
        Ok(response) => Ok(Response {
            status: response.status,
            headers: response
                .headers
                .into_iter()
                .map(|(name, value)| Header { name, value })
                .collect(),
            body: response.body,
        }),
        Err(error) => Err(match error {
            GateError::Denied(denial) => HttpError::Denied(wit_denial(denial)),
            GateError::Timeout => HttpError::Timeout,
            GateError::Transport(why) => HttpError::Transport(why),
            GateError::Tls(why) => HttpError::Tls(why),
            GateError::Protocol(why) => HttpError::Protocol(why),
            GateError::UnknownCredential(name) => HttpError::UnknownCredential(name),
            GateError::ResponseTooLarge(cap) => HttpError::ResponseTooLarge(cap),
            GateError::TooManyRequests(budget) => HttpError::TooManyRequests(budget),
            GateError::Aborted => HttpError::Aborted,
        }),
    }
}

fn wit_denial(denial: Denial) -> WitDenial {
    match denial {
        Denial::NotAbsolute { url, reason } => {
            WitDenial::NotAbsolute(UnparsableUrl { url, reason })
        }
        Denial::NoHost(url) => WitDenial::NoHost(url),
        Denial::OriginNotAllowed { origin, allowed } => {
            WitDenial::OriginNotAllowed(OriginRefusal { origin, allowed })
        }
        Denial::PlainHttp(origin) => WitDenial::PlainHttp(origin),
        Denial::UserInfo => WitDenial::UserInfo,
        Denial::PathChanges(path) => WitDenial::PathChanges(path),
        Denial::ForbiddenHeader(name) => WitDenial::ForbiddenHeader(name),
        Denial::MethodNotAllowed(method) => WitDenial::MethodNotAllowed(method),
        Denial::RequestTooLarge { size, cap } => {
            WitDenial::RequestTooLarge(SizeRefusal { size, cap })
        }
    }
}

impl ClockImports for StoreState {
    async fn sleep(&mut self, millis: u64) -> Result<()> {
        let now = self.meter.elapsed_millis();
        if let Wait::Sleep(_) = self.session.sleep(millis, now)
            && let Some(wire) = self.wire.as_mut()
        {
            let entered = Instant::now();
            wire.sleep(millis).await;
            self.meter.add_host_time(entered);
        }
        Ok(())
    }

    async fn now_millis(&mut self) -> Result<u64> {
        let real = match self.wire.as_mut() {
            Some(wire) => wire.now_millis(),
            None => system_now_millis(),
        };
        Ok(self.session.now_millis(real))
    }
}

impl LogImports for StoreState {
    async fn log(&mut self, level: LogLevel, message: String) -> Result<()> {
        let level = match level {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        // A guest cannot flood the host's memory through its log.
        if self.log.len() < MAX_LOG_LINES {
            self.log.push(LogLine {
                level,
                message: truncated(message),
            });
        }
        Ok(())
    }
}

impl PanicImports for StoreState {
    async fn panicked(&mut self, message: String) -> Result<()> {
        self.note_stop(Stop::Panicked(truncated(message)));
        Ok(())
    }

    async fn out_of_memory(&mut self, asked_bytes: u64) -> Result<()> {
        self.note_stop(Stop::Memory {
            limit_bytes: self.limits.memory_bytes as u64,
            asked_bytes,
        });
        Ok(())
    }

    async fn flooded(&mut self, budget: u32) -> Result<()> {
        self.note_stop(Stop::Requests(budget));
        Ok(())
    }
}

/// What this host answers to `platform.map-object`: only the XSOAR integration's Python
/// engine has a platform mapper.
pub const NO_PLATFORM_MAPPER: &str = "this host has no platform mapper";

impl PlatformImports for StoreState {
    async fn map_object(
        &mut self,
        _object: String,
        _mapper: String,
        _incident_type: String,
    ) -> Result<Result<String, String>> {
        Ok(Err(NO_PLATFORM_MAPPER.to_string()))
    }
}

/// A guest's text, cut to what the host keeps of one line.
fn truncated(mut message: String) -> String {
    if message.len() > MAX_LOG_LINE_BYTES {
        let mut end = MAX_LOG_LINE_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}
