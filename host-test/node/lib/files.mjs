// The files this host reads and writes (host-test/src/files.rs and host-test/cli/src/main.rs): every input a
// regular file read with a size cap, so that /dev/zero, a FIFO or a log file ends at once
// with one line naming the file; the recording's target checked before anything runs, and
// written through a temporary file renamed into place. It knows nothing of what the files hold, beyond whether one is a JSON
// object; the text itself goes to the gate as it was read.

import { closeSync, constants, fstatSync, fsyncSync, linkSync, lstatSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Configuration, arguments and limits: kilobytes each; 16 MiB leaves room for many mappers. */
export const CONFIG_BYTES = 16 << 20;
/** A cassette: 100,000 recorded interactions fit; beyond it is not a fixture. */
export const CASSETTE_BYTES = 256 << 20;
/** A component: this one is about 1 MB; 64 MiB fits any plausible build. */
export const COMPONENT_BYTES = 64 << 20;
const CHUNK_BYTES = 4 << 20;

/** An unreadable, oversized or invalid file, or a recording that cannot be written: exit 2
 * with this one line. */
export class FileError extends Error {}

/** A system error's own words, without the path Node appends ("ENOENT: no such file…"). */
export const osText = (error) => String(error?.message ?? error).replace(/, \w+ '.*'$/, '');

const sizeName = (bytes) => (bytes % (1 << 20) === 0 ? `${bytes / (1 << 20)} MiB` : `${bytes} bytes`);

/** What a file that is not a regular file is, for a message (files.rs `kind_of`). */
function kindOf(stat) {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  return stat.isSocket() ? 'a socket' : 'a special file';
}

/** The bytes of the regular file `path`, or a FileError past `cap` (at most `cap + 1` bytes
 * are read). Anything else (a FIFO, /dev/zero, a directory, a socket) is refused at once, as
 * files.rs `open` refuses it: checked before the open, opened without blocking, checked again. */
export function readCappedBytes(path, cap, what) {
  const fail = (error) => new FileError(`cannot read ${what} ${path}: ${osText(error)}`);
  const refuseUnlessRegular = (stat) => {
    if (!stat.isFile()) throw new FileError(`cannot read ${what} ${path}: it is ${kindOf(stat)}, not a regular file`);
  };
  let fd;
  try {
    const before = statSync(path, { throwIfNoEntry: false });
    if (before !== undefined) refuseUnlessRegular(before);
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw error instanceof FileError ? error : fail(error);
  }
  try {
    refuseUnlessRegular(fstatSync(fd));
    const chunks = [];
    let total = 0;
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      let read;
      try {
        read = readSync(fd, chunk, 0, Math.min(chunk.length, cap + 1 - total), null);
      } catch (error) {
        throw fail(error);
      }
      if (read === 0) return Buffer.concat(chunks, total);
      chunks.push(Buffer.from(chunk.subarray(0, read)));
      total += read;
      if (total > cap) throw new FileError(`${what} ${path} is larger than the ${sizeName(cap)} the host reads`);
    }
  } finally {
    closeSync(fd);
  }
}

/** `readCappedBytes` for a text file, kept as written (a byte order mark included). */
export function readCapped(path, cap, what) {
  const bytes = readCappedBytes(path, cap, what);
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new FileError(`${what} ${path} is not UTF-8 text`);
  }
}

/** `text` itself when it holds one JSON object; `what` names it in the error. */
export function jsonObjectText(text, what) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FileError(`${what} is not valid JSON: ${error.message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new FileError(`${what} must hold a JSON object`);
  return text;
}

/** Why a recording may not be written at `path`, or null (main.rs `check_record_target`):
 * anything already there is kept unless `overwrite`, and even then only a file or a link is
 * replaced. */
export function recordTargetProblem(path, overwrite) {
  let stat;
  try {
    stat = lstatSync(path);
  } catch (error) {
    if (error.code !== 'ENOENT') return `cannot write the recording ${path}: ${osText(error)}`;
    const parent = dirname(path);
    let isDirectory = false;
    try {
      isDirectory = statSync(parent).isDirectory();
    } catch {
      // Missing or unreadable: not a directory to write into.
    }
    return isDirectory ? null : `cannot write the recording ${path}: ${parent} is not a directory`;
  }
  if (!overwrite) return `refusing to overwrite ${path} with the recording: something already exists there (give --overwrite to replace it)`;
  if (!(stat.isFile() || stat.isSymbolicLink())) return `refusing to overwrite ${path} with the recording: it is not a regular file, so --overwrite does not replace it`;
  return null;
}

/** Write `text` to `path` through a temporary file beside it: renamed over whatever is there
 * with `replace`, else linked in only if nothing is (a link fails where a rename replaces). */
export function writeAtomically(path, text, replace) {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  let created = false;
  try {
    const fd = openSync(temporary, 'wx');
    created = true;
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (replace) {
      renameSync(temporary, path);
    } else {
      linkSync(temporary, path);
      unlinkSync(temporary);
    }
  } catch (error) {
    if (created) {
      try {
        unlinkSync(temporary);
      } catch {
        // Already renamed or never written: nothing is left behind either way.
      }
    }
    throw new FileError(`cannot write the recording ${path}: ${osText(error)}`);
  }
}
