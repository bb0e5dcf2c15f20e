"""The wasmtime side: one ``Engine`` (epoch interruption), the component compiled once per
process and cached as a serialized artifact keyed by its hash, one ``Linker`` holding the
imports, and a fresh ``Store`` + instance per command. A trap or limit hit becomes a ``Stop``
that names its cause; it never unwinds into the caller.

The imports (``iam:atlassian/http@0.2.0`` send, ``iam:atlassian/host@0.2.0`` log, sleep and
now-millis) are implemented here on the command's ``CommandState``. ``send`` checks in the
Rust host's order (host-test/src/imports.rs): request size, origin and headers, credential,
method; then the request budget; then the backend under the wall-clock limit and the
response size cap; then every secret is scrubbed from the response before the guest sees it.
Refusals are typed ``http-error`` values; a host fault (a replay mismatch) and a limit
overrun are traps. WASI p2 is linked with nothing granted: no files, no environment, no
arguments, no network; stdout is discarded and stderr kept only to name a panic.

CPU is bounded with epoch deadlines (a ticker thread advances the epoch every 10 ms): the
deadline is the command's CPU time left, and it is set again each time the guest comes back
from a host call, so that time blocked in ``send`` or ``sleep`` never counts as computing.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import stat
import sys
import threading
import time
from ctypes import byref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple

from wasmtime import Config, Engine, Store, WasiConfig, WasmtimeError
from wasmtime import _ffi as ffi
from wasmtime.component import Component, Linker

from . import abi
from .backend import Backend, BackendError, IncomingResponse, OutgoingRequest
from .limits import LimitHit, Limits, Meter
from .policy import Denied, Policy, UnknownCredential
from .scrub import Scrubber

WIT_PACKAGE = "iam:atlassian"
WIT_VERSION = "0.2.0"
HTTP_INTERFACE = f"{WIT_PACKAGE}/http@{WIT_VERSION}"
HOST_INTERFACE = f"{WIT_PACKAGE}/host@{WIT_VERSION}"
COMMANDS_INTERFACE = f"{WIT_PACKAGE}/commands@{WIT_VERSION}"

#: Granularity of the CPU deadline.
EPOCH_TICK_SECONDS = 0.010
#: Log lines kept per command, and bytes kept of one.
MAX_LOG_LINES = 256
MAX_LOG_LINE_BYTES = 2048
#: Requests refused for the spent budget before the sandbox ends: the connector stops at the
#: first refusal; a guest that sends this many more is looping, not handling an error.
MAX_REFUSED_REQUESTS = 4
#: How much of the guest's stderr (a panic message) is kept; past it the stream fails.
GUEST_STDERR_BYTES = 4096
#: What Rust's allocator prints before it aborts when memory cannot grow.
_ALLOCATION_FAILED = re.compile(rb"memory allocation of (\d+) bytes failed")
_WASM_TRAP = re.compile(r"wasm trap: [^\n]*")
#: How wasmtime words an import the linker cannot satisfy (a component of another world).
_LINK_ERRORS = ("matching implementation was not found", "type mismatch", "expected ")

_ACTIVE = threading.local()


# --- per command ------------------------------------------------------------------------------


class LogLine(NamedTuple):
    level: str
    message: str


class GuestRequest(NamedTuple):
    """A request as the guest asked for it: the proof that it names the credential and
    carries none."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: str | None
    auth: str | None


class CommandState:
    """One command's tenant policy, limits, budget, backend and diagnostics ("the T in
    Store<T>"). A fresh one per command."""

    __slots__ = ("policy", "limits", "backend", "meter", "scrubber", "log", "guest_requests",
                 "fault", "host_error", "stderr")

    def __init__(self, policy: Policy, limits: Limits, backend: Backend, scrubber: Scrubber | None = None) -> None:
        self.policy = policy
        self.limits = limits
        self.backend = backend
        self.meter = Meter()
        self.scrubber = scrubber
        self.log: list[LogLine] = []
        self.guest_requests: list[GuestRequest] = []
        #: A fault that ends the command (a replay mismatch), reported after the trap.
        self.fault: str | None = None
        #: An exception of the host itself inside an import (a bug): re-raised after the call.
        self.host_error: BaseException | None = None
        self.stderr = bytearray()

    def write_stderr(self, data: bytes) -> int:
        room = GUEST_STDERR_BYTES - len(self.stderr)
        self.stderr += data[: max(room, 0)]
        # Past the cap the stream fails: Rust's eprintln! then panics, and the panic cannot
        # be printed either, so a guest that keeps printing is stopped.
        return len(data) if len(data) <= room else -5  # -EIO


class Stop(Exception):
    """Why a command was stopped by the sandbox."""


class Fault(Stop):
    """A host fault (a replay mismatch) ended the command."""


class Trapped(Stop):
    """The guest hit a limit or trapped; the message names the cause."""


class _Halt(Exception):
    """Raised inside an import to end the command with a trap."""


def _ticks(seconds: float) -> int:
    """Epoch ticks until the next check: +1 because the current tick may be almost over."""
    return int(-(-seconds // EPOCH_TICK_SECONDS)) + 1 if seconds > 0 else 1


# --- the imports ------------------------------------------------------------------------------

_HTTP_ERROR_STRING_CASES = frozenset({b"denied", b"transport", b"tls", b"protocol", b"unknown-credential"})


def _write_http_error(result: abi.Val, case: bytes, payload: Any = None) -> None:
    value = abi.Val()
    if payload is None:
        abi.write_variant(value, case, None)
    else:
        inner = abi.Val()
        if case in _HTTP_ERROR_STRING_CASES:
            abi.write_string(inner, payload)
        elif case == b"response-too-large":
            abi.write_u64(inner, payload)
        else:
            abi.write_u32(inner, payload)
        abi.write_variant(value, case, inner)
    abi.write_result(result, False, value)


def _write_response(result: abi.Val, response: IncomingResponse) -> None:
    value = abi.Val()
    status, headers, body = abi.write_record(value, (b"status", b"headers", b"body"))
    abi.write_u16(status, response.status)
    items = abi.write_list(headers, len(response.headers))
    for item, (name, text) in zip(items, response.headers):
        name_field, value_field = abi.write_record(item, (b"name", b"value"))
        abi.write_string(name_field, name)
        abi.write_string(value_field, text)
    abi.write_bytes(body, response.body)
    abi.write_result(result, True, value)


def _request_bytes(url: str, headers: list[tuple[str, str]], body: str | None) -> int:
    """Bytes of a request the host would copy: URL, headers and body (UTF-8)."""
    total = len(url.encode()) + (len(body.encode()) if body is not None else 0)
    return total + sum(len(n.encode()) + len(v.encode()) for n, v in headers)


def _send(state: CommandState, context: Any, args: Any, result: abi.Val) -> None:
    method_v, url_v, headers_v, body_v, auth_v, timeout_v = abi.read_record(args[0], 6)
    method = abi.read_string(method_v)
    url = abi.read_string(url_v)
    headers = [
        (abi.read_string(name), abi.read_string(value))
        for name, value in (abi.read_record(item, 2) for item in abi.read_list(headers_v))
    ]
    body = abi.read_option_string(body_v)
    auth = abi.read_option_string(auth_v)
    timeout_inner = abi.read_option(timeout_v)
    asked_timeout = None if timeout_inner is None else abi.read_u32(timeout_inner)
    limits = state.limits

    # 1. The size, before the host copies anything more of the request.
    size = _request_bytes(url, headers, body)
    if size > limits.request_bytes:
        cap = limits.request_bytes
        return _write_http_error(
            result, b"denied", f"the request of {size} bytes is larger than the host's cap of {cap} bytes"
        )
    if len(state.guest_requests) < 64:
        state.guest_requests.append(GuestRequest(method, url, headers, body, auth))
    # 2. Policy: every check, then the credential.
    try:
        parsed, outgoing_headers = state.policy.authorize(method, url, headers, auth)
    except Denied as denied:
        return _write_http_error(result, b"denied", str(denied))
    except UnknownCredential as unknown:
        return _write_http_error(result, b"unknown-credential", str(unknown))

    # 3. The wall-clock budget: once it is spent, the answer is `timeout`, at once.
    meter = state.meter
    wall_left = meter.wall_left(limits)
    if wall_left is None:
        return _write_http_error(result, b"timeout")
    # 4. The request budget. The first refusals are values the guest reports; a guest that
    # ignores them is stopped.
    if meter.requests_made >= limits.max_requests:
        meter.requests_refused += 1
        if meter.requests_refused > MAX_REFUSED_REQUESTS:
            _stop(state, LimitHit(LimitHit.REQUESTS))
        return _write_http_error(result, b"too-many-requests", limits.max_requests)
    meter.requests_made += 1

    # 5. The backend, given no more time than the request's timeout and the command's budget
    # allow (the live backend holds itself to it).
    timeout = min(limits.request_timeout(asked_timeout), wall_left)
    outgoing = OutgoingRequest(method, parsed, url, outgoing_headers, body, timeout)
    cap = limits.response_bytes
    entered = time.monotonic()
    try:
        response = state.backend.send(outgoing, cap)
        error = None
    except BackendError as failure:
        response, error = None, failure
    finally:
        meter.add_host_time(entered)

    # 6. The answer as the guest receives it: the tenant's secrets scrubbed, then the cap.
    scrubber = state.scrubber
    if error is not None:
        message = scrubber.scrub_text(error.message) if scrubber else error.message
        if error.kind == BackendError.FAULT:
            state.fault = message
            raise _Halt(message)
        if error.kind == BackendError.TIMEOUT:
            return _write_http_error(result, b"timeout")
        if error.kind == BackendError.TOO_LARGE:
            return _write_http_error(result, b"response-too-large", cap)
        case = {BackendError.TLS: b"tls", BackendError.PROTOCOL: b"protocol"}.get(error.kind, b"transport")
        return _write_http_error(result, case, message)
    assert response is not None
    if scrubber:
        response = IncomingResponse(
            response.status,
            [(scrubber.scrub_text(name), scrubber.scrub_text(value)) for name, value in response.headers],
            scrubber.scrub_bytes(response.body),
        )
    received = len(response.body) + sum(len(n.encode()) + len(v.encode()) for n, v in response.headers)
    if received > cap:
        return _write_http_error(result, b"response-too-large", cap)
    _write_response(result, response)


def _log(state: CommandState, context: Any, args: Any, result: Any) -> None:
    level = abi.read_enum(args[0])
    message = abi.read_string(args[1])
    # A guest cannot flood the host's memory through its log.
    if len(state.log) < MAX_LOG_LINES:
        encoded = message.encode("utf-8")
        if len(encoded) > MAX_LOG_LINE_BYTES:
            message = encoded[:MAX_LOG_LINE_BYTES].decode("utf-8", "ignore") + "…"
        state.log.append(LogLine(level, message))


def _sleep(state: CommandState, context: Any, args: Any, result: Any) -> None:
    millis = abi.read_u64(args[0])
    # A wait that would end past the wall-clock budget is not begun: it would leave nothing
    # for the request after it, so the budget counts as spent and the guest's next requests
    # answer `timeout` at once.
    left = state.meter.wall_left(state.limits)
    if left is None or millis > left * 1000.0:
        state.meter.wall_spent = True
        return
    entered = time.monotonic()
    try:
        state.backend.sleep(millis)
    finally:
        state.meter.add_host_time(entered)


def _now_millis(state: CommandState, context: Any, args: Any, result: abi.Val) -> None:
    abi.write_u64(result, state.backend.now_millis())


def _stop(state: CommandState, hit: LimitHit) -> None:
    """End the command at a limit: record it for the entry and trap."""
    state.meter.hit = hit
    raise _Halt(hit.describe(state.limits))


def _error_pointer(message: str) -> int:
    pointer = ffi.wasmtime_error_new(ctypes.create_string_buffer(message.encode("utf-8", "replace")))
    return ctypes.cast(pointer, ctypes.c_void_p).value or 0


def _callback(handler: Callable[[CommandState, Any, Any, Any], None], waits: bool) -> Any:
    """A C callback for ``handler``, run on the command that is active on this thread."""

    def call(data: Any, context: Any, ty: Any, args: Any, nargs: int, results: Any, nresults: int) -> int:
        state: CommandState | None = getattr(_ACTIVE, "state", None)
        if state is None:
            return _error_pointer("a host function was called outside a command")
        try:
            handler(state, context, args, results[0] if nresults else None)
        except _Halt as halt:
            return _error_pointer(str(halt))
        except BaseException as error:  # a bug of this host: never let it unwind through C
            state.host_error = error
            return _error_pointer(f"host error: {error!r}")
        if waits:
            # Time blocked in the host call is not the guest's computing: move the deadline.
            left = state.meter.compute_left(state.limits)
            seconds = left if isinstance(left, float) else 0.0
            ffi.wasmtime_context_set_epoch_deadline(context, _ticks(seconds))
        return 0

    return ffi.wasmtime_component_func_callback_t(call)


_NO_FINALIZER = ctypes.cast(0, ctypes.CFUNCTYPE(None, ctypes.c_void_p))
# Kept alive for the life of the process: the linker holds raw pointers to them.
_CALLBACKS = {
    (HTTP_INTERFACE, "send"): _callback(_send, waits=True),
    (HOST_INTERFACE, "log"): _callback(_log, waits=False),
    (HOST_INTERFACE, "sleep"): _callback(_sleep, waits=True),
    (HOST_INTERFACE, "now-millis"): _callback(_now_millis, waits=False),
}


def _add_func(instance: Any, name: str, callback: Any) -> None:
    encoded = name.encode()
    error = ffi.wasmtime_component_linker_instance_add_func(
        instance.ptr(), ctypes.create_string_buffer(encoded), len(encoded), callback, None, _NO_FINALIZER
    )
    if error:
        raise WasmtimeError._from_ptr(error)


# --- the engine, the component and its cache --------------------------------------------------


class _Ticker:
    """Advances each engine's epoch every tick, on one daemon thread for the process."""

    _engines: list[Engine] = []
    _lock = threading.Lock()
    _thread: threading.Thread | None = None

    @classmethod
    def watch(cls, engine: Engine) -> None:
        with cls._lock:
            cls._engines.append(engine)
            if cls._thread is None:
                cls._thread = threading.Thread(target=cls._run, name="iam-host-epoch", daemon=True)
                cls._thread.start()

    @classmethod
    def _run(cls) -> None:
        while True:
            time.sleep(EPOCH_TICK_SECONDS)
            for engine in list(cls._engines):
                engine.increment_epoch()


def default_cache_dir() -> Path:
    """Where compiled components are cached: ``$IAM_HOST_CACHE_DIR``, else the user's cache
    directory."""
    explicit = os.environ.get("IAM_HOST_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "iam-host-python"


def _trusted_dir(path: Path) -> bool:
    """A cache directory owned by this user (or by root, as one baked into an image) that
    nobody else can write: only then are artifacts in it trusted to be ones this host wrote
    (loading one runs its machine code)."""
    try:
        if not path.exists():
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError:
        return False
    owner_ok = info.st_uid in (os.getuid(), 0)
    return stat.S_ISDIR(info.st_mode) and owner_ok and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _engine_fingerprint() -> str:
    """What a serialized artifact depends on besides the component: the wasmtime library
    (its file's size and time), the machine and this host's engine configuration."""
    try:
        library = os.stat(ffi.filename)
        build = f"{library.st_size}-{library.st_mtime_ns}"
    except (AttributeError, OSError):
        build = "unknown"
    return f"wasmtime {build}|{os.uname().machine}|{sys.platform}|epoch-interruption"


def load_component(engine: Engine, wasm: bytes, cache_dir: Path | None) -> Component:
    """Compile once; afterwards load the artifact this host wrote (keyed by the component's
    hash and the engine's fingerprint). Any cache problem falls back to compiling."""
    if cache_dir is None or not _trusted_dir(cache_dir):
        return Component(engine, wasm)
    digest = hashlib.sha256(wasm).hexdigest()[:32]
    engine_hash = hashlib.sha256(_engine_fingerprint().encode()).hexdigest()[:16]
    cached = cache_dir / f"{digest}-{engine_hash}.cwasm"
    if cached.is_file():
        try:
            return Component.deserialize_file(engine, str(cached))
        except WasmtimeError:
            pass  # stale or damaged: compile again and replace it
    component = Component(engine, wasm)
    try:
        import tempfile

        fd, temporary = tempfile.mkstemp(prefix=cached.name, suffix=".tmp", dir=cache_dir)
        with os.fdopen(fd, "wb") as file:
            file.write(component.serialize())
        os.replace(temporary, cached)
    except OSError:
        pass  # a read-only cache only costs the next process a compile
    return component


class ComponentError(Exception):
    """A component that cannot run as the connector (not a component, another world)."""


class Description(NamedTuple):
    name: str
    version: str
    commands: list[str]
    origins: list[str]
    credentials: list[str]


class Outcome(NamedTuple):
    entry_type: str  # "note" or "error"
    entry_json: str


class Runtime:
    """The engine, the compiled component and the linker: ready to run commands for any
    tenant. Thread-compatible: each command has its own store."""

    def __init__(self, wasm: bytes, cache_dir: Path | None = None, origin: str = "component") -> None:
        config = Config()
        config.epoch_interruption = True
        self.engine = Engine(config)
        try:
            self.component = load_component(self.engine, wasm, cache_dir)
        except WasmtimeError as error:
            raise ComponentError(f"{origin} is not a valid component: {_first_line(error)}") from None
        self.linker = Linker(self.engine)
        self.linker.add_wasip2()
        with self.linker.root() as root:
            with root.add_instance(HTTP_INTERFACE) as http:
                _add_func(http, "send", _CALLBACKS[(HTTP_INTERFACE, "send")])
            with root.add_instance(HOST_INTERFACE) as host:
                for name in ("log", "sleep", "now-millis"):
                    _add_func(host, name, _CALLBACKS[(HOST_INTERFACE, name)])
        commands = self.component.get_export_index(COMMANDS_INTERFACE)
        run = self.component.get_export_index("run", commands) if commands else None
        describe = self.component.get_export_index("describe", commands) if commands else None
        if run is None or describe is None:
            raise ComponentError(f"{origin} does not export {COMMANDS_INTERFACE} (run, describe)")
        self._run_index, self._describe_index = run, describe
        self._origin = origin
        self._description: Description | None = None
        _Ticker.watch(self.engine)

    # The store of one command, instantiated: raises Stop.
    def _instantiate(self, state: CommandState) -> tuple[Store, Any]:
        store = Store(self.engine)
        wasi = WasiConfig()
        wasi.stderr_custom = state.write_stderr
        store.set_wasi(wasi)
        store.set_limits(memory_size=state.limits.memory_bytes)
        store.set_epoch_deadline(_ticks(state.limits.cpu_millis / 1000.0))
        try:
            instance = self.linker.instantiate(store, self.component)
        except WasmtimeError as error:
            store.close()
            text = str(error)
            if "wasm trap" not in text and any(sign in text for sign in _LINK_ERRORS):
                raise ComponentError(
                    f"{self._origin} does not fit the connector world: {_first_line(text)}"
                ) from None
            raise self._classify(state, text) from None
        return store, instance

    def describe(self) -> Description:
        """The component's static metadata (asked once per process)."""
        if self._description is None:
            state = CommandState(Policy(), Limits(), _NoBackend())
            with self._called(state, self._describe_index, None) as fields:
                try:
                    self._description = Description(
                        abi.read_string(fields[0]),
                        abi.read_string(fields[1]),
                        abi.read_string_list(fields[2]),
                        abi.read_string_list(fields[3]),
                        abi.read_string_list(fields[4]),
                    )
                except (abi.AbiError, IndexError) as error:
                    raise ComponentError(
                        f"{self._origin}: describe does not answer as the contract says ({error})"
                    ) from None
        return self._description

    def run(self, state: CommandState, invocation_json: str, credential: str | None) -> Outcome:
        """Run one command in a fresh store; raises ``Stop`` when the sandbox stopped it."""
        with self._called(state, self._run_index, (invocation_json, credential)) as fields:
            try:
                return Outcome(abi.read_enum(fields[0]), abi.read_string(fields[1]))
            except (abi.AbiError, IndexError) as error:
                raise ComponentError(
                    f"{self._origin}: run does not answer as the contract says ({error})"
                ) from None

    @contextmanager
    def _called(self, state: CommandState, index: Any,
                invocation: tuple[str, str | None] | None) -> Iterator[list[abi.Val]]:
        """Instantiate, call an export with the command's state active, and yield the fields
        of its record result; the result and the store are freed afterwards."""
        store, instance = self._instantiate(state)
        result = abi.Val()
        called = False
        try:
            func = instance.get_func(store, index)
            context = store._context()
            params = (abi.Val * 1)()
            nparams = 0
            if invocation is not None:
                json_field, credential_field = abi.write_record(params[0], (b"json", b"credential"))
                abi.write_string(json_field, invocation[0])
                if invocation[1] is None:
                    abi.write_none(credential_field)
                else:
                    abi.write_some_string(credential_field, invocation[1])
                nparams = 1
            _ACTIVE.state = state
            try:
                error = ffi.wasmtime_component_func_call(
                    byref(func._func), context, params, nparams, byref(result), 1
                )
            finally:
                _ACTIVE.state = None
                if nparams:
                    abi.delete(params[0])
            if error:
                raise self._classify(state, str(WasmtimeError._from_ptr(error)))
            called = True
            error = ffi.wasmtime_component_func_post_return(byref(func._func), context)
            if error:
                raise self._classify(state, str(WasmtimeError._from_ptr(error)))
            if result.kind != abi.KIND_RECORD:
                raise ComponentError(f"{self._origin}: an export answered something other than a record")
            yield abi.read_record(result, result.of.record.size)
        finally:
            if called:
                abi.delete(result)
            store.close()

    def _classify(self, state: CommandState, message: str) -> Stop:
        """Name the cause of a failed call."""
        if state.host_error is not None:
            raise state.host_error
        if state.fault is not None:
            return Fault(state.fault)
        # The imports record the limit they enforce; the memory limit shows as the guest's
        # allocator failing (wasmtime refused to grow its memory).
        hit = state.meter.hit
        if hit is None:
            allocation = _ALLOCATION_FAILED.search(bytes(state.stderr))
            if allocation is not None:
                hit = LimitHit(LimitHit.MEMORY, int(allocation.group(1)))
        if hit is None and "wasm trap: interrupt" in message:
            hit = LimitHit(LimitHit.CPU)
        if hit is not None:
            return Trapped(hit.describe(state.limits))
        # A WASI guest's panic is on its stderr; the connector (no WASI) logs its own.
        stderr = bytes(state.stderr).decode("utf-8", "replace").strip()
        logged = next((line.message for line in reversed(state.log)
                       if line.level == "error" and line.message.startswith("panicked at")), None)
        panic = stderr if "panicked at" in stderr else logged
        if panic is not None:
            lines = [line.strip() for line in panic.splitlines()]
            start = next(i for i, line in enumerate(lines) if "panicked at" in line)
            return Trapped(f"the component panicked: {' '.join(lines[start:start + 2])}")
        if len(state.stderr) >= GUEST_STDERR_BYTES:
            return Trapped(f"it wrote more than the {GUEST_STDERR_BYTES} bytes of stderr the host keeps")
        trap = _WASM_TRAP.search(message)
        return Trapped(f"the component trapped: {trap.group(0) if trap else _first_line(message)}")


class _NoBackend:
    """The backend of ``describe``, which sends nothing."""

    def send(self, request: OutgoingRequest, max_body_bytes: int) -> IncomingResponse:
        raise BackendError(BackendError.FAULT, "describe sent a request")

    def sleep(self, millis: int) -> None:
        pass

    def now_millis(self) -> int:
        return 0

    def finish(self) -> str | None:
        return None


def _first_line(error: Any) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else "unknown error"
