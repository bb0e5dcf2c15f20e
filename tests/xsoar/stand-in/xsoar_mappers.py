"""XSOAR's mapping, as the stand-in's ``demisto.mapObject`` does it: XSOAR mapper JSON
(``{"id", "name", "type", "mapping": {<incident type>: {"internalMapping": {<field>: <rule>}}}}``)
applied to a dict, written from XSOAR's mapper format (behaviour.md §7 describes the same
format), independently of the component's engine.

* The mapper is found by ``name`` or ``id``; none is an error ("mapper not found").
* The incident type's mapping, else the mapper's default for all types
  (``dbot_classification_incident_type_all``), else ``User Profile``'s, else its only one.
* ``{"simple": path}`` reads a path; ``{"complex": {root, accessor, transformers}}`` reads
  ``root`` (a path, or a template with ``${field}``), then ``accessor`` below it, then applies
  the transformers. A transformer sees an empty value only when it is ``SetIfEmpty``.
* Paths: ``.`` separates keys, ``\\.`` is a dot inside a key, ``[N]`` indexes a list.
* A field whose value ends up null, missing or empty is left out.
* Transformers: ``toLowerCase``, ``toUpperCase``, ``concat`` (``prefix``/``suffix`` with
  templates), ``ParseJSON`` (the text as it is: XSOAR does not escape what a template inserted),
  ``SetIfEmpty`` (``defaultValue``). Any other is an error naming it.
"""

import json
import re

ALL_TYPES = "dbot_classification_incident_type_all"


class MappingError(Exception):
    pass


def split_path(path: str) -> list:
    parts, current, i = [], "", 0
    while i < len(path):
        if path.startswith("\\.", i):
            current, i = current + ".", i + 2
        elif path[i] == ".":
            parts.append(current)
            current, i = "", i + 1
        else:
            current, i = current + path[i], i + 1
    parts.append(current)
    return parts


def read(source, path: str):
    value = source
    for part in split_path(path):
        index = re.fullmatch(r"\[(\d+)\]", part)
        if index:
            n = int(index.group(1))
            value = value[n] if isinstance(value, list) and n < len(value) else None
        else:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


def text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def expand(template: str, source: dict) -> str:
    return re.sub(r"\$\{([^}]*)\}", lambda m: text(read(source, m.group(1))), template)


def is_empty(value) -> bool:
    return value is None or value == "" or value == [] or value == {}


def argument(args: dict, name: str, source: dict) -> str:
    given = (args or {}).get(name) or {}
    value = (given.get("value") or {}).get("simple")
    if value is None:
        return ""
    return text(read(source, value)) if given.get("isContext") else expand(value, source)


def transform(value, transformer: dict, source: dict):
    operator, args = transformer.get("operator"), transformer.get("args") or {}
    if operator == "toLowerCase":
        return text(value).lower()
    if operator == "toUpperCase":
        return text(value).upper()
    if operator == "concat":
        return argument(args, "prefix", source) + text(value) + argument(args, "suffix", source)
    if operator == "ParseJSON":
        return json.loads(value) if isinstance(value, str) else value
    if operator == "SetIfEmpty":
        return argument(args, "defaultValue", source) if is_empty(value) else value
    raise MappingError(f"unsupported transformer {operator!r}")


def evaluate(rule: dict, source: dict):
    complex_rule = rule.get("complex")
    if not complex_rule:
        return read(source, rule["simple"]) if rule.get("simple") else None
    root = complex_rule.get("root") or ""
    value = expand(root, source) if "${" in root else read(source, root)
    if complex_rule.get("accessor"):
        value = read(value, complex_rule["accessor"])
    for transformer in complex_rule.get("transformers") or []:
        if is_empty(value) and transformer.get("operator") != "SetIfEmpty":
            continue
        value = transform(value, transformer, source)
    return value


class Mappers:
    """The mappers an XSOAR tenant has, by name and id."""

    def __init__(self, definitions: list):
        self.definitions = list(definitions)

    def find(self, name: str) -> dict:
        for definition in self.definitions:
            if name in (definition.get("name"), definition.get("id")):
                return definition
        raise MappingError("mapper not found")

    def map(self, obj: dict, name: str, incident_type: str) -> dict:
        mapping = self.find(name).get("mapping") or {}
        for key in (incident_type, ALL_TYPES, "User Profile"):
            if key in mapping:
                fields = mapping[key]
                break
        else:
            if len(mapping) != 1:
                raise MappingError(f"no mapping for incident type {incident_type!r}")
            (fields,) = mapping.values()
        mapped = {}
        for field, rule in (fields.get("internalMapping") or {}).items():
            value = evaluate(rule, obj)
            if not is_empty(value):
                mapped[field] = value
        return mapped
