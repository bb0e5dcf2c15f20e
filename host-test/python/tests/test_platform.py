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
