//! Keeping a tenant's secrets out of what a server answers (behaviour.md §1). Before a
//! response reaches the guest, every secret the host holds for the tenant is replaced with
//! `<redacted>` in its headers and body, in any of the forms a server may echo it in: as it is,
//! percent-encoded (either hex case, any mix of encoded and plain characters), JSON-escaped
//! (`\/`, `\uXXXX`, surrogate pairs) and base64 (standard, with or without padding, and
//! URL-safe, also where the secret is only part of the encoded text, as in `Basic …`).
//!
//! It scrubs bytes, so it knows nothing of JSON or HTTP structure; and because the guest only
//! ever sees scrubbed answers, a recording of them needs no second scrub. It knows nothing of
//! where secrets come from (policy.rs) or where answers go (imports.rs).

use memchr::memmem::Finder;
use std::borrow::Cow;
use std::fmt;

/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";
/// The shortest secret the host accepts: a shorter one matches too much ordinary text to be
/// scrubbed without mangling answers, and its base64 fragments would be shorter still.
pub const MIN_SECRET_CHARS: usize = 8;

/// From this size on, `certainly_clean` is tried first: below it, one substring search per
/// form costs more than scanning the bytes (a header value of a few dozen bytes).
const QUICK_CHECK_MIN_BYTES: usize = 256;
/// Most forms one pass tells apart by their first byte; past it every form is tried at every
/// candidate byte (still correct, only slower: a tenant has one or two secrets).
const MAX_INDEXED_FORMS: usize = 64;

const BASE64_STANDARD: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_URL_SAFE: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// One text to look for (the secret, or a base64 rendering of it) and, for a complete base64
/// rendering, the characters that may follow it (its last, partial character and padding),
/// consumed when present.
#[derive(Clone)]
struct Form {
    text: String,
    tail: String,
}

/// The secrets of one tenant, ready to scrub text. Its Debug shows only how many it holds.
#[derive(Clone, Default)]
pub struct Redactor {
    forms: Vec<Form>,
    /// A prepared substring search for each form's text, for `certainly_clean`.
    finders: Vec<Finder<'static>>,
    /// For each byte value, a bit per form (the first 64) that may start with it there.
    first: Vec<u64>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} forms)", self.forms.len())
    }
}

impl Redactor {
    /// A redactor for these secrets; empty ones are ignored.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut forms: Vec<Form> = Vec::new();
        for secret in secrets.into_iter().filter(|s| !s.is_empty()) {
            for form in forms_of(secret) {
                if !forms.iter().any(|known| known.text == form.text) {
                    forms.push(form);
                }
            }
        }
        // Longest first: where two forms start at the same byte, the longer one wins.
        forms.sort_by_key(|form| std::cmp::Reverse(form.text.len()));
        let mut first = vec![0u64; 256];
        if !forms.is_empty() {
            // An escape can start any form; the marker is skipped, never scrubbed again.
            for byte in [b'%', b'\\', REDACTED.as_bytes()[0]] {
                first[usize::from(byte)] = u64::MAX;
            }
        }
        for (index, form) in forms.iter().enumerate() {
            let bit = if index < MAX_INDEXED_FORMS {
                1 << index
            } else {
                u64::MAX
            };
            if let Some(&byte) = form.text.as_bytes().first() {
                first[usize::from(byte)] |= bit;
            }
        }
        let finders = forms
            .iter()
            .map(|form| Finder::new(form.text.as_bytes()).into_owned())
            .collect();
        Redactor {
            forms,
            finders,
            first,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// `bytes` with every secret replaced; `None` when there was none.
    pub fn scrub_bytes(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        if self.forms.is_empty()
            || (bytes.len() >= QUICK_CHECK_MIN_BYTES && self.certainly_clean(bytes))
        {
            return None;
        }
        let mut out: Option<Vec<u8>> = None;
        let mut copied = 0;
        let mut at = 0;
        while at < bytes.len() {
            let candidates = self.first[usize::from(bytes[at])];
            if candidates == 0 {
                at += 1;
                continue;
            }
            // What an earlier scrub wrote stays as it is, so scrubbing twice changes nothing.
            if bytes[at..].starts_with(REDACTED.as_bytes()) {
                at += REDACTED.len();
                continue;
            }
            match self.longest_match(bytes, at, candidates) {
                Some(end) => {
                    let scrubbed = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
                    scrubbed.extend_from_slice(&bytes[copied..at]);
                    scrubbed.extend_from_slice(REDACTED.as_bytes());
                    copied = end;
                    at = end;
                }
                None => at += 1,
            }
        }
        out.map(|mut scrubbed| {
            scrubbed.extend_from_slice(&bytes[copied..]);
            scrubbed
        })
    }

    /// Whether `bytes` holds no secret, told quickly for the usual answer: with no `%` and no
    /// `\` nothing is escaped, so a form can only appear as it is, which a prepared substring
    /// search rules out far faster than the byte-by-byte scan (a few microseconds per
    /// kilobyte on the hot path of every command otherwise).
    fn certainly_clean(&self, bytes: &[u8]) -> bool {
        memchr::memchr2(b'%', b'\\', bytes).is_none()
            && !self
                .finders
                .iter()
                .any(|finder| finder.find(bytes).is_some())
    }

    /// `text` with every secret replaced.
    pub fn scrub_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.scrub_bytes(text.as_bytes()) {
            None => Cow::Borrowed(text),
            // A match starts and ends on character boundaries of valid UTF-8 (it is ASCII
            // escapes or whole characters of the secret), so this is always valid; lossy only
            // to have no panic path.
            Some(bytes) => Cow::Owned(match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
            }),
        }
    }

    /// `text` with every secret replaced, reusing it when there was none.
    pub fn scrub_string(&self, text: String) -> String {
        match self.scrub_str(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(scrubbed) => scrubbed,
        }
    }

    /// The end of the longest form that matches at `at`.
    fn longest_match(&self, bytes: &[u8], at: usize, candidates: u64) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (index, form) in self.forms.iter().enumerate() {
            if index < MAX_INDEXED_FORMS && candidates & (1 << index) == 0 {
                continue;
            }
            if let Some(mut end) = match_encoded(bytes, at, &form.text) {
                for c in form.tail.chars() {
                    match match_char(bytes, end, c) {
                        Some(next) => end = next,
                        None => break,
                    }
                }
                best = Some(best.map_or(end, |b| b.max(end)));
            }
        }
        best
    }
}

/// The texts a secret is looked for as: itself, and its base64 renderings.
fn forms_of(secret: &str) -> Vec<Form> {
    let mut forms = vec![Form {
        text: secret.to_string(),
        tail: String::new(),
    }];
    let bytes = secret.as_bytes();
    for alphabet in [BASE64_STANDARD, BASE64_URL_SAFE] {
        // The secret at each of the three alignments inside a longer encoded text: only the
        // characters that depend on nothing but the secret's own bits are certain.
        for offset in 0..3usize {
            let start = (8 * offset).div_ceil(6);
            let end = (8 * (offset + bytes.len())) / 6;
            if end <= start {
                continue;
            }
            let mut text = base64_after_zeros(offset, bytes, alphabet);
            let tail = if offset == 0 {
                // The secret encoded on its own: its last partial character and the padding.
                text.split_off(end)
            } else {
                text.truncate(end);
                text.drain(..start);
                String::new()
            };
            forms.push(Form { text, tail });
        }
    }
    forms
}

/// Base64 with padding of `zeros` zero bytes followed by `bytes`.
fn base64_after_zeros(zeros: usize, bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let length = zeros + bytes.len();
    let byte = |index: usize| {
        index
            .checked_sub(zeros)
            .and_then(|index| bytes.get(index))
            .copied()
            .unwrap_or(0)
    };
    let mut out = Vec::with_capacity(length.div_ceil(3) * 4);
    for chunk_start in (0..length).step_by(3) {
        let in_chunk = (length - chunk_start).min(3);
        let n = (u32::from(byte(chunk_start)) << 16)
            | (u32::from(byte(chunk_start + 1)) << 8)
            | u32::from(byte(chunk_start + 2));
        for index in 0..4 {
            if index <= in_chunk {
                out.push(alphabet[((n >> (18 - 6 * index)) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    // Both alphabets are ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// Base64 with padding.
#[cfg(test)]
fn base64(input: &[u8], alphabet: &[u8; 64]) -> String {
    base64_after_zeros(0, input, alphabet)
}

/// Where `text` ends if it starts at `at`, each character plain or escaped.
fn match_encoded(bytes: &[u8], at: usize, text: &str) -> Option<usize> {
    text.chars().try_fold(at, |at, c| match_char(bytes, at, c))
}

/// Where the character `c` ends if it starts at `at`: as a JSON escape, or byte by byte, each
/// byte plain or percent-encoded (either hex case).
fn match_char(bytes: &[u8], at: usize, c: char) -> Option<usize> {
    if bytes.get(at) == Some(&b'\\')
        && let Some((decoded, next)) = json_escape(bytes, at)
        && decoded == c
    {
        return Some(next);
    }
    let mut buffer = [0u8; 4];
    let mut at = at;
    for &byte in c.encode_utf8(&mut buffer).as_bytes() {
        match bytes.get(at) {
            Some(&plain) if plain == byte => at += 1,
            Some(b'%') if hex_byte(bytes.get(at + 1..at + 3)?) == Some(byte) => at += 3,
            _ => return None,
        }
    }
    Some(at)
}

/// The character a JSON escape at `at` (its backslash) stands for, and where it ends.
fn json_escape(bytes: &[u8], at: usize) -> Option<(char, usize)> {
    let simple = match *bytes.get(at + 1)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => {
            let unit = hex_u16(bytes.get(at + 2..at + 6)?)?;
            if (0xD800..0xDC00).contains(&unit) {
                if bytes.get(at + 6..at + 8)? != b"\\u" {
                    return None;
                }
                let low = hex_u16(bytes.get(at + 8..at + 12)?)?;
                if !(0xDC00..0xE000).contains(&low) {
                    return None;
                }
                let code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                return Some((char::from_u32(code)?, at + 12));
            }
            return Some((char::from_u32(u32::from(unit))?, at + 6));
        }
        _ => return None,
    };
    Some((simple, at + 2))
}

fn hex_digit(byte: u8) -> Option<u8> {
    char::from(byte).to_digit(16).map(|d| d as u8)
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    match two {
        [high, low] => Some(hex_digit(*high)? << 4 | hex_digit(*low)?),
        _ => None,
    }
}

fn hex_u16(four: &[u8]) -> Option<u16> {
    four.iter().try_fold(0u16, |value, &byte| {
        Some(value << 4 | u16::from(hex_digit(byte)?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "s3cr3t/T0k+n=4?~~";

    fn scrub(text: &str) -> String {
        Redactor::new([TOKEN]).scrub_str(text).into_owned()
    }

    fn percent_encode_all(text: &str, upper: bool) -> String {
        text.bytes()
            .map(|b| {
                if upper {
                    format!("%{b:02X}")
                } else {
                    format!("%{b:02x}")
                }
            })
            .collect()
    }

    #[test]
    fn the_secret_as_it_is_is_replaced_wherever_it_stands() {
        assert_eq!(
            scrub(&format!(
                r#"{{"detail":"invalid credentials: Bearer {TOKEN}"}}"#
            )),
            r#"{"detail":"invalid credentials: Bearer <redacted>"}"#
        );
        assert_eq!(
            scrub(&format!("<html><p>{TOKEN}</p><p>{TOKEN}{TOKEN}</p></html>")),
            "<html><p><redacted></p><p><redacted><redacted></p></html>"
        );
        assert_eq!(scrub("nothing to see"), "nothing to see");
    }

    #[test]
    fn percent_encoded_forms_in_either_hex_case_and_mixed_are_replaced() {
        for encoded in [
            percent_encode_all(TOKEN, true),
            percent_encode_all(TOKEN, false),
            "s3cr3t%2fT0k%2Bn%3D4%3f~%7E".to_string(),
            format!("%73{}", &TOKEN[1..]),
        ] {
            assert_eq!(
                scrub(&format!("?q={encoded}&x=1")),
                "?q=<redacted>&x=1",
                "{encoded}"
            );
        }
    }

    #[test]
    fn json_escaped_forms_are_replaced() {
        let unicode: String = TOKEN
            .chars()
            .map(|c| format!("\\u{:04x}", c as u32))
            .collect();
        let upper: String = TOKEN
            .chars()
            .map(|c| format!("\\u{:04X}", c as u32))
            .collect();
        for escaped in [TOKEN.replace('/', "\\/"), unicode, upper] {
            assert_eq!(
                scrub(&format!(r#"{{"a":"{escaped}"}}"#)),
                r#"{"a":"<redacted>"}"#,
                "{escaped}"
            );
        }
        let astral = "t0k3n-\u{1F511}-long";
        let escaped = astral.replace('\u{1F511}', "\\uD83D\\uDD11");
        assert_eq!(
            Redactor::new([astral]).scrub_str(&format!("[{escaped}]")),
            "[<redacted>]"
        );
    }

    #[test]
    fn base64_forms_are_replaced_padded_unpadded_url_safe_and_inside_longer_text() {
        let standard = base64(TOKEN.as_bytes(), BASE64_STANDARD);
        let url_safe = base64(TOKEN.as_bytes(), BASE64_URL_SAFE);
        assert_ne!(standard, url_safe);
        for encoded in [
            standard.clone(),
            standard.trim_end_matches('=').to_string(),
            url_safe.clone(),
            url_safe.trim_end_matches('=').to_string(),
        ] {
            assert_eq!(
                scrub(&format!("x {encoded} y")),
                "x <redacted> y",
                "{encoded}"
            );
        }
        // The token inside a longer encoded text, at each alignment: the prefix stays, and
        // at each edge only a character or two that carry bits of the neighbours.
        for prefix in ["Bearer ", "user:", "ab:"] {
            let encoded = base64(format!("{prefix}{TOKEN}!").as_bytes(), BASE64_STANDARD);
            let scrubbed = scrub(&encoded);
            let prefix_chars = 8 * prefix.len() / 6;
            assert_eq!(
                scrubbed[..prefix_chars],
                encoded[..prefix_chars],
                "{prefix}"
            );
            let rest = &scrubbed[prefix_chars..];
            assert!(rest.contains(REDACTED), "{prefix}: {scrubbed}");
            assert!(rest.len() <= REDACTED.len() + 5, "{prefix}: {scrubbed}");
        }
    }

    #[test]
    fn scrubbing_twice_changes_nothing_even_when_the_secret_is_inside_the_marker() {
        let redactor = Redactor::new(["redacted"]);
        let once = redactor.scrub_str("a redacted b").into_owned();
        assert_eq!(once, "a <redacted> b");
        assert_eq!(redactor.scrub_str(&once), once);
        let redactor = Redactor::new([TOKEN]);
        let once = redactor
            .scrub_str(&format!(
                "{TOKEN} {}",
                base64(TOKEN.as_bytes(), BASE64_STANDARD)
            ))
            .into_owned();
        assert_eq!(redactor.scrub_str(&once), once);
    }

    #[test]
    fn every_secret_of_the_tenant_is_replaced_and_no_secret_means_no_change() {
        let redactor = Redactor::new(["first-secret", "second-secret", ""]);
        assert_eq!(
            redactor.scrub_str("first-secret second-secret"),
            "<redacted> <redacted>"
        );
        assert!(Redactor::new([""]).is_empty());
        assert_eq!(Redactor::default().scrub_bytes(b"first-secret"), None);
        assert!(!format!("{redactor:?}").contains("secret"));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_scrubbed_too() {
        let mut body = vec![0xff, 0xfe];
        body.extend_from_slice(TOKEN.as_bytes());
        body.push(0x80);
        assert_eq!(
            Redactor::new([TOKEN]).scrub_bytes(&body),
            Some([&[0xff, 0xfe][..], REDACTED.as_bytes(), &[0x80]].concat())
        );
    }

    #[test]
    fn base64_matches_the_standard_encoding() {
        assert_eq!(base64(b"", BASE64_STANDARD), "");
        assert_eq!(base64(b"f", BASE64_STANDARD), "Zg==");
        assert_eq!(base64(b"fo", BASE64_STANDARD), "Zm8=");
        assert_eq!(base64(b"foo", BASE64_STANDARD), "Zm9v");
        assert_eq!(base64(b"foobar", BASE64_STANDARD), "Zm9vYmFy");
        assert_eq!(base64(&[0xfb, 0xff], BASE64_STANDARD), "+/8=");
        assert_eq!(base64(&[0xfb, 0xff], BASE64_URL_SAFE), "-_8=");
    }

    #[test]
    fn a_long_answer_takes_the_quick_check_and_is_scrubbed_the_same() {
        let padding = "{\"a\":\"x\"}".repeat(40);
        assert!(padding.len() >= QUICK_CHECK_MIN_BYTES);
        let redactor = Redactor::new([TOKEN]);
        assert_eq!(redactor.scrub_bytes(padding.as_bytes()), None);
        for form in [
            TOKEN.to_string(),
            base64(TOKEN.as_bytes(), BASE64_URL_SAFE),
            percent_encode_all(TOKEN, false),
            TOKEN.replace('/', "\\/"),
        ] {
            let long = format!("{padding}{form}{padding}");
            assert_eq!(
                redactor.scrub_str(&long),
                format!("{padding}{REDACTED}{padding}"),
                "{form}"
            );
        }
        // Bytes that are not UTF-8 take the same quick check.
        let mut long = padding.as_bytes().to_vec();
        long.push(0xff);
        assert_eq!(redactor.scrub_bytes(&long), None);
        long.extend_from_slice(TOKEN.as_bytes());
        long.push(0xfe);
        assert_eq!(
            redactor.scrub_bytes(&long),
            Some([padding.as_bytes(), &[0xff], REDACTED.as_bytes(), &[0xfe]].concat())
        );
    }
}
