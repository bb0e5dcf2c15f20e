//! The only `bindgen!` of the host: the `connector` world of `wit/iam.wit`.
//!
//! Imports are async (a command waiting on the network holds no thread) and trappable: a
//! host fault (a replay mismatch, an exhausted limit that must end the sandbox) becomes a
//! trap, while policy refusals stay typed `http-error` values. Exports are async.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "connector",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use exports::iam::atlassian::commands::{
    Description, EntryType as WitEntryType, Invocation as WitInvocation,
};
pub use iam::atlassian::host::{Host as HostImports, LogLevel};
pub use iam::atlassian::http::{Header, Host as HttpImports, HttpError, Request, Response};
