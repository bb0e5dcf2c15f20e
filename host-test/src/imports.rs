//! The component's imports, implemented on `StoreState`. `send` checks in a fixed order:
//! policy (request size, origin, headers, credential), then the request budget, then the
//! backend under the wall-clock limit and the response size cap (Spin's `send_request`).
//! Refusals are typed `http-error` values; a host fault (a replay mismatch) and a limit
//! overrun (a guest that ignores its refusals, or runs past its wall-clock time) are traps.
//! The time a guest spends blocked in `send` and `sleep` is metered, so that it counts
//! against the wall-clock limit and not against the CPU limit.

use std::time::Instant;
use wasmtime::Result;

use crate::backend::{BackendError, OutgoingRequest};
use crate::bindings::{Header, HostImports, HttpError, HttpImports, LogLevel, Request, Response};
use crate::limits::LimitHit;
use crate::store::{GuestRequest, LogLine, StoreState};

/// Log lines kept per command: a command logs a handful (one per retry).
const MAX_LOG_LINES: usize = 256;
/// Bytes kept of one log line.
const MAX_LOG_LINE_BYTES: usize = 2048;
/// Requests refused for the spent budget before the sandbox ends: the connector stops at the
/// first refusal; a guest that sends this many more is looping, not handling an error.
const MAX_REFUSED_REQUESTS: u32 = 4;
/// Requests kept for the report: twice the default budget shows everything a well-behaved
/// guest asked, while a guest looping on denied requests cannot grow the host's memory.
const MAX_RECORDED_REQUESTS: usize = 64;

/// Bytes of a request the host would copy: URL, headers and body.
fn request_bytes(request: &Request) -> u64 {
    let headers: usize = request
        .headers
        .iter()
        .map(|h| h.name.len() + h.value.len())
        .sum();
    let body = request.body.as_ref().map_or(0, String::len);
    (request.url.len() + headers + body) as u64
}

/// Bytes of a response the host would copy into the guest: headers and body.
fn response_bytes(headers: &[(String, String)], body: &[u8]) -> u64 {
    let headers: usize = headers
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    (headers + body.len()) as u64
}

impl HttpImports for StoreState {
    fn send(&mut self, request: Request) -> Result<Result<Response, HttpError>> {
        // 1. Policy. The size first, before the host copies anything of the request.
        let size = request_bytes(&request);
        if size > self.limits.request_bytes {
            let cap = self.limits.request_bytes;
            return Ok(Err(HttpError::Denied(format!(
                "the request of {size} bytes is larger than the host's cap of {cap} bytes"
            ))));
        }
        if self.guest_requests.len() < MAX_RECORDED_REQUESTS {
            self.guest_requests.push(GuestRequest {
                method: request.method.clone(),
                url: request.url.clone(),
                headers: request
                    .headers
                    .iter()
                    .map(|h| (h.name.clone(), h.value.clone()))
                    .collect(),
                body: request.body.clone(),
                auth: request.auth.clone(),
            });
        }
        let header_names: Vec<&str> = request.headers.iter().map(|h| h.name.as_str()).collect();
        let url = match self.policy.check(&request.url, &header_names) {
            Ok(url) => url,
            Err(why) => return Ok(Err(HttpError::Denied(why))),
        };
        let mut headers: Vec<(String, String)> = request
            .headers
            .into_iter()
            .map(|h| (h.name, h.value))
            .collect();
        if let Some(name) = &request.auth {
            match self.policy.credential(name) {
                Some(secret) => headers.push((
                    "Authorization".into(),
                    format!("Bearer {}", secret.expose()),
                )),
                None => return Ok(Err(HttpError::UnknownCredential(name.clone()))),
            }
        }
        if !matches!(
            request.method.as_str(),
            "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
        ) {
            return Ok(Err(HttpError::Denied(format!(
                "method {:?} is not allowed",
                request.method
            ))));
        }
        // 2. Budget. The first refusals are values the guest reports; ignoring them ends it.
        if self.meter.requests_made >= self.limits.max_requests {
            self.meter.requests_refused += 1;
            if self.meter.requests_refused > MAX_REFUSED_REQUESTS {
                return self.stop(LimitHit::Requests);
            }
            return Ok(Err(HttpError::TooManyRequests(self.limits.max_requests)));
        }
        self.meter.requests_made += 1;
        // 3. The backend, given no more time than the command has left (a backend that
        // honours its timeout thereby keeps the command within its wall-clock limit), then
        // the size cap.
        let Some(wall_left) = self.meter.wall_left(&self.limits) else {
            return self.stop(LimitHit::WallClock);
        };
        let outgoing = OutgoingRequest {
            method: request.method,
            url,
            headers,
            body: request.body,
            timeout: self
                .limits
                .request_timeout(request.timeout_ms)
                .min(wall_left),
        };
        let cap = self.limits.response_bytes;
        let entered = Instant::now();
        let answer = self.backend.send(&outgoing, cap);
        self.meter.add_host_time(entered);
        if !matches!(answer, Err(BackendError::Fault(_)))
            && self.meter.wall_left(&self.limits).is_none()
        {
            return self.stop(LimitHit::WallClock);
        }
        match answer {
            Ok(response) if response_bytes(&response.headers, &response.body) > cap => {
                Ok(Err(HttpError::ResponseTooLarge(cap)))
            }
            Ok(response) => Ok(Ok(Response {
                status: response.status,
                headers: response
                    .headers
                    .into_iter()
                    .map(|(name, value)| Header { name, value })
                    .collect(),
                body: response.body,
            })),
            Err(BackendError::Timeout) => Ok(Err(HttpError::Timeout)),
            Err(BackendError::Transport(why)) => Ok(Err(HttpError::Transport(why))),
            Err(BackendError::TooLarge) => Ok(Err(HttpError::ResponseTooLarge(cap))),
            Err(BackendError::Fault(why)) => {
                self.fault = Some(why.clone());
                Err(wasmtime::Error::msg(why))
            }
        }
    }
}

impl HostImports for StoreState {
    fn log(&mut self, level: LogLevel, message: String) -> Result<()> {
        let level = match level {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        // A guest cannot flood the host's memory through its log.
        if self.log.len() < MAX_LOG_LINES {
            let mut message = message;
            if message.len() > MAX_LOG_LINE_BYTES {
                let mut end = MAX_LOG_LINE_BYTES;
                while !message.is_char_boundary(end) {
                    end -= 1;
                }
                message.truncate(end);
                message.push('…');
            }
            self.log.push(LogLine { level, message });
        }
        Ok(())
    }

    fn sleep(&mut self, millis: u64) -> Result<()> {
        // A wait that would end past the wall-clock limit is not begun: the command could
        // only be stopped at its end.
        match self.meter.wall_left(&self.limits) {
            Some(left) if u128::from(millis) <= left.as_millis() => {}
            _ => return self.stop(LimitHit::WallClock),
        }
        let entered = Instant::now();
        self.backend.sleep(millis);
        self.meter.add_host_time(entered);
        Ok(())
    }

    fn now_millis(&mut self) -> Result<u64> {
        Ok(self.backend.now_millis())
    }
}
