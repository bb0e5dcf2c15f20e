"""Live runs through the Python host against a real SCIM 2.0 server (tests/scim/server.py,
scim2-server shaped like Atlassian, on 127.0.0.1): create, get, update and disable a user,
the server's own state read back after each step; record mode replays to the same entry; TLS
is verified unless the instance says insecure; the XSOAR pack's integration (host-test/xsoar) runs live too. The token
appears in no output and no recording.

The server's Python comes from tests/scim/venv.sh (or $IAM_SCIM_PYTHON). Each test module
starts one server on a free port and stops it by its PID at the end."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import REPO, run_cli

DIRECTORY = "e2e-directory"
TOKEN = f"python-live-t0ken-{os.getpid()}"
JANE = {"email": "jane.doe@example.com", "username": "jane.doe@example.com", "givenname": "Jane", "surname": "Doe",
        "displayname": "Jane Doe", "title": "Engineer", "mobilephone": "+1 555 0100", "employeeid": "E-100"}
START_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def scim_python() -> str:
    explicit = os.environ.get("IAM_SCIM_PYTHON")
    if explicit:
        return explicit
    script = REPO / "tests" / "scim" / "venv.sh"
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.fail(f"{script} failed ({done.returncode}): the live tests need python3 and the pinned scim2-server\n"
                    f"{done.stderr}", pytrace=False)
    return done.stdout.strip().splitlines()[-1]


class Server:
    def __init__(self, python: str, log: Path, tls: bool = False) -> None:
        extra = []
        if tls:
            folder = REPO / "tests" / "scim" / "tls"
            extra = ["--tls-cert", str(folder / "cert.pem"), "--tls-key", str(folder / "key.pem")]
        self.log = log
        self.process = subprocess.Popen(
            [python, str(REPO / "tests" / "scim" / "server.py"), "--port", "0", "--directory", DIRECTORY,
             "--exit-on-stdin-eof", *extra],
            env={**os.environ, "SCIM_TOKEN": TOKEN}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=log.open("wb"), text=True,
        )
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT)
        first = line[0].strip() if line else ""
        if not first.startswith("listening "):
            self.stop()
            pytest.fail(f"the SCIM server did not start (first line {first!r}); its log:\n{log.read_text()}", pytrace=False)
        self.base = first[len("listening "):]
        self.url = self.base.split("/scim/")[0]
        deadline = time.monotonic() + START_TIMEOUT
        while self.direct("GET", "/ServiceProviderConfig")[0] != 200:
            assert time.monotonic() < deadline, f"the SCIM server never answered; its log:\n{log.read_text()}"
            time.sleep(0.05)

    def direct(self, method: str, path: str, body=None) -> tuple[int, object]:
        """A request straight to the server (not through the host)."""
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # this test's own self-signed server
                response = requests.request(method, self.base + path, json=body, verify=False, timeout=10,
                                            headers={"Authorization": f"Bearer {TOKEN}"},
                                            proxies={"http": None, "https": None})
        except requests.RequestException:
            return 0, None
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, None

    def user(self, user_id: str):
        status, user = self.direct("GET", f"/Users/{user_id}")
        return user if status == 200 else None

    def stop(self) -> None:
        self.process.kill()  # by its PID
        self.process.wait(10)


@pytest.fixture(scope="module")
def server(scim_python, tmp_path_factory):
    running = Server(scim_python, tmp_path_factory.mktemp("scim") / "server.log")
    yield running
    running.stop()


def live(server: Server, tmp_path: Path, component: Path, command: str, args: dict, extra=(), **params):
    config = tmp_path / f"config-{time.monotonic_ns()}.json"
    config.write_text(json.dumps({"url": server.url, "access_token": TOKEN, "directory_id": DIRECTORY,
                                  "instance_name": "live", **params}))
    run = run_cli(["run", command, "--config", str(config), "--args", json.dumps(args), "--live",
                   "--component", str(component), *extra])
    assert TOKEN.encode() not in run.stdout and TOKEN not in run.stderr, "the token leaked into the output"
    return run


def test_create_get_update_disable_against_a_real_scim_server(server, tmp_path, component):
    created = live(server, tmp_path, component, "iam-create-user", {"user-profile": JANE})
    assert created.code == 0, created.stderr
    result = created.entry["Contents"]
    assert result["success"] is True and result["action"] == "create" and result["active"] is True, result
    user_id = result["id"]
    assert server.user(user_id)["userName"] == JANE["username"]

    got = live(server, tmp_path, component, "iam-get-user", {"user-profile": {"email": JANE["email"], "username": JANE["username"]}})
    assert got.code == 0 and got.entry["Contents"]["id"] == user_id and got.entry["Contents"]["success"] is True

    updated = live(server, tmp_path, component, "iam-update-user", {"user-profile": {**JANE, "title": "Manager"}})
    assert updated.code == 0 and updated.entry["Contents"]["success"] is True, updated.stdout
    assert server.user(user_id)["title"] == "Manager"
    assert server.user(user_id)["name"]["givenName"] == "Jane"  # attributes the profile does not mention stay

    disabled = live(server, tmp_path, component, "iam-disable-user", {"user-profile": {"username": JANE["username"]}})
    assert disabled.code == 0 and disabled.entry["Contents"]["active"] is False, disabled.stdout
    assert server.user(user_id)["active"] is False

    again = live(server, tmp_path, component, "iam-disable-user", {"user-profile": {"username": JANE["username"]}})
    assert again.entry["Contents"]["skipped"] is True and again.entry["Contents"]["reason"] == "User is already disabled."


def test_group_commands_against_a_real_scim_server(server, tmp_path, component):
    user = live(server, tmp_path, component, "iam-create-user", {"user-profile": {"email": "g@example.com", "username": "g@example.com"}})
    user_id = user.entry["Contents"]["id"]
    created = live(server, tmp_path, component, "iam-create-group", {"scim": {"displayName": "python-host-group"}})
    assert created.code == 0 and created.entry["Contents"]["success"] is True, created.stdout
    group_id = created.entry["Contents"]["id"]
    updated = live(server, tmp_path, component, "iam-update-group", {"scim": {"id": group_id}, "memberIdsToAdd": [user_id]})
    assert updated.entry["Contents"]["success"] is True, updated.stdout
    got = live(server, tmp_path, component, "iam-get-group", {"scim": {"id": group_id}, "includeMembers": "true"})
    assert [m["value"] for m in got.entry["Contents"]["members"]] == [user_id]
    deleted = live(server, tmp_path, component, "iam-delete-group", {"scim": {"id": group_id}})
    assert deleted.entry["Contents"]["success"] is True
    assert server.direct("GET", f"/Groups/{group_id}")[0] == 404


def test_a_recording_replays_to_the_same_entry_and_holds_no_token(server, tmp_path, component):
    live(server, tmp_path, component, "iam-create-user", {"user-profile": {"email": "rec@example.com", "username": "rec@example.com"}})
    cassette = tmp_path / "recorded.json"
    recorded = live(server, tmp_path, component, "iam-get-user", {"user-profile": {"username": "rec@example.com"}},
                    extra=["--record", str(cassette)])
    assert recorded.code == 0, recorded.stderr
    text = cassette.read_text()
    assert TOKEN not in text and '"authorization": "Bearer <redacted>"' in text
    config = tmp_path / "replay-config.json"
    config.write_text(json.dumps({"url": server.url, "access_token": "another-token-entirely", "directory_id": DIRECTORY,
                                  "instance_name": "live"}))
    replayed = run_cli(["run", "iam-get-user", "--config", str(config), "--args",
                        json.dumps({"user-profile": {"username": "rec@example.com"}}), "--cassette", str(cassette),
                        "--component", str(component)])
    assert (replayed.code, replayed.stdout) == (recorded.code, recorded.stdout), replayed.stderr
    again = live(server, tmp_path, component, "iam-get-user", {"user-profile": {"username": "rec@example.com"}},
                 extra=["--record", str(cassette)])
    assert again.code == 2 and again.stdout == b"" and "--overwrite" in again.stderr
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "a temporary file was left behind"


def test_a_recording_that_cannot_be_written_still_prints_the_entry_and_exits_2(server, tmp_path, component):
    run = live(server, tmp_path, component, "test-module", {}, extra=["--record", "/proc/self/cassette.json"])
    assert run.code == 2, run.stderr
    assert run.entry == {"Type": 1, "ContentsFormat": "text", "Contents": "ok"}
    assert "cannot write the recording /proc/self/cassette.json" in run.stderr


def test_a_closed_port_is_a_failed_result_naming_the_origin(tmp_path, component):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"url": f"http://127.0.0.1:{port}", "access_token": TOKEN, "directory_id": DIRECTORY}))
    run = run_cli(["run", "iam-get-user", "--config", str(config), "--args", '{"user-profile": {"username": "x"}}',
                   "--live", "--component", str(component)])
    assert run.code == 0, run.stderr
    result = run.entry["Contents"]
    assert result["success"] is False and result["errorCode"] is None
    assert f"http://127.0.0.1:{port}" in result["errorMessage"], result


@pytest.fixture(scope="module")
def tls_server(scim_python, tmp_path_factory):
    running = Server(scim_python, tmp_path_factory.mktemp("scim-tls") / "server.log", tls=True)
    yield running
    running.stop()


def test_tls_is_verified_unless_the_instance_says_insecure(tls_server, tmp_path, component):
    refused = live(tls_server, tmp_path, component, "test-module", {})
    assert refused.code == 1, refused.stdout
    assert "certificate" in refused.entry["Contents"].lower(), refused.entry
    accepted = live(tls_server, tmp_path, component, "test-module", {}, insecure=True)
    assert accepted.entry == {"Type": 1, "ContentsFormat": "text", "Contents": "ok"}, accepted.stdout


def test_proxy_settings_are_used_only_off_loopback_and_without_proxy_never(server, tmp_path, component, monkeypatch):
    # A proxy that does not exist: had the request gone through it, the command would fail.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    for flag in (True, False):
        run = live(server, tmp_path, component, "test-module", {}, proxy=flag)
        assert run.entry == {"Type": 1, "ContentsFormat": "text", "Contents": "ok"}, (flag, run.stdout)


#: The XSOAR pack's integration script (host-test/xsoar), run from the source tree: it imports
#: this iam_host as installed. tests/xsoar/stand-in (on sys.path, see conftest.py) is XSOAR.
XSOAR_SCRIPT = REPO / "host-test/xsoar/Packs/AtlassianIAMWasm/Integrations/AtlassianIAMWasm/AtlassianIAMWasm.py"


def run_integration(command: str, params: dict, args: dict) -> list:
    """The script's main() as XSOAR runs it; what it posted."""
    import runpy

    import demistomock

    demistomock.setup(command, params, args, "Atlassian IAM WebAssembly_live", "Atlassian IAM WebAssembly")
    try:
        runpy.run_path(str(XSOAR_SCRIPT), run_name="__main__")
    except SystemExit as exit:  # return_error ends the script, as XSOAR's does
        assert exit.code in (0, None)
    return list(demistomock.posted)


def test_the_xsoar_integration_runs_live(server, component, monkeypatch):
    """main() as XSOAR runs it, over the real wire: the token from the credentials parameter
    reaches the server (which refuses any other) and none of what XSOAR sees."""
    import demistomock
    import iam_host

    # The host the script keeps on the iam_host module, over the component under test; XSOAR's
    # own SCIM mappers, which XSOAR maps with.
    monkeypatch.setattr(iam_host, "XSOAR_HOST", iam_host.Host(component), raising=False)
    demistomock.install_mappers([json.loads(path.read_text())
                                 for path in sorted((REPO / "src" / "mapper" / "builtin").glob("*.json"))])
    params = {"url": server.url, "access_token_creds": {"identifier": "", "password": TOKEN}, "directory_id": DIRECTORY,
              "mapper_in": "User Profile - SCIM (Incoming)", "mapper_out": "User Profile - SCIM (Outgoing)"}
    assert run_integration("test-module", params, {}) == ["ok"]
    profile = {"email": "xsoar@example.com", "username": "xsoar@example.com", "givenname": "X"}
    (created,) = run_integration("iam-create-user", params, {"user-profile": json.dumps(profile)})
    logged = list(demistomock.logged)
    assert created["Type"] == 1 and created["Contents"]["success"] is True, created
    assert created["Contents"]["brand"] == "Atlassian IAM WebAssembly"
    assert server.user(created["Contents"]["id"])["userName"] == "xsoar@example.com"
    (failed,) = run_integration("test-module", {**params, "access_token_creds": {"password": "wrong-token-000"}}, {})
    assert failed["Type"] == 4 and "401" in failed["Contents"], failed
    assert TOKEN not in json.dumps([created, failed, logged, demistomock.logged, demistomock.mapped])


def test_with_proxy_on_a_remote_origin_goes_through_the_system_proxy_unless_no_proxy_says(tmp_path, component, monkeypatch):
    """A fake proxy on 127.0.0.1 keeps the first line it is sent and refuses the tunnel."""
    import socketserver

    seen: list[str] = []

    class Proxy(socketserver.StreamRequestHandler):
        def handle(self):
            seen.append(self.rfile.readline().decode().strip())
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Proxy) as proxy:
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"url": "https://scim.proxied.example", "access_token": TOKEN,
                                      "directory_id": DIRECTORY, "proxy": True}))
        command = ["run", "test-module", "--config", str(config), "--live", "--component", str(component)]
        run = run_cli(command)
        assert run.code == 1 and "proxy" in run.entry["Contents"], run.stdout
        assert seen and seen[0].startswith("CONNECT scim.proxied.example:443 "), seen
        assert TOKEN not in "".join(seen)
        seen.clear()
        run = run_cli(command, env={"NO_PROXY": "proxied.example"})
        assert run.code == 1 and seen == [], (seen, run.stdout)
        proxy.shutdown()
