"""The CLI contract of `python -m iam_host run` (architecture.md): one JSON document on
stdout, exit 0/1/2/3, usage errors found before any file is read, one clear line for every
unusable input and never a traceback, commands from the component's describe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CASES, case_args, run_cli

SEED = CASES / "get_seed_example"


def seed_args(wasm: Path, **replace: str) -> list[str]:
    args = ["run", "iam-get-user", "--config", str(SEED / "config.json"), "--args", str(SEED / "args.json"),
            "--cassette", str(SEED / "cassette.json"), "--component", str(wasm)]
    for flag, value in replace.items():
        args[args.index(f"--{flag}") + 1] = value
    return args


def assert_usage(run, *fragments: str) -> None:
    assert run.code == 2, f"exit {run.code}\n{run.stderr}"
    assert run.stdout == b"", run.stdout
    assert "Traceback" not in run.stderr, run.stderr
    for fragment in fragments:
        assert fragment in run.stderr, run.stderr


@pytest.mark.parametrize(
    "args, fragment",
    [([], "missing subcommand"),
     (["frobnicate"], 'unknown subcommand "frobnicate"'),
     (["run"], "missing <COMMAND>"),
     (["run", "iam-get-user"], "--config <config.json> is required"),
     (["run", "iam-get-user", "--config", "c.json"], "give --cassette <file> or --live"),
     (["run", "iam-get-user", "--config", "c.json", "--record", "r.json"], "--record needs --live"),
     (["run", "iam-get-user", "--config", "c.json", "--cassette", "x", "--live"], "--cassette and --live exclude each other"),
     (["run", "iam-get-user", "--config", "c.json", "--live", "--overwrite"], "--overwrite needs --record"),
     (["run", "iam-get-user", "--config"], "--config needs a value"),
     (["run", "iam-get-user", "--config", "c.json", "--bogus"], 'unexpected argument "--bogus"')],
)
def test_usage_errors_exit_2_with_the_usage(args, fragment):
    assert_usage(run_cli(args), fragment, "usage: python -m iam_host run")


def test_an_unknown_command_names_the_known_ones_from_describe(component):
    run = run_cli(seed_args(component)[:1] + ["iam-delete-user"] + seed_args(component)[2:])
    assert_usage(run, 'unknown command "iam-delete-user"; expected one of iam-get-user')
    for command in ["iam-create-user", "iam-get-group", "iam-update-group", "iam-delete-group", "test-module", "get-mapping-fields"]:
        assert command in run.stderr


def test_describe_prints_the_components_description(component):
    run = run_cli(["describe", "--component", str(component)])
    assert run.code == 0
    about = json.loads(run.stdout)
    assert about["name"] == "Atlassian IAM" and "iam-get-group" in about["commands"]
    assert about["credentials"] == ["access_token"]


def test_a_recording_over_an_existing_path_is_refused_before_anything_is_read(tmp_path, component):
    existing = tmp_path / "cassette.json"
    existing.write_text("keep me")
    run = run_cli(["run", "iam-get-user", "--config", str(tmp_path / "missing.json"), "--live", "--record", str(existing),
                   "--component", str(component)])
    assert_usage(run, "refusing to record to", "--overwrite")
    assert existing.read_text() == "keep me"
    for target in [tmp_path, tmp_path / "no-such-dir" / "c.json"]:
        run = run_cli(["run", "iam-get-user", "--config", str(SEED / "config.json"), "--live", "--record", str(target),
                       "--overwrite", "--component", str(component)])
        assert_usage(run, "cannot write the recording")


@pytest.mark.parametrize(
    "content, fragment",
    [(None, "cannot read config file"),
     (b"{not json", "is not valid JSON"),
     (b"[1, 2]", "must hold a JSON object"),
     (b"\xef\xbb\xbf{}", "is not valid JSON"),
     (b"\xff\xfe", "stream did not contain valid UTF-8"),
     (b'{"a": NaN}', "is not valid JSON")],
)
def test_an_unusable_config_file_is_one_line_and_exit_2(tmp_path, component, content, fragment):
    config = tmp_path / "config.json"
    if content is not None:
        config.write_bytes(content)
    assert_usage(run_cli(seed_args(component, config=str(config))), fragment)


def test_args_may_be_inline_json_and_must_be_an_object(tmp_path, component):
    inline = json.dumps(json.loads((SEED / "args.json").read_text()))
    run = run_cli(seed_args(component, args="  " + inline))
    assert run.code == 0, run.stderr
    assert run.stdout == run_cli(seed_args(component)).stdout
    assert_usage(run_cli(seed_args(component, args="{broken")), "the inline --args is not valid JSON")
    not_object = tmp_path / "args.json"
    not_object.write_text('"user-profile"')
    assert_usage(run_cli(seed_args(component, args=str(not_object))), "must hold a JSON object")


def test_unusable_cassettes_limits_and_components_are_exit_2(tmp_path, component):
    cassette = tmp_path / "cassette.json"
    cassette.write_text('{"interactions": [], "extra": 1}')
    assert_usage(run_cli(seed_args(component, cassette=str(cassette))), "is not valid", 'unknown field "extra"')
    limits = tmp_path / "limits.json"
    limits.write_text('{"max_request": 3}')
    assert_usage(run_cli(seed_args(component) + ["--limits", str(limits)]), "unknown field `max_request`")
    not_wasm = tmp_path / "not.wasm"
    not_wasm.write_bytes(b"\0asm junk")
    assert_usage(run_cli(seed_args(component, component=str(not_wasm))), "is not a valid component")
    assert_usage(run_cli(seed_args(component, component=str(tmp_path / "none.wasm"))), "cannot read component")


def test_a_request_that_matches_no_interaction_is_exit_3_with_expected_and_actual(tmp_path, component):
    cassette = json.loads((SEED / "cassette.json").read_text())
    cassette["interactions"][0]["request"]["url"] = cassette["interactions"][0]["request"]["url"].replace("testDemisto", "someoneElse")
    changed = tmp_path / "cassette.json"
    changed.write_text(json.dumps(cassette))
    run = run_cli(seed_args(component, cassette=str(changed)))
    assert run.code == 3 and run.stdout == b""
    assert "replay failed: request #1 does not match the recorded interaction: the query parameters differ" in run.stderr
    assert "expected: GET" in run.stderr and "actual:   GET" in run.stderr


def test_interactions_left_unused_are_exit_3(tmp_path, component):
    cassette = json.loads((SEED / "cassette.json").read_text())
    cassette["interactions"].append(cassette["interactions"][0])
    longer = tmp_path / "cassette.json"
    longer.write_text(json.dumps(cassette))
    run = run_cli(seed_args(component, cassette=str(longer)))
    assert run.code == 3 and run.stdout == b""
    assert "1 recorded interaction(s) were not used" in run.stderr


def test_a_short_token_is_a_configuration_error_and_never_printed(tmp_path, component):
    config = json.loads((SEED / "config.json").read_text())
    config["access_token"] = "abc1234"
    short = tmp_path / "config.json"
    short.write_text(json.dumps(config))
    empty = tmp_path / "cassette.json"
    empty.write_text('{"interactions": []}')
    run = run_cli(seed_args(component, config=str(short), cassette=str(empty)))
    assert run.code == 1, run.stderr
    assert "shorter than 8 characters" in run.entry["Contents"]
    assert b"abc1234" not in run.stdout and "abc1234" not in run.stderr


def test_stdout_is_exactly_one_json_document_and_the_token_appears_nowhere(component):
    token = json.loads((SEED / "config.json").read_text())["access_token"]
    for name in ["get_seed_example", "get_503_retried_after_retry_after", "test_module_401_names_the_status"]:
        run = run_cli(case_args(name) + ["--component", str(component)])
        assert run.stdout.endswith(b"\n") and run.stdout.count(b"\n") == 1
        json.loads(run.stdout)
        assert token.encode() not in run.stdout and token not in run.stderr


def test_retry_after_waits_in_virtual_time_under_replay(host):
    import time

    from iam_host.cassette import Cassette, Replay

    folder = CASES / "get_503_retried_after_retry_after"
    replay = Replay(Cassette.load(str(folder / "cassette.json")))
    started = time.monotonic()
    report = host.run("iam-get-user", json.loads((folder / "config.json").read_text()),
                      json.loads((folder / "args.json").read_text()), replay)
    assert report.entry["Contents"]["success"] is True
    assert replay.slept_millis == 3_000  # Retry-After: 2, then 1
    assert time.monotonic() - started < 2.0, "the replay slept for real"


def test_help_succeeds():
    run = run_cli(["--help"])
    assert run.code == 0 and b"usage: python -m iam_host run" in run.stdout
