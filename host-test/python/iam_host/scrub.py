"""Scrubbing a tenant's secrets out of everything that reaches the guest (behaviour.md §1).

Before a response reaches the guest, every secret the host holds for the tenant is replaced
with ``<redacted>`` in the header values and the body: the secret as it is, percent-encoded
(either hex case, any mix of encoded and plain characters), JSON-escaped (``\\/``, ``\\uXXXX``,
any case, and the short escapes), and base64 (standard with and without padding, URL-safe
with and without padding). Only the matching bytes are replaced: the structure around them (a
JSON document, a header) is left as it is, and ``<redacted>`` needs no escaping in JSON.
"""

from __future__ import annotations

import base64
import functools
import re
from typing import Iterable

REDACTED = "<redacted>"
_REDACTED_BYTES = REDACTED.encode()
_JSON_SHORT_ESCAPES = {"/": b"\\/", '"': b'\\"', "\\": b"\\\\", "\b": b"\\b", "\f": b"\\f",
                       "\n": b"\\n", "\r": b"\\r", "\t": b"\\t"}


def _any_case_hex(value: int, width: int) -> bytes:
    """A regex matching ``value`` in hex with ``width`` digits, in any letter case."""
    out = b""
    for digit in f"{value:0{width}x}":
        out += f"[{digit}{digit.upper()}]".encode() if digit.isalpha() else digit.encode()
    return out


def _char_pattern(char: str) -> bytes:
    """Every way one character of a secret can be written in a response: as itself, as
    percent-encoded UTF-8, as a JSON escape."""
    raw = char.encode("utf-8")
    ways = [re.escape(raw)]
    ways.append(b"".join(b"%" + _any_case_hex(byte, 2) for byte in raw))
    code = ord(char)
    if code > 0xFFFF:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        ways.append(b"\\\\u" + _any_case_hex(high, 4) + b"\\\\u" + _any_case_hex(low, 4))
    else:
        ways.append(b"\\\\u" + _any_case_hex(code, 4))
    short = _JSON_SHORT_ESCAPES.get(char)
    if short is not None:
        ways.append(re.escape(short))
    return b"(?:" + b"|".join(ways) + b")"


def _base64_forms(secret: str) -> list[bytes]:
    raw = secret.encode("utf-8")
    standard = base64.b64encode(raw)
    urlsafe = base64.urlsafe_b64encode(raw)
    forms = [standard, urlsafe, standard.rstrip(b"="), urlsafe.rstrip(b"=")]
    # Padded first, so that a padded occurrence is replaced whole.
    unique: list[bytes] = []
    for form in forms:
        if form and form not in unique:
            unique.append(form)
    return unique


class Scrubber:
    """Replaces every form of a set of secrets with ``<redacted>``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = [s for s in dict.fromkeys(secrets) if s]
        # Longest secrets first, so that a secret containing another is replaced whole.
        self._secrets.sort(key=len, reverse=True)
        literal: list[bytes] = []
        patterns: list[bytes] = []
        for secret in self._secrets:
            literal.append(secret.encode("utf-8"))
            literal.extend(_base64_forms(secret))
            patterns.append(b"".join(_char_pattern(char) for char in secret))
        self._literal = sorted(set(literal), key=len, reverse=True)
        # The literal forms (raw, base64) come first in the alternation: at a position where
        # one matches, it is the longest way to read the secret there.
        alternatives = [re.escape(form) for form in self._literal] + patterns
        self._pattern = re.compile(b"|".join(alternatives)) if alternatives else None

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def scrub_bytes(self, data: bytes) -> bytes:
        if self._pattern is None or not data:
            return data
        if b"%" not in data and b"\\" not in data:
            # Only the literal forms can occur: plain replacement is much faster.
            for form in self._literal:
                if form in data:
                    data = data.replace(form, _REDACTED_BYTES)
            return data
        return self._pattern.sub(_REDACTED_BYTES, data)

    def scrub_text(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        data = text.encode("utf-8", "surrogatepass")
        scrubbed = self.scrub_bytes(data)
        return text if scrubbed is data else scrubbed.decode("utf-8", "surrogatepass")

    def contains_secret(self, data: bytes) -> bool:
        return self._pattern is not None and self._pattern.search(data) is not None


@functools.lru_cache(maxsize=256)
def scrubber_for(*secrets: str) -> Scrubber:
    """The scrubber of a tenant's secrets, built once per process (building one compiles a
    regular expression; a tenant runs many commands)."""
    return Scrubber(secrets)
