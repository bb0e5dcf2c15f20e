//! The wasmtime side: one `Engine` (pooling allocator, epoch interruption), the component
//! loaded through the cache (`cache.rs`), one `ConnectorPre`, and a fresh `Store` per
//! command. A trap becomes a `Stop` that names its cause (`trap.rs`).
//!
//! Commands run with wasmtime's async support: each runs on its own fiber, and a command
//! waiting in a host call (the network, a retry's sleep) yields its thread to the others.
//!
//! The CPU limit is enforced here: the epoch ticker interrupts the guest every few ticks, and
//! the deadline callback asks the command's `Meter` how much of its CPU time is left (time
//! blocked in host calls is not the guest's CPU time); a guest with time left yields to the
//! executor, so a computing guest never starves the commands waiting beside it.

use anyhow::Result;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolConcurrencyLimitError,
    PoolingAllocationConfig, Store, UpdateDeadline,
};

use iam_gate::policy::Policy;
use iam_gate::secret::Flags;
use iam_gate::session::{Mode, Session};
use iam_gate::stop::Stop;

use crate::bindings::{Connector, ConnectorPre, Description};
use crate::cache::load_cached;
use crate::limits::Limits;
use crate::store::StoreState;
use crate::trap::classify;
use std::future::Future;
use std::task::{Context, Poll, Waker};

/// Bytes of a pooled memory or table kept resident between commands: the connector's
/// working set (its peak linear memory is about 1 MiB, most of it untouched stack).
const KEEP_RESIDENT_BYTES: usize = 2 << 20;
/// Decommits batched per system call when a slot must be released.
const DECOMMIT_BATCH: usize = 16;
/// Granularity of the CPU deadline: a tick costs nothing, and 10 ms is far below any limit.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Instances alive at once in the pool, at most and by default: one per command in flight.
/// A batch holds up to its `--concurrency` (600 in the in-flight benchmark) waiting on the
/// network at once; 1024 leaves room. A command that finds the pool full ends with a Type 4
/// entry saying so.
pub const POOLED_INSTANCES: u32 = 1024;
/// The native stack of a command's fiber: wasm frames (at most `max_wasm_stack`, 512 KiB by
/// default) plus the host calls beneath them. Only the pages a command touches are resident.
const ASYNC_STACK_BYTES: usize = 1 << 20;
/// Core instances per component instance: the guest's module and the two small modules
/// `wit-component` adds (shim and fixups) make 3; 8 leaves room and costs only metadata.
const CORE_INSTANCES_PER_COMPONENT: u32 = 8;
/// Linear memories per component instance: the guest has one. Each pooled memory reserves
/// `Config::memory_reservation` (4 GiB) of address space, so this multiplies the host's
/// reservation: 2 allows one more (an adapter's) while 1024 instances stay near 8 TiB of the
/// 128 TiB a process has, so several hosts fit in one process.
const MEMORIES_PER_COMPONENT: u32 = 2;
/// Tables per component instance: the guest's and the shim's.
const TABLES_PER_COMPONENT: u32 = 4;
/// Part of wasmtime's message when a component's memories, tables or instance size do not
/// fit the pool's limits: a configuration error, not a damaged cache.
pub const POOL_MISFIT: &str = "does not fit in pooling allocator requirements";

/// The engine, the prepared component and the epoch ticker.
pub struct Runtime {
    engine: Engine,
    pre: ConnectorPre<StoreState>,
    stop_ticker: Arc<AtomicBool>,
    /// The pool's size: the most commands in flight at once.
    max_in_flight: u32,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// The engine, its pool sized for `max_in_flight` commands at once (at least one). The pool
/// is set up when the engine starts, a guard page per fiber stack, so a process that runs one
/// command asks for a pool of one.
pub fn engine(limits: &Limits, max_in_flight: u32) -> Result<Engine> {
    let instances = pool_size(max_in_flight);
    let mut config = Config::new();
    config.epoch_interruption(true);
    // Async host calls and fibers, without the component model's own concurrency (p3), which
    // the connector does not use and which makes every call dearer.
    config.concurrency_support(false);
    config.async_stack_size(ASYNC_STACK_BYTES);
    // A smaller artifact is a faster load (read, digest, deserialize: architecture.md allows
    // 1 ms): no native-address-to-wasm-offset maps (only backtraces print them; the host
    // names a trap by its kind) and no `.eh_frame` (only for outside unwinders; wasmtime's
    // own backtraces do not use it), whose registration also costs every load.
    config.generate_address_map(false);
    config.native_unwind_info(false);
    let mut pooling = PoolingAllocationConfig::default();
    pooling
        .total_component_instances(instances)
        .total_core_instances(instances * CORE_INSTANCES_PER_COMPONENT)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .total_memories(instances * MEMORIES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .total_tables(instances * TABLES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .total_stacks(instances)
        .max_memory_size(limits.memory_bytes.max(1 << 16))
        // Reset a used slot by rewriting only the pages the command touched (PAGEMAP_SCAN,
        // Linux 6.7+) instead of madvise: a command touches well under a megabyte, and
        // page-table work would otherwise serialise concurrent tenants.
        .pagemap_scan(Enabled::Auto)
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        .table_keep_resident(KEEP_RESIDENT_BYTES)
        .decommit_batch_size(DECOMMIT_BATCH);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    Engine::new(&config).map_err(|e| anyhow::anyhow!("cannot create the wasmtime engine: {e}"))
}

/// The pool's size for a host asked to run `max_in_flight` commands at once.
fn pool_size(max_in_flight: u32) -> u32 {
    max_in_flight.clamp(1, POOLED_INSTANCES)
}

impl Runtime {
    /// Load the component at `wasm_path`, through the `.cwasm` cache in `cache_dir`; what did
    /// not stop it but should be known goes onto `warnings`.
    pub fn load(
        wasm_path: &Path,
        cache_dir: &Path,
        limits: &Limits,
        max_in_flight: u32,
        warnings: &mut Vec<String>,
    ) -> Result<Runtime> {
        let engine = engine(limits, max_in_flight)?;
        let component = load_cached(&engine, wasm_path, cache_dir, warnings).map_err(|error| {
            // The pool's memory slots are sized by the memory limit; a component whose
            // initial memory is larger can never run, so the host refuses to start.
            if format!("{error:#}").contains(POOL_MISFIT) {
                anyhow::anyhow!(
                    "{} does not fit the host's limits (memory limit {} bytes): {error:#}",
                    wasm_path.display(),
                    limits.memory_bytes
                )
            } else {
                error
            }
        })?;
        let mut linker = Linker::<StoreState>::new(&engine);
        Connector::add_to_linker::<StoreState, HasSelf<StoreState>>(&mut linker, |state| state)
            .map_err(|e| anyhow::anyhow!("cannot link the host imports: {e}"))?;
        let instance_pre = linker.instantiate_pre(&component).map_err(|e| {
            anyhow::anyhow!(
                "{} does not fit the connector world: {e}",
                wasm_path.display()
            )
        })?;
        let pre = ConnectorPre::new(instance_pre).map_err(|e| {
            anyhow::anyhow!(
                "{} does not export the connector's commands: {e}",
                wasm_path.display()
            )
        })?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        if let Err(e) = spawn_epoch_ticker(engine.clone(), stop_ticker.clone()) {
            warnings.push(format!("warning: no epoch ticker, CPU limits are off: {e}"));
        }
        Ok(Runtime {
            engine,
            pre,
            stop_ticker,
            max_in_flight: pool_size(max_in_flight),
        })
    }

    /// A fresh store and instance for one command.
    pub async fn instantiate(
        &self,
        state: StoreState,
    ) -> std::result::Result<(Store<StoreState>, Connector), Stop> {
        let first_check = ticks(state.limits.cpu());
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| state.limiter());
        store.set_epoch_deadline(first_check);
        // At each deadline, compare the guest's own time with its limits: blocked host calls
        // moved the deadline closer without the guest computing, so it may go on, after
        // letting the other commands on this thread run.
        store.epoch_deadline_callback(|mut context| {
            let state = context.data_mut();
            match state.meter.compute_left(&state.limits) {
                Some(left) => Ok(UpdateDeadline::YieldCustom(
                    ticks(left),
                    Box::pin(state.meter.yield_now()),
                )),
                None => {
                    state.meter.cpu_exceeded = true;
                    Ok(UpdateDeadline::Interrupt)
                }
            }
        });
        match self.pre.instantiate_async(&mut store).await {
            Ok(connector) => Ok((store, connector)),
            Err(error) if error.downcast_ref::<PoolConcurrencyLimitError>().is_some() => {
                Err(Stop::Trapped(format!(
                    "the host is already running its maximum of {} commands at once; try again shortly",
                    self.max_in_flight
                )))
            }
            Err(error) => Err(classify(&store, &error)),
        }
    }
}

impl Runtime {
    /// The component's `describe`, read once when the host loads it. `describe` makes no host
    /// call that waits, so its future completes without an async runtime: a host can be
    /// loaded from plain code or from inside one.
    pub fn describe(&self, limits: &Limits) -> Result<Description> {
        // No tenant, no wire: describe sends nothing.
        let session = Session::new(
            Arc::new(Policy::default()),
            Flags::default(),
            limits.budget(),
            Mode::Live,
            0,
        );
        let state = StoreState::new(session, None, *limits);
        poll_to_completion(async {
            let (mut store, connector) = self.instantiate(state).await.map_err(|stop| {
                anyhow::anyhow!("the component cannot be instantiated: {stop:?}")
            })?;
            connector
                .iam_atlassian_commands()
                .call_describe(&mut store)
                .await
                .map_err(|e| anyhow::anyhow!("the component's describe failed: {e}"))
        })
    }
}

/// Drive a future that never waits on I/O to its end, on this thread.
fn poll_to_completion<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::yield_now();
    }
}

/// Epoch ticks until the next check, for a span of time: +1 because the current tick may be
/// almost over.
fn ticks(span: Duration) -> u64 {
    let tick = EPOCH_TICK.as_millis().max(1);
    u64::try_from(span.as_millis().div_ceil(tick))
        .unwrap_or(u64::MAX)
        .saturating_add(1)
}

fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("iam-host-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .map(|_| ())
}
