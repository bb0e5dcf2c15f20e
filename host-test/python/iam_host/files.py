"""Reading the files a user gives (config, args, limits, cassette, component) with size caps
and one clear message each: a ``FileError`` is always exit 2, never a traceback."""

from __future__ import annotations

import os
from typing import Any

from . import jsonio

#: Size caps of architecture.md: config, args and limits.
MAX_JSON_BYTES = 16 << 20
#: A component.
MAX_COMPONENT_BYTES = 64 << 20


class FileError(Exception):
    """A file the user gave that cannot be used."""


def read_bytes(path: str, what: str, cap: int) -> bytes:
    try:
        with open(path, "rb") as file:
            data = file.read(cap + 1)
    except IsADirectoryError:
        raise FileError(f"cannot read {what} {path}: it is a directory") from None
    except OSError as error:
        raise FileError(f"cannot read {what} {path}: {error.strerror or error}") from None
    if len(data) > cap:
        raise FileError(f"{what} {path} is larger than the {cap} bytes a {what} may have")
    return data


def read_text(path: str, what: str, cap: int) -> str:
    """A UTF-8 text file, strictly (a byte-order mark stays, so the JSON reader refuses it as
    serde_json does)."""
    data = read_bytes(path, what, cap)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FileError(f"cannot read {what} {path}: stream did not contain valid UTF-8") from None


def read_json_object(path: str, what: str) -> dict[str, Any]:
    """A file holding one JSON object."""
    text = read_text(path, what, MAX_JSON_BYTES)
    return parse_json_object(text, f"{what} {path}")


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = jsonio.loads(text)
    except jsonio.JsonError as error:
        raise FileError(f"{what} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise FileError(f"{what} must hold a JSON object")
    return value


def exists(path: str) -> bool:
    """Whether anything (a file, a directory, a device, a dangling link) is at ``path``."""
    return os.path.lexists(path)
