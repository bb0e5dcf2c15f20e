"""A small stand-in for XSOAR's ``demistomock`` module, for the integration's tests only:
what the integration calls, backed by module state that a test sets and reads."""

_command = ""
_params: dict = {}
_args: dict = {}
_instance = ""
results_log: list = []
debug_log: list = []


def setup(command, params, args, instance="Atlassian IAM_instance_1"):
    global _command, _params, _args, _instance
    _command, _params, _args, _instance = command, params, args, instance
    results_log.clear()
    debug_log.clear()


def command():
    return _command


def params():
    return _params


def args():
    return _args


def integrationInstance():  # noqa: N802 - XSOAR's name
    return _instance


def results(entry):
    results_log.append(entry)


def debug(message):
    debug_log.append(message)


def error(message):
    debug_log.append(message)
