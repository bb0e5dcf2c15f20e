"""JSON as the Rust host's serde_json (``preserve_order``) reads, compares and writes it.

Python's ``json`` module is close but not the same, and the differences reach bytes that a
second host must reproduce exactly (replayed response bodies reach the markdown):

* serde_json keeps an integer that fits ``u64`` (or ``i64`` when negative) as an integer and
  reads everything else (``-0``, larger integers, fractions, exponents) as an ``f64``, with its
  own decimal-to-binary rule (no ``float_roundtrip`` feature);
* it prints floats plainly while the decimal exponent is within -5..=15 and as ``1e+16`` /
  ``1e-7`` outside, where Python prints ``1e+16`` / ``1e-07`` and switches at other exponents;
* ``1`` and ``1.0`` (and ``true`` and ``1``) are different values when compared;
* it refuses ``NaN``/``Infinity``, lone surrogates and nesting deeper than 128.

Objects are plain ``dict`` subclasses (written order; a repeated key keeps its first place and
its last value, as an IndexMap insert does) so that the rest of the host can use them as is.
"""

from __future__ import annotations

import json
import math
import re
from json.encoder import encode_basestring  # the C-accelerated escaper (ensure_ascii off)
from typing import Any

#: serde_json's nesting limit (``remaining_depth`` starts at 128).
RECURSION_LIMIT = 128
U64_MAX = (1 << 64) - 1
I64_MIN = -(1 << 63)
I32_MAX = (1 << 31) - 1
#: ``\uD800``..``\uDFFF`` written as an escape: the only way a lone surrogate gets in.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_FLOAT_SYNTAX = re.compile(r"^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$")


class JsonError(ValueError):
    """Text that serde_json would not read."""


class JsonObject(dict):
    """A JSON object in written order; ``repeated_keys`` lists keys written twice, so that
    struct-shaped files (cassettes) can refuse a duplicate field as serde's derive does."""

    __slots__ = ("repeated_keys",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.repeated_keys: list[str] = []


def _object_from_pairs(pairs: list[tuple[str, Any]]) -> JsonObject:
    obj = JsonObject()
    for key, value in pairs:
        if key in obj:
            obj.repeated_keys.append(key)
        obj[key] = value
    return obj


def _refuse_constant(name: str) -> Any:
    raise JsonError(f"{name} is not JSON")


def _serde_int(text: str) -> int | float:
    value = int(text)
    if 0 <= value <= U64_MAX and text != "-0":
        return value
    if I64_MIN <= value < 0:
        return value
    return _serde_float(text)


def _pow10(exponent: int) -> float:
    """The double nearest to 10**exponent (serde_json's POW10 table), 0 <= exponent <= 308."""
    return float(f"1e{exponent}")


def _serde_float(text: str) -> float:
    """serde_json's float reading without ``float_roundtrip`` (de.rs), step for step: up to
    19-20 significant digits gathered into a u64 (later integer digits only move the exponent,
    later fraction digits are dropped), then one multiplication or division by a power of ten.
    It can differ from Python's correctly rounded ``float()`` in the last bit for long numbers,
    and the Rust host prints what serde_json read."""
    match = _FLOAT_SYNTAX.match(text)
    if match is None:  # pragma: no cover - the json scanner only hands over number syntax
        raise JsonError(f"invalid number {text}")
    sign, integer_digits, fraction_digits, exponent_text = match.groups()
    significand = 0
    exponent = 0
    overflowed = False
    for digit in integer_digits:
        candidate = significand * 10 + (ord(digit) - 48)
        if not overflowed and candidate <= U64_MAX:
            significand = candidate
        else:
            overflowed = True
            exponent += 1
    for digit in fraction_digits or "":
        candidate = significand * 10 + (ord(digit) - 48)
        if candidate > U64_MAX:
            break  # parse_decimal_overflow drops the rest
        significand = candidate
        exponent -= 1
    if exponent_text is not None:
        positive = not exponent_text.startswith("-")
        magnitude = int(exponent_text.lstrip("+-"))
        if magnitude > I32_MAX:
            if significand != 0 and positive:
                raise JsonError(f"number out of range: {text}")
            return -0.0 if sign else 0.0
        total = exponent + (magnitude if positive else -magnitude)
        exponent = max(-I32_MAX - 1, min(I32_MAX, total))
    value = float(significand)
    while True:
        if abs(exponent) <= 308:
            if exponent < 0:
                value = value / _pow10(-exponent)
            else:
                value = value * _pow10(exponent)
                if math.isinf(value):
                    raise JsonError(f"number out of range: {text}")
            break
        if value == 0.0:
            break
        if exponent >= 0:
            raise JsonError(f"number out of range: {text}")
        value /= 1e308
        exponent += 308
    return -value if sign else value


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_from_pairs,
    parse_int=_serde_int,
    parse_float=_serde_float,
    parse_constant=_refuse_constant,
)


def _check_tree(value: Any, text: str) -> None:
    """Nesting within serde_json's limit, and no lone surrogate in any string."""
    check_surrogates = _SURROGATE_ESCAPE.search(text) is not None
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth >= RECURSION_LIMIT:
                raise JsonError("recursion limit exceeded")
            for key, member in item.items():
                if check_surrogates:
                    _check_string(key)
                stack.append((member, depth + 1))
        elif isinstance(item, list):
            if depth >= RECURSION_LIMIT:
                raise JsonError("recursion limit exceeded")
            stack.extend((member, depth + 1) for member in item)
        elif check_surrogates and isinstance(item, str):
            _check_string(item)


def _check_string(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise JsonError("lone surrogate in hex escape") from error


def loads(text: str) -> Any:
    """Parse JSON text as strictly as serde_json does; raises ``JsonError``."""
    try:
        value, end = _DECODER.raw_decode(text, _skip_whitespace(text, 0))
    except json.JSONDecodeError as error:
        raise JsonError(f"{error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise JsonError("recursion limit exceeded") from None
    if _skip_whitespace(text, end) != len(text):
        raise JsonError("trailing characters")
    _check_tree(value, text)
    return value


def _skip_whitespace(text: str, position: int) -> int:
    # JSON whitespace only: serde_json refuses a byte-order mark or other Unicode spaces.
    length = len(text)
    while position < length and text[position] in " \t\n\r":
        position += 1
    return position


def format_float(value: float) -> str:
    """What serde_json prints for an f64: the shortest digits that read back as the same
    double (Python's repr finds the same ones), written plainly while the decimal exponent is
    within -5..=15 and as ``d.ddde+X`` / ``de-X`` outside it."""
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    # The shortest round-trip digits come from repr; only their layout differs.
    digits, exponent = _digits_and_exponent(repr(abs(value)))
    if exponent < -5 or exponent > 15:
        fraction = f".{digits[1:]}" if len(digits) > 1 else ""
        text = f"{digits[0]}{fraction}e{'-' if exponent < 0 else '+'}{abs(exponent)}"
    elif len(digits) - 1 <= exponent:
        text = f"{digits}{'0' * (exponent + 1 - len(digits))}.0"
    elif exponent >= 0:
        text = f"{digits[: exponent + 1]}.{digits[exponent + 1 :]}"
    else:
        text = f"0.{'0' * (-exponent - 1)}{digits}"
    return sign + text


def _digits_and_exponent(shortest: str) -> tuple[str, int]:
    """The significant digits of a positive float's repr and the power of ten of the first."""
    if "e" in shortest:
        mantissa, exponent_text = shortest.split("e")
        exponent = int(exponent_text)
    else:
        mantissa, exponent = shortest, 0
    integer, _, fraction = mantissa.partition(".")
    digits = (integer + fraction).lstrip("0")
    if integer.strip("0"):
        exponent += len(integer.lstrip("0")) - 1
    else:
        exponent -= len(fraction) - len(fraction.lstrip("0")) + 1
    digits = digits.rstrip("0") or "0"
    return digits, exponent


def _has_float(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def dumps(value: Any) -> str:
    """Compact JSON text, byte for byte what serde_json's ``Value::to_string`` prints."""
    if not _has_float(value):
        # Without floats the C encoder prints exactly what serde_json prints: the same
        # escapes (quote, backslash, controls as \\n or \\u00xx), non-ASCII kept.
        return _COMPACT.encode(value)
    parts: list[str] = []
    _write(value, parts, None, 0)
    return "".join(parts)


def dumps_pretty(value: Any) -> str:
    """``serde_json::to_string_pretty``: two-space indentation, ``"key": value``."""
    parts: list[str] = []
    _write(value, parts, "  ", 0)
    return "".join(parts)


def _write(value: Any, out: list[str], indent: str | None, level: int) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(encode_basestring(value))
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            out.append("null")  # serde_json's Value cannot hold these; its writer prints null
        else:
            out.append(format_float(value))
    elif isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        out.append("{")
        first = True
        for key, member in value.items():
            if not first:
                out.append(",")
            first = False
            if indent is not None:
                out.append("\n" + indent * (level + 1))
            out.append(encode_basestring(str(key)))
            out.append(": " if indent is not None else ":")
            _write(member, out, indent, level + 1)
        if indent is not None:
            out.append("\n" + indent * level)
        out.append("}")
    elif isinstance(value, (list, tuple)):
        if not value:
            out.append("[]")
            return
        out.append("[")
        for index, member in enumerate(value):
            if index:
                out.append(",")
            if indent is not None:
                out.append("\n" + indent * (level + 1))
            _write(member, out, indent, level + 1)
        if indent is not None:
            out.append("\n" + indent * level)
        out.append("]")
    else:
        raise TypeError(f"not a JSON value: {type(value).__name__}")


def equal(a: Any, b: Any) -> bool:
    """serde_json's ``Value == Value``: objects equal as maps (order free), numbers equal only
    within the same kind (1 is not 1.0, and neither is true)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if isinstance(a, (int, float)) or isinstance(b, (int, float)):
        return type(a) is type(b) and a == b
    if isinstance(a, list) or isinstance(b, list):
        return (
            isinstance(a, list)
            and isinstance(b, list)
            and len(a) == len(b)
            and all(equal(x, y) for x, y in zip(a, b))
        )
    if isinstance(a, dict) or isinstance(b, dict):
        return (
            isinstance(a, dict)
            and isinstance(b, dict)
            and len(a) == len(b)
            and all(key in b and equal(value, b[key]) for key, value in a.items())
        )
    return a == b


def type_name(value: Any) -> str:
    """A short word for a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
