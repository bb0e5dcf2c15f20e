"""``python -m iam_host``: the command line of the Rust ``iam-host run`` and ``describe``
(architecture.md "CLI contract"), over the gated component.

stdout carries exactly one JSON document, the entry as the gate gave it (indented on a
terminal); everything else goes to stderr. Exit status: 0 for a Type 1 entry, 1 for a Type 4
entry, 2 for usage errors, unreadable or invalid files and a recording that could not be
written, 3 when replay failed. Every user error is one clear message, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Sequence

USAGE = """usage: python -m iam_host run <COMMAND> --config <config.json> [--args <args.json | inline JSON>]
                           (--cassette <cassette.json> | --live [--record <out.json> [--overwrite]])
                           [--component <file.wasm>] [--limits <limits.json>]
       python -m iam_host describe [--component <file.wasm>]
       python -m iam_host sync plan (--config <config.json> | --tenants <tenants.json> --tenant NAME)
                           --desired <FILE> [--out plan.jsonl] [--json] [--protect GLOB]...
                           [--manage-group NAME]... [--on-missing disable|delete|ignore]
                           [--max-deprovision N|P%] [--max-member-removals N|P%] [--component <file.wasm>]"""
EXIT_NOTE, EXIT_ERROR, EXIT_USAGE, EXIT_REPLAY_FAILED = 0, 1, 2, 3
#: ``sync plan``: the plan is blocked (written, with its reasons), sync.md §8.
EXIT_BLOCKED = 4
#: A fault of this host itself: never mistaken for a Type 4 entry (exit 1).
EXIT_HOST_FAULT = 70
_VALUED = {"--config", "--args", "--cassette", "--record", "--component", "--limits"}


class UsageError(Exception):
    """A command line that cannot be run: exit 2 with the reason and the usage."""


class InputError(Exception):
    """An unusable file, component or input: exit 2 with one line."""


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def parse(words: Sequence[str], allowed: set[str]) -> tuple[list[str], dict[str, str | bool]]:
    """Positional words and flags (``--x value``, or ``--live``/``--overwrite`` alone)."""
    positional: list[str] = []
    flags: dict[str, str | bool] = {}
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if word in _VALUED & allowed:
            if not rest:
                raise UsageError(f"{word} needs a value")
            flags[word] = rest.pop(0)
        elif word in allowed:
            flags[word] = True
        elif word.startswith("--") or positional:
            raise UsageError(f"unexpected argument {_quoted(word)}")
        else:
            positional.append(word)
    return positional, flags


def _load_host(component: str | bool | None):
    from .host import ComponentError, FileError, Host

    try:
        return Host(component if isinstance(component, str) else None)
    except (ComponentError, FileError) as error:
        raise InputError(str(error)) from None


def indented(text: str) -> str:
    """A compact JSON text laid out as serde_json's pretty printer does (two spaces, ``": "``),
    its tokens copied as they are: no value is parsed or written again."""
    out, depth, in_string, escaped = [], 0, False, False
    for index, char in enumerate(text):
        if in_string:
            in_string = escaped or char != '"'
            escaped = not escaped and char == "\\"
            out.append(char)
        elif char in "{[":
            empty = text[index + 1:index + 2] in ("}", "]")
            depth += 0 if empty else 1
            out.append(char if empty else f"{char}\n{'  ' * depth}")
        elif char in "}]":
            empty = text[index - 1:index] in ("{", "[")
            depth -= 0 if empty else 1
            out.append(char if empty else f"\n{'  ' * depth}{char}")
        else:
            in_string = char == '"'
            out.append(",\n" + "  " * depth if char == "," else ": " if char == ":" else char)
    return "".join(out)


def run(words: Sequence[str]) -> int:
    from .engine import ComponentError

    try:
        return _run(words)
    except ComponentError as error:  # a component that does not answer as the contract says
        raise InputError(str(error)) from None


def _run(words: Sequence[str]) -> int:
    from . import files
    from .engine import UnusableInput
    from .host import UnknownCommand

    positional, flags = parse(words, _VALUED | {"--live", "--overwrite"})
    if not positional:
        raise UsageError("missing <COMMAND>")
    command, cassette, record = positional[0], flags.get("--cassette"), flags.get("--record")
    if "--config" not in flags:
        raise UsageError("--config <config.json> is required")
    if flags.get("--overwrite") and record is None:
        raise UsageError("--overwrite goes with --record")
    if cassette is not None and (flags.get("--live") or record is not None):
        raise UsageError("--cassette and --live exclude each other")
    if cassette is None and not flags.get("--live"):
        raise UsageError("--record needs --live" if record is not None else "give --cassette <file> or --live")
    try:
        if isinstance(record, str):  # before the configuration is read and before any request
            files.check_record_target(record, bool(flags.get("--overwrite")))
        limits_path = flags.get("--limits")
        limits_text = files.read_text(limits_path, files.CONFIG_BYTES, "limits file") if isinstance(limits_path, str) else None
        host = _load_host(flags.get("--component"))
        try:
            limits = host.limits(limits_text)
        except UnusableInput as error:
            raise InputError(f"limits file {limits_path} is not valid: {error}") from None
        try:
            host.check_command(command)
        except UnknownCommand as error:
            raise UsageError(str(error)) from None
        config = files.read_json_object(str(flags["--config"]), "config file")
        inputs = [f"config file {flags['--config']}"]
        args, args_value = "{}", flags.get("--args")
        if isinstance(args_value, str) and args_value.lstrip().startswith("{"):
            args = files.json_object(args_value, "--args")
            inputs.append("--args")
        elif isinstance(args_value, str):
            args = files.read_json_object(args_value, "args file")
            inputs.append(f"args file {args_value}")
        cassette_text = None
        if isinstance(cassette, str):
            cassette_text = files.read_text(cassette, files.CASSETTE_BYTES, "cassette")
            inputs.append(f"cassette {cassette}")
    except files.FileError as error:
        raise InputError(str(error)) from None
    try:
        report = host.run(command, config, args, cassette=cassette_text, record=record is not None, limits=limits)
    except UnusableInput as error:  # the gate names the input; the files are these
        raise InputError(f"{error} ({', '.join(inputs)})") from None
    for level, message in report.log:
        _err(f"guest {level}: {message}")
    if report.replay_failure is not None:
        _err(f"replay failed: {report.replay_failure}")
        return EXIT_REPLAY_FAILED
    _out(indented(report.entry_json) if _is_terminal() else report.entry_json)
    if isinstance(record, str):
        # Written whenever the command ran, after it: a recording that cannot be written costs
        # the recording, never the entry of a command whose side effects happened.
        try:
            if report.recording_json is None:
                raise OSError(f"the command was stopped ({report.stop.case if report.stop else 'no recording'}) "
                              "before the gate handed over its recording")
            files.write_atomically(record, report.recording_json.encode("utf-8"), bool(flags.get("--overwrite")))
        except OSError as error:
            _err(f"cannot write the recording {record}: {error.strerror or error}")
            return EXIT_USAGE
    return EXIT_ERROR if report.is_error else EXIT_NOTE


def describe(words: Sequence[str]) -> int:
    positional, flags = parse(words, {"--component"})
    if positional:
        raise UsageError(f"unexpected argument {_quoted(positional[0])}")
    from .engine import ComponentError

    try:
        about = _load_host(flags.get("--component")).describe()
    except ComponentError as error:
        raise InputError(str(error)) from None
    _out(json.dumps({"name": about.name, "version": about.version, "commands": about.commands,
                     "origins": about.origins, "credentials": about.credentials}, ensure_ascii=False, separators=(",", ":")))
    return EXIT_NOTE


#: ``sync plan``'s options: those taking one value, those repeatable, and the flags.
_SYNC_VALUED = {"--config", "--tenants", "--tenant", "--desired", "--out", "--on-missing", "--max-deprovision",
                "--max-member-removals", "--component", "--plan-id", "--created"}
_SYNC_REPEATED = {"--protect", "--manage-group"}
#: The jobs' tenant of a ``--config`` without ``instance_name`` (sync.md §8).
DEFAULT_INSTANCE_NAME = "Atlassian IAM_instance_1"
#: The largest desired file read, as iam-host reads it.
DESIRED_BYTES = 256 << 20
#: ``sync-plan``'s own limits, as iam-host gives them (a whole directory read and diffed).
SYNC_PLAN_LIMITS = json.dumps({"memory_bytes": 2 << 30, "cpu_millis": 300_000, "max_requests": 20_000,
                               "wall_millis": 600_000})


def _sync_words(words: Sequence[str]) -> dict[str, str | bool | list[str]]:
    options: dict[str, str | bool | list[str]] = {}
    rest = list(words)
    while rest:
        word = rest.pop(0)
        if word in _SYNC_VALUED | _SYNC_REPEATED:
            if not rest:
                raise UsageError(f"{word} needs a value")
            value = rest.pop(0)
            if word in _SYNC_REPEATED:
                repeated = options.setdefault(word, [])
                assert isinstance(repeated, list)
                repeated.append(value)
            else:
                options[word] = value
        elif word == "--json":
            options[word] = True
        else:
            raise UsageError(f"unexpected argument {_quoted(word)}")
    return options


def _check_out_target(out: str, desired: str) -> None:
    """``--out`` takes the plan only when it is a regular file or nothing (never a link)."""
    import stat

    try:
        info = os.lstat(out)
    except FileNotFoundError:
        parent = os.path.dirname(out) or "."
        if not os.path.isdir(parent):
            raise InputError(f"cannot write the plan {out}: {parent} is not a directory") from None
        return
    except OSError as error:
        raise InputError(f"cannot write the plan {out}: {error.strerror or error}") from None
    if stat.S_ISLNK(info.st_mode):
        raise InputError(f"--out {out} is a symbolic link; give the plan file's own path")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"--out {out} is not a regular file")
    try:
        if os.path.samefile(out, desired):
            raise InputError("--out must not be the --desired file")
    except OSError:
        pass


def sync(words: Sequence[str]) -> int:
    """``sync plan``: the plan of iam-host's ``sync plan``, the same bytes for the same
    directory, desired file, options, id and time. The plan's id and time are the host's to
    pick; ``--plan-id`` and ``--created`` (test aids, not in the usage) fix them."""
    import secrets
    import time

    from . import files
    from .engine import ComponentError, UnusableInput

    if words[:1] != ["plan"]:
        raise UsageError("python -m iam_host sync has one subcommand here: plan")
    options = _sync_words(words[1:])
    desired_path = options.get("--desired")
    if not isinstance(desired_path, str):
        raise UsageError("--desired <FILE> is required")
    config_path, tenants_path, tenant_name = options.get("--config"), options.get("--tenants"), options.get("--tenant")
    if isinstance(config_path, str) == isinstance(tenants_path, str):
        raise UsageError("give --config <config.json>, or --tenants <tenants.json> --tenant NAME")
    if isinstance(tenants_path, str) and not isinstance(tenant_name, str):
        raise UsageError("--tenants needs --tenant NAME: the tenant to work on")
    if tenant_name is not None and not isinstance(tenants_path, str):
        raise UsageError("--tenant goes with --tenants")
    on_missing = options.get("--on-missing")
    if on_missing is not None and on_missing not in ("disable", "delete", "ignore"):
        raise UsageError(f"--on-missing must be disable, delete or ignore, not {_quoted(str(on_missing))}")
    out = str(options.get("--out", "plan.jsonl"))
    try:
        desired = files.read_text(desired_path, DESIRED_BYTES, "desired file")
        _check_out_target(out, desired_path)
        if isinstance(config_path, str):
            params = json.loads(files.read_json_object(config_path, "config file"))
            tenant = params.get("instance_name") if isinstance(params.get("instance_name"), str) else ""
            tenant = tenant or DEFAULT_INSTANCE_NAME
        else:
            tenants = json.loads(files.read_json_object(str(tenants_path), "tenants file")).get("tenants")
            if not isinstance(tenants, dict):
                raise InputError(f"tenants file {tenants_path} must hold a JSON object with a \"tenants\" object")
            params, tenant = tenants.get(tenant_name), str(tenant_name)
            if not isinstance(params, dict):
                raise InputError(f"unknown tenant {_quoted(tenant)}: the tenants file {tenants_path} has no such tenant")
    except files.FileError as error:
        raise InputError(str(error)) from None
    args: dict[str, object] = {
        "desired": {"format": "csv" if desired_path.lower().endswith(".csv") else "jsonl", "text": desired},
        "plan_id": options.get("--plan-id") or secrets.token_hex(8),
        "created": options.get("--created") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "tenant": tenant,
        "protect": options.get("--protect", []),
        "manage_groups": options.get("--manage-group", []),
    }
    for key in ("on-missing", "max-deprovision", "max-member-removals"):
        if f"--{key}" in options:
            args[key.replace("-", "_")] = options[f"--{key}"]
    host = _load_host(options.get("--component"))
    try:
        report = host.run("sync-plan", json.dumps(params, ensure_ascii=False), json.dumps(args, ensure_ascii=False),
                          limits=host.limits(SYNC_PLAN_LIMITS))
    except (UnusableInput, ComponentError) as error:
        raise InputError(str(error)) from None
    # The guest's log (each page it retries) stays unprinted, as under iam-host: a plan ends
    # with one line saying how it went (sync.md §2).
    entry = json.loads(report.entry_json)
    contents = entry.get("Contents") if isinstance(entry, dict) else None
    if report.is_error:
        failure = contents.get("failure") if isinstance(contents, dict) else None
        message = contents.get("message") if isinstance(contents, dict) else contents
        # "read", and a command the host stopped (its limits): no plan could be made from what
        # the directory gave (exit 1). Anything else is the input's: an unusable option, or an
        # instance the component or the gate refused (a token too short to scrub), exit 2.
        if failure != "read" and report.stop is None:
            raise InputError(str(message))
        _err(message if isinstance(message, str) else "the plan failed")
        return EXIT_ERROR
    if not (isinstance(contents, dict) and isinstance(contents.get("summary"), dict)
            and isinstance(contents.get("plan"), str)):
        _err("no plan was made: the component answered sync-plan without a plan")
        return EXIT_ERROR
    summary, blocked = contents["summary"], contents["summary"].get("blocked") or []
    try:
        files.write_atomically(out, contents["plan"].encode("utf-8"), True)
    except OSError as error:
        raise InputError(f"cannot write the plan {out}: {error.strerror or error}") from None
    if options.get("--json"):
        _out(json.dumps(summary, ensure_ascii=False, separators=(",", ":")))
    else:
        _out(str(entry.get("HumanReadable", "")).rstrip())
    if blocked:
        reasons = "; ".join(r if isinstance(r, str) else json.dumps(r) for r in blocked)
        _err(f"the plan is blocked ({reasons}); it is written to {out} for review, "
             "and apply refuses it without --force")
        return EXIT_BLOCKED
    return EXIT_NOTE


def _is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (ValueError, OSError):
        return False


def _out(text: str) -> None:
    """One line to stdout; a reader that went away (``… | head``) is no reason to fail."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass


def _err(text: str) -> None:
    try:
        sys.stderr.write(f"iam-host: {text}\n")
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    try:
        if words[:1] in (["-h"], ["--help"], ["help"]):
            _out(USAGE)
            return EXIT_NOTE
        if not words:
            raise UsageError("missing subcommand")
        if words[0] == "run":
            return run(words[1:])
        if words[0] == "describe":
            return describe(words[1:])
        if words[0] == "sync":
            return sync(words[1:])
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


def console() -> None:
    """The process's entry (``python -m iam_host``, ``iam-host-py``): it ends as soon as its
    output is flushed, leaving the interpreter nothing to tear down."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
