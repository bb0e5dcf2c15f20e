"""Rust's string conventions that the Rust host's messages follow, so that this host's
denials (which reach the guest, and so possibly an entry) are worded the same."""

from __future__ import annotations

import unicodedata

_SIMPLE_ESCAPES = {"\0": "\\0", "\t": "\\t", "\r": "\\r", "\n": "\\n", "\\": "\\\\", '"': '\\"'}
#: Categories Rust's ``is_printable`` escapes in ``{:?}`` (space itself is printed).
_NOT_PRINTED = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"}


def debug(text: str) -> str:
    """Rust's ``{:?}`` of a string: quoted, with ``\\0 \\t \\r \\n \\\\ \\"`` and every character
    Rust does not print (controls, format characters, separators other than ' ', unassigned
    and private-use code points, combining marks) written as ``\\u{hex}``."""
    out = ['"']
    for char in text:
        simple = _SIMPLE_ESCAPES.get(char)
        if simple is not None:
            out.append(simple)
        elif char != " " and (
            unicodedata.category(char) in _NOT_PRINTED or unicodedata.combining(char)
        ):
            out.append(f"\\u{{{ord(char):x}}}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)
