// Rust's string conventions that the Rust host's texts and checks follow, so that this
// host's denials, matches and argument parsing come out the same.

/** ASCII-only lower case, as Rust's `eq_ignore_ascii_case` compares. */
export function asciiLowercase(text) {
  return text.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
}

/** `str::trim`: Unicode White_Space at both ends (JS's trim() also drops U+FEFF). */
export function rustTrim(text) {
  return text.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
}

/** Rust's `{:?}` of a string: quoted, with \0 \t \r \n \\ \" and every character Rust does
 * not print (controls, format characters, separators other than ' ', unassigned and
 * private-use code points, combining marks) written as \u{hex}. */
export function rustDebug(text) {
  const simple = { '\0': '\\0', '\t': '\\t', '\r': '\\r', '\n': '\\n', '\\': '\\\\', '"': '\\"' };
  let result = '"';
  for (const char of text) {
    if (char in simple) result += simple[char];
    else if (NOT_PRINTED.test(char)) result += `\\u{${char.codePointAt(0).toString(16)}}`;
    else result += char;
  }
  return `${result}"`;
}

/** Rust's `is_printable` (Cc Cf Cs Co Cn Zl Zp Zs other than ' ') and its escaping of
 * grapheme extenders. Unassigned code points follow Node's Unicode version. */
const NOT_PRINTED = /^(?! )[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}\p{Grapheme_Extend}]$/u;
