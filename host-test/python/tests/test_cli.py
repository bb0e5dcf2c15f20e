"""The CLI contract of `python -m iam_host` (architecture.md "CLI contract"): one JSON document
on stdout, exit 0/1/2/3 as iam-host gives them, usage errors before any file is read, one line
for every unusable input (a FIFO or /dev/zero at once), never a traceback. Where iam-host gives
a stdout and an exit status for the same command line, this host's must be the same."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CASES, PACKAGE_DIR, SEED, assert_same, both, case_args, run_cli


def seed_args(**replace: str) -> list[str]:
    args = ["run", "iam-get-user", "--config", str(SEED / "config.json"), "--args", str(SEED / "args.json"),
            "--cassette", str(SEED / "cassette.json")]
    for flag, value in replace.items():
        args[args.index(f"--{flag}") + 1] = value
    return args


def assert_usage(run, *fragments: str) -> None:
    assert run.code == 2, f"exit {run.code}\n{run.stdout!r}\n{run.stderr}"
    assert run.stdout == b"", run.stdout
    assert "Traceback" not in run.stderr, run.stderr
    for fragment in fragments:
        assert fragment in run.stderr, run.stderr


def assert_one_line(run, *fragments: str) -> None:
    assert_usage(run, *fragments)
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("iam-host: "), run.stderr


@pytest.mark.parametrize(
    "args, fragment",
    [([], "missing subcommand"),
     (["frobnicate"], 'unknown subcommand "frobnicate"'),
     (["run"], "missing <COMMAND>"),
     (["run", "iam-get-user"], "--config <config.json> is required"),
     (["run", "iam-get-user", "--config", "c.json"], "give --cassette <file> or --live"),
     (["run", "iam-get-user", "--config", "c.json", "--record", "r.json"], "--record needs --live"),
     (["run", "iam-get-user", "--config", "c.json", "--cassette", "x", "--live"], "--cassette and --live exclude each other"),
     (["run", "iam-get-user", "--config", "c.json", "--live", "--overwrite"], "--overwrite goes with --record"),
     (["run", "iam-get-user", "--config"], "--config needs a value"),
     (["run", "iam-get-user", "--config", "c.json", "--bogus"], 'unexpected argument "--bogus"'),
     (["describe", "extra"], 'unexpected argument "extra"')],
)
def test_usage_errors_exit_2_with_the_usage(args, fragment):
    assert_usage(run_cli(args), fragment, "usage: python -m iam_host run")


def test_help_succeeds():
    run = run_cli(["--help"])
    assert run.code == 0 and run.stdout.startswith(b"usage: python -m iam_host run")


def test_an_unknown_command_is_a_usage_error_naming_the_commands_describe_gives(rust_cli, component, connector):
    python, rust = both(rust_cli, seed_args()[:1] + ["iam-delete-user"] + seed_args()[2:], component, connector)
    assert_same(python, rust)
    assert_usage(python, 'unknown command "iam-delete-user"; expected one of iam-get-user')
    for command in ["iam-create-user", "iam-get-group", "iam-delete-group", "test-module", "get-mapping-fields"]:
        assert command in python.stderr


def test_describe_prints_what_iam_host_prints(rust_cli, component, connector):
    python, rust = both(rust_cli, ["describe"], component, connector)
    assert_same(python, rust)
    assert json.loads(python.stdout)["credentials"] == ["access_token"]


def test_a_recording_path_is_checked_before_the_configuration_is_read(tmp_path, component):
    existing = tmp_path / "cassette.json"
    existing.write_text("keep me")
    missing_config = str(tmp_path / "missing.json")
    run = run_cli(["run", "iam-get-user", "--config", missing_config, "--live", "--record", str(existing),
                   "--component", str(component)])
    assert_one_line(run, f"refusing to overwrite {existing} with the recording", "--overwrite")
    assert existing.read_text() == "keep me"
    run = run_cli(["run", "iam-get-user", "--config", missing_config, "--live", "--record", str(tmp_path), "--overwrite",
                   "--component", str(component)])
    assert_one_line(run, "it is not a regular file, so --overwrite does not replace it")
    nowhere = tmp_path / "no-such-dir" / "c.json"
    run = run_cli(["run", "iam-get-user", "--config", missing_config, "--live", "--record", str(nowhere),
                   "--component", str(component)])
    assert_one_line(run, f"cannot write the recording {nowhere}: ", "is not a directory")


@pytest.mark.parametrize(
    "content, fragment",
    [(None, "cannot read config file"),
     (b"{not json", "is not valid JSON"),
     (b"[1, 2]", "must hold a JSON object"),
     (b"\xef\xbb\xbf{}", "is not valid JSON"),
     (b"\xff\xfe", "is not UTF-8 text"),
     (b'{"a": NaN}', "is not valid JSON"),
     (b"[" * 100_000, "is not valid JSON")],
)
def test_an_unusable_config_file_is_one_line_and_exit_2_as_in_iam_host(tmp_path, rust_cli, component, connector,
                                                                        content, fragment):
    config = tmp_path / "config.json"
    if content is not None:
        config.write_bytes(content)
    python, rust = both(rust_cli, seed_args(config=str(config)), component, connector)
    assert_one_line(python, fragment)
    assert_same(python, rust)


@pytest.mark.parametrize("flag, what", [("config", "config file"), ("args", "args file"), ("limits", "limits file"),
                                        ("cassette", "cassette"), ("component", "component")])
def test_a_fifo_dev_zero_or_a_directory_ends_at_once_with_one_line(tmp_path, component, flag, what):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, kind in [(fifo, "a FIFO"), (Path("/dev/zero"), "a character device"), (tmp_path, "a directory")]:
        args = seed_args() + ["--component", str(component)]
        if flag == "limits":
            args += ["--limits", str(path)]
        else:
            args[args.index(f"--{flag}") + 1] = str(path)
        started = time.monotonic()
        run = run_cli(args, timeout=10)
        # The line iam-host gives for the same input (tests/e2e/input_files.rs).
        assert_one_line(run)
        assert run.stderr == f"iam-host: cannot read {what} {path}: it is {kind}, not a regular file\n", run.stderr
        assert time.monotonic() - started < 1.0 + _python_start(), f"{flag} {path} took too long"


_START: list[float] = []


def _python_start() -> float:
    """How long this machine takes to start the host for a usage error (imports included)."""
    if not _START:
        started = time.monotonic()
        run_cli(["run"])
        _START.append(time.monotonic() - started)
    return _START[0]


def test_files_past_their_caps_end_with_one_line(tmp_path, component):
    config = tmp_path / "config.json"
    with open(config, "wb") as file:
        file.truncate((16 << 20) + 1)  # sparse: costs no disk
    assert_one_line(run_cli(seed_args(config=str(config)) + ["--component", str(component)]),
                    f"config file {config} is larger than the 16 MiB the host reads")
    wasm = tmp_path / "big.wasm"
    with open(wasm, "wb") as file:
        file.truncate((64 << 20) + 1)
    assert_one_line(run_cli(seed_args() + ["--component", str(wasm)]),
                    f"component {wasm} is larger than the 64 MiB the host reads")


def test_args_may_be_inline_json_and_must_be_an_object(tmp_path, rust_cli, component, connector):
    inline = json.dumps(json.loads((SEED / "args.json").read_text()))
    run = run_cli(seed_args(args="  " + inline) + ["--component", str(component)])
    assert run.code == 0 and run.stdout == run_cli(seed_args() + ["--component", str(component)]).stdout
    assert_one_line(run_cli(seed_args(args="{broken") + ["--component", str(component)]), "--args is not valid JSON")
    not_object = tmp_path / "args.json"
    not_object.write_text('"user-profile"')
    python, rust = both(rust_cli, seed_args(args=str(not_object)), component, connector)
    assert_one_line(python, f"args file {not_object} must hold a JSON object")
    assert_same(python, rust)


def test_what_the_gate_refuses_is_exit_2_naming_the_files(tmp_path, rust_cli, component, connector):
    cassette = tmp_path / "cassette.json"
    cassette.write_text('{"interactions": [], "extra": 1}')
    python, rust = both(rust_cli, seed_args(cassette=str(cassette)), component, connector)
    assert_one_line(python, "the cassette is not valid", "extra", f"cassette {cassette}")
    assert_same(python, rust)
    limits = tmp_path / "limits.json"
    for text in ['{"max_request": 3}', "[1, 2]", '{"cpu_millis": 0}', '{"memory_bytes": 65536}']:
        limits.write_text(text)
        python, rust = both(rust_cli, seed_args() + ["--limits", str(limits)], component, connector)
        assert_one_line(python, f"limits file {limits} is not valid: ")
        assert_same(python, rust)


def test_an_unusable_component_is_one_line(tmp_path, connector):
    not_wasm = tmp_path / "not.wasm"
    not_wasm.write_bytes(b"\0asm junk")
    assert_one_line(run_cli(seed_args() + ["--component", str(not_wasm)]), f"{not_wasm} is not a valid component")
    assert_one_line(run_cli(seed_args() + ["--component", str(tmp_path / "none.wasm")]), "cannot read component")
    # The connector alone is not what this host loads: the gate is in the composed one.
    assert_one_line(run_cli(seed_args() + ["--component", str(connector)]),
                    "does not export iam:atlassian/gate@0.4.0", "iam-host gated")


def test_a_request_that_matches_no_interaction_is_exit_3_with_expected_and_actual(tmp_path, rust_cli, component, connector):
    cassette = json.loads((SEED / "cassette.json").read_text())
    request = cassette["interactions"][0]["request"]
    request["url"] = request["url"].replace("testDemisto", "someoneElse")
    changed = tmp_path / "cassette.json"
    changed.write_text(json.dumps(cassette))
    python, rust = both(rust_cli, seed_args(cassette=str(changed)), component, connector)
    assert_same(python, rust)
    assert python.code == 3 and "iam-host: replay failed: request #1 does not match" in python.stderr
    assert "expected: GET" in python.stderr and "actual:   GET" in python.stderr
    cassette = json.loads((SEED / "cassette.json").read_text())
    cassette["interactions"].append(cassette["interactions"][0])
    changed.write_text(json.dumps(cassette))
    python, rust = both(rust_cli, seed_args(cassette=str(changed)), component, connector)
    assert_same(python, rust)
    assert python.code == 3 and "were not used" in python.stderr


def test_a_short_token_is_the_gates_type_4_entry_and_never_printed(tmp_path, rust_cli, component, connector):
    config = json.loads((SEED / "config.json").read_text())
    config["access_token"] = "abc1234"
    short = tmp_path / "config.json"
    short.write_text(json.dumps(config))
    empty = tmp_path / "cassette.json"
    empty.write_text('{"interactions": []}')
    python, rust = both(rust_cli, seed_args(config=str(short), cassette=str(empty)), component, connector)
    assert_same(python, rust)
    assert python.code == 1 and "shorter than 8 characters" in python.entry["Contents"]
    assert b"abc1234" not in python.stdout and "abc1234" not in python.stderr


def test_stdout_is_one_json_document_and_the_token_appears_nowhere(component):
    token = json.loads((SEED / "config.json").read_text())["access_token"]
    for name in ["get_seed_example", "get_503_retried_after_retry_after", "test_module_401_names_the_status"]:
        run = run_cli(case_args(name) + ["--component", str(component)])
        assert run.stdout.endswith(b"\n") and run.stdout.count(b"\n") == 1
        json.loads(run.stdout)
        assert token.encode() not in run.stdout and token not in run.stderr


def test_retry_after_waits_in_virtual_time_under_replay(component):
    started = time.monotonic()
    run = run_cli(case_args("get_503_retried_after_retry_after") + ["--component", str(component)])
    assert run.code == 0 and run.entry["Contents"]["success"] is True
    assert time.monotonic() - started < 3.0 + _python_start(), "the replay slept for real (Retry-After: 2, then 1)"


def _on_a_terminal(command: list[str]) -> bytes:
    """stdout of ``command`` run with a terminal as its stdout."""
    main, child = pty.openpty()
    environment = {**os.environ, "PYTHONPATH": str(PACKAGE_DIR)}
    process = subprocess.Popen(command, stdout=child, stderr=subprocess.DEVNULL, env=environment)
    os.close(child)
    output = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        output += chunk
    process.wait(60)
    os.close(main)
    return output


def test_on_a_terminal_the_entry_is_indented_as_iam_host_indents_it(rust_cli, component, connector):
    for name in ["get_seed_example", "group_get_by_id_with_members", "bad_profile_not_json"]:
        python = _on_a_terminal([sys.executable, "-m", "iam_host", *case_args(name), "--component", str(component)])
        rust = _on_a_terminal([str(rust_cli), *case_args(name), "--component", str(connector)])
        assert python == rust and b'\r\n  "Type": ' in python, name


def test_each_command_runs_in_a_fresh_sandbox(host):
    texts = [(SEED / name).read_text() for name in ("config.json", "args.json", "cassette.json")]
    first = host.run("iam-get-user", texts[0], texts[1], cassette=texts[2])
    for _ in range(20):
        again = host.run("iam-get-user", texts[0], texts[1], cassette=texts[2])
        assert (again.is_error, again.entry_json) == (first.is_error, first.entry_json)


def test_cases_are_present():
    assert len([p for p in CASES.iterdir() if p.is_dir()]) > 80
