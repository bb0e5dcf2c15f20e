//! `StoreState`, "the T in Store<T>": one command's gate session, wire, limits, meter and the
//! diagnostics collected for the report. A fresh one per command.

use wasmtime::{ResourceLimiter, StoreLimits};

use iam_gate::session::Session;
use iam_gate::stop::Stop;

use crate::backend::Backend;
use crate::limits::{Limits, Meter};

/// A request as the guest asked for it (the gate's own record of it): the proof that it names
/// the credential and carries none.
pub use iam_gate::session::GuestRequest;

/// A log line of the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: &'static str,
    pub message: String,
}

/// `StoreLimits` plus a record of the linear memory the command used, summed over its
/// memories (StoreLimits caps each memory on its own), and the size it was refused.
pub struct MemoryMeter {
    limits: StoreLimits,
    total_bytes: usize,
    pub peak_bytes: usize,
    /// The size a memory was refused, when one was.
    pub refused_bytes: Option<usize>,
}

impl ResourceLimiter for MemoryMeter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if allowed {
            self.total_bytes = self
                .total_bytes
                .saturating_add(desired.saturating_sub(current));
            self.peak_bytes = self.peak_bytes.max(self.total_bytes);
        } else {
            self.refused_bytes = Some(desired);
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

pub struct StoreState {
    /// The command's side of the gate: policy, budgets, replay or recording.
    pub session: Session,
    /// The wire of a live or recorded command; none under replay.
    pub wire: Option<Box<dyn Backend>>,
    pub limits: Limits,
    pub memory: MemoryMeter,
    /// Time and CPU of this command.
    pub meter: Meter,
    pub guest_requests: Vec<GuestRequest>,
    pub log: Vec<LogLine>,
    /// Why the command is being stopped, as the guest (`panic` imports) or the gate said it.
    pub stop: Option<Stop>,
}

impl StoreState {
    pub fn new(session: Session, wire: Option<Box<dyn Backend>>, limits: Limits) -> StoreState {
        // A refused growth is not a trap: the guest's allocator fails, the connector tells
        // the host how much it asked for (`panic.out-of-memory`), as it does under every host.
        let store_limits = wasmtime::StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .trap_on_grow_failure(false)
            .build();
        StoreState {
            session,
            wire,
            limits,
            memory: MemoryMeter {
                limits: store_limits,
                total_bytes: 0,
                peak_bytes: 0,
                refused_bytes: None,
            },
            meter: Meter::start(),
            guest_requests: Vec::new(),
            log: Vec::new(),
            stop: None,
        }
    }

    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.memory
    }

    /// Note why the command is stopping; the first cause given is the one reported.
    pub fn note_stop(&mut self, stop: Stop) {
        self.stop.get_or_insert(stop);
    }
}
