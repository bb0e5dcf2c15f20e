"""The files a user gives (config, args, limits, cassette, component) and the recording the
host writes, as the Rust host's host-test/src/files.rs handles them: every input only when it
is a regular file, opened without waiting (a FIFO or ``/dev/zero`` ends at once) and read with
its cap; every write to a temporary file beside the target, renamed into place. A
``FileError`` is one line and exit 2, never a traceback. What the files hold is the gate's
to judge; ``json_object`` only checks that a text is a JSON object, and the text itself is
what goes on."""

from __future__ import annotations

import json
import os
import stat
import tempfile

#: Config, args and limits: kilobytes each; 16 MiB leaves room for many mappers.
CONFIG_BYTES = 16 << 20
#: A cassette: 100,000 recorded interactions fit.
CASSETTE_BYTES = 256 << 20
#: A component: this one is about 1 MB.
COMPONENT_BYTES = 64 << 20

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class FileError(Exception):
    """A file the user gave that cannot be used, or a recording that cannot be written."""


def _refuse_unless_regular(mode: int, path: str, what: str) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "a special file")
        raise FileError(f"cannot read {what} {path}: it is {kind}, not a regular file")


def _size_name(cap: int) -> str:
    return f"{cap >> 20} MiB" if cap >= 1 << 20 and cap % (1 << 20) == 0 else f"{cap} bytes"


def read_capped(path: str, cap: int, what: str) -> bytes:
    """The bytes of the regular file ``path``; at most ``cap + 1`` bytes are ever read. The
    path is checked before it is opened (a device is never opened) and what was opened is
    checked again; the open never waits on a FIFO."""
    try:
        _refuse_unless_regular(os.stat(path).st_mode, path, what)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise FileError(f"cannot read {what} {path}: {error.strerror or error}") from None
    try:
        _refuse_unless_regular(os.fstat(fd).st_mode, path, what)
        chunks, size = [], 0
        while size <= cap:
            chunk = os.read(fd, min(cap + 1 - size, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as error:
        raise FileError(f"cannot read {what} {path}: {error.strerror or error}") from None
    finally:
        os.close(fd)
    if size > cap:
        raise FileError(f"{what} {path} is larger than the {_size_name(cap)} the host reads")
    return b"".join(chunks)


def read_text(path: str, cap: int, what: str) -> str:
    try:
        return read_capped(path, cap, what).decode("utf-8")
    except UnicodeDecodeError as error:
        raise FileError(f"{what} {path} is not UTF-8 text ({error})") from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def json_object(text: str, what: str) -> str:
    """``text`` itself, once it is known to hold one JSON object (the gate parses it)."""
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise FileError(f"{what} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise FileError(f"{what} must hold a JSON object")
    return text


def read_json_object(path: str, what: str) -> str:
    return json_object(read_text(path, CONFIG_BYTES, what), f"{what} {path}")


def check_record_target(path: str, overwrite: bool) -> None:
    """Whether a recording may be written at ``path``, checked before the configuration is read
    and before any request: anything already there (even a dangling link) is kept unless
    ``overwrite``, and even then only a file or a link is replaced."""
    parent = os.path.dirname(path) or "."
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        if not os.path.isdir(parent):
            raise FileError(f"cannot write the recording {path}: {parent} is not a directory") from None
        return
    except OSError as error:
        raise FileError(f"cannot write the recording {path}: {error.strerror or error}") from None
    if not overwrite:
        raise FileError(f"refusing to overwrite {path} with the recording: something already exists there "
                        "(give --overwrite to replace it)")
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise FileError(f"refusing to overwrite {path} with the recording: it is not a regular file, "
                        "so --overwrite does not replace it")


def write_atomically(path: str, data: bytes, replace: bool) -> None:
    """Write through a temporary file beside ``path``, so that a reader never sees half of it.
    With ``replace`` whatever is at ``path`` is replaced; without, the write fails if anything
    appeared there meanwhile (a hard link never replaces a name). Raises ``OSError``."""
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                     dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise
            except OSError:  # a file system without hard links: check, then rename
                if os.path.lexists(path):
                    raise
                os.replace(temporary, path)
            else:
                os.unlink(temporary)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
