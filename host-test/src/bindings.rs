//! The only `bindgen!` of the host: the `connector` world of `wit/iam.wit`.
//!
//! Imports are trappable: a host fault (a replay mismatch, an exhausted limit that must end
//! the sandbox) becomes a trap, while policy refusals stay typed `http-error` values.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "connector",
    imports: { default: trappable },
});

pub use exports::iam::atlassian::commands::{Config as WitConfig, ErrorEntry, IamResult};
pub use iam::atlassian::host::{Host as HostImports, LogLevel};
pub use iam::atlassian::http::{Header, Host as HttpImports, HttpError, Request, Response};
