//! A tenant's gate: when one of its commands is told to slow down (429 or 503), every command
//! of that tenant waits out the pause before its next request, instead of each finding out for
//! itself by hammering the server. [`Gated`] is a `Backend` decorator that shares one [`Gate`]
//! among a tenant's commands.
//!
//! The answer still goes to the guest unchanged: its own retry policy (behaviour.md §3) reads
//! `Retry-After` (seconds or an HTTP date) and decides whether and how long to wait. The guest
//! tells the host how long it waits by the `sleep` it asks for next, and that is the pause the
//! tenant's other requests wait out: the host reads no `Retry-After` of its own, so the two
//! can never disagree.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

use iam_host::backend::{Backend, BackendError, BoxFuture, IncomingResponse, OutgoingRequest};

/// The longest pause one answer can impose on a tenant: the guest waits at most 30 s per
/// command for retries (behaviour.md §3), so a longer pause would only time commands out.
pub const MAX_PAUSE: Duration = Duration::from_secs(30);

/// The "paused until" a tenant's commands share.
#[derive(Debug, Default)]
pub struct Gate {
    paused_until: Mutex<Option<Instant>>,
    /// The tenant, for the metrics' count of pauses (none in unit tests).
    tenant: Option<String>,
}

impl Gate {
    pub fn new() -> Arc<Gate> {
        Arc::new(Gate::default())
    }

    /// A tenant's gate, its pauses counted in the metrics (`iam_retry_after_waits_total`).
    pub fn for_tenant(tenant: &str) -> Arc<Gate> {
        Arc::new(Gate {
            paused_until: Mutex::default(),
            tenant: Some(tenant.to_string()),
        })
    }

    fn until(&self) -> Option<Instant> {
        *self
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Pause the tenant for `wait` from now (never shortening a pause already set).
    pub fn pause_for(&self, wait: Duration) {
        if let Some(tenant) = &self.tenant {
            super::metrics::global().retry_after_wait(tenant);
        }
        let until = Instant::now() + wait.min(MAX_PAUSE);
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    /// Wait until the tenant is not paused (a pause set while waiting is waited out too).
    pub async fn wait(&self) {
        while let Some(until) = self.until() {
            if until <= Instant::now() {
                return;
            }
            tokio::time::sleep_until(until).await;
        }
    }

    /// Whether the tenant is paused now.
    pub fn is_paused(&self) -> bool {
        self.until().is_some_and(|until| until > Instant::now())
    }
}

/// A backend whose requests pass the tenant's gate.
pub struct Gated<B> {
    inner: B,
    gate: Arc<Gate>,
    /// The last answer told this command to slow down: its next wait pauses the tenant.
    told_to_slow_down: bool,
}

impl<B: Backend> Gated<B> {
    pub fn new(inner: B, gate: Arc<Gate>) -> Gated<B> {
        Gated {
            inner,
            gate,
            told_to_slow_down: false,
        }
    }
}

impl<B: Backend> Backend for Gated<B> {
    fn send<'a>(
        &'a mut self,
        request: &'a OutgoingRequest,
        max_body_bytes: u64,
    ) -> BoxFuture<'a, Result<IncomingResponse, BackendError>> {
        Box::pin(async move {
            self.gate.wait().await;
            let response = self.inner.send(request, max_body_bytes).await;
            self.told_to_slow_down =
                matches!(&response, Ok(answer) if matches!(answer.status, 429 | 503));
            response
        })
    }

    /// All at once past the gate (the inner backend's own `send_all`, not one after another);
    /// any of the answers telling the command to slow down pauses the tenant at its next wait.
    fn send_all<'a>(
        &'a mut self,
        requests: &'a [OutgoingRequest],
    ) -> BoxFuture<'a, Vec<Result<IncomingResponse, BackendError>>> {
        Box::pin(async move {
            self.gate.wait().await;
            let answers = self.inner.send_all(requests).await;
            self.told_to_slow_down = answers
                .iter()
                .any(|answer| matches!(answer, Ok(answer) if matches!(answer.status, 429 | 503)));
            answers
        })
    }

    fn sleep(&mut self, millis: u64) -> BoxFuture<'_, ()> {
        if std::mem::take(&mut self.told_to_slow_down) {
            self.gate.pause_for(Duration::from_millis(millis));
        }
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
    async fn a_list_goes_together_and_a_503_among_its_answers_pauses_the_tenant_at_the_wait() {
        let gate = Gate::new();
        let requests = vec![request(); 3];
        let mut calm = Gated::new(Fake::lists(&[200, 404, 201].repeat(2)), gate.clone());
        let answers = calm.send_all(&requests).await;
        assert_eq!(answers.len(), 3);
        assert_eq!(
            calm.inner.lists_sent(),
            vec![3],
            "one list, not three sends"
        );
        calm.sleep(1_000).await;
        assert!(!gate.is_paused(), "no answer told the command to slow down");

        let mut told = Gated::new(Fake::lists(&[200, 503, 200]), gate.clone());
        let answers = told.send_all(&requests).await;
        assert_eq!(
            statuses(&answers),
            vec![Some(200), Some(503), Some(200)],
            "the guest sees every answer as it was"
        );
        told.sleep(1_000).await;
        let paused_until = gate.until().expect("the 503 paused the tenant");
        // The next list of any of the tenant's commands waits the pause out.
        calm.send_all(&requests).await;
        assert!(Instant::now() >= paused_until);
        assert_eq!(calm.inner.lists_sent(), vec![3, 3]);
    }

    #[tokio::test]
    async fn the_wait_a_guest_asks_for_after_a_429_holds_back_the_tenants_other_commands() {
        let gate = Gate::new();
        // 429 to the first request of the three commands, 200 to the rest.
        let sent = Arc::new(AtomicUsize::new(0));
        let slow = || Fake::statuses(&[429, 200]).counting(&sent);
        let mut first = Gated::new(slow(), gate.clone());
        let mut second = Gated::new(slow(), gate.clone());
        let request = request();
        let answer = first.send(&request, 1 << 20).await.expect("answer");
        assert_eq!(answer.status, 429, "the guest still sees the 429");
        assert!(
            !gate.is_paused(),
            "nothing is paused before the guest decides to wait"
        );
        // The guest's retry policy read Retry-After and waits 1 s: the tenant waits with it.
        first.sleep(1_000).await;
        let paused_until = gate.until().expect("the tenant is paused");
        // A wait that follows no 429 pauses no one.
        second.sleep(5_000).await;
        assert_eq!(gate.until(), Some(paused_until));
        let answer = second.send(&request, 1 << 20).await.expect("answer");
        assert_eq!(answer.status, 200);
        assert!(
            Instant::now() >= paused_until,
            "the second command waited out the pause"
        );
        // Another tenant's commands pass their own gate.
        let other_gate = Gate::new();
        let mut other = Gated::new(slow(), other_gate.clone());
        other.send(&request, 1 << 20).await.expect("answer");
        assert!(!other_gate.is_paused());
    }
}
