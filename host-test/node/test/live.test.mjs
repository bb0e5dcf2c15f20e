// --live and --record against servers this test starts on 127.0.0.1 and stops: the wire
// (a worker thread behind a synchronous import) carries the request the gate finished and
// answers with the server's bytes or a typed error; the clock really sleeps; a recording is
// written whole, and replays to the same entry.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const HOST = join(dirname(fileURLToPath(import.meta.url)), '..', 'iam-host.mjs');

const TOKEN = 'live-test-token-4d9f2a';
const USER = { id: 'u1', userName: 'jd@example.com', emails: [{ value: 'jd@example.com', primary: true }], active: true };
const TEMP = mkdtempSync(join(tmpdir(), 'iam-node-live-'));
const ARGS = '{"user-profile": {"email": "jd@example.com"}}';

/** What the server answers next (replaced by each test) and the requests it saw. */
let answer = (request, response) => response.end();
const seen = [];
let server;
let origin;

/** A server on 127.0.0.1 (any free port), once listening; `closeAll` stops it, its
 * connections cut. */
const sockets = new Map();
function listen(made) {
  sockets.set(made, new Set());
  made.on('connection', (socket) => {
    sockets.get(made).add(socket);
    socket.on('close', () => sockets.get(made).delete(socket));
  });
  return new Promise((resolve) => made.listen(0, '127.0.0.1', () => resolve(made)));
}
function closeAll(made) {
  for (const socket of sockets.get(made)) socket.destroy();
  return new Promise((resolve) => made.close(() => resolve()));
}

before(async () => {
  server = await listen(
    createHttpServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        seen.push({ method: request.method, url: request.url, headers: request.headers, body });
        answer(request, response);
      });
    }),
  );
  origin = `http://127.0.0.1:${server.address().port}`;
});
after(async () => {
  await closeAll(server);
  rmSync(TEMP, { recursive: true, force: true });
});

function file(name, value) {
  const path = join(TEMP, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

const config = (url = origin, more = {}) => file(`config-${Math.random().toString(36).slice(2)}.json`, { url, access_token: TOKEN, directory_id: 'd1', ...more });

/** The host, as a child process that this one (which runs the servers) does not wait on.
 * The token never reaches its outputs. */
async function host(words, env = process.env) {
  const component = process.env.IAM_COMPONENT ? ['--component', process.env.IAM_COMPONENT] : [];
  const started = Date.now();
  const child = spawn(process.execPath, [HOST, ...words.slice(0, 2), ...component, ...words.slice(2)], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise((resolve) => child.on('close', resolve));
  assert.ok(!stdout.includes(TOKEN) && !stderr.includes(TOKEN), 'the token reached an output');
  return { code, stdout, stderr, millis: Date.now() - started };
}

const getUser = (...more) => ['run', 'iam-get-user', '--config', config(), '--args', ARGS, '--live', ...more];
const json = (response, status, value, headers = {}) => {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(value));
};
const found = (request, response) => json(response, 200, { totalResults: 1, Resources: [USER] });
const contents = (out) => JSON.parse(out.stdout).Contents;

test('a live command sends the finished request, credential attached, and prints the entry', async () => {
  answer = found;
  seen.length = 0;
  const out = await host(getUser());
  assert.equal(out.code, 0, out.stderr);
  assert.equal(contents(out).success, true);
  assert.equal(contents(out).id, 'u1');
  assert.equal(seen.length, 1);
  assert.equal(seen[0].method, 'GET');
  assert.equal(seen[0].url, '/scim/directory/d1/Users?filter=emails.value%20eq%20%22jd%40example.com%22');
  assert.equal(seen[0].headers.authorization, `Bearer ${TOKEN}`);
  assert.match(seen[0].headers['user-agent'], /^iam-host\.mjs/);
});

test('--record writes the cassette whole, the token redacted, and it replays to the same entry', async () => {
  answer = found;
  const recording = join(TEMP, 'recording.json');
  const live = await host(getUser('--record', recording));
  assert.equal(live.code, 0, live.stderr);
  const text = readFileSync(recording, 'utf8');
  assert.ok(!text.includes(TOKEN));
  assert.equal(JSON.parse(text).interactions[0].request.headers.authorization, 'Bearer <redacted>');
  assert.deepEqual(readdirSync(TEMP).filter((name) => name.endsWith('.tmp')), [], 'a temporary file was left');
  const replayed = await host(['run', 'iam-get-user', '--config', config(), '--args', ARGS, '--cassette', recording]);
  assert.equal(replayed.code, 0, replayed.stderr);
  assert.equal(replayed.stdout, live.stdout);
  // It is not replaced without --overwrite (and nothing is sent), and is with it.
  seen.length = 0;
  const refused = await host(getUser('--record', recording));
  assert.equal(refused.code, 2);
  assert.equal(refused.stdout, '');
  assert.equal(seen.length, 0);
  writeFileSync(recording, 'old');
  const replaced = await host(getUser('--record', recording, '--overwrite'));
  assert.equal(replaced.code, 0, replaced.stderr);
  assert.equal(JSON.parse(readFileSync(recording, 'utf8')).interactions.length, 1);
});

test('a recording that cannot be written still prints the entry, names the file and exits 2', async () => {
  const directory = join(TEMP, 'gone');
  mkdirSync(directory);
  const recording = join(directory, 'r.json');
  // The folder is there when checked and gone when written: the server removes it.
  answer = (request, response) => {
    rmSync(directory, { recursive: true, force: true });
    found(request, response);
  };
  const out = await host(getUser('--record', recording));
  assert.equal(out.code, 2, out.stderr);
  assert.equal(contents(out).success, true);
  assert.match(out.stderr, new RegExp(`iam-host\\.mjs: cannot write the recording ${recording}: ENOENT`));
  assert.ok(!existsSync(recording));
});

test('the clock really sleeps: a 429 with Retry-After 1 is retried a second later', async () => {
  let calls = 0;
  answer = (request, response) => (calls++ === 0 ? json(response, 429, {}, { 'retry-after': '1' }) : found(request, response));
  const out = await host(getUser());
  assert.equal(out.code, 0, out.stderr);
  assert.equal(contents(out).success, true);
  assert.equal(calls, 2);
  assert.ok(out.millis >= 1000, `${out.millis} ms`);
});

test('a redirect is the answer, never followed', async () => {
  seen.length = 0;
  answer = (request, response) => {
    response.writeHead(302, { location: `${origin}/elsewhere` });
    response.end();
  };
  const out = await host(getUser());
  assert.equal(out.code, 0, out.stderr);
  assert.equal(contents(out).success, false);
  assert.equal(contents(out).errorCode, 302);
  assert.equal(seen.length, 1);
});

test('wire errors reach the component typed: refused, timeout, too large, invalid HTTP', async () => {
  const short = file('short.json', { wall_millis: 300, request_timeout_millis: 300, response_bytes: 4096 });
  const firstFailure = (out) => out.stderr.split('\n').find((line) => line.includes('guest warn:')) ?? JSON.stringify(contents(out));
  // Nothing listens on a port just closed.
  const closed = await listen(createTcpServer());
  const port = closed.address().port;
  await closeAll(closed);
  const refused = await host(['run', 'iam-get-user', '--config', config(`http://127.0.0.1:${port}`), '--args', ARGS, '--live', '--limits', short]);
  assert.match(firstFailure(refused), /the server refused the connection/);

  answer = () => {}; // never answers
  const slow = await host([...getUser(), '--limits', short]);
  assert.equal(contents(slow).success, false);
  assert.match(contents(slow).errorMessage, /timed out/);
  assert.ok(slow.millis < 5000, `${slow.millis} ms`);

  answer = (request, response) => json(response, 200, { totalResults: 1, Resources: [{ ...USER, title: 'x'.repeat(100_000) }] });
  const large = await host([...getUser(), '--limits', short]);
  assert.equal(contents(large).success, false);
  assert.match(contents(large).errorMessage, /4096/);

  const garbage = await listen(createTcpServer((socket) => socket.end('HELLO THERE\r\n\r\n')));
  const invalid = await host(['run', 'iam-get-user', '--config', config(`http://127.0.0.1:${garbage.address().port}`), '--args', ARGS, '--live', '--limits', short]);
  await closeAll(garbage);
  assert.match(contents(invalid).errorMessage, /answered with invalid HTTP/);
});

test('TLS is verified unless the instance is insecure', { skip: spawnSync('openssl', ['version']).status !== 0 && 'no openssl' }, async () => {
  const key = join(TEMP, 'key.pem');
  const cert = join(TEMP, 'cert.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
  assert.equal(made.status, 0, String(made.stderr));
  const secure = await listen(createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (request, response) => found(request, response)));
  const url = `https://127.0.0.1:${secure.address().port}`;
  try {
    const verified = await host(['run', 'iam-get-user', '--config', config(url), '--args', ARGS, '--live']);
    assert.equal(contents(verified).success, false);
    assert.match(contents(verified).errorMessage, /TLS/);
    const insecure = await host(['run', 'iam-get-user', '--config', config(url, { insecure: true }), '--args', ARGS, '--live']);
    assert.equal(contents(insecure).success, true, insecure.stdout);
  } finally {
    await closeAll(secure);
  }
});

test('the system proxy is used only when the instance says proxy', async () => {
  const tunnels = [];
  const proxy = await listen(
    createHttpServer().on('connect', (request, socket) => {
      tunnels.push(request.url);
      socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    }),
  );
  const env = { ...process.env, HTTPS_PROXY: `http://iam:proxy-password-7c1@127.0.0.1:${proxy.address().port}`, NO_PROXY: '' };
  const short = file('proxy-limits.json', { wall_millis: 300 });
  const words = (more) => ['run', 'iam-get-user', '--config', config('https://iam-proxy-test.invalid', more), '--args', ARGS, '--live', '--limits', short];
  try {
    await host(words({}), env);
    assert.deepEqual(tunnels, []);
    const proxied = await host(words({ proxy: true }), env);
    assert.equal(proxied.code, 0, proxied.stderr);
    assert.deepEqual(tunnels, ['iam-proxy-test.invalid:443']);
    // No cause is quoted through the proxy: it could name the proxy's password.
    assert.match(proxied.stderr, /the request through the system proxy failed/);
    assert.ok(!`${proxied.stdout}${proxied.stderr}`.includes('proxy-password-7c1'));
  } finally {
    await closeAll(proxy);
  }
});

test("the wire sends the body as given, never the guest's framing headers", async () => {
  // The wire blocks this thread while it waits (Atomics.wait), so the server is a process of
  // its own: it prints its port, then answers one request with the head it received.
  const script = `const s = require('node:net').createServer((c) => { let got = '';
    c.on('data', (d) => { got += d; if (got.includes('\\r\\n\\r\\n') && got.endsWith('{"a":1}')) {
      c.end('HTTP/1.1 200 OK\\r\\ncontent-length: ' + Buffer.byteLength(got) + '\\r\\n\\r\\n' + got); s.close(); } }); });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));`;
  const child = spawn(process.execPath, ['-e', script]);
  const port = await new Promise((resolve) => child.stdout.once('data', (chunk) => resolve(Number(String(chunk).trim()))));
  const { Wire } = await import('../lib/wire.mjs');
  const wire = new Wire(5000);
  try {
    const answer = wire.send({
      method: 'POST', url: `http://127.0.0.1:${port}/x?y=1`, body: '{"a":1}',
      headers: [{ name: 'Authorization', value: `Bearer ${TOKEN}` }, { name: 'Content-Length', value: '999' }, { name: 'Transfer-Encoding', value: 'chunked' }],
      timeoutMs: 5000n, maxResponseBytes: 65536n, verifyTls: true, useProxy: false,
    });
    assert.equal(answer.tag, 'ok', JSON.stringify(answer));
    const head = Buffer.from(answer.val.body).toString().toLowerCase();
    assert.ok(head.startsWith('post /x?y=1 http/1.1\r\n'), head);
    assert.ok(head.includes(`authorization: bearer ${TOKEN}\r\n`) && head.includes('content-length: 7\r\n'), head);
    // (Not "999" alone: the server's port, in the host header, may hold it.)
    assert.ok(!head.includes('content-length: 999') && !head.includes('transfer-encoding'), head);
  } finally {
    wire.close();
    child.kill();
  }
});
