"""The sandbox: the hostile guest (tests/hostile), composed with the gate, loops, bombs memory,
floods requests, panics and overflows its stack; each is stopped with the Type 4 entry iam-host
prints for the same guest and limits, byte for byte, and the host carries on (a well-behaved
command right after succeeds, in a fresh store). The CPU limit is this host's own (epoch
deadlines), as is the memory limit (store limits); the entry is the gate's (`gate.stopped`)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import SEED, assert_same, both, run_cli
from iam_host import Host, Incoming, WireError

LIMITS = {"memory_bytes": 16 << 20, "cpu_millis": 500, "max_requests": 8, "response_bytes": 64 << 10,
          "wall_millis": 20_000, "request_bytes": 64 << 10}
TOKEN = "tenant-1-token"


@pytest.fixture
def files(tmp_path):
    """Writes a hostile tenant's config (and the limits and an empty cassette): the command
    line of both hosts."""
    limits, cassette = tmp_path / "limits.json", tmp_path / "cassette.json"
    limits.write_text(json.dumps(LIMITS))
    cassette.write_text('{"interactions": []}')

    def command_line(mode: str, live: bool = False, **params: str) -> list[str]:
        config = tmp_path / f"config-{mode}-{time.monotonic_ns()}.json"
        config.write_text(json.dumps({"url": "https://tenant-1.example", "access_token": TOKEN, "directory_id": "d",
                                      "hostile": mode, **params}))
        http = ["--live"] if live else ["--cassette", str(cassette)]
        return ["run", "test-module", "--config", str(config), *http, "--limits", str(limits)]

    return command_line


@pytest.mark.parametrize(
    "mode, named",
    [("memory", "it used more than its memory limit of 16777216 bytes (it asked for "),
     ("loop", "it used more than its CPU time limit of 500 ms"),
     ("panic", "the component panicked: panicked at "),
     ("panic-logged", "the component trapped: wasm trap: wasm `unreachable` instruction executed"),
     ("stack", "the component trapped: wasm trap: call stack exhausted")],
)
def test_each_hostile_mode_ends_in_the_entry_iam_host_prints(files, rust_cli, hostile_component, hostile_connector,
                                                             mode, named):
    python, rust = both(rust_cli, files(mode), hostile_component, hostile_connector)
    assert_same(python, rust)
    assert python.code == 1, python.stderr
    assert python.entry["Contents"].startswith("The test-module command was stopped by the host: " + named), python.entry


def test_policy_denials_reach_the_guest_as_iam_host_gives_them(files, rust_cli, hostile_component, hostile_connector):
    for mode, params in [("big-request", {}), ("reach", {"target": "https://tenant-2.example/scim"}),
                         ("reach", {"as": "tenant-2-token"}), ("reach", {"header": "Authorization"}), ("sleep", {})]:
        python, rust = both(rust_cli, files(mode, **params), hostile_component, hostile_connector)
        assert_same(python, rust)


class Scripted:
    """A wire that answers every request with ``answer`` and keeps what it was sent."""

    def __init__(self, answer: Incoming | None = None) -> None:
        self.answer = answer or Incoming(200, [], b"{}")
        self.sent, self.slept = [], []

    def send(self, request):
        self.sent.append(request)
        if isinstance(self.answer, WireError):
            raise self.answer
        return self.answer

    def sleep(self, millis):
        self.slept.append(millis)

    def now_millis(self):
        return 1_704_067_200_000


@pytest.fixture(scope="module")
def hostile(hostile_component):
    return Host(hostile_component)


def run_hostile(host: Host, mode: str, wire: Scripted | None = None):
    wire = wire or Scripted()
    config = {"url": "https://tenant-1.example", "access_token": TOKEN, "directory_id": "d", "hostile": mode}
    return host.run("test-module", config, {}, wire=wire, limits=host.limits(json.dumps(LIMITS))), wire


@pytest.mark.parametrize("mode", ["memory", "loop", "panic", "panic-logged", "stack", "flood"])
def test_the_host_carries_on_after_a_hostile_command(hostile, mode):
    report, _ = run_hostile(hostile, mode)
    assert report.entry["Type"] in (1, 4)
    after, wire = run_hostile(hostile, "none")
    assert (after.is_error, after.entry_json) == (False, '{"Type":1,"ContentsFormat":"text","Contents":"ok"}')
    assert [(r.method, r.url) for r in wire.sent] == [("GET", "https://tenant-1.example/hostile")]
    assert ("Authorization", f"Bearer {TOKEN}") in wire.sent[0].headers  # attached by the gate, sent by the wire


def test_a_flood_is_stopped_after_its_budget(hostile):
    report, wire = run_hostile(hostile, "flood")
    assert report.stop == ("requests", 8) and len(wire.sent) == LIMITS["max_requests"]
    assert "kept sending HTTP requests after using up its budget of 8" in report.entry["Contents"]


def test_the_endless_loop_is_stopped_in_about_its_cpu_limit_and_waiting_is_not_computing(hostile):
    started = time.monotonic()
    report, _ = run_hostile(hostile, "loop")
    assert report.stop == ("cpu", 500)
    assert time.monotonic() - started < 5 * LIMITS["cpu_millis"] / 1000

    class Slow(Scripted):  # a server slower than the CPU limit: the wait is the wire's, not the guest's
        def send(self, request):
            time.sleep(0.8)
            return super().send(request)

    report, _ = run_hostile(hostile, "none", Slow())
    assert report.entry["Contents"] == "ok", report.entry


def test_a_wire_error_reaches_the_guest_as_a_value(hostile):
    report, _ = run_hostile(hostile, "none", Scripted(WireError("transport", "the network is down")))
    assert report.is_error and 'Transport("the network is down")' in report.entry["Contents"], report.entry
    report, _ = run_hostile(hostile, "none", Scripted(WireError("too-large")))
    assert "ResponseTooLarge(65536)" in report.entry["Contents"], report.entry


@pytest.mark.parametrize("response_bytes, batches", [
    (64 << 10, [32, 8]),  # 32 requests a call at most
    (10 << 20, [6] * 6 + [4]),  # and at most 64 MiB of response caps: 6 of the default 10 MiB
])
def test_send_all_reaches_the_wire_in_bounded_batches_and_a_short_batch_fails_only_its_rest(
        hostile, response_bytes, batches):
    class Short(Scripted):  # carries a batch at once, but answers only its first request
        def __init__(self):
            super().__init__()
            self.batches = []

        def send_all(self, requests):
            self.sent.extend(requests)
            self.batches.append(len(requests))
            return [self.answer]

    wire = Short()
    config = {"url": "https://tenant-1.example", "access_token": TOKEN, "directory_id": "d", "hostile": "send-all",
              "count": "40"}
    limits = hostile.limits(json.dumps({**LIMITS, "max_requests": 64, "response_bytes": response_bytes}))
    report = hostile.run("test-module", config, {}, wire=wire, limits=limits)
    answers = report.entry["Contents"].split("; ")
    assert wire.batches == batches
    assert [r.url for r in wire.sent] == [f"https://tenant-1.example/hostile/{n}" for n in range(40)]
    firsts = [sum(batches[:i]) for i in range(len(batches))]
    answered = [n for n, a in enumerate(answers) if a == f"{n}: 200 {{}}"]
    unanswered = [n for n, a in enumerate(answers)
                  if a.startswith(f"{n}: ") and "the host gave no answer to this request" in a]
    assert answered == firsts and unanswered == [n for n in range(40) if n not in firsts], report.entry


class _Answer(BaseHTTPRequestHandler):
    """Answers every request with 200 ``{}`` and counts them."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        _Answer.seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def local_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Answer.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_live_flood_ends_as_in_iam_host(files, local_server, rust_cli, hostile_component, hostile_connector):
    python, rust = both(rust_cli, files("flood", live=True, url=local_server), hostile_component, hostile_connector)
    assert_same(python, rust)
    assert "budget of 8" in python.entry["Contents"]
    assert len(_Answer.seen) == 2 * LIMITS["max_requests"]


def test_the_real_connector_gets_the_budget_and_the_cap_as_failed_results(host):
    config, args = (SEED / "config.json").read_text(), (SEED / "args.json").read_text()
    wire = Scripted()
    report = host.run("iam-get-user", config, args, wire=wire, limits=host.limits('{"max_requests": 0}'))
    assert not report.is_error and report.entry["Contents"]["success"] is False and wire.sent == []
    big = Scripted(Incoming(200, [], b"x" * 2048))
    report = host.run("iam-get-user", config, args, wire=big, limits=host.limits('{"response_bytes": 1024}'))
    assert not report.is_error and "1024" in report.entry["Contents"]["errorMessage"]


def test_a_token_echoed_by_the_server_never_reaches_the_entry(host):
    config, args = (SEED / "config.json").read_text(), (SEED / "args.json").read_text()
    token = json.loads(config)["access_token"]
    echo = json.dumps({"detail": f"bad token {token}"}).encode()
    wire = Scripted(Incoming(401, [("www-authenticate", f"Bearer {token}")], echo))
    report = host.run("iam-get-user", config, args, wire=wire)
    assert token not in report.entry_json and "<redacted>" in report.entry["Contents"]["errorMessage"]
    assert ("Authorization", f"Bearer {token}") in wire.sent[0].headers


def test_the_memory_limit_applies_to_the_cli_too(tmp_path, hostile_component):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"url": "https://t.example", "access_token": TOKEN, "directory_id": "d", "hostile": "memory"}))
    limits = tmp_path / "limits.json"
    limits.write_text('{"memory_bytes": 8388608}')
    cassette = tmp_path / "cassette.json"
    cassette.write_text('{"interactions": []}')
    run = run_cli(["run", "test-module", "--config", str(config), "--cassette", str(cassette), "--limits", str(limits),
                   "--component", str(hostile_component)])
    assert run.code == 1 and "memory limit of 8388608 bytes" in run.entry["Contents"], run.stderr


def test_a_recorded_command_that_is_stopped_prints_its_entry_and_exits_2(files, tmp_path, hostile_component):
    """Once the component traps, the gate's recording is gone with its instance: the entry
    is printed, and the recording is reported as not written (exit 2), never half written."""
    cassette = tmp_path / "recorded.json"
    run = run_cli(files("loop", live=True) + ["--record", str(cassette), "--component", str(hostile_component)])
    assert run.code == 2 and "CPU time limit of 500 ms" in run.entry["Contents"], run.stderr
    assert f"cannot write the recording {cassette}: the command was stopped" in run.stderr
    assert not cassette.exists() and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
