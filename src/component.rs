//! The component adapter: the only file that names wit-bindgen's generated types. It turns
//! WIT records into core types and back, and implements `Transport` with the host's imports.
//! No logic lives here (as in Zed's `impl wit::Guest for Component`).

wit_bindgen::generate!({
    path: "wit",
    world: "connector",
    // Requests are passed to the host borrowed: nothing is copied to send them.
    ownership: Borrowing {
        duplicate_if_necessary: true
    },
});

// The package also holds the gate's worlds (wit/gate.wit), where `invocation` crosses in both
// directions, so wit-bindgen names the owned form `InvocationResult`.
use exports::iam::atlassian::commands::{
    Description, EntryType, Guest, InvocationResult as Invocation, Outcome,
};
use iam::atlassian::{clock, http, log, panic, platform};

use crate::invocation;
use crate::transport::{Denial, LogLevel, Request, Response, SendError, Transport};

struct Component;

export!(Component);

/// `Transport` over the imported `http.send`, `http.send-all`, `clock.sleep`,
/// `clock.now-millis`, `log.log` and `platform.map-object`.
struct WasmTransport;

/// A request's headers as the import borrows them.
fn header_params(request: &Request) -> Vec<http::HeaderParam<'_>> {
    request
        .headers
        .iter()
        .map(|(name, value)| http::HeaderParam { name, value })
        .collect()
}

/// A request as the import borrows it (its headers from [`header_params`]).
fn request_param<'a>(
    request: &'a Request,
    headers: &'a [http::HeaderParam<'a>],
) -> http::RequestParam<'a> {
    http::RequestParam {
        method: request.method.as_str(),
        url: &request.url,
        headers,
        body: request.body.as_deref(),
        auth: request.credential.as_deref(),
        timeout_ms: Some(crate::scim::REQUEST_TIMEOUT_MS),
    }
}

/// The host's answer as the core types carry it.
fn answer_of(answer: Result<http::Response, http::HttpError>) -> Result<Response, SendError> {
    match answer {
        Ok(response) => Ok(Response {
            status: response.status,
            headers: response
                .headers
                .into_iter()
                .map(|h| (h.name, h.value))
                .collect(),
            body: response.body,
        }),
        Err(error) => Err(match error {
            http::HttpError::Denied(denial) => SendError::Denied(denial_of(denial)),
            http::HttpError::Timeout => SendError::Timeout,
            http::HttpError::Transport(why) => SendError::Transport(why),
            http::HttpError::Tls(why) => SendError::Tls(why),
            http::HttpError::Protocol(why) => SendError::Protocol(why),
            http::HttpError::UnknownCredential(name) => SendError::UnknownCredential(name),
            http::HttpError::ResponseTooLarge(cap) => SendError::ResponseTooLarge(cap),
            http::HttpError::TooManyRequests(budget) => SendError::TooManyRequests(budget),
            http::HttpError::Aborted => SendError::Aborted,
        }),
    }
}

impl Transport for WasmTransport {
    fn send(&mut self, request: &Request) -> Result<Response, SendError> {
        let headers = header_params(request);
        answer_of(http::send(request_param(request, &headers)))
    }

    fn send_all(&mut self, requests: Vec<Request>) -> Vec<Result<Response, SendError>> {
        let headers: Vec<_> = requests.iter().map(header_params).collect();
        let params: Vec<_> = requests
            .iter()
            .zip(&headers)
            .map(|(request, headers)| request_param(request, headers))
            .collect();
        http::send_all(&params).into_iter().map(answer_of).collect()
    }

    fn map_object(
        &mut self,
        object: &str,
        mapper: &str,
        incident_type: &str,
    ) -> Result<String, String> {
        platform::map_object(object, mapper, incident_type)
    }

    fn sleep(&mut self, millis: u64) {
        clock::sleep(millis);
    }

    fn now_millis(&mut self) -> u64 {
        clock::now_millis()
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Debug => log::LogLevel::Debug,
            LogLevel::Info => log::LogLevel::Info,
            LogLevel::Warn => log::LogLevel::Warn,
            LogLevel::Error => log::LogLevel::Error,
        };
        log::log(level, message);
    }
}

fn denial_of(denial: http::Denial) -> Denial {
    match denial {
        http::Denial::NotAbsolute(bad) => Denial::NotAbsolute {
            url: bad.url,
            reason: bad.reason,
        },
        http::Denial::NoHost(url) => Denial::NoHost(url),
        http::Denial::OriginNotAllowed(refusal) => Denial::OriginNotAllowed {
            origin: refusal.origin,
            allowed: refusal.allowed,
        },
        http::Denial::PlainHttp(origin) => Denial::PlainHttp(origin),
        http::Denial::UserInfo => Denial::UserInfo,
        http::Denial::PathChanges(path) => Denial::PathChanges(path),
        http::Denial::ForbiddenHeader(name) => Denial::ForbiddenHeader(name),
        http::Denial::MethodNotAllowed(method) => Denial::MethodNotAllowed(method),
        http::Denial::RequestTooLarge(refusal) => Denial::RequestTooLarge {
            size: refusal.size,
            cap: refusal.cap,
        },
    }
}

/// Send a panic's message to the host through `panic.panicked`: without WASI there is no
/// stderr, so the standard hook would print it nowhere. The host names it in the Type 4 entry.
fn report_panics_to_the_host() {
    std::panic::set_hook(Box::new(|info| {
        // "panicked at src/x.rs:1:2:" and the message on the next line, as std prints it.
        panic::panicked(&info.to_string());
    }));
}

/// Tell the host that the allocator could not grow the linear memory by `more_bytes` (the
/// arena's fallback got nothing): the command is about to trap, and the host names the
/// memory limit in the entry.
pub fn report_out_of_memory(more_bytes: usize) {
    const PAGE_BYTES: u64 = 64 << 10;
    let current = core::arch::wasm32::memory_size(0) as u64 * PAGE_BYTES;
    panic::out_of_memory(current.saturating_add(more_bytes as u64));
}

impl Guest for Component {
    fn run(invocation: Invocation) -> Outcome {
        report_panics_to_the_host();
        let outcome = invocation::run(
            &invocation.json,
            invocation.credential.as_deref(),
            &mut WasmTransport,
        );
        Outcome {
            entry_type: match outcome.entry_type {
                invocation::EntryType::Note => EntryType::Note,
                invocation::EntryType::Error => EntryType::Error,
            },
            entry_json: outcome.entry_json,
        }
    }

    fn describe() -> Description {
        report_panics_to_the_host();
        let about = invocation::describe();
        Description {
            name: about.name.to_string(),
            version: about.version.to_string(),
            commands: about.commands.iter().map(|c| c.to_string()).collect(),
            origins: about.origins.iter().map(|o| o.to_string()).collect(),
            credentials: about.credentials.iter().map(|c| c.to_string()).collect(),
        }
    }
}
