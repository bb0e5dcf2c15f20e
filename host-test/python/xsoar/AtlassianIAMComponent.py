import demistomock as demisto  # noqa: F401
from CommonServerPython import *  # noqa: F401

"""Atlassian IAM (WebAssembly component)

A drop-in Cortex XSOAR IAM integration for Atlassian's SCIM 2.0 user-provisioning API. The
command logic, the SCIM client, the mappers and the war-room entry live in a WebAssembly
component (iam:atlassian@0.3.0, the connector composed with its gate) run by the ``iam_host``
package: this script hands it the command, the instance parameters and the arguments, and
returns the entry it renders.

The connector never holds the access token: the gate attaches it to each request after
checking it against the instance's own URL, and scrubs it from every answer. The Docker image
needs Python with ``iam_host`` installed (see the integration's description).
"""

import iam_host

BRAND = 'Atlassian IAM'


def instance_parameters(params: dict, instance_name: str) -> dict:
    """The instance parameters as the component reads them: XSOAR's, plus the instance's
    name, which the component shows as ``instanceName``."""
    parameters = dict(params or {})
    if instance_name and not parameters.get('instance_name'):
        parameters['instance_name'] = instance_name
    return parameters


def run_component(command: str, params: dict, args: dict, instance_name: str) -> dict:
    """Run one command live through the component; its entry, as the component gave it."""
    report = iam_host.default_host().run(command, instance_parameters(params, instance_name), args or {})
    for level, message in report.log:
        demisto.debug(f'{BRAND} component {level}: {message}')
    return report.entry


def main():
    command = demisto.command()
    params = demisto.params()
    args = demisto.args()
    demisto.debug(f'Command being called is {command}')

    try:
        entry = run_component(command, params, args, demisto.integrationInstance())
    except iam_host.UnknownCommand as error:
        return_error(str(error))
        return
    except Exception as error:  # the host could not run the command at all
        return_error(f'Failed to execute {command} command. Error: {error}', error=error)
        return

    if entry.get('Type') == EntryType.ERROR:
        return_error(entry.get('Contents'))
    elif command == 'test-module':
        demisto.results('ok')
    else:
        demisto.results(entry)


if __name__ in ('__main__', '__builtin__', 'builtins'):
    main()
