//! `Limits`: what one command may use. One serde struct (`deny_unknown_fields`) with named
//! defaults, each with the reason for its size.

use serde::Deserialize;
use std::time::Duration;

/// Linear memory per command: the connector needs well under 2 MiB; 64 MiB leaves room for
/// large directory answers while a runaway guest stays small next to the host.
pub const DEFAULT_MEMORY_BYTES: usize = 64 << 20;
/// CPU per command: a command computes for microseconds; two seconds only stops a loop.
pub const DEFAULT_CPU_MILLIS: u64 = 2_000;
/// HTTP requests per command: the longest flow is lookup (2 with the e-mail fallback) and a
/// write, each retried at most 3 times: 16. 32 leaves headroom and stops a request flood.
pub const DEFAULT_MAX_REQUESTS: u32 = 32;
/// Response body cap: a SCIM user or list page is kilobytes; 10 MiB stops a hostile server.
pub const DEFAULT_RESPONSE_BYTES: u64 = 10 << 20;
/// Connect timeout for live requests: a healthy API answers a TCP handshake in milliseconds.
pub const DEFAULT_CONNECT_TIMEOUT_MILLIS: u64 = 10_000;
/// Overall timeout of one live request, whatever the guest asks for.
pub const DEFAULT_REQUEST_TIMEOUT_MILLIS: u64 = 30_000;

/// Per-command limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub memory_bytes: usize,
    pub cpu_millis: u64,
    pub max_requests: u32,
    pub response_bytes: u64,
    pub connect_timeout_millis: u64,
    pub request_timeout_millis: u64,
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
        }
    }
}

impl Limits {
    /// The timeout of one request: what the guest asks for, capped by the host.
    pub fn request_timeout(&self, asked_millis: Option<u32>) -> Duration {
        let cap = self.request_timeout_millis;
        Duration::from_millis(asked_millis.map_or(cap, |asked| u64::from(asked).min(cap)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_and_missing_ones_take_defaults() {
        let limits: Limits = serde_json::from_str(r#"{"max_requests": 3}"#).unwrap();
        assert_eq!(limits, Limits { max_requests: 3, ..Limits::default() });
        let err = serde_json::from_str::<Limits>(r#"{"max_request": 3}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `max_request`"));
    }

    #[test]
    fn the_guest_cannot_raise_the_request_timeout() {
        let limits = Limits::default();
        assert_eq!(limits.request_timeout(Some(1_000)), Duration::from_millis(1_000));
        assert_eq!(limits.request_timeout(Some(u32::MAX)), Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MILLIS));
        assert_eq!(limits.request_timeout(None), Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MILLIS));
    }
}
