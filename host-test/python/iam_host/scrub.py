"""Keeping a tenant's secrets out of what a server answers (behaviour.md §1), as the Rust host
does it (host-test/src/redact.rs). Before a response reaches the guest, every secret the host
holds for the tenant is replaced with ``<redacted>`` in its headers (names and values) and
body, in any of the forms a server may echo it in: as it is, percent-encoded (either hex case,
any mix of encoded and plain characters), JSON-escaped (``\\/``, ``\\uXXXX``, surrogate pairs,
the short escapes) and base64 (standard or URL-safe, with or without padding, also where the
secret is only part of the encoded text, as in ``Basic …``).

It scrubs bytes, so it knows nothing of JSON or HTTP structure: only the matching bytes are
replaced, and ``<redacted>`` needs no escaping in JSON. What an earlier scrub wrote stays as
it is, so scrubbing twice changes nothing. Where several forms match at one place, the one
that reaches furthest wins.
"""

from __future__ import annotations

import base64
import functools
import re
from typing import Iterable, NamedTuple

REDACTED = "<redacted>"
_REDACTED_BYTES = REDACTED.encode()
#: The shortest secret the host accepts: a shorter one matches too much ordinary text to be
#: scrubbed without mangling answers, and its base64 fragments would be shorter still.
MIN_SECRET_CHARS = 8
_JSON_SHORT_ESCAPES = {'"': b'\\"', "\\": b"\\\\", "/": b"\\/", "\b": b"\\b", "\f": b"\\f",
                       "\n": b"\\n", "\r": b"\\r", "\t": b"\\t"}


class _Form(NamedTuple):
    """A text to look for (the secret, or a base64 rendering of it) and, for a complete
    base64 rendering, the characters that may follow it (its last partial character and the
    padding), consumed when present."""

    text: str
    tail: str = ""


def _forms_of(secret: str) -> list[_Form]:
    forms = [_Form(secret)]
    raw = secret.encode("utf-8")
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        # The secret at each of the three alignments inside a longer encoded text: only the
        # characters that depend on nothing but the secret's own bits are certain.
        for offset in range(3):
            encoded = encode(bytes(offset) + raw).decode("ascii")
            start = -(-8 * offset // 6)
            end = (8 * (offset + len(raw))) // 6
            if end <= start:
                continue
            if offset == 0:
                forms.append(_Form(encoded[:end], encoded[end:]))
            else:
                forms.append(_Form(encoded[start:end]))
    return forms


def _any_case_hex(value: int, width: int) -> bytes:
    """A regex matching ``value`` in hex with ``width`` digits, in any letter case."""
    out = b""
    for digit in f"{value:0{width}x}":
        out += f"[{digit}{digit.upper()}]".encode() if digit.isalpha() else digit.encode()
    return out


def _char_pattern(char: str) -> bytes:
    """Every way one character can be written: as a JSON escape, or byte by byte, each byte
    plain or percent-encoded (either hex case)."""
    per_byte = b"".join(
        b"(?:" + re.escape(bytes((byte,))) + b"|%" + _any_case_hex(byte, 2) + b")" for byte in char.encode("utf-8")
    )
    code = ord(char)
    if code > 0xFFFF:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        escape = b"\\\\u" + _any_case_hex(high, 4) + b"\\\\u" + _any_case_hex(low, 4)
    else:
        escape = b"\\\\u" + _any_case_hex(code, 4)
    ways = [escape, per_byte]
    short = _JSON_SHORT_ESCAPES.get(char)
    if short is not None:
        ways.insert(0, re.escape(short))
    return b"(?:" + b"|".join(ways) + b")"


def _form_pattern(form: _Form) -> bytes:
    pattern = b"".join(_char_pattern(char) for char in form.text)
    tail = b""
    for char in reversed(form.tail):
        tail = b"(?:" + _char_pattern(char) + tail + b")?"
    return pattern + tail


class Scrubber:
    """The secrets of one tenant, ready to scrub bytes and text."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms: list[_Form] = []
        for secret in (s for s in secrets if s):
            for form in _forms_of(secret):
                if all(known.text != form.text for known in forms):
                    forms.append(form)
        forms.sort(key=lambda form: len(form.text), reverse=True)
        self._forms = forms
        self._plain = [form.text.encode("utf-8") for form in forms]
        self._each = [re.compile(_form_pattern(form)) for form in forms]
        alternatives = [re.escape(_REDACTED_BYTES)] + [_form_pattern(form) for form in forms]
        self._any = re.compile(b"|".join(alternatives)) if forms else None
        # The bytes a form can start with (its first character plain, or any escape), found
        # by a fast scan before the full pattern is tried there.
        starts = {b"%"[0], b"\\"[0], _REDACTED_BYTES[0]} | {form.text.encode("utf-8")[0] for form in forms}
        self._start = re.compile(b"[" + b"".join(re.escape(bytes((byte,))) for byte in sorted(starts)) + b"]")

    def __bool__(self) -> bool:
        return bool(self._forms)

    def scrub_bytes(self, data: bytes) -> bytes:
        """``data`` with every secret replaced (the same object when there was none)."""
        if self._any is None or not data:
            return data
        if b"%" not in data and b"\\" not in data and not any(plain in data for plain in self._plain):
            return data  # no form can occur: each needs its plain text or an escape
        out: list[bytes] = []
        copied = position = 0
        find_start, match_any = self._start.search, self._any.match
        while True:
            start = find_start(data, position)
            if start is None:
                break
            at = start.start()
            match = match_any(data, at)
            if match is None:
                position = at + 1
                continue
            if match.group() == _REDACTED_BYTES:
                position = match.end()
                continue
            end = max(m.end() for m in (p.match(data, at) for p in self._each) if m is not None)
            out.append(data[copied:at])
            out.append(_REDACTED_BYTES)
            copied = position = end
        if not out:
            return data
        out.append(data[copied:])
        return b"".join(out)

    def scrub_text(self, text: str) -> str:
        if self._any is None or not text:
            return text
        data = text.encode("utf-8", "surrogatepass")
        scrubbed = self.scrub_bytes(data)
        return text if scrubbed is data else scrubbed.decode("utf-8", "replace")


@functools.lru_cache(maxsize=256)
def scrubber_for(*secrets: str) -> Scrubber:
    """The scrubber of a tenant's secrets, built once per process (building one compiles
    regular expressions; a tenant runs many commands)."""
    return Scrubber(secrets)
