// This host's own job, through its command line: stdout carries exactly the entry, exit
// statuses, usage errors, files (only regular ones, read with caps: a FIFO ends at once), the
// recording's target refused before anything is read, and the engine's limits. What the
// gate decides (policy, scrubbing, matching, budgets) is the gate's to test, in Rust.
//
// IAM_COMPONENT names the gated component (the Rust test passes the one it composed); else
// the repository's default is used (and composed when missing).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const HOST = join(HERE, '..', 'iam-host.mjs');
const SEED = join(HERE, '..', '..', '..', 'tests', 'cases', 'get_seed_example');
const seed = (file) => join(SEED, file);
const TEMP = mkdtempSync(join(tmpdir(), 'iam-node-cli-'));
after(() => rmSync(TEMP, { recursive: true, force: true }));

function tempFile(name, text) {
  const path = join(TEMP, name);
  writeFileSync(path, text);
  return path;
}

/** The host with these words; the component under test goes in after the command unless the
 * words name one. */
export function host(words, options = {}) {
  const component = process.env.IAM_COMPONENT && words[0] === 'run' && !words.includes('--component') ? ['--component', process.env.IAM_COMPONENT] : [];
  const started = Date.now();
  const result = spawnSync(process.execPath, [HOST, ...words.slice(0, 2), ...component, ...words.slice(2)], { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, millis: Date.now() - started };
}

const seedRun = (...more) => ['run', 'iam-get-user', '--config', seed('config.json'), '--args', seed('args.json'), ...more];

/** The one line a file error prints, and no entry. */
function assertOneLine(out, message) {
  assert.equal(out.code, 2, out.stderr);
  assert.equal(out.stdout, '');
  assert.equal(out.stderr.trimEnd().split('\n').length, 1, out.stderr);
  assert.ok(out.stderr.includes(message), `stderr lacks ${message}: ${out.stderr}`);
}

test('stdout is exactly the entry the component wrote, and the exit status follows its type', () => {
  const out = host(seedRun('--cassette', seed('cassette.json')));
  assert.equal(out.code, 0, out.stderr);
  assert.ok(out.stdout.endsWith('}\n') && !out.stdout.slice(0, -1).includes('\n'));
  const expected = JSON.parse(readFileSync(seed('expected.json'), 'utf8'));
  assert.deepEqual(JSON.parse(out.stdout), expected);
  // A Type 4 entry (a configuration the component refuses) exits 1.
  const config = tempFile('no-url.json', JSON.stringify({ access_token: 'fake-directory-api-key', url: 'ftp://nowhere' }));
  const refused = host(['run', 'test-module', '--config', config, '--cassette', tempFile('none.json', '{"interactions": []}')]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.equal(JSON.parse(refused.stdout).Type, 4);
});

test('usage errors exit 2 with the reason on stderr and nothing on stdout', () => {
  const config = seed('config.json');
  const cassette = seed('cassette.json');
  const cases = [
    [[], 'missing subcommand: run'],
    [['frobnicate'], 'unknown subcommand "frobnicate"'],
    [['run'], 'missing <COMMAND>'],
    [['run', 'iam-delete-user', '--config', config, '--cassette', cassette], 'unknown command "iam-delete-user"; expected one of iam-get-user,'],
    [['run', 'iam-get-user', '--cassette', cassette], '--config <config.json> is required'],
    [['run', 'iam-get-user', '--config', config], 'give --cassette <file> or --live'],
    [['run', 'iam-get-user', '--config', config, '--cassette', cassette, '--live'], '--cassette excludes --live and --record'],
    [['run', 'iam-get-user', '--config', config, '--record', join(TEMP, 'r.json')], '--record needs --live'],
    [['run', 'iam-get-user', '--config', config, '--live', '--overwrite'], '--overwrite goes with --record'],
    [['run', 'iam-get-user', '--config', config, '--config', config, '--live'], '--config given more than once'],
    [['run', 'iam-get-user', '--config', config, '--cassette', cassette, '--bogus'], 'unexpected argument "--bogus"'],
    [['run', 'iam-get-user', 'extra', '--config', config, '--live'], 'unexpected argument "extra"'],
    [['run', 'iam-get-user', '--config', config, '--cassette'], '--cassette needs a value'],
    [['run', 'iam-get-user', '--config', config, '--live=yes'], '--live takes no value'],
  ];
  for (const [words, message] of cases) {
    const out = host(words);
    assert.equal(out.code, 2, `${words}: ${out.stderr}`);
    assert.equal(out.stdout, '', `${words}`);
    assert.ok(out.stderr.startsWith(`iam-host.mjs: ${message}`), `${words}: stderr lacks ${message}: ${out.stderr}`);
  }
  const help = host(['--help']);
  assert.equal(help.code, 0);
  assert.ok(help.stdout.startsWith('usage: node host-test/node/iam-host.mjs run <COMMAND>'));
});

test('--flag=value is the same as --flag value', () => {
  const out = host(['run', 'iam-get-user', `--config=${seed('config.json')}`, `--args=${seed('args.json')}`, `--cassette=${seed('cassette.json')}`]);
  assert.equal(out.code, 0, out.stderr);
});

test('unreadable and invalid files exit 2 with one line naming the file', () => {
  const config = seed('config.json');
  const cassette = seed('cassette.json');
  const notJson = tempFile('not-json.json', '{nope');
  const array = tempFile('array.json', '[1]');
  const badCassette = tempFile('bad-cassette.json', '{"interactions": [{"request": {"method": "GET"}}]}');
  const checks = [
    [['--config', '/nonexistent/config.json', '--cassette', cassette], 'cannot read config file /nonexistent/config.json: ENOENT'],
    [['--config', notJson, '--cassette', cassette], `config file ${notJson} is not valid JSON`],
    [['--config', array, '--cassette', cassette], `config file ${array} must hold a JSON object`],
    [['--config', tempFile('latin1.json', Buffer.from([0x7b, 0xe9, 0x7d])), '--cassette', cassette], 'is not UTF-8 text'],
    [['--config', config, '--args', notJson, '--cassette', cassette], `args file ${notJson} is not valid JSON`],
    [['--config', config, '--args', ' {"a": ', '--cassette', cassette], '--args is not valid JSON'],
    [['--config', config, '--args', '/nonexistent/args.json', '--cassette', cassette], 'cannot read args file /nonexistent/args.json'],
    // The gate judges the cassette; the host names the files.
    [['--config', config, '--cassette', badCassette], `the cassette is not valid: missing field`],
    [['--config', config, '--cassette', notJson], `--cassette ${notJson})`],
    [['--config', config, '--cassette', cassette, '--component', '/nonexistent/c.wasm'], 'cannot read component /nonexistent/c.wasm'],
    [['--config', config, '--cassette', cassette, '--component', config], `${config} is not a component this host can load`],
    [['--config', config, '--cassette', cassette, '--limits', tempFile('limits.json', '{"max_request": 3}')], 'limits.json is not valid: unknown field `max_request`'],
    [['--config', config, '--cassette', cassette, '--limits', '/nonexistent/limits.json'], 'cannot read limits file /nonexistent/limits.json'],
  ];
  for (const [words, message] of checks) assertOneLine(host(['run', 'iam-get-user', ...words]), message);
});

test('anything but a regular file is refused at once; a file past its cap ends with one line', () => {
  const config = seed('config.json');
  const cassette = seed('cassette.json');
  const fifo = join(TEMP, 'fifo');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo');
  // Each input file, as a FIFO and as /dev/zero, as iam-host's tests give them
  // (tests/e2e/input_files.rs); and a directory.
  const inputs = { '--config': 'config file', '--args': 'args file', '--cassette': 'cassette', '--limits': 'limits file', '--component': 'component' };
  const refused = [];
  for (const [flag, what] of Object.entries(inputs)) {
    for (const [bad, kind] of [[fifo, 'a FIFO'], ['/dev/zero', 'a character device']]) {
      const given = { '--config': config, '--cassette': cassette, [flag]: bad };
      refused.push([Object.entries(given).flat(), `cannot read ${what} ${bad}: it is ${kind}, not a regular file`]);
    }
  }
  refused.push([['--config', config, '--args', TEMP, '--cassette', cassette], `cannot read args file ${TEMP}: it is a directory, not a regular file`]);
  for (const [words, message] of refused) {
    const out = host(['run', 'iam-get-user', ...words]);
    assertOneLine(out, message);
    assert.ok(out.millis < 1000, `${words}: ${out.millis} ms`);
  }
  // Sparse files one byte over each cap.
  const over = (name, bytes) => {
    const path = join(TEMP, name);
    closeSync(openSync(path, 'w'));
    truncateSync(path, bytes + 1);
    return path;
  };
  const bigConfig = over('big-config.json', 16 << 20);
  assertOneLine(host(['run', 'iam-get-user', '--config', bigConfig, '--cassette', cassette]), `config file ${bigConfig} is larger than the 16 MiB the host reads`);
  const bigCassette = over('big-cassette.json', 256 << 20);
  assertOneLine(host(['run', 'iam-get-user', '--config', config, '--cassette', bigCassette]), `cassette ${bigCassette} is larger than the 256 MiB the host reads`);
});

test('a failed replay exits 3 with the failure on stderr and no entry', () => {
  const cassette = JSON.parse(readFileSync(seed('cassette.json'), 'utf8'));
  cassette.interactions.push(cassette.interactions[0]);
  const out = host(seedRun('--cassette', tempFile('extra.json', JSON.stringify(cassette))));
  assert.equal(out.code, 3, out.stderr);
  assert.equal(out.stdout, '');
  assert.match(out.stderr, /^iam-host\.mjs: replay failed: 1 recorded interaction\(s\) were not used; the first: GET /);
});

test('the recording target is checked before anything is read', () => {
  const existing = tempFile('existing.json', 'keep me');
  const directory = join(TEMP, 'a-directory');
  mkdirSync(directory, { recursive: true });
  const missing = '/nonexistent/config.json';
  const cases = [
    [['--record', existing], `refusing to overwrite ${existing} with the recording: something already exists there (give --overwrite to replace it)`],
    [['--record', directory, '--overwrite'], `refusing to overwrite ${directory} with the recording: it is not a regular file`],
    [['--record', join(TEMP, 'no', 'such', 'dir.json')], `is not a directory`],
  ];
  for (const [more, message] of cases) {
    // The configuration does not even exist: the refusal comes first.
    assertOneLine(host(['run', 'iam-get-user', '--config', missing, '--live', ...more]), message);
  }
  assert.equal(readFileSync(existing, 'utf8'), 'keep me');
});

test('limits: a CPU limit stops the command (exit 1), a memory limit caps the connector', () => {
  const limits = (value) => tempFile(`limits-${Object.keys(value)[0]}.json`, JSON.stringify(value));
  const cpu = host(seedRun('--cassette', seed('cassette.json'), '--limits', limits({ cpu_millis: 1 })));
  assert.equal(cpu.code, 1, cpu.stderr);
  assert.equal(cpu.stdout, '{"Type":4,"ContentsFormat":"text","Contents":"The iam-get-user command was stopped by the host: it used more than its CPU time limit of 1 ms"}\n');
  // Below the connector's initial memory: the component does not fit (as iam-host says).
  assertOneLine(host(seedRun('--cassette', seed('cassette.json'), '--limits', limits({ memory_bytes: 65536 }))), "the component does not fit the host's limits (memory limit 65536 bytes)");
  // An answer larger than the connector may hold: stopped, where without the limit it runs.
  const cassette = JSON.parse(readFileSync(seed('cassette.json'), 'utf8'));
  cassette.interactions[0].response.body.Resources[0].title = 'x'.repeat(2 << 20);
  const big = tempFile('big.json', JSON.stringify(cassette));
  assert.equal(host(seedRun('--cassette', big)).code, 0);
  const capped = host(seedRun('--cassette', big, '--limits', limits({ memory_bytes: 1 << 20 })));
  assert.equal(capped.code, 1, capped.stderr);
  assert.match(JSON.parse(capped.stdout).Contents, /^The iam-get-user command was stopped by the host: /);
});

test('without --component the default is composed by cargo when missing, and its path used', () => {
  // A cargo that only prints where the component is, as `cargo run -q -p iam-host -- gated` does.
  const cargo = tempFile('fake-cargo.sh', `#!/bin/sh\necho "$*" > ${join(TEMP, 'cargo-args')}\necho ${process.env.IAM_COMPONENT ?? ''}\n`);
  spawnSync('chmod', ['+x', cargo]);
  const env = { ...process.env, CARGO: cargo, CARGO_TARGET_DIR: join(TEMP, 'target') };
  const out = spawnSync(process.execPath, [HOST, ...seedRun('--cassette', seed('cassette.json'))], { encoding: 'utf8', env });
  if (!process.env.IAM_COMPONENT) return; // nothing to point the fake cargo at
  assert.equal(out.status, 0, out.stderr);
  assert.match(out.stderr, /composing the gated component/);
  assert.equal(readFileSync(join(TEMP, 'cargo-args'), 'utf8'), 'run -q -p iam-host -- gated\n');
});
