"""The live wire (iam_host/wire.py) on its own, against one-shot servers on 127.0.0.1: it sends
a finished request as it is (the guest's framing headers dropped), reads the body up to its cap
and within its time, follows no redirect, and names every failure by its wire-error case and
the server, never the token. (The TLS and proxy choices are tested live in test_live.py.)"""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable

import pytest

from iam_host import Incoming, Outgoing, WireError
from iam_host.wire import Live

TOKEN = "wire-t0ken-0123"


def serve_once(handle: Callable[[socket.socket], None]) -> str:
    """A server on 127.0.0.1 that accepts one connection and hands it to ``handle`` (on a
    thread of its own), then closes; its URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        connection, _ = listener.accept()
        with connection, listener:
            handle(connection)

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}"


def one_shot(answer: bytes | None, seen: list[bytes] | None = None, meet: threading.Barrier | None = None) -> str:
    """A server that reads one request, keeps it in ``seen`` and writes ``answer`` (or holds
    the connection for two seconds when it is None). With ``meet`` it answers only once every
    server of that barrier holds its request, and 503 if they never all do."""

    def handle(connection: socket.socket) -> None:
        request = connection.recv(65536)
        head, _, body = request.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
                       if line.startswith(b"content-length:")), 0)
        while len(body) < length:  # the body may come in a segment of its own
            more = connection.recv(65536)
            if not more:
                break
            body += more
        if seen is not None:
            seen.append(head + b"\r\n\r\n" + body)
        reply = answer
        if meet is not None:
            try:
                meet.wait()
            except threading.BrokenBarrierError:
                reply = b"HTTP/1.1 503 Alone\r\nContent-Length: 0\r\n\r\n"
        if reply is None:
            time.sleep(2)
        else:
            connection.sendall(reply)

    return serve_once(handle)


def send(url: str, **change) -> tuple:
    request = dict(method="GET", url=url + "/x?y=1", headers=[("Authorization", f"Bearer {TOKEN}")], body=None,
                   timeout_ms=2000, max_response_bytes=1024, verify_tls=True, use_proxy=False)
    request.update(change)
    try:
        response = Live().send(Outgoing(**request))
        return "ok", response.status, response.headers, response.body
    except WireError as error:
        assert TOKEN not in error.message
        return error.kind, error.message


def test_the_request_goes_out_as_given_without_the_guests_framing_and_the_answer_comes_back_whole():
    seen: list[bytes] = []
    url = one_shot(b"HTTP/1.1 201 Created\r\nX-Seen: 1\r\nX-Seen: 2\r\nContent-Length: 4\r\n\r\ndone", seen)
    answer = send(url, method="POST", body='{"a":1}', headers=[("Authorization", f"Bearer {TOKEN}"),
                                                               ("Content-Length", "999")])
    assert answer == ("ok", 201, [("x-seen", "1"), ("x-seen", "2"), ("content-length", "4")], b"done")
    head = seen[0].decode().lower()
    assert head.startswith("post /x?y=1 http/1.1\r\n") and f"authorization: bearer {TOKEN}\r\n" in head
    # (Not "999" alone: the server's port, in the host header, may hold it.)
    assert "content-length: 7\r\n" in head and "content-length: 999" not in head and head.endswith('\r\n\r\n{"a":1}')


def test_a_redirect_is_handed_back_not_followed():
    answer = send(one_shot(b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n"))
    assert answer[:2] == ("ok", 302)


@pytest.mark.parametrize(
    "answer, expected",
    [(b"HTTP/1.1 200 OK\r\nContent-Length: 1025\r\n\r\n" + b"x" * 1025, ("too-large", "")),
     (None, ("timeout", "")),
     (b"HELLO THERE\r\n\r\n", ("protocol", "answered with invalid HTTP")),
     (b"HTTP/1.1 abc Nonsense\r\n\r\n", ("protocol", "answered with invalid HTTP")),
     (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", ("transport", "IncompleteRead"))],
)
def test_each_failure_is_its_wire_error(answer, expected):
    kind, *rest = send(one_shot(answer), timeout_ms=500)
    assert kind == expected[0] and expected[1] in (rest[0] if rest and isinstance(rest[0], str) else ""), rest


def test_a_closed_port_is_refused_naming_the_server_and_tls_to_plain_http_is_a_tls_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert send(f"http://127.0.0.1:{port}") == (
        "transport", f"http://127.0.0.1:{port} refused the connection (is the server running?)")
    kind, message = send(one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").replace("http:", "https:"))
    assert kind == "tls" and message.startswith("the TLS connection to https://127.0.0.1:"), message


def outgoing(url: str, timeout_ms: int = 2000) -> Outgoing:
    return Outgoing("GET", url + "/x", [("Authorization", f"Bearer {TOKEN}")], None, timeout_ms, 1024, True, False)


def test_send_all_carries_the_requests_at_once_and_answers_each_in_order():
    # Two servers answer only once both hold their request: a wire that sent one after the
    # other would get 503 from the first (its barrier breaks after 3 s) and never reach the
    # second in time.
    meet = threading.Barrier(2, timeout=3)
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
    urls = [one_shot(ok + b"m1", meet=meet), one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 1025\r\n\r\n" + b"x" * 1025),
            one_shot(None), one_shot(b"HELLO THERE\r\n\r\n"), one_shot(ok + b"m2", meet=meet)]
    answers = Live().send_all([outgoing(url, timeout_ms=5000 if i in (0, 4) else 500) for i, url in enumerate(urls)])
    assert [type(a).__name__ for a in answers] == ["Incoming", "WireError", "WireError", "WireError", "Incoming"]
    assert answers[0] == Incoming(200, [("content-length", "2")], b"m1")
    assert answers[4] == Incoming(200, [("content-length", "2")], b"m2")
    assert [a.kind for a in answers[1:4]] == ["too-large", "timeout", "protocol"]
    assert all(TOKEN not in a.message for a in answers[1:4])


def dripping(head: bytes, every: float = 0.1, count: int = 100) -> str:
    """A server that sends ``head`` at once, then one byte every ``every`` seconds, ``count``
    of them (each well within any read timeout), then closes."""

    def handle(connection: socket.socket) -> None:
        connection.recv(65536)
        try:
            connection.sendall(head)
            for _ in range(count):
                time.sleep(every)
                connection.sendall(b"x")
        except OSError:
            pass  # the client gave up

    return serve_once(handle)


@pytest.mark.parametrize("head", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",  # a body shorter than it says, dripped
    b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n",  # a body read to the end, dripped: never a cut answer
])
def test_a_dripped_answer_ends_at_the_requests_timeout_not_each_reads(head):
    started = time.monotonic()
    assert send(dripping(head), timeout_ms=500) == ("timeout", "")
    assert time.monotonic() - started < 5, "held by the drip"  # the drip alone takes 10 s
