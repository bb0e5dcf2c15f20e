// A tenant's policy, as host-test/src/policy.rs and lib.rs decide it: the one origin its
// requests may reach (that of the configured `url`), plain http only to a loopback address,
// the token the host holds for it, and the headers a guest may not set. Denial texts reach the guest (and so, possibly, an
// entry), so they are worded and quoted exactly as the Rust host words them.

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

export class Policy {
  /** The policy of an instance: its url's origin (http or https only) and its token. */
  constructor(configuredUrl, token) {
    const parsed = typeof configuredUrl === 'string' ? parseUrl(configuredUrl) : null;
    const usable = parsed && (parsed.protocol === 'http:' || parsed.protocol === 'https:');
    this.allowedOrigin = usable ? originOf(parsed) : null;
    this.credentials = new Map(token === null ? [] : [[CREDENTIAL_NAME, token]]);
  }

  /** Check a guest request's URL and header names (`Policy::check`): the parsed URL, or
   * the reason for refusing it. */
  check(url, headerNames) {
    const parsed = parseUrl(url);
    if (parsed === null) return { denied: `${JSON.stringify(url)} is not an absolute URL (${urlParseError(url)})` };
    const origin = originOf(parsed);
    if (origin === null) return { denied: `${JSON.stringify(url)} has no host` };
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
    const forbidden = headerNames.find((name) => FORBIDDEN_GUEST_HEADERS.includes(httpLowercase(name)));
    if (forbidden !== undefined) return { denied: `the guest may not set the ${JSON.stringify(forbidden)} header` };
    return { url: parsed };
  }

  credential(name) {
    return this.credentials.get(name) ?? null;
  }
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
