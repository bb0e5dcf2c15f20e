//! Record: live requests, every exchange written to a cassette when the command ends, the
//! token redacted (VCR's record mode).

use serde_json::{Map, Value};
use std::path::PathBuf;

use super::{Backend, BackendError, BoxFuture, IncomingResponse, Live, OutgoingRequest};
use crate::cassette::{Cassette, Interaction, RecordedRequest, RecordedResponse, redact_headers};

/// Response headers a cassette leaves out: framing describes the bytes as received, while a
/// replay sends the body re-serialised; a cookie is a credential.
const UNRECORDED_RESPONSE_HEADERS: [&str; 5] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "set-cookie",
];
/// What a secret found in a recorded exchange is replaced with.
const REDACTED: &str = "<redacted>";

/// Sends requests live and writes every exchange to a cassette when the command ends.
///
/// A transport failure (refused connection, timeout) has no form in the cassette format, so
/// it is not recorded: a replay of such a run stops where the failure was.
pub struct Record {
    live: Live,
    path: PathBuf,
    interactions: Vec<Interaction>,
    /// Bearer tokens seen in requests: scrubbed from everything recorded, in case a server
    /// echoes one back in a body or a header.
    secrets: Vec<String>,
}

impl Record {
    /// Record through `live` into the cassette at `path` (written by `finish`).
    pub fn new(live: Live, path: PathBuf) -> Record {
        Record {
            live,
            path,
            interactions: Vec::new(),
            secrets: Vec::new(),
        }
    }
}

impl Backend for Record {
    fn send<'a>(
        &'a mut self,
        request: &'a OutgoingRequest,
        max_body_bytes: u64,
    ) -> BoxFuture<'a, Result<IncomingResponse, BackendError>> {
        Box::pin(self.send_and_record(request, max_body_bytes))
    }

    fn sleep(&mut self, millis: u64) -> BoxFuture<'_, ()> {
        self.live.sleep(millis)
    }

    fn now_millis(&mut self) -> u64 {
        self.live.now_millis()
    }

    fn finish(&mut self) -> Result<(), String> {
        let cassette = Cassette {
            interactions: std::mem::take(&mut self.interactions),
        };
        let cassette = scrub_cassette(&cassette, &self.secrets)
            .map_err(|e| format!("cannot write the recording {}: {e}", self.path.display()))?;
        cassette.save(&self.path).map_err(|e| format!("{e:#}"))
    }
}

impl Record {
    async fn send_and_record(
        &mut self,
        request: &OutgoingRequest,
        max_body_bytes: u64,
    ) -> Result<IncomingResponse, BackendError> {
        for (name, value) in &request.headers {
            if name.eq_ignore_ascii_case("authorization")
                && let Some((_, token)) = value.split_once(' ')
                && !token.is_empty()
                && !self.secrets.iter().any(|known| known == token)
            {
                self.secrets.push(token.to_string());
            }
        }
        let response = self.live.send(request, max_body_bytes).await?;
        self.interactions
            .push(recorded_interaction(request, &response));
        Ok(response)
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

/// The cassette with every occurrence of a secret, in any key or string, replaced.
fn scrub_cassette(cassette: &Cassette, secrets: &[String]) -> Result<Cassette, serde_json::Error> {
    let mut value = serde_json::to_value(cassette)?;
    scrub(&mut value, secrets);
    serde_json::from_value(value)
}

fn scrub(value: &mut Value, secrets: &[String]) {
    let clean = |text: &str| {
        secrets.iter().fold(text.to_string(), |text, secret| {
            text.replace(secret.as_str(), REDACTED)
        })
    };
    match value {
        Value::String(text) if secrets.iter().any(|secret| text.contains(secret.as_str())) => {
            *text = clean(text)
        }
        Value::Array(items) => items.iter_mut().for_each(|item| scrub(item, secrets)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut item) in entries {
                scrub(&mut item, secrets);
                map.insert(clean(&key), item);
            }
        }
        _ => {}
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
    fn a_token_echoed_by_the_server_is_scrubbed_from_the_recording() {
        let cassette: Cassette = serde_json::from_value(json!({"interactions": [{
            "request": {"method": "GET", "url": "http://127.0.0.1:9/x?t=s3cr3t", "body": null},
            "response": {"status": 400, "headers": {"x-echo": "Bearer s3cr3t"}, "body": {"detail": "bad token s3cr3t", "s3cr3t": [1]}}
        }]}))
        .unwrap();
        let text =
            serde_json::to_string(&scrub_cassette(&cassette, &["s3cr3t".into()]).unwrap()).unwrap();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(
            text.contains(r#""detail":"bad token <redacted>""#),
            "{text}"
        );
    }
}
