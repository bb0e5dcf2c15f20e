"""What one command may use (the Rust host's host-test/src/limits.rs, same keys, defaults and
wording): ``Limits``, the ``Meter`` that accounts per command for what it has used, and the
``LimitHit`` that names the limit it ran into."""

from __future__ import annotations

import time
from typing import Any, Mapping, NamedTuple

#: Linear memory per command: the connector needs well under 2 MiB.
DEFAULT_MEMORY_BYTES = 64 << 20
#: CPU per command: a command computes for microseconds; two seconds only stops a loop.
DEFAULT_CPU_MILLIS = 2_000
#: HTTP requests per command: a full 15,000-id group update is 150 requests, and its retries
#: fit too (behaviour.md §8.2).
DEFAULT_MAX_REQUESTS = 256
#: Response body cap: a SCIM user or list page is kilobytes; 10 MiB stops a hostile server.
DEFAULT_RESPONSE_BYTES = 10 << 20
DEFAULT_CONNECT_TIMEOUT_MILLIS = 10_000
#: Overall timeout of one live request, whatever the guest asks for.
DEFAULT_REQUEST_TIMEOUT_MILLIS = 30_000
#: Wall-clock time per command, host calls included.
DEFAULT_WALL_MILLIS = 120_000
#: Request size cap (URL, headers and body).
DEFAULT_REQUEST_BYTES = 1 << 20


class LimitsError(ValueError):
    """A limits file that cannot be used."""


class Limits(NamedTuple):
    """Per-command limits (the Rust host's ``Limits``: same keys, defaults and meaning)."""

    memory_bytes: int = DEFAULT_MEMORY_BYTES
    cpu_millis: int = DEFAULT_CPU_MILLIS
    max_requests: int = DEFAULT_MAX_REQUESTS
    response_bytes: int = DEFAULT_RESPONSE_BYTES
    connect_timeout_millis: int = DEFAULT_CONNECT_TIMEOUT_MILLIS
    request_timeout_millis: int = DEFAULT_REQUEST_TIMEOUT_MILLIS
    wall_millis: int = DEFAULT_WALL_MILLIS
    request_bytes: int = DEFAULT_REQUEST_BYTES

    @classmethod
    def from_json(cls, value: Any) -> "Limits":
        """Limits from a JSON object: unknown keys are refused, missing ones take defaults,
        each value a non-negative integer (as serde reads ``u64``)."""
        if not isinstance(value, Mapping):
            raise LimitsError("expected a JSON object")
        known = set(cls._fields)
        for key, item in value.items():
            if key not in known:
                expected = ", ".join(f"`{name}`" for name in sorted(known))
                raise LimitsError(f"unknown field `{key}`, expected one of {expected}")
            if isinstance(item, bool) or not isinstance(item, int) or item < 0 or item >= 1 << 64:
                raise LimitsError(f"`{key}` must be a non-negative integer")
            if key == "max_requests" and item >= 1 << 32:
                raise LimitsError("`max_requests` must fit in 32 bits")
        return cls(**dict(value))

    def request_timeout(self, asked_millis: int | None) -> float:
        """The timeout of one request in seconds: what the guest asks for, capped by the host."""
        cap = self.request_timeout_millis
        return (cap if asked_millis is None else min(asked_millis, cap)) / 1000.0


class LimitHit:
    """A limit a command ran into. It ends the sandbox, and the Type 4 entry names it."""

    MEMORY = "memory"
    CPU = "cpu"
    REQUESTS = "requests"

    def __init__(self, kind: str, detail: int | None = None) -> None:
        self.kind = kind
        #: For memory: the allocation, in bytes, that the guest could not make.
        self.detail = detail

    def describe(self, limits: Limits) -> str:
        """The cause, as the entry names it after "stopped by the host: "."""
        if self.kind == self.MEMORY:
            asked = f" (an allocation of {self.detail} bytes failed)" if self.detail is not None else ""
            return f"it used more than its memory limit of {limits.memory_bytes} bytes{asked}"
        if self.kind == self.CPU:
            return f"it used more than its CPU time limit of {limits.cpu_millis} ms"
        return f"it kept sending HTTP requests after using up its budget of {limits.max_requests}"

    def __repr__(self) -> str:
        return f"LimitHit({self.kind!r})"


class Meter:
    """What one command has used so far. A fresh one per command.

    The wall-clock budget never kills a command that waits (behaviour.md §3): once it is
    spent, requests answer ``timeout`` at once and ``sleep`` returns at once, so the guest's
    remaining retries end quickly in a failed result. The CPU limit bounds the rest."""

    __slots__ = ("started", "host_time", "wall_spent", "requests_made", "requests_refused", "hit")

    def __init__(self) -> None:
        self.started = time.monotonic()
        #: Seconds spent blocked in host calls that wait (send, sleep): not the guest's CPU.
        self.host_time = 0.0
        #: Set when a wait would have outlasted the wall-clock budget: it counts as spent.
        self.wall_spent = False
        self.requests_made = 0
        self.requests_refused = 0
        #: The limit that ended the command, recorded where it was enforced.
        self.hit: LimitHit | None = None

    def add_host_time(self, entered: float) -> None:
        self.host_time += time.monotonic() - entered

    def wall_left(self, limits: Limits) -> float | None:
        """Seconds of wall-clock time left; None once the budget is spent."""
        if self.wall_spent:
            return None
        left = limits.wall_millis / 1000.0 - (time.monotonic() - self.started)
        return left if left > 0 else None

    def compute_left(self, limits: Limits) -> float | LimitHit:
        """Seconds the guest may still compute before the next check, or the CPU limit it has
        run past. Its CPU time is the wall-clock time minus the time blocked in host calls, so
        a slow server or a retry wait never counts as the guest's computing."""
        guest_time = time.monotonic() - self.started - self.host_time
        left = limits.cpu_millis / 1000.0 - guest_time
        return left if left > 0 else LimitHit(LimitHit.CPU)
