// The matching rules of host-test/src/cassette.rs, checked on the same examples as its
// unit tests, plus the shape checks that make a bad cassette exit 2.

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { FileError, Replay, ReplayFault, loadCassette, mismatch, responseBodyBytes } from '../lib/cassette.mjs';
import { parseJson } from '../lib/json.mjs';

function cassetteFile(text) {
  const path = join(mkdtempSync(join(tmpdir(), 'iam-js-cassette-')), 'cassette.json');
  writeFileSync(path, text);
  return path;
}

/** A recorded request as the loader makes it. */
function recorded(request) {
  const text = JSON.stringify({ interactions: [{ request, response: { status: 200 } }] });
  return loadCassette(cassetteFile(text)).interactions[0].request;
}

const check = (recording, method, url, headers = [], body = undefined) => mismatch(recording, { method, url: new URL(url), headers, body });

test('spaces match as plus or %20 and parameter order is free', () => {
  const r = recorded({ method: 'GET', url: 'https://h/scim/Users?filter=userName+eq+%22a%40b%22&count=1' });
  assert.equal(check(r, 'GET', 'https://h/scim/Users?count=1&filter=userName%20eq%20%22a@b%22'), null);
  assert.notEqual(check(r, 'GET', 'https://h/scim/Users?filter=userName%20eq%20%22a@c%22&count=1'), null);
  assert.notEqual(check(r, 'GET', 'https://h/scim/Users?filter=userName%20eq%20%22a@b%22'), null);
});

test('an encoded slash never matches a real one', () => {
  const r = recorded({ method: 'GET', url: 'https://h/Users/a%2Fb' });
  assert.equal(check(r, 'GET', 'https://h/Users/a%2Fb'), null);
  assert.notEqual(check(r, 'GET', 'https://h/Users/a/b'), null);
  assert.equal(check(recorded({ method: 'GET', url: 'https://h/Users/a%20b' }), 'GET', 'https://h/Users/a%20b'), null);
});

test('bodies compare as JSON only when recorded', () => {
  const r = recorded({ method: 'PUT', url: 'https://h/x', body: { a: 1, b: [true] } });
  assert.equal(check(r, 'PUT', 'https://h/x', [], '{"b":[true],"a":1}'), null);
  assert.equal(check(r, 'PUT', 'https://h/x', [], '{"a":2,"b":[true]}'), 'the bodies differ');
  assert.equal(check(r, 'PUT', 'https://h/x', [], '{"a":1.0,"b":[true]}'), 'the bodies differ');
  const noBody = recorded({ method: 'GET', url: 'https://h/x', body: null });
  assert.equal(check(noBody, 'GET', 'https://h/x'), null);
  assert.equal(check(noBody, 'GET', 'https://h/x', [], ' \n'), null);
  assert.notEqual(check(noBody, 'GET', 'https://h/x', [], '{}'), null);
  assert.equal(check(recorded({ method: 'POST', url: 'https://h/x' }), 'POST', 'https://h/x', [], '{}'), null);
});

test('recorded headers must be present and a redacted bearer matches any token', () => {
  const r = recorded({ method: 'GET', url: 'https://h/x', headers: { Authorization: 'Bearer <redacted>', accept: 'application/json' } });
  assert.equal(check(r, 'GET', 'https://h/x', [['authorization', 'Bearer abc'], ['Accept', 'application/json']]), null);
  assert.notEqual(check(r, 'GET', 'https://h/x', [['Accept', 'application/json']]), null);
  assert.notEqual(check(r, 'GET', 'https://h/x', [['authorization', 'Basic abc'], ['Accept', 'application/json']]), null);
});

test('methods and origins must be equal', () => {
  const r = recorded({ method: 'GET', url: 'https://h/x' });
  assert.match(check(r, 'POST', 'https://h/x'), /method/);
  assert.equal(check(r, 'get', 'https://h:443/x'), null);
  assert.notEqual(check(r, 'GET', 'https://h:444/x'), null);
  assert.notEqual(check(r, 'GET', 'http://h/x'), null);
});

test('response bodies keep their key order and strings are raw', () => {
  const text = (body) => new TextDecoder().decode(responseBodyBytes(body));
  assert.equal(text(parseJson('{"z": 1, "a": 2, "3": 1.0}')), '{"z":1,"a":2,"3":1.0}');
  assert.equal(text('<html>'), '<html>');
  assert.equal(text(undefined), '');
  assert.equal(text(null), '');
});

test('unknown, repeated and missing keys and wrong types are refused', () => {
  for (const text of [
    '{"interactions": [], "extra": 1}',
    '{"interactions": [{"request": {"method": "GET", "url": "u", "bodyy": 1}, "response": {"status": 200}}]}',
    '{"interactions": [{"request": {"method": "GET"}, "response": {"status": 200}}]}',
    '{"interactions": [{"request": {"method": "GET", "url": "u"}, "response": {"status": 200.0}}]}',
    '{"interactions": [{"request": {"method": "GET", "url": "u"}, "response": {"status": 70000}}]}',
    '{"interactions": [], "interactions": []}',
    '{"interactions": {}}',
    '[]',
  ]) {
    assert.throws(() => loadCassette(cassetteFile(text)), FileError, text);
  }
});

test('replay answers in order, faults on a mismatch and reports unused interactions', () => {
  const path = cassetteFile(JSON.stringify({
    interactions: [
      { request: { method: 'GET', url: 'https://h/a', body: null }, response: { status: 200, headers: { 'Retry-After': 1 }, body: { b: 1 } } },
      { request: { method: 'GET', url: 'https://h/b', body: null }, response: { status: 204 } },
    ],
  }));
  const replay = new Replay(loadCassette(path));
  const response = replay.send({ method: 'GET', url: new URL('https://h/a'), headers: [], body: undefined });
  assert.deepEqual(response.headers, [['Retry-After', '1']]);
  assert.match(replay.unused(), /^1 recorded interaction\(s\) were not used; the first: GET https:\/\/h\/b/);
  assert.throws(() => replay.send({ method: 'GET', url: new URL('https://h/c'), headers: [], body: undefined }), ReplayFault);
  const before = replay.nowMillis();
  replay.sleep(1500n);
  assert.equal(replay.nowMillis(), before + 1500n);
});
