//! The Atlassian IAM connector: Cortex XSOAR's "Atlassian IAM" integration (provision and
//! deprovision users, and sync groups, through Atlassian's SCIM 2.0 API), built as a
//! WebAssembly component.
//!
//! The logic is plain Rust over the [`transport::Transport`] trait, so it is tested natively;
//! `component` adapts it to the WIT world in `wit/iam.wit` when built for wasm (the host's
//! `artifact.rs` builds it for `wasm32-unknown-unknown` and makes it a component that imports
//! only that world: no WASI).
//!
//! Modules, from the adapter down:
//! - `component`: the only wit-bindgen file (wasm only).
//! - [`invocation`]: the contract a host sees: one invocation in, one outcome out, and
//!   `describe`; the only list of commands.
//! - [`commands`]: one function per user command (behaviour.md §4).
//! - [`groups`]: the four group commands (behaviour.md §8), their arguments and result.
//! - [`sync`]: `sync-plan`, the directory-sync plan (sync.md).
//! - [`scim`]: the SCIM client: URLs, filters, error messages; `scim::user` (reading and
//!   finding users) and `scim::retry` (the retry policy).
//! - [`mapper`]: the XSOAR mapper interpreter and the built-in SCIM mappers.
//! - [`entry`] and [`markdown`]: the XSOAR entry and its `tableToMarkdown` table.
//! - [`config`] and [`profile`]: the instance parameters, and the user commands' arguments
//!   and the lookup identifier a profile yields.
//! - [`transport`]: the host seam; [`error`]: what becomes an error entry; [`json`]: JSON
//!   text helpers.
//! - [`arena`]: the component's allocator, a bump arena in front of the system allocator.

pub mod arena;
pub mod commands;
pub mod config;
pub mod entry;
pub mod error;
pub mod groups;
pub mod invocation;
pub mod json;
pub mod mapper;
pub mod markdown;
pub mod profile;
pub mod scim;
pub mod sync;
pub mod transport;

#[cfg(target_arch = "wasm32")]
mod component;
