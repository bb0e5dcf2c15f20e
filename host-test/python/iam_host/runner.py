"""The public entry of the Python host: ``Host`` loads the component once and runs each
command in a fresh sandbox with the tenant's policy and limits, its HTTP carried by a backend
(``cassette.Replay``, ``live.Live``, ``live.Record``).

The host knows no command: the command list and the credential name come from the
component's ``describe``. It takes the token out of the instance parameters, passes the rest
with the command and its arguments as one JSON invocation, and hands back the entry exactly as
the component rendered it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Mapping

from . import jsonio
from .backend import Backend
from .files import MAX_COMPONENT_BYTES, FileError, read_bytes
from .limits import Limits
from .policy import CREDENTIAL_NAME, Policy, split_secret, token_problem
from .sandbox import (
    CommandState,
    ComponentError,
    Description,
    Fault,
    GuestRequest,
    LogLine,
    Runtime,
    Trapped,
    default_cache_dir,
)
from .scrub import scrubber_for

#: The component the package carries (copied in by bundle-component.sh before building).
PACKAGED_COMPONENT = "atlassian_iam.wasm"


class UnknownCommand(ValueError):
    """A command the component does not implement; the message names the known ones."""


class Report:
    """How a command ended, and the diagnostics gathered while it ran."""

    __slots__ = ("entry_type", "entry_json", "replay_failure", "log", "guest_requests")

    def __init__(self, entry_type: str | None, entry_json: str | None, replay_failure: str | None = None,
                 log: list[LogLine] | None = None, guest_requests: list[GuestRequest] | None = None) -> None:
        #: "note" (Type 1, exit 0) or "error" (Type 4, exit 1); None when replay failed.
        self.entry_type = entry_type
        #: The entry, byte for byte as the component gave it (None when replay failed).
        self.entry_json = entry_json
        #: Why replay failed (a request matched no interaction, or some were left unused).
        self.replay_failure = replay_failure
        self.log = log if log is not None else []
        #: The requests as the guest asked for them (before the host added the credential).
        self.guest_requests = guest_requests if guest_requests is not None else []

    @property
    def entry(self) -> Any:
        """The entry as a JSON value (dicts in written key order)."""
        return None if self.entry_json is None else jsonio.loads(self.entry_json)


def packaged_component() -> bytes | None:
    """The component shipped inside the package, if it was bundled."""
    try:
        return (Path(__file__).resolve().parent / PACKAGED_COMPONENT).read_bytes()
    except OSError:
        return None


def stopped_entry(command: str, why: str) -> str:
    """The Type 4 entry of a command the sandbox stopped (the Rust host's wording)."""
    return jsonio.dumps(
        {"Type": 4, "ContentsFormat": "text", "Contents": f"The {command} command was stopped by the host: {why}"}
    )


class Host:
    """The loaded component, ready to run commands for any tenant."""

    def __init__(
        self,
        component: str | Path | bytes | None = None,
        limits: Limits | None = None,
        cache_dir: str | Path | None | bool = True,
    ) -> None:
        """``component``: a path to a ``.wasm``, its bytes, or None for the packaged one.
        ``cache_dir``: where compiled components are cached (True: the default place,
        None/False: no cache)."""
        if component is None:
            wasm = packaged_component()
            origin = f"the packaged component ({PACKAGED_COMPONENT})"
            if wasm is None:
                raise ComponentError(
                    "this iam_host package carries no component: build it with "
                    "host-test/python/bundle-component.sh before installing, or pass a .wasm file"
                )
        elif isinstance(component, (bytes, bytearray)):
            wasm, origin = bytes(component), "the component"
        else:
            wasm = read_bytes(str(component), "component", MAX_COMPONENT_BYTES)
            origin = str(component)
        if cache_dir is True:
            cache: Path | None = default_cache_dir()
        elif cache_dir in (None, False):
            cache = None
        else:
            cache = Path(str(cache_dir))
        self.component_sha256 = hashlib.sha256(wasm).hexdigest()
        self.limits = limits or Limits()
        self.runtime = Runtime(wasm, cache, origin)

    def describe(self) -> Description:
        return self.runtime.describe()

    @property
    def commands(self) -> list[str]:
        return self.describe().commands

    def check_command(self, command: str) -> None:
        commands = self.commands
        if command not in commands:
            raise UnknownCommand(
                f"unknown command {jsonio.dumps(command)}; expected one of {', '.join(commands)}"
            )

    def run(
        self,
        command: str,
        params: Mapping[str, Any],
        args: Mapping[str, Any],
        backend: Backend,
        limits: Limits | None = None,
    ) -> Report:
        """Run one command in a fresh sandbox, its HTTP carried by ``backend``. ``params`` are
        the XSOAR instance parameters, token included; ``args`` the command's arguments."""
        self.check_command(command)
        limits = limits or self.limits
        rest, token = split_secret(params)
        # behaviour.md §1: a token too short to scrub is a configuration error. Only the host
        # holds the token, so only the host can tell; the guest never runs.
        problem = token_problem(token) if token is not None else None
        if problem is not None:
            unused = backend.finish()
            if unused is not None:
                return Report(None, None, replay_failure=unused)
            return Report("error", jsonio.dumps({"Type": 4, "ContentsFormat": "text", "Contents": problem}))
        credentials = self.describe().credentials
        credential_name = credentials[0] if credentials else CREDENTIAL_NAME
        policy = Policy.for_instance(rest.get("url"), credential_name, token)
        invocation = jsonio.dumps({"command": command, "params": rest, "args": dict(args)})
        state = CommandState(
            policy,
            limits,
            backend,
            scrubber=scrubber_for(token.expose()) if token is not None else None,
        )
        report = Report(None, None, log=state.log, guest_requests=state.guest_requests)
        try:
            outcome = self.runtime.run(state, invocation, credential_name if token is not None else None)
            report.entry_type, report.entry_json = outcome.entry_type, outcome.entry_json
        except Fault as fault:
            report.replay_failure = str(fault)
        except Trapped as trapped:
            report.entry_type, report.entry_json = "error", stopped_entry(command, str(trapped))
        unused = backend.finish()
        if unused is not None and report.replay_failure is None:
            report.replay_failure = unused
            report.entry_type = report.entry_json = None
        return report


    def run_live(
        self,
        command: str,
        params: Mapping[str, Any],
        args: Mapping[str, Any],
        limits: Limits | None = None,
    ) -> Report:
        """Run one command against the configured ``url`` for real (TLS verified unless the
        instance says ``insecure``; the system proxy only when it says ``proxy``)."""
        from .live import Live, LiveOptions

        limits = limits or self.limits
        return self.run(command, params, args, Live(LiveOptions.for_instance(params, limits)), limits)


_DEFAULT_HOST: Host | None = None


def default_host() -> Host:
    """One host for the process (the component is compiled, or loaded from the cache, once):
    over the component named by ``$IAM_HOST_COMPONENT``, else the packaged one."""
    global _DEFAULT_HOST
    if _DEFAULT_HOST is None:
        _DEFAULT_HOST = Host(os.environ.get("IAM_HOST_COMPONENT") or None)
    return _DEFAULT_HOST


__all__ = ["Host", "default_host", "Report", "UnknownCommand", "ComponentError", "FileError", "stopped_entry"]
