// The cassette format and its matchers, as host-test/src/cassette.rs defines them, and the
// replaying backend of host-test/src/backend.rs: interactions answered in order, in virtual
// time. A request that matches nothing is a fault that ends the command (exit 3); no
// response is ever invented.

import { readFileSync } from 'node:fs';

import { JsonNumber, JsonObject, jsonEqual, jsonTypeName, parseJson, stringifyJson } from './json.mjs';
import { httpLowercase, parseUrl } from './policy.mjs';

const U64_MAX = (1n << 64n) - 1n;

/** What a recorded `authorization` header says in place of the token. */
export const REDACTED_BEARER = 'Bearer <redacted>';

/** A file the user gave that cannot be used: the CLI exits 2 naming it. */
export class FileError extends Error {}

/** Read a UTF-8 text file strictly, as Rust's `read_to_string` does (a byte-order mark
 * stays, so that the JSON reader refuses it as serde_json does). */
export function readText(path, what) {
  let bytes;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new FileError(`cannot read ${what} ${path}: ${error.message}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new FileError(`cannot read ${what} ${path}: stream did not contain valid UTF-8`);
  }
}

/** Load and check a cassette: the same shape serde accepts (`deny_unknown_fields`). */
export function loadCassette(path) {
  const text = readText(path, 'cassette');
  try {
    return readCassette(parseJson(text));
  } catch (error) {
    throw new FileError(`cassette ${path} is not valid: ${error.message}`);
  }
}

function readCassette(value) {
  const cassette = fields(value, 'the cassette', { interactions: 'required' });
  if (!Array.isArray(cassette.interactions)) throw new Error('interactions must be an array');
  return { interactions: cassette.interactions.map(readInteraction) };
}

function readInteraction(value, index) {
  const where = `interaction ${index + 1}`;
  const interaction = fields(value, where, { request: 'required', response: 'required' });
  const request = fields(interaction.request, `${where}: request`, { method: 'required', url: 'required', headers: 'optional', body: 'optional' });
  const response = fields(interaction.response, `${where}: response`, { status: 'required', headers: 'optional', body: 'optional' });
  for (const key of ['method', 'url']) {
    if (typeof request[key] !== 'string') throw new Error(`${where}: request ${key} must be a string`);
  }
  const status = response.status;
  if (!(status instanceof JsonNumber && status.kind === 'u64' && status.value <= 65535n)) {
    throw new Error(`${where}: response status must be an integer from 0 to 65535`);
  }
  return {
    request: {
      method: request.method,
      url: request.url,
      headers: headerMap(request.headers, `${where}: request headers`),
      // `present` in cassette.rs: a body key holding null still means "no body, compared".
      body: 'body' in request ? request.body : undefined,
    },
    response: {
      status: Number(status.value),
      headers: headerMap(response.headers, `${where}: response headers`),
      body: response.body,
    },
  };
}

/** The members of a struct-shaped object, refusing unknown, repeated and missing keys. */
function fields(value, where, shape) {
  if (!(value instanceof JsonObject)) throw new Error(`${where} must be an object, got ${jsonTypeName(value)}`);
  const unknown = value.keys().find((key) => !(key in shape));
  if (unknown !== undefined) throw new Error(`${where}: unknown field ${JSON.stringify(unknown)}`);
  if (value.repeatedKeys.length > 0) throw new Error(`${where}: duplicate field ${JSON.stringify(value.repeatedKeys[0])}`);
  const missing = Object.keys(shape).find((key) => shape[key] === 'required' && !value.has(key));
  if (missing !== undefined) throw new Error(`${where}: missing field ${JSON.stringify(missing)}`);
  return Object.fromEntries(value.entries);
}

/** `Option<Map<String, Value>>`: absent and null both mean none. */
function headerMap(value, where) {
  if (value === undefined || value === null) return null;
  if (!(value instanceof JsonObject)) throw new Error(`${where} must be an object, got ${jsonTypeName(value)}`);
  return value;
}

/** Header pairs in written order; a value that is not a string is sent as its JSON text. */
function headerPairs(headers) {
  if (headers === null) return [];
  return [...headers.entries].map(([name, value]) => [name, typeof value === 'string' ? value : stringifyJson(value)]);
}

/** The body bytes of a recorded response: a string is raw text, any other value its JSON
 * text in written key order, nothing (or null) is empty. */
export function responseBodyBytes(body) {
  if (body === undefined || body === null) return new Uint8Array();
  return new TextEncoder().encode(typeof body === 'string' ? body : stringifyJson(body));
}

/** One line for reports (`RecordedRequest::describe`). */
export function describeRecorded(recorded) {
  const body = recorded.body === undefined ? 'body not compared' : recorded.body === null ? 'no body' : `body ${stringifyJson(recorded.body)}`;
  return `${recorded.method} ${recorded.url} (${body})`;
}

/** One line for reports (`ActualRequest::describe`); the token never appears in it. */
export function describeActual(actual) {
  return `${actual.method} ${actual.url.href} (${actual.body === undefined ? 'no body' : `body ${actual.body}`})`;
}

/** Why the actual request does not match the recording, or null when it does
 * (`RecordedRequest::mismatch`, the checks in the same order). */
export function mismatch(recorded, actual) {
  if (httpLowercase(recorded.method) !== httpLowercase(actual.method)) {
    return `method ${actual.method} differs from the recorded ${recorded.method}`;
  }
  const recordedUrl = parseUrl(recorded.url);
  if (recordedUrl === null) return `the recorded url ${JSON.stringify(recorded.url)} is not a URL`;
  if (recordedUrl.protocol !== actual.url.protocol || recordedUrl.hostname !== actual.url.hostname || knownPort(recordedUrl) !== knownPort(actual.url)) {
    return 'scheme, host or port differ';
  }
  if (!sameList(pathSegments(recordedUrl), pathSegments(actual.url))) return 'the paths differ';
  if (!sameList(queryPairs(recordedUrl), queryPairs(actual.url))) return 'the query parameters differ';
  if (recorded.body !== undefined && !jsonEqual(recorded.body, actualBodyValue(actual.body))) return 'the bodies differ';
  for (const [name, value] of headerPairs(recorded.headers)) {
    const found = actual.headers.find(([actualName]) => httpLowercase(actualName) === httpLowercase(name))?.[1];
    const matches = found !== undefined && (value === REDACTED_BEARER ? found.startsWith('Bearer ') && found.length > 7 : found === value);
    if (!matches) return `header ${JSON.stringify(name)} is not ${JSON.stringify(value)}`;
  }
  return null;
}

/** A body of JSON whitespace only (RFC 8259: space, tab, LF, CR) counts as none. */
function isBlank(text) {
  return /^[ \t\n\r]*$/.test(text);
}

/** `port_or_known_default`, compared as text so that "no port" matches only itself. */
function knownPort(url) {
  const defaults = { 'http:': '80', 'https:': '443', 'ws:': '80', 'wss:': '443', 'ftp:': '21' };
  return url.port !== '' ? url.port : (defaults[url.protocol] ?? '');
}

/** The actual body as JSON: none or blank is null, text that is not JSON a string. */
function actualBodyValue(body) {
  if (body === undefined || isBlank(body)) return null;
  try {
    return parseJson(body);
  } catch {
    return body;
  }
}

/** Path segments, split on `/` first and then percent-decoded, so that an encoded `%2F`
 * never matches a real `/`. */
function pathSegments(url) {
  return url.pathname.split('/').map(percentDecodeLossy);
}

/** Query parameters as a sorted multiset of decoded pairs (`+` and `%20` both mean space). */
function queryPairs(url) {
  const pairs = [...url.searchParams].map(([key, value]) => JSON.stringify([key, value]));
  return pairs.sort();
}

/** Percent-decoding whose invalid UTF-8 becomes U+FFFD, like `decode_utf8_lossy`. */
function percentDecodeLossy(segment) {
  const bytes = [];
  const raw = new TextEncoder().encode(segment);
  for (let i = 0; i < raw.length; i++) {
    const hex = String.fromCharCode(raw[i + 1] ?? 0, raw[i + 2] ?? 0);
    if (raw[i] === 0x25 && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(raw[i]);
    }
  }
  return new TextDecoder('utf-8').decode(new Uint8Array(bytes));
}

function sameList(a, b) {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

/** The host could not go on with the command (a replay mismatch): it ends the sandbox. */
export class ReplayFault extends Error {}

/** Answers from a cassette, in order, and sleeps in virtual time (`backend::Replay`). */
export class Replay {
  constructor(cassette) {
    this.interactions = cassette.interactions;
    this.next = 0;
    this.virtualNow = BigInt(Date.now());
  }

  /** The recorded response to `actual` ({method, url: URL, headers: [[name, value]], body}). */
  send(actual) {
    const number = this.next + 1;
    const interaction = this.interactions[this.next];
    if (interaction === undefined) {
      throw new ReplayFault(
        `request #${number} matched no recorded interaction (the cassette has only ${this.interactions.length}):\n` +
          `  actual:   ${describeActual(actual)}\n` +
          '  hint: record it with --live --record, or add it to the cassette',
      );
    }
    const why = mismatch(interaction.request, actual);
    if (why !== null) {
      throw new ReplayFault(
        `request #${number} does not match the recorded interaction: ${why}\n` +
          `  expected: ${describeRecorded(interaction.request)}\n` +
          `  actual:   ${describeActual(actual)}\n` +
          "  hint: interactions are replayed in order; re-record the cassette if the connector's requests changed",
      );
    }
    this.next += 1;
    const response = interaction.response;
    return { status: response.status, headers: headerPairs(response.headers), body: responseBodyBytes(response.body) };
  }

  sleep(millis) {
    const later = this.virtualNow + BigInt(millis);
    this.virtualNow = later > U64_MAX ? U64_MAX : later; // saturating, as in Rust
  }

  nowMillis() {
    return this.virtualNow;
  }

  /** After the command: why recorded interactions were left unused, or null. */
  unused() {
    const left = this.interactions.slice(this.next);
    if (left.length === 0) return null;
    return `${left.length} recorded interaction(s) were not used; the first: ${describeRecorded(left[0].request)}\n  hint: the connector made fewer requests than recorded`;
  }
}
