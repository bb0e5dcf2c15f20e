// JSON as the Rust host's serde_json (features = ["preserve_order"]) reads, compares and
// writes it. JSON.parse/JSON.stringify are not enough for a byte-identical second host:
//   * JS objects list integer-like keys ("10") first, while serde_json keeps written order,
//     and key order reaches the markdown through the replayed response bodies;
//   * serde_json keeps 1 (an integer) and 1.0 (a float) apart: they compare unequal when a
//     recorded request body is matched, and the float prints back as "1.0";
//   * serde_json prints floats with ryu ("1e21", "1e-7"), JS as "1e+21", "1e-7".
// So values are parsed into a small tree: JsonObject (a Map in written order), arrays,
// strings, booleans, null and JsonNumber.

/** serde_json's nesting limit (`remaining_depth` starts at 128). */
const RECURSION_LIMIT = 128;
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I32_MAX = 2147483647n;
/** A number's syntax (RFC 8259), matched where the parser stands. */
const NUMBER = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
/** Characters a string may hold without escaping. */
const PLAIN_RUN = /[^"\\\u0000-\u001f]*/y;

/** A JSON object: entries in written order; a repeated key keeps its first place and its
 * last value (serde_json's IndexMap insert). `repeatedKeys` lets struct-shaped files refuse
 * a duplicate field as serde's derive does. */
export class JsonObject {
  constructor() {
    this.entries = new Map();
    this.repeatedKeys = [];
  }
  get(key) {
    return this.entries.get(key);
  }
  has(key) {
    return this.entries.has(key);
  }
  keys() {
    return [...this.entries.keys()];
  }
}

/** A JSON number as serde_json holds it: `u64`, `i64` (negative only) or `f64`. */
export class JsonNumber {
  constructor(kind, value) {
    this.kind = kind; // 'u64' | 'i64' | 'f64'
    this.value = value; // bigint for u64/i64, number for f64
  }
}

export class JsonSyntaxError extends Error {}

/** Parse JSON text strictly (RFC 8259, as serde_json does); throws JsonSyntaxError. */
export function parseJson(text) {
  const parser = new Parser(text);
  parser.skipWhitespace();
  const value = parser.value(RECURSION_LIMIT);
  parser.skipWhitespace();
  if (parser.position < text.length) parser.fail('trailing characters');
  return value;
}

class Parser {
  constructor(text) {
    this.text = text;
    this.position = 0;
  }

  fail(why) {
    throw new JsonSyntaxError(`${why} at character ${this.position + 1}`);
  }

  // JSON whitespace only: serde_json refuses a byte-order mark or other Unicode spaces.
  skipWhitespace() {
    while (' \t\n\r'.includes(this.text[this.position] ?? 'x')) this.position++;
  }

  value(depthLeft) {
    const char = this.text[this.position];
    if (char === '{') return this.object(depthLeft);
    if (char === '[') return this.array(depthLeft);
    if (char === '"') return this.string();
    if (char === '-' || (char >= '0' && char <= '9')) return this.number();
    for (const [word, value] of [['true', true], ['false', false], ['null', null]]) {
      if (this.text.startsWith(word, this.position)) {
        this.position += word.length;
        return value;
      }
    }
    return this.fail('expected value');
  }

  enter(depthLeft) {
    if (depthLeft - 1 === 0) this.fail('recursion limit exceeded');
    this.position++;
    this.skipWhitespace();
    return depthLeft - 1;
  }

  object(depthLeft) {
    const inner = this.enter(depthLeft);
    const object = new JsonObject();
    if (this.text[this.position] === '}') {
      this.position++;
      return object;
    }
    for (;;) {
      if (this.text[this.position] !== '"') this.fail('key must be a string');
      const key = this.string();
      this.skipWhitespace();
      if (this.text[this.position] !== ':') this.fail("expected ':'");
      this.position++;
      this.skipWhitespace();
      if (object.entries.has(key)) object.repeatedKeys.push(key);
      object.entries.set(key, this.value(inner));
      this.skipWhitespace();
      const next = this.text[this.position++];
      if (next === '}') return object;
      if (next !== ',') this.fail("expected ',' or '}'");
      this.skipWhitespace();
    }
  }

  array(depthLeft) {
    const inner = this.enter(depthLeft);
    const array = [];
    if (this.text[this.position] === ']') {
      this.position++;
      return array;
    }
    for (;;) {
      array.push(this.value(inner));
      this.skipWhitespace();
      const next = this.text[this.position++];
      if (next === ']') return array;
      if (next !== ',') this.fail("expected ',' or ']'");
      this.skipWhitespace();
    }
  }

  string() {
    this.position++; // the opening quote
    let result = '';
    for (;;) {
      PLAIN_RUN.lastIndex = this.position;
      const run = PLAIN_RUN.exec(this.text)[0];
      result += run;
      this.position += run.length;
      const char = this.text[this.position];
      if (char === undefined) this.fail('EOF while parsing a string');
      if (char === '"') {
        this.position++;
        return result;
      }
      if (char === '\\') {
        result += this.escape();
      } else {
        this.fail('control character found while parsing a string');
      }
    }
  }

  escape() {
    const code = this.text[this.position + 1];
    this.position += 2;
    const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
    if (code in simple) return simple[code];
    if (code !== 'u') return this.fail('invalid escape');
    const unit = this.hex4();
    // serde_json refuses lone surrogates when it builds a String.
    if (unit >= 0xdc00 && unit <= 0xdfff) this.fail('lone trailing surrogate in hex escape');
    if (unit < 0xd800 || unit > 0xdbff) return String.fromCharCode(unit);
    if (this.text.slice(this.position, this.position + 2) !== '\\u') this.fail('lone leading surrogate in hex escape');
    this.position += 2;
    const low = this.hex4();
    if (low < 0xdc00 || low > 0xdfff) this.fail('lone leading surrogate in hex escape');
    return String.fromCharCode(unit, low);
  }

  hex4() {
    const digits = this.text.slice(this.position, this.position + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) this.fail('invalid escape');
    this.position += 4;
    return parseInt(digits, 16);
  }

  number() {
    NUMBER.lastIndex = this.position;
    const match = NUMBER.exec(this.text);
    if (!match) return this.fail('invalid number');
    // serde_json refuses "01", "1." and "1e" alike.
    const after = this.text[this.position + match[0].length];
    if (after !== undefined && /[0-9.eE]/.test(after)) this.fail('invalid number');
    this.position += match[0].length;
    return numberFromText(match[0], match[2] !== undefined || match[3] !== undefined);
  }
}

/** serde_json's choice: an integer that fits u64 (or i64 when negative) stays an integer;
 * "-0", larger integers and anything with a fraction or exponent is an f64. */
function numberFromText(text, isFloatSyntax) {
  if (!isFloatSyntax) {
    const negative = text.startsWith('-');
    const magnitude = BigInt(negative ? text.slice(1) : text);
    if (magnitude <= U64_MAX) {
      if (!negative) return new JsonNumber('u64', magnitude);
      if (magnitude !== 0n && -magnitude >= I64_MIN) return new JsonNumber('i64', -magnitude);
      return new JsonNumber('f64', -Number(magnitude)); // "-0", and below i64::MIN
    }
  }
  return new JsonNumber('f64', serdeFloat(text));
}

/** serde_json's float reading without its `float_roundtrip` feature (de.rs), step for step:
 * up to 19-20 significant digits gathered into a u64 (later digits only move the exponent or
 * are dropped), then one multiplication or division by a power of ten. It can differ from
 * JS's correctly rounded Number() in the last bit for long numbers, and the Rust host prints
 * what serde_json read. */
function serdeFloat(text) {
  const [, sign, integerDigits, fractionDigits = '', exponentText] = /^(-?)([0-9]+)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/.exec(text);
  let significand = 0n;
  let exponent = 0;
  let overflowed = false;
  for (const digit of integerDigits) {
    if (!overflowed && significand * 10n + BigInt(digit) <= U64_MAX) significand = significand * 10n + BigInt(digit);
    else [overflowed, exponent] = [true, exponent + 1];
  }
  for (const digit of fractionDigits) {
    if (significand * 10n + BigInt(digit) > U64_MAX) break; // parse_decimal_overflow drops the rest
    significand = significand * 10n + BigInt(digit);
    exponent -= 1;
  }
  if (exponentText !== undefined) {
    const magnitude = BigInt(exponentText.replace(/^[+-]/, ''));
    const positiveExponent = !exponentText.startsWith('-');
    if (magnitude > I32_MAX) {
      // parse_exponent_overflow: an error instead of infinity, zero for tiny numbers.
      if (significand !== 0n && positiveExponent) throw new JsonSyntaxError(`number out of range: ${text}`);
      return sign ? -0 : 0;
    }
    const total = BigInt(exponent) + (positiveExponent ? magnitude : -magnitude);
    exponent = Number(total > I32_MAX ? I32_MAX : total < -I32_MAX - 1n ? -I32_MAX - 1n : total);
  }
  const magnitude = scaleByPowerOfTen(Number(significand), exponent, text);
  return sign ? -magnitude : magnitude;
}

/** `f64_from_parts`: POW10[n] are the doubles nearest to 1e0..1e308. */
function scaleByPowerOfTen(value, exponent, text) {
  for (;;) {
    if (Math.abs(exponent) <= 308) {
      const power = Number(`1e${Math.abs(exponent)}`);
      if (exponent < 0) return value / power;
      const scaled = value * power;
      if (!Number.isFinite(scaled)) throw new JsonSyntaxError(`number out of range: ${text}`);
      return scaled;
    }
    if (value === 0) return 0;
    if (exponent >= 0) throw new JsonSyntaxError(`number out of range: ${text}`);
    value /= 1e308;
    exponent += 308;
  }
}

/** Compact JSON text, byte for byte what serde_json's `Value::to_string` prints. */
export function stringifyJson(value) {
  if (value === null) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'string') return quote(value);
  if (value instanceof JsonNumber) return formatNumber(value);
  if (Array.isArray(value)) return `[${value.map(stringifyJson).join(',')}]`;
  if (value instanceof JsonObject) {
    const members = [...value.entries].map(([key, member]) => `${quote(key)}:${stringifyJson(member)}`);
    return `{${members.join(',')}}`;
  }
  throw new TypeError(`not a JSON value: ${String(value)}`);
}

/** serde_json escapes the same characters as JSON.stringify (quote, backslash and control
 * characters, \u00XX in lower case); lone surrogates cannot occur in parsed text. */
function quote(text) {
  return JSON.stringify(text);
}

function formatNumber(number) {
  return number.kind === 'f64' ? formatF64(number.value) : number.value.toString();
}

/** What serde_json (through the zmij crate) prints for an f64: the shortest digits that
 * read back as the same double (JS finds the same ones), written plainly while the decimal
 * exponent is within -5..=15 and as "d.ddde+X" / "de-X" outside it. */
export function formatF64(value) {
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const sign = value < 0 ? '-' : '';
  const [mantissa, exponentText] = Math.abs(value).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const exponent = Number(exponentText); // the leading digit's power of ten
  let text;
  if (exponent < -5 || exponent > 15) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
    text = `${digits[0]}${fraction}e${exponent < 0 ? '-' : '+'}${Math.abs(exponent)}`;
  } else if (digits.length - 1 <= exponent) {
    text = `${digits}${'0'.repeat(exponent + 1 - digits.length)}.0`;
  } else if (exponent >= 0) {
    text = `${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
  } else {
    text = `0.${'0'.repeat(-exponent - 1)}${digits}`;
  }
  return sign + text;
}

/** serde_json's `Value == Value`: objects equal as maps (order free), numbers equal only
 * within the same kind (1 is not 1.0). */
export function jsonEqual(a, b) {
  if (a instanceof JsonNumber || b instanceof JsonNumber) {
    return a instanceof JsonNumber && b instanceof JsonNumber && a.kind === b.kind && a.value === b.value;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]));
  }
  if (a instanceof JsonObject || b instanceof JsonObject) {
    if (!(a instanceof JsonObject && b instanceof JsonObject) || a.entries.size !== b.entries.size) return false;
    return [...a.entries].every(([key, value]) => b.has(key) && jsonEqual(value, b.get(key)));
  }
  return a === b;
}

/** A short word for a value's type, for error messages. */
export function jsonTypeName(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof JsonObject) return 'an object';
  if (value instanceof JsonNumber) return 'a number';
  return typeof value === 'string' ? 'a string' : 'a boolean';
}
