//! Naming why a command's sandbox stopped: what the guest or the gate said through the
//! `panic` imports, else what the engine saw (a refused memory, the CPU limit), else the
//! runtime's own words. A trap never unwinds into the host; it becomes a typed [`Stop`], and
//! the gate words the entry.

use wasmtime::{Store, Trap};

use iam_gate::stop::Stop;

use crate::store::StoreState;

/// Name the cause of a failed call: what the guest or the gate said (`panic` imports, a
/// request flood), else what the engine saw (a refused memory, the CPU limit), else the
/// runtime's words.
pub fn classify(store: &Store<StoreState>, error: &wasmtime::Error) -> Stop {
    let state = store.data();
    if let Some(stop) = &state.stop {
        return stop.clone();
    }
    if let Some(asked) = state.memory.refused_bytes {
        return Stop::Memory {
            limit_bytes: state.limits.memory_bytes as u64,
            asked_bytes: asked as u64,
        };
    }
    if state.meter.cpu_exceeded || matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        return Stop::Cpu(state.limits.cpu_millis);
    }
    let trap = error
        .downcast_ref::<Trap>()
        .map_or_else(|| error.to_string(), |trap| trap.to_string());
    Stop::Trapped(trap)
}
