"""The cassette format of recorded HTTP interactions (architecture.md "Cassette format"), its
matcher, the mismatch report (expected against actual request, with a hint), and the
replaying backend: interactions answered in order, strictly, in virtual time. A request that
matches nothing ends the command (exit 3); no response is ever invented.

Same checks in the same order as host-test/src/cassette.rs, and the same report texts."""

from __future__ import annotations

from typing import Any

from . import jsonio, rust, urls
from .backend import BackendError, IncomingResponse, OutgoingRequest, system_now_millis
from .files import FileError, read_text

#: What a recorded ``authorization`` header says in place of the token.
REDACTED_BEARER = "Bearer <redacted>"
#: A cassette is read up to this size (architecture.md: input files have size caps).
MAX_CASSETTE_BYTES = 256 << 20
_ABSENT = object()


def header_pairs(headers: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Header pairs in written order; a value that is not a string is sent as its JSON text."""
    if not headers:
        return []
    return [(name, value if isinstance(value, str) else jsonio.dumps(value)) for name, value in headers.items()]


def body_bytes(body: Any) -> bytes:
    """The body of a recorded response: a string is raw text, any other value its JSON text
    in written key order, nothing (or null) is empty."""
    if body is _ABSENT or body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    return jsonio.dumps(body).encode("utf-8")


class RecordedRequest:
    __slots__ = ("method", "url", "headers", "body")

    def __init__(self, method: str, url: str, headers: dict[str, Any] | None, body: Any) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        #: ``_ABSENT``: the body is not compared. Present (None = no body): compared as JSON.
        self.body = body

    def describe(self) -> str:
        if self.body is _ABSENT:
            body = "body not compared"
        elif self.body is None:
            body = "no body"
        else:
            body = f"body {jsonio.dumps(self.body)}"
        return f"{self.method} {self.url} ({body})"


class Matcher:
    """A recorded request prepared for matching once: a replayed cassette is matched against
    many requests."""

    def __init__(self, recorded: RecordedRequest) -> None:
        self.recorded = recorded
        try:
            self.url: urls.Url | None = urls.parse(recorded.url)
            self.url_error = ""
        except urls.UrlError as error:
            self.url = None
            self.url_error = f"the recorded url {rust.debug(recorded.url)} is not a URL ({error})"
        self.segments = self.url.path_segments() if self.url else []
        self.query = self.url.query_pairs() if self.url else []
        body = recorded.body
        self.body_text = None if body is _ABSENT or body is None else jsonio.dumps(body)
        self.headers = header_pairs(recorded.headers)

    def mismatch(self, actual: OutgoingRequest) -> str | None:
        """Why ``actual`` does not match the recording; None when it does."""
        recorded = self.recorded
        if recorded.method.lower() != actual.method.lower() or not actual.method.isascii():
            return f"method {actual.method} differs from the recorded {recorded.method}"
        url = self.url
        if url is None:
            return self.url_error
        if actual.url_text == recorded.url:
            pass  # the same text parses to the same origin, path and query
        elif (
            url.scheme != actual.url.scheme
            or url.host != actual.url.host
            or url.known_port != actual.url.known_port
        ):
            return "scheme, host or port differ"
        elif self.segments != actual.url.path_segments():
            return "the paths differ"
        elif self.query != actual.url.query_pairs():
            return "the query parameters differ"
        if recorded.body is not _ABSENT and not (self.body_text is not None and self.body_text == actual.body):
            if actual.body is None or actual.body.strip() == "":
                actual_body: Any = None
            else:
                try:
                    actual_body = jsonio.loads(actual.body)
                except jsonio.JsonError:
                    actual_body = actual.body
            if not jsonio.equal(recorded.body, actual_body):
                return "the bodies differ"
        for name, value in self.headers:
            lowered = name.lower()
            found = next((v for n, v in actual.headers if n.lower() == lowered), None)
            if value == REDACTED_BEARER:
                matches = found is not None and found.startswith("Bearer ") and len(found) > 7
            else:
                matches = found == value
            if not matches:
                return f"header {rust.debug(name)} is not {rust.debug(value)}"
        return None


class Interaction:
    __slots__ = ("request", "status", "response_headers", "response_body")

    def __init__(self, request: RecordedRequest, status: int, response_headers: dict[str, Any] | None,
                 response_body: Any) -> None:
        self.request = request
        self.status = status
        self.response_headers = response_headers
        self.response_body = response_body


class Cassette:
    """A loaded cassette with its matchers and responses prepared once, to replay any number
    of times."""

    def __init__(self, interactions: list[Interaction]) -> None:
        self.interactions = interactions
        self.matchers = [Matcher(i.request) for i in interactions]
        self.responses = [
            IncomingResponse(i.status, header_pairs(i.response_headers), body_bytes(i.response_body))
            for i in interactions
        ]

    @classmethod
    def load(cls, path: str) -> "Cassette":
        text = read_text(path, "cassette", MAX_CASSETTE_BYTES)
        try:
            return cls.from_json(jsonio.loads(text))
        except (jsonio.JsonError, ValueError) as error:
            raise FileError(f"cassette {path} is not valid: {error}") from None

    @classmethod
    def from_json(cls, value: Any) -> "Cassette":
        top = _fields(value, "the cassette", {"interactions": True})
        if not isinstance(top["interactions"], list):
            raise ValueError("interactions must be an array")
        return cls([_interaction(item, n + 1) for n, item in enumerate(top["interactions"])])


def _interaction(value: Any, number: int) -> Interaction:
    where = f"interaction {number}"
    interaction = _fields(value, where, {"request": True, "response": True})
    request = _fields(interaction["request"], f"{where}: request",
                      {"method": True, "url": True, "headers": False, "body": False})
    response = _fields(interaction["response"], f"{where}: response",
                       {"status": True, "headers": False, "body": False})
    for key in ("method", "url"):
        if not isinstance(request[key], str):
            raise ValueError(f"{where}: request {key} must be a string")
    status = response["status"]
    if isinstance(status, bool) or not isinstance(status, int) or not 0 <= status <= 65535:
        raise ValueError(f"{where}: response status must be an integer from 0 to 65535")
    return Interaction(
        RecordedRequest(
            request["method"],
            request["url"],
            _header_map(request.get("headers", _ABSENT), f"{where}: request headers"),
            request.get("body", _ABSENT),
        ),
        status,
        _header_map(response.get("headers", _ABSENT), f"{where}: response headers"),
        response.get("body", _ABSENT),
    )


def _fields(value: Any, where: str, shape: dict[str, bool]) -> dict[str, Any]:
    """The members of a struct-shaped object, refusing unknown, repeated and missing keys
    (serde's ``deny_unknown_fields``)."""
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object, got {jsonio.type_name(value)}")
    for key in value:
        if key not in shape:
            raise ValueError(f"{where}: unknown field {rust.debug(key)}")
    repeated = getattr(value, "repeated_keys", [])
    if repeated:
        raise ValueError(f"{where}: duplicate field {rust.debug(repeated[0])}")
    for key, required in shape.items():
        if required and key not in value:
            raise ValueError(f"{where}: missing field {rust.debug(key)}")
    return value


def _header_map(value: Any, where: str) -> dict[str, Any] | None:
    """``Option<Map<String, Value>>``: absent and null both mean none."""
    if value is _ABSENT or value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object, got {jsonio.type_name(value)}")
    return value


class Replay:
    """Answers from a cassette, in order, and sleeps in virtual time."""

    def __init__(self, cassette: Cassette) -> None:
        self.cassette = cassette
        self.next = 0
        self.virtual_now = system_now_millis()
        #: Total virtual time slept, for reports and tests.
        self.slept_millis = 0

    def send(self, request: OutgoingRequest, max_body_bytes: int) -> IncomingResponse:
        number = self.next + 1
        interactions = self.cassette.interactions
        if self.next >= len(interactions):
            raise BackendError(
                BackendError.FAULT,
                f"request #{number} matched no recorded interaction (the cassette has only "
                f"{len(interactions)}):\n  actual:   {request.describe()}\n"
                "  hint: record it with --live --record, or add it to the cassette",
            )
        why = self.cassette.matchers[self.next].mismatch(request)
        if why is not None:
            raise BackendError(
                BackendError.FAULT,
                f"request #{number} does not match the recorded interaction: {why}\n"
                f"  expected: {interactions[self.next].request.describe()}\n"
                f"  actual:   {request.describe()}\n"
                "  hint: interactions are replayed in order; re-record the cassette if the "
                "connector's requests changed",
            )
        response = self.cassette.responses[self.next]
        self.next += 1
        return response

    def sleep(self, millis: int) -> None:
        self.virtual_now = min(self.virtual_now + millis, (1 << 64) - 1)
        self.slept_millis = min(self.slept_millis + millis, (1 << 64) - 1)

    def now_millis(self) -> int:
        return self.virtual_now

    def finish(self) -> str | None:
        unused = self.cassette.interactions[self.next :]
        if not unused:
            return None
        return (
            f"{len(unused)} recorded interaction(s) were not used; the first: "
            f"{unused[0].request.describe()}\n  hint: the connector made fewer requests than recorded"
        )


def redact_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Recorded request headers: names lower-cased, the credential replaced."""
    out: dict[str, str] = {}
    for name, value in headers:
        lowered = name.lower()
        out[lowered] = REDACTED_BEARER if lowered in ("authorization", "cookie") else value
    return out
