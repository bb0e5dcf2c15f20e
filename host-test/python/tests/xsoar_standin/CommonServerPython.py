"""A small stand-in for XSOAR's ``CommonServerPython``, for the integration's tests only: the
names the integration uses, with XSOAR's behaviour (``return_error`` posts an error entry and
exits)."""

import sys

import demistomock as demisto


class EntryType:
    NOTE = 1
    ERROR = 4


class EntryFormat:
    TEXT = "text"
    JSON = "json"


def return_error(message, error="", outputs=None):
    demisto.results({"Type": EntryType.ERROR, "ContentsFormat": EntryFormat.TEXT, "Contents": str(message)})
    sys.exit(0)


def return_results(results):
    demisto.results(results)


__all__ = ["demisto", "EntryType", "EntryFormat", "return_error", "return_results"]
