"""The XSOAR integration (xsoar/AtlassianIAMComponent.py) run as XSOAR runs it: its main(),
under a small stand-in of XSOAR's demistomock and CommonServerPython, with the HTTP answered
by requests_mock from each case's cassette. It gives the same entries as the CLI: the
component's entry through demisto.results, a Type 4 entry through return_error, and "ok" for
test-module."""

from __future__ import annotations

import json
import os
import runpy

import pytest
import requests_mock

import demistomock
from conftest import CASES, PACKAGE_DIR, case_args, run_cli
from iam_host.cassette import body_bytes, header_pairs

INTEGRATION = PACKAGE_DIR / "xsoar" / "AtlassianIAMComponent.py"
YML = PACKAGE_DIR / "xsoar" / "AtlassianIAMComponent.yml"
SAMPLE = [
    "get_seed_example", "create_seed_example", "update_seed_example", "disable_with_patch", "disable_with_delete",
    "get_not_found_404_by_id", "test_module_ok", "test_module_401_names_the_status", "get_mapping_fields_ok",
    "get_mapping_fields_404", "bad_profile_not_json", "bad_config_missing_token", "group_get_by_id_with_members",
    "group_create_201", "group_update_250_ids_in_three_requests", "group_delete_404_is_not_found",
    "group_bad_member_id_in_both_lists",
]


@pytest.fixture(autouse=True)
def packaged_component(component, monkeypatch):
    """The integration uses iam_host's default host: here over the component under test."""
    import iam_host.runner

    monkeypatch.setenv("IAM_HOST_COMPONENT", str(component))
    if iam_host.runner._DEFAULT_HOST is None or iam_host.runner._DEFAULT_HOST.component_sha256 != _sha256(component):
        iam_host.runner._DEFAULT_HOST = None


def _sha256(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_integration(command: str, params: dict, args: dict, instance: str = "Atlassian IAM_instance_1") -> list:
    """main() as XSOAR runs the script; what it posted with demisto.results."""
    demistomock.setup(command, params, args, instance)
    try:
        runpy.run_path(str(INTEGRATION), run_name="__main__")
    except SystemExit as exit:  # return_error ends the script, as XSOAR's does
        assert exit.code in (0, None)
    return list(demistomock.results_log)


def answer_from_cassette(mocker: requests_mock.Mocker, cassette: dict) -> int:
    """Register every recorded interaction's response, in order per method and URL."""
    responses: dict[tuple[str, str], list[dict]] = {}
    for interaction in cassette["interactions"]:
        request, response = interaction["request"], interaction["response"]
        responses.setdefault((request["method"], request["url"]), []).append({
            "status_code": response["status"],
            "headers": dict(header_pairs(response.get("headers"))),
            "content": body_bytes(response.get("body")),
        })
    for (method, url), answers in responses.items():
        mocker.register_uri(method, url, answers, complete_qs=True)
    return len(cassette["interactions"])


def case_inputs(name: str) -> tuple[str, dict, dict, dict]:
    folder = CASES / name
    args = json.loads((folder / "args.json").read_text()) if (folder / "args.json").exists() else {}
    return ((folder / "command.txt").read_text().strip(), json.loads((folder / "config.json").read_text()), args,
            json.loads((folder / "cassette.json").read_text()))


@pytest.mark.parametrize("name", SAMPLE)
def test_main_gives_the_entries_of_the_cli(name, component):
    command, params, args, cassette = case_inputs(name)
    with requests_mock.Mocker(case_sensitive=True) as mocker:
        expected_requests = answer_from_cassette(mocker, cassette)
        results = run_integration(command, params, args)
    assert mocker.call_count == expected_requests, [r.url for r in mocker.request_history]
    cli = run_cli(case_args(name) + ["--component", str(component)])
    entry = json.loads(cli.stdout)
    if command == "test-module" and entry["Type"] == 1:
        assert results == ["ok"]
    else:
        assert results == [entry]
        assert json.dumps(results[0], ensure_ascii=False, separators=(",", ":")).encode() + b"\n" == cli.stdout
    for request in mocker.request_history:  # the host attached the token, and only it
        assert request.headers["Authorization"] == "Bearer " + params["access_token"]


def test_the_instance_name_comes_from_xsoar(component):
    command, params, args, cassette = case_inputs("get_seed_example")
    params.pop("instance_name", None)  # XSOAR's parameters never name the instance
    with requests_mock.Mocker(case_sensitive=True) as mocker:
        answer_from_cassette(mocker, cassette)
        (entry,) = run_integration(command, params, args, instance="Atlassian IAM_prod")
    assert entry["Contents"]["instanceName"] == "Atlassian IAM_prod"


def test_the_token_from_the_credentials_parameter_is_used_and_never_shown(component):
    command, params, args, cassette = case_inputs("get_seed_example")
    params = {k: v for k, v in params.items() if k != "access_token"}
    params["access_token_creds"] = {"identifier": "", "password": "creds-token-0123"}
    with requests_mock.Mocker(case_sensitive=True) as mocker:
        answer_from_cassette(mocker, cassette)
        results = run_integration(command, params, args)
    assert mocker.request_history[0].headers["Authorization"] == "Bearer creds-token-0123"
    assert "creds-token-0123" not in json.dumps(results) + json.dumps(demistomock.debug_log)


def test_an_unknown_command_is_an_error_entry(component):
    results = run_integration("fetch-incidents", {"url": "https://api.atlassian.com"}, {})
    assert len(results) == 1 and results[0]["Type"] == 4
    assert "unknown command" in results[0]["Contents"] and "iam-get-user" in results[0]["Contents"]


def test_the_yml_declares_every_command_of_the_component_and_the_original_parameters(host):
    text = YML.read_text()
    for command in host.commands:
        if command != "test-module":
            assert f"    name: {command}\n" in text, command
    original = (PACKAGE_DIR.parents[1] / ".." / "shared" / "data" / "atlassian-iam-integration.yml")
    names = ["url", "access_token", "access_token_creds", "directory_id", "insecure", "proxy", "create_user_enabled",
             "update_user_enabled", "enable_user_enabled", "disable_user_enabled", "create_if_not_exists", "mapper_in",
             "mapper_out"]
    if original.exists():
        names = [line.split("name:")[1].strip() for line in original.read_text().split("\ndescription:")[0].splitlines()
                 if line.strip().startswith("name:") or line.startswith("- name:")]
    for name in names:
        assert f"name: {name}\n" in text, name
    for key in ["GetGroup", "CreateGroup", "UpdateGroup", "DeleteGroup"]:
        for field in ["id", "displayName", "success", "errorCode", "errorMessage"]:
            assert f"contextPath: {key}.{field}\n" in text, f"{key}.{field}"
    for argument in ["scim", "includeMembers", "memberIdsToAdd", "memberIdsToDelete"]:
        assert f"name: {argument}\n" in text
    assert "iam_host" in text and "dockerimage:" in text
