//! The component's imports, implemented on `StoreState`. `send` hands the guest's request to
//! the gate's session (sizes, policy, budgets, replay), carries what the gate allows over the
//! wire under the time the gate gives it, and hands the answer back to the gate (scrubbing,
//! caps, recording). Refusals are typed `http-error` values; a guest that ignores its
//! refusals is stopped (a trap), as is one that panics or runs out of memory (`panic`).
//!
//! Time spent waiting in `send` and `sleep` is metered so that it counts against the
//! wall-clock budget (the gate's) and not against the CPU limit (the engine's).

use std::time::Instant;
use wasmtime::Result;

use iam_gate::policy::Denial;
use iam_gate::session::{GuestRequest, HttpError as GateError, Step, Wait};
use iam_gate::stop::Stop;

use crate::backend::{BackendError, system_now_millis};
use crate::bindings::{
    ClockImports, Header, HttpError, HttpImports, LogImports, LogLevel, OriginRefusal,
    PanicImports, Request, Response, SizeRefusal, UnparsableUrl, WitDenial,
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

impl HttpImports for StoreState {
    async fn send(&mut self, request: Request) -> Result<Result<Response, HttpError>> {
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
        let now = self.meter.elapsed_millis();
        let kept = (self.guest_requests.len() < MAX_RECORDED_REQUESTS).then(|| asked.clone());
        let step = self.session.begin_send(asked, now);
        if let Some(kept) = kept {
            self.note_request(kept, &step);
        }
        let outgoing = match step {
            Step::Answer(answer) => return Ok(wit_answer(answer)),
            Step::Flood(budget) => return self.stop_now(Stop::Requests(budget)),
            Step::Send(outgoing) => outgoing,
        };
        let Some(wire) = self.wire.as_mut() else {
            // Only replay has no wire, and replay answers in the gate.
            return Ok(Err(HttpError::Aborted));
        };
        // The backend, given no more time than the gate allows; the host holds it to that,
        // whether or not the backend honours it. Outside a tokio runtime (a replay driven by
        // another executor) there is no timer, and nothing that could stall.
        let entered = Instant::now();
        let sending = wire.send(&outgoing, outgoing.max_response_bytes);
        let answer = if tokio::runtime::Handle::try_current().is_ok() {
            tokio::time::timeout(outgoing.timeout, sending)
                .await
                .unwrap_or(Err(BackendError::Timeout))
        } else {
            sending.await
        };
        self.meter.add_host_time(entered);
        Ok(wit_answer(self.session.end_send(&outgoing, answer)))
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
