//! The gate: the host's side of the Atlassian IAM component's contract, written once, in plain
//! Rust with no I/O. What every host must do, whatever its language, is here:
//!
//! * [`secret`]: the token taken out of the instance parameters under the credential names the
//!   component describes, the short-token check, and the instance's `insecure` and `proxy`
//!   flags, parsed once;
//! * [`policy`]: what a tenant's requests may reach (origin, loopback, the path as written,
//!   methods, headers), refusals as typed [`policy::Denial`]s, and the credential attached
//!   only after every check;
//! * [`redact`]: every form of the token scrubbed from answers;
//! * [`session`]: one command's request pipeline: sizes, policy, request and wall-clock
//!   budgets, the answer scrubbed and capped, replayed or recorded;
//! * [`cassette`], [`replay`], [`record`]: the cassette format, replay matching with its
//!   mismatch report, and recording with one redaction marker;
//! * [`stop`]: the "stopped by the host" Type 4 entry, written from a typed cause.
//!
//! The Rust host (`iam-host`) links this crate; `component/` builds it as Wasm, composed with
//! the connector, for every other host (wit/gate.wit).

pub mod cassette;
pub mod limits;
pub mod policy;
pub mod record;
pub mod redact;
pub mod replay;
pub mod secret;
pub mod session;
pub mod stop;
pub mod tenant;
pub mod wire;
