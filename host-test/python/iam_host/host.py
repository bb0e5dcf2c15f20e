"""``Host``: the gated component loaded once, each command run in a fresh sandbox.

The host knows no command and none of the host contract: it hands ``gate.run`` the command's
name, the configuration and arguments as the JSON text it was given, where the HTTP goes
(a cassette's text, live, or recording) and the budgets ``gate.read-limits`` gave, and gets
back the entry to print. What it adds is the sandbox (memory, CPU) and the wire.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Mapping

from .engine import Call, ComponentError, Description, Limits, MapObject, Runtime, Stop, Stopped, default_cache_dir
from .files import COMPONENT_BYTES, FileError, read_capped

#: The component the package carries when it is installed (copied in by bundle-component.sh).
PACKAGED_COMPONENT = Path(__file__).resolve().parent / "atlassian_iam_gated.wasm"
#: This repository, when the package runs from its source tree.
REPOSITORY = Path(__file__).resolve().parents[3]


class UnknownCommand(ValueError):
    """A command the component does not implement; the message names the known ones."""


class Report:
    """How a command ended."""

    __slots__ = ("is_error", "entry_json", "replay_failure", "recording_json", "log", "stop")

    def __init__(self, is_error: bool, entry_json: str, replay_failure: str | None = None,
                 recording_json: str | None = None, log: list[tuple[str, str]] | None = None,
                 stop: Stop | None = None) -> None:
        #: Whether the entry is of Type 4 (exit 1), else Type 1 (exit 0).
        self.is_error = is_error
        #: The entry, byte for byte as the gate gave it.
        self.entry_json = entry_json
        #: Set when replay failed: the report to show instead of the entry (exit 3).
        self.replay_failure = replay_failure
        #: The cassette of a recorded command (the token redacted); None when it was stopped.
        self.recording_json = recording_json
        #: The component's log lines, ``(level, message)``.
        self.log = log or []
        #: Why the host stopped the command, when it did.
        self.stop = stop

    @property
    def entry_type(self) -> str:
        return "error" if self.is_error else "note"

    @property
    def entry(self) -> Any:
        return json.loads(self.entry_json)


def repository_component() -> Path | None:
    """``target/component/atlassian_iam_gated.wasm`` of the repository this package runs from,
    composed with ``cargo run -q -p iam-host -- gated`` when missing; None outside one."""
    if not (REPOSITORY / "Cargo.toml").is_file() or not (REPOSITORY / "wit" / "gate.wit").is_file():
        return None
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPOSITORY / "target")
    gated = target / "component" / "atlassian_iam_gated.wasm"
    if not gated.is_file():
        try:
            built = subprocess.run(["cargo", "run", "-q", "-p", "iam-host", "--", "gated"], cwd=REPOSITORY,
                                   stdout=subprocess.PIPE, text=True, timeout=3600)
        except (OSError, subprocess.SubprocessError) as error:
            raise ComponentError(f"cannot compose the gated component with cargo: {error}") from None
        if built.returncode != 0 or not gated.is_file():
            raise ComponentError(f"`cargo run -q -p iam-host -- gated` failed ({built.returncode}); see its output above")
    return gated


def _text(value: str | Mapping[str, Any]) -> str:
    """JSON text as given, or a mapping (XSOAR's params and args) written as JSON."""
    return value if isinstance(value, str) else json.dumps(dict(value), ensure_ascii=False)


class Host:
    """The loaded gated component, ready to run commands for any tenant."""

    def __init__(self, component: str | Path | bytes | None = None, cache_dir: str | Path | None | bool = True,
                 map_object: MapObject | None = None) -> None:
        """``component``: the gated ``.wasm`` (default: this repository's, else the packaged
        one), or its bytes (the XSOAR integration carries it inside its script). ``cache_dir``: where compiled components are cached (True: the default place;
        None or False: no cache). ``map_object``: the platform's mapper, ``map_object(obj:
        dict, mapper: str, incident_type: str) -> dict`` (XSOAR's ``demisto.mapObject``), which
        the connector calls through ``platform.map-object`` when an invocation asks for platform
        mapping; without it the connector is told "this host has no platform mapper"."""
        if component is None:
            component = repository_component() or (PACKAGED_COMPONENT if PACKAGED_COMPONENT.is_file() else None)
            if component is None:
                raise ComponentError("no component: this iam_host package carries none and runs from no repository; "
                                     "give one (see host-test/python/README.md)")
        if isinstance(component, bytes):
            wasm, origin = component, "the component given as bytes"
        else:
            wasm, origin = read_capped(str(component), COMPONENT_BYTES, "component"), str(component)
        cache = default_cache_dir() if cache_dir is True else (Path(str(cache_dir)) if cache_dir else None)
        self.runtime = Runtime(wasm, cache, origin)
        self.map_object = map_object
        self._description: Description | None = None
        self._limits: dict[str | None, Limits] = {}

    def describe(self) -> Description:
        if self._description is None:
            self._description = self.runtime.describe()
        return self._description

    @property
    def commands(self) -> list[str]:
        return self.describe().commands

    def check_command(self, command: str) -> None:
        if command not in self.commands:
            raise UnknownCommand(f"unknown command {json.dumps(command, ensure_ascii=False)}; "
                                 f"expected one of {', '.join(self.commands)}")

    def limits(self, text: str | None = None) -> Limits:
        """The limits of a limits file's JSON text as the gate reads it (None: the defaults);
        raises ``engine.UnusableInput`` with the gate's reason, or when the component cannot
        start within the memory limit."""
        if text not in self._limits:
            limits = self.runtime.read_limits(text)
            self.runtime.check_memory_limit(limits.memory_bytes)
            self._limits[text] = limits
        return self._limits[text]

    def run(self, command: str, config: str | Mapping[str, Any], args: str | Mapping[str, Any] = "{}",
            cassette: str | None = None, record: bool = False, wire: Any = None,
            limits: Limits | None = None) -> Report:
        """Run one command in a fresh sandbox. ``config``: the instance parameters, token
        included; ``args``: its arguments (JSON text, or mappings). With ``cassette`` (its text)
        the gate replays it; otherwise the command goes live over ``wire`` (default: real HTTP),
        and with ``record`` the report carries its recording. Raises ``UnknownCommand``, and
        ``engine.UnusableInput`` when the gate refuses an input."""
        self.check_command(command)
        limits = limits or self.limits()
        own_wire = None
        if cassette is None and wire is None:
            from .wire import Live  # replay never pays for importing requests

            wire = own_wire = Live(limits.connect_timeout_ms)
        call = Call(None if cassette is not None else wire, limits.cpu_millis, limits.memory_bytes, self.map_object,
                    mapped_bytes=limits.budget[2])
        mode = cassette if cassette is not None else (True if record else None)
        try:
            is_error, entry, failure, recording = self.runtime.run(call, command, _text(config), _text(args), mode,
                                                                   limits.budget)
            return Report(is_error, entry, failure, recording, call.log)
        except Stopped as stopped:
            return Report(True, self.runtime.stopped(command, stopped.stop), log=call.log, stop=stopped.stop)
        finally:
            if own_wire is not None:
                own_wire.close()


_DEFAULT_HOST: Host | None = None


def default_host() -> Host:
    """One host per process (the component compiled, or loaded from the cache, once): over
    ``$IAM_HOST_COMPONENT`` when it is set, else the default component."""
    global _DEFAULT_HOST
    if _DEFAULT_HOST is None:
        _DEFAULT_HOST = Host(os.environ.get("IAM_HOST_COMPONENT") or None)
    return _DEFAULT_HOST


__all__ = ["Host", "Report", "UnknownCommand", "ComponentError", "FileError", "default_host"]
