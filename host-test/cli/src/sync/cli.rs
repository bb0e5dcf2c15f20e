//! The command lines of `iam-host sync plan`, `apply` and `run` (sync.md §8), and how each
//! ends ([`SyncEnd`]); `main.rs` prints it and decides the exit status. Exit codes: 0 a plan
//! made (or applied) and not blocked; 1 the directory could not be read whole (no plan), or
//! an applied job failed; 2 usage errors and unreadable or invalid files, a plan for another
//! directory (returned as errors); 4 a blocked plan (plan: written with its reasons; apply:
//! refused, nothing sent).

use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::apply::{self, ApplyOptions};
use super::instance::{Instance, InstanceArgs};
use super::plan::{self, PlanOptions, Planned};
use crate::read_limits;
use crate::scale::cli::{SandboxArgs, load_host, open_audit};
use crate::scale::progress::Display;
use crate::scale::runner::{DEFAULT_CONCURRENCY, RunnerOptions};
use iam_host::limits::Limits;
use iam_host::{Host, files};

/// `sync run` applies at most this many plans (sync.md §8).
pub const MAX_APPLIES: usize = 3;
/// The plan file's name by default.
pub const DEFAULT_OUT: &str = "plan.jsonl";

/// `iam-host sync`.
#[derive(Args, Debug, Clone)]
pub struct SyncArgs {
    #[command(subcommand)]
    pub command: SyncCommand,
}

#[derive(Subcommand, Debug, Clone)]
pub enum SyncCommand {
    /// Read the whole directory and write the plan that makes it the desired state; change
    /// nothing.
    Plan(PlanArgs),
    /// Run a plan's jobs against the directory it was made for.
    Apply(ApplyArgs),
    /// Plan and apply in rounds until a plan has no action (at most three applies).
    Run(RunArgs),
}

/// What a plan is made from (sync plan and run).
#[derive(Args, Debug, Clone)]
pub struct PlanFlags {
    /// The desired state: one JSON profile a line, or CSV with a header row (a name ending
    /// in .csv).
    #[arg(long, value_name = "FILE")]
    pub desired: PathBuf,
    /// Where the plan is written.
    #[arg(long, value_name = "plan.jsonl", default_value = DEFAULT_OUT)]
    pub out: PathBuf,
    /// Print the plan's summary as one JSON object on the last line of stdout, instead of
    /// the table.
    #[arg(long)]
    pub json: bool,
    /// Never change, deprovision or regroup directory users whose userName or an e-mail
    /// matches this glob (`*`, `?`, ignoring case). Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub protect: Vec<String>,
    /// Manage this group even if no desired profile names it (so it can end up empty).
    /// Repeatable.
    #[arg(long = "manage-group", value_name = "NAME")]
    pub manage_group: Vec<String>,
    /// What happens to directory users no desired profile matches.
    #[arg(long, value_name = "disable|delete|ignore", value_parser = ["disable", "delete", "ignore"])]
    pub on_missing: Option<String>,
    /// Block the plan past this many deprovisions: a count N or a share P% (default 10 %,
    /// from 10 to 500).
    #[arg(long, value_name = "N|P%")]
    pub max_deprovision: Option<String>,
    /// Block the plan past this many membership removals: N or P% (default 10 %, from 10
    /// to 1,000).
    #[arg(long, value_name = "N|P%")]
    pub max_member_removals: Option<String>,
    /// Test aid: the plan's id (16 lowercase hex digits) instead of a random one.
    #[arg(long, value_name = "HEX", hide = true)]
    pub plan_id: Option<String>,
    /// Test aid: the plan's `created` time instead of now (RFC 3339, UTC).
    #[arg(long, value_name = "TIME", hide = true)]
    pub created: Option<String>,
}

impl PlanFlags {
    fn options(&self, pages_at_once: usize) -> PlanOptions {
        PlanOptions {
            desired: self.desired.clone(),
            protect: self.protect.clone(),
            manage_groups: self.manage_group.clone(),
            on_missing: self.on_missing.clone(),
            max_deprovision: self.max_deprovision.clone(),
            max_member_removals: self.max_member_removals.clone(),
            plan_id: self.plan_id.clone(),
            created: self.created.clone(),
            pages_at_once,
        }
    }
}

/// How a plan's jobs run (sync apply and run).
#[derive(Args, Debug, Clone)]
pub struct ApplyFlags {
    /// Where result lines are appended, one per job; the jobs it has already are skipped.
    #[arg(long, value_name = "results.jsonl")]
    pub output: PathBuf,
    /// Append one JSON line per HTTP request sent for a job (no body, no header, no token).
    #[arg(long, value_name = "audit.jsonl")]
    pub audit: Option<PathBuf>,
    /// Apply a blocked plan anyway.
    #[arg(long)]
    pub force: bool,
    /// Jobs in flight at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
}

#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    #[command(flatten)]
    pub plan: PlanFlags,
    /// Directory pages read at once.
    #[arg(long, value_name = "N", default_value_t = iam_host::backend::MAX_IN_FLIGHT)]
    pub concurrency: usize,
    /// The component (default: this repository's, built when missing or stale).
    #[arg(long, value_name = "FILE")]
    pub component: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    /// The plan file of `iam-host sync plan`.
    #[arg(long, value_name = "plan.jsonl")]
    pub plan: PathBuf,
    #[command(flatten)]
    pub apply: ApplyFlags,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub instance: InstanceArgs,
    #[command(flatten)]
    pub plan: PlanFlags,
    #[command(flatten)]
    pub apply: ApplyFlags,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// How a sync command ended: what goes to stdout, the one line for stderr, and the exit
/// status (0, 1 or 4; usage errors are returned as errors, exit 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncEnd {
    pub stdout: Option<String>,
    pub message: Option<String>,
    pub exit: u8,
}

/// `iam-host sync …`.
pub fn sync(args: SyncArgs) -> Result<SyncEnd> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("iam-host-sync")
        .build()
        .context("cannot start the async runtime")?;
    match args.command {
        SyncCommand::Plan(args) => runtime.block_on(plan_command(args)),
        SyncCommand::Apply(args) => runtime.block_on(apply_command(args)),
        SyncCommand::Run(args) => runtime.block_on(run_command(args)),
    }
}

/// A plan made and written, or how planning ended without one.
enum Round {
    Written {
        summary: serde_json::Value,
        human: String,
        blocked: Vec<String>,
    },
    Ended(SyncEnd),
}

/// The checks of a plan's files that need nothing else, before anything is read or sent.
fn check_plan_files(flags: &PlanFlags) -> Result<()> {
    files::open(&flags.desired, plan::DESIRED_FILE)?;
    plan::check_out_target(&flags.out, &flags.desired)
}

/// Make one plan and write it.
async fn plan_round(
    host: &Host,
    instance: &Instance,
    flags: &PlanFlags,
    pages_at_once: usize,
) -> Result<Round> {
    let desired = plan::read_desired(&flags.desired)?;
    let options = flags.options(pages_at_once);
    let planned = plan::make_plan(host, instance, &options, desired).await?;
    let blocked = planned.blocked();
    match planned {
        Planned::Failed { exit: 2, message } => bail!("{message}"),
        Planned::Failed { exit, message } => Ok(Round::Ended(SyncEnd {
            stdout: None,
            message: Some(message),
            exit,
        })),
        Planned::Made {
            summary,
            text,
            human,
        } => {
            plan::write_plan(&flags.out, &text)?;
            Ok(Round::Written {
                summary,
                human,
                blocked,
            })
        }
    }
}

/// What a written plan prints: the table, or with `--json` the summary.
fn printed(flags: &PlanFlags, summary: &serde_json::Value, human: &str) -> String {
    if flags.json {
        summary.to_string()
    } else {
        human.trim_end().to_string()
    }
}

fn blocked_message(reasons: &[String], out: &Path) -> String {
    format!(
        "the plan is blocked ({}); it is written to {} for review, and apply refuses it without --force",
        reasons.join("; "),
        out.display()
    )
}

async fn plan_command(args: PlanArgs) -> Result<SyncEnd> {
    check_plan_files(&args.plan)?;
    let instance = Instance::load(&args.instance, None)?;
    let host = plan::plan_host(args.component.clone())?;
    match plan_round(&host, &instance, &args.plan, args.concurrency).await? {
        Round::Ended(end) => Ok(end),
        Round::Written {
            summary,
            human,
            blocked,
        } => Ok(SyncEnd {
            stdout: Some(printed(&args.plan, &summary, &human)),
            message: (!blocked.is_empty()).then(|| blocked_message(&blocked, &args.plan.out)),
            exit: if blocked.is_empty() { 0 } else { 4 },
        }),
    }
}

/// The checks of an apply's own files, before anything runs: the results and audit files
/// are never links nor special files (named by their option, not as batch names them), and
/// neither is the plan nor each other.
fn check_apply_files(flags: &ApplyFlags, plan: &Path) -> Result<()> {
    plan::check_output_target(&flags.output, "--output", "results")?;
    if let Some(audit) = &flags.audit {
        plan::check_output_target(audit, "--audit", "audit")?;
    }
    if files::same_file(plan, &flags.output) {
        bail!("--output must not be the plan file");
    }
    if let Some(audit) = &flags.audit
        && (files::same_file(audit, plan) || files::same_file(audit, &flags.output))
    {
        bail!("--audit must be neither the plan nor the --output file");
    }
    Ok(())
}

fn runner_options(flags: &ApplyFlags, limits: Limits) -> Result<RunnerOptions> {
    // One tenant: its share is the whole concurrency.
    RunnerOptions::new(flags.concurrency, flags.concurrency.max(1), limits)
        .map_err(anyhow::Error::msg)
}

/// The end of an apply: exit 1 when a job of the plan failed.
fn applied_end(applied: &apply::Applied, output: &Path) -> SyncEnd {
    let message = (applied.failed > 0).then(|| {
        format!(
            "{} job(s) of the plan failed; their results are in {}",
            applied.failed,
            output.display()
        )
    });
    SyncEnd {
        stdout: None,
        message,
        exit: u8::from(applied.failed > 0),
    }
}

async fn apply_command(args: ApplyArgs) -> Result<SyncEnd> {
    let limits = read_limits(args.sandbox.limits.as_deref())?;
    let runner = runner_options(&args.apply, limits)?;
    check_apply_files(&args.apply, &args.plan)?;
    let header = apply::read_header(&args.plan)?;
    let instance = apply::instance_for(&args.instance, &header, &args.plan)?;
    apply::check_blocked(&header, args.apply.force)?;
    let audit = open_audit(args.apply.audit.as_deref())?;
    let host = load_host(args.sandbox.component.clone(), limits)?;
    let options = ApplyOptions {
        plan: args.plan.clone(),
        output: args.apply.output.clone(),
        audit,
        runner,
        display: Display::Auto,
    };
    let applied = apply::apply(host, &instance, &header, &options).await?;
    Ok(applied_end(&applied, &args.apply.output))
}

async fn run_command(args: RunArgs) -> Result<SyncEnd> {
    let limits = read_limits(args.sandbox.limits.as_deref())?;
    let runner = runner_options(&args.apply, limits)?;
    check_plan_files(&args.plan)?;
    check_apply_files(&args.apply, &args.plan.out)?;
    if files::same_file(&args.plan.desired, &args.apply.output) {
        bail!("--output must not be the --desired file");
    }
    let instance = Instance::load(&args.instance, None)?;
    let audit = open_audit(args.apply.audit.as_deref())?;
    let plan_host = plan::plan_host(args.sandbox.component.clone())?;
    let job_host: Arc<Host> = load_host(args.sandbox.component.clone(), limits)?;
    let mut applies = 0;
    loop {
        let (summary, human, blocked) =
            match plan_round(&plan_host, &instance, &args.plan, args.apply.concurrency).await? {
                Round::Ended(end) => return Ok(end),
                Round::Written {
                    summary,
                    human,
                    blocked,
                } => (summary, human, blocked),
            };
        let stdout = Some(printed(&args.plan, &summary, &human));
        let actions = plan::actions(&summary);
        crate::diagnostic(&format!(
            "iam-host sync run: plan {} has {actions} action(s)",
            applies + 1
        ));
        if actions == 0 || applies == MAX_APPLIES {
            return Ok(SyncEnd {
                stdout,
                message: None,
                exit: 0,
            });
        }
        if !blocked.is_empty() && !args.apply.force {
            return Ok(SyncEnd {
                stdout,
                message: Some(blocked_message(&blocked, &args.plan.out)),
                exit: 4,
            });
        }
        let header = apply::read_header(&args.plan.out)?;
        let options = ApplyOptions {
            plan: args.plan.out.clone(),
            output: args.apply.output.clone(),
            audit: audit.clone(),
            runner,
            display: Display::Auto,
        };
        let applied = apply::apply(job_host.clone(), &instance, &header, &options).await?;
        applies += 1;
        if applied.failed > 0 || applies == MAX_APPLIES {
            return Ok(SyncEnd {
                stdout,
                ..applied_end(&applied, &args.apply.output)
            });
        }
    }
}
