"""The live backends: ``Live`` carries each request to the real server with ``requests``, and
``Record`` does the same while writing every exchange to a cassette with the token redacted.

They know nothing of the guest or the policy: by the time a request gets here the host has
checked its origin and attached the credential (sandbox.py). They only move bytes, under the
timeouts, the proxy choice and the size cap they are given. TLS is verified unless the
instance says ``insecure``; the system proxy (``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``) is
used only when the instance says ``proxy``, and never for a loopback address; redirects are
handed to the guest, never followed (one could lead off the allowed origin).
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import Any, Mapping

from . import __version__, jsonio, urls
from .backend import BackendError, IncomingResponse, OutgoingRequest, system_now_millis
from .cassette import redact_headers
from .limits import Limits
from .scrub import REDACTED, Scrubber

#: How the host names itself to servers (their access logs).
USER_AGENT = f"iam-host-python/{__version__}"
#: Request headers the client derives from the body it really sends: a guest-supplied value
#: could contradict the bytes on the wire (request smuggling), so these are dropped.
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "te", "upgrade"})
#: Response headers a cassette leaves out: framing describes the bytes as received, while a
#: replay sends the body re-serialised; a cookie is a credential.
UNRECORDED_RESPONSE_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "set-cookie"})
#: Real waiting one command may do between retries (the guest stops at 30 s itself).
MAX_SLEEP_PER_COMMAND = 30.0
_CHUNK = 64 << 10


def flag(params: Mapping[str, Any], key: str) -> bool:
    """An instance flag: ``true`` or ``"true"`` (any case) is on. Anything else is off, the
    safe side: the guest reports an invalid value as a configuration error before it sends
    any request."""
    value = params.get(key)
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.lower() == "true"


@dataclass(frozen=True)
class ProxyEnv:
    """The system proxy settings, read as curl reads them (upper case first). Its repr hides
    the proxy URLs, which may carry a password."""

    https_proxy: str | None = None
    http_proxy: str | None = None
    no_proxy: str | None = None

    @classmethod
    def from_system(cls) -> "ProxyEnv":
        def read(*names: str) -> str | None:
            for name in names:
                value = os.environ.get(name)
                if value and value.strip():
                    return value
            return None

        return cls(read("HTTPS_PROXY", "https_proxy"), read("HTTP_PROXY", "http_proxy"), read("NO_PROXY", "no_proxy"))

    def __repr__(self) -> str:
        shown = lambda value: "<set>" if value else None  # noqa: E731
        return f"ProxyEnv(https_proxy={shown(self.https_proxy)}, http_proxy={shown(self.http_proxy)}, no_proxy={self.no_proxy!r})"

    def proxy_for(self, url: urls.Url) -> str | None:
        """The proxy a request to ``url`` goes through, if any. Loopback never goes through one."""
        proxy = {"https": self.https_proxy, "http": self.http_proxy}.get(url.scheme)
        if proxy is None or urls.is_loopback(url) or self._bypasses(url):
            return None
        return proxy

    def _bypasses(self, url: urls.Url) -> bool:
        """Whether ``NO_PROXY`` sends ``url`` direct: ``*``, a host name (itself and its
        subdomains; a leading ``.`` or ``*.`` is optional) or an IP address, each with an
        optional ``:port``."""
        if not self.no_proxy:
            return False
        host = url.host.strip("[]").lower()
        for entry in (e.strip() for e in self.no_proxy.split(",")):
            if not entry:
                continue
            if entry == "*":
                return True
            name, port = _split_port(entry)
            name = name.removeprefix("*.").lstrip(".").lower()
            if port is not None and port != url.known_port:
                continue
            if host == name or host.endswith("." + name):
                return True
        return False


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        address, _, after = entry[1:].partition("]")
        port = after[1:] if after.startswith(":") else ""
        return address, int(port) if port.isdigit() else None
    name, colon, port = entry.rpartition(":")
    if colon and ":" not in name and port.isdigit():
        return name, int(port)
    return entry, None


@dataclass(frozen=True)
class LiveOptions:
    insecure: bool = False
    #: The system proxy settings when the instance's ``proxy`` is on; None goes direct.
    proxy: ProxyEnv | None = None
    connect_timeout: float = 10.0

    @classmethod
    def for_instance(cls, params: Mapping[str, Any], limits: Limits) -> "LiveOptions":
        return cls(
            insecure=flag(params, "insecure"),
            proxy=ProxyEnv.from_system() if flag(params, "proxy") else None,
            connect_timeout=limits.connect_timeout_millis / 1000.0,
        )


class Live:
    """Sends requests to real servers."""

    def __init__(self, options: LiveOptions) -> None:
        import requests  # imported here: replaying never pays for it

        self._requests = requests
        self.options = options
        self.session = requests.Session()
        # Never the environment's settings (proxies, netrc, CA bundles): `proxy` decides.
        self.session.trust_env = False
        self.session.headers.clear()
        self.session.headers["User-Agent"] = USER_AGENT
        self.slept = 0.0

    def send(self, request: OutgoingRequest, max_body_bytes: int) -> IncomingResponse:
        requests = self._requests
        headers = {name: value for name, value in request.headers if name.lower() not in FRAMING_HEADERS}
        proxy = self.options.proxy.proxy_for(request.url) if self.options.proxy else None
        proxies = {request.url.scheme: proxy} if proxy else {}
        origin = _origin(request.url)
        started = time.monotonic()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning under `insecure`
                response = self.session.request(
                    request.method,
                    request.url_text,
                    headers=headers,
                    data=request.body.encode("utf-8") if request.body is not None else None,
                    timeout=(min(self.options.connect_timeout, request.timeout), request.timeout),
                    allow_redirects=False,
                    verify=not self.options.insecure,
                    proxies=proxies,
                    stream=True,
                )
            try:
                body = _read_capped(response, max_body_bytes, started + request.timeout)
                headers_out = [(name.lower(), value) for name, value in response.raw.headers.items()]
                return IncomingResponse(response.status_code, headers_out, body)
            finally:
                response.close()
        except BackendError:
            raise
        except requests.exceptions.SSLError as error:
            raise BackendError(BackendError.TLS, _tls_message(origin, error)) from None
        except (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout):
            raise BackendError(BackendError.TIMEOUT) from None
        except requests.exceptions.ProxyError:
            # Never the proxy's URL: it may carry a password.
            raise BackendError(BackendError.TRANSPORT, f"the proxy for {origin} failed the request") from None
        except requests.exceptions.ConnectionError as error:
            raise BackendError(BackendError.TRANSPORT, _connection_message(origin, error)) from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as error:
            raise BackendError(BackendError.PROTOCOL, f"the answer of {origin} is not valid HTTP: {_cause(error)}") from None
        except requests.exceptions.RequestException as error:
            raise BackendError(BackendError.TRANSPORT, f"request to {origin} failed: {_cause(error)}") from None
        except (ValueError, OSError) as error:
            raise BackendError(BackendError.TRANSPORT, f"request to {origin} failed: {_cause(error)}") from None

    def sleep(self, millis: int) -> None:
        wait = min(millis / 1000.0, max(MAX_SLEEP_PER_COMMAND - self.slept, 0.0))
        self.slept += wait
        time.sleep(wait)

    def now_millis(self) -> int:
        return system_now_millis()

    def finish(self) -> str | None:
        self.session.close()
        return None


def _read_capped(response: Any, cap: int, deadline: float) -> bytes:
    """The body, read one chunk at a time: stop one byte past the cap (a hostile server
    cannot fill the host's memory) or at the request's deadline."""
    chunks: list[bytes] = []
    received = 0
    for chunk in response.raw.stream(_CHUNK, decode_content=True):
        received += len(chunk)
        if received > cap:
            raise BackendError(BackendError.TOO_LARGE)
        chunks.append(chunk)
        if time.monotonic() > deadline:
            raise BackendError(BackendError.TIMEOUT)
    return b"".join(chunks)


def _origin(url: urls.Url) -> str:
    """``Url::origin().ascii_serialization()``: the default port left out."""
    port = f":{url.port}" if url.port is not None and url.port != urls.DEFAULT_PORTS.get(url.scheme) else ""
    return f"{url.scheme}://{url.host}{port}"


def _cause(error: BaseException) -> str:
    """The innermost cause of a requests/urllib3 error, without its URL or object reprs."""
    cause: BaseException = error
    while True:
        inner = getattr(cause, "reason", None) or cause.__cause__ or cause.__context__
        if not isinstance(inner, BaseException) or inner is cause:
            break
        cause = inner
    text = str(cause)
    # urllib3 words connection errors as "<urllib3.connection.X object at 0x…>: Failed to …".
    if ">: " in text:
        text = text.split(">: ", 1)[1]
    return text


def _connection_message(origin: str, error: BaseException) -> str:
    text = _cause(error)
    lowered = text.lower()
    if "refused" in lowered:
        return f"{origin} refused the connection (is the server running?)"
    if "name or service not known" in lowered or "failed to resolve" in lowered or "nodename nor servname" in lowered \
            or "temporary failure in name resolution" in lowered or "no address associated" in lowered:
        return f"cannot resolve the host of {origin}"
    if "timed out" in lowered:
        raise BackendError(BackendError.TIMEOUT)
    if any(sign in lowered for sign in ("badstatusline", "remote end closed", "invalid http", "bad status", "line too long")):
        raise BackendError(BackendError.PROTOCOL, f"the answer of {origin} is not valid HTTP: {text}")
    return f"request to {origin} failed: {text}"


def _tls_message(origin: str, error: BaseException) -> str:
    text = _cause(error)
    if "certificate" in text.lower():
        return f"the TLS certificate of {origin} was refused: {text}"
    return f"the TLS handshake with {origin} failed: {text}"


class Record:
    """Sends requests live and writes every exchange to a cassette when the command ends.

    A transport failure (refused connection, timeout) has no form in the cassette format, so
    it is not recorded: a replay of such a run stops where the failure was."""

    def __init__(self, live: Live, path: str) -> None:
        self.live = live
        self.path = path
        self.interactions: list[dict[str, Any]] = []
        #: Bearer tokens seen in requests: scrubbed from everything recorded, in case a
        #: server echoes one back in a body or a header.
        self.secrets: list[str] = []
        #: Why the cassette could not be written, once ``finish`` has tried (the entry is
        #: still printed; the CLI exits 2).
        self.write_error: str | None = None

    def send(self, request: OutgoingRequest, max_body_bytes: int) -> IncomingResponse:
        for name, value in request.headers:
            if name.lower() == "authorization":
                _, _, token = value.partition(" ")
                if token and token not in self.secrets:
                    self.secrets.append(token)
        response = self.live.send(request, max_body_bytes)
        self.interactions.append(recorded_interaction(request, response))
        return response

    def sleep(self, millis: int) -> None:
        self.live.sleep(millis)

    def now_millis(self) -> int:
        return self.live.now_millis()

    def finish(self) -> str | None:
        self.live.finish()
        cassette = scrub_value({"interactions": self.interactions}, Scrubber(self.secrets))
        text = jsonio.dumps_pretty(cassette) + "\n"
        directory = os.path.dirname(os.path.abspath(self.path))
        try:
            fd, temporary = tempfile.mkstemp(prefix=".iam-host-recording-", suffix=".tmp", dir=directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as file:
                    file.write(text)
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as error:
            self.write_error = f"cannot write the recording {self.path}: {error.strerror or error}"
        return None


def recorded_interaction(request: OutgoingRequest, response: IncomingResponse) -> dict[str, Any]:
    """One exchange as the cassette stores it: header names lower-case, the credential
    redacted, repeated response headers joined with ", ", bodies as JSON when they are."""
    if request.body is None or request.body.strip() == "":
        request_body: Any = None
    else:
        try:
            request_body = jsonio.loads(request.body)
        except jsonio.JsonError:
            request_body = request.body
    response_headers: dict[str, str] = {}
    for name, value in response.headers:
        lowered = name.lower()
        if lowered in UNRECORDED_RESPONSE_HEADERS:
            continue
        response_headers[lowered] = f"{response_headers[lowered]}, {value}" if lowered in response_headers else value
    recorded_response: dict[str, Any] = {"status": response.status}
    if response_headers:
        recorded_response["headers"] = response_headers
    body = response_body(response.body)
    if body is not None:
        recorded_response["body"] = body
    return {
        "request": {
            "method": request.method,
            "url": request.url.serialize(),
            "headers": redact_headers(request.headers),
            "body": request_body,
        },
        "response": recorded_response,
    }


def response_body(data: bytes) -> Any:
    """A response body as the cassette stores it. A JSON string would be replayed as its raw
    text without the quotes, so a body that is a JSON string stays raw text too."""
    if not data:
        return None
    text = data.decode("utf-8", "replace")
    try:
        value = jsonio.loads(text)
    except jsonio.JsonError:
        return text
    return text if isinstance(value, str) else value


def scrub_value(value: Any, scrubber: Scrubber) -> Any:
    """A JSON value with every form of a secret, in any key or string, replaced."""
    if not scrubber:
        return value
    if isinstance(value, str):
        return scrubber.scrub_text(value)
    if isinstance(value, list):
        return [scrub_value(item, scrubber) for item in value]
    if isinstance(value, dict):
        return {scrubber.scrub_text(key): scrub_value(item, scrubber) for key, item in value.items()}
    return value


__all__ = ["Live", "LiveOptions", "ProxyEnv", "Record", "REDACTED", "flag"]
