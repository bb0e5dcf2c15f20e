"""The XSOAR integration (xsoar/AtlassianIAMComponent.py) run as XSOAR runs it: its main(),
under a small stand-in of XSOAR's demistomock and CommonServerPython. Here its commands are
replayed (each case's cassette handed to the gate in place of the live wire); test_live.py
runs it live against a real SCIM server. It posts what iam-host prints for the same case: the
entry through demisto.results, a Type 4 entry through return_error, and "ok" for test-module."""

from __future__ import annotations

import json
import runpy

import pytest

import demistomock
from conftest import CASES, PACKAGE_DIR, case_args, run_rust

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
def integration_host(component, monkeypatch):
    """The integration uses iam_host's default host: here over the component under test."""
    import iam_host.host

    monkeypatch.setenv("IAM_HOST_COMPONENT", str(component))
    monkeypatch.setattr(iam_host.host, "_DEFAULT_HOST", None)


def replaying(monkeypatch, cassette_text: str) -> list:
    """Every command the integration runs replays ``cassette_text``; what it ran is kept."""
    import iam_host.host

    ran, original = [], iam_host.host.Host.run

    def run(self, command, config, args="{}", cassette=None, **options):
        ran.append((command, config, args, cassette, options))
        return original(self, command, config, args, cassette=cassette_text, **options)

    monkeypatch.setattr(iam_host.host.Host, "run", run)
    return ran


def run_integration(command: str, params: dict, args: dict, instance: str = "Atlassian IAM_instance_1") -> list:
    """main() as XSOAR runs the script; what it posted with demisto.results."""
    demistomock.setup(command, params, args, instance)
    try:
        runpy.run_path(str(INTEGRATION), run_name="__main__")
    except SystemExit as exit:  # return_error ends the script, as XSOAR's does
        assert exit.code in (0, None)
    return list(demistomock.results_log)


def case_inputs(name: str) -> tuple[str, dict, dict, str]:
    folder = CASES / name
    args = json.loads((folder / "args.json").read_text()) if (folder / "args.json").exists() else {}
    return ((folder / "command.txt").read_text().strip(), json.loads((folder / "config.json").read_text()), args,
            (folder / "cassette.json").read_text())


@pytest.mark.parametrize("name", SAMPLE)
def test_main_posts_what_iam_host_prints(name, monkeypatch, rust_cli, connector):
    command, params, args, cassette = case_inputs(name)
    ran = replaying(monkeypatch, cassette)
    results = run_integration(command, params, args)
    assert [(c, given, o) for c, _, _, given, o in ran] == [(command, None, {})], "not one live command"
    rust = run_rust(rust_cli, case_args(name) + ["--component", str(connector)])
    entry = json.loads(rust.stdout)
    assert results == (["ok"] if command == "test-module" and entry["Type"] == 1 else [entry])


def test_the_instance_name_comes_from_xsoar(monkeypatch):
    command, params, args, cassette = case_inputs("get_seed_example")
    params.pop("instance_name", None)  # XSOAR's parameters never name the instance
    replaying(monkeypatch, cassette)
    (entry,) = run_integration(command, params, args, instance="Atlassian IAM_prod")
    assert entry["Contents"]["instanceName"] == "Atlassian IAM_prod"


def test_the_token_from_the_credentials_parameter_is_never_shown(monkeypatch):
    command, params, args, cassette = case_inputs("get_seed_example")
    params = {k: v for k, v in params.items() if k != "access_token"}
    params["access_token_creds"] = {"identifier": "", "password": "creds-token-0123"}
    replaying(monkeypatch, cassette)
    results = run_integration(command, params, args)
    assert results[0]["Contents"]["success"] is True
    assert "creds-token-0123" not in json.dumps(results) + json.dumps(demistomock.debug_log)


def test_an_unknown_command_is_an_error_entry():
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
