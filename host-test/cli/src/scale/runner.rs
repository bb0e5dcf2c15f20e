//! Running jobs: how many at once (`--concurrency`), how many per tenant (`--per-tenant`), one
//! HTTP client shared by every command with the same live options (so connections are kept
//! across commands), and one 429 [`Gate`] per tenant. Each job is one `Host::run` in a fresh
//! sandbox, exactly as `iam-host run --live` would run it, and its result line carries what
//! that run would print and exit with.
//!
//! A job first waits for its tenant's share and only then for a slot, so a tenant with many
//! jobs queued never holds slots that other tenants could use. A tenant whose token keeps being
//! refused is quarantined ([`Quarantine`]): its jobs end at once. Every job's end, every
//! request and the commands in flight are counted in the metrics. The runner knows no file and
//! no queue: `batch` and `worker` feed it.

use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::audit::AuditLog;
use super::gate::{Gate, Gated};
use super::jobs::{Job, Refusal, result_line};
use super::metrics::{self, Measured, Outcome as JobOutcome};
use super::quarantine::{self, Probe, Quarantine, QuarantinePolicy, Watched};
use super::tenants::Tenants;
use iam_gate::stop::error_entry;
use iam_host::backend::{Backend, Http, Live, LiveOptions, live};
use iam_host::limits::Limits;
use iam_host::{EntryType, Host, Invocation, Outcome};

/// `--concurrency` by default (architecture.md).
pub const DEFAULT_CONCURRENCY: usize = 64;
/// `--per-tenant` by default (architecture.md).
pub const DEFAULT_PER_TENANT: usize = 16;
/// The metrics' label for a tenant or a command no tenants file or component names (never a
/// tenant's name: a tenant name has no parentheses).
pub const UNKNOWN_LABEL: &str = "(unknown)";
/// The most commands one process can hold at once: one pooled sandbox each.
pub const MAX_CONCURRENCY: usize = iam_host::MAX_IN_FLIGHT as usize;

/// How many commands run at once, and with what limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunnerOptions {
    pub concurrency: usize,
    pub per_tenant: usize,
    pub limits: Limits,
    /// When a tenant is quarantined, and how soon it is probed.
    pub quarantine: QuarantinePolicy,
    /// The longest result line that can be delivered (a worker's: what a NATS message can
    /// carry); a longer one is replaced by a Type 4 entry that says so.
    pub max_result_bytes: Option<usize>,
    /// Who speaks in the runner's messages on stderr (`iam-host batch`, `iam-host worker`).
    pub label: &'static str,
}

impl RunnerOptions {
    /// Options within what the host can hold; a usage error names the one that is not.
    pub fn new(concurrency: usize, per_tenant: usize, limits: Limits) -> Result<Self, String> {
        if concurrency == 0 || concurrency > MAX_CONCURRENCY {
            return Err(format!(
                "--concurrency must be from 1 to {MAX_CONCURRENCY} (the host's sandboxes), not {concurrency}"
            ));
        }
        if per_tenant == 0 {
            return Err("--per-tenant must be at least 1".into());
        }
        Ok(RunnerOptions {
            concurrency,
            per_tenant,
            limits,
            quarantine: QuarantinePolicy::default(),
            max_result_bytes: None,
            label: "iam-host",
        })
    }
}

/// Commands running now, and the most that ever ran at once.
#[derive(Debug, Default)]
pub struct InFlight {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl InFlight {
    pub fn now(&self) -> usize {
        self.now.load(Ordering::Relaxed)
    }

    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    fn enter(&self) -> InFlightGuard<'_> {
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        metrics::global().in_flight().inc();
        InFlightGuard(self)
    }
}

struct InFlightGuard<'a>(&'a InFlight);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::Relaxed);
        metrics::global().in_flight().dec();
    }
}

/// One tenant as the runner holds it.
struct Tenant {
    params: Map<String, Value>,
    options: LiveOptions,
    /// Shared with the other tenants of the same options; none when it cannot be built, and
    /// then each command builds its own and reports why it cannot, as `run --live` does.
    client: Option<reqwest::Client>,
    share: Arc<Semaphore>,
    gate: Arc<Gate>,
    quarantine: Arc<Quarantine>,
}

/// A result line and its `exit` (0, 1, or 2 for a refusal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub line: String,
    pub exit: u8,
}

impl Finished {
    fn refused(refusal: Refusal) -> Finished {
        Finished {
            line: refusal.line(),
            exit: 2,
        }
    }
}

/// A job's share of its tenant's `--per-tenant`, held until it ends.
pub struct Share(OwnedSemaphorePermit);

/// A job's place: its tenant's share and a slot, both held until it ends.
pub struct Admission {
    _share: OwnedSemaphorePermit,
    _slot: OwnedSemaphorePermit,
}

/// Runs jobs for the tenants of one tenants file.
pub struct Runner {
    host: Arc<Host>,
    tenants: HashMap<String, Tenant>,
    slots: Arc<Semaphore>,
    in_flight: InFlight,
    max_result_bytes: Option<usize>,
    /// Where each request a job sends is written (`--audit`), when asked.
    audit: Option<Arc<AuditLog>>,
}

impl Runner {
    pub fn new(host: Arc<Host>, tenants: &Tenants, options: &RunnerOptions) -> Runner {
        let connect_timeout = Duration::from_millis(options.limits.connect_timeout_millis);
        let mut clients: Vec<(LiveOptions, reqwest::Client)> = Vec::new();
        let mut by_name = HashMap::new();
        for (name, params) in tenants.iter() {
            let live_options = LiveOptions::for_instance(params, connect_timeout);
            let shared = clients
                .iter()
                .find(|(options, _)| *options == live_options)
                .map(|(_, client)| client.clone());
            let client = shared.or_else(|| {
                let client = live::client(&live_options).ok()?;
                clients.push((live_options.clone(), client.clone()));
                Some(client)
            });
            let probe = test_module_probe(&host, params, &live_options, client.as_ref());
            by_name.insert(
                name.clone(),
                Tenant {
                    params: params.clone(),
                    options: live_options,
                    client,
                    share: Arc::new(Semaphore::new(options.per_tenant)),
                    gate: Gate::for_tenant(name),
                    quarantine: Quarantine::new(name, options.quarantine, probe, options.label),
                },
            );
        }
        Runner {
            host,
            tenants: by_name,
            slots: Arc::new(Semaphore::new(options.concurrency)),
            in_flight: InFlight::default(),
            max_result_bytes: options.max_result_bytes,
            audit: None,
        }
    }

    /// Write every request a job sends to `audit` (sync.md §8, `--audit`).
    pub fn with_audit(mut self, audit: Option<Arc<AuditLog>>) -> Runner {
        self.audit = audit;
        self
    }

    /// Refuse a job whose tenant or command does not exist (an `exit: 2` line, counted as
    /// the job's end).
    pub fn check(&self, job: &Job) -> Result<(), Refusal> {
        let checked = self.check_uncounted(job);
        if checked.is_err() {
            self.count_end(&job.tenant, &job.command, JobOutcome::Refused);
        }
        checked
    }

    /// Count a job's end in the metrics under its tenant and command, or under
    /// [`UNKNOWN_LABEL`] for a tenant or command this runner does not know: a hostile line or
    /// message names any it likes, and each name would be a series of its own, for ever.
    pub fn count_end(&self, tenant: &str, command: &str, outcome: JobOutcome) {
        let tenant = if self.tenants.contains_key(tenant) {
            tenant
        } else {
            UNKNOWN_LABEL
        };
        let command = if self.host.has_command(command) {
            command
        } else {
            UNKNOWN_LABEL
        };
        metrics::global().job_ended(tenant, command, outcome);
    }

    fn check_uncounted(&self, job: &Job) -> Result<(), Refusal> {
        if !self.tenants.contains_key(&job.tenant) {
            return Err(job.refuse(format!(
                "unknown tenant {:?}: the tenants file has no such tenant",
                job.tenant
            )));
        }
        if !self.host.has_command(&job.command) {
            return Err(job.refuse(format!(
                "unknown command {:?}; expected one of {}",
                job.command,
                self.host.description().commands.join(", ")
            )));
        }
        Ok(())
    }

    /// Wait for the job's tenant share, then for a slot. `None` for an unknown tenant.
    pub async fn admit(&self, job: &Job) -> Option<Admission> {
        let share = self.share(job).await?;
        self.admit_with(share).await
    }

    /// The job's tenant share if one is free now (`None` also for an unknown tenant).
    pub fn try_share(&self, job: &Job) -> Option<Share> {
        let tenant = self.tenants.get(&job.tenant)?;
        tenant.share.clone().try_acquire_owned().ok().map(Share)
    }

    /// Wait for the job's tenant share. `None` for an unknown tenant.
    pub async fn share(&self, job: &Job) -> Option<Share> {
        let tenant = self.tenants.get(&job.tenant)?;
        // The semaphores are never closed, so acquiring only fails if that changes.
        tenant.share.clone().acquire_owned().await.ok().map(Share)
    }

    /// Wait for a slot, the share in hand.
    pub async fn admit_with(&self, share: Share) -> Option<Admission> {
        let slot = self.slots.clone().acquire_owned().await.ok()?;
        Some(Admission {
            _share: share.0,
            _slot: slot,
        })
    }

    /// Run an admitted job and give its result line (counted as the job's end).
    pub async fn execute(&self, job: &Job, admission: Admission) -> Finished {
        let mut finished = self.execute_uncounted(job, admission).await;
        if let Some(most) = self.max_result_bytes
            && finished.line.len() > most
        {
            // The line can never be delivered: the job still ends, with a Type 4 entry that
            // says so, rather than being run again for ever.
            let too_large = error_entry(&format!(
                "The {} command's entry is {} bytes, more than the {most} bytes a result message can carry",
                job.command,
                finished.line.len(),
            ));
            finished = Finished {
                line: result_line(job, 1, &too_large),
                exit: 1,
            };
        }
        self.count_end(
            &job.tenant,
            &job.command,
            JobOutcome::of_exit(finished.exit),
        );
        finished
    }

    async fn execute_uncounted(&self, job: &Job, admission: Admission) -> Finished {
        let quarantined = |job: &Job| {
            let entry = error_entry(&quarantine::entry_text(&job.tenant, &job.command));
            Finished {
                line: result_line(job, 1, &entry),
                exit: 1,
            }
        };
        if let Some(tenant) = self.tenants.get(&job.tenant)
            && tenant.quarantine.is_quarantined()
        {
            return quarantined(job);
        }
        let _in_flight = self.in_flight.enter();
        let held_back = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let finished = match self.tenants.get(&job.tenant) {
            Some(tenant) => {
                let live = match &tenant.client {
                    Some(client) => Live::with_client(tenant.options.clone(), client.clone()),
                    None => Live::new(tenant.options.clone()),
                };
                let measured = Measured::new(live, &job.tenant);
                let gated = Gated::new(measured, tenant.gate.clone());
                let mut backend: Box<dyn Backend> = Box::new(Watched::new(
                    gated,
                    tenant.quarantine.clone(),
                    held_back.clone(),
                ));
                if let Some(audit) = &self.audit {
                    backend = audit.wrap(backend, &job.tenant, &job.id, &job.command);
                }
                let invocation = Invocation {
                    command: job.command.clone(),
                    params: tenant.params.clone(),
                    args: job.args.clone(),
                };
                let report = self.host.run(&invocation, Http::Live(backend)).await;
                let (exit, entry_json) = exit_and_entry(&job.command, report.outcome);
                Finished {
                    line: result_line(job, exit, &entry_json),
                    exit,
                }
            }
            None => Finished::refused(job.refuse(format!("unknown tenant {:?}", job.tenant))),
        };
        drop(admission);
        if held_back.load(Ordering::Relaxed) {
            // Quarantined while it ran: its entry says so, not "not sent".
            return quarantined(job);
        }
        finished
    }

    /// Check, admit and run one job: its result line, or its refusal's.
    pub async fn run(&self, job: &Job) -> Finished {
        if let Err(refusal) = self.check(job) {
            return Finished::refused(refusal);
        }
        match self.admit(job).await {
            Some(admission) => self.execute(job, admission).await,
            None => Finished::refused(job.refuse(format!("unknown tenant {:?}", job.tenant))),
        }
    }

    pub fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    /// Whether a tenant is paused by a 429 now.
    pub fn is_paused(&self, tenant: &str) -> bool {
        self.tenants
            .get(tenant)
            .is_some_and(|tenant| tenant.gate.is_paused())
    }
}

/// A `test-module` run for a tenant, as a quarantine's probe: a fresh sandbox, the tenant's own
/// client, past the quarantine (it is what may lift it).
fn test_module_probe(
    host: &Arc<Host>,
    params: &Map<String, Value>,
    options: &LiveOptions,
    client: Option<&reqwest::Client>,
) -> Probe {
    let (host, params, options, client) = (
        host.clone(),
        params.clone(),
        options.clone(),
        client.cloned(),
    );
    Arc::new(move || {
        let live = match &client {
            Some(client) => Live::with_client(options.clone(), client.clone()),
            None => Live::new(options.clone()),
        };
        let invocation = Invocation {
            command: "test-module".into(),
            params: params.clone(),
            args: Map::new(),
        };
        let host = host.clone();
        Box::pin(async move {
            let report = host.run(&invocation, Http::Live(Box::new(live))).await;
            matches!(
                report.outcome,
                Outcome::Entry {
                    entry_type: EntryType::Note,
                    ..
                }
            )
        })
    })
}

/// What `iam-host run` would exit with and print: 0 for a Type 1 entry, 1 for Type 4. A host
/// fault (only a replay has those) is reported as the host reports a stop: a Type 4 entry.
pub fn exit_and_entry(command: &str, outcome: Outcome) -> (u8, String) {
    match outcome {
        Outcome::Entry {
            entry_type: EntryType::Note,
            entry_json,
        } => (0, entry_json),
        Outcome::Entry {
            entry_type: EntryType::Error,
            entry_json,
        } => (1, entry_json),
        Outcome::ReplayFailed(why) => (
            1,
            serde_json::json!({
                "Type": 4,
                "ContentsFormat": "text",
                "Contents": format!("The {command} command was stopped by the host: {why}"),
            })
            .to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_must_fit_the_pool_of_sandboxes() {
        let limits = Limits::default();
        assert!(RunnerOptions::new(600, 16, limits).is_ok());
        assert!(RunnerOptions::new(MAX_CONCURRENCY, 1, limits).is_ok());
        let error = RunnerOptions::new(MAX_CONCURRENCY + 1, 16, limits).expect_err("too many");
        assert!(
            error.starts_with("--concurrency must be from 1 to "),
            "{error}"
        );
        assert!(RunnerOptions::new(0, 16, limits).is_err());
        assert!(RunnerOptions::new(4, 0, limits).is_err());
    }

    #[test]
    fn a_type_1_entry_exits_0_and_a_type_4_entry_exits_1() {
        let note = Outcome::Entry {
            entry_type: EntryType::Note,
            entry_json: "{\"Type\":1}".into(),
        };
        assert_eq!(exit_and_entry("c", note), (0, "{\"Type\":1}".into()));
        let error = Outcome::Entry {
            entry_type: EntryType::Error,
            entry_json: "{\"Type\":4}".into(),
        };
        assert_eq!(exit_and_entry("c", error).0, 1);
        let (exit, entry) = exit_and_entry("c", Outcome::ReplayFailed("why".into()));
        assert_eq!(exit, 1);
        assert_eq!(
            entry,
            r#"{"Type":4,"ContentsFormat":"text","Contents":"The c command was stopped by the host: why"}"#
        );
    }

    #[test]
    fn the_in_flight_gauge_keeps_its_peak() {
        let gauge = InFlight::default();
        {
            let _one = gauge.enter();
            let _two = gauge.enter();
            assert_eq!(gauge.now(), 2);
        }
        let _three = gauge.enter();
        assert_eq!((gauge.now(), gauge.peak()), (1, 2));
    }
}
