//! Scale-out: many commands for many tenants, from a file of jobs, on one machine (`batch`) or
//! on any number of machines pulling from NATS JetStream (`worker`, fed by `submit`). The
//! formats and exit codes are architecture.md's "Batch and scale-out contract".
//!
//! Every command still runs through [`Host::run`](iam_host::Host::run) in its own sandbox, with
//! the tenant's policy and limits; this module only decides which commands run, when, how
//! many at once, and where their results go. It knows no command and never reads a token
//! outside the tenant's instance parameters: tokens stay in the tenants file, never in a job,
//! a result, a log line or a NATS message.
//!
//! Modules, each using only those listed after it: [`cli`] (the `batch`, `worker` and `submit`
//! command lines), [`bench`] (the in-flight benchmark), [`worker`] and [`submit`] (the two
//! NATS sides), [`batch`] (one machine), [`nats`] (connection, streams, message ids),
//! [`runner`] (concurrency, per-tenant caps, shared clients), [`gate`] (a tenant's 429 pause),
//! [`progress`] (the bar or plain lines on stderr), [`output`] (appending results, resuming),
//! [`tenants`] (the tenants file), [`jobs`] (job lines, plan headers and result lines), and
//! [`audit`] (one line per request sent for a job, `--audit`).

pub mod audit;
pub mod auth;
pub mod batch;
pub mod bench;
pub mod cli;
pub mod gate;
pub mod jobs;
pub mod metrics;
pub mod nats;
pub mod output;
pub mod progress;
pub mod quarantine;
pub mod runner;
pub mod submit;
pub mod tenants;
#[cfg(test)]
pub(crate) mod testing;
pub mod worker;
