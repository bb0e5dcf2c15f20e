// The component under Node.js: find (or build) the .wasm, transpile it with jco into a cache
// keyed by its hash, instantiate it afresh for one command with this host's imports, and run
// the command. The counterpart of host-test/src/{artifact,engine,imports,lib}.rs.
//
// Like the Rust host it knows no command: it passes the component one invocation (WIT
// `iam:atlassian@0.2.0` `run`) and prints the entry the component rendered; the command list
// comes from the component's `describe`.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { FileError, ReplayFault } from './cassette.mjs';
import { stringifyJson } from './json.mjs';
import { CREDENTIAL_NAME, Policy, splitSecret, tokenProblem } from './policy.mjs';
import { GuestExit, emptyWasi } from './wasi.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGE_DIR = resolve(HERE, '..');
const REPO_ROOT = resolve(PACKAGE_DIR, '../..');

// The Rust host's default limits (host-test/src/limits.rs) that a replaying host can apply.
// Memory and CPU limits are not applied here: V8 gives no per-instance cap or deadline.
/** HTTP requests per command: a 15,000-id iam-update-group is 150 PATCHes plus retries;
 * 256 fits it and stops a flood (behaviour.md §8.2). */
const MAX_REQUESTS = 256;
/** Response body cap: a SCIM user or list page is kilobytes; 10 MiB stops a hostile server. */
const RESPONSE_BYTES = 10 * 1024 * 1024;
/** Methods the guest may use (imports.rs). */
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
/** Log lines kept per command, and bytes kept of one line (imports.rs). */
const MAX_LOG_LINES = 256;
const MAX_LOG_LINE_BYTES = 2048;

/** Time unused after which another build's transpile is removed: a run loads its files
 * within milliseconds of marking them used, so an hour leaves any concurrent run alone. */
const STALE_TRANSPILE_MS = 60 * 60 * 1000;

/** jco's options: `sync` instantiation so that this host passes the imports per instance. */
const TRANSPILE_OPTIONS = { name: 'component', instantiation: 'sync', noTypescript: true, quiet: true };

/** The target directory cargo uses (artifact.rs: CARGO_TARGET_DIR, else <repo>/target). */
function targetDir() {
  return process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(REPO_ROOT, 'target');
}

/** The release component built by this repository. */
export function defaultComponent() {
  return join(targetDir(), 'component', 'atlassian_iam.wasm');
}

/** The default component, built first when missing or older than the guest's sources, so
 * that, as with `iam-host run`, a newcomer needs no extra step. */
export function ensureDefaultComponent() {
  const component = defaultComponent();
  if (!existsSync(component) || sourcesNewerThan(component)) buildComponent();
  return component;
}

/** The Rust host builds the component (artifact.rs: cargo for wasm32-unknown-unknown, then
 * wit-component); its `describe` builds it when it is missing, as `iam-host run` does. */
function buildComponent() {
  process.stderr.write('iam-host.mjs: building the component (cargo run -p iam-host -- describe)…\n');
  const cargo = process.env.CARGO ?? 'cargo';
  const args = ['run', '--quiet', '--package', 'iam-host', '--', 'describe'];
  const built = spawnSync(cargo, args, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) {
    throw new FileError('building the component failed; is the wasm32-unknown-unknown target installed? (rustup target add wasm32-unknown-unknown)');
  }
}

function sourcesNewerThan(component) {
  const built = statSync(component).mtimeMs;
  return ['src', 'wit', 'Cargo.toml'].some((path) => newestMtime(join(REPO_ROOT, path)) > built);
}

function newestMtime(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), stat.mtimeMs);
}

/** The jco output for `wasmPath`, transpiled once: the cache directory is named by the hash
 * of the component, jco's version and the options, so a rebuilt component or an upgraded
 * jco gets a fresh transpile and a stale one is never used. */
export async function transpiled(wasmPath) {
  let wasm;
  try {
    wasm = readFileSync(wasmPath);
  } catch (error) {
    throw new FileError(`cannot read component ${wasmPath}: ${error.message}`);
  }
  const jcoVersion = JSON.parse(readFileSync(join(PACKAGE_DIR, 'node_modules/@bytecodealliance/jco/package.json'), 'utf8')).version;
  const key = createHash('sha256').update(wasm).update(`jco ${jcoVersion} ${JSON.stringify(TRANSPILE_OPTIONS)}`).digest('hex').slice(0, 32);
  const directory = join(targetDir(), 'jco', key);
  if (existsSync(join(directory, 'imports.json'))) {
    markUsed(directory);
  } else {
    await transpileInto(wasm, wasmPath, directory);
  }
  return { directory, imports: JSON.parse(readFileSync(join(directory, 'imports.json'), 'utf8')) };
}

async function transpileInto(wasm, wasmPath, directory) {
  // jco is loaded only when a transpile is needed: it is large and slow to load.
  const { transpile } = await import('@bytecodealliance/jco');
  let output;
  try {
    output = await transpile(wasm, TRANSPILE_OPTIONS);
  } catch (error) {
    throw new FileError(`${wasmPath} is not a valid component: ${error.message ?? error}`);
  }
  // Written beside, then renamed: concurrent runs (the tests run cases in parallel) either
  // win the rename or find a complete directory from another run.
  const temporary = `${directory}.tmp-${process.pid}`;
  rmSync(temporary, { recursive: true, force: true });
  for (const [name, bytes] of Object.entries(output.files)) {
    mkdirSync(dirname(join(temporary, name)), { recursive: true });
    writeFileSync(join(temporary, name), bytes);
  }
  writeFileSync(join(temporary, 'imports.json'), JSON.stringify(output.imports));
  try {
    renameSync(temporary, directory);
  } catch (error) {
    rmSync(temporary, { recursive: true, force: true });
    if (!existsSync(join(directory, 'imports.json'))) throw error;
  }
  pruneOldTranspiles(dirname(directory), directory);
}

/** A transpile's mtime says when it was last used, for pruning. */
function markUsed(directory) {
  const now = new Date();
  try {
    utimesSync(directory, now, now);
  } catch {
    // Best effort: the mark only delays pruning.
  }
}

/** Transpiles unused for a while (earlier builds of the component) are dropped, so that the
 * cache does not grow with every rebuild. */
function pruneOldTranspiles(cacheDir, current) {
  const cutoff = Date.now() - STALE_TRANSPILE_MS;
  for (const name of readdirSync(cacheDir)) {
    const path = join(cacheDir, name);
    // A concurrent run may rename or remove an entry meanwhile: a missing one is skipped.
    const lastUsed = statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
    if (path !== current && lastUsed < cutoff) rmSync(path, { recursive: true, force: true });
  }
}

/** A fresh instance of the transpiled component with this host's imports. */
async function instantiateFresh(component, sandbox, wasi) {
  const { instantiate } = await import(pathToFileURL(join(component.directory, 'component.js')).href);
  const imports = importObject(component.imports, { ...wasi.interfaces, ...sandbox.interfaces() });
  return instantiate((name) => new WebAssembly.Module(readFileSync(join(component.directory, name))), imports);
}

/** The component's own description (`describe`): its name, version, commands, credentials. */
export async function describe(component) {
  const sandbox = new Sandbox(new Policy(undefined, null), { send: () => { throw new ReplayFault('describe may not send requests'); }, sleep() {}, nowMillis: () => 0, unused: () => null });
  const root = await instantiateFresh(component, sandbox, emptyWasi());
  return root.commands.describe();
}

/** Run one command in a fresh instance. `params` and `args` are JsonObjects; the result is
 * `{ outcome, log }` where outcome is `{ entryType: 'note' | 'error', entryJson }` or
 * `{ replayFailed }`, as `Host::run` reports it. */
export async function runCommand(component, command, params, args, backend) {
  const { params: publicParams, token } = splitSecret(params);
  // A token too short to scrub is a configuration error the host alone can see (lib.rs).
  const problem = token === null ? null : tokenProblem(token);
  if (problem !== null) {
    const unused = backend.unused();
    const outcome = unused !== null ? { replayFailed: unused } : { entryType: 'error', entryJson: JSON.stringify({ Type: 4, ContentsFormat: 'text', Contents: problem }) };
    return { outcome, log: [] };
  }
  const sandbox = new Sandbox(new Policy(publicParams.get('url'), token), backend);
  const wasi = emptyWasi();
  // The invocation as the Rust host writes it: {"command", "params", "args"} in that order.
  const invocation = {
    json: `{"command":${JSON.stringify(command)},"params":${stringifyJson(publicParams)},"args":${stringifyJson(args)}}`,
    credential: token === null ? undefined : CREDENTIAL_NAME,
  };
  let outcome;
  try {
    const root = await instantiateFresh(component, sandbox, wasi);
    const ran = root.commands.run(invocation);
    outcome = { entryType: ran.entryType, entryJson: ran.entryJson };
  } catch (error) {
    outcome = failed(command, error, sandbox, wasi.guestStderr());
  }
  const unused = backend.unused();
  if (unused !== null && outcome.replayFailed === undefined) outcome = { replayFailed: unused };
  return { outcome, log: sandbox.log };
}

/** The imports the transpiled component asks for, by the names jco lists; one this host
 * does not provide means the component does not fit (the Rust host's linker says the same). */
function importObject(names, provided) {
  const imports = {};
  for (const name of names) {
    const unversioned = name.replace(/@[^/]*$/, '');
    if (!(unversioned in provided)) throw new FileError(`the component imports ${name}, which this host does not provide`);
    imports[name] = provided[unversioned];
  }
  return imports;
}

/** How a command that did not return ended (`Host::run` with `engine::classify`): the
 * component's error entry, a replay fault, or a trap turned into a Type 4 entry. */
function failed(command, error, sandbox, guestStderr) {
  if (sandbox.fault !== null) return { replayFailed: sandbox.fault };
  if (error instanceof FileError) throw error;
  const contents = `The ${command} command was stopped by the host: ${trapReason(error, guestStderr, sandbox.log)}`;
  return { entryType: 'error', entryJson: JSON.stringify({ Type: 4, ContentsFormat: 'text', Contents: contents }) };
}

/** V8's wasm trap messages, in wasmtime's words (`Trap`'s Display). */
const WASMTIME_TRAPS = {
  unreachable: 'wasm `unreachable` instruction executed',
  'memory access out of bounds': 'out of bounds memory access',
  'divide by zero': 'integer divide by zero',
  'remainder by zero': 'integer divide by zero',
  'integer overflow': 'integer overflow',
  'float unrepresentable in integer range': 'invalid conversion to integer',
  'table index is out of bounds': 'undefined element: out of bounds table access',
  'null function or function signature mismatch': 'indirect call type mismatch',
  'Maximum call stack size exceeded': 'call stack exhausted',
};

function trapReason(error, guestStderr, log) {
  // A WASI guest's panic is on its stderr; the connector (no WASI) logs its own.
  const stderr = guestStderr.trim();
  const logged = [...log].reverse().find((line) => line.level === 'error' && line.message.startsWith('panicked at'));
  const panic = stderr.includes('panicked at') ? stderr : logged?.message;
  if (panic !== undefined) {
    // "thread '…' panicked at src/x.rs:1:2:" and the message on the next line.
    const lines = panic.split('\n').map((line) => line.replace(/\r$/, '').trim());
    const detail = lines.slice(lines.findIndex((line) => line.includes('panicked at'))).slice(0, 2);
    return `the component panicked: ${detail.join(' ')}`;
  }
  if (error instanceof GuestExit) return `the component trapped: ${error.message}`;
  const message = String(error?.message ?? error);
  return `the component trapped: ${WASMTIME_TRAPS[message] ?? message}`;
}

/** One command's host side (store.rs's StoreState): policy, request budget, backend and the
 * diagnostics gathered while it runs. */
class Sandbox {
  constructor(policy, backend) {
    this.policy = policy;
    this.backend = backend;
    this.requestsMade = 0;
    this.log = [];
    this.fault = null;
  }

  interfaces() {
    return {
      'iam:atlassian/http': { send: (request) => this.send(request) },
      'iam:atlassian/host': {
        log: (level, message) => this.writeLog(level, message),
        sleep: (millis) => this.backend.sleep(millis),
        nowMillis: () => this.backend.nowMillis(),
      },
    };
  }

  /** `send` in the fixed order of imports.rs: policy (origin, headers, credential, method),
   * then the request budget, then the backend under the size cap. A refusal is a WIT
   * `http-error` (jco: thrown as `{ payload }`); a replay fault ends the sandbox (a thrown
   * Error is a trap). */
  send(request) {
    const checked = this.policy.check(request.url, request.headers.map((header) => header.name));
    if (checked.denied !== undefined) throw httpError('denied', checked.denied);
    if (!METHODS.includes(request.method)) throw httpError('denied', `method ${JSON.stringify(request.method)} is not allowed`);
    const headers = request.headers.map((header) => [header.name, header.value]);
    // The credential is attached only after every check has passed (policy.rs `authorize`).
    if (request.auth !== undefined) {
      const secret = this.policy.credential(request.auth);
      if (secret === null) throw httpError('unknown-credential', request.auth);
      headers.push(['Authorization', `Bearer ${secret}`]);
    }
    if (this.requestsMade >= MAX_REQUESTS) throw httpError('too-many-requests', MAX_REQUESTS);
    this.requestsMade += 1;
    let response;
    try {
      response = this.backend.send({ method: request.method, url: checked.url, headers, body: request.body });
    } catch (error) {
      if (error instanceof ReplayFault) this.fault = this.policy.scrubMessage(error.message);
      throw error;
    }
    // The tenant's token never reaches the guest, in any form (policy.rs `scrub_response`).
    response = this.policy.scrubResponse(response);
    if (response.body.length > RESPONSE_BYTES) throw httpError('response-too-large', BigInt(RESPONSE_BYTES));
    return { status: response.status, headers: response.headers.map(([name, value]) => ({ name, value })), body: response.body };
  }

  /** A guest cannot flood the host's memory through its log. */
  writeLog(level, message) {
    if (this.log.length >= MAX_LOG_LINES) return;
    const bytes = new TextEncoder().encode(message);
    let kept = message;
    if (bytes.length > MAX_LOG_LINE_BYTES) {
      // Cut at a character boundary, as the Rust host does.
      let end = MAX_LOG_LINE_BYTES;
      while (end > 0 && (bytes[end] & 0xc0) === 0x80) end -= 1;
      kept = `${new TextDecoder().decode(bytes.subarray(0, end))}…`;
    }
    this.log.push({ level, message: kept });
  }
}

function httpError(tag, val) {
  return { payload: { tag, val } };
}
