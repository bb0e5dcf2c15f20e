// WASI with nothing in it, as host-test/src/store.rs gives the guest: no environment, no
// arguments, no files, no sockets; stdin is empty, stdout is discarded, and stderr is kept
// (the first few KiB) only to name a panic. preview2-shim's Node cli and io would hand the
// guest this process's environment and real stdout (where the entry goes) through a worker
// thread, so the streams here are small in-memory ones. Random numbers come from
// preview2-shim, which has no capability to withhold.

import { hrtime } from 'node:process';
import { random as shimRandom } from '@bytecodealliance/preview2-shim/random';

/** How much of the guest's stderr is kept (store.rs GUEST_STDERR_BYTES). */
const GUEST_STDERR_BYTES = 4096;
/** What `check-write` grants: any size works, this keeps the guest's chunks small. */
const WRITE_BUDGET = 4096n;

/** wasi:io/error: the error resource; this host never creates one, but the type is part of
 * the streams interface. */
class IoError {
  toDebugString() {
    return 'error';
  }
}

/** wasi:io/poll: everything here is ready at once (nothing ever waits). */
class Pollable {
  ready() {
    return true;
  }
  block() {}
}

/** An input stream that is always at its end. */
class InputStream {
  read() {
    throw { payload: { tag: 'closed' } };
  }
  blockingRead() {
    throw { payload: { tag: 'closed' } };
  }
  skip() {
    throw { payload: { tag: 'closed' } };
  }
  blockingSkip() {
    throw { payload: { tag: 'closed' } };
  }
  subscribe() {
    return new Pollable();
  }
}

/** An output stream that keeps up to `capacity` bytes (0: a sink) and drops the rest. */
class OutputStream {
  constructor(capacity) {
    this.capacity = capacity;
    this.chunks = [];
    this.kept = 0;
  }
  checkWrite() {
    return WRITE_BUDGET;
  }
  write(contents) {
    const room = Math.max(0, this.capacity - this.kept);
    const kept = contents.subarray(0, Math.min(room, contents.length));
    if (kept.length > 0) this.chunks.push(Uint8Array.from(kept));
    this.kept += kept.length;
  }
  blockingWriteAndFlush(contents) {
    this.write(contents);
  }
  flush() {}
  blockingFlush() {}
  writeZeroes(length) {
    this.write(new Uint8Array(Number(length)));
  }
  blockingWriteZeroesAndFlush(length) {
    this.writeZeroes(length);
  }
  subscribe() {
    return new Pollable();
  }
  /** What was kept, as text (invalid UTF-8 replaced, like `from_utf8_lossy`). */
  text() {
    return new TextDecoder('utf-8').decode(Buffer.concat(this.chunks));
  }
}

/** The guest called wasi:cli/exit: a trap in the Rust host, a thrown Error here. */
export class GuestExit extends Error {}

class TerminalInput {}
class TerminalOutput {}

/** The WASI interfaces of one sandbox, by unversioned name, and its captured stderr. */
export function emptyWasi() {
  const stderr = new OutputStream(GUEST_STDERR_BYTES);
  const stdout = new OutputStream(0);
  const stdin = new InputStream();
  const ready = () => new Pollable();
  const interfaces = {
    'wasi:cli/environment': { getEnvironment: () => [], getArguments: () => [], initialCwd: () => undefined },
    'wasi:cli/exit': {
      exit(status) {
        throw new GuestExit(`Exited with i32 exit status ${status.tag === 'ok' ? 0 : 1}`);
      },
    },
    'wasi:cli/stdin': { getStdin: () => stdin },
    'wasi:cli/stdout': { getStdout: () => stdout },
    'wasi:cli/stderr': { getStderr: () => stderr },
    'wasi:cli/terminal-input': { TerminalInput },
    'wasi:cli/terminal-output': { TerminalOutput },
    // Not terminals: the Rust host's WasiCtx has none either.
    'wasi:cli/terminal-stdin': { getTerminalStdin: () => undefined },
    'wasi:cli/terminal-stdout': { getTerminalStdout: () => undefined },
    'wasi:cli/terminal-stderr': { getTerminalStderr: () => undefined },
    'wasi:io/error': { Error: IoError },
    'wasi:io/poll': { Pollable, poll: (pollables) => new Uint32Array(pollables.map((_, index) => index)) },
    'wasi:io/streams': { InputStream, OutputStream },
    'wasi:clocks/wall-clock': {
      now: () => {
        const millis = BigInt(Date.now());
        return { seconds: millis / 1000n, nanoseconds: Number(millis % 1000n) * 1_000_000 };
      },
      resolution: () => ({ seconds: 0n, nanoseconds: 1_000_000 }),
    },
    'wasi:clocks/monotonic-clock': {
      now: () => hrtime.bigint(),
      resolution: () => 1n,
      subscribeInstant: ready,
      subscribeDuration: ready,
    },
    'wasi:random/random': { getRandomBytes: shimRandom.getRandomBytes, getRandomU64: shimRandom.getRandomU64 },
    'wasi:random/insecure': { getInsecureRandomBytes: shimRandom.getRandomBytes, getInsecureRandomU64: shimRandom.getRandomU64 },
    'wasi:random/insecure-seed': { insecureSeed: () => [shimRandom.getRandomU64(), shimRandom.getRandomU64()] },
  };
  return { interfaces, guestStderr: () => stderr.text() };
}
