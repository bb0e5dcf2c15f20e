"""``python -m iam_host``: run a connector command from the command line, with the CLI
contract of the Rust ``iam-host run`` (architecture.md "CLI contract").

stdout carries exactly one JSON document, the entry as the component gave it; everything
else goes to stderr. Exit status: 0 for a Type 1 entry, 1 for a Type 4 entry, 2 for usage
errors and unreadable or invalid files (and a recording that could not be written), 3 when
replay failed. Every user error is one clear message, never a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Sequence

USAGE = """usage: python -m iam_host run <COMMAND> --config <config.json> [--args <args.json | inline JSON>]
                           (--cassette <cassette.json> | --live [--record <out.json> [--overwrite]])
                           [--component <file.wasm>] [--limits <limits.json>]
       python -m iam_host describe [--component <file.wasm>]"""

EXIT_NOTE, EXIT_ERROR, EXIT_USAGE, EXIT_REPLAY_FAILED = 0, 1, 2, 3
#: A fault of this host itself: never mistaken for a Type 4 entry (exit 1).
EXIT_HOST_FAULT = 70
PREFIX = "iam-host"


class UsageError(Exception):
    """A command line that cannot be run: exit 2 with the reason and the usage."""


class InputError(Exception):
    """An unreadable or invalid file or component: exit 2 with one line."""


class RunArgs:
    """The validated command line of ``run``."""

    def __init__(self, command: str, config: str, args: str | None = None, cassette: str | None = None,
                 live: bool = False, record: str | None = None, overwrite: bool = False,
                 component: str | None = None, limits: str | None = None) -> None:
        self.command, self.config, self.args, self.cassette = command, config, args, cassette
        self.live, self.record, self.overwrite = live, record, overwrite
        self.component, self.limits = component, limits


_VALUED_FLAGS = {
    "--config": "config",
    "--args": "args",
    "--cassette": "cassette",
    "--record": "record",
    "--component": "component",
    "--limits": "limits",
}


def parse_run(words: Sequence[str]) -> RunArgs:
    """The validated command line of ``run`` (the Rust host's ``parse_run``)."""
    if not words:
        raise UsageError("missing <COMMAND>")
    command, rest = words[0], list(words[1:])
    values: dict[str, Any] = {}
    live = overwrite = False
    index = 0
    while index < len(rest):
        word = rest[index]
        if word in _VALUED_FLAGS:
            if index + 1 >= len(rest):
                raise UsageError(f"{word} needs a value")
            values[_VALUED_FLAGS[word]] = rest[index + 1]
            index += 2
            continue
        if word == "--live":
            live = True
        elif word == "--overwrite":
            overwrite = True
        else:
            raise UsageError(f"unexpected argument {_quoted(word)}")
        index += 1
    if "config" not in values:
        raise UsageError("--config <config.json> is required")
    cassette, record = values.get("cassette"), values.get("record")
    if cassette is not None and (live or record is not None):
        raise UsageError("--cassette and --live exclude each other")
    if cassette is None and not live:
        raise UsageError("--record needs --live" if record is not None else "give --cassette <file> or --live")
    if overwrite and record is None:
        raise UsageError("--overwrite needs --record <out.json>")
    return RunArgs(command=command, live=live, overwrite=overwrite, **values)


def _quoted(text: str) -> str:
    from .policy import quoted

    return quoted(text)


def check_recording_path(path: str, overwrite: bool) -> None:
    """A path a recording can be written to, checked before anything runs, so that a typo or
    an existing file is a usage error and not a lost recording."""
    from .files import exists

    if exists(path) and not overwrite:
        raise UsageError(f"refusing to record to {path}: something already exists there (give --overwrite to replace it)")
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        raise InputError(f"cannot write the recording {path}: {parent} is not a directory")
    if os.path.isdir(path):
        raise InputError(f"cannot write the recording {path}: it is a directory")


def repository_component() -> Path | None:
    """The component built in this repository, when the package runs from its source tree."""
    here = Path(__file__).resolve().parent
    for root in (here.parents[2], here.parents[1]) if len(here.parents) > 2 else ():
        candidate = root / "target" / "component" / "atlassian_iam.wasm"
        if candidate.is_file():
            return candidate
    return None


def load_host(component: str | None, limits: Any = None) -> Any:
    from .files import FileError
    from .runner import Host, packaged_component
    from .sandbox import ComponentError

    try:
        if component is None and packaged_component() is None:
            built = repository_component()
            if built is None:
                raise InputError(
                    "no component: this iam_host package carries none, and none is built here; "
                    "give --component <file.wasm> (see host-test/python/README.md)"
                )
            component = str(built)
        return Host(component, limits=limits)
    except (FileError, ComponentError) as error:
        raise InputError(str(error)) from None


def run(run_args: RunArgs) -> int:
    from . import jsonio
    from .cassette import Cassette, Replay
    from .files import MAX_JSON_BYTES, FileError, parse_json_object, read_json_object, read_text
    from .limits import Limits, LimitsError
    from .runner import UnknownCommand

    if run_args.record is not None:
        check_recording_path(run_args.record, run_args.overwrite)
    try:
        limits = Limits()
        if run_args.limits is not None:
            text = read_text(run_args.limits, "limits file", MAX_JSON_BYTES)
            try:
                limits = Limits.from_json(jsonio.loads(text))
            except (jsonio.JsonError, LimitsError) as error:
                raise InputError(f"limits file {run_args.limits} is not valid: {error}") from None
        host = load_host(run_args.component, limits)
        try:
            host.check_command(run_args.command)
        except UnknownCommand as error:
            raise UsageError(str(error)) from None
        params = read_json_object(run_args.config, "config file")
        args: dict[str, Any] = {}
        if run_args.args is not None:
            if run_args.args.lstrip().startswith("{"):
                args = parse_json_object(run_args.args, "the inline --args")
            else:
                args = read_json_object(run_args.args, "args file")
        if run_args.cassette is not None:
            backend: Any = Replay(Cassette.load(run_args.cassette))
        else:
            from .live import Live, LiveOptions, Record

            live = Live(LiveOptions.for_instance(params, limits))
            backend = live if run_args.record is None else Record(live, run_args.record)
    except FileError as error:
        raise InputError(str(error)) from None

    report = host.run(run_args.command, params, args, backend)
    for line in report.log:
        _err(f"guest {line.level}: {line.message}")
    if report.replay_failure is not None:
        _err(f"replay failed: {report.replay_failure}")
        return EXIT_REPLAY_FAILED
    _out(_entry_text(report.entry_json or ""))
    recording_error = getattr(backend, "write_error", None)
    if recording_error is not None:
        # The command ran and its entry is printed; only its cassette could not be written.
        _err(recording_error)
        return EXIT_USAGE
    return EXIT_NOTE if report.entry_type == "note" else EXIT_ERROR


def _entry_text(entry_json: str) -> str:
    """An entry goes out indented when a person reads it, compact for scripts and pipes (as
    the Rust host prints it)."""
    try:
        if sys.stdout.isatty():
            from . import jsonio

            return jsonio.dumps_pretty(jsonio.loads(entry_json))
    except (ValueError, OSError):
        pass
    return entry_json


def describe(words: Sequence[str]) -> int:
    from . import jsonio

    component = None
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if word == "--component" and rest:
            component = rest.pop(0)
        else:
            raise UsageError(f"unexpected argument {_quoted(word)}")
    about = load_host(component).describe()
    _out(jsonio.dumps({"name": about.name, "version": about.version, "commands": about.commands,
                       "origins": about.origins, "credentials": about.credentials}))
    return EXIT_NOTE


def _out(text: str) -> None:
    """Write one line to stdout; a reader that went away (``… | head``) is no reason to fail."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()


def _err(text: str) -> None:
    try:
        sys.stderr.write(f"{PREFIX}: {text}\n")
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        if words and words[0] in ("-h", "--help", "help"):
            _out(USAGE)
            return EXIT_NOTE
        if not words:
            raise UsageError("missing subcommand")
        if words[0] == "run":
            return run(parse_run(words[1:]))
        if words[0] == "describe":
            return describe(words[1:])
        raise UsageError(f"unknown subcommand {_quoted(words[0])}")
    except UsageError as error:
        _err(f"{error}\n{USAGE}")
        return EXIT_USAGE
    except InputError as error:
        _err(str(error))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug of this host: one line, and its own exit status
        _err(f"internal error: {type(error).__name__}: {error}")
        if os.environ.get("IAM_HOST_DEBUG"):
            raise
        return EXIT_HOST_FAULT
