"""How the host carries a request that policy has allowed: the types every backend shares.
``Replay`` (cassette.py) answers from a cassette in order and in virtual time; ``Live`` and
``Record`` (live.py) talk to real servers."""

from __future__ import annotations

import time
from typing import NamedTuple, Protocol

from .urls import Url


class OutgoingRequest:
    """A request as it leaves the host: policy checked, the credential attached."""

    __slots__ = ("method", "url", "url_text", "headers", "body", "timeout")

    def __init__(self, method: str, url: Url, url_text: str, headers: list[tuple[str, str]],
                 body: str | None, timeout: float) -> None:
        self.method = method
        self.url = url
        #: The URL as given by the guest (it passed the policy, so it is what the server sees).
        self.url_text = url_text
        self.headers = headers
        self.body = body
        #: Seconds.
        self.timeout = timeout

    def describe(self) -> str:
        """One line for reports; the token is in a header, never here."""
        body = "no body" if self.body is None else f"body {self.body}"
        return f"{self.method} {self.url.serialize()} ({body})"


class IncomingResponse(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class BackendError(Exception):
    """Why a backend gave no response. ``kind`` is one of the class constants; the message
    names the cause (never a header, so never the token)."""

    TIMEOUT = "timeout"
    TRANSPORT = "transport"
    TLS = "tls"
    PROTOCOL = "protocol"
    #: The body exceeded the cap; the backend stopped reading.
    TOO_LARGE = "too-large"
    #: The host cannot go on with this command (a replay mismatch): it ends the sandbox.
    FAULT = "fault"

    def __init__(self, kind: str, message: str = "") -> None:
        super().__init__(message or kind)
        self.kind = kind
        self.message = message


class Backend(Protocol):
    def send(self, request: OutgoingRequest, max_body_bytes: int) -> IncomingResponse:
        """Send one request; raises ``BackendError``."""

    def sleep(self, millis: int) -> None:
        """Wait before a retry."""

    def now_millis(self) -> int:
        """Milliseconds since the Unix epoch."""

    def finish(self) -> str | None:
        """Called once after the command: why replay failed (interactions left unused), or
        None. A recording writes its cassette here and raises ``RecordingError``."""


def system_now_millis() -> int:
    return time.time_ns() // 1_000_000
