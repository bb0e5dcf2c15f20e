// The command-line contract of iam-host.mjs (architecture.md): one JSON document on stdout,
// exit 2 for usage and file errors, exit 3 with the expected and actual request when replay
// fails. Runs the real component: IAM_COMPONENT names it (the Rust test passes the one it
// built), else the repository's default is used (and built when missing).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const HOST = join(HERE, '..', 'iam-host.mjs');
const SEED = join(HERE, '..', '..', 'cases', 'get_seed_example');
const seed = (file) => join(SEED, file);
const TEMP = mkdtempSync(join(tmpdir(), 'iam-js-cli-'));

function tempFile(name, text) {
  const path = join(TEMP, name);
  writeFileSync(path, text);
  return path;
}

function host(...args) {
  // The component under test goes right after the command, unless the check names its own
  // or has no command to run.
  const runs = args[0] === 'run' && args.length > 1 && !args.includes('--component');
  const component = process.env.IAM_COMPONENT && runs ? ['--component', process.env.IAM_COMPONENT] : [];
  const words = [...args.slice(0, 2), ...component, ...args.slice(2)];
  const result = spawnSync(process.execPath, [HOST, ...words], { encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The seed case with its cassette replaced. */
function runSeedWith(cassette) {
  const path = tempFile(`cassette-${Math.random().toString(36).slice(2)}.json`, JSON.stringify(cassette));
  return host('run', 'iam-get-user', '--config', seed('config.json'), '--args', seed('args.json'), '--cassette', path);
}

const seedCassette = () => JSON.parse(readFileSync(seed('cassette.json'), 'utf8'));

test('stdout is one JSON document and the exit status follows the entry type', () => {
  const out = host('run', 'iam-get-user', '--config', seed('config.json'), '--args', seed('args.json'), '--cassette', seed('cassette.json'));
  assert.equal(out.code, 0, out.stderr);
  assert.ok(out.stdout.endsWith('}\n'));
  assert.equal(JSON.parse(out.stdout).Type, 1);
});

test('usage errors exit 2 with the reason on stderr and nothing on stdout', () => {
  const config = seed('config.json');
  const cassette = seed('cassette.json');
  const cases = [
    [[], 'usage: node tests/js/iam-host.mjs run'],
    [['frobnicate'], 'unknown subcommand "frobnicate"'],
    [['run'], 'missing <COMMAND>'],
    [['run', 'iam-delete-user', '--config', config, '--cassette', cassette], 'unknown command "iam-delete-user"'],
    [['run', 'iam-get-user', '--cassette', cassette], '--config <config.json> is required'],
    [['run', 'iam-get-user', '--config', config], 'give --cassette <file>'],
    [['run', 'iam-get-user', '--config', config, '--cassette', cassette, '--bogus'], 'unexpected argument "--bogus"'],
    [['run', 'iam-get-user', '--config', config, '--cassette'], '--cassette needs a value'],
    [['run', 'iam-get-user', '--config', config, '--live'], '--live is not available in the Node.js host'],
  ];
  for (const [args, message] of cases) {
    const out = host(...args);
    assert.equal(out.code, 2, `${args}: ${out.stderr}`);
    assert.equal(out.stdout, '', `${args}`);
    assert.ok(out.stderr.includes(message), `${args}: stderr lacks ${message}: ${out.stderr}`);
  }
});

test('unreadable and invalid files exit 2 naming the file', () => {
  const config = seed('config.json');
  const cassette = seed('cassette.json');
  const notJson = tempFile('not-json.json', '{nope');
  const array = tempFile('array.json', '[1]');
  const badCassette = tempFile('bad-cassette.json', '{"interactions": [{"request": {"method": "GET"}}]}');
  const checks = [
    [['--config', '/nonexistent/config.json', '--cassette', cassette], 'cannot read config file /nonexistent/config.json'],
    [['--config', notJson, '--cassette', cassette], `config file ${notJson} is not valid JSON`],
    [['--config', array, '--cassette', cassette], 'must hold a JSON object'],
    [['--config', config, '--args', notJson, '--cassette', cassette], 'args file'],
    [['--config', config, '--cassette', badCassette], 'is not valid'],
    [['--config', config, '--cassette', notJson], 'is not valid'],
    [['--config', config, '--cassette', cassette, '--component', '/nonexistent/c.wasm'], 'cannot read component /nonexistent/c.wasm'],
  ];
  for (const [args, message] of checks) {
    const out = host('run', 'iam-get-user', ...args);
    assert.equal(out.code, 2, `${args}: ${out.stderr}`);
    assert.equal(out.stdout, '');
    assert.ok(out.stderr.includes(message), `${args}: ${out.stderr}`);
  }
});

test('a request that does not match exits 3 with the expected and actual request', () => {
  const cassette = seedCassette();
  cassette.interactions[0].request.url = cassette.interactions[0].request.url.replace('testDemisto', 'someoneElse');
  const out = runSeedWith(cassette);
  assert.equal(out.code, 3, out.stderr);
  assert.equal(out.stdout, '');
  assert.match(out.stderr, /request #1 does not match the recorded interaction: the query parameters differ/);
  assert.match(out.stderr, /expected: GET https:\/\/api\.atlassian\.com\/.*someoneElse/);
  assert.match(out.stderr, /actual: {3}GET https:\/\/api\.atlassian\.com\/.*testDemisto/);
});

test('a request beyond the cassette exits 3', () => {
  const out = runSeedWith({ interactions: [] });
  assert.equal(out.code, 3, out.stderr);
  assert.match(out.stderr, /request #1 matched no recorded interaction \(the cassette has only 0\)/);
});

test('recorded interactions left unused exit 3', () => {
  const cassette = seedCassette();
  cassette.interactions.push(cassette.interactions[0]);
  const out = runSeedWith(cassette);
  assert.equal(out.code, 3, out.stderr);
  assert.equal(out.stdout, '');
  assert.match(out.stderr, /1 recorded interaction\(s\) were not used; the first: GET /);
});

test('a recorded header the host does not send exits 3', () => {
  const cassette = seedCassette();
  cassette.interactions[0].request.headers.authorization = 'Basic <redacted>';
  const out = runSeedWith(cassette);
  assert.equal(out.code, 3, out.stderr);
  assert.match(out.stderr, /header "authorization" is not "Basic <redacted>"/);
});
