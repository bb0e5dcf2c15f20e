//! Record: every exchange kept as the guest received it (VCR's record mode). Whoever runs the
//! command writes the recording out afterwards, so that a cassette that cannot be written
//! never costs the entry of a command whose side effects already happened.
//!
//! The session scrubs the tenant's secrets from every response before the guest sees it and
//! before it is kept here, so a recording holds no secret in any form and needs no second
//! scrub; the request's `authorization` is redacted here.

use serde_json::{Map, Value};

use crate::cassette::{Cassette, Interaction, RecordedRequest, RecordedResponse, redact_headers};
use crate::wire::{IncomingResponse, OutgoingRequest};

/// Response headers a cassette leaves out: framing describes the bytes as received, while a
/// replay sends the body re-serialised; a cookie is a credential.
const UNRECORDED_RESPONSE_HEADERS: [&str; 5] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "set-cookie",
];

/// The exchanges of one command, in order.
///
/// A transport failure (refused connection, timeout) has no form in the cassette format, so
/// it is not recorded: a replay of such a run stops where the failure was.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    interactions: Vec<Interaction>,
}

impl Recording {
    /// Keep one exchange, as the guest received it.
    pub fn keep(&mut self, request: &OutgoingRequest, response: &IncomingResponse) {
        self.interactions
            .push(recorded_interaction(request, response));
    }

    /// The exchanges so far, as a cassette.
    pub fn into_cassette(self) -> Cassette {
        Cassette {
            interactions: self.interactions,
        }
    }
}

/// One exchange in cassette form: the request's headers with the token redacted and its
/// body as JSON (`null` when none, a string when it is not JSON); the response's body as
/// JSON when it parses (key order kept), else its raw text, absent when empty.
pub fn recorded_interaction(request: &OutgoingRequest, response: &IncomingResponse) -> Interaction {
    let request_body = match request.body.as_deref() {
        None => Value::Null,
        Some(text) if text.trim().is_empty() => Value::Null,
        // The replay matcher parses the actual body the same way, so any JSON value matches.
        Some(text) => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
        }
    };
    let response_headers: Map<String, Value> = response
        .headers
        .iter()
        .filter(|(name, _)| {
            !UNRECORDED_RESPONSE_HEADERS
                .iter()
                .any(|skip| skip.eq_ignore_ascii_case(name))
        })
        .fold(Map::new(), |mut headers, (name, value)| {
            // A repeated header joins as one comma-separated value (RFC 9110 §5.3).
            let joined = match headers.get(name) {
                Some(Value::String(earlier)) => format!("{earlier}, {value}"),
                _ => value.clone(),
            };
            headers.insert(name.clone(), Value::String(joined));
            headers
        });
    Interaction {
        request: RecordedRequest {
            method: request.method.clone(),
            url: request.url.to_string(),
            headers: Some(redact_headers(&request.headers)),
            body: Some(request_body),
        },
        response: RecordedResponse {
            status: response.status,
            headers: (!response_headers.is_empty()).then_some(response_headers),
            body: response_body(&response.body),
        },
    }
}

/// A response body as the cassette stores it. A JSON string would be replayed as its raw
/// text without the quotes, so a body that is a JSON string stays raw text too.
fn response_body(bytes: &[u8]) -> Option<Value> {
    if bytes.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(bytes);
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::String(_)) | Err(_) => Some(Value::String(text.into_owned())),
        Ok(value) => Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;
    use url::Url;

    fn request(method: &str, url_text: &str, body: Option<&str>) -> OutgoingRequest {
        OutgoingRequest {
            method: method.into(),
            url: Url::parse(url_text).unwrap(),
            headers: vec![
                ("Accept".into(), "application/json".into()),
                ("Authorization".into(), "Bearer s3cr3t".into()),
            ],
            body: body.map(str::to_string),
            timeout: Duration::from_secs(5),
            max_response_bytes: 1 << 20,
            verify_tls: true,
            use_proxy: false,
        }
    }

    #[test]
    fn a_recorded_exchange_redacts_the_token_and_keeps_json_in_order() {
        let response = IncomingResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("content-length".into(), "20".into()),
                ("set-cookie".into(), "s=1".into()),
                ("vary".into(), "a".into()),
                ("vary".into(), "b".into()),
            ],
            body: br#"{"z": 1, "a": [true]}"#.to_vec(),
        };
        let interaction = recorded_interaction(
            &request(
                "PUT",
                "http://127.0.0.1:9/Users/1",
                Some(r#"{"b":2,"a":1}"#),
            ),
            &response,
        );
        let text = serde_json::to_string(&interaction).unwrap();
        assert_eq!(
            text,
            r#"{"request":{"method":"PUT","url":"http://127.0.0.1:9/Users/1","headers":{"accept":"application/json","authorization":"Bearer <redacted>"},"body":{"b":2,"a":1}},"response":{"status":200,"headers":{"content-type":"application/json","vary":"a, b"},"body":{"z":1,"a":[true]}}}"#
        );
    }

    #[test]
    fn recorded_bodies_are_null_raw_text_or_absent() {
        let empty = IncomingResponse {
            status: 204,
            headers: vec![],
            body: vec![],
        };
        let interaction = recorded_interaction(
            &request("DELETE", "http://127.0.0.1:9/Users/1", None),
            &empty,
        );
        assert_eq!(interaction.request.body, Some(Value::Null));
        assert_eq!(interaction.response.body, None);
        assert_eq!(
            response_body(b"<html>oops</html>"),
            Some(json!("<html>oops</html>"))
        );
        // A JSON string is kept as its raw text, quotes included, so a replay sends the same bytes.
        assert_eq!(response_body(br#""quoted""#), Some(json!("\"quoted\"")));
        let replayed = RecordedResponse {
            status: 200,
            headers: None,
            body: response_body(br#""quoted""#),
        };
        assert_eq!(replayed.body_bytes(), br#""quoted""#);
    }

    #[test]
    fn a_recording_keeps_what_was_delivered_and_its_keys_are_never_rewritten() {
        // Regression: the recording used to scrub the token from its own keys too, so a
        // token such as "interact" wrote `"<redacted>ions"` and broke the file.
        let mut recording = Recording::default();
        let mut sent = request("GET", "http://127.0.0.1:9/x", None);
        sent.headers[1].1 = "Bearer interact".into();
        let delivered = IncomingResponse {
            status: 200,
            headers: vec![],
            body: br#"{"detail":"<redacted>"}"#.to_vec(),
        };
        recording.keep(&sent, &delivered);
        let cassette = recording.into_cassette();
        let text = serde_json::to_string(&cassette).unwrap();
        assert_eq!(
            text,
            r#"{"interactions":[{"request":{"method":"GET","url":"http://127.0.0.1:9/x","headers":{"accept":"application/json","authorization":"Bearer <redacted>"},"body":null},"response":{"status":200,"body":{"detail":"<redacted>"}}}]}"#
        );
        let reread: Cassette = serde_json::from_str(&text).unwrap();
        assert_eq!(reread, cassette);
    }
}
