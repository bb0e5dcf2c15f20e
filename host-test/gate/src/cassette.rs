//! The cassette format of recorded HTTP interactions (architecture.md), its matchers, the
//! mismatch report (expected against actual request, with a hint), and token redaction for
//! recording. VCR's split: the format and matching here, replaying in `replay.rs`. It reads
//! and writes text; the host reads and writes the files.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use url::Url;

/// What a recorded `authorization` header says in place of the token.
pub const REDACTED_BEARER: &str = "Bearer <redacted>";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cassette {
    pub interactions: Vec<Interaction>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interaction {
    pub request: RecordedRequest,
    pub response: RecordedResponse,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedRequest {
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Map<String, Value>>,
    /// Absent: the body is not compared. Present (`null` = no body): compared as JSON.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub body: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedResponse {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Map<String, Value>>,
    /// A string is sent as raw text; any other JSON value serialised in written key order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

/// A cassette read by `Cassette::parse_compact`: the same format, each interaction kept as text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompactCassette {
    interactions: CompactInteractions,
}

/// Interactions parsed one at a time (so the file is checked whole) and each written back as
/// compact JSON before the next is read, so that only one is ever held parsed.
struct CompactInteractions(Vec<Box<str>>);

impl<'de> Deserialize<'de> for CompactInteractions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Compacting;
        impl<'de> serde::de::Visitor<'de> for Compacting {
            type Value = CompactInteractions;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of interactions")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<CompactInteractions, A::Error> {
                let mut texts = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(interaction) = seq.next_element::<Interaction>()? {
                    let text =
                        serde_json::to_string(&interaction).map_err(serde::de::Error::custom)?;
                    texts.push(text.into_boxed_str());
                }
                Ok(CompactInteractions(texts))
            }
        }
        deserializer.deserialize_seq(Compacting)
    }
}

/// A key that is present deserialises to `Some`, even when it holds `null`.
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

impl Cassette {
    /// A cassette from its JSON text; the error is serde's, for the host to prefix with the
    /// file's name.
    pub fn parse(text: &str) -> Result<Cassette, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The interactions of a cassette's text, each checked as `parse` checks it but kept as
    /// its compact JSON text, to be parsed only when a replay reaches it: a parsed
    /// interaction takes many times the bytes of its text, so a 100,000-interaction cassette
    /// would fill gigabytes where its text takes about the file's size.
    pub fn parse_compact(text: &str) -> Result<Vec<Box<str>>, serde_json::Error> {
        let compact: CompactCassette = serde_json::from_str(text)?;
        Ok(compact.interactions.0)
    }

    /// The cassette as the file holds it: indented JSON and a final newline.
    pub fn to_text(&self) -> String {
        // Serialising maps of JSON values and strings cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}

impl RecordedResponse {
    /// The body bytes to send.
    pub fn body_bytes(&self) -> Vec<u8> {
        match &self.body {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(text)) => text.clone().into_bytes(),
            Some(other) => other.to_string().into_bytes(),
        }
    }

    pub fn header_pairs(&self) -> Vec<(String, String)> {
        header_pairs(self.headers.as_ref())
    }
}

fn header_pairs(headers: Option<&Map<String, Value>>) -> Vec<(String, String)> {
    headers
        .map(|map| {
            map.iter()
                .map(|(name, value)| {
                    (
                        name.clone(),
                        value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A request as the replaying backend sees it (the host has added the credential).
#[derive(Debug, Clone)]
pub struct ActualRequest<'a> {
    pub method: &'a str,
    pub url: &'a Url,
    pub headers: &'a [(String, String)],
    pub body: Option<&'a str>,
}

impl ActualRequest<'_> {
    /// One line for reports, with any token redacted.
    pub fn describe(&self) -> String {
        let body = self
            .body
            .map_or_else(|| "no body".to_string(), |b| format!("body {b}"));
        format!("{} {} ({body})", self.method, self.url)
    }
}

impl RecordedRequest {
    pub fn describe(&self) -> String {
        let body = match &self.body {
            None => "body not compared".to_string(),
            Some(Value::Null) => "no body".to_string(),
            Some(body) => format!("body {body}"),
        };
        format!("{} {} ({body})", self.method, self.url)
    }

    /// Why the actual request does not match this recording; none when it does.
    pub fn mismatch(&self, actual: &ActualRequest<'_>) -> Option<String> {
        self.matcher().mismatch(self, actual)
    }

    /// The recording's side of the comparison, computed once: a replayed cassette is
    /// matched against many requests.
    pub fn matcher(&self) -> Matcher {
        let url = Url::parse(&self.url)
            .map_err(|e| format!("the recorded url {:?} is not a URL ({e})", self.url));
        let (segments, query) = match &url {
            Ok(url) => (path_segments(url), query_pairs(url)),
            Err(_) => (Vec::new(), Vec::new()),
        };
        let body_text = match &self.body {
            Some(Value::Null) | None => None,
            Some(body) => serde_json::to_string(body).ok(),
        };
        Matcher {
            url,
            segments,
            query,
            body_text,
            headers: header_pairs(self.headers.as_ref()),
        }
    }
}

/// A recorded request prepared for matching (see `RecordedRequest::matcher`).
#[derive(Debug, Clone)]
pub struct Matcher {
    url: Result<Url, String>,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    /// The recorded body as compact JSON: an actual body with the same text matches
    /// without being parsed.
    body_text: Option<String>,
    headers: Vec<(String, String)>,
}

impl Matcher {
    /// Why `actual` does not match `recorded` (the request this matcher was made from).
    pub fn mismatch(
        &self,
        recorded: &RecordedRequest,
        actual: &ActualRequest<'_>,
    ) -> Option<String> {
        if !recorded.method.eq_ignore_ascii_case(actual.method) {
            return Some(format!(
                "method {} differs from the recorded {}",
                actual.method, recorded.method
            ));
        }
        let url = match &self.url {
            Ok(url) => url,
            Err(why) => return Some(why.clone()),
        };
        // The same URL, written the same way, has the same origin, segments and query: the
        // usual replay, decided without decoding either side.
        if url.as_str() != actual.url.as_str() {
            if url.scheme() != actual.url.scheme()
                || url.host_str() != actual.url.host_str()
                || url.port_or_known_default() != actual.url.port_or_known_default()
            {
                return Some("scheme, host or port differ".into());
            }
            if self.segments != path_segments(actual.url) {
                return Some("the paths differ".into());
            }
            if self.query != query_pairs(actual.url) {
                return Some("the query parameters differ".into());
            }
        }
        if let Some(expected) = &recorded.body {
            let same_text = self.body_text.is_some() && self.body_text.as_deref() == actual.body;
            if !same_text {
                let actual_body = match actual.body {
                    None => Value::Null,
                    Some(text) if text.trim().is_empty() => Value::Null,
                    Some(text) => serde_json::from_str(text)
                        .unwrap_or_else(|_| Value::String(text.to_string())),
                };
                if *expected != actual_body {
                    return Some("the bodies differ".into());
                }
            }
        }
        for (name, value) in &self.headers {
            let found = actual
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str());
            let matches = match found {
                Some(actual_value) if value == REDACTED_BEARER => {
                    actual_value.starts_with("Bearer ") && actual_value.len() > 7
                }
                Some(actual_value) => actual_value == value,
                None => false,
            };
            if !matches {
                return Some(format!("header {name:?} is not {value:?}"));
            }
        }
        None
    }
}

/// Path segments, split on `/` first and then percent-decoded, so that an encoded `%2F`
/// never matches a real `/`.
fn path_segments(url: &Url) -> Vec<String> {
    url.path()
        .split('/')
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

/// Query parameters as a sorted multiset of decoded pairs (`+` and `%20` both mean space).
fn query_pairs(url: &Url) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    pairs
}

/// Replace the token in recorded headers.
pub fn redact_headers(headers: &[(String, String)]) -> Map<String, Value> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = if name.eq_ignore_ascii_case("authorization")
                || name.eq_ignore_ascii_case("cookie")
            {
                REDACTED_BEARER.to_string()
            } else {
                value.clone()
            };
            (name.to_ascii_lowercase(), Value::String(value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn recorded(value: Value) -> RecordedRequest {
        serde_json::from_value(value).unwrap()
    }

    fn check(
        recording: &RecordedRequest,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Option<String> {
        let url = Url::parse(url).unwrap();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        recording.mismatch(&ActualRequest {
            method,
            url: &url,
            headers: &headers,
            body,
        })
    }

    #[test]
    fn spaces_match_as_plus_or_percent_20_and_parameter_order_is_free() {
        let r = recorded(
            json!({"method": "GET", "url": "https://h/scim/Users?filter=userName+eq+%22a%40b%22&count=1"}),
        );
        assert_eq!(
            check(
                &r,
                "GET",
                "https://h/scim/Users?count=1&filter=userName%20eq%20%22a@b%22",
                &[],
                None
            ),
            None
        );
        assert!(
            check(
                &r,
                "GET",
                "https://h/scim/Users?filter=userName%20eq%20%22a@c%22&count=1",
                &[],
                None
            )
            .is_some()
        );
        assert!(
            check(
                &r,
                "GET",
                "https://h/scim/Users?filter=userName%20eq%20%22a@b%22",
                &[],
                None
            )
            .is_some()
        );
    }

    #[test]
    fn an_encoded_slash_never_matches_a_real_one() {
        let r = recorded(json!({"method": "GET", "url": "https://h/Users/a%2Fb"}));
        assert_eq!(check(&r, "GET", "https://h/Users/a%2Fb", &[], None), None);
        assert!(check(&r, "GET", "https://h/Users/a/b", &[], None).is_some());
        let decoded = recorded(json!({"method": "GET", "url": "https://h/Users/a%20b"}));
        assert_eq!(
            check(&decoded, "GET", "https://h/Users/a%20b", &[], None),
            None
        );
    }

    #[test]
    fn bodies_compare_as_json_only_when_recorded() {
        let r =
            recorded(json!({"method": "PUT", "url": "https://h/x", "body": {"a": 1, "b": [true]}}));
        assert_eq!(
            check(&r, "PUT", "https://h/x", &[], Some(r#"{"b":[true],"a":1}"#)),
            None
        );
        assert_eq!(
            check(&r, "PUT", "https://h/x", &[], Some(r#"{"a":2,"b":[true]}"#)).as_deref(),
            Some("the bodies differ")
        );
        let no_body = recorded(json!({"method": "GET", "url": "https://h/x", "body": null}));
        assert_eq!(check(&no_body, "GET", "https://h/x", &[], None), None);
        assert!(check(&no_body, "GET", "https://h/x", &[], Some("{}")).is_some());
        let any_body = recorded(json!({"method": "POST", "url": "https://h/x"}));
        assert_eq!(
            check(&any_body, "POST", "https://h/x", &[], Some("{}")),
            None
        );
    }

    #[test]
    fn recorded_headers_must_be_present_and_a_redacted_bearer_matches_any_token() {
        let r = recorded(
            json!({"method": "GET", "url": "https://h/x", "headers": {"Authorization": "Bearer <redacted>", "accept": "application/json"}}),
        );
        assert_eq!(
            check(
                &r,
                "GET",
                "https://h/x",
                &[
                    ("authorization", "Bearer abc"),
                    ("Accept", "application/json")
                ],
                None
            ),
            None
        );
        assert!(
            check(
                &r,
                "GET",
                "https://h/x",
                &[("Accept", "application/json")],
                None
            )
            .is_some()
        );
        assert!(
            check(
                &r,
                "GET",
                "https://h/x",
                &[
                    ("authorization", "Basic abc"),
                    ("Accept", "application/json")
                ],
                None
            )
            .is_some()
        );
    }

    #[test]
    fn methods_and_origins_must_be_equal() {
        let r = recorded(json!({"method": "GET", "url": "https://h/x"}));
        assert!(
            check(&r, "POST", "https://h/x", &[], None)
                .unwrap()
                .contains("method")
        );
        assert!(check(&r, "GET", "https://h:444/x", &[], None).is_some());
        assert!(check(&r, "GET", "http://h/x", &[], None).is_some());
    }

    #[test]
    fn response_bodies_keep_their_key_order_and_strings_are_raw() {
        let response: RecordedResponse =
            serde_json::from_str(r#"{"status": 200, "body": {"z": 1, "a": 2}}"#).unwrap();
        assert_eq!(response.body_bytes(), br#"{"z":1,"a":2}"#);
        let raw: RecordedResponse =
            serde_json::from_str(r#"{"status": 502, "body": "<html>"}"#).unwrap();
        assert_eq!(raw.body_bytes(), b"<html>");
        let empty: RecordedResponse = serde_json::from_str(r#"{"status": 204}"#).unwrap();
        assert!(empty.body_bytes().is_empty());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(serde_json::from_str::<Cassette>(r#"{"interactions": [], "extra": 1}"#).is_err());
        assert!(serde_json::from_str::<Cassette>(r#"{"interactions": [{"request": {"method": "GET", "url": "u", "bodyy": 1}, "response": {"status": 200}}]}"#).is_err());
    }

    #[test]
    fn recording_redacts_the_token() {
        let headers = redact_headers(&[
            ("Authorization".into(), "Bearer s3cret".into()),
            ("Accept".into(), "application/json".into()),
        ]);
        assert_eq!(
            Value::Object(headers),
            json!({"authorization": "Bearer <redacted>", "accept": "application/json"})
        );
    }

    #[test]
    fn a_compact_cassette_keeps_each_interaction_as_it_parses_and_checks_them_all() {
        let cassette = json!({"interactions": [
            {"request": {"method": "GET", "url": "https://h/x", "body": null},
             "response": {"status": 200, "headers": {"Z": "1", "A": "2"}, "body": {"z": 1, "a": [1.5, null]}}},
            {"request": {"method": "POST", "url": "https://h/y"}, "response": {"status": 204}}
        ]});
        let text = serde_json::to_string_pretty(&cassette).unwrap();
        let texts = Cassette::parse_compact(&text).unwrap();
        let whole = Cassette::parse(&text).unwrap();
        let parsed: Vec<Interaction> = texts
            .iter()
            .map(|text| serde_json::from_str(text).unwrap())
            .collect();
        assert_eq!(parsed, whole.interactions);
        assert_eq!(
            &*texts[0],
            r#"{"request":{"method":"GET","url":"https://h/x","body":null},"response":{"status":200,"headers":{"Z":"1","A":"2"},"body":{"z":1,"a":[1.5,null]}}}"#
        );
        assert_eq!(Cassette::parse(&whole.to_text()).unwrap(), whole);
        let bad = r#"{"interactions": [{"request": {"method": "GET", "url": "u"}, "response": {"status": 200}}, {"request": {"method": "GET", "url": "u", "bodyy": 1}, "response": {"status": 200}}]}"#;
        let err = Cassette::parse_compact(bad).unwrap_err().to_string();
        assert!(err.contains("unknown field `bodyy`"), "{err}");
        assert!(Cassette::parse_compact(r#"{"interactions": {}}"#).is_err());
    }
}
