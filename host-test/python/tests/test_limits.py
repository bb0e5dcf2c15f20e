"""Sandbox limits: the hostile component (tests/hostile) loops, bombs memory, floods
requests, panics, overflows its stack and floods stderr; each is stopped at its limit with a
Type 4 entry naming it, and the host carries on (a well-behaved command right after succeeds).
With the real component: the request budget and the response cap are values the guest
handles (failed results), secrets echoed by a server never reach it, and a fresh store per
command keeps commands apart."""

from __future__ import annotations

import json

import pytest

from conftest import CASES, run_cli
from iam_host import Host, Limits
from iam_host.backend import IncomingResponse
from iam_host.cassette import Cassette, Replay

HOSTILE_LIMITS = Limits(memory_bytes=16 << 20, cpu_millis=500, max_requests=8, response_bytes=64 << 10,
                        wall_millis=20_000, request_bytes=64 << 10)


class Scripted:
    """A server that answers every request with ``answer`` and keeps what it was sent."""

    def __init__(self, answer: IncomingResponse | None = None) -> None:
        self.answer = answer or IncomingResponse(200, [], b"{}")
        self.sent = []
        self.slept = []

    def send(self, request, max_body_bytes):
        self.sent.append(request)
        return self.answer

    def sleep(self, millis):
        self.slept.append(millis)

    def now_millis(self):
        return 1_704_067_200_000

    def finish(self):
        return None


@pytest.fixture(scope="module")
def hostile(hostile_component):
    return Host(hostile_component, limits=HOSTILE_LIMITS)


def run_hostile(hostile, mode: str, **params):
    backend = Scripted()
    params = {"url": "https://tenant-1.example", "access_token": "tenant-1-token", "directory_id": "d", "hostile": mode, **params}
    return hostile.run("test-module", params, {}, backend), backend


def contents(report) -> str:
    return report.entry["Contents"]


@pytest.mark.parametrize(
    "mode, named",
    [("loop", "it used more than its CPU time limit of 500 ms"),
     ("memory", "it used more than its memory limit of 16777216 bytes"),
     ("flood", "it kept sending HTTP requests after using up its budget of 8"),
     ("panic", "the component panicked: "),
     ("panic-logged", "the component panicked: panicked at "),
     ("stack", "the component trapped: wasm trap: call stack exhausted"),
     ("stderr", "it wrote more than the 4096 bytes of stderr the host keeps")],
)
def test_each_hostile_mode_ends_in_a_type_4_entry_naming_its_limit(hostile, mode, named):
    report, backend = run_hostile(hostile, mode)
    assert report.entry_type == "error"
    entry = report.entry
    assert entry["Type"] == 4 and entry["ContentsFormat"] == "text"
    assert entry["Contents"].startswith("The test-module command was stopped by the host: "), entry
    assert named in entry["Contents"], entry
    if mode == "flood":
        assert len(backend.sent) == HOSTILE_LIMITS.max_requests
    # The host carries on: the next command, in a fresh store, behaves.
    after, _ = run_hostile(hostile, "none")
    assert after.entry == {"Type": 1, "ContentsFormat": "text", "Contents": "ok"}


def test_the_endless_loop_is_stopped_in_about_its_cpu_limit(hostile):
    import time

    started = time.monotonic()
    report, _ = run_hostile(hostile, "loop")
    assert "CPU time limit" in contents(report)
    assert time.monotonic() - started < 10 * HOSTILE_LIMITS.cpu_millis / 1000


def test_an_endless_sleep_spends_the_wall_clock_budget_and_returns(hostile):
    report, backend = run_hostile(hostile, "sleep")
    assert report.entry == {"Type": 1, "ContentsFormat": "text", "Contents": "slept"}
    assert backend.slept == []  # never begun: it would outlast the budget


def test_an_oversized_request_and_another_tenants_origin_are_denied_to_the_guest(hostile):
    report, backend = run_hostile(hostile, "big-request")
    assert "larger than the host's cap of 65536 bytes" in contents(report) and backend.sent == []
    report, backend = run_hostile(hostile, "reach", target="https://tenant-2.example/scim")
    assert "origin https://tenant-2.example:443 is not allowed" in contents(report) and backend.sent == []
    report, backend = run_hostile(hostile, "reach", **{"as": "tenant-2-token"})
    assert "UnknownCredential" in contents(report) and backend.sent == []
    report, backend = run_hostile(hostile, "reach", header="Authorization")
    assert "may not set the" in contents(report) and "Authorization" in contents(report) and backend.sent == []


def test_the_cli_applies_a_limits_file_to_the_hostile_component(tmp_path, hostile_component):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"url": "https://tenant.example", "access_token": "tenant-token", "directory_id": "d", "hostile": "memory"}))
    limits = tmp_path / "limits.json"
    limits.write_text(json.dumps({"memory_bytes": 8 << 20}))
    cassette = tmp_path / "cassette.json"
    cassette.write_text('{"interactions": []}')
    run = run_cli(["run", "test-module", "--config", str(config), "--cassette", str(cassette), "--limits", str(limits),
                   "--component", str(hostile_component)])
    assert run.code == 1, run.stderr
    assert "it used more than its memory limit of 8388608 bytes" in run.entry["Contents"]


SEED = CASES / "get_seed_example"


def seed(name: str):
    return json.loads((SEED / name).read_text())


def test_the_request_budget_and_the_response_cap_are_failed_results_for_the_real_component(host):
    params, args = seed("config.json"), seed("args.json")
    backend = Scripted()
    report = host.run("iam-get-user", params, args, backend, limits=Limits(max_requests=0))
    assert report.entry_type == "note" and backend.sent == []
    assert report.entry["Contents"]["success"] is False
    big = Scripted(IncomingResponse(200, [], b"x" * 2048))
    report = host.run("iam-get-user", params, args, big, limits=Limits(response_bytes=1024))
    assert report.entry_type == "note" and report.entry["Contents"]["success"] is False
    assert "1024" in report.entry["Contents"]["errorMessage"]


def test_a_token_echoed_by_the_server_never_reaches_the_guest(host):
    params, args = seed("config.json"), seed("args.json")
    token = params["access_token"]
    echo = json.dumps({"detail": f"bad token {token} / {token.replace('-', '%2D')}"}).encode()
    backend = Scripted(IncomingResponse(401, [("www-authenticate", f"Bearer {token}")], echo))
    report = host.run("iam-get-user", params, args, backend)
    assert token not in report.entry_json
    assert "<redacted>" in report.entry["Contents"]["errorMessage"]
    sent = backend.sent[0]
    assert ("Authorization", f"Bearer {token}") in sent.headers  # attached by the host, after the checks
    assert all(request.auth == "access_token" for request in report.guest_requests)
    assert all(token not in json.dumps(request.headers) for request in report.guest_requests)


def test_each_command_runs_in_a_fresh_store(host):
    cassette = Cassette.load(str(SEED / "cassette.json"))
    first = host.run("iam-get-user", seed("config.json"), seed("args.json"), Replay(cassette))
    for _ in range(20):
        again = host.run("iam-get-user", seed("config.json"), seed("args.json"), Replay(cassette))
        assert again.entry_json == first.entry_json
