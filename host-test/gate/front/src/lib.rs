//! The gate's front as a Wasm component (world `gate-front` of wit/gate.wit): the one call a
//! host makes. `run` opens the command in the gate's core (which takes the token and keeps
//! it), runs the connector with the invocation the core gives back, and closes the command.
//! `stopped` words the entry of a command the host had to stop, `read-limits` reads a
//! limits file. The rules are the `iam-gate` library's.

#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "gate-front",
});

use exports::iam::atlassian::gate::{
    Budget, Description, Guest, Limits, Mode, Report, Setup, Stop,
};
use iam::atlassian::{commands, session};

use iam_gate::limits::Limits as GateLimits;
use iam_gate::stop::{Stop as GateStop, stopped_entry};

struct Front;

export!(Front);

impl Guest for Front {
    fn read_limits(json: Option<String>) -> Result<Limits, String> {
        let limits = match json {
            Some(text) => GateLimits::parse(&text).map_err(|e| e.to_string())?,
            None => GateLimits::default(),
        };
        let budget = limits.budget();
        Ok(Limits {
            memory_bytes: limits.memory_bytes as u64,
            cpu_millis: limits.cpu_millis,
            connect_timeout_ms: limits.connect_timeout_millis,
            budget: Budget {
                max_requests: budget.max_requests,
                request_bytes: budget.request_bytes,
                response_bytes: budget.response_bytes,
                request_timeout_ms: budget.request_timeout_millis,
                wall_ms: budget.wall_millis,
            },
        })
    }

    fn run(setup: Setup) -> Result<Report, String> {
        let credentials = commands::describe().credentials;
        let mode = match setup.mode {
            Mode::Replay(text) => session::Mode::Replay(text),
            Mode::Live => session::Mode::Live,
            Mode::Recording => session::Mode::Recording,
        };
        let budget = session::Budget {
            max_requests: setup.budget.max_requests,
            request_bytes: setup.budget.request_bytes,
            response_bytes: setup.budget.response_bytes,
            request_timeout_ms: setup.budget.request_timeout_ms,
            wall_ms: setup.budget.wall_ms,
        };
        let opened = session::begin(
            &setup.command,
            &setup.config_json,
            &setup.args_json,
            &mode,
            budget,
            &credentials,
        );
        let closed = match opened {
            Ok(opened) => {
                let outcome = commands::run(&commands::Invocation {
                    json: opened.invocation_json,
                    credential: opened.credential,
                });
                let is_error = matches!(outcome.entry_type, commands::EntryType::Error);
                session::finish(is_error, &outcome.entry_json)
            }
            Err(session::Refused::Closed(closed)) => closed,
            Err(session::Refused::Unusable(why)) => return Err(why),
        };
        Ok(Report {
            is_error: closed.is_error,
            entry_json: closed.entry_json,
            replay_failure: closed.replay_failure,
            recording_json: closed.recording_json,
        })
    }

    fn stopped(command: String, cause: Stop) -> String {
        let cause = match cause {
            Stop::Panicked(message) => GateStop::Panicked(message),
            Stop::Memory(memory) => GateStop::Memory {
                limit_bytes: memory.limit_bytes,
                asked_bytes: memory.asked_bytes,
            },
            Stop::Cpu(millis) => GateStop::Cpu(millis),
            Stop::Requests(budget) => GateStop::Requests(budget),
            Stop::Trapped(why) => GateStop::Trapped(why),
        };
        stopped_entry(&command, &cause)
    }

    fn describe() -> Description {
        let about = commands::describe();
        Description {
            name: about.name,
            version: about.version,
            commands: about.commands,
            origins: about.origins,
            credentials: about.credentials,
        }
    }
}
