// The JSON layer must read, compare and print exactly as serde_json (preserve_order) does,
// or the two hosts would send the guest different bytes.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatF64, jsonEqual, parseJson, stringifyJson } from '../lib/json.mjs';

const roundTrip = (text) => stringifyJson(parseJson(text));

test('keys keep their written order, integer-like keys included', () => {
  assert.equal(roundTrip('{"z": 1, "10": 2, "a": {"2": true, "1": null}}'), '{"z":1,"10":2,"a":{"2":true,"1":null}}');
});

test('a repeated key keeps its first place and its last value', () => {
  assert.equal(roundTrip('{"a": 1, "b": 2, "a": 3}'), '{"a":3,"b":2}');
});

test('integers and floats stay apart and floats print as serde_json prints them', () => {
  assert.equal(roundTrip('[1, 1.0, -0, 1e2, 0.1, 18446744073709551615, -9223372036854775808]'), '[1,1.0,-0.0,100.0,0.1,18446744073709551615,-9223372036854775808]');
  assert.equal(roundTrip('[1e21, 1e-7, 0.00001, 1234567890123456.8, 1e16, 5e-324]'), '[1e+21,1e-7,0.00001,1234567890123456.8,1e+16,5e-324]');
});

test('long numbers are read the way serde_json reads them, not correctly rounded', () => {
  // serde_json (without float_roundtrip) lands one bit away from JS's Number() here.
  assert.equal(roundTrip('123456789012345678901'), '1.2345678901234567e+20');
  assert.equal(roundTrip('12345678901234567.0'), '1.2345678901234566e+16');
});

test('strings escape what serde_json escapes and nothing more', () => {
  assert.equal(roundTrip('"\\u00e9\\ud83d\\ude00 \\/ \\u007f \\u001f \\t"'), '"é😀 / \u007f \\u001f \\t"');
});

test('what serde_json refuses is refused', () => {
  for (const text of ['01', '1.', '[1,]', '{"a":1,}', '"\\ud800"', '\ufeff{}', '1e400', '"a\tb"', '{} x', '[' .repeat(128) + ']'.repeat(128)]) {
    assert.throws(() => parseJson(text), undefined, text);
  }
  assert.doesNotThrow(() => parseJson('['.repeat(127) + ']'.repeat(127)));
});

test('equality is order-free for objects and kind-strict for numbers', () => {
  assert.ok(jsonEqual(parseJson('{"a": 1, "b": [true]}'), parseJson('{"b": [true], "a": 1}')));
  assert.ok(!jsonEqual(parseJson('{"a": 1}'), parseJson('{"a": 1.0}')));
  assert.ok(jsonEqual(parseJson('0.0'), parseJson('-0.0')));
  assert.ok(!jsonEqual(parseJson('[]'), parseJson('{}')));
});

test('zero and the switch to exponents follow zmij', () => {
  assert.equal(formatF64(0), '0.0');
  assert.equal(formatF64(-0), '-0.0');
  assert.equal(formatF64(999999999999999.9), '999999999999999.9');
  assert.equal(formatF64(1e15), '1000000000000000.0');
  assert.equal(formatF64(-2.5e-6), '-2.5e-6');
});
