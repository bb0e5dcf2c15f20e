//! Quarantine, as Entra quarantines a failing provisioning job: a tenant whose token the server
//! refuses (401 or 403) `--quarantine-after` times in a row (5 by default) stops sending. Its
//! jobs end at once with a Type 4 entry that says so, and no request leaves; a `test-module`
//! probe runs after 1 min, then after doubling waits up to 1 h, and the first that passes lifts
//! the quarantine. Each step is logged on stderr and counted in the metrics.
//!
//! At most N requests are refused before the quarantine starts, however many commands of the
//! tenant run at once: once one refusal has come back, a request is sent only while the
//! refusals so far and the requests awaiting an answer stay under N (so with more than N of a
//! tenant's commands in flight at the very start, up to `--per-tenant` can be refused). A
//! command's list of requests (`send_all`) goes out together once the token is known to work,
//! and until then no more of it at once than could be refused.
//!
//! Any other answer but a 429 or a 5xx (which say nothing of the token) resets the count; no
//! answer at all (a timeout, a lost connection) neither counts nor resets.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

use super::metrics;
use iam_host::backend::{Backend, BackendError, BoxFuture, IncomingResponse, OutgoingRequest};

/// `--quarantine-after` by default.
pub const DEFAULT_AFTER: u32 = 5;
/// The first probe's wait (the hidden `--quarantine-probe-ms` shortens it for tests).
pub const FIRST_PROBE: Duration = Duration::from_secs(60);
/// The longest wait between probes.
pub const LONGEST_PROBE: Duration = Duration::from_secs(3600);

/// When a tenant is quarantined and how soon it is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuarantinePolicy {
    /// Consecutive 401/403 answers that quarantine a tenant; 0 never does.
    pub after: u32,
    /// The wait before the first probe; each next one waits twice as long, up to an hour.
    pub first_probe: Duration,
}

impl Default for QuarantinePolicy {
    fn default() -> Self {
        QuarantinePolicy {
            after: DEFAULT_AFTER,
            first_probe: FIRST_PROBE,
        }
    }
}

/// A `test-module` run for the tenant: whether it passed.
pub type Probe = Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>;

#[derive(Debug, Default)]
struct State {
    /// 401/403 answers in a row.
    refusals: u32,
    /// Requests sent and not yet answered.
    in_flight: u32,
    /// The last answer that said anything of the token accepted it.
    token_accepted: bool,
    quarantined: bool,
}

/// One tenant's count of refusals and its quarantine.
pub struct Quarantine {
    tenant: String,
    policy: QuarantinePolicy,
    state: Mutex<State>,
    changed: Notify,
    probe: Probe,
    label: &'static str,
}

/// The words of a quarantined tenant's Type 4 entry.
pub fn entry_text(tenant: &str, command: &str) -> String {
    format!(
        "The {command} command was not run: the tenant {tenant:?} is quarantined because the server refused its token (401 or 403) again and again; no request was sent. A test-module probe lifts the quarantine once the token works."
    )
}

impl Quarantine {
    pub fn new(
        tenant: &str,
        policy: QuarantinePolicy,
        probe: Probe,
        label: &'static str,
    ) -> Arc<Quarantine> {
        Arc::new(Quarantine {
            tenant: tenant.to_string(),
            policy,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            probe,
            label,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn is_quarantined(&self) -> bool {
        self.state().quarantined
    }

    /// Wait until a request may be sent: `false` when the tenant is (or becomes) quarantined.
    async fn begin_request(&self) -> bool {
        loop {
            // Made before the state is read, so no change in between is missed.
            let changed = self.changed.notified();
            match self.try_begin_request() {
                Admission::Send => return true,
                Admission::Quarantined => return false,
                Admission::Wait => changed.await,
            }
        }
    }

    /// Whether one more request of a list may go with those already admitted (then it is
    /// counted in flight): all of them once the token is known to work; until then no more
    /// than could be refused before the quarantine, so a list of 64 with a revoked token sends
    /// no more than a few singles would.
    fn try_begin_another_request(&self) -> Admission {
        let mut state = self.state();
        if state.quarantined {
            Admission::Quarantined
        } else if (state.token_accepted && state.refusals == 0)
            || state.refusals + state.in_flight < self.policy.after
        {
            state.in_flight += 1;
            Admission::Send
        } else {
            Admission::Wait
        }
    }

    /// Whether a request may be sent now (then it is counted in flight).
    fn try_begin_request(&self) -> Admission {
        let mut state = self.state();
        if state.quarantined {
            Admission::Quarantined
        } else if state.refusals == 0 || state.refusals + state.in_flight < self.policy.after {
            state.in_flight += 1;
            Admission::Send
        } else {
            Admission::Wait
        }
    }

    /// A request ended with `status` (`None`: no answer).
    fn end_request(self: &Arc<Self>, status: Option<u16>) {
        let tripped = {
            let mut state = self.state();
            state.in_flight = state.in_flight.saturating_sub(1);
            match status {
                Some(401 | 403) => {
                    state.refusals += 1;
                    state.token_accepted = false;
                }
                Some(429 | 500..=599) | None => {}
                Some(_) => {
                    state.refusals = 0;
                    state.token_accepted = true;
                }
            }
            let trip =
                !state.quarantined && self.policy.after > 0 && state.refusals >= self.policy.after;
            state.quarantined |= trip;
            trip
        };
        self.changed.notify_waiters();
        if tripped {
            self.start();
        }
    }

    /// Log, count, and probe with back-off until a probe passes.
    fn start(self: &Arc<Self>) {
        let first = self.policy.first_probe;
        crate::diagnostic(&format!(
            "{}: tenant {:?} quarantined after {} refusals of its token (401/403) in a row; its jobs end with a Type 4 entry until a test-module probe passes (the first in {} s)",
            self.label,
            self.tenant,
            self.policy.after,
            first.as_secs_f64()
        ));
        metrics::global().quarantine_started(&self.tenant);
        let quarantine = self.clone();
        tokio::spawn(async move {
            let mut wait = first;
            loop {
                tokio::time::sleep(wait).await;
                if (quarantine.probe)().await {
                    quarantine.lift();
                    return;
                }
                wait = (wait * 2).min(LONGEST_PROBE);
                crate::diagnostic(&format!(
                    "{}: tenant {:?}: the test-module probe failed; the next in {} s",
                    quarantine.label,
                    quarantine.tenant,
                    wait.as_secs_f64()
                ));
            }
        });
    }

    fn lift(&self) {
        {
            let mut state = self.state();
            state.quarantined = false;
            state.refusals = 0;
        }
        self.changed.notify_waiters();
        metrics::global().quarantine_lifted();
        crate::diagnostic(&format!(
            "{}: tenant {:?}: the test-module probe passed; quarantine lifted",
            self.label, self.tenant
        ));
    }
}

/// Whether a request may leave now.
enum Admission {
    Send,
    /// Not until the answers awaited have come back (they may end in a quarantine).
    Wait,
    Quarantined,
}

/// Ends a request's place when dropped, with the answer's status once there is one (a request
/// whose command was stopped mid-way ends with no answer).
struct Pending {
    quarantine: Arc<Quarantine>,
    status: Option<u16>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.quarantine.end_request(self.status);
    }
}

/// A backend that counts the tenant's refusals and sends nothing while it is quarantined.
pub struct Watched<B> {
    inner: B,
    quarantine: Arc<Quarantine>,
    /// Set when a request of this command was held back by the quarantine.
    held_back: Arc<AtomicBool>,
}

impl<B: Backend> Watched<B> {
    pub fn new(inner: B, quarantine: Arc<Quarantine>, held_back: Arc<AtomicBool>) -> Watched<B> {
        Watched {
            inner,
            quarantine,
            held_back,
        }
    }
}

impl<B: Backend> Backend for Watched<B> {
    fn send<'a>(
        &'a mut self,
        request: &'a OutgoingRequest,
        max_body_bytes: u64,
    ) -> BoxFuture<'a, Result<IncomingResponse, BackendError>> {
        Box::pin(async move {
            if !self.quarantine.begin_request().await {
                self.held_back.store(true, Ordering::Relaxed);
                // Not one a retry could cure: the command ends at once.
                return Err(BackendError::Protocol(
                    "not sent: the tenant is quarantined".into(),
                ));
            }
            let mut pending = Pending {
                quarantine: self.quarantine.clone(),
                status: None,
            };
            let response = self.inner.send(request, max_body_bytes).await;
            pending.status = response.as_ref().ok().map(|answer| answer.status);
            response
        })
    }

    /// The inner backend's own `send_all` for as many of the requests as the count of
    /// refusals lets leave at once, then the next ones as answers come back, so no more than
    /// N can be refused however long the list; each answer counted on its own, in order. The
    /// requests a quarantine holds back are not sent, as with `send`.
    fn send_all<'a>(
        &'a mut self,
        requests: &'a [OutgoingRequest],
    ) -> BoxFuture<'a, Vec<Result<IncomingResponse, BackendError>>> {
        Box::pin(async move {
            let mut answers = Vec::with_capacity(requests.len());
            while answers.len() < requests.len() {
                let rest = &requests[answers.len()..];
                // The first of the rest waits its turn as a single send would.
                if !self.quarantine.begin_request().await {
                    self.held_back.store(true, Ordering::Relaxed);
                    answers.extend(rest.iter().map(|_| {
                        Err(BackendError::Protocol(
                            "not sent: the tenant is quarantined".into(),
                        ))
                    }));
                    break;
                }
                let mut admitted = 1;
                while admitted < rest.len()
                    && matches!(self.quarantine.try_begin_another_request(), Admission::Send)
                {
                    admitted += 1;
                }
                let mut pending: Vec<Pending> = (0..admitted)
                    .map(|_| Pending {
                        quarantine: self.quarantine.clone(),
                        status: None,
                    })
                    .collect();
                let mut sent = self.inner.send_all(&rest[..admitted]).await;
                // One answer per request, whatever the inner backend did.
                sent.resize_with(admitted, || {
                    Err(BackendError::Protocol("no answer for this request".into()))
                });
                for (place, answer) in pending.iter_mut().zip(&sent) {
                    place.status = answer.as_ref().ok().map(|answer| answer.status);
                }
                // Each place ends with its answer, in order.
                drop(pending);
                answers.extend(sent);
            }
            answers
        })
    }

    fn sleep(&mut self, millis: u64) -> BoxFuture<'_, ()> {
        self.inner.sleep(millis)
    }

    fn now_millis(&mut self) -> u64 {
        self.inner.now_millis()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scale::testing::{Fake, request, statuses};
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn five_refusals_in_a_row_quarantine_even_with_commands_at_once_and_a_probe_lifts_it() {
        let probes = Arc::new(AtomicUsize::new(0));
        let counted = probes.clone();
        let probe: Probe = Arc::new(move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { n >= 1 })
        });
        let policy = QuarantinePolicy {
            after: 5,
            first_probe: Duration::from_millis(20),
        };
        let quarantine = Quarantine::new("revoked", policy, probe, "test");
        let sent = Arc::new(AtomicUsize::new(0));
        // Three commands at once, each trying four requests.
        let commands: Vec<_> = (0..3)
            .map(|_| {
                // Answers every request with 401 (after 5 ms, so that they overlap), and counts.
                let mut backend = Watched::new(
                    Fake::statuses(&[401])
                        .after(Duration::from_millis(5))
                        .counting(&sent),
                    quarantine.clone(),
                    Arc::new(AtomicBool::new(false)),
                );
                tokio::spawn(async move {
                    let request = request();
                    for _ in 0..4 {
                        backend.send(&request, 1 << 20).await.ok();
                    }
                })
            })
            .collect();
        for command in commands {
            command.await.expect("a command");
        }
        // 3 at once at the start (under 5), then never past 5 in all.
        assert!(sent.load(Ordering::SeqCst) <= 5, "{sent:?}");
        assert!(quarantine.is_quarantined());
        // The first probe fails, the second (after 40 ms more) passes.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(probes.load(Ordering::SeqCst), 2);
        assert!(!quarantine.is_quarantined());
    }

    /// A command's backend answering each list with `statuses` in turn (the last one again
    /// when they run out).
    fn watched(statuses: &[u16], quarantine: &Arc<Quarantine>) -> Watched<Fake> {
        Watched::new(
            Fake::lists(statuses),
            quarantine.clone(),
            Arc::new(AtomicBool::new(false)),
        )
    }

    #[tokio::test]
    async fn a_list_with_a_revoked_token_sends_no_more_than_5_and_the_rest_is_held_back() {
        let probe: Probe = Arc::new(|| Box::pin(async { false }));
        let quarantine = Quarantine::new("revoked", QuarantinePolicy::default(), probe, "test");
        let mut backend = watched(&[401], &quarantine);
        let requests = vec![request(); 64];
        let answers = backend.send_all(&requests).await;
        assert_eq!(answers.len(), 64, "one answer per request, in order");
        let expected: Vec<Option<u16>> = [Some(401); 5].into_iter().chain([None; 59]).collect();
        assert_eq!(statuses(&answers), expected);
        assert_eq!(
            backend.inner.lists_sent(),
            vec![5],
            "5 left together, then nothing"
        );
        assert!(quarantine.is_quarantined());
        assert!(backend.held_back.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn a_list_goes_together_once_the_token_works_and_each_answer_counts() {
        let probe: Probe = Arc::new(|| Box::pin(async { false }));
        let quarantine = Quarantine::new("t", QuarantinePolicy::default(), probe, "test");
        // A fresh tenant: 5 at most until an answer accepts the token; then the rest at once.
        let mut answers = vec![200; 64];
        // Four refusals in the middle, then a 200: the count is reset by that answer.
        answers[10..14].fill(403);
        let mut backend = watched(&answers, &quarantine);
        let requests = vec![request(); 64];
        let got = backend.send_all(&requests).await;
        assert_eq!(got.len(), 64);
        assert!(got.iter().all(Result::is_ok));
        assert_eq!(backend.inner.lists_sent(), vec![5, 59]);
        assert!(
            !quarantine.is_quarantined(),
            "4 refusals in a row, then a 200"
        );
        // One more refusal now would be the first of a new count, not the fifth.
        let mut backend = watched(&[401], &quarantine);
        backend.send_all(&requests[..1]).await;
        assert!(!quarantine.is_quarantined());
        // The fifth refusal in a row (four more) quarantines: nothing of the next list leaves.
        backend.send_all(&requests[..4]).await;
        assert!(quarantine.is_quarantined());
        let mut backend = watched(&[200], &quarantine);
        let held = backend.send_all(&requests[..3]).await;
        assert_eq!(statuses(&held), vec![None; 3]);
        assert!(backend.inner.lists_sent().is_empty());
    }

    #[tokio::test]
    async fn an_answer_that_accepts_the_token_resets_the_count() {
        let probe: Probe = Arc::new(|| Box::pin(async { true }));
        let quarantine = Quarantine::new("t", QuarantinePolicy::default(), probe, "test");
        for status in [401, 403, 401, 401, 200, 401, 401, 429, 503, 401, 401] {
            assert!(quarantine.begin_request().await);
            quarantine.end_request(Some(status));
        }
        assert!(!quarantine.is_quarantined(), "four in a row since the 200");
        assert!(quarantine.begin_request().await);
        quarantine.end_request(Some(403));
        assert!(quarantine.is_quarantined());
        assert!(!quarantine.begin_request().await);
    }
}
