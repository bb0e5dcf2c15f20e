"""``platform.map-object`` (WIT iam:atlassian@0.4.0): the platform's mapper reaches the
connector only through ``Host(map_object=...)``. The hostile guest's ``map-object`` mode
(tests/hostile) asks it to map ``{"email": "jd@example.com"}`` with the mapper named in its
``mapper`` parameter for "User Profile", and reports ``mapped: <json>`` or ``refused: <why>``."""

from __future__ import annotations

import json

from iam_host import Host

CASSETTE = '{"interactions": []}'


def _reported(host: Host, mapper: str = "Atlassian IAM - Outgoing") -> str:
    config = {"url": "https://tenant-1.example", "access_token": "tenant-1-token", "directory_id": "d",
              "hostile": "map-object", "mapper": mapper}
    report = host.run("test-module", config, cassette=CASSETTE)
    assert not report.is_error, report.entry_json
    return report.entry["Contents"]


def test_without_a_map_object_the_connector_is_told_there_is_no_platform_mapper(hostile_component):
    assert _reported(Host(hostile_component)) == "refused: this host has no platform mapper"


def test_map_object_gets_the_object_as_a_dict_and_its_answer_reaches_the_connector_as_json(hostile_component):
    asked = []

    def map_object(obj, mapper, incident_type):
        asked.append((obj, mapper, incident_type))
        return {"emails": [{"value": obj["email"], "primary": True}], "mapper": mapper}

    reported = _reported(Host(hostile_component, map_object=map_object), mapper="My Mapper")
    assert asked == [({"email": "jd@example.com"}, "My Mapper", "User Profile")]
    assert reported.startswith("mapped: ")
    assert json.loads(reported[len("mapped: "):]) == {"emails": [{"value": "jd@example.com", "primary": True}],
                                                      "mapper": "My Mapper"}


def test_a_failing_platform_mapper_is_an_err_for_the_connector_never_a_trap(hostile_component):
    def failing(obj, mapper, incident_type):
        raise KeyError("no such mapper")

    assert _reported(Host(hostile_component, map_object=failing)) == \
        "refused: the platform mapper failed: 'no such mapper'"
    assert _reported(Host(hostile_component, map_object=lambda *_: ["not", "an", "object"])) == \
        "refused: the platform mapper gave list, not an object"


def test_none_from_the_platform_mapper_is_json_null_for_the_connector(hostile_component):
    # XSOAR's mapObject gives None when a mapper maps nothing; the connector takes null as "no
    # mapping" (src/mapper/instance.rs), so the host passes it on, not as a refusal.
    assert _reported(Host(hostile_component, map_object=lambda *_: None)) == "mapped: null"


def test_a_hostile_platform_answer_is_an_err_for_the_connector_never_a_raise_a_trap_or_a_stop(hostile_component):
    # Not UTF-8: a lone surrogate, which json.loads makes of "\ud800" and json.dumps keeps.
    refused = _reported(Host(hostile_component, map_object=lambda *_: {"userName": "\ud800"}))
    assert refused.startswith("refused: the platform mapper failed: 'utf-8' codec can't encode"), refused
    # Larger than the command's response budget (10 MiB by default): refused before it is copied
    # into the component's memory (64 MiB), where it would stop the command or trap it.
    huge = {"userName": "x" * (12 << 20)}
    size = len(json.dumps(huge))
    assert _reported(Host(hostile_component, map_object=lambda *_: huge)) == \
        f"refused: the platform mapper gave {size} bytes of JSON, more than the {10 << 20} a command takes"
    # Nested deeper than Python's JSON encoder goes.
    deep: dict = {}
    for _ in range(5000):
        deep = {"a": deep}
    assert _reported(Host(hostile_component, map_object=lambda *_: deep)).startswith(
        "refused: the platform mapper failed: maximum recursion depth exceeded")
