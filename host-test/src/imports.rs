//! The component's imports, implemented on `StoreState`. `send` checks in a fixed order:
//! policy (origin, headers, credential), then the request budget, then the backend with the
//! size cap (Spin's `send_request`). Refusals are typed `http-error` values; only a host
//! fault (a replay mismatch) is a trap.

use wasmtime::Result;

use crate::backend::{BackendError, OutgoingRequest};
use crate::bindings::{Header, HostImports, HttpError, HttpImports, LogLevel, Request, Response};
use crate::store::{GuestRequest, LogLine, StoreState};

/// Log lines kept per command: a command logs a handful (one per retry).
const MAX_LOG_LINES: usize = 256;
/// Bytes kept of one log line.
const MAX_LOG_LINE_BYTES: usize = 2048;

impl HttpImports for StoreState {
    fn send(&mut self, request: Request) -> Result<Result<Response, HttpError>> {
        self.guest_requests.push(GuestRequest {
            method: request.method.clone(),
            url: request.url.clone(),
            headers: request.headers.iter().map(|h| (h.name.clone(), h.value.clone())).collect(),
            body: request.body.clone(),
            auth: request.auth.clone(),
        });
        // 1. Policy.
        let header_names: Vec<&str> = request.headers.iter().map(|h| h.name.as_str()).collect();
        let url = match self.policy.check(&request.url, &header_names) {
            Ok(url) => url,
            Err(why) => return Ok(Err(HttpError::Denied(why))),
        };
        let mut headers: Vec<(String, String)> = request.headers.into_iter().map(|h| (h.name, h.value)).collect();
        if let Some(name) = &request.auth {
            match self.policy.credential(name) {
                Some(secret) => headers.push(("Authorization".into(), format!("Bearer {}", secret.expose()))),
                None => return Ok(Err(HttpError::UnknownCredential(name.clone()))),
            }
        }
        if !matches!(request.method.as_str(), "GET" | "POST" | "PUT" | "PATCH" | "DELETE") {
            return Ok(Err(HttpError::Denied(format!("method {:?} is not allowed", request.method))));
        }
        // 2. Budget.
        if self.requests_made >= self.limits.max_requests {
            return Ok(Err(HttpError::TooManyRequests(self.limits.max_requests)));
        }
        self.requests_made += 1;
        // 3. The backend, under the size cap.
        let outgoing = OutgoingRequest {
            method: request.method,
            url,
            headers,
            body: request.body,
            timeout: self.limits.request_timeout(request.timeout_ms),
        };
        let cap = self.limits.response_bytes;
        match self.backend.send(&outgoing, cap) {
            Ok(response) if response.body.len() as u64 > cap => Ok(Err(HttpError::ResponseTooLarge(cap))),
            Ok(response) => Ok(Ok(Response {
                status: response.status,
                headers: response.headers.into_iter().map(|(name, value)| Header { name, value }).collect(),
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
        self.backend.sleep(millis);
        Ok(())
    }

    fn now_millis(&mut self) -> Result<u64> {
        Ok(self.backend.now_millis())
    }
}
