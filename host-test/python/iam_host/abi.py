"""The values of the gated world (wit/gate.wit) read and written directly as the wasmtime C
API's ``wasmtime_component_val_t``, for the per-command path: ``gate.run`` and the imports.

wasmtime-py's generic ``Func.__call__`` and ``add_func`` walk the component's type information
on every call and lower a ``list<u8>`` one byte at a time through ctypes; that doubles the
cost of a command. The host knows its few shapes, so it reads and writes them here in a few
ctypes operations each (a response body is one ``memmove``). Fields are in WIT order.

Ownership follows the C API: a host function's arguments are borrowed; what it writes as its
result is wasmtime's to free; an export's arguments and result are the caller's to free
(``delete``).
"""

from __future__ import annotations

import ctypes
from ctypes import POINTER, addressof, byref, memmove, sizeof, string_at

from wasmtime import _ffi as ffi

Val = ffi.wasmtime_component_val_t
_SIZE = sizeof(Val)
_PAYLOAD = Val.of.offset
_K = {name: getattr(ffi, f"WASMTIME_COMPONENT_{name}").value
      for name in ("BOOL", "U8", "U16", "U32", "U64", "STRING", "LIST", "RECORD", "VARIANT", "ENUM", "OPTION", "RESULT")}
RECORD, RESULT = _K["RECORD"], _K["RESULT"]

#: ``wasm_byte_vec_new`` taking a ``bytes`` object without a cast (a separate function
#: object: wasmtime-py's own declaration is left as it is).
_byte_vec_new = ffi.dll._FuncPtr(("wasm_byte_vec_new", ffi.dll))
_byte_vec_new.restype = None
_byte_vec_new.argtypes = [POINTER(ffi.wasm_byte_vec_t), ctypes.c_size_t, ctypes.c_char_p]


class AbiError(Exception):
    """A value that does not have the contract's shape (a component of another WIT)."""


def _expect(val: Val, kind: str) -> None:
    if val.kind != _K[kind]:
        raise AbiError(f"expected a {kind.lower()}, got kind {val.kind}")


def read_string(val: Val) -> str:
    _expect(val, "STRING")
    vec = val.of.string
    return string_at(vec.data, vec.size).decode("utf-8") if vec.size else ""


def read_option(val: Val) -> Val | None:
    _expect(val, "OPTION")
    return val.of.option.contents if val.of.option else None


def read_option_string(val: Val) -> str | None:
    inner = read_option(val)
    return None if inner is None else read_string(inner)


def read_record(val: Val, size: int) -> list[Val]:
    if val.kind != RECORD or val.of.record.size != size:
        raise AbiError(f"expected a record of {size} fields")
    data = val.of.record.data
    return [data[i].val for i in range(size)]


def read_list(val: Val) -> list[Val]:
    _expect(val, "LIST")
    data = val.of.list.data
    return [data[i] for i in range(val.of.list.size)]


def read_enum(val: Val) -> str:
    _expect(val, "ENUM")
    vec = val.of.enumeration
    return string_at(vec.data, vec.size).decode("utf-8")


def read_bool(val: Val) -> bool:
    _expect(val, "BOOL")
    return bool(val.of.boolean)


def read_u32(val: Val) -> int:
    _expect(val, "U32")
    return int(val.of.u32)


def read_u64(val: Val) -> int:
    _expect(val, "U64")
    return int(val.of.u64)


def _byte_vec(data: bytes) -> ffi.wasm_byte_vec_t:
    vec = ffi.wasm_byte_vec_t()
    _byte_vec_new(byref(vec), len(data), data)
    return vec


def write_string(val: Val, text: str) -> None:
    val.kind = _K["STRING"]
    val.of.string = _byte_vec(text.encode("utf-8"))


def write_number(val: Val, kind: str, number: int) -> None:
    val.kind = _K[kind]
    setattr(val.of, kind.lower(), number)


def write_record(val: Val, names: tuple[bytes, ...]) -> list[Val]:
    """Make ``val`` a record with these fields; the caller fills the returned values."""
    record = ffi.wasmtime_component_valrecord_t()
    ffi.wasmtime_component_valrecord_new_uninit(byref(record), len(names))
    fields = []
    for index, name in enumerate(names):
        entry = record.data[index]
        entry.name = _byte_vec(name)
        fields.append(entry.val)
    val.kind = RECORD
    val.of.record = record
    return fields


def write_list(val: Val, size: int) -> list[Val]:
    items = ffi.wasmtime_component_vallist_t()
    ffi.wasmtime_component_vallist_new_uninit(byref(items), size)
    val.kind = _K["LIST"]
    val.of.list = items
    return [items.data[i] for i in range(size)]


def write_bytes(val: Val, data: bytes) -> None:
    """A ``list<u8>`` in one copy: the items are laid out in a buffer as the C API's values
    (the kind at offset 0, the byte at its payload offset) and moved into the list at once."""
    size = len(data)
    items = ffi.wasmtime_component_vallist_t()
    ffi.wasmtime_component_vallist_new_uninit(byref(items), size)
    if size:
        layout = bytearray(size * _SIZE)
        layout[0::_SIZE] = bytes((_K["U8"],)) * size
        layout[_PAYLOAD::_SIZE] = data
        memmove(addressof(items.data.contents), (ctypes.c_char * len(layout)).from_buffer(layout), len(layout))
    val.kind = _K["LIST"]
    val.of.list = items


def _boxed(payload: Val | None) -> object:
    return ffi.wasmtime_component_val_new(byref(payload)) if payload is not None else None


def write_variant(val: Val, case: bytes, payload: Val | None = None) -> None:
    """A variant case; ``payload`` (a filled value) is moved onto the heap."""
    val.kind = _K["VARIANT"]
    val.of.variant.discriminant = _byte_vec(case)
    val.of.variant.val = _boxed(payload)


def write_result(val: Val, ok: bool, payload: Val | None) -> None:
    val.kind = RESULT
    val.of.result.is_ok = ok
    val.of.result.val = _boxed(payload)


def delete(val: Val) -> None:
    ffi.wasmtime_component_val_delete(byref(val))
