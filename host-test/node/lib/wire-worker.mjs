// The wire's worker thread (see wire.mjs): sends each finished request with undici and posts
// the answer back. It moves bytes under the timeout and size cap it is given and nothing
// else: no redirect is followed (undici's `request` follows none), TLS is verified unless the
// request says not to, the system proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) is used only when
// it says to, and an error names its cause, never a header or a proxy URL.

import { workerData } from 'node:worker_threads';
import { Agent, EnvHttpProxyAgent, request } from 'undici';

const { port, connectTimeoutMs } = workerData;
const flag = new Int32Array(workerData.flag);

/** Request headers undici derives from the body it really sends: a guest's value could
 * contradict the bytes on the wire (live.rs FRAMING_HEADERS). */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'te', 'upgrade']);
const USER_AGENT = 'iam-host.mjs (Node.js)';

/** One dispatcher (and its pooled connections) per verify-tls and use-proxy pair. */
const dispatchers = new Map();
function dispatcher(verifyTls, useProxy) {
  const key = `${verifyTls}/${useProxy}`;
  if (!dispatchers.has(key)) {
    const tls = { timeout: connectTimeoutMs, rejectUnauthorized: verifyTls };
    const options = { connect: tls, requestTls: tls, proxyTls: { timeout: connectTimeoutMs } };
    dispatchers.set(key, useProxy ? new EnvHttpProxyAgent(options) : new Agent({ connect: tls }));
  }
  return dispatchers.get(key);
}

const err = (tag, val) => ({ tag: 'err', val: val === undefined ? { tag } : { tag, val } });
const TOO_LARGE = err('too-large');

async function send(outgoing) {
  const signal = AbortSignal.timeout(Math.min(Number(outgoing.timeoutMs), 2 ** 31 - 1));
  try {
    return await exchange(outgoing, signal);
  } catch (error) {
    return wireError(error, signal.aborted, outgoing.useProxy);
  }
}

async function exchange(outgoing, signal) {
  const headers = { 'user-agent': USER_AGENT };
  for (const { name, value } of outgoing.headers) {
    if (!FRAMING.has(name.toLowerCase())) headers[name] = value;
  }
  const cap = Number(outgoing.maxResponseBytes);
  const response = await request(outgoing.url, {
    method: outgoing.method,
    headers,
    body: outgoing.body ?? undefined,
    // An unusable proxy setting throws here, and is named as no more than a proxy failure.
    dispatcher: dispatcher(outgoing.verifyTls, outgoing.useProxy),
    signal,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  // Each value of a repeated header is its own pair; values as UTF-8 (undici reads latin1).
  const pairs = Object.entries(response.headers).flatMap(([name, values]) =>
    [values].flat().map((value) => ({ name, value: Buffer.from(value, 'latin1').toString('utf8') })),
  );
  let size = pairs.reduce((sum, { name, value }) => sum + Buffer.byteLength(name) + Buffer.byteLength(value), 0);
  const chunks = [];
  for await (const chunk of response.body) {
    size += chunk.length;
    // Stop reading past the cap: a hostile server cannot fill the host's memory.
    if (size > cap) {
      response.body.destroy();
      return TOO_LARGE;
    }
    chunks.push(chunk);
  }
  return { tag: 'ok', val: { status: response.statusCode, headers: pairs, body: new Uint8Array(Buffer.concat(chunks)) } };
}

/** undici's and Node's errors as WIT `wire-error`s. Through the proxy no cause is quoted: it
 * could name the proxy's URL, password and all. */
function wireError(error, timedOut, viaProxy) {
  const code = String(error?.code ?? error?.cause?.code ?? '');
  const why = String(error?.message ?? error);
  if (timedOut || code.includes('TIMEOUT') || code === 'ETIMEDOUT') return err('timeout');
  if (/CERT|SSL|TLS|SIGNATURE|ISSUER|EPROTO/.test(code)) return err('tls', `the TLS connection failed: ${why}`);
  if (error?.name === 'HTTPParserError' || code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
    return err('protocol', `the server answered with invalid HTTP: ${why}`);
  }
  if (viaProxy) return err('transport', 'the request through the system proxy failed');
  if (code === 'ECONNREFUSED') return err('transport', 'the server refused the connection (is it running?)');
  return err('transport', `the request failed: ${why}`);
}

port.on('message', async (outgoing) => {
  const answer = await send(outgoing);
  port.postMessage(answer);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
