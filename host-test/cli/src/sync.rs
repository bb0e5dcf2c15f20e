//! `iam-host sync plan | apply | run` (sync.md §8): keep an Atlassian directory in a desired
//! state. The rules (mapping, matching, comparison, paging, safety) are the component's
//! `sync-plan` command; this side reads and writes the files, gives the command a budget fit
//! for a whole directory, and runs the plan's jobs with the batch machinery
//! (`scale::batch`, phase by phase, resumable, with `--audit`).
//!
//! Modules, each using only those listed after it: [`cli`] (the three command lines and how
//! each ends), [`bench`] (the sync benchmark: a 100,000-user loopback directory), [`apply`]
//! (a plan through `batch`), [`plan`] (the `sync-plan` command and the plan file),
//! [`instance`] (`--config` or `--tenants`/`--tenant`).

pub mod apply;
pub mod bench;
pub mod cli;
pub mod instance;
pub mod plan;
