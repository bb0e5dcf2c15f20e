//! The wasmtime host of the Atlassian IAM component: it loads the component once, runs each
//! command in a fresh sandbox with the tenant's policy and limits, and carries its HTTP
//! through a `Backend` (replayed cassettes, or live servers).
//!
//! The public entry is [`Host`]: `Host::new(HostConfig)`, then `Host::run(&Invocation, backend)`
//! from any number of threads. The CLI (`main.rs`) is a thin layer over it.
//!
//! Modules: [`engine`] (Engine, cache, instantiation, traps), [`imports`] (the imports on
//! [`store::StoreState`]), [`policy`] (allowlist, credentials), [`limits`], [`backend`]
//! (the HTTP backends), [`live`] (the live and recording backends), [`cassette`] (format
//! and matching), [`artifact`] (finding or building the component), and `bindings` (the
//! only generated code).

pub mod artifact;
pub mod backend;
pub mod bench;
mod bindings;
pub mod cassette;
pub mod engine;
mod imports;
pub mod limits;
pub mod live;
pub mod policy;
pub mod store;

use anyhow::Result;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use backend::Backend;
use bindings::WitConfig;
use engine::{Runtime, Stop};
use limits::Limits;
use policy::{Policy, Secret};
use store::{GuestRequest, LogLine, StoreState};

/// The reference under which the host keeps a tenant's access token.
pub const CREDENTIAL_NAME: &str = "access_token";

/// The commands of the connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    GetUser,
    CreateUser,
    UpdateUser,
    DisableUser,
    TestModule,
    GetMappingFields,
}

impl Command {
    pub const ALL: [Command; 6] = [
        Command::GetUser,
        Command::CreateUser,
        Command::UpdateUser,
        Command::DisableUser,
        Command::TestModule,
        Command::GetMappingFields,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Command::GetUser => "iam-get-user",
            Command::CreateUser => "iam-create-user",
            Command::UpdateUser => "iam-update-user",
            Command::DisableUser => "iam-disable-user",
            Command::TestModule => "test-module",
            Command::GetMappingFields => "get-mapping-fields",
        }
    }
}

impl FromStr for Command {
    type Err = String;
    fn from_str(name: &str) -> Result<Command, String> {
        Command::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Command::ALL.iter().map(|c| c.name()).collect();
                format!(
                    "unknown command {name:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// One command to run: the XSOAR instance parameters (token included) and the arguments.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub command: Command,
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
}

/// How a `Host` is set up.
#[derive(Debug, Clone)]
pub struct HostConfig {
    pub component: PathBuf,
    pub cache_dir: PathBuf,
    pub limits: Limits,
}

impl HostConfig {
    /// This repository's component (built when missing), the default cache and limits.
    pub fn with_default_component() -> Result<HostConfig> {
        Ok(HostConfig {
            component: artifact::ensure_default_component()?,
            cache_dir: artifact::default_cache_dir(),
            limits: Limits::default(),
        })
    }
}

/// The loaded component, ready to run commands for any tenant, from any thread.
pub struct Host {
    runtime: Runtime,
    limits: Limits,
    /// The most linear memory any command has used, for the benchmark.
    peak_memory_bytes: AtomicUsize,
}

impl Host {
    pub fn new(config: HostConfig) -> Result<Host> {
        let runtime = Runtime::load(&config.component, &config.cache_dir, &config.limits)?;
        Ok(Host {
            runtime,
            limits: config.limits,
            peak_memory_bytes: AtomicUsize::new(0),
        })
    }

    /// Run one command in a fresh sandbox, its HTTP carried by `backend`.
    pub fn run(&self, invocation: &Invocation, backend: Box<dyn Backend>) -> Report {
        let (params, token) = split_secret(&invocation.params);
        let policy = Policy::for_instance(
            params.get("url").and_then(Value::as_str),
            CREDENTIAL_NAME,
            token.clone(),
        );
        let config = WitConfig {
            params_json: Value::Object(params).to_string(),
            credential: token.map(|_| CREDENTIAL_NAME.to_string()),
        };
        let state = StoreState::new(policy, self.limits, backend);
        let (mut store, connector) = match self.runtime.instantiate(state) {
            Ok(instance) => instance,
            Err(stop) => {
                return Report {
                    outcome: stopped(invocation.command, stop),
                    guest_requests: Vec::new(),
                    log: Vec::new(),
                };
            }
        };
        let profile_json = invocation
            .args
            .get("user-profile")
            .filter(|v| !v.is_null())
            .map(Value::to_string);
        let allow_enable =
            atlassian_iam::profile::parse_allow_enable(invocation.args.get("allow-enable"));
        let commands = connector.iam_atlassian_commands();
        let profile = profile_json.as_deref();
        let called = match invocation.command {
            Command::GetUser => commands
                .call_get_user(&mut store, &config, profile)
                .map(iam_entry),
            Command::CreateUser => commands
                .call_create_user(&mut store, &config, profile, allow_enable)
                .map(iam_entry),
            Command::UpdateUser => commands
                .call_update_user(&mut store, &config, profile, allow_enable)
                .map(iam_entry),
            Command::DisableUser => commands
                .call_disable_user(&mut store, &config, profile)
                .map(iam_entry),
            Command::TestModule => commands
                .call_test_module(&mut store, &config)
                .map(|r| r.map_err(|e| e.entry_json)),
            Command::GetMappingFields => commands
                .call_get_mapping_fields(&mut store, &config)
                .map(|r| r.map(|m| m.entry_json).map_err(|e| e.entry_json)),
        };
        let mut outcome = match called {
            Ok(Ok(entry_json)) => Outcome::Entry {
                entry_type: EntryType::Note,
                entry_json,
            },
            Ok(Err(entry_json)) => Outcome::Entry {
                entry_type: EntryType::Error,
                entry_json,
            },
            Err(error) => stopped(invocation.command, engine::classify(&store, &error)),
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
            guest_requests: state.guest_requests,
            log: state.log,
        }
    }
}

impl Host {
    /// The most linear memory (summed over the component's memories) any command has used.
    pub fn peak_memory_bytes(&self) -> usize {
        self.peak_memory_bytes.load(Ordering::Relaxed)
    }
}

fn iam_entry(result: Result<bindings::IamResult, bindings::ErrorEntry>) -> Result<String, String> {
    result.map(|r| r.entry_json).map_err(|e| e.entry_json)
}

/// A sandbox stop as an outcome: a replay fault, or a Type 4 entry naming the cause.
fn stopped(command: Command, stop: Stop) -> Outcome {
    match stop {
        Stop::Fault(why) => Outcome::ReplayFailed(why),
        Stop::Trapped(why) => Outcome::Entry {
            entry_type: EntryType::Error,
            entry_json: serde_json::json!({
                "Type": 4,
                "ContentsFormat": "text",
                "Contents": format!("The {} command was stopped by the host: {why}", command.name()),
            })
            .to_string(),
        },
    }
}

/// Take the token out of the instance parameters: `access_token_creds.password` when
/// non-empty, else `access_token` (behaviour.md §1). Both keys are removed either way.
pub fn split_secret(params: &Map<String, Value>) -> (Map<String, Value>, Option<Secret>) {
    let mut rest = params.clone();
    let creds = rest.shift_remove("access_token_creds");
    let plain = rest.shift_remove("access_token");
    let from_creds = creds
        .as_ref()
        .and_then(|c| c.get("password"))
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty());
    let from_plain = plain
        .as_ref()
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty());
    let token = from_creds.or(from_plain).map(Secret::new);
    (rest, token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_token_is_taken_out_of_the_parameters_and_creds_win() {
        let params = json!({"url": "u", "access_token": "plain", "access_token_creds": {"password": "creds"}});
        let (rest, token) = split_secret(params.as_object().unwrap());
        assert_eq!(Value::Object(rest), json!({"url": "u"}));
        assert_eq!(token.map(|t| t.expose().to_string()), Some("creds".into()));
        let params = json!({"access_token": "plain", "access_token_creds": {"password": ""}});
        assert_eq!(
            split_secret(params.as_object().unwrap())
                .1
                .map(|t| t.expose().to_string()),
            Some("plain".into())
        );
        assert!(
            split_secret(json!({"access_token": 5}).as_object().unwrap())
                .1
                .is_none()
        );
    }

    #[test]
    fn command_names_round_trip() {
        for command in Command::ALL {
            assert_eq!(command.name().parse::<Command>(), Ok(command));
        }
        assert!(
            "iam-delete-user"
                .parse::<Command>()
                .unwrap_err()
                .contains("expected one of iam-get-user")
        );
    }
}
