//! `Limits`: what one command may use. One serde struct (`deny_unknown_fields`) with named
//! defaults, each with the reason for its size, read only from a JSON object (never from an
//! array by position): every host reads a limits file through it. What enforces each limit
//! lives with the mechanism: memory and CPU in the host's wasm runtime, requests, sizes and
//! wall-clock time in the gate's session ([`Limits::budget`]).
//!
//! Memory, CPU and a guest that keeps sending after its request budget is spent end the
//! command (a Type 4 entry naming the limit). The wall-clock budget, the request timeouts, the
//! request budget itself and the size caps never end a command: the guest gets a `timeout`,
//! `too-many-requests`, `denied` or `response-too-large` error and reports a failed result.

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::fmt;
use std::time::Duration;

use crate::session::Budget;

/// Linear memory per command: the connector needs well under 2 MiB; 64 MiB leaves room for
/// large directory answers while a runaway guest stays small next to the host.
pub const DEFAULT_MEMORY_BYTES: usize = 64 << 20;
/// CPU per command: a command computes for microseconds; two seconds only stops a loop.
pub const DEFAULT_CPU_MILLIS: u64 = 2_000;
/// HTTP requests per command: a full 15,000-id iam-update-group is 150 PATCH requests, and
/// retries come on top (behaviour.md §8.2); 256 fits it and still stops a request flood.
pub const DEFAULT_MAX_REQUESTS: u32 = 256;
/// Response body cap: a SCIM user or list page is kilobytes; 10 MiB stops a hostile server.
pub const DEFAULT_RESPONSE_BYTES: u64 = 10 << 20;
/// Connect timeout for live requests: a healthy API answers a TCP handshake in milliseconds.
pub const DEFAULT_CONNECT_TIMEOUT_MILLIS: u64 = 10_000;
/// Overall timeout of one live request, whatever the guest asks for.
pub const DEFAULT_REQUEST_TIMEOUT_MILLIS: u64 = 30_000;
/// Wall-clock time per command, host calls included (the CPU limit does not count time the
/// guest spends blocked in `send` or `sleep`). The connector waits at most 30 s for retries
/// and a request at most 30 s: two minutes rides out a slow server, and no playbook step
/// hangs on a guest that sleeps or a backend that stalls.
pub const DEFAULT_WALL_MILLIS: u64 = 120_000;
/// Request size cap (URL, headers and body): a SCIM user, the largest thing the connector
/// sends, is kilobytes; 1 MiB keeps a hostile guest from making the host copy its memory.
pub const DEFAULT_REQUEST_BYTES: u64 = 1 << 20;

/// Per-command limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: usize,
    /// At least 1: a command with no CPU time could not even start.
    pub cpu_millis: u64,
    pub max_requests: u32,
    pub response_bytes: u64,
    pub connect_timeout_millis: u64,
    pub request_timeout_millis: u64,
    pub wall_millis: u64,
    pub request_bytes: u64,
}

/// The keys of a limits object, each optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsObject {
    memory_bytes: Option<usize>,
    cpu_millis: Option<u64>,
    max_requests: Option<u32>,
    response_bytes: Option<u64>,
    connect_timeout_millis: Option<u64>,
    request_timeout_millis: Option<u64>,
    wall_millis: Option<u64>,
    request_bytes: Option<u64>,
}

/// Only a map with known keys: serde's derive would also take an array and assign its items
/// by position (`[1048576, …, 0]` setting `wall_millis`), which no one writes on purpose.
impl<'de> Deserialize<'de> for Limits {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Limits, D::Error> {
        struct ObjectOnly;
        impl<'de> Visitor<'de> for ObjectOnly {
            type Value = Limits;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of limits (memory_bytes, cpu_millis, …)")
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Limits, M::Error> {
                let given = LimitsObject::deserialize(MapAccessDeserializer::new(map))?;
                let defaults = Limits::default();
                let limits = Limits {
                    memory_bytes: given.memory_bytes.unwrap_or(defaults.memory_bytes),
                    cpu_millis: given.cpu_millis.unwrap_or(defaults.cpu_millis),
                    max_requests: given.max_requests.unwrap_or(defaults.max_requests),
                    response_bytes: given.response_bytes.unwrap_or(defaults.response_bytes),
                    connect_timeout_millis: given
                        .connect_timeout_millis
                        .unwrap_or(defaults.connect_timeout_millis),
                    request_timeout_millis: given
                        .request_timeout_millis
                        .unwrap_or(defaults.request_timeout_millis),
                    wall_millis: given.wall_millis.unwrap_or(defaults.wall_millis),
                    request_bytes: given.request_bytes.unwrap_or(defaults.request_bytes),
                };
                if limits.cpu_millis == 0 {
                    return Err(de::Error::custom(
                        "cpu_millis must be at least 1: a command with no CPU time cannot run",
                    ));
                }
                Ok(limits)
            }
        }
        deserializer.deserialize_map(ObjectOnly)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: DEFAULT_MEMORY_BYTES,
            cpu_millis: DEFAULT_CPU_MILLIS,
            max_requests: DEFAULT_MAX_REQUESTS,
            response_bytes: DEFAULT_RESPONSE_BYTES,
            connect_timeout_millis: DEFAULT_CONNECT_TIMEOUT_MILLIS,
            request_timeout_millis: DEFAULT_REQUEST_TIMEOUT_MILLIS,
            wall_millis: DEFAULT_WALL_MILLIS,
            request_bytes: DEFAULT_REQUEST_BYTES,
        }
    }
}

impl Limits {
    /// The limits a limits file's JSON text gives; the error is serde's, for the host to
    /// prefix with the file's name.
    pub fn parse(text: &str) -> Result<Limits, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The budgets the gate enforces for each command.
    pub fn budget(&self) -> Budget {
        Budget {
            max_requests: self.max_requests,
            request_bytes: self.request_bytes,
            response_bytes: self.response_bytes,
            request_timeout_millis: self.request_timeout_millis,
            wall_millis: self.wall_millis,
        }
    }

    pub fn cpu(&self) -> Duration {
        Duration::from_millis(self.cpu_millis)
    }

    pub fn wall(&self) -> Duration {
        Duration::from_millis(self.wall_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_and_missing_ones_take_defaults() {
        let limits: Limits = serde_json::from_str(r#"{"max_requests": 3}"#).unwrap();
        assert_eq!(
            limits,
            Limits {
                max_requests: 3,
                ..Limits::default()
            }
        );
        let err = serde_json::from_str::<Limits>(r#"{"max_request": 3}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `max_request`"));
    }

    #[test]
    fn limits_are_read_only_from_an_object() {
        // Regression: an array was read by position, `[…, 0]` setting wall_millis to 0.
        for text in [
            "[1048576, 1000, 8, 65536, 1000, 1000, 0, 65536]",
            "[]",
            "7",
            "\"wall_millis\"",
            "null",
        ] {
            let err = serde_json::from_str::<Limits>(text).unwrap_err();
            assert!(
                err.to_string().contains("a JSON object of limits"),
                "{text}: {err}"
            );
        }
        assert_eq!(
            serde_json::from_str::<Limits>("{}").unwrap(),
            Limits::default()
        );
    }

    #[test]
    fn no_cpu_time_is_refused() {
        let err = serde_json::from_str::<Limits>(r#"{"cpu_millis": 0}"#).unwrap_err();
        assert!(
            err.to_string().contains("cpu_millis must be at least 1"),
            "{err}"
        );
        assert_eq!(
            serde_json::from_str::<Limits>(r#"{"cpu_millis": 1}"#)
                .unwrap()
                .cpu_millis,
            1
        );
    }
}
