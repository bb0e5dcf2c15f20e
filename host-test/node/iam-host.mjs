#!/usr/bin/env node
// iam-host.mjs: the Atlassian IAM component under Node.js (jco), a second host independent
// of the wasmtime one, with the same replay command line as `iam-host run`:
//
//   node tests/js/iam-host.mjs run <COMMAND> --config <config.json> [--args <args.json | JSON>]
//                                  --cassette <cassette.json> [--component <file.wasm>]
//
// It knows no command: the command list comes from the component's `describe`, and the
// component validates the arguments and renders the entry. stdout carries exactly one JSON
// entry, the one the component rendered (never re-rendered here); everything else goes to
// stderr. Exit status: 0 for a Type 1 entry, 1 for a Type 4
// entry, 2 for usage errors and unreadable or invalid files, 3 when replay failed. Live HTTP
// (`--live`, `--record`) and `--limits` are the Rust host's alone.

import { FileError, Replay, loadCassette, readText } from './lib/cassette.mjs';
import { JsonObject, parseJson } from './lib/json.mjs';

const USAGE = `usage: node tests/js/iam-host.mjs run <COMMAND> --config <config.json> [--args <args.json | JSON>]
                    --cassette <cassette.json> [--component <file.wasm>]
COMMAND: one of the commands the component's describe lists`;

/** Exit statuses, decided in one place (main.rs's `exit_code`). A fault of this host itself
 * gets 70 (EX_SOFTWARE) so that it is never mistaken for a Type 4 entry (exit 1). */
const EXIT = { note: 0, error: 1, usage: 2, replayFailed: 3, hostFault: 70 };

/** A command line that cannot be run: exit 2 with the reason and the usage. */
class UsageError extends Error {}

/** The validated command line of `run` (main.rs's `parse_run`). */
function parseRun(words) {
  const [command, ...rest] = words;
  if (command === undefined) throw new UsageError('missing <COMMAND>');
  const flags = { '--config': 'config', '--args': 'args', '--cassette': 'cassette', '--component': 'component' };
  const run = { command };
  for (let i = 0; i < rest.length; i++) {
    const field = flags[rest[i]];
    if (rest[i] === '--live' || rest[i] === '--record') throw new UsageError(`${rest[i]} is not available in the Node.js host; use the Rust iam-host`);
    if (field === undefined) throw new UsageError(`unexpected argument ${JSON.stringify(rest[i])}`);
    if (rest[i + 1] === undefined) throw new UsageError(`${rest[i]} needs a value`);
    run[field] = rest[++i];
  }
  if (run.config === undefined) throw new UsageError('--config <config.json> is required');
  if (run.cassette === undefined) throw new UsageError('give --cassette <file>');
  return run;
}

/** A file holding one JSON object (main.rs's `read_json_object`). */
function readJsonObject(path, what) {
  const text = readText(path, what);
  let value;
  try {
    value = parseJson(text);
  } catch (error) {
    throw new FileError(`${what} ${path} is not valid JSON: ${error.message}`);
  }
  if (!(value instanceof JsonObject)) throw new FileError(`${what} ${path} must hold a JSON object`);
  return value;
}

/** The part of the host that needs jco and preview2-shim, loaded once the command line is
 * known to be good, so that a missing `npm ci` is reported as such. */
async function loadComponentModule() {
  try {
    return await import('./lib/component.mjs');
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new FileError(`the JS host's packages are not installed (${error.message}); run \`npm ci --prefix tests/js\``);
  }
}

/** `--args`: inline JSON when the value starts with `{` (after spaces), else a file. */
function readArgs(value) {
  if (!/^\s*\{/.test(value)) return readJsonObject(value, 'args file');
  let parsed;
  try {
    parsed = parseJson(value);
  } catch (error) {
    throw new FileError(`--args is not valid JSON: ${error.message}`);
  }
  if (!(parsed instanceof JsonObject)) throw new FileError('--args must hold a JSON object');
  return parsed;
}

/** Check the command against the component's own list, then read the files in the Rust
 * host's order, run the command, print its logs. */
async function run(runArgs) {
  const { describe, ensureDefaultComponent, runCommand, transpiled } = await loadComponentModule();
  const component = await transpiled(runArgs.component ?? ensureDefaultComponent());
  const { commands } = await describe(component);
  if (!commands.includes(runArgs.command)) {
    throw new UsageError(`unknown command ${JSON.stringify(runArgs.command)}; expected one of ${commands.join(', ')}`);
  }
  const params = readJsonObject(runArgs.config, 'config file');
  const args = runArgs.args === undefined ? new JsonObject() : readArgs(runArgs.args);
  const backend = new Replay(loadCassette(runArgs.cassette));
  const report = await runCommand(component, runArgs.command, params, args, backend);
  for (const line of report.log) process.stderr.write(`iam-host.mjs: guest ${line.level}: ${line.message}\n`);
  return report.outcome;
}

async function main(words) {
  if (words[0] === '-h' || words[0] === '--help' || words[0] === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (words[0] !== 'run') {
    const why = words[0] === undefined ? USAGE : `unknown subcommand ${JSON.stringify(words[0])}\n${USAGE}`;
    process.stderr.write(`iam-host.mjs: ${why}\n`);
    return EXIT.usage;
  }
  let outcome;
  try {
    outcome = await run(parseRun(words.slice(1)));
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof FileError)) throw error;
    const usage = error instanceof UsageError ? `\n${USAGE}` : '';
    process.stderr.write(`iam-host.mjs: ${error.message}${usage}\n`);
    return EXIT.usage;
  }
  if (outcome.replayFailed !== undefined) {
    process.stderr.write(`iam-host.mjs: replay failed: ${outcome.replayFailed}\n`);
    return EXIT.replayFailed;
  }
  process.stdout.write(`${outcome.entryJson}\n`);
  return EXIT[outcome.entryType];
}

// Set the exit code instead of calling process.exit, so that stdout is flushed when it is a pipe.
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`iam-host.mjs: internal error: ${error?.stack ?? error}\n`);
  process.exitCode = EXIT.hostFault;
}
