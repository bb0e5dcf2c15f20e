#!/usr/bin/env node
// iam-host.mjs: the Atlassian IAM connector under Node.js, with the command line of
// `iam-host run` (architecture.md, "CLI contract"):
//
//   node host-test/node/iam-host.mjs run <COMMAND> --config <config.json> [--args <args.json | JSON>]
//        (--cassette <cassette.json> | --live [--record <out.json> [--overwrite]])
//        [--component <file.wasm>] [--limits <limits.json>]
//
// It loads the gated component (the connector composed with the gate, `iam-host gated`),
// which holds the whole host contract; this host reads the files, carries the bytes and
// prints the entry the component wrote. stdout: exactly that entry (compact, as written);
// everything else goes to stderr. Exit status: 0 Type 1 entry, 1 Type 4 entry, 2 usage error
// or unreadable file (or a recording that could not be written), 3 replay failed.

import { CASSETTE_BYTES, CONFIG_BYTES, FileError, jsonObjectText, readCapped, recordTargetProblem, writeAtomically } from './lib/files.mjs';

const USAGE = `usage: node host-test/node/iam-host.mjs run <COMMAND> --config <config.json> [--args <args.json | JSON>]
         (--cassette <cassette.json> | --live [--record <out.json> [--overwrite]])
         [--component <file.wasm>] [--limits <limits.json>]
COMMAND: one of the commands the component's describe lists`;

/** Exit statuses; a fault of this host itself gets 70 (EX_SOFTWARE), never mistaken for 1. */
const EXIT = { note: 0, error: 1, usage: 2, replayFailed: 3, hostFault: 70 };

/** A command line that cannot be run: exit 2 with the reason and the usage. */
class UsageError extends Error {}

const VALUED = { '--config': 'config', '--args': 'args', '--cassette': 'cassette', '--record': 'record', '--component': 'component', '--limits': 'limits' };
const SWITCHES = { '--live': 'live', '--overwrite': 'overwrite' };

/** The command line of `run` (`--flag value` or `--flag=value`), checked as main.rs
 * `transport_of` checks it: everything here is found before any file is read. */
function parseRun(words) {
  const run = {};
  for (let i = 0; i < words.length; i++) {
    const equals = words[i].startsWith('--') ? words[i].indexOf('=') : -1;
    const flag = equals < 0 ? words[i] : words[i].slice(0, equals);
    const field = VALUED[flag] ?? SWITCHES[flag];
    if (field === undefined) {
      if (flag.startsWith('-') || run.command !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(words[i])}`);
      run.command = flag;
    } else if (field in run) {
      throw new UsageError(`${flag} given more than once`);
    } else if (flag in SWITCHES) {
      if (equals >= 0) throw new UsageError(`${flag} takes no value`);
      run[field] = true;
    } else {
      run[field] = equals < 0 ? words[++i] : words[i].slice(equals + 1);
      if (run[field] === undefined) throw new UsageError(`${flag} needs a value`);
    }
  }
  if (run.command === undefined) throw new UsageError('missing <COMMAND>');
  if (run.overwrite && run.record === undefined) throw new UsageError('--overwrite goes with --record');
  if (run.cassette !== undefined && (run.live || run.record !== undefined)) throw new UsageError('--cassette excludes --live and --record');
  if (run.record !== undefined && !run.live) throw new UsageError('--record needs --live');
  if (run.cassette === undefined && !run.live) throw new UsageError('give --cassette <file> or --live');
  return run;
}

/** The component is loaded once the command line is known to be good (whether the packages
 * are installed is component.mjs's check, when it needs jco). */
async function loadComponent(path) {
  const component = await import('./lib/component.mjs');
  return component.loadComponent(path ?? component.ensureDefaultComponent());
}

/** Read the files in `iam-host run`'s order, run the command, and say how it ended:
 * `{entry, isError}`, `{replayFailed}`, and `unrecorded` when the recording was lost. */
async function run(args) {
  const problem = args.record === undefined ? null : recordTargetProblem(args.record, args.overwrite === true);
  if (problem !== null) throw new FileError(problem);
  const limitsText = args.limits === undefined ? undefined : readCapped(args.limits, CONFIG_BYTES, 'limits file');
  const component = await loadComponent(args.component);
  // This instance never runs a command: it reads the limits and the description, and words
  // the entry of a command the host stopped (on a fresh instance, as the gate asks).
  const host = component.gate();
  let limits;
  try {
    limits = host.readLimits(limitsText);
  } catch (error) {
    throw new FileError(`limits file ${args.limits} is not valid: ${error?.payload ?? error}`);
  }
  const { commands } = host.describe();
  if (!commands.includes(args.command)) throw new UsageError(`unknown command ${JSON.stringify(args.command)}; expected one of ${commands.join(', ')}`);
  if (args.config === undefined) throw new UsageError('--config <config.json> is required');
  const configJson = jsonObjectText(readCapped(args.config, CONFIG_BYTES, 'config file'), `config file ${args.config}`);
  // `--args` is inline JSON when it starts with `{`, else the path of a file.
  const inlineArgs = args.args !== undefined && /^\s*\{/.test(args.args);
  let argsJson = '{}';
  if (args.args !== undefined) {
    argsJson = inlineArgs ? jsonObjectText(args.args, '--args') : jsonObjectText(readCapped(args.args, CONFIG_BYTES, 'args file'), `args file ${args.args}`);
  }
  const mode = args.live ? { tag: args.record === undefined ? 'live' : 'recording' } : { tag: 'replay', val: readCapped(args.cassette, CASSETTE_BYTES, 'cassette') };
  const wire = args.live ? new (await import('./lib/wire.mjs')).Wire(limits.connectTimeoutMs) : null;
  let ran;
  try {
    ran = component.run({ command: args.command, configJson, argsJson, mode, budget: limits.budget }, limits, wire);
  } finally {
    wire?.close();
  }
  for (const line of ran.log) process.stderr.write(`iam-host.mjs: guest ${line.level}: ${line.message}\n`);
  if (ran.unusable !== undefined) {
    const files = ['config', 'args', 'cassette'].filter((name) => args[name] !== undefined && !(name === 'args' && inlineArgs));
    throw new FileError(`${ran.unusable} (${files.map((name) => `--${name} ${args[name]}`).join(', ')})`);
  }
  if (ran.stop !== undefined) {
    const ended = { entry: host.stopped(args.command, ran.stop), isError: true };
    // The exchanges were the stopped instance's: they went with it.
    if (args.record !== undefined) ended.unrecorded = `cannot write the recording ${args.record}: the command was stopped, and its exchanges with it`;
    return ended;
  }
  const { report } = ran;
  if (report.replayFailure !== undefined) return { replayFailed: report.replayFailure };
  const ended = { entry: report.entryJson, isError: report.isError };
  if (args.record !== undefined) {
    try {
      if (report.recordingJson === undefined) throw new FileError(`cannot write the recording ${args.record}: the gate gave none`);
      writeAtomically(args.record, report.recordingJson, args.overwrite === true);
    } catch (error) {
      ended.unrecorded = error.message;
    }
  }
  return ended;
}

async function main(words) {
  if (['-h', '--help', 'help'].includes(words[0]) || (words[0] === 'run' && words.some((word) => word === '-h' || word === '--help'))) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let ended;
  try {
    if (words[0] !== 'run') throw new UsageError(words[0] === undefined ? 'missing subcommand: run' : `unknown subcommand ${JSON.stringify(words[0])}`);
    ended = await run(parseRun(words.slice(1)));
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof FileError)) throw error;
    process.stderr.write(`iam-host.mjs: ${error.message}${error instanceof UsageError ? `\n${USAGE}` : ''}\n`);
    return EXIT.usage;
  }
  if (ended.replayFailed !== undefined) {
    process.stderr.write(`iam-host.mjs: replay failed: ${ended.replayFailed}\n`);
    return EXIT.replayFailed;
  }
  process.stdout.write(`${ended.entry}\n`);
  if (ended.unrecorded !== undefined) {
    // The entry of a command whose side effects happened is never lost; the status says 2.
    process.stderr.write(`iam-host.mjs: ${ended.unrecorded}\n`);
    return EXIT.usage;
  }
  return ended.isError ? EXIT.error : EXIT.note;
}

// The exit code is set rather than process.exit called, so that stdout is flushed to a pipe.
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`iam-host.mjs: internal error: ${error?.stack ?? error}\n`);
  process.exitCode = EXIT.hostFault;
}
