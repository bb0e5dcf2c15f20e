"""Unit tests of the integration's own code: what it adds to the parameters, its command table
and the bundle importer. The commands themselves run in the component; host-test/xsoar's tests
run the built script on every case of tests/cases."""

import base64
import io
import sys
import zipfile

import demistomock as demisto
import pytest

import AtlassianIAMWasm as integration


@pytest.fixture
def context(mocker):
    mocker.patch.object(demisto, 'integrationInstance', return_value='Atlassian IAM WebAssembly_instance_1')
    mocker.patch.object(demisto, 'callingContext',
                        {'context': {'IntegrationBrand': 'Atlassian IAM WebAssembly',
                                     'IntegrationInstance': 'Atlassian IAM WebAssembly_instance_1'}})


def test_the_parameters_carry_the_instance_name_and_ask_for_xsoars_mapping_under_the_calling_brand(context):
    params = {'url': 'https://api.atlassian.com', 'mapper_out': 'My Outgoing'}
    assert integration.instance_parameters(params) == {
        'url': 'https://api.atlassian.com', 'mapper_out': 'My Outgoing',
        'instance_name': 'Atlassian IAM WebAssembly_instance_1',
        'platform': {'mapping': True, 'brand': 'Atlassian IAM WebAssembly'},
    }
    assert 'platform' not in params  # XSOAR's own dictionary is left alone


def test_every_command_of_the_yml_is_implemented():
    with open('AtlassianIAMWasm.yml') as yml:
        names = [line.split('name:')[1].strip() for line in yml if line.startswith('    name: ')]
    assert sorted(integration.COMMANDS) == sorted(names + ['test-module'])


def test_map_object_is_xsoars(mocker):
    mapped = mocker.patch.object(demisto, 'mapObject', return_value={'userName': 'jdoe'})
    assert integration.map_object({'username': 'jdoe'}, 'My Outgoing', 'User Profile - Create') == {'userName': 'jdoe'}
    mapped.assert_called_once_with({'username': 'jdoe'}, 'My Outgoing', 'User Profile - Create')


def test_the_bundle_importer_imports_packages_and_modules_from_memory():
    files = {'iam_host/__init__.py': b'from .inner import VALUE\n', 'iam_host/inner.py': b'VALUE = __file__\n'}
    importer = integration.BundleImporter(files)
    sys.meta_path.insert(0, importer)
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if name.split('.')[0] == 'iam_host'}
    try:
        import iam_host
        assert iam_host.VALUE == '/bundled/AtlassianIAMWasm/iam_host/inner.py'
    finally:
        sys.meta_path.remove(importer)
        for name in [name for name in sys.modules if name.split('.')[0] == 'iam_host']:
            del sys.modules[name]
        sys.modules.update(saved)


def test_a_bundle_holds_the_component_apart_from_the_modules(mocker):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as bundle:
        bundle.writestr('iam_host/__init__.py', 'class Host:\n    pass\n')
        bundle.writestr(integration.BUNDLED_COMPONENT, b'\0asm')
    mocker.patch.object(integration, 'IAM_HOST_BUNDLE', base64.b64encode(buffer.getvalue()).decode())
    saved = {name: sys.modules.pop(name) for name in list(sys.modules) if name.split('.')[0] == 'iam_host'}
    try:
        module, component = integration.load_iam_host()
        assert component == b'\0asm' and hasattr(module, 'Host')
    finally:
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, integration.BundleImporter)]
        for name in [name for name in sys.modules if name.split('.')[0] == 'iam_host']:
            del sys.modules[name]
        sys.modules.update(saved)
