//! The connector's native core behind the gate, without the sandbox: the same tenant split,
//! policy, budgets, scrubbing and replay as a sandboxed command, over the guest library's own
//! entry point (`atlassian_iam::invocation::run`, which the component's adapter also calls).
//! The benchmark's native figure and the native run of every case use it, so that a
//! difference from the component is logic in the adapter or the engine, where there must be
//! none.

use serde_json::{Map, Value};
use std::sync::Arc;

use atlassian_iam::invocation::{self, EntryType};
use atlassian_iam::transport::{Denial, LogLevel, Request, Response, SendError, Transport};
use iam_gate::policy::Denial as GateDenial;
use iam_gate::replay::{PreparedCassette, Replay};
use iam_gate::session::{GuestRequest, HttpError, Mode, Session, Step, Wait};

use iam_gate::tenant::{Begun, Tenant};

use crate::backend::system_now_millis;
use crate::limits::Limits;

/// How a native run ended: the entry (and whether it is of Type 4), or the replay failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeOutcome {
    Entry { is_error: bool, entry_json: String },
    ReplayFailed(String),
}

/// A tenant prepared once, to run commands natively against replayed cassettes.
pub struct NativeTenant {
    tenant: Tenant,
    limits: Limits,
}

impl NativeTenant {
    /// The tenant of these instance parameters (token included), under `limits`.
    pub fn new(params: &Map<String, Value>, limits: Limits) -> NativeTenant {
        let credentials = [invocation::CREDENTIAL_NAME.to_string()];
        NativeTenant {
            tenant: Tenant::prepare(params, &credentials),
            limits,
        }
    }

    /// Run `command` with `args`, answering from `cassette`.
    pub fn run(
        &self,
        command: &str,
        args: &Map<String, Value>,
        cassette: Arc<PreparedCassette>,
    ) -> NativeOutcome {
        let replay = Replay::shared(cassette, system_now_millis());
        let mode = Mode::Replay(replay);
        let (entry, finished) =
            match self
                .tenant
                .begin(command, args, self.limits.budget(), mode, 0)
            {
                Begun::Refused {
                    entry_json,
                    finished,
                } => (
                    NativeOutcome::Entry {
                        is_error: true,
                        entry_json,
                    },
                    finished,
                ),
                Begun::Run {
                    session,
                    invocation_json,
                } => {
                    let mut transport = GateTransport { session };
                    let credential = self.tenant.credential.as_deref();
                    let outcome = invocation::run(&invocation_json, credential, &mut transport);
                    let entry = NativeOutcome::Entry {
                        is_error: outcome.entry_type == EntryType::Error,
                        entry_json: outcome.entry_json,
                    };
                    (entry, transport.session.finish())
                }
            };
        match finished.replay_failure {
            Some(failure) => NativeOutcome::ReplayFailed(failure),
            None => entry,
        }
    }
}

/// The guest's `Transport` over a gate session in replay mode: virtual time, no wire.
struct GateTransport {
    session: Session,
}

impl Transport for GateTransport {
    fn send(&mut self, request: &Request) -> Result<Response, SendError> {
        let asked = GuestRequest {
            method: request.method.as_str().to_string(),
            url: request.url.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
            auth: request.credential.clone(),
            timeout_ms: Some(atlassian_iam::scim::REQUEST_TIMEOUT_MS),
        };
        let answer = match self.session.begin_send(asked, 0) {
            Step::Answer(answer) => answer,
            // A replayed command never reaches the wire; a flood ends like a refusal here.
            Step::Send(_) | Step::Flood(_) => Err(HttpError::Aborted),
        };
        answer
            .map(|response| Response {
                status: response.status,
                headers: response.headers,
                body: response.body,
            })
            .map_err(send_error)
    }

    fn sleep(&mut self, millis: u64) {
        // Replay's clock is virtual: the gate moves it, nothing waits.
        let _: Wait = self.session.sleep(millis, 0);
    }

    fn now_millis(&mut self) -> u64 {
        self.session.now_millis(system_now_millis())
    }

    fn log(&mut self, _level: LogLevel, _message: &str) {}
}

/// The gate's refusal as the guest's transport reports it (what the WIT carries).
fn send_error(error: HttpError) -> SendError {
    match error {
        HttpError::Denied(denial) => SendError::Denied(match denial {
            GateDenial::NotAbsolute { url, reason } => Denial::NotAbsolute { url, reason },
            GateDenial::NoHost(url) => Denial::NoHost(url),
            GateDenial::OriginNotAllowed { origin, allowed } => {
                Denial::OriginNotAllowed { origin, allowed }
            }
            GateDenial::PlainHttp(origin) => Denial::PlainHttp(origin),
            GateDenial::UserInfo => Denial::UserInfo,
            GateDenial::PathChanges(path) => Denial::PathChanges(path),
            GateDenial::ForbiddenHeader(name) => Denial::ForbiddenHeader(name),
            GateDenial::MethodNotAllowed(method) => Denial::MethodNotAllowed(method),
            GateDenial::RequestTooLarge { size, cap } => Denial::RequestTooLarge { size, cap },
        }),
        HttpError::Timeout => SendError::Timeout,
        HttpError::Transport(why) => SendError::Transport(why),
        HttpError::Tls(why) => SendError::Tls(why),
        HttpError::Protocol(why) => SendError::Protocol(why),
        HttpError::UnknownCredential(name) => SendError::UnknownCredential(name),
        HttpError::ResponseTooLarge(cap) => SendError::ResponseTooLarge(cap),
        HttpError::TooManyRequests(budget) => SendError::TooManyRequests(budget),
        HttpError::Aborted => SendError::Aborted,
    }
}
