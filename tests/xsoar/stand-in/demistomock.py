"""A stand-in for XSOAR's ``demistomock`` (the ``demisto`` object a script sees), for running the
integration's unified script outside XSOAR (tests/xsoar/run_unified.py). It has what the
script calls, backed by module state that the runner sets per command: ``params``, ``args``,
``command``, ``integrationInstance``, ``callingContext``, ``results`` (kept in ``posted``),
``debug``/``error`` and ``mapObject`` (XSOAR's mapping, by xsoar_mappers.py over the mappers
installed with ``install_mappers``)."""

import xsoar_mappers

_command = ""
_params: dict = {}
_args: dict = {}
_instance = ""
#: What XSOAR gives a script about who runs it: the instance's brand and name.
callingContext: dict = {}  # noqa: N816 - XSOAR's name
#: What the script posted with ``results``, in order.
posted: list = []
#: Its debug and error log lines.
logged: list = []
#: Every demisto.mapObject call: (object, mapper name, incident type).
mapped: list = []
_mappers = xsoar_mappers.Mappers([])


def setup(command: str, params: dict, args: dict, instance: str, brand: str) -> None:
    """The next command, as XSOAR would start it on the instance ``instance`` of ``brand``."""
    global _command, _params, _args, _instance, callingContext
    _command, _params, _args, _instance = command, params, args, instance
    callingContext = {"context": {"IntegrationBrand": brand, "IntegrationInstance": instance}}
    posted.clear()
    logged.clear()
    mapped.clear()


def install_mappers(definitions: list) -> None:
    """The mappers XSOAR knows (XSOAR mapper JSON objects): its own, the pack's, the admin's."""
    global _mappers
    _mappers = xsoar_mappers.Mappers(definitions)


def command():
    return _command


def params():
    return _params


def args():
    return _args


def integrationInstance():  # noqa: N802 - XSOAR's name
    return _instance


def results(entry):
    posted.append(entry)


def debug(message):
    logged.append(("debug", message))


def error(message):
    logged.append(("error", message))


def info(message):
    logged.append(("info", message))


def mapObject(obj, mapper, incident_type):  # noqa: N802 - XSOAR's name
    mapped.append((obj, mapper, incident_type))
    return _mappers.map(obj, mapper, incident_type)
