//! `StoreState`, "the T in Store<T>": one command's tenant policy, limits, request budget,
//! backend and the diagnostics collected for the report. A fresh one per command.

use std::sync::Arc;
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

use crate::backend::Backend;
use crate::limits::{LimitHit, Limits, Meter};
use crate::policy::Policy;

/// How much of the guest's stderr (a panic message) is kept. Past it the stream is closed: a
/// guest's panic message is cut short, and a guest that keeps printing is stopped (Rust's
/// `eprintln!` panics on a closed stderr), with the entry naming this limit.
pub const GUEST_STDERR_BYTES: usize = 4096;

/// A request as the guest asked for it: the proof that it names the credential and carries
/// none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub auth: Option<String>,
}

/// A log line of the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: &'static str,
    pub message: String,
}

/// `StoreLimits` plus a record of the linear memory the command used, summed over its
/// memories (StoreLimits caps each memory on its own).
pub struct MemoryMeter {
    limits: StoreLimits,
    total_bytes: usize,
    pub peak_bytes: usize,
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
    /// The tenant's policy, shared by its commands (it is prepared once per tenant).
    pub policy: Arc<Policy>,
    pub limits: Limits,
    pub memory: MemoryMeter,
    pub backend: Box<dyn Backend>,
    /// Requests, time and the limit hit, if any, of this command.
    pub meter: Meter,
    pub guest_requests: Vec<GuestRequest>,
    pub log: Vec<LogLine>,
    /// A fault that must end the command (a replay mismatch), reported after the trap.
    pub fault: Option<String>,
    pub guest_stderr: MemoryOutputPipe,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl StoreState {
    pub fn new(
        policy: impl Into<Arc<Policy>>,
        limits: Limits,
        backend: Box<dyn Backend>,
    ) -> StoreState {
        let guest_stderr = MemoryOutputPipe::new(GUEST_STDERR_BYTES);
        // WASI with nothing in it: no files, no environment, no arguments, no sockets; the
        // guest's stderr is kept only to name a panic. The connector imports no WASI at all
        // (artifact.rs); other components linked against the same world may.
        let wasi = WasiCtx::builder()
            .stderr(guest_stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let store_limits = wasmtime::StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .trap_on_grow_failure(true)
            .build();
        StoreState {
            policy: policy.into(),
            limits,
            memory: MemoryMeter {
                limits: store_limits,
                total_bytes: 0,
                peak_bytes: 0,
            },
            backend,
            meter: Meter::start(),
            guest_requests: Vec::new(),
            log: Vec::new(),
            fault: None,
            guest_stderr,
            wasi,
            table: ResourceTable::new(),
        }
    }

    pub fn limiter(&mut self) -> &mut dyn ResourceLimiter {
        &mut self.memory
    }

    /// End the command at a limit: record it for the entry and trap.
    pub fn stop<T>(&mut self, hit: LimitHit) -> wasmtime::Result<T> {
        self.meter.hit = Some(hit);
        Err(wasmtime::Error::msg(hit.describe(&self.limits)))
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
