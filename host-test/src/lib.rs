//! The wasmtime host of the Atlassian IAM component. It loads the component once, runs each
//! command in a fresh sandbox with the tenant's limits, and carries its HTTP as [`Http`] says
//! (replayed cassettes, live servers, recordings). The host contract itself (secrets, request
//! policy, scrubbing, budgets, replay, recording, the "stopped by the host" entry) is the
//! gate's (`host-test/gate`), linked here natively.
//!
//! The host knows no command. It hands the component one invocation (the command's name,
//! the instance parameters with the token taken out, and the arguments) and gets back the
//! entry to print; the list of commands and the credential names come from the component's
//! `describe` (WIT `iam:atlassian@0.4.0`, `wit/iam.wit`). Adding a command changes no host.
//!
//! The public entry is [`Host`]: `Host::new(HostConfig)`, then `Host::run(&Invocation,
//! http).await` from any number of tasks (or `run_blocking` from plain threads). The CLI
//! (`main.rs`) is a thin layer over it.
//!
//! Private modules: `engine` (Engine, cache, instantiation, traps), `store` (one command's
//! state), `imports` (the imports on it), `tenant` (prepared tenants) and `bindings` (the only
//! generated code).

pub mod backend;
mod bindings;
mod cache;
mod engine;
pub mod files;
mod imports;
pub mod limits;
#[cfg(feature = "native")]
pub mod native;
mod store;
mod tenant;
mod trap;

use anyhow::Result;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use iam_gate::cassette::Cassette;
use iam_gate::replay::Replay;
use iam_gate::session::Mode;
use iam_gate::stop::stopped_entry;
use iam_gate::tenant::Begun;

pub use backend::{Backend, Http};
pub use bindings::Description;
pub use iam_gate::stop::Stop;
pub use store::{GuestRequest, LogLine};

use backend::system_now_millis;
use bindings::{WitEntryType, WitInvocation};
use engine::Runtime;
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
    /// The requests as the guest asked for them (before the host added the credential).
    pub guest_requests: Vec<GuestRequest>,
    pub log: Vec<LogLine>,
    /// The exchanges of a recorded command (`Http::Record`), the token redacted.
    pub recording: Option<Cassette>,
    /// Why the host stopped the command, when it did (the outcome is then its entry).
    pub stop: Option<Stop>,
}

impl Report {
    /// A report of an outcome the sandbox never got to.
    fn of(outcome: Outcome) -> Report {
        Report {
            outcome,
            guest_requests: Vec::new(),
            log: Vec::new(),
            recording: None,
            stop: None,
        }
    }

    /// The report of a command the host stopped before it ended.
    fn stopped(command: &str, stop: Stop) -> Report {
        Report {
            stop: Some(stop.clone()),
            ..Report::of(Outcome::stopped(command, &stop))
        }
    }
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
    /// What loading the component did not stop at but its user should know.
    warnings: Vec<String>,
}

impl Host {
    /// Load (or compile and cache) the component and read its description.
    pub fn new(config: HostConfig) -> Result<Host> {
        let mut warnings = Vec::new();
        let runtime = Runtime::load(
            &config.component,
            &config.cache_dir,
            &config.limits,
            config.max_in_flight,
            &mut warnings,
        )?;
        let description = runtime.describe(&config.limits)?;
        Ok(Host {
            runtime,
            limits: config.limits,
            peak_memory_bytes: AtomicUsize::new(0),
            tenants: Tenants::new(description.credentials.clone()),
            description,
            warnings,
        })
    }

    /// What loading the component did not stop at but its user should know (a damaged cache
    /// compiled afresh, a cache that could not be written): the host library prints nothing.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The component's own description: its name, version, commands and credentials.
    pub fn description(&self) -> &Description {
        &self.description
    }

    /// Whether the component has a command of this name.
    pub fn has_command(&self, name: &str) -> bool {
        self.description.commands.iter().any(|c| c == name)
    }

    /// Run one command in a fresh sandbox, its HTTP carried as `http` says.
    pub async fn run(&self, invocation: &Invocation, http: Http) -> Report {
        let tenant = self.tenants.get(&invocation.params);
        let (mode, wire) = match http {
            Http::Replay(cassette) => (
                Mode::Replay(Replay::shared(cassette, system_now_millis())),
                None,
            ),
            Http::Live(wire) => (Mode::Live, Some(wire)),
            Http::Record(wire) => (Mode::Record(Default::default()), Some(wire)),
        };
        let begun = tenant.begin(
            &invocation.command,
            &invocation.args,
            self.limits.budget(),
            mode,
            0,
        );
        let (session, invocation_json) = match begun {
            Begun::Run {
                session,
                invocation_json,
            } => (session, invocation_json),
            Begun::Refused {
                entry_json,
                finished,
            } => {
                let outcome = match finished.replay_failure {
                    Some(unused) => Outcome::ReplayFailed(unused),
                    None => Outcome::error(entry_json),
                };
                return Report {
                    recording: finished.recording,
                    ..Report::of(outcome)
                };
            }
        };
        let wit = WitInvocation {
            json: invocation_json,
            credential: tenant.credential.clone(),
        };
        let state = StoreState::new(session, wire, self.limits);
        let (mut store, connector) = match self.runtime.instantiate(state).await {
            Ok(instance) => instance,
            Err(stop) => return Report::stopped(&invocation.command, stop),
        };
        let called = connector
            .iam_atlassian_commands()
            .call_run(&mut store, &wit)
            .await;
        let (outcome, stop) = match called {
            Ok(outcome) => (
                Outcome::Entry {
                    entry_type: match outcome.entry_type {
                        WitEntryType::Note => EntryType::Note,
                        WitEntryType::Error => EntryType::Error,
                    },
                    entry_json: outcome.entry_json,
                },
                None,
            ),
            Err(error) => {
                let stop = trap::classify(&store, &error);
                (Outcome::stopped(&invocation.command, &stop), Some(stop))
            }
        };
        let state = store.into_data();
        self.peak_memory_bytes
            .fetch_max(state.memory.peak_bytes, Ordering::Relaxed);
        let finished = state.session.finish();
        Report {
            outcome: match finished.replay_failure {
                Some(failure) => Outcome::ReplayFailed(failure),
                None => outcome,
            },
            guest_requests: state.guest_requests,
            log: state.log,
            recording: finished.recording,
            stop,
        }
    }

    /// `run` for callers without an async runtime (the CLI's `run`, tests, benchmarks): the
    /// command runs on a runtime of this thread's own. Not for use from inside an async task.
    pub fn run_blocking(&self, invocation: &Invocation, http: Http) -> Report {
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
                Some(runtime) => runtime.block_on(self.run(invocation, http)),
                None => Report::of(Outcome::stopped(
                    &invocation.command,
                    &Stop::Trapped("the host could not start an async runtime".into()),
                )),
            }
        })
    }

    /// The most linear memory (summed over the component's memories) any command has used.
    pub fn peak_memory_bytes(&self) -> usize {
        self.peak_memory_bytes.load(Ordering::Relaxed)
    }
}

impl Outcome {
    /// A Type 4 entry.
    fn error(entry_json: String) -> Outcome {
        Outcome::Entry {
            entry_type: EntryType::Error,
            entry_json,
        }
    }

    /// The entry of a command the host stopped.
    fn stopped(command: &str, stop: &Stop) -> Outcome {
        Outcome::error(stopped_entry(command, stop))
    }
}

/// What the CLI's benchmark measures beneath a `Host`: the engine it builds and the `.cwasm`
/// cache it loads through. Not for embedders.
#[doc(hidden)]
pub mod internals {
    pub use crate::cache::load_cached;
    pub use crate::engine::engine;
}
