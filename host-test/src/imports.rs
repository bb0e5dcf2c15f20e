//! The component's imports, implemented on `StoreState`. `send` is a fixed sequence of small
//! steps (Spin's `send_request`): the request's size, policy (URL, headers, method, then the
//! credential attached), the wall-clock budget, the request budget, the backend under the
//! time that is left, the tenant's secrets scrubbed from the answer, and the response's size.
//! Refusals are typed `http-error` values; a host fault (a replay mismatch) and a guest that
//! ignores its refusals are traps.
//!
//! The wall-clock limit bounds the time a command spends waiting in `send` and `sleep`, and
//! never kills a command that waits (behaviour.md §3): each request gets at most the time
//! that is left and answers `timeout` when it runs out; once the budget is spent, every
//! further request answers `timeout` at once and `sleep` returns at once, so the guest's
//! remaining retries end quickly in a failed result. That time is metered so that it counts
//! against the wall-clock budget and not against the CPU limit, which bounds the rest.

use std::time::Instant;
use wasmtime::Result;

use crate::backend::{BackendError, IncomingResponse, OutgoingRequest};
use crate::bindings::{Header, HostImports, HttpError, HttpImports, LogLevel, Request, Response};
use crate::limits::LimitHit;
use crate::policy::{GuestAsk, Refusal};
use crate::store::{GuestRequest, LogLine, StoreState};

/// Log lines kept per command: a command logs a handful (one per retry).
const MAX_LOG_LINES: usize = 256;
/// Bytes kept of one log line.
const MAX_LOG_LINE_BYTES: usize = 2048;
/// Requests refused for the spent budget before the sandbox ends: the connector stops at the
/// first refusal; a guest that sends this many more is looping, not handling an error.
const MAX_REFUSED_REQUESTS: u32 = 4;
/// Requests kept for the report: enough to show what a well-behaved guest asked, while a
/// guest looping on denied requests cannot grow the host's memory.
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
fn response_bytes(response: &IncomingResponse) -> u64 {
    let headers: usize = response
        .headers
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum();
    (headers + response.body.len()) as u64
}

impl StoreState {
    /// Step 1: a request larger than the cap is refused before the host copies anything.
    fn check_size(&self, request: &Request) -> Result<(), HttpError> {
        let size = request_bytes(request);
        let cap = self.limits.request_bytes;
        if size > cap {
            return Err(HttpError::Denied(format!(
                "the request of {size} bytes is larger than the host's cap of {cap} bytes"
            )));
        }
        Ok(())
    }

    /// Keep the request as the guest asked for it, for the report.
    fn note_request(&mut self, request: &Request) {
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
    }

    /// Step 3: the request budget. The first refusals are values the guest reports; a guest
    /// that ignores them is stopped.
    fn spend_request(&mut self) -> Result<Result<(), HttpError>> {
        if self.meter.requests_made >= self.limits.max_requests {
            self.meter.requests_refused += 1;
            if self.meter.requests_refused > MAX_REFUSED_REQUESTS {
                return self.stop(LimitHit::Requests);
            }
            return Ok(Err(HttpError::TooManyRequests(self.limits.max_requests)));
        }
        self.meter.requests_made += 1;
        Ok(Ok(()))
    }

    /// Step 5: the answer as the guest receives it: the tenant's secrets scrubbed (the
    /// backend's recording keeps it so), then the size cap.
    fn answer(
        &mut self,
        request: &OutgoingRequest,
        answer: Result<IncomingResponse, BackendError>,
    ) -> Result<Result<Response, HttpError>> {
        let cap = self.limits.response_bytes;
        let answer = match answer {
            Ok(response) => {
                let response = self.policy.scrub_response(response);
                self.backend.delivered(request, &response);
                Ok(response)
            }
            Err(error) => Err(self.policy.scrub_error(error)),
        };
        Ok(match answer {
            Ok(response) if response_bytes(&response) > cap => {
                Err(HttpError::ResponseTooLarge(cap))
            }
            Ok(response) => Ok(Response {
                status: response.status,
                headers: response
                    .headers
                    .into_iter()
                    .map(|(name, value)| Header { name, value })
                    .collect(),
                body: response.body,
            }),
            Err(BackendError::Timeout) => Err(HttpError::Timeout),
            Err(BackendError::Transport(why)) => Err(HttpError::Transport(why)),
            Err(BackendError::Tls(why)) => Err(HttpError::Tls(why)),
            Err(BackendError::Protocol(why)) => Err(HttpError::Protocol(why)),
            Err(BackendError::TooLarge) => Err(HttpError::ResponseTooLarge(cap)),
            Err(BackendError::Fault(why)) => {
                self.fault = Some(why.clone());
                return Err(wasmtime::Error::msg(why));
            }
        })
    }
}

impl HttpImports for StoreState {
    async fn send(&mut self, request: Request) -> Result<Result<Response, HttpError>> {
        if let Err(refused) = self.check_size(&request) {
            return Ok(Err(refused));
        }
        self.note_request(&request);
        let Request {
            method,
            url,
            headers,
            body,
            auth,
            timeout_ms,
        } = request;
        // 2. Policy: every check, then the credential.
        let ask = GuestAsk {
            method: &method,
            url: &url,
            headers: headers.into_iter().map(|h| (h.name, h.value)).collect(),
            auth: auth.as_deref(),
        };
        let allowed = match self.policy.authorize(ask) {
            Ok(allowed) => allowed,
            Err(Refusal::Denied(why)) => return Ok(Err(HttpError::Denied(why))),
            Err(Refusal::UnknownCredential(name)) => {
                return Ok(Err(HttpError::UnknownCredential(name)));
            }
        };
        // 3. The wall-clock budget: once it is spent, the answer is `timeout`, at once.
        let Some(wall_left) = self.meter.wall_left(&self.limits) else {
            return Ok(Err(HttpError::Timeout));
        };
        if let Err(refused) = self.spend_request()? {
            return Ok(Err(refused));
        }
        // 4. The backend, given no more time than the request's timeout and the command's
        // budget allow; the host holds it to that, whether or not the backend honours it.
        let timeout = self.limits.request_timeout(timeout_ms).min(wall_left);
        let outgoing = OutgoingRequest {
            method,
            url: allowed.url,
            headers: allowed.headers,
            body,
            timeout,
        };
        let cap = self.limits.response_bytes;
        let entered = Instant::now();
        let sending = self.backend.send(&outgoing, cap);
        // Outside a tokio runtime (a replay driven by another executor) there is no timer,
        // and nothing that could stall: replay answers at once.
        let answer = if tokio::runtime::Handle::try_current().is_ok() {
            tokio::time::timeout(timeout, sending)
                .await
                .unwrap_or(Err(BackendError::Timeout))
        } else {
            sending.await
        };
        self.meter.add_host_time(entered);
        self.answer(&outgoing, answer)
    }
}

impl HostImports for StoreState {
    async fn log(&mut self, level: LogLevel, message: String) -> Result<()> {
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

    async fn sleep(&mut self, millis: u64) -> Result<()> {
        // A wait that would end past the wall-clock budget is not begun: it would leave
        // nothing for the request after it, so the budget counts as spent and the guest's
        // next requests answer `timeout` at once.
        match self.meter.wall_left(&self.limits) {
            Some(left) if u128::from(millis) <= left.as_millis() => {}
            _ => {
                self.meter.spend_wall();
                return Ok(());
            }
        }
        let entered = Instant::now();
        self.backend.sleep(millis).await;
        self.meter.add_host_time(entered);
        Ok(())
    }

    async fn now_millis(&mut self) -> Result<u64> {
        Ok(self.backend.now_millis())
    }
}
