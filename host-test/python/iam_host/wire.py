"""The live wire: ``wire.send`` over real HTTP with ``requests``. By the time a request gets
here the gate has checked it, attached the credential and set its timeout, size cap, TLS and
proxy choice; this only moves bytes under them. No redirect is followed (one could lead off
the allowed origin); the system proxy (``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``) is used only
when the gate says ``use-proxy``; the body is read as received, up to the cap. An error names
its cause and the server, never a header or a proxy's URL."""

from __future__ import annotations

import http.client
import socket
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from urllib3 import connection as urllib3_connection
from urllib3 import connectionpool as urllib3_pools
from urllib3 import exceptions as urllib3_errors

from .engine import Incoming, Outgoing, WireError, answer

USER_AGENT = "iam-host-python/0.3.0"
#: Request headers the client derives from the body it really sends: a guest's value could
#: contradict the bytes on the wire (request smuggling).
FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "te", "upgrade"})
_CHUNK = 64 << 10
#: Requests of one ``send_all`` in flight at once (a thread each), and connections kept per
#: server: a paged read asks for up to 200 pages at once.
MAX_IN_FLIGHT = 32

# urllib3 warns on every request whose certificate is not verified (the instance's
# `insecure`, the admin's choice). The filter is set once: `warnings.catch_warnings` around
# each request would race between send_all's threads and could leave the process's filters
# changed.
warnings.filterwarnings("ignore", category=urllib3_errors.InsecureRequestWarning)


class _Watchdog:
    """A request's whole-time bound. A socket timeout bounds each read, not the request: a
    server dripping its answer a byte at a time, each within the timeout, would hold the
    request (and the command) for as long as it liked. At the deadline the watchdog shuts the
    socket of the connection the request went out on, which ends any read blocked on it."""

    def __init__(self, seconds: float) -> None:
        #: The socket the request went out on (kept: http.client lets go of a connection's
        #: socket once an answer that ends with the connection has its head).
        self.sock: socket.socket | None = None
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> _Watchdog:
        _WATCHED.watchdog = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _WATCHED.watchdog = None


#: The watchdog of the request this thread is sending (each of send_all's threads its own).
_WATCHED = threading.local()


class _WatchedConnection:
    """A urllib3 connection that hands the request's watchdog the socket it is sent on, once
    sent (before the answer's head is read)."""

    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        watchdog = getattr(_WATCHED, "watchdog", None)
        if watchdog is not None:
            watchdog.sock = getattr(self, "sock", None)
            if watchdog.fired and watchdog.sock is not None:  # it fired while the request went out
                watchdog.sock.shutdown(socket.SHUT_RDWR)
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_WatchedConnection, urllib3_connection.HTTPConnection):
    pass


class _HTTPSConnection(_WatchedConnection, urllib3_connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3_pools.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3_pools.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_WATCHED_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _Adapter(requests.adapters.HTTPAdapter):
    """requests' adapter over watched connections, direct or through the system proxy."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


class Live:
    """Sends requests to real servers and waits for real; one per command."""

    def __init__(self, connect_timeout_ms: int = 10_000) -> None:
        self.connect_timeout = connect_timeout_ms / 1000
        self.session = requests.Session()
        self.session.trust_env = False  # never the environment's proxies, netrc or CA bundle
        self.session.headers.clear()
        self.session.headers["User-Agent"] = USER_AGENT
        # As many pooled connections per server as requests in flight (the default keeps 10,
        # and drops the rest after each use).
        adapter = _Adapter(pool_connections=4, pool_maxsize=MAX_IN_FLIGHT, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    def send(self, request: Outgoing) -> Incoming:
        proxies: dict[str, str] = {}
        with _Watchdog(request.timeout_ms / 1000) as watchdog:
            try:
                proxies = requests.utils.get_environ_proxies(request.url) if request.use_proxy else {}
                return self._exchange(request, proxies, watchdog)
            except WireError:
                raise
            except Exception as error:  # requests' and urllib3's errors, and the sockets' beneath them
                if watchdog.fired:  # the read it ended failed
                    raise WireError("timeout") from None
                raise _wire_error(error, bool(proxies)) from None

    def send_all(self, requests_: list[Outgoing]) -> list[Incoming | WireError]:
        """WIT ``send-all``: up to ``MAX_IN_FLIGHT`` at once, each as ``send`` sends it; one
        answer per request, in order."""
        if len(requests_) <= 1:
            return [answer(self, request) for request in requests_]
        workers = min(len(requests_), MAX_IN_FLIGHT)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="iam-host-wire") as pool:
            return list(pool.map(lambda request: answer(self, request), requests_))

    def _exchange(self, request: Outgoing, proxies: dict[str, str], watchdog: _Watchdog) -> Incoming:
        timeout = request.timeout_ms / 1000
        response = self.session.request(
            request.method, request.url, allow_redirects=False, stream=True, proxies=proxies,
            headers={name: value for name, value in request.headers if name.lower() not in FRAMING_HEADERS},
            data=None if request.body is None else request.body.encode("utf-8"),
            timeout=(min(self.connect_timeout, timeout), timeout), verify=request.verify_tls)
        with response:
            body = bytearray()
            for chunk in response.raw.stream(_CHUNK, decode_content=False):
                body += chunk
                if len(body) > request.max_response_bytes:  # a hostile server cannot fill memory
                    raise WireError("too-large")
            # A body read to the connection's end may have ended because the watchdog shut it.
            if watchdog.fired:
                raise WireError("timeout")
            headers = [(name.lower(), value) for name, value in response.raw.headers.items()]
            return Incoming(response.status_code, headers, bytes(body))

    def sleep(self, millis: int) -> None:
        time.sleep(millis / 1000)

    def now_millis(self) -> int:
        return time.time_ns() // 1_000_000

    def close(self) -> None:
        self.session.close()


def _chain(error: BaseException) -> list[BaseException]:
    """The error and its causes, outermost first (requests wraps urllib3, which wraps OSError)."""
    chain = [error]
    while len(chain) < 16:
        last = chain[-1]
        inner = getattr(last, "reason", None) or last.__cause__ or last.__context__ or next(
            (arg for arg in getattr(last, "args", ()) if isinstance(arg, BaseException)), None)
        if not isinstance(inner, BaseException) or inner in chain:
            break
        chain.append(inner)
    return chain


def _cause(error: BaseException) -> str:
    text = str(_chain(error)[-1])
    return text.split(">: ", 1)[1] if ">: " in text else text  # urllib3's "<…Connection object at 0x…>: …"


def _origin(error: BaseException) -> str:
    """The server a failed request went to, as the connection pool knew it."""
    for link in _chain(error):
        pool = getattr(link, "pool", None)
        if getattr(pool, "host", None):
            port = "" if pool.port in (None, {"http": 80, "https": 443}.get(pool.scheme)) else f":{pool.port}"
            return f"{pool.scheme}://{pool.host}{port}"
    return "the server"


def _wire_error(error: BaseException, proxied: bool) -> WireError:
    """The wire error of a failed exchange, naming the server and the cause; through the system
    proxy the cause is left out (it may quote the proxy's URL, which may hold a password)."""
    chain, origin = _chain(error), _origin(error)
    cause = "" if proxied else f": {_cause(error)}"
    refused = any(isinstance(link, ConnectionRefusedError) for link in chain)
    if isinstance(error, requests.exceptions.Timeout) or not refused and any(  # urllib3's refusal is a timeout too
            isinstance(link, (TimeoutError, urllib3_errors.TimeoutError)) for link in chain):
        return WireError("timeout")
    if isinstance(error, requests.exceptions.SSLError):
        return WireError("tls", f"the TLS connection to {origin} failed{cause}")
    if isinstance(error, requests.exceptions.ProxyError) or proxied:
        return WireError("transport", f"the request to {origin} through the system proxy failed{cause}")
    if refused:
        return WireError("transport", f"{origin} refused the connection (is the server running?)")
    if any(isinstance(link, http.client.HTTPException)  # a closed connection is no invalid answer
           and not isinstance(link, (http.client.RemoteDisconnected, http.client.IncompleteRead)) for link in chain):
        return WireError("protocol", f"{origin} answered with invalid HTTP{cause}")
    if isinstance(error, requests.exceptions.ConnectionError):
        return WireError("transport", f"cannot connect to {origin}{cause}")
    return WireError("transport", f"the request to {origin} failed{cause}")
