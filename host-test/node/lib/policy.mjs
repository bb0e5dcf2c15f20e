// A tenant's policy, as host-test/src/policy.rs and lib.rs decide it: the one origin its
// requests may reach (that of the configured `url`), plain http only to a loopback address,
// paths that read the same before and after parsing, the token the host holds for it, the
// headers a guest may not set, and the token scrubbed from every answer (redact.rs). Denial
// texts reach the guest (and so, possibly, an entry), so they are worded and quoted exactly
// as the Rust host words them, and never quote a URL's user information.

import { JsonObject } from './json.mjs';

/** HTTP method and header names compare case-insensitively, in ASCII (RFC 9110). */
export function httpLowercase(text) {
  return text.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
}

/** The reference under which the host keeps a tenant's access token (lib.rs CREDENTIAL_NAME). */
export const CREDENTIAL_NAME = 'access_token';

/** Headers only the host may set: credentials and routing. */
const FORBIDDEN_GUEST_HEADERS = ['authorization', 'cookie', 'host', 'proxy-authorization', 'set-cookie'];

/** Ports the url crate knows for `port_or_known_default` (WHATWG's special schemes). */
const DEFAULT_PORTS = { 'http:': 80, 'https:': 443, 'ws:': 80, 'wss:': 443, 'ftp:': 21 };

/** Take the token out of the instance parameters like `split_secret`: the non-empty
 * `access_token_creds.password`, else the non-empty `access_token`; both keys are removed
 * either way and the other parameters keep their order. */
export function splitSecret(params) {
  const rest = new JsonObject();
  for (const [key, value] of params.entries) {
    if (key !== 'access_token' && key !== 'access_token_creds') rest.entries.set(key, value);
  }
  const creds = params.get('access_token_creds');
  const password = creds instanceof JsonObject ? creds.get('password') : undefined;
  const plain = params.get('access_token');
  const nonEmpty = (value) => (typeof value === 'string' && value !== '' ? value : null);
  return { params: rest, token: nonEmpty(password) ?? nonEmpty(plain) };
}

/** Scheme, host and port of a parsed URL, or null when it has no host or no known port
 * (`Origin::of`). */
export function originOf(url) {
  const port = url.port !== '' ? Number(url.port) : DEFAULT_PORTS[url.protocol];
  if (url.hostname === '' || port === undefined) return null;
  return { scheme: url.protocol.slice(0, -1), host: url.hostname.toLowerCase(), port };
}

/** `Origin`'s Display. */
export function formatOrigin(origin) {
  return `${origin.scheme}://${origin.host}:${origin.port}`;
}

/** The shortest token the host accepts (redact.rs MIN_SECRET_CHARS). */
export const MIN_SECRET_CHARS = 8;

/** Why a token cannot be used (`token_problem`, behaviour.md §1): the text of the Type 4
 * entry the host answers with instead of running the command; null when it is usable. */
export function tokenProblem(token) {
  if ([...token].length >= MIN_SECRET_CHARS) return null;
  return `Invalid configuration: the access token ("access_token" or "access_token_creds.password") is shorter than ${MIN_SECRET_CHARS} characters, too short for the host to keep it out of the answers it passes on`;
}

export class Policy {
  /** The policy of an instance: its url's origin (http or https only, without user
   * information) and its token. */
  constructor(configuredUrl, token) {
    const parsed = typeof configuredUrl === 'string' ? parseUrl(configuredUrl) : null;
    const usable = parsed && (parsed.protocol === 'http:' || parsed.protocol === 'https:') && parsed.username === '' && parsed.password === '';
    this.allowedOrigin = usable ? originOf(parsed) : null;
    this.credentials = new Map(token === null ? [] : [[CREDENTIAL_NAME, token]]);
    this.redactor = new Redactor([...this.credentials.values()]);
  }

  /** Check a guest request's URL and header names (`Policy::check`): the parsed URL, or
   * the reason for refusing it. */
  check(url, headerNames) {
    const parsed = parseUrl(url);
    if (parsed === null) return { denied: `${JSON.stringify(withoutUserInfo(url))} is not an absolute URL (${urlParseError(url)})` };
    const origin = originOf(parsed);
    if (origin === null) return { denied: `${JSON.stringify(withoutUserInfo(url))} has no host` };
    const allowed = this.allowedOrigin;
    if (allowed === null) {
      return { denied: `origin ${formatOrigin(origin)} is not allowed; this tenant has no usable url configured` };
    }
    if (formatOrigin(allowed) !== formatOrigin(origin)) {
      return { denied: `origin ${formatOrigin(origin)} is not allowed; this tenant may reach only ${formatOrigin(allowed)}` };
    }
    // The bearer token travels in every request: over plain http only a loopback address
    // keeps it on this machine (local test servers).
    if (parsed.protocol === 'http:' && !isLoopback(parsed)) {
      return { denied: `plain http is allowed only to a loopback address; ${formatOrigin(origin)} must use https` };
    }
    if (parsed.username !== '' || parsed.password !== '') return { denied: 'URLs with user information are not allowed' };
    // behaviour.md §3: `..`, `.`, `%2E%2E` or a backslash would take the request somewhere
    // the guest did not name.
    const written = pathAsWritten(url);
    if (written !== parsed.pathname && !(written === '' && parsed.pathname === '/')) {
      return { denied: `the path of the request URL changes when parsed (to ${JSON.stringify(parsed.pathname)}): dot segments (".", "..", "%2E%2E"), backslashes and unencoded characters are not allowed` };
    }
    const forbidden = headerNames.find((name) => FORBIDDEN_GUEST_HEADERS.includes(httpLowercase(name)));
    if (forbidden !== undefined) return { denied: `the guest may not set the ${JSON.stringify(forbidden)} header` };
    return { url: parsed };
  }

  credential(name) {
    return this.credentials.get(name) ?? null;
  }

  /** A response ({status, headers: [[name, value]], body: Uint8Array}) with every secret of
   * the tenant replaced in header names, values and the body (`scrub_response`). */
  scrubResponse(response) {
    if (this.redactor.isEmpty()) return response;
    return {
      ...response,
      headers: response.headers.map(([name, value]) => [this.redactor.scrubString(name), this.redactor.scrubString(value)]),
      body: this.redactor.scrubBytes(response.body) ?? response.body,
    };
  }

  /** A message with every secret of the tenant replaced (`scrub_error`). */
  scrubMessage(message) {
    return this.redactor.scrubString(message);
  }
}

/** Where a URL's authority starts and ends as written (`authority_span`): after the
 * scheme's `:` and any slashes or backslashes, up to the path, query or fragment. Indices
 * are of UTF-16 units here, of bytes in Rust; every delimiter is ASCII, so they cut the same
 * text. */
function authoritySpan(url) {
  const colon = url.indexOf(':');
  if (colon < 0) return [0, 0];
  let start = colon + 1;
  while (url[start] === '/' || url[start] === '\\') start += 1;
  const rest = url.slice(start).search(/[/\\?#]/);
  return [start, rest < 0 ? url.length : start + rest];
}

/** The path of a URL as written (`path_as_written`). */
function pathAsWritten(url) {
  const path = url.slice(authoritySpan(url)[1]);
  const end = path.search(/[?#]/);
  return end < 0 ? path : path.slice(0, end);
}

/** A URL as written with what stands before the last `@` of its authority replaced
 * (`without_user_info`), so that a refusal can quote it. */
function withoutUserInfo(url) {
  const [start, end] = authoritySpan(url);
  const at = url.slice(start, end).lastIndexOf('@');
  return at < 0 ? url : `${url.slice(0, start)}<redacted>${url.slice(start + at)}`;
}

/** What a secret is replaced with. */
export const REDACTED = '<redacted>';
const REDACTED_BYTES = new TextEncoder().encode(REDACTED);
const BASE64_STANDARD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const [PERCENT, BACKSLASH, LESS_THAN] = [0x25, 0x5c, 0x3c];

/** The tenant's secrets in every form a server may echo them in, replaced byte for byte as
 * host-test/src/redact.rs replaces them: as they are, percent-encoded (either hex case, any
 * mix), JSON-escaped and in base64 (standard and URL-safe, padded or not, and inside a longer
 * encoded text). The same forms, the same order and the same longest match, so both hosts
 * print the same bytes. */
export class Redactor {
  constructor(secrets) {
    const forms = [];
    for (const secret of secrets.filter((s) => s !== '')) {
      for (const form of formsOf(secret)) {
        if (!forms.some((known) => known.text === form.text)) forms.push(form);
      }
    }
    // Longest (in UTF-8 bytes) first, a stable sort as Rust's `sort_by_key`.
    const length = (text) => new TextEncoder().encode(text).length;
    forms.sort((a, b) => length(b.text) - length(a.text));
    this.forms = forms;
    this.firstBytes = new Set(forms.map((form) => new TextEncoder().encode(form.text)[0]));
  }

  isEmpty() {
    return this.forms.length === 0;
  }

  /** The bytes with every secret replaced, or null when there was none. */
  scrubBytes(bytes) {
    if (this.forms.length === 0) return null;
    const pieces = [];
    let copied = 0;
    let at = 0;
    let changed = false;
    while (at < bytes.length) {
      const byte = bytes[at];
      if (byte !== PERCENT && byte !== BACKSLASH && byte !== LESS_THAN && !this.firstBytes.has(byte)) {
        at += 1;
        continue;
      }
      // What an earlier scrub wrote stays as it is.
      if (startsWith(bytes, at, REDACTED_BYTES)) {
        at += REDACTED_BYTES.length;
        continue;
      }
      const end = this.longestMatch(bytes, at);
      if (end === null) {
        at += 1;
        continue;
      }
      pieces.push(bytes.subarray(copied, at), REDACTED_BYTES);
      changed = true;
      copied = end;
      at = end;
    }
    if (!changed) return null;
    pieces.push(bytes.subarray(copied));
    const out = new Uint8Array(pieces.reduce((sum, piece) => sum + piece.length, 0));
    let offset = 0;
    for (const piece of pieces) {
      out.set(piece, offset);
      offset += piece.length;
    }
    return out;
  }

  /** A string with every secret replaced. */
  scrubString(text) {
    if (this.forms.length === 0) return text;
    const scrubbed = this.scrubBytes(new TextEncoder().encode(text));
    return scrubbed === null ? text : new TextDecoder().decode(scrubbed);
  }

  longestMatch(bytes, at) {
    let best = null;
    for (const form of this.forms) {
      let end = matchEncoded(bytes, at, form.text);
      if (end === null) continue;
      for (const c of form.tail) {
        const next = matchChar(bytes, end, c);
        if (next === null) break;
        end = next;
      }
      best = best === null ? end : Math.max(best, end);
    }
    return best;
  }
}

function startsWith(bytes, at, prefix) {
  if (at + prefix.length > bytes.length) return false;
  return prefix.every((byte, i) => bytes[at + i] === byte);
}

/** The texts a secret is looked for as (`forms_of`). */
function formsOf(secret) {
  const forms = [{ text: secret, tail: '' }];
  const bytes = new TextEncoder().encode(secret);
  for (const alphabet of [BASE64_STANDARD, BASE64_URL_SAFE]) {
    for (let offset = 0; offset < 3; offset++) {
      const input = new Uint8Array(offset + bytes.length);
      input.set(bytes, offset);
      const encoded = base64(input, alphabet);
      const start = Math.ceil((8 * offset) / 6);
      const end = Math.floor((8 * (offset + bytes.length)) / 6);
      if (end <= start) continue;
      forms.push(offset === 0 ? { text: encoded.slice(0, end), tail: encoded.slice(end) } : { text: encoded.slice(start, end), tail: '' });
    }
  }
  return forms;
}

function base64(input, alphabet) {
  let out = '';
  for (let i = 0; i < input.length; i += 3) {
    const chunk = input.subarray(i, i + 3);
    const n = (chunk[0] << 16) | ((chunk[1] ?? 0) << 8) | (chunk[2] ?? 0);
    for (let index = 0; index < 4; index++) {
      out += index <= chunk.length ? alphabet[(n >> (18 - 6 * index)) & 63] : '=';
    }
  }
  return out;
}

function matchEncoded(bytes, at, text) {
  let position = at;
  for (const c of text) {
    position = matchChar(bytes, position, c);
    if (position === null) return null;
  }
  return position;
}

/** Where the character `c` ends if it starts at `at`: as a JSON escape, or byte by byte,
 * each byte plain or percent-encoded. */
function matchChar(bytes, at, c) {
  if (bytes[at] === BACKSLASH) {
    const escape = jsonEscape(bytes, at);
    if (escape !== null && escape.codePoint === c.codePointAt(0)) return escape.next;
  }
  let position = at;
  for (const byte of new TextEncoder().encode(c)) {
    if (bytes[position] === byte) {
      position += 1;
    } else if (bytes[position] === PERCENT && hexByte(bytes, position + 1) === byte) {
      position += 3;
    } else {
      return null;
    }
  }
  return position;
}

const SIMPLE_ESCAPES = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09 };

/** The code point a JSON escape at `at` stands for, and where it ends; null when it is no
 * valid escape (a lone surrogate is none). */
function jsonEscape(bytes, at) {
  const kind = bytes[at + 1];
  if (kind === undefined) return null;
  if (kind in SIMPLE_ESCAPES) return { codePoint: SIMPLE_ESCAPES[kind], next: at + 2 };
  if (kind !== 0x75) return null;
  const unit = hexUnit(bytes, at + 2);
  if (unit === null) return null;
  if (unit >= 0xd800 && unit < 0xdc00) {
    if (bytes[at + 6] !== BACKSLASH || bytes[at + 7] !== 0x75) return null;
    const low = hexUnit(bytes, at + 8);
    if (low === null || low < 0xdc00 || low >= 0xe000) return null;
    return { codePoint: 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00), next: at + 12 };
  }
  if (unit >= 0xdc00 && unit < 0xe000) return null;
  return { codePoint: unit, next: at + 6 };
}

function hexDigit(byte) {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return null;
}

function hexByte(bytes, at) {
  const [high, low] = [hexDigit(bytes[at]), hexDigit(bytes[at + 1])];
  return high === null || low === null ? null : (high << 4) | low;
}

function hexUnit(bytes, at) {
  let value = 0;
  for (let i = 0; i < 4; i++) {
    const digit = hexDigit(bytes[at + i]);
    if (digit === null) return null;
    value = (value << 4) | digit;
  }
  return value;
}

/** Whether a URL names this machine (`is_loopback`): an IPv4 literal in 127.0.0.0/8, the
 * IPv6 literal ::1, or `localhost`. WHATWG parsing has already normalised the host
 * ("127.1" is 127.0.0.1, "[0::1]" is [::1], names are lower case), as the url crate does. */
function isLoopback(url) {
  const host = url.hostname;
  if (/^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/.test(host)) return host.startsWith('127.');
  return host === '[::1]' || host === 'localhost';
}

/** A WHATWG URL (the standard the url crate follows too), or null when it does not parse. */
export function parseUrl(text) {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

/** What the url crate says when it cannot parse `url` (its `ParseError` Display). Node's
 * URL only says "Invalid URL", so the common causes are told apart here. */
function urlParseError(url) {
  const trimmed = url.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '');
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(trimmed)) return 'relative URL without a base';
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:[/\\]*([^/\\?#]*)/.exec(trimmed)?.[1] ?? '';
  const hostAndPort = authority.slice(authority.lastIndexOf('@') + 1);
  if (hostAndPort === '' || hostAndPort.startsWith(':')) return 'empty host';
  if (hostAndPort.startsWith('[') && !/^\[[0-9A-Fa-f:.]*\](:|$)/.test(hostAndPort)) return 'invalid IPv6 address';
  const port = /^(?:\[[^\]]*\]|[^:]*):(.*)$/.exec(hostAndPort)?.[1];
  if (port !== undefined && !(/^[0-9]*$/.test(port) && Number(port) <= 65535)) return 'invalid port number';
  // Characters a host may not hold fail the url crate's IDNA step.
  return 'invalid international domain name';
}
