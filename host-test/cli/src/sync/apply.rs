//! Applying a plan (sync.md §8): the plan's header checked against the instance (a plan for
//! another `url` or `directory_id` is refused before any request, exit 2), a blocked plan
//! refused unless `--force` (exit 4, nothing sent), then its jobs run by `scale::batch`, phase
//! by phase, each result appended to the results file (a rerun resumes), each request written
//! to the audit file when one is given.

use anyhow::{Context as _, Result, bail};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::instance::{Instance, InstanceArgs};
use crate::scale::audit::AuditLog;
use crate::scale::batch::{self, BatchOptions, BatchSummary};
use crate::scale::jobs::{BlockedPlan, PlanHeader, read_plan_header, result_key};
use crate::scale::progress::Display;
use crate::scale::runner::RunnerOptions;
use iam_host::{Host, files};

/// The plan file's header, or why the file is not a plan (exit 2).
pub fn read_header(plan: &Path) -> Result<PlanHeader> {
    files::open(plan, "plan file")?;
    match read_plan_header(plan)? {
        Some(header) => Ok(header),
        None => bail!(
            "{} is not a plan: its first line has no \"plan\" header (make one with `iam-host sync plan`)",
            plan.display()
        ),
    }
}

/// A URL as compared: without a trailing `/`.
fn normalised(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// The instance the plan is applied with: the arguments' (with `--tenants`, the plan's tenant
/// unless `--tenant` names one), refused unless it is the directory the plan was made for.
pub fn instance_for(args: &InstanceArgs, header: &PlanHeader, plan: &Path) -> Result<Instance> {
    let instance = Instance::load(args, header.tenant.as_deref())?;
    let (url, directory) = (instance.param("url"), instance.param("directory_id"));
    if header.url.as_deref().map(normalised) != url.map(normalised)
        || header.directory_id.as_deref() != directory
    {
        bail!(
            "the plan {} was made for directory {:?} at {:?}, not for this instance's {:?} at {:?}: make a plan for this directory",
            plan.display(),
            header.directory_id.as_deref().unwrap_or(""),
            header.url.as_deref().unwrap_or(""),
            directory.unwrap_or(""),
            url.unwrap_or("")
        );
    }
    Ok(instance)
}

/// Refuse a blocked plan unless forced (exit 4).
pub fn check_blocked(header: &PlanHeader, force: bool) -> Result<()> {
    if header.is_blocked() && !force {
        return Err(BlockedPlan {
            reasons: header.blocked.clone(),
        }
        .into());
    }
    Ok(())
}

/// What an apply is given.
pub struct ApplyOptions {
    pub plan: PathBuf,
    pub output: PathBuf,
    pub audit: Option<Arc<AuditLog>>,
    pub runner: RunnerOptions,
    pub display: Display,
}

/// How an apply went.
pub struct Applied {
    pub batch: BatchSummary,
    /// The plan's jobs whose result is a failure (in this run or an earlier one).
    pub failed: u64,
}

/// Run the plan's jobs for `instance` (checked already), under the plan's tenant name.
pub async fn apply(
    host: Arc<Host>,
    instance: &Instance,
    header: &PlanHeader,
    options: &ApplyOptions,
) -> Result<Applied> {
    let tenant = header.tenant.as_deref().unwrap_or(&instance.tenant);
    let tenants = instance.as_tenants(tenant);
    let batch_options = BatchOptions {
        input: options.plan.clone(),
        output: options.output.clone(),
        runner: options.runner,
        display: options.display,
        audit: options.audit.clone(),
    };
    let summary = batch::run(host, &tenants, &batch_options).await?;
    let failed = failed_jobs(&options.output, &header.id)?;
    Ok(Applied {
        batch: summary,
        failed,
    })
}

/// The plan's jobs (ids `<plan id>-<n>`) whose result line says they failed: a non-zero
/// `exit`, or an entry whose `success` is false.
pub fn failed_jobs(output: &Path, plan_id: &str) -> Result<u64> {
    let text = std::fs::read(output)
        .with_context(|| format!("cannot read the results {}", output.display()))?;
    let prefix = format!("{plan_id}-");
    let mut failed = 0;
    for line in String::from_utf8_lossy(&text).lines() {
        let Some((id, exit)) = result_key(line) else {
            continue;
        };
        if !id.starts_with(&prefix) {
            continue;
        }
        let unsuccessful = || {
            serde_json::from_str::<Value>(line)
                .is_ok_and(|result| result["entry"]["Contents"]["success"] == false)
        };
        if exit != Some(0) || unsuccessful() {
            failed += 1;
        }
    }
    Ok(failed)
}
