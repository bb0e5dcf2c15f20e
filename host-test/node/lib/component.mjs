// The gated component under Node.js: find (or build) it, transpile it with jco into a cache
// keyed by its hash, instantiate it with this host's five imports (wire, clock, log, panic,
// platform), and run one command in a fresh instance under the engine's limits that V8 can
// apply.
//
// The host contract itself (the token split, request policy, scrubbing, budgets, replay and
// recording, the "stopped by the host" entry) is the gate's, inside the component
// (wit/gate.wit, world `gated`): this file only carries bytes, time and causes.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';

import { COMPONENT_BYTES, FileError, readCappedBytes } from './files.mjs';

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO_ROOT = resolve(PACKAGE_DIR, '../..');

/** Log lines kept per command, and bytes kept of one line (host-test/src/imports.rs). */
const MAX_LOG_LINES = 256;
const MAX_LOG_LINE_BYTES = 2048;
/** What `platform.map-object` answers: only the XSOAR integration's Python engine has a
 * platform mapper. */
const NO_PLATFORM_MAPPER = 'this host has no platform mapper';
/** Time unused after which another build's transpile is removed. */
const STALE_TRANSPILE_MS = 60 * 60 * 1000;
/** jco's options: `sync` instantiation, so that each instance gets this host's imports. */
const TRANSPILE_OPTIONS = { name: 'component', instantiation: 'sync', noTypescript: true, quiet: true };

const targetDir = () => (process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(REPO_ROOT, 'target'));

/** The connector composed with the gate by this repository (`iam-host gated`). */
export const defaultComponent = () => join(targetDir(), 'component', 'atlassian_iam_gated.wasm');

/** The default component, composed first (`cargo run -q -p iam-host -- gated`) when it is
 * missing or older than the sources of the connector or the gate, so that a newcomer needs no
 * extra step; the path is the one cargo prints. */
export function ensureDefaultComponent() {
  const component = defaultComponent();
  const built = statSync(component, { throwIfNoEntry: false })?.mtimeMs ?? -1;
  const sources = ['src', 'wit', 'Cargo.toml', 'host-test/gate'].map((path) => join(REPO_ROOT, path));
  if (built >= 0 && sources.every((path) => newestMtime(path) <= built)) return component;
  process.stderr.write('iam-host.mjs: composing the gated component (cargo run -q -p iam-host -- gated)…\n');
  const cargo = spawnSync(process.env.CARGO ?? 'cargo', ['run', '-q', '-p', 'iam-host', '--', 'gated'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (cargo.status !== 0) throw new FileError('composing the gated component failed (is the wasm32-unknown-unknown target installed? rustup target add wasm32-unknown-unknown)');
  return cargo.stdout.trim() || component;
}

function newestMtime(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (stat === undefined || !stat.isDirectory()) return stat?.mtimeMs ?? 0;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), stat.mtimeMs);
}

/** The jco output for the component at `wasmPath`, transpiled once into target/jco/<key>,
 * the key being the hash of the component, jco's version and the options. */
export async function loadComponent(wasmPath) {
  const wasm = readCappedBytes(wasmPath, COMPONENT_BYTES, 'component');
  let jcoVersion;
  try {
    jcoVersion = JSON.parse(readFileSync(join(PACKAGE_DIR, 'node_modules/@bytecodealliance/jco/package.json'), 'utf8')).version;
  } catch {
    throw new FileError("the Node host's packages are not installed; run `npm ci --prefix host-test/node`");
  }
  const key = createHash('sha256').update(wasm).update(`jco ${jcoVersion} ${JSON.stringify(TRANSPILE_OPTIONS)}`).digest('hex').slice(0, 32);
  const directory = join(targetDir(), 'jco', key);
  if (existsSync(join(directory, 'component.js'))) {
    const now = new Date();
    utimesSync(directory, now, now); // the mark pruning reads
  } else {
    await transpileInto(wasm, wasmPath, directory);
  }
  const { instantiate } = await import(pathToFileURL(join(directory, 'component.js')).href);
  return new Component(directory, instantiate);
}

async function transpileInto(wasm, wasmPath, directory) {
  const { transpile } = await import('@bytecodealliance/jco');
  let output;
  try {
    output = await transpile(wasm, TRANSPILE_OPTIONS);
  } catch (error) {
    throw new FileError(`${wasmPath} is not a component this host can load: ${String(error?.message ?? error).split('\n')[0]}`);
  }
  // Written beside, then renamed: concurrent runs either win the rename or find a whole one.
  const temporary = `${directory}.tmp-${process.pid}`;
  rmSync(temporary, { recursive: true, force: true });
  for (const [name, bytes] of Object.entries(output.files)) {
    mkdirSync(dirname(join(temporary, name)), { recursive: true });
    writeFileSync(join(temporary, name), bytes);
  }
  try {
    renameSync(temporary, directory);
  } catch (error) {
    rmSync(temporary, { recursive: true, force: true });
    if (!existsSync(join(directory, 'component.js'))) throw error;
  }
  // Transpiles of earlier builds, unused for an hour, go.
  const cutoff = Date.now() - STALE_TRANSPILE_MS;
  for (const name of readdirSync(dirname(directory))) {
    const path = join(dirname(directory), name);
    if (path !== directory && (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) < cutoff) rmSync(path, { recursive: true, force: true });
  }
}

/** The clock's `sleep`: a real, synchronous wait on nothing. */
const SLEEPER = new Int32Array(new SharedArrayBuffer(4));
const sleepSync = (millis) => Atomics.wait(SLEEPER, 0, 0, Math.min(millis, 2 ** 31 - 1));

/** A guest's text cut to what the host keeps of one line, at a character boundary. */
function truncated(message) {
  const bytes = Buffer.from(message);
  if (bytes.length <= MAX_LOG_LINE_BYTES) return message;
  let end = MAX_LOG_LINE_BYTES;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end -= 1;
  return `${bytes.subarray(0, end).toString()}…`;
}

/** The imports of one instance and what they gathered: the guest's log, and why it stopped
 * when it said so before trapping (`panic`: the first cause wins, as store.rs `note_stop`). */
class Sandbox {
  constructor(memoryBytes, wire) {
    this.log = [];
    this.stop = null;
    const send = (outgoing) => wire?.send(outgoing) ?? { tag: 'err', val: { tag: 'transport', val: 'this host has no network for this command' } };
    this.imports = {
      'iam:atlassian/wire': {
        send: (outgoing) => send(outgoing),
        // This host's wire is synchronous: one request after another.
        sendAll: (outgoings) => outgoings.map(send),
      },
      'iam:atlassian/clock': { nowMillis: () => BigInt(Date.now()), sleep: (millis) => sleepSync(Number(millis)) },
      'iam:atlassian/log': {
        log: (level, message) => {
          if (this.log.length < MAX_LOG_LINES) this.log.push({ level, message: truncated(message) });
        },
      },
      'iam:atlassian/panic': {
        panicked: (message) => this.#note({ tag: 'panicked', val: truncated(message) }),
        outOfMemory: (askedBytes) => this.#note({ tag: 'memory', val: { limitBytes: memoryBytes ?? 0n, askedBytes } }),
        flooded: (budget) => this.#note({ tag: 'requests', val: budget }),
      },
      'iam:atlassian/platform': { mapObject: () => ({ tag: 'err', val: NO_PLATFORM_MAPPER }) },
    };
  }

  #note(stop) {
    this.stop ??= stop;
  }
}

/** The loaded component: `gate()` gives a fresh instance's `gate` export; `run` runs one
 * command in a fresh instance under the limits. */
class Component {
  constructor(directory, instantiate) {
    this.directory = directory;
    this.instantiate = instantiate;
    this.modules = new Map();
  }

  /** A core module of the transpile, compiled once. */
  module(name) {
    if (!this.modules.has(name)) this.modules.set(name, new WebAssembly.Module(readFileSync(join(this.directory, name))));
    return this.modules.get(name);
  }

  /** A fresh instance's `gate`; `connector` replaces the connector's core module. */
  gate(sandbox = new Sandbox(), connector = null) {
    return this.instantiate((name) => (connector !== null && isConnector(this.module(name)) ? connector : this.module(name)), sandbox.imports).gate;
  }

  /** One command (`setup` as WIT `gate.setup`) under `limits` (WIT `gate.limits`), its HTTP
   * through `wire` unless it replays, in a fresh instance (after `gate()` has made one). The
   * result is `{report, log}` (WIT `gate.report`), `{unusable, log}` (the gate refused an
   * input) or `{stop, log}` (WIT `gate.stop`: word it with `stopped` on another instance).
   * Memory: the connector's linear memory is capped at the limit (the gate's are the host's,
   * as in the Rust host). CPU: replay never waits, so the run's wall time bounds it at the
   * limit; a live run may also wait out its wall-clock budget and one request's timeout. */
  run(setup, limits, wire) {
    const sandbox = new Sandbox(limits.memoryBytes, wire);
    const connector = [...this.modules.keys()].find((name) => isConnector(this.module(name)));
    const capped = capMemories(readFileSync(join(this.directory, connector)), Math.min(Number(limits.memoryBytes / 65536n), 65536));
    if (typeof capped === 'number') throw new FileError(`the component does not fit the host's limits (memory limit ${limits.memoryBytes} bytes): the connector's memory starts at ${capped} bytes`);
    const module = new WebAssembly.Module(capped);
    const replays = setup.mode.tag === 'replay';
    const timeout = Number(limits.cpuMillis) + (replays ? 0 : Number(limits.budget.wallMs) + Number(limits.budget.requestTimeoutMs));
    try {
      const gate = this.gate(sandbox, module);
      globalThis.__iamHostRun = () => gate.run(setup);
      return { report: RUN_SCRIPT.runInThisContext({ timeout: Math.min(timeout, 2 ** 31 - 1) }), log: sandbox.log };
    } catch (error) {
      if (typeof error?.payload === 'string') return { unusable: error.payload, log: sandbox.log };
      const cpu = error?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT' ? { tag: 'cpu', val: limits.cpuMillis } : null;
      return { stop: sandbox.stop ?? cpu ?? { tag: 'trapped', val: String(error?.message ?? error) }, log: sandbox.log };
    } finally {
      delete globalThis.__iamHostRun;
    }
  }
}

/** Whether a core module is the connector's (it exports the `commands` interface). */
const isConnector = (module) => WebAssembly.Module.exports(module).some(({ name }) => name.startsWith('iam:atlassian/commands@'));

/** A core module's bytes with each memory it defines capped at `pages` 64 KiB pages, or the
 * initial size in bytes of one that starts above it (which `iam-host` refuses as unfit). */
function capMemories(bytes, pages) {
  const leb = (at) => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return [value, at];
    }
  };
  const encode = (value) => {
    const out = [];
    do {
      out.push((value % 128) | (value >= 128 ? 0x80 : 0));
      value = Math.floor(value / 128);
    } while (value > 0);
    return out;
  };
  for (let at = 8; at < bytes.length; ) {
    const [size, start] = leb(at + 1);
    if (bytes[at] === 5) {
      let [count, next] = leb(start);
      const entries = encode(count);
      for (let i = 0; i < count; i++) {
        const flags = bytes[next];
        let min, max;
        [min, next] = leb(next + 1);
        if (flags & 1) [max, next] = leb(next);
        if (min > pages) return min * 65536;
        // Shared and 64-bit memories keep their own flags; the cap is the one change.
        entries.push(flags | 1, ...encode(min), ...encode(Math.min(max ?? pages, pages)));
      }
      const section = [5, ...encode(entries.length), ...entries];
      return Buffer.concat([bytes.subarray(0, at), Buffer.from(section), bytes.subarray(start + size)]);
    }
    at = start + size;
  }
  return bytes;
}

/** The call that a timeout can interrupt, even inside Wasm or Atomics.wait. */
const RUN_SCRIPT = new vm.Script('globalThis.__iamHostRun()');
