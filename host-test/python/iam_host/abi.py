"""Component values of the connector's WIT (``iam:atlassian@0.2.0``) read and written directly
as the wasmtime C API's ``wasmtime_component_val_t``.

wasmtime-py's generic ``Func.__call__`` and ``Linker.add_func`` walk the component's type
information on every call, and lower ``list<u8>`` one byte at a time through ctypes: about a
millisecond per command, several for a body of some kilobytes. The host knows the shapes of
its own contract, so it reads and writes them here in a few ctypes operations each (a
response body is one ``memmove``). Field order is the WIT order, checked at load time against
the component's own types (``check_shapes``).

Ownership follows the C API: arguments of a host function are borrowed (read, never freed);
results written by a host function and arguments passed to an export are owned by the
receiver (wasmtime frees results; the caller frees its arguments after the call); a result of
an export is owned by the caller and freed with ``wasmtime_component_val_delete``.
"""

from __future__ import annotations

import ctypes
import threading
from ctypes import POINTER, addressof, byref, c_ubyte, memmove, sizeof, string_at

from wasmtime import _ffi as ffi

Val = ffi.wasmtime_component_val_t
VAL_SIZE = sizeof(Val)
_PAYLOAD_OFFSET = Val.of.offset

KIND_U8 = ffi.WASMTIME_COMPONENT_U8.value
KIND_U16 = ffi.WASMTIME_COMPONENT_U16.value
KIND_U32 = ffi.WASMTIME_COMPONENT_U32.value
KIND_U64 = ffi.WASMTIME_COMPONENT_U64.value
KIND_STRING = ffi.WASMTIME_COMPONENT_STRING.value
KIND_LIST = ffi.WASMTIME_COMPONENT_LIST.value
KIND_RECORD = ffi.WASMTIME_COMPONENT_RECORD.value
KIND_VARIANT = ffi.WASMTIME_COMPONENT_VARIANT.value
KIND_ENUM = ffi.WASMTIME_COMPONENT_ENUM.value
KIND_OPTION = ffi.WASMTIME_COMPONENT_OPTION.value
KIND_RESULT = ffi.WASMTIME_COMPONENT_RESULT.value

_U8_POINTER = POINTER(c_ubyte)
#: ``wasm_byte_vec_new`` with its data argument declared as ``char *``, so that a ``bytes``
#: object is passed without a cast (a separate function object: wasmtime-py's own
#: declaration is left as it is).
_byte_vec_new = ffi.dll._FuncPtr(("wasm_byte_vec_new", ffi.dll))
_byte_vec_new.restype = None
_byte_vec_new.argtypes = [POINTER(ffi.wasm_byte_vec_t), ctypes.c_size_t, ctypes.c_char_p]


class AbiError(Exception):
    """A value that does not have the shape of the contract (a component of another WIT)."""


# --- reading (lifting) ------------------------------------------------------------------------


def read_name(vec: ffi.wasm_byte_vec_t) -> str:
    size = vec.size
    if size == 0:
        return ""
    return string_at(vec.data, size).decode("utf-8")


def read_string(val: Val) -> str:
    if val.kind != KIND_STRING:
        raise AbiError("expected a string")
    return read_name(val.of.string)


def read_option(val: Val) -> Val | None:
    if val.kind != KIND_OPTION:
        raise AbiError("expected an option")
    pointer = val.of.option
    return pointer.contents if pointer else None


def read_option_string(val: Val) -> str | None:
    inner = read_option(val)
    return None if inner is None else read_string(inner)


def read_record(val: Val, size: int) -> list[Val]:
    """The fields of a record, in WIT order."""
    if val.kind != KIND_RECORD or val.of.record.size != size:
        raise AbiError(f"expected a record of {size} fields")
    data = val.of.record.data
    return [data[i].val for i in range(size)]


def read_list(val: Val) -> list[Val]:
    if val.kind != KIND_LIST:
        raise AbiError("expected a list")
    data = val.of.list.data
    return [data[i] for i in range(val.of.list.size)]


def read_enum(val: Val) -> str:
    if val.kind != KIND_ENUM:
        raise AbiError("expected an enum")
    return read_name(val.of.enumeration)


def read_u32(val: Val) -> int:
    if val.kind != KIND_U32:
        raise AbiError("expected a u32")
    return val.of.u32


def read_u64(val: Val) -> int:
    if val.kind != KIND_U64:
        raise AbiError("expected a u64")
    return val.of.u64


def read_string_list(val: Val) -> list[str]:
    return [read_string(item) for item in read_list(val)]


# --- writing (lowering) -----------------------------------------------------------------------


def _byte_vec(data: bytes) -> ffi.wasm_byte_vec_t:
    vec = ffi.wasm_byte_vec_t()
    _byte_vec_new(byref(vec), len(data), data)
    return vec


def write_string(val: Val, text: str) -> None:
    val.kind = KIND_STRING
    val.of.string = _byte_vec(text.encode("utf-8"))


def write_u16(val: Val, number: int) -> None:
    val.kind = KIND_U16
    val.of.u16 = number


def write_u32(val: Val, number: int) -> None:
    val.kind = KIND_U32
    val.of.u32 = number


def write_u64(val: Val, number: int) -> None:
    val.kind = KIND_U64
    val.of.u64 = number


def write_none(val: Val) -> None:
    val.kind = KIND_OPTION
    val.of.option = None


def write_some_string(val: Val, text: str) -> None:
    inner = Val()
    write_string(inner, text)
    val.kind = KIND_OPTION
    val.of.option = ffi.wasmtime_component_val_new(byref(inner))


def write_record(val: Val, names: tuple[bytes, ...]) -> list[Val]:
    """Make ``val`` a record with these field names; the caller fills the returned fields."""
    record = ffi.wasmtime_component_valrecord_t()
    ffi.wasmtime_component_valrecord_new_uninit(byref(record), len(names))
    entries = record.data
    fields = []
    for index, name in enumerate(names):
        entry = entries[index]
        entry.name = _byte_vec(name)
        fields.append(entry.val)
    val.kind = KIND_RECORD
    val.of.record = record
    return fields


def write_list(val: Val, size: int) -> list[Val]:
    """Make ``val`` a list of ``size`` items; the caller fills the returned items."""
    items = ffi.wasmtime_component_vallist_t()
    ffi.wasmtime_component_vallist_new_uninit(byref(items), size)
    val.kind = KIND_LIST
    val.of.list = items
    data = items.data
    return [data[i] for i in range(size)]


class _Layout(threading.local):
    """A buffer of ``list<u8>`` items laid out as the C API's values (each 32 bytes: the kind
    at offset 0, the byte at its payload offset), kinds written once; per thread, grown as
    needed up to ``_LAYOUT_MAX_ITEMS``."""

    def __init__(self) -> None:
        self.items = 0
        self.buffer = bytearray()
        self.view: ctypes.Array | None = None

    def fit(self, size: int) -> ctypes.Array:
        if size > self.items:
            items = max(size, 4096, 2 * self.items)
            self.buffer = bytearray(items * VAL_SIZE)
            self.buffer[0::VAL_SIZE] = bytes((KIND_U8,)) * items
            self.view = (ctypes.c_char * len(self.buffer)).from_buffer(self.buffer)
            self.items = items
        assert self.view is not None
        return self.view


#: Bodies up to this many bytes reuse the per-thread layout (2 MiB of it); larger ones, rare,
#: get a buffer of their own.
_LAYOUT_MAX_ITEMS = 64 << 10
_LAYOUT = _Layout()


def write_bytes(val: Val, data: bytes) -> None:
    """A ``list<u8>`` in one copy: the items are laid out in a buffer and moved into the list
    in one ``memmove``."""
    size = len(data)
    items = ffi.wasmtime_component_vallist_t()
    ffi.wasmtime_component_vallist_new_uninit(byref(items), size)
    if size:
        if size <= _LAYOUT_MAX_ITEMS:
            view = _LAYOUT.fit(size)
            _LAYOUT.buffer[_PAYLOAD_OFFSET:_PAYLOAD_OFFSET + size * VAL_SIZE:VAL_SIZE] = data
        else:
            layout = bytearray(size * VAL_SIZE)
            layout[0::VAL_SIZE] = bytes((KIND_U8,)) * size
            layout[_PAYLOAD_OFFSET::VAL_SIZE] = data
            view = (ctypes.c_char * len(layout)).from_buffer(layout)
        memmove(addressof(items.data.contents), view, size * VAL_SIZE)
    val.kind = KIND_LIST
    val.of.list = items


def write_variant(val: Val, case: bytes, payload: Val | None) -> None:
    """A variant case; ``payload`` (a filled value) is moved onto the heap."""
    val.kind = KIND_VARIANT
    val.of.variant.discriminant = _byte_vec(case)
    val.of.variant.val = ffi.wasmtime_component_val_new(byref(payload)) if payload is not None else None


def write_result(val: Val, ok: bool, payload: Val | None) -> None:
    val.kind = KIND_RESULT
    val.of.result.is_ok = ok
    val.of.result.val = ffi.wasmtime_component_val_new(byref(payload)) if payload is not None else None


def delete(val: Val) -> None:
    ffi.wasmtime_component_val_delete(byref(val))
