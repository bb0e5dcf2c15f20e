// The tenant policy, which must match the Rust host's exactly: its denials reach the guest.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseJson, stringifyJson } from '../lib/json.mjs';
import { Policy, splitSecret } from '../lib/policy.mjs';

const policy = () => new Policy('https://api.atlassian.com/', 't0k3n');

test('the configured origin is allowed', () => {
  assert.equal(policy().check('https://api.atlassian.com/scim/directory/d/Users?count=1', ['accept']).url.pathname, '/scim/directory/d/Users');
  assert.ok(policy().check('https://API.atlassian.com:443/x', []).url);
});

test('disallowed origins are denied with the Rust host words', () => {
  assert.equal(policy().check('https://evil.example/x', []).denied, 'origin https://evil.example:443 is not allowed; this tenant may reach only https://api.atlassian.com:443');
  for (const url of ['http://api.atlassian.com/x', 'https://api.atlassian.com:8443/x', 'https://api.atlassian.com.evil.example/x']) {
    assert.match(policy().check(url, []).denied, /is not allowed/, url);
  }
  assert.equal(policy().check('not a url', []).denied, '"not a url" is not an absolute URL (relative URL without a base)');
  assert.equal(policy().check('https://u:p@api.atlassian.com/x', []).denied, 'URLs with user information are not allowed');
  assert.match(new Policy('ftp://x', null).check('https://x/y', []).denied, /this tenant has no usable url configured/);
});

test('plain http is allowed only to loopback addresses', () => {
  for (const url of ['http://127.0.0.1:8080/scim', 'http://127.8.9.10/x', 'http://[::1]:9/x', 'http://LOCALHOST:5000/x', 'http://127.1/x']) {
    assert.ok(new Policy(url, null).check(url, []).url, url);
  }
  for (const url of ['http://api.atlassian.com/x', 'http://10.0.0.1:8080/x', 'http://[::2]/x', 'http://localhost.evil.example/x', 'http://[::ffff:127.0.0.1]/x']) {
    assert.match(new Policy(url, null).check(url, []).denied, /^plain http is allowed only to a loopback address; http:\/\/.* must use https$/, url);
  }
  assert.ok(new Policy('https://10.0.0.1:8443', null).check('https://10.0.0.1:8443/x', []).url);
});

test('another loopback port is another origin', () => {
  const denied = new Policy('http://127.0.0.1:4000/scim', null).check('http://127.0.0.1:4001/scim/directory/d/Users', []).denied;
  assert.equal(denied, 'origin http://127.0.0.1:4001 is not allowed; this tenant may reach only http://127.0.0.1:4000');
});

test('guest credentials and routing headers are refused', () => {
  for (const name of ['Authorization', 'cookie', 'HOST', 'Proxy-Authorization', 'Set-Cookie']) {
    assert.equal(policy().check('https://api.atlassian.com/x', ['accept', name]).denied, `the guest may not set the "${name}" header`);
  }
});

test('the token is taken out of the parameters and creds win', () => {
  const split = (text) => splitSecret(parseJson(text));
  const both = split('{"url": "u", "access_token": "plain", "access_token_creds": {"password": "creds"}, "z": 1}');
  assert.equal(stringifyJson(both.params), '{"url":"u","z":1}');
  assert.equal(both.token, 'creds');
  assert.equal(split('{"access_token": "plain", "access_token_creds": {"password": ""}}').token, 'plain');
  assert.equal(split('{"access_token": 5}').token, null);
  assert.equal(split('{"access_token": "", "access_token_creds": "x"}').token, null);
});

test('guest-supplied texts in denials are quoted as JSON strings, as the Rust host quotes them', () => {
  assert.equal(policy().check('https://api.atlassian.com/x', ['Cookie']).denied, 'the guest may not set the "Cookie" header');
  assert.equal(policy().check('no "url"\n', []).denied.startsWith('"no \\"url\\"\\n" is not an absolute URL ('), true);
});
