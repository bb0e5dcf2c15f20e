//! The wasmtime side: one `Engine` (pooling allocator, epoch interruption), the component
//! compiled once and cached as a precompiled `.cwasm` keyed by the component's hash and the
//! engine's compatibility hash, one `ConnectorPre`, and a fresh `Store` per command. A trap
//! becomes a `Stop` that names its cause; it never unwinds into the host.
//!
//! Commands run with wasmtime's async support: each runs on its own fiber, and a command
//! waiting in a host call (the network, a retry's sleep) yields its thread to the others.
//!
//! The CPU limit is enforced here: the epoch ticker interrupts the guest every few ticks, and
//! the deadline callback asks the command's `Meter` how much of its CPU time is left (time
//! blocked in host calls is not the guest's CPU time); a guest with time left yields to the
//! executor, so a computing guest never starves the commands waiting beside it.

use anyhow::{Context as _, Result};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolConcurrencyLimitError,
    PoolingAllocationConfig, Store, Trap, UpdateDeadline,
};

use iam_gate::policy::Policy;
use iam_gate::secret::Flags;
use iam_gate::session::{Mode, Session};
use iam_gate::stop::Stop;

use crate::bindings::{Connector, ConnectorPre, Description};
use crate::files;
use crate::limits::Limits;
use crate::store::{GUEST_STDERR_BYTES, StoreState};
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
const POOL_MISFIT: &str = "does not fit in pooling allocator requirements";
/// A cached artifact is a few times the size of its component (1.1 MB for this 370 KB one);
/// past this, the file is not one the host wrote.
const ARTIFACT_BYTES: u64 = 1 << 30;
/// A digest file holds 64 hex digits.
const DIGEST_FILE_BYTES: u64 = 256;

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
    /// Load the component at `wasm_path`, through the `.cwasm` cache in `cache_dir`.
    pub fn load(
        wasm_path: &Path,
        cache_dir: &Path,
        limits: &Limits,
        max_in_flight: u32,
    ) -> Result<Runtime> {
        let engine = engine(limits, max_in_flight)?;
        let component = load_cached(&engine, wasm_path, cache_dir).map_err(|error| {
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
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("cannot link WASI: {e}"))?;
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
        spawn_epoch_ticker(engine.clone(), stop_ticker.clone());
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
    if state.guest_stderr.contents().len() >= GUEST_STDERR_BYTES {
        return Stop::Trapped(format!(
            "it wrote more than the {GUEST_STDERR_BYTES} bytes of stderr the host keeps"
        ));
    }
    let trap = error
        .downcast_ref::<Trap>()
        .map_or_else(|| error.to_string(), |trap| trap.to_string());
    Stop::Trapped(trap)
}

fn spawn_epoch_ticker(engine: Engine, stop: Arc<AtomicBool>) {
    std::thread::Builder::new()
        .name("iam-host-epoch".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .map(|_| ())
        .unwrap_or_else(|e| {
            crate::diagnostic(&format!(
                "iam-host: warning: no epoch ticker, CPU limits are off: {e}"
            ))
        });
}

/// The cache file of a component for this engine.
fn cache_path(engine: &Engine, wasm: &[u8], cache_dir: &Path) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let engine_hash = hasher.finish();
    let digest = digest_hex(wasm);
    cache_dir.join(format!("{}-{engine_hash:016x}.cwasm", &digest[..32]))
}

/// The file beside a cached artifact that holds the artifact's BLAKE3 digest (hex), written
/// by this host with the artifact.
///
/// BLAKE3 rather than SHA-256 (which #13 first named): both are cryptographic, but the load
/// path hashes the component (the cache key) and the 1 MB artifact on every start, and
/// SHA-256 alone took 1.06 ms of the 1 ms that architecture.md allows for the whole load
/// (BLAKE3: about 0.2 ms, BENCHMARKS.md).
fn digest_path(cached: &Path) -> PathBuf {
    cached.with_extension("cwasm.blake3")
}

fn digest_hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// The cached artifact's bytes when they are the ones this host wrote (their BLAKE3 digest is
/// the one recorded beside them); otherwise why they are not.
fn verified_artifact(cached: &Path) -> std::result::Result<Vec<u8>, String> {
    let recorded = files::read_capped_text(&digest_path(cached), DIGEST_FILE_BYTES, "digest")
        .map_err(|e| format!("{e:#}"))?;
    let bytes = files::read_capped(cached, ARTIFACT_BYTES, "cached component")
        .map_err(|e| format!("{e:#}"))?;
    if digest_hex(&bytes) != recorded.trim() {
        return Err(format!(
            "{} does not match the digest recorded beside it",
            cached.display()
        ));
    }
    Ok(bytes)
}

/// Keep a compiled artifact and its digest in the cache directory, created private to this
/// user (0700): another user who could write there could make this host run their code.
fn store_artifact(cache_dir: &Path, cached: &Path, bytes: &[u8]) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(cache_dir)
        .with_context(|| format!("cannot create cache directory {}", cache_dir.display()))?;
    files::write_atomically(cached, bytes, true)?;
    files::write_atomically(&digest_path(cached), digest_hex(bytes).as_bytes(), true)
}

/// Compile once; afterwards load the precompiled artifact this host wrote, checked against
/// its recorded digest first, so that a damaged or replaced file is compiled afresh and never
/// executed.
pub fn load_cached(engine: &Engine, wasm_path: &Path, cache_dir: &Path) -> Result<Component> {
    let wasm = files::read_capped(wasm_path, files::COMPONENT_BYTES, "component")?;
    let cached = cache_path(engine, &wasm, cache_dir);
    if cached.exists() {
        match verified_artifact(&cached) {
            // SAFETY: these bytes are those this host wrote with `precompile_component` for
            // the same component bytes and an engine with the same compatibility hash (both in
            // the file's name), as their digest shows; they were read into memory before the
            // check, so the file changing afterwards cannot change what is loaded.
            Ok(bytes) => match unsafe { Component::deserialize(engine, &bytes) } {
                Ok(component) => return Ok(component),
                // The artifact is sound; the component does not fit this engine's pool, and a
                // fresh compile would not fit either.
                Err(e) if format!("{e:#}").contains(POOL_MISFIT) => anyhow::bail!("{e:#}"),
                Err(e) => crate::diagnostic(&format!(
                    "iam-host: recompiling; cached {} unusable: {e}",
                    cached.display()
                )),
            },
            Err(why) => crate::diagnostic(&format!("iam-host: recompiling; {why}")),
        }
    }
    let bytes = engine
        .precompile_component(&wasm)
        .map_err(|e| anyhow::anyhow!("{} is not a valid component: {e}", wasm_path.display()))?;
    // A cache that cannot be written costs the next run a compile, not this one its command.
    if let Err(e) = store_artifact(cache_dir, &cached, &bytes) {
        crate::diagnostic(&format!(
            "iam-host: warning: the compiled component is not cached: {e:#}"
        ));
    }
    // SAFETY: these bytes were just produced by `precompile_component` on this engine.
    unsafe { Component::deserialize(engine, &bytes) }
        .map_err(|e| anyhow::anyhow!("cannot load the compiled component: {e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("iam-host-engine-{}-{name}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn imports(engine: &Engine, component: &Component) -> usize {
        component.component_type().imports(engine).count()
    }

    #[test]
    fn a_cached_artifact_that_is_not_the_one_written_is_compiled_afresh_never_loaded() {
        // Regression: the cache file was executed as found. Here another component's valid
        // artifact is put in its place, which deserialises without complaint.
        let dir = scratch("tamper");
        let cache = dir.join("cache/nested");
        let engine = Engine::default();
        let plain = dir.join("plain.wat");
        let importing = dir.join("importing.wat");
        std::fs::write(&plain, "(component)").unwrap();
        std::fs::write(&importing, r#"(component (import "x" (func)))"#).unwrap();
        assert_eq!(
            imports(&engine, &load_cached(&engine, &plain, &cache).unwrap()),
            0
        );
        assert_eq!(
            imports(&engine, &load_cached(&engine, &importing, &cache).unwrap()),
            1
        );
        let plain_artifact = cache_path(&engine, &std::fs::read(&plain).unwrap(), &cache);
        let importing_artifact = cache_path(&engine, &std::fs::read(&importing).unwrap(), &cache);
        let written = std::fs::read(&plain_artifact).unwrap();
        assert_eq!(
            std::fs::read_to_string(digest_path(&plain_artifact)).unwrap(),
            digest_hex(&written)
        );
        std::fs::copy(&importing_artifact, &plain_artifact).unwrap();
        assert_eq!(
            imports(&engine, &load_cached(&engine, &plain, &cache).unwrap()),
            0
        );
        // Compiled afresh and written back, with its digest.
        assert_eq!(std::fs::read(&plain_artifact).unwrap(), written);
        // A missing digest is no proof either.
        std::fs::remove_file(digest_path(&plain_artifact)).unwrap();
        std::fs::copy(&importing_artifact, &plain_artifact).unwrap();
        assert_eq!(
            imports(&engine, &load_cached(&engine, &plain, &cache).unwrap()),
            0
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_cache_folder_is_created_private() {
        let dir = scratch("mode");
        let cache = dir.join("a/b");
        let wasm = dir.join("c.wat");
        std::fs::write(&wasm, "(component)").unwrap();
        load_cached(&Engine::default(), &wasm, &cache).unwrap();
        for created in [dir.join("a"), cache] {
            let mode = std::fs::metadata(&created).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", created.display());
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
