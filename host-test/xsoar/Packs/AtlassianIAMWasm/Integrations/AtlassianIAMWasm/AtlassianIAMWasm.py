import demistomock as demisto  # noqa: F401
from CommonServerPython import *  # noqa: F401

"""Atlassian IAM WebAssembly

Cortex XSOAR IAM integration for Atlassian's SCIM 2.0 user-provisioning API. The command logic,
the SCIM client and the war-room entry live in a WebAssembly component (the connector composed
with its gate) run by the ``iam_host`` Python host on wasmtime. Both travel inside this script
(``IAM_HOST_BUNDLE``, filled in when the pack is built): the Docker image needs only
``wasmtime`` beside ``demisto/python3``'s packages.

The connector never holds the access token: the gate attaches it to each request to the
instance's own URL and scrubs it from every answer. Mapping is XSOAR's: the connector asks
``demisto.mapObject`` with the instance's mapper names, as the original integration does.
"""

import base64
import importlib.abc
import importlib.util
import io
import sys
import zipfile
from typing import Any

#: The ``iam_host`` package and the gated component, as a base64 zip. Empty in the source tree,
#: where ``iam_host`` is imported as installed; host-test/xsoar/build.sh fills it in when it
#: makes the unified yml and the pack zip.
IAM_HOST_BUNDLE = ''
#: The component's name inside the bundle.
BUNDLED_COMPONENT = 'atlassian_iam_gated.wasm'
#: Where the bundled modules say they come from (no such folder exists; nothing is read there).
BUNDLE_ORIGIN = '/bundled/AtlassianIAMWasm'


class BundleImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``iam_host`` from the bundle's files, in memory: nothing is written or read."""

    #: Marks an importer of any run of this script (each run defines the class afresh).
    IAM_HOST_BUNDLE_IMPORTER = True

    def __init__(self, files: dict):
        self.files = files

    def _source(self, fullname: str):
        base = fullname.replace('.', '/')
        for name, is_package in ((base + '/__init__.py', True), (base + '.py', False)):
            if name in self.files:
                return name, is_package
        return None, False

    def find_spec(self, fullname, path=None, target=None):
        if fullname.split('.')[0] != 'iam_host':
            return None
        name, is_package = self._source(fullname)
        if name is None:
            return None
        return importlib.util.spec_from_loader(fullname, self, origin=f'{BUNDLE_ORIGIN}/{name}', is_package=is_package)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        name, _ = self._source(module.__name__)
        module.__file__ = f'{BUNDLE_ORIGIN}/{name}'
        exec(compile(self.files[name], module.__file__, 'exec'), module.__dict__)  # noqa: S102 - our own bundled modules


def load_iam_host() -> tuple:
    """The ``iam_host`` module and the component to give its ``Host``: from the bundle inside
    this script, else the installed package and its own component (None)."""
    try:
        import wasmtime  # noqa: F401
    except ImportError:
        raise DemistoException('This integration needs the wasmtime package, which demisto/ images do not have: '
                               'set its Docker image to the one its help describes (wasmtime==50.0.1 on demisto/python3).')
    if not IAM_HOST_BUNDLE:
        import iam_host
        return iam_host, None
    loaded = sys.modules.get('iam_host')
    if loaded is not None and getattr(loaded, 'XSOAR_BUNDLE', None) == IAM_HOST_BUNDLE:
        return loaded, loaded.XSOAR_COMPONENT
    # Not this script's bundle: none yet, another version's (a container outlives a pack
    # upgrade that keeps the image), or an iam_host imported from disk. Drop it and its
    # importer, so that this script runs its own modules, component and host.
    for name in [name for name in sys.modules if name.split('.')[0] == 'iam_host']:
        del sys.modules[name]
    sys.meta_path[:] = [finder for finder in sys.meta_path
                        if not getattr(finder, 'IAM_HOST_BUNDLE_IMPORTER', False)]
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(IAM_HOST_BUNDLE))) as bundle:
        files = {name: bundle.read(name) for name in bundle.namelist()}
    component = files.pop(BUNDLED_COMPONENT)
    sys.meta_path.insert(0, BundleImporter(files))
    import iam_host
    iam_host.XSOAR_BUNDLE, iam_host.XSOAR_COMPONENT = IAM_HOST_BUNDLE, component
    return iam_host, component


def map_object(obj: dict, mapper: str, incident_type: str) -> dict:
    """The platform's mapping, as the original integration maps (``platform.map-object``)."""
    return demisto.mapObject(obj, mapper, incident_type)


def get_host() -> Any:
    """The host, loaded once per container. XSOAR runs this script's code afresh for each
    command but keeps imported modules loaded, so the host is kept on the ``iam_host`` module:
    the component is compiled (or read from the image's cache) once, not per command. Its
    mapper is this run's ``demisto.mapObject``."""
    iam_host, component = load_iam_host()
    host = getattr(iam_host, 'XSOAR_HOST', None)
    if host is None:
        host = iam_host.XSOAR_HOST = iam_host.Host(component, map_object=map_object)
    host.map_object = map_object
    return host


def calling_context(key: str) -> str:
    context = (getattr(demisto, 'callingContext', None) or {}).get('context') or {}
    return context.get(key) or ''


def instance_parameters(params: dict) -> dict:
    """The instance parameters as the component reads them: XSOAR's, plus the calling context
    (the instance's name, and ``platform``: map with XSOAR's mappers, under the calling brand)."""
    parameters = dict(params or {})
    instance_name = demisto.integrationInstance() or calling_context('IntegrationInstance')
    if instance_name and not parameters.get('instance_name'):
        parameters['instance_name'] = instance_name
    platform: dict = {'mapping': True}
    brand = calling_context('IntegrationBrand')
    if brand:
        platform['brand'] = brand
    parameters['platform'] = platform
    return parameters


def run_component(command: str, params: dict, args: dict) -> dict:
    """Run one command live through the component; its entry, as the component gave it."""
    report = get_host().run(command, instance_parameters(params), args or {})
    for level, message in report.log:
        demisto.debug(f'component {level}: {message}')
    return report.entry


def iam_command(command: str, params: dict, args: dict) -> None:
    """Every command of the yml: the component's entry, posted as XSOAR expects it."""
    entry = run_component(command, params, args)
    if entry.get('Type') == EntryType.ERROR:
        return_error(entry.get('Contents'))
    elif command == 'test-module':
        return_results('ok')
    else:
        return_results(entry)


#: The commands of the yml, each run by the component.
COMMANDS = {
    'test-module': iam_command,
    'get-mapping-fields': iam_command,
    'iam-get-user': iam_command,
    'iam-create-user': iam_command,
    'iam-update-user': iam_command,
    'iam-disable-user': iam_command,
    'iam-get-group': iam_command,
    'iam-create-group': iam_command,
    'iam-update-group': iam_command,
    'iam-delete-group': iam_command,
}


def main():
    command = demisto.command()
    demisto.debug(f'Command being called is {command}')
    try:
        if command not in COMMANDS:
            raise NotImplementedError(f'Command {command} is not implemented')
        COMMANDS[command](command, demisto.params(), demisto.args())
    except Exception as error:
        return_error(f'Failed to execute {command} command.\nError:\n{error}', error=error)


if __name__ in ('__main__', '__builtin__', 'builtins'):
    main()
