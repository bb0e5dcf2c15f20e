//! The only `bindgen!` of the host: the `connector` world of `wit/iam.wit`.
//!
//! Imports are async (a command waiting on the network holds no thread) and trappable: a
//! guest that must be stopped (one that floods its request budget) becomes a trap, while
//! policy refusals stay typed `http-error` values. Exports are async.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "connector",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use exports::iam::atlassian::commands::{
    Description, EntryType as WitEntryType, Invocation as WitInvocation,
};
pub use iam::atlassian::clock::Host as ClockImports;
pub use iam::atlassian::http::{
    Denial as WitDenial, Header, Host as HttpImports, HttpError, OriginRefusal, Request, Response,
    SizeRefusal, UnparsableUrl,
};
pub use iam::atlassian::log::{Host as LogImports, LogLevel};
pub use iam::atlassian::panic::Host as PanicImports;
pub use iam::atlassian::platform::Host as PlatformImports;
