//! The wasmtime host of the Atlassian IAM component. It loads the component once, runs each
//! command in a fresh sandbox with the tenant's policy and limits, and carries its HTTP
//! through a [`Backend`] (replayed cassettes, or live servers).
//!
//! The host knows no command. It hands the component one invocation (the command's name,
//! the instance parameters with the token taken out, and the arguments) and gets back the
//! entry to print; the list of commands and the credential names come from the component's
//! `describe` (WIT `iam:atlassian@0.2.0`, `wit/iam.wit`). Adding a command changes no host.
//!
//! The public entry is [`Host`]: `Host::new(HostConfig)`, then `Host::run(&Invocation,
//! backend).await` from any number of tasks (or `run_blocking` from plain threads). The CLI
//! (`main.rs`) is a thin layer over it.
//!
//! Private modules: `engine` (Engine, cache, instantiation, traps), `store` (one command's
//! state), `imports` (the imports on it), `policy` (credentials, origin, headers) and
//! `bindings` (the only generated code).

pub mod artifact;
pub mod backend;
pub mod bench;
mod bindings;
pub mod cassette;
mod engine;
pub mod files;
mod imports;
pub mod limits;
mod policy;
mod redact;
pub mod scale;
mod store;
mod tenant;

use anyhow::Result;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use backend::Backend;
pub use bindings::Description;
pub use bindings::exports::iam::atlassian::commands::{CommandResult, GroupResult, UserResult};
pub use policy::{CREDENTIAL_NAME, Secret, split_secret};
pub use store::{GuestRequest, LogLine};

use bindings::{WitEntryType, WitInvocation};
use engine::{Runtime, Stop};
use limits::Limits;
use store::StoreState;
use tenant::Tenants;

/// One command to run: its name, the XSOAR instance parameters (token included) and the
/// arguments.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub command: String,
    pub params: Map<String, Value>,
    pub args: Map<String, Value>,
}

/// What kind of XSOAR entry a command printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    /// Type 1: a result (successful or failed).
    Note,
    /// Type 4: an error entry.
    Error,
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The entry to print.
    Entry {
        entry_type: EntryType,
        entry_json: String,
    },
    /// Replay failed: a request matched no interaction, or interactions were left unused.
    ReplayFailed(String),
}

/// A command's outcome and the diagnostics gathered while it ran.
#[derive(Debug, Clone)]
pub struct Report {
    pub outcome: Outcome,
    /// The typed result, for commands that have one and ended in a Type 1 entry.
    pub typed: Option<CommandResult>,
    /// The requests as the guest asked for them (before the host added the credential).
    pub guest_requests: Vec<GuestRequest>,
    pub log: Vec<LogLine>,
}

/// How a `Host` is set up.
#[derive(Debug, Clone)]
pub struct HostConfig {
    pub component: PathBuf,
    pub cache_dir: PathBuf,
    pub limits: Limits,
    /// The most commands this host runs at once, from 1 to [`MAX_IN_FLIGHT`]: one pooled
    /// sandbox each, all set up when the host starts. A command beyond it ends with a Type 4
    /// entry saying so.
    pub max_in_flight: u32,
}

/// The largest pool a host can have, and the one batches and workers use.
pub const MAX_IN_FLIGHT: u32 = engine::POOLED_INSTANCES;

/// The loaded component, ready to run commands for any tenant, from any thread.
pub struct Host {
    runtime: Runtime,
    limits: Limits,
    description: Description,
    /// The most linear memory any command has used, for the benchmark.
    peak_memory_bytes: AtomicUsize,
    /// The recent tenants' parameters, token and policy, prepared once each.
    tenants: Tenants,
}

impl Host {
    /// Load (or compile and cache) the component and read its description.
    pub fn new(config: HostConfig) -> Result<Host> {
        let runtime = Runtime::load(
            &config.component,
            &config.cache_dir,
            &config.limits,
            config.max_in_flight,
        )?;
        let description = runtime.describe(&config.limits)?;
        Ok(Host {
            runtime,
            limits: config.limits,
            description,
            peak_memory_bytes: AtomicUsize::new(0),
            tenants: Tenants::default(),
        })
    }

    /// The component's own description: its name, version, commands and credentials.
    pub fn description(&self) -> &Description {
        &self.description
    }

    /// Whether the component has a command of this name.
    pub fn has_command(&self, name: &str) -> bool {
        self.description.commands.iter().any(|c| c == name)
    }

    /// Run one command in a fresh sandbox, its HTTP carried by `backend`.
    pub async fn run(&self, invocation: &Invocation, mut backend: Box<dyn Backend>) -> Report {
        let tenant = self.tenants.get(&invocation.params);
        // behaviour.md §1: a token too short to scrub is a configuration error. Only the host
        // holds the token, so only the host can tell; the guest never runs.
        if let Some(problem) = &tenant.token_problem {
            let outcome = match backend.finish() {
                Err(unused) => Outcome::ReplayFailed(unused),
                Ok(()) => error_entry(problem.clone()),
            };
            return Report {
                outcome,
                typed: None,
                guest_requests: Vec::new(),
                log: Vec::new(),
            };
        }
        let wit = WitInvocation {
            json: invocation_json(&invocation.command, &tenant.params_json, &invocation.args),
            credential: tenant.token.as_ref().map(|_| CREDENTIAL_NAME.to_string()),
        };
        let state = StoreState::new(tenant.policy.clone(), self.limits, backend);
        let (mut store, connector) = match self.runtime.instantiate(state).await {
            Ok(instance) => instance,
            Err(stop) => {
                return Report {
                    outcome: stopped(&invocation.command, stop),
                    typed: None,
                    guest_requests: Vec::new(),
                    log: Vec::new(),
                };
            }
        };
        let called = connector
            .iam_atlassian_commands()
            .call_run(&mut store, &wit)
            .await;
        let (mut outcome, typed) = match called {
            Ok(outcome) => {
                let entry_type = match outcome.entry_type {
                    WitEntryType::Note => EntryType::Note,
                    WitEntryType::Error => EntryType::Error,
                };
                let entry = Outcome::Entry {
                    entry_type,
                    entry_json: outcome.entry_json,
                };
                (entry, outcome.typed)
            }
            Err(error) => (
                stopped(&invocation.command, engine::classify(&store, &error)),
                None,
            ),
        };
        let mut state = store.into_data();
        self.peak_memory_bytes
            .fetch_max(state.memory.peak_bytes, Ordering::Relaxed);
        if let Err(unused) = state.backend.finish()
            && !matches!(outcome, Outcome::ReplayFailed(_))
        {
            outcome = Outcome::ReplayFailed(unused);
        }
        Report {
            outcome,
            typed,
            guest_requests: state.guest_requests,
            log: state.log,
        }
    }

    /// `run` for callers without an async runtime (the CLI's `run`, tests, benchmarks): the
    /// command runs on a runtime of this thread's own. Not for use from inside an async task.
    pub fn run_blocking(&self, invocation: &Invocation, backend: Box<dyn Backend>) -> Report {
        thread_local! {
            static RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
        }
        RUNTIME.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok();
            }
            match slot.as_ref() {
                Some(runtime) => runtime.block_on(self.run(invocation, backend)),
                None => Report {
                    outcome: stopped(
                        &invocation.command,
                        Stop::Trapped("the host could not start an async runtime".into()),
                    ),
                    typed: None,
                    guest_requests: Vec::new(),
                    log: Vec::new(),
                },
            }
        })
    }

    /// The most linear memory (summed over the component's memories) any command has used.
    pub fn peak_memory_bytes(&self) -> usize {
        self.peak_memory_bytes.load(Ordering::Relaxed)
    }
}

/// The invocation as the component reads it (`invocation.json` in the WIT), compact:
/// `{"command":…,"params":…,"args":…}`, the parameters already serialised.
fn invocation_json(command: &str, params_json: &str, args: &Map<String, Value>) -> String {
    // Serialising a string or a map of JSON values cannot fail.
    let command = serde_json::to_string(command).unwrap_or_default();
    let args = serde_json::to_string(args).unwrap_or_default();
    let mut json = String::with_capacity(34 + command.len() + params_json.len() + args.len());
    json.push_str(r#"{"command":"#);
    json.push_str(&command);
    json.push_str(r#","params":"#);
    json.push_str(params_json);
    json.push_str(r#","args":"#);
    json.push_str(&args);
    json.push('}');
    json
}

/// Write one line to stderr. A closed or full stderr is nowhere to report to, and no reason
/// to panic (as `eprintln!` would): the exit status still says how the command ended.
pub fn diagnostic(line: &str) {
    use std::io::Write as _;
    let mut stderr = std::io::stderr().lock();
    writeln!(stderr, "{line}")
        .and_then(|()| stderr.flush())
        .ok();
}

/// A sandbox stop as an outcome: a replay fault, or a Type 4 entry naming the cause.
fn stopped(command: &str, stop: Stop) -> Outcome {
    match stop {
        Stop::Fault(why) => Outcome::ReplayFailed(why),
        Stop::Trapped(why) => error_entry(format!(
            "The {command} command was stopped by the host: {why}"
        )),
    }
}

/// A Type 4 entry the host writes itself, with the component's key order.
fn error_entry(contents: String) -> Outcome {
    Outcome::Entry {
        entry_type: EntryType::Error,
        entry_json: serde_json::json!({
            "Type": 4,
            "ContentsFormat": "text",
            "Contents": contents,
        })
        .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invocation_is_the_serialised_object_of_command_params_and_args() {
        let params = serde_json::json!({"url": "https://a.example", "n": [1, 2.5, "x"]});
        let args = serde_json::json!({"user-profile": "{\"email\": \"a@b\"}", "z": null});
        let (Value::Object(params), Value::Object(args)) = (params, args) else {
            unreachable!()
        };
        let expected = serde_json::json!({
            "command": "iam-get-user\u{1}\"",
            "params": params,
            "args": args,
        })
        .to_string();
        assert_eq!(
            invocation_json(
                "iam-get-user\u{1}\"",
                &serde_json::to_string(&params).unwrap_or_default(),
                &args
            ),
            expected
        );
    }
}
