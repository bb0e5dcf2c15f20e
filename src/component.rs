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

use exports::iam::atlassian::commands::{
    CommandResult, Description, EntryType, GroupResult, Guest, Invocation, Outcome, UserResult,
};
use iam::atlassian::{host, http};

use crate::invocation::{self, TypedResult};
use crate::transport::{LogLevel, Request, Response, SendError, Transport};

struct Component;

export!(Component);

/// `Transport` over the host's `http.send`, `host.sleep`, `host.now-millis` and `host.log`.
struct WasmTransport;

impl Transport for WasmTransport {
    fn send(&mut self, request: &Request) -> Result<Response, SendError> {
        let headers: Vec<http::HeaderParam<'_>> = request
            .headers
            .iter()
            .map(|(name, value)| http::HeaderParam { name, value })
            .collect();
        let wit_request = http::Request {
            method: request.method.as_str(),
            url: &request.url,
            headers: &headers,
            body: request.body.as_deref(),
            auth: request.credential.as_deref(),
            timeout_ms: Some(crate::scim::REQUEST_TIMEOUT_MS),
        };
        match http::send(wit_request) {
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
                http::HttpError::Denied(why) => SendError::Denied(why),
                http::HttpError::Timeout => SendError::Timeout,
                http::HttpError::Transport(why) => SendError::Transport(why),
                http::HttpError::Tls(why) => SendError::Tls(why),
                http::HttpError::Protocol(why) => SendError::Protocol(why),
                http::HttpError::UnknownCredential(name) => SendError::UnknownCredential(name),
                http::HttpError::ResponseTooLarge(cap) => SendError::ResponseTooLarge(cap),
                http::HttpError::TooManyRequests(budget) => SendError::TooManyRequests(budget),
            }),
        }
    }

    fn sleep(&mut self, millis: u64) {
        host::sleep(millis);
    }

    fn now_millis(&mut self) -> u64 {
        host::now_millis()
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        let level = match level {
            LogLevel::Debug => host::LogLevel::Debug,
            LogLevel::Info => host::LogLevel::Info,
            LogLevel::Warn => host::LogLevel::Warn,
            LogLevel::Error => host::LogLevel::Error,
        };
        host::log(level, message);
    }
}

fn typed(result: TypedResult) -> CommandResult {
    match result {
        TypedResult::User(user) => CommandResult::User(UserResult {
            action: user.action.as_str().to_string(),
            success: user.success,
            active: user.active,
            id: user.id,
            username: user.username,
            email: user.email,
            error_code: user.error_code,
            error_message: user.error_message,
            skipped: user.skipped,
            reason: user.reason,
        }),
        TypedResult::Group(group) => CommandResult::Group(GroupResult {
            success: group.success,
            id: group.id,
            display_name: group.display_name,
            error_code: group.error_code,
            error_message: group.error_message,
        }),
    }
}

/// Send a panic's message to the host's log: without WASI there is no stderr, so the standard
/// hook would print it nowhere. The host names it in the Type 4 entry (its `engine.rs`).
fn report_panics_to_the_host() {
    std::panic::set_hook(Box::new(|info| {
        // "panicked at src/x.rs:1:2:" and the message on the next line, as std prints it.
        host::log(host::LogLevel::Error, &info.to_string());
    }));
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
            typed: outcome.result.map(typed),
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
