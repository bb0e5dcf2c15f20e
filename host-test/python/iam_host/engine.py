"""The wasmtime side of the Python host: one ``Engine`` (epoch interruption), the gated
component (the connector composed with the gate, wit/gate.wit ``world gated``) compiled once
and cached on disk keyed by its hash, one ``Linker`` holding the five imports, and a fresh
``Store`` + instance per call (one per command, in a pooled slot).

Everything of the host contract (secrets, policy, scrubbing, budgets, replay, recording, the
entry of a stopped command) is the gate's, inside the component. What is left here is the
engine's part: the imports (``wire.send`` and ``wire.send-all`` over the host's wire, ``clock``, ``log``, the
``panic`` reports, which only record why the component is about to trap, and
``platform.map-object``, the platform's mapper when the host was given one), the sandbox of each
call (a pooled slot), its memory limit (store limits; the component reports the size it asked
for), its CPU limit (epoch deadlines: a ticker thread advances the epoch every 10 ms, and the
deadline is set again after each host call that waits, so time blocked in the network or a
sleep is not the guest's CPU time), and naming the cause of a trap: the recorded report first,
then the CPU limit, else the runtime's own words.
"""

from __future__ import annotations

import atexit
import ctypes
import hashlib
import json
import os
import re
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

from wasmtime import Config, Engine, Store, WasmtimeError
from wasmtime import _ffi as ffi
from wasmtime.component import Component, Linker, Record, Variant

from . import abi
from .files import write_atomically

#: The version of the WIT package (wit/iam.wit) whose interfaces the component exports and imports.
WIT_VERSION = "0.4.0"
GATE, WIRE, CLOCK, LOG, PANIC, PLATFORM = (f"iam:atlassian/{name}@{WIT_VERSION}"
                                           for name in ("gate", "wire", "clock", "log", "panic", "platform"))
#: What ``platform.map-object`` answers when the host was given no ``map_object``.
NO_PLATFORM_MAPPER = "this host has no platform mapper"
#: The most bytes of JSON a platform mapper's answer may be when no budget says (the gate's
#: default response-bytes, host-test/gate/src/limits.rs): a larger one would be copied into the
#: component's memory and stop the command at its memory limit, or trap.
DEFAULT_MAPPED_BYTES = 10 << 20
EPOCH_TICK_SECONDS = 0.010
#: CPU time of the calls that are not a command (describe, read-limits, stopped).
UTILITY_CPU_MILLIS = 2_000
MAX_LOG_LINES, MAX_LOG_LINE_BYTES = 256, 2048
_TRAP = re.compile(r"wasm trap: [^\n]*")
_ACTIVE = threading.local()


class ComponentError(Exception):
    """A component that cannot run here (not a component, not of the gated world)."""


class UnusableInput(Exception):
    """``gate.run`` refused an input (a cassette, configuration or arguments that do not
    parse): a usage error."""


class WireError(Exception):
    """Why the wire gave no response: ``kind`` is a ``wire-error`` case (timeout, transport,
    tls, protocol, too-large); the message names the cause, never a header."""

    def __init__(self, kind: str, message: str = "") -> None:
        super().__init__(message or kind)
        self.kind, self.message = kind, message


class Outgoing(NamedTuple):
    """A finished request (``wire.outgoing``): every check passed, the credential attached."""
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: str | None
    timeout_ms: int
    max_response_bytes: int
    verify_tls: bool
    use_proxy: bool


class Incoming(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class Stop(NamedTuple):
    """Why the host stopped a command (``gate.stop``): ``case`` and its value; a memory stop's
    value is ``(limit_bytes, asked_bytes)``."""
    case: str
    value: Any

    def variant(self) -> Variant:
        if self.case != "memory":
            return Variant(self.case, self.value)
        memory = Record()
        setattr(memory, "limit-bytes", self.value[0])
        setattr(memory, "asked-bytes", self.value[1])
        return Variant("memory", memory)


class Stopped(Exception):
    def __init__(self, stop: Stop) -> None:
        super().__init__(f"{stop.case}: {stop.value}")
        self.stop = stop


class Description(NamedTuple):
    name: str
    version: str
    commands: list[str]
    origins: list[str]
    credentials: list[str]


class Limits(NamedTuple):
    """``gate.limits``: the engine's limits and the gate's budget (in ``budget`` WIT order:
    max-requests, request-bytes, response-bytes, request-timeout-ms, wall-ms)."""
    memory_bytes: int
    cpu_millis: int
    connect_timeout_ms: int
    budget: tuple[int, int, int, int, int]


#: The platform's mapper (XSOAR's ``demisto.mapObject``): ``map_object(obj, mapper, incident_type)``
#: gives the mapped object.
MapObject = Callable[[dict, str, str], dict]


class Call:
    """One call's state ("the T in Store<T>"): its wire, platform mapper, CPU time, log and stop
    cause."""

    __slots__ = ("wire", "map_object", "mapped_bytes", "cpu_millis", "memory_limit", "log", "stop", "host_error",
                 "started", "host_time")

    def __init__(self, wire: Any, cpu_millis: int, memory_limit: int | None, map_object: MapObject | None = None,
                 mapped_bytes: int = DEFAULT_MAPPED_BYTES) -> None:
        self.wire, self.cpu_millis, self.memory_limit = wire, cpu_millis, memory_limit
        #: The platform's mapper, and the most bytes of JSON its answer may be (the budget's
        #: response-bytes: a mapped object is taken in as an answer is).
        self.map_object, self.mapped_bytes = map_object, mapped_bytes
        self.log: list[tuple[str, str]] = []
        self.stop: Stop | None = None
        self.host_error: BaseException | None = None
        self.started = time.monotonic()
        #: Seconds blocked in host calls that wait (send, sleep): not the guest's CPU time.
        self.host_time = 0.0

    def note_stop(self, stop: Stop) -> None:
        if self.stop is None:  # the first cause given is the one reported
            self.stop = stop

    def cpu_left(self) -> float:
        return self.cpu_millis / 1000 - (time.monotonic() - self.started - self.host_time)

    def waited(self, entered: float) -> None:
        self.host_time += time.monotonic() - entered


def _ticks(seconds: float) -> int:
    """Epoch ticks until the deadline: +1 because the current tick may be almost over."""
    return max(int(-(-seconds // EPOCH_TICK_SECONDS)), 0) + 1


def _truncated(message: str) -> str:
    data = message.encode("utf-8")
    return message if len(data) <= MAX_LOG_LINE_BYTES else data[:MAX_LOG_LINE_BYTES].decode("utf-8", "ignore") + "…"


# --- the imports ------------------------------------------------------------------------------

_WIRE_ERRORS_WITH_TEXT = {"transport", "tls", "protocol"}


def _outgoing(val: abi.Val) -> Outgoing:
    method, url, headers, body, timeout, most, verify, proxy = abi.read_record(val, 8)
    return Outgoing(
        abi.read_string(method), abi.read_string(url),
        [(abi.read_string(n), abi.read_string(v)) for n, v in (abi.read_record(h, 2) for h in abi.read_list(headers))],
        abi.read_option_string(body), abi.read_u64(timeout), abi.read_u64(most), abi.read_bool(verify), abi.read_bool(proxy),
    )


def answer(wire: Any, request: Outgoing) -> Incoming | WireError:
    """The wire's answer to one request, its failure as a value (for ``send-all``'s list)."""
    try:
        if wire is None:
            raise WireError("transport", "this command has no wire")
        return wire.send(request)
    except WireError as error:
        return error


def _write_answer(result: abi.Val, response: Incoming | WireError) -> None:
    """``result<incoming, wire-error>``."""
    value = abi.Val()
    if isinstance(response, WireError):
        if response.kind in _WIRE_ERRORS_WITH_TEXT:
            text = abi.Val()
            abi.write_string(text, response.message)
            abi.write_variant(value, response.kind.encode(), text)
        else:
            abi.write_variant(value, response.kind.encode())
        return abi.write_result(result, False, value)
    status, header_list, body_bytes = abi.write_record(value, (b"status", b"headers", b"body"))
    abi.write_number(status, "U16", response.status)
    for item, (name, text) in zip(abi.write_list(header_list, len(response.headers)), response.headers):
        name_val, text_val = abi.write_record(item, (b"name", b"value"))
        abi.write_string(name_val, name)
        abi.write_string(text_val, text)
    abi.write_bytes(body_bytes, response.body)
    abi.write_result(result, True, value)


def _send(call: Call, args: Any, result: abi.Val) -> None:
    request = _outgoing(args[0])
    entered = time.monotonic()
    try:
        response = answer(call.wire, request)
    finally:
        call.waited(entered)
    _write_answer(result, response)


def _send_all(call: Call, args: Any, result: abi.Val) -> None:
    """``wire.send-all``: through the wire's ``send_all`` (at once) when it has one, else one
    request after another. The answers as the wire gives them: the gate takes one per request,
    in order, and fails any request the wire left unanswered."""
    requests = [_outgoing(item) for item in abi.read_list(args[0])]
    entered = time.monotonic()
    try:
        carry = getattr(call.wire, "send_all", None)
        answers = list(carry(requests)) if carry is not None else [answer(call.wire, r) for r in requests]
    finally:
        call.waited(entered)
    for item, response in zip(abi.write_list(result, len(answers)), answers):
        _write_answer(item, response)


def _now_millis(call: Call, args: Any, result: abi.Val) -> None:
    now = call.wire.now_millis() if call.wire is not None else time.time_ns() // 1_000_000
    abi.write_number(result, "U64", now)


def _sleep(call: Call, args: Any, result: Any) -> None:
    # The gate calls this only for a live command within its wall-clock budget.
    entered = time.monotonic()
    try:
        if call.wire is not None:
            call.wire.sleep(abi.read_u64(args[0]))
    finally:
        call.waited(entered)


def _log(call: Call, args: Any, result: Any) -> None:
    if len(call.log) < MAX_LOG_LINES:  # a guest cannot flood the host's memory through its log
        call.log.append((abi.read_enum(args[0]), _truncated(abi.read_string(args[1]))))


def _panicked(call: Call, args: Any, result: Any) -> None:
    call.note_stop(Stop("panicked", _truncated(abi.read_string(args[0]))))


def _out_of_memory(call: Call, args: Any, result: Any) -> None:
    call.note_stop(Stop("memory", (call.memory_limit or 0, abi.read_u64(args[0]))))


def _flooded(call: Call, args: Any, result: Any) -> None:
    call.note_stop(Stop("requests", abi.read_u32(args[0])))


def _mapped(call: Call, obj: str, mapper: str, incident_type: str) -> tuple[bool, str]:
    """``platform.map-object``: the call's ``map_object`` on the object, as ``(ok, text)``. What
    the platform gets wrong is the connector's to report (an ``err``), never a trap: an answer
    that is not an object (None, XSOAR's "mapped nothing", is JSON null, which the connector
    takes as such), not JSON, not UTF-8 (a lone surrogate) or larger than ``call.mapped_bytes``."""
    if call.map_object is None:
        return False, NO_PLATFORM_MAPPER
    try:
        mapped = call.map_object(json.loads(obj), mapper, incident_type)
        if mapped is not None and not isinstance(mapped, dict):
            return False, f"the platform mapper gave {type(mapped).__name__}, not an object"
        text = json.dumps(mapped, ensure_ascii=False)
        size = len(text.encode("utf-8"))
    except Exception as error:  # the platform's failure, worded for the connector
        return False, f"the platform mapper failed: {error}"
    if size > call.mapped_bytes:
        return False, (f"the platform mapper gave {size} bytes of JSON, more than the {call.mapped_bytes} "
                       "a command takes")
    return True, text


def _map_object(call: Call, args: Any, result: abi.Val) -> None:
    ok, text = _mapped(call, abi.read_string(args[0]), abi.read_string(args[1]), abi.read_string(args[2]))
    value = abi.Val()
    abi.write_string(value, text)
    abi.write_result(result, ok, value)


def _error_pointer(message: str) -> int:
    pointer = ffi.wasmtime_error_new(ctypes.create_string_buffer(message.encode("utf-8", "replace")))
    return ctypes.cast(pointer, ctypes.c_void_p).value or 0


def _callback(handler: Callable[[Call, Any, Any], None], waits: bool) -> Any:
    """A C callback for ``handler``, run on the call active on this thread."""

    def call(data: Any, context: Any, ty: Any, args: Any, nargs: int, results: Any, nresults: int) -> int:
        active: Call | None = getattr(_ACTIVE, "call", None)
        if active is None:
            return _error_pointer("a host function was called outside a command")
        try:
            handler(active, args, results[0] if nresults else None)
        except BaseException as error:  # a bug of this host: never let it unwind through C
            active.host_error = error
            return _error_pointer(f"host error: {error!r}")
        if waits:  # time blocked in the host call is not the guest's computing
            ffi.wasmtime_context_set_epoch_deadline(context, _ticks(active.cpu_left()))
        return 0

    return ffi.wasmtime_component_func_callback_t(call)


# Kept alive for the life of the process: the linker holds raw pointers to them.
_IMPORTS = {
    WIRE: {"send": _callback(_send, True), "send-all": _callback(_send_all, True)},
    CLOCK: {"now-millis": _callback(_now_millis, False), "sleep": _callback(_sleep, True)},
    LOG: {"log": _callback(_log, False)},
    PANIC: {"panicked": _callback(_panicked, False), "out-of-memory": _callback(_out_of_memory, False),
            "flooded": _callback(_flooded, False)},
    PLATFORM: {"map-object": _callback(_map_object, True)},
}
_NO_FINALIZER = ctypes.cast(0, ctypes.CFUNCTYPE(None, ctypes.c_void_p))


def _link(linker: Linker) -> None:
    with linker.root() as root:
        for interface, functions in _IMPORTS.items():
            with root.add_instance(interface) as instance:
                for name, callback in functions.items():
                    encoded = name.encode()
                    error = ffi.wasmtime_component_linker_instance_add_func(
                        instance.ptr(), ctypes.create_string_buffer(encoded), len(encoded), callback, None, _NO_FINALIZER)
                    if error:
                        raise WasmtimeError._from_ptr(error)


# --- the engine, its ticker and the cache -------------------------------------------------------

#: The engines the ticker advances, held strongly: an engine leaves only through ``_unwatch``,
#: so the ticker never touches one being freed. (A weak set would not do: CPython runs a dying
#: engine's ``__del__``, which frees it with the GIL released, before clearing weak references,
#: so the ticker could still find it and advance a freed engine.)
_ENGINES: set[Engine] = set()
#: Reentrant: a finalizer that unwatches may run on the ticker's own thread (cyclic GC).
_TICKER_LOCK = threading.RLock()
_TICKER: list[threading.Thread] = []
_TICKER_STOP = threading.Event()


def _tick() -> None:
    while not _TICKER_STOP.wait(EPOCH_TICK_SECONDS):
        _advance_epochs()


def _advance_epochs() -> None:
    # A function of its own: its locals (the last engine advanced) go when it returns, so the
    # ticker keeps no engine alive between ticks.
    with _TICKER_LOCK:
        for engine in tuple(_ENGINES):
            engine.increment_epoch()


def _stop_ticker() -> None:
    """At exit, before the interpreter tears down its objects: a ticker still inside wasmtime
    while the engines are freed could crash the process."""
    _TICKER_STOP.set()
    for thread in _TICKER:
        thread.join(1.0)


def _watch(engine: Engine) -> None:
    with _TICKER_LOCK:
        _ENGINES.add(engine)
        if not _TICKER:
            _TICKER.append(threading.Thread(target=_tick, name="iam-host-epoch", daemon=True))
            _TICKER[0].start()
            atexit.register(_stop_ticker)


def _unwatch(engine: Engine) -> None:
    """The ticker lets go of ``engine``; once it returns, the ticker is not inside it."""
    with _TICKER_LOCK:
        _ENGINES.discard(engine)


#: Commands (and other calls) in flight at once per engine: one pooled sandbox each, set up
#: when the engine starts; a call beyond them waits for a free one.
POOL_SIZE = 16
#: The engine's settings beyond the defaults (also part of the cache key): no component-model
#: concurrency (cheaper calls), and a pooling allocator whose slots keep the few pages a
#: command touches resident and reset them, where a fresh mapping per command would map,
#: fault in and unmap every page (about 40 % of a warm command). Memory slots are as large as a
#: 32-bit memory can be: the store's limit is the command's memory limit.
_SETTINGS = {"concurrency_support": False}
_POOL = {"total_component_instances": POOL_SIZE, "total_core_instances": POOL_SIZE * 32,
         "max_core_instances_per_component": 32, "total_memories": POOL_SIZE * 8, "max_memories_per_component": 8,
         "total_tables": POOL_SIZE * 32, "max_tables_per_component": 32, "total_stacks": POOL_SIZE,
         "max_memory_size": 1 << 32, "linear_memory_keep_resident": 2 << 20, "table_keep_resident": 2 << 20}


def new_engine() -> Engine:
    config = Config()
    config.epoch_interruption = True
    for name, value in _SETTINGS.items():
        getattr(ffi, f"wasmtime_config_{name}_set")(config.ptr(), value)
    pool = ffi.wasmtime_pooling_allocation_config_new()
    for name, value in _POOL.items():
        getattr(ffi, f"wasmtime_pooling_allocation_config_{name}_set")(pool, value)
    ffi.wasmtime_pooling_allocation_strategy_set(config.ptr(), pool)
    ffi.wasmtime_pooling_allocation_config_delete(pool)
    return Engine(config)


def default_cache_dir() -> Path:
    explicit = os.environ.get("IAM_HOST_CACHE_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "iam-host-python"


def _trusted_dir(path: Path) -> bool:
    """A cache directory this user (or root) owns and nobody else can write: only then are
    artifacts in it ones this host wrote (loading one runs its machine code)."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid in (os.getuid(), 0) and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _fingerprint() -> str:
    """What an artifact depends on besides the component: the wasmtime library, the machine,
    the engine's settings."""
    try:
        library = os.stat(ffi.filename)
        build = f"{library.st_size}-{library.st_mtime_ns}"
    except (AttributeError, OSError):
        build = "unknown"
    return f"{build}|{os.uname().machine}|{sys.platform}|epoch|{sorted(_SETTINGS.items())}|{sorted(_POOL.items())}"


def load_component(engine: Engine, wasm: bytes, cache_dir: Path | None) -> Component:
    """Compile once; afterwards load the artifact this host wrote, whose SHA-256 is recorded
    beside it and checked before loading, so a damaged or replaced file is compiled afresh and
    never run. A cache that cannot be written costs the next process a compile."""
    if cache_dir is None or not _trusted_dir(cache_dir):
        return Component(engine, wasm)
    engine_key = hashlib.sha256(_fingerprint().encode()).hexdigest()[:16]
    cached = cache_dir / f"{hashlib.sha256(wasm).hexdigest()[:32]}-{engine_key}.cwasm"
    digest = cached.with_name(cached.name + ".sha256")
    try:
        artifact = cached.read_bytes()
        if hashlib.sha256(artifact).hexdigest() == digest.read_text().strip():
            return Component.deserialize(engine, artifact)
    except (OSError, WasmtimeError):
        pass
    component = Component(engine, wasm)
    try:
        artifact = component.serialize()
        write_atomically(str(cached), artifact, True)
        write_atomically(str(digest), hashlib.sha256(artifact).hexdigest().encode(), True)
    except OSError:
        pass
    return component


def _first_line(error: Any) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else "unknown error"


def classify(call: Call, message: str) -> Stop:
    """Name the cause of a failed call: what the component reported (``panic``), else the CPU
    limit, else the runtime's words."""
    if call.host_error is not None:
        raise call.host_error
    if call.stop is not None:
        return call.stop
    if "wasm trap: interrupt" in message:
        return Stop("cpu", call.cpu_millis)
    trap = _TRAP.search(message)
    return Stop("trapped", trap.group(0) if trap else _first_line(message))


# --- the runtime -------------------------------------------------------------------------------

_SETUP = (b"command", b"config-json", b"args-json", b"mode", b"budget")
_BUDGET = ((b"max-requests", "U32"), (b"request-bytes", "U64"), (b"response-bytes", "U64"),
           (b"request-timeout-ms", "U64"), (b"wall-ms", "U64"))


class Runtime:
    """The engine, the compiled gated component and its linker: ready to run commands for any
    tenant, from any thread (each call has its own store)."""

    def __init__(self, wasm: bytes, cache_dir: Path | None, origin: str) -> None:
        self.origin = origin
        self.engine = new_engine()
        try:
            self.component = load_component(self.engine, wasm, cache_dir)
        except WasmtimeError as error:
            raise ComponentError(f"{origin} is not a valid component: {_first_line(error)}") from None
        gate = self.component.get_export_index(GATE)
        names = ("run", "read-limits", "stopped", "describe")
        self._index = {name: self.component.get_export_index(name, gate) for name in names} if gate else {}
        if not gate or None in self._index.values():
            raise ComponentError(f"{origin} does not export {GATE} (run, read-limits, stopped, describe): "
                                 "give the connector composed with the gate (`iam-host gated`)")
        imports = set(self.component.type.imports(self.engine))
        unknown = sorted(imports - set(_IMPORTS))
        if unknown:
            raise ComponentError(f"{origin} imports what this host does not give: {', '.join(unknown)}")
        self.linker = Linker(self.engine)
        _link(self.linker)
        self._slots = threading.BoundedSemaphore(POOL_SIZE)
        _watch(self.engine)

    def __del__(self) -> None:
        # Before the engine can be freed: the ticker holds it until it is let go here.
        engine = getattr(self, "engine", None)
        if engine is not None:
            _unwatch(engine)

    def _enter(self, call: Call, name: str) -> tuple[Store, Any]:
        """A fresh store and instance with the call's limits (a pooled slot, waited for when all
        are in use), the call active on this thread."""
        self._slots.acquire()
        store = None
        try:
            store = Store(self.engine)
            if call.memory_limit is not None:
                store.set_limits(memory_size=call.memory_limit)
            store.set_epoch_deadline(_ticks(call.cpu_millis / 1000))
            _ACTIVE.call = call
            return store, self.linker.instantiate(store, self.component).get_func(store, self._index[name])
        except WasmtimeError as error:
            self._leave(store)
            raise Stopped(classify(call, str(error))) from None
        except BaseException:
            self._leave(store)
            raise

    def _leave(self, store: Store | None) -> None:
        _ACTIVE.call = None
        if store is not None:
            store.close()
        self._slots.release()

    def run(self, call: Call, command: str, config: str, args: str, mode: str | bool | None,
            budget: tuple[int, ...]) -> tuple[bool, str, str | None, str | None]:
        """``gate.run``: ``mode`` is the cassette's text (replay), ``None`` (live) or ``True``
        (recording). The report as ``(is_error, entry_json, replay_failure, recording_json)``;
        raises ``Stopped`` when the command was stopped, ``UnusableInput`` when the gate
        refused an input."""
        store, func = self._enter(call, "run")
        params = (abi.Val * 1)()
        result = abi.Val()
        try:
            fields = abi.write_record(params[0], _SETUP)
            for field, text in zip(fields, (command, config, args)):
                abi.write_string(field, text)
            if isinstance(mode, str):
                cassette = abi.Val()
                abi.write_string(cassette, mode)
                abi.write_variant(fields[3], b"replay", cassette)
            else:
                abi.write_variant(fields[3], b"recording" if mode else b"live")
            for value, (name, kind), number in zip(abi.write_record(fields[4], tuple(n for n, _ in _BUDGET)), _BUDGET, budget):
                abi.write_number(value, kind, number)
            context = store._context()
            call.started = time.monotonic()
            error = ffi.wasmtime_component_func_call(ctypes.byref(func._func), context, params, 1, ctypes.byref(result), 1)
            abi.delete(params[0])
            if error:
                raise Stopped(classify(call, str(WasmtimeError._from_ptr(error))))
            try:
                if result.kind != abi.RESULT:
                    raise ComponentError(f"{self.origin}: gate.run answered something other than a result")
                inner = result.of.result.val.contents
                if not result.of.result.is_ok:
                    raise UnusableInput(abi.read_string(inner))
                is_error, entry, failure, recording = abi.read_record(inner, 4)
                return (abi.read_bool(is_error), abi.read_string(entry), abi.read_option_string(failure),
                        abi.read_option_string(recording))
            except abi.AbiError as mismatch:
                raise ComponentError(f"{self.origin}: gate.run does not answer as the contract says ({mismatch})") from None
            finally:
                abi.delete(result)
        finally:
            self._leave(store)

    def _utility(self, name: str, *args: Any) -> Any:
        """One of the gate's other exports, in a fresh store without a command's limits."""
        call = Call(None, UTILITY_CPU_MILLIS, None)
        try:
            store, func = self._enter(call, name)
        except Stopped as stopped:
            raise ComponentError(f"{self.origin}: cannot run {name}: {stopped}") from None
        try:
            value = func(store, *args)
            func.post_return(store)
            return value
        except WasmtimeError as error:
            raise ComponentError(f"{self.origin}: {name} was stopped: {Stopped(classify(call, str(error)))}") from None
        finally:
            self._leave(store)

    def describe(self) -> Description:
        about = self._utility("describe")
        return Description(about.name, about.version, list(about.commands), list(about.origins), list(about.credentials))

    def read_limits(self, text: str | None) -> Limits:
        """The limits of a limits file's text (None: the defaults); ``UnusableInput`` says why
        the gate refused it."""
        limits = self._utility("read-limits", text)
        if isinstance(limits, str):
            raise UnusableInput(limits)
        budget = limits.budget
        return Limits(getattr(limits, "memory-bytes"), getattr(limits, "cpu-millis"), getattr(limits, "connect-timeout-ms"),
                      tuple(getattr(budget, name.decode()) for name, _ in _BUDGET))  # type: ignore[arg-type]

    def check_memory_limit(self, memory_bytes: int) -> None:
        """Refuse a memory limit the component cannot even start within (``UnusableInput``)."""
        try:
            store, _ = self._enter(Call(None, UTILITY_CPU_MILLIS, memory_bytes), "describe")
        except Stopped as stopped:
            raise UnusableInput(f"the component cannot start within a memory limit of {memory_bytes} bytes "
                                f"({stopped.stop.value})") from None
        self._leave(store)

    def stopped(self, command: str, stop: Stop) -> str:
        """The Type 4 entry of a command the host stopped (on a fresh instance)."""
        return self._utility("stopped", command, stop.variant())
