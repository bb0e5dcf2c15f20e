//! The part of a command's limits only a wasm runtime can enforce: the `Meter` that accounts,
//! per command, for the CPU and wall-clock time it has used. The limits themselves, and the
//! budgets the gate enforces, are the gate's (`iam_gate::limits`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use iam_gate::limits::*;

/// What one command has used so far. A fresh one per command.
#[derive(Debug, Clone)]
pub struct Meter {
    started: Instant,
    /// Time spent blocked in host calls that wait (`send`, `sleep`): not the guest's CPU.
    host_time: Duration,
    /// Nanoseconds the command spent yielded at an epoch deadline while other commands ran
    /// on its thread: not the guest's CPU either. Shared with the yield futures.
    yielded_nanos: Arc<AtomicU64>,
    /// Set when the CPU limit ended the command.
    pub cpu_exceeded: bool,
}

impl Meter {
    pub fn start() -> Meter {
        Meter {
            started: Instant::now(),
            host_time: Duration::ZERO,
            yielded_nanos: Arc::new(AtomicU64::new(0)),
            cpu_exceeded: false,
        }
    }

    /// Count time spent blocked in a host call that began at `entered`.
    pub fn add_host_time(&mut self, entered: Instant) {
        self.host_time = self.host_time.saturating_add(entered.elapsed());
    }

    /// A future that lets the other commands on this thread run, and counts the time it
    /// took as not the guest's.
    pub fn yield_now(&self) -> impl Future<Output = ()> + Send + 'static {
        let yielded = self.yielded_nanos.clone();
        async move {
            let entered = Instant::now();
            tokio::task::yield_now().await;
            let nanos = u64::try_from(entered.elapsed().as_nanos()).unwrap_or(u64::MAX);
            yielded.fetch_add(nanos, Ordering::Relaxed);
        }
    }

    /// Milliseconds since the command started: the gate's clock for its wall-clock budget.
    pub fn elapsed_millis(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How long the guest may still compute before the next check, or the limit it has run
    /// past. Its CPU time is the wall-clock time minus the time blocked in host calls, so a
    /// slow server or a retry wait never counts as the guest's computing. The wall-clock
    /// budget is not checked here: a guest that has spent it still computes its failed
    /// result (behaviour.md §3), and the CPU limit bounds that.
    pub fn compute_left(&self, limits: &Limits) -> Option<Duration> {
        let yielded = Duration::from_nanos(self.yielded_nanos.load(Ordering::Relaxed));
        let guest_time = self
            .started
            .elapsed()
            .saturating_sub(self.host_time)
            .saturating_sub(yielded);
        limits
            .cpu()
            .checked_sub(guest_time)
            .filter(|left| !left.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_blocked_in_host_calls_is_not_the_guests_cpu_time() {
        let limits = Limits {
            cpu_millis: 1_000,
            wall_millis: 60_000,
            ..Limits::default()
        };
        let mut meter = Meter::start();
        // Pretend the command started five seconds ago and spent all but a moment waiting.
        meter.started -= Duration::from_secs(5);
        meter.host_time = Duration::from_millis(4_900);
        assert!(
            meter
                .compute_left(&limits)
                .is_some_and(|left| left <= Duration::from_millis(900))
        );
        meter.host_time = Duration::from_millis(3_000);
        assert_eq!(meter.compute_left(&limits), None);
    }
}
