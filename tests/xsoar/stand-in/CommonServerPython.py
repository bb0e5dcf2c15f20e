"""A stand-in for XSOAR's ``CommonServerPython``: the names the integration's unified script
uses, with XSOAR's behaviour. ``return_error`` posts XSOAR's error entry (Type 4, text, the
message, ``EntryContext`` None) and ends the script with ``sys.exit(0)``; ``return_results``
posts a dict or a string as it is; ``register_module_line``/``__line__`` are what
``demisto-sdk prepare-content`` adds around a unified script."""

import inspect
import sys

import demistomock as demisto


class EntryType:
    NOTE = 1
    ERROR = 4


class EntryFormat:
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


entryTypes = {"note": EntryType.NOTE, "error": EntryType.ERROR}  # noqa: N816 - XSOAR's name
formats = {"text": EntryFormat.TEXT, "json": EntryFormat.JSON, "markdown": EntryFormat.MARKDOWN}


class DemistoException(Exception):
    pass


class CommandResults:
    """Not used by the script: present so that a script using it fails loudly here too."""

    def __init__(self, **kwargs):
        raise NotImplementedError("the stand-in has no CommandResults")


def return_error(message, error="", outputs=None):
    demisto.results({"Type": entryTypes["error"], "ContentsFormat": formats["text"], "Contents": str(message),
                     "EntryContext": outputs})
    sys.exit(0)


def return_results(results):
    if isinstance(results, (dict, str)):
        demisto.results(results)
    else:
        raise NotImplementedError(f"the stand-in posts dicts and strings, not {type(results).__name__}")


def register_module_line(module_name, start_end, line, wrapper=0):
    if start_end not in ("start", "end"):
        raise ValueError(f"register_module_line: {start_end!r}")


def __line__():
    return inspect.currentframe().f_back.f_lineno


__all__ = ["demisto", "EntryType", "EntryFormat", "entryTypes", "formats", "DemistoException", "CommandResults",
           "return_error", "return_results", "register_module_line", "__line__"]
