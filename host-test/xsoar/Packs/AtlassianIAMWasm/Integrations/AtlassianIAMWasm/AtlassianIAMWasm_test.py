"""Unit tests of the integration's own code: its command table, the parameters it adds (the
instance's name and the calling brand), its errors through return_error, the token of the
credentials parameter kept out of what XSOAR sees, XSOAR's mapping and the bundle importer.

Run by tests/e2e/xsoar_pack.rs with the Python host's venv, from this folder, with the
repository's XSOAR stand-in (tests/xsoar/stand-in: demistomock, CommonServerPython) and the
Python host (host-test/python) on PYTHONPATH, and IAM_HOST_COMPONENT naming the gated
component. The commands run in the component, replaying tests/cases' cassettes; expected
entries are those cases' expected.json. tests/xsoar/unified.sh runs the built script on every
case."""

import base64
import io
import json
import os
import sys
import zipfile
from pathlib import Path

import demistomock as demisto
import pytest

import AtlassianIAMWasm as integration

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[5]
CASES = REPO / 'tests' / 'cases'
YML = HERE / 'AtlassianIAMWasm.yml'
BRAND = 'Atlassian IAM WebAssembly (copy)'
INSTANCE = 'Atlassian IAM WebAssembly_prod'
TOKEN = 'creds-t0ken-5e9b1c7d'


def yml_commands() -> list:
    """The command names of the yml (the `name:` of each `script.commands` item)."""
    text = YML.read_text()
    commands = text.split('\nscript:\n  commands:\n')[1]
    return [line.split('name:')[1].strip() for line in commands.splitlines() if line.startswith('    name: ')]


def case(name: str) -> tuple:
    folder = CASES / name
    args = json.loads((folder / 'args.json').read_text()) if (folder / 'args.json').exists() else {}
    return ((folder / 'command.txt').read_text().strip(), json.loads((folder / 'config.json').read_text()), args,
            (folder / 'cassette.json').read_text(), json.loads((folder / 'expected.json').read_text()))


@pytest.fixture(scope='session')
def host():
    import iam_host

    return iam_host.Host(os.environ.get('IAM_HOST_COMPONENT') or None)


@pytest.fixture
def xsoar(host, monkeypatch):
    """XSOAR around the script: its mappers (XSOAR's SCIM mappers and the pack's), the host the
    script keeps on the iam_host module, each command replaying the cassette given. Returns
    run(command, params, args, cassette) -> (what the script posted, its log lines)."""
    import iam_host

    mappers = sorted((REPO / 'src' / 'mapper' / 'builtin').glob('*.json')) + sorted(
        (HERE.parents[1] / 'Classifiers').glob('*.json'))
    demisto.install_mappers([json.loads(path.read_text()) for path in mappers])
    monkeypatch.setattr(iam_host, 'XSOAR_HOST', host, raising=False)
    replay = {}
    original = type(host).run

    def replaying(command, config, args='{}', cassette=None, **options):
        assert cassette is None and not options, 'the script runs its commands live'
        report = original(host, command, config, args, cassette=replay['cassette'])
        assert report.replay_failure is None, report.replay_failure
        return report

    monkeypatch.setattr(host, 'run', replaying)

    def run(command: str, params: dict, args: dict, cassette: str = '{"interactions": []}', instance: str = INSTANCE,
            brand: str = BRAND) -> tuple:
        replay['cassette'] = cassette
        demisto.setup(command, params, args, instance, brand)
        try:
            integration.main()
        except SystemExit as exit:  # return_error ends the script, as XSOAR's does
            assert exit.code in (0, None)
        return list(demisto.posted), list(demisto.logged)

    return run


def as_xsoar_names_it(entry: dict) -> dict:
    """A case's expected entry, under the brand and instance the calling context names."""
    text = json.dumps(entry).replace('Atlassian IAM_instance_1', '\0')
    return json.loads(text.replace('Atlassian IAM', BRAND).replace('\0', INSTANCE))


def test_the_yml_declares_every_command_of_the_component_and_main_dispatches_each(host, xsoar, monkeypatch):
    yml = yml_commands()
    # `sync-plan` is the component's directory-sync planning, run by `iam-host sync plan`, not an
    # XSOAR command: the yml must not declare it.
    assert 'sync-plan' not in yml
    assert sorted(yml + ['test-module']) == sorted(c for c in host.commands if c != 'sync-plan')
    assert sorted(integration.COMMANDS) == sorted(yml + ['test-module'])
    ran = []

    class Report:
        entry = {'Type': 1, 'ContentsFormat': 'text', 'Contents': 'done'}
        log: list = []

    monkeypatch.setattr(host, 'run', lambda command, config, args: ran.append(command) or Report())
    for command in yml:
        posted, _ = xsoar(command, {'url': 'https://api.atlassian.com'}, {})
        assert posted == [Report.entry], command
    assert ran == yml


def test_the_yml_keeps_the_original_parameters_and_declares_the_group_commands_outputs():
    text = YML.read_text()
    # The Marketplace integration's parameters, so that an instance is configured the same way.
    for name in ['url', 'access_token', 'access_token_creds', 'directory_id', 'insecure', 'proxy',
                 'create_user_enabled', 'update_user_enabled', 'enable_user_enabled', 'disable_user_enabled',
                 'create_if_not_exists', 'mapper_in', 'mapper_out']:
        assert f'name: {name}\n' in text, name
    for key in ['GetGroup', 'CreateGroup', 'UpdateGroup', 'DeleteGroup']:
        for field in ['id', 'displayName', 'success', 'errorCode', 'errorMessage']:
            assert f'contextPath: {key}.{field}\n' in text, f'{key}.{field}'
    for argument in ['scim', 'includeMembers', 'memberIdsToAdd', 'memberIdsToDelete']:
        assert f'name: {argument}\n' in text, argument


def test_an_entry_is_the_components_under_the_calling_brand_and_instance(xsoar):
    command, params, args, cassette, expected = case('get_seed_example')
    del params['instance_name']  # XSOAR's parameters never name the instance
    posted, _ = xsoar(command, params, args, cassette)
    assert posted == [as_xsoar_names_it(expected)]
    assert posted[0]['Contents']['brand'] == BRAND and posted[0]['Contents']['instanceName'] == INSTANCE


def test_the_readmes_example_is_the_scripts_output_on_its_case(xsoar):
    """README.md's iam-get-user example (and command_examples.txt's line) is get_seed_example
    run through this script on an instance named as XSOAR names a first one."""
    command, params, args, cassette, _ = case('get_seed_example')
    del params['instance_name']
    readme = (HERE / 'README.md').read_text()
    example = '!iam-get-user user-profile=`' + args['user-profile'] + '`'
    assert f'```{example}```' in readme
    assert example in (HERE / 'command_examples.txt').read_text().splitlines()
    (entry,), _ = xsoar(command, params, args, cassette, instance='Atlassian IAM WebAssembly_instance_1',
                        brand='Atlassian IAM WebAssembly')
    shown = readme.split(f'```{example}```')[1].split('#### Human Readable Output\n\n')[1].split('\n\n###')[0]
    assert shown == '\n'.join('>' + line for line in entry['HumanReadable'].rstrip('\n').split('\n'))
    context = json.loads(readme.split(f'```{example}```')[1].split('```json\n')[1].split('```')[0])
    profile = entry['EntryContext']['IAM.UserProfile(val.email && val.email == obj.email)']
    assert context == {'IAM': {'UserProfile': profile, 'Vendor': entry['Contents']}}


def test_the_parameters_carry_the_instance_name_and_ask_for_xsoars_mapping_under_the_calling_brand():
    demisto.setup('iam-get-user', {}, {}, INSTANCE, BRAND)
    params = {'url': 'https://api.atlassian.com', 'mapper_out': 'My Outgoing'}
    assert integration.instance_parameters(params) == {
        'url': 'https://api.atlassian.com', 'mapper_out': 'My Outgoing', 'instance_name': INSTANCE,
        'platform': {'mapping': True, 'brand': BRAND},
    }
    assert 'platform' not in params  # XSOAR's own dictionary is left alone


def test_an_error_entry_goes_through_return_error(xsoar):
    command, params, args, cassette, expected = case('test_module_401_names_the_status')
    posted, _ = xsoar(command, params, args, cassette)
    assert posted == [{'Type': 4, 'ContentsFormat': 'text', 'Contents': expected['Contents'], 'EntryContext': None}]


def test_test_module_passing_posts_ok(xsoar):
    command, params, args, cassette, expected = case('test_module_ok')
    assert expected['Type'] == 1
    assert xsoar(command, params, args, cassette)[0] == ['ok']


def test_an_unknown_command_is_an_error_entry(xsoar):
    posted, _ = xsoar('fetch-incidents', {'url': 'https://api.atlassian.com'}, {})
    assert posted == [{'Type': 4, 'ContentsFormat': 'text', 'EntryContext': None,
                       'Contents': 'Failed to execute fetch-incidents command.\nError:\n'
                                   'Command fetch-incidents is not implemented'}]


def credentials_params(name: str) -> dict:
    """A case's parameters with the token given as XSOAR's credentials parameter does."""
    params = {key: value for key, value in case(name)[1].items() if key != 'access_token'}
    params['access_token_creds'] = {'identifier': '', 'password': TOKEN}
    return params


def test_the_token_of_the_credentials_parameter_is_never_shown(xsoar):
    command, _, args, cassette, expected = case('get_seed_example')
    # The directory echoes the token in an answer: the gate scrubs it before the component sees it.
    echoing = cassette.replace('"Team Lead"', json.dumps(f'Lead ({TOKEN})'))
    assert echoing != cassette
    posted, logged = xsoar(command, credentials_params('get_seed_example'), args, echoing)
    assert posted[0]['Type'] == 1 and posted[0]['Contents']['success'] is True, posted
    assert posted[0]['Contents']['id'] == expected['Contents']['id']
    assert 'Lead (' in json.dumps(posted)
    failed, failed_log = xsoar('test-module', credentials_params('test_module_401_names_the_status'), {},
                               case('test_module_401_names_the_status')[3])
    assert failed[0]['Type'] == 4
    assert TOKEN not in json.dumps([posted, logged, failed, failed_log])


def test_map_object_is_xsoars(monkeypatch):
    calls = []
    monkeypatch.setattr(demisto, 'mapObject', lambda *call: calls.append(call) or {'userName': 'jdoe'})
    assert integration.map_object({'username': 'jdoe'}, 'My Outgoing', 'User Profile - Create') == {'userName': 'jdoe'}
    assert calls == [({'username': 'jdoe'}, 'My Outgoing', 'User Profile - Create')]


@pytest.fixture
def no_iam_host(monkeypatch):
    """iam_host and any bundle importer as they were, after a test that imports a bundle."""
    for name in [name for name in sys.modules if name.split('.')[0] == 'iam_host']:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, 'meta_path', list(sys.meta_path))


def test_the_bundle_importer_imports_packages_and_modules_from_memory(no_iam_host):
    files = {'iam_host/__init__.py': b'from .inner import VALUE\n', 'iam_host/inner.py': b'VALUE = __file__\n'}
    sys.meta_path.insert(0, integration.BundleImporter(files))
    import iam_host

    assert iam_host.VALUE == '/bundled/AtlassianIAMWasm/iam_host/inner.py'


def a_bundle(init: str, component: bytes) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w') as bundle:
        bundle.writestr('iam_host/__init__.py', init)
        bundle.writestr(integration.BUNDLED_COMPONENT, component)
    return base64.b64encode(buffer.getvalue()).decode()


def test_a_bundle_holds_the_component_apart_from_the_modules(no_iam_host, monkeypatch):
    monkeypatch.setattr(integration, 'IAM_HOST_BUNDLE', a_bundle('class Host:\n    pass\n', b'\0asm'))
    module, component = integration.load_iam_host()
    assert component == b'\0asm' and hasattr(module, 'Host')
    assert integration.load_iam_host() == (module, component)  # kept loaded: the next command's


def test_another_versions_bundle_or_an_iam_host_from_disk_is_not_reused(no_iam_host, monkeypatch):
    # XSOAR keeps a container's modules across scripts: after a pack upgrade that keeps the image,
    # the new script must run its own modules and component (and so its own host), not the old.
    monkeypatch.setattr(integration, 'IAM_HOST_BUNDLE', a_bundle('VERSION = 1\n', b'\0asm-1'))
    old, _ = integration.load_iam_host()
    old.XSOAR_HOST = 'the old version\'s host'
    monkeypatch.setattr(integration, 'IAM_HOST_BUNDLE', a_bundle('VERSION = 2\n', b'\0asm-2'))
    new, component = integration.load_iam_host()
    assert (new.VERSION, component, getattr(new, 'XSOAR_HOST', None)) == (2, b'\0asm-2', None)
    assert sum(getattr(finder, 'IAM_HOST_BUNDLE_IMPORTER', False) for finder in sys.meta_path) == 1
    # An iam_host some other code imported from disk is not the bundle's either.
    disk = type(sys)('iam_host')
    disk.VERSION, disk.XSOAR_COMPONENT = 'disk', b'\0asm-disk'
    monkeypatch.setitem(sys.modules, 'iam_host', disk)
    module, component = integration.load_iam_host()
    assert (module.VERSION, component) == (2, b'\0asm-2')
