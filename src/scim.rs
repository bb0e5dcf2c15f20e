//! The Atlassian SCIM 2.0 client over `Transport`: the URL layout (`{url}/scim/directory/{id}`
//! with ids as single encoded path segments, filters escaped and encoded), sending with the
//! retry policy of [`retry`], classifying answers, and the error messages of behaviour.md §3.
//! [`user`] reads and finds users, [`group`] reads, finds and changes groups.
//!
//! It knows SCIM and HTTP, not XSOAR: results are JSON values or a `Failure` with the
//! errorCode and errorMessage a result shows.

pub mod group;
mod retry;
pub mod user;

use serde_json::Value;

use crate::transport::{LogLevel, Method, Request, Response, SendError, Transport};

/// How much of a non-JSON error body an error message quotes.
pub const ERROR_BODY_QUOTE_BYTES: usize = 500;
/// Per-request timeout the guest asks for; the host applies its own cap too.
pub const REQUEST_TIMEOUT_MS: u32 = 30_000;

const SCIM_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// A failed exchange as a result reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The HTTP status; none for transport, policy and lookup failures.
    pub code: Option<u16>,
    pub message: String,
}

impl Failure {
    pub fn without_code(message: impl Into<String>) -> Failure {
        Failure {
            code: None,
            message: message.into(),
        }
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}

/// One path segment (a directory or user id), so that `/`, `?`, `#` or `..` inside an id
/// can never leave its segment (behaviour.md §3 [fix]).
pub fn encode_path_segment(segment: &str) -> String {
    match segment {
        "." => "%2E".into(),
        ".." => "%2E%2E".into(),
        other => percent_encode(other),
    }
}

/// Whether an id cannot be a path segment at all: URL parsers turn `.` and `..` (also
/// percent-encoded) back into "this folder" and "the folder above".
pub fn is_dot_segment(id: &str) -> bool {
    id == "." || id == ".."
}

/// The failure of an id given in the arguments that cannot be a path segment
/// (behaviour.md §3 [fix]); nothing is sent.
pub fn invalid_id(id: &str) -> Failure {
    Failure::without_code(format!(
        "Invalid id \"{id}\": \".\" and \"..\" cannot be used as an id"
    ))
}

/// A SCIM filter string value: a JSON string's content (`\` → `\\`, `"` → `\"`, control
/// characters as `\uXXXX`), RFC 7644 §3.4.2.2 (behaviour.md §3.1 [fix]).
pub fn escape_filter_value(value: &str) -> String {
    crate::json::string_content(value)
}

/// `attribute eq "value"`, escaped but not percent-encoded.
pub fn eq_filter(attribute: &str, value: &str) -> String {
    format!("{attribute} eq \"{}\"", escape_filter_value(value))
}

/// The standard reason phrase of a status code.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        _ => "Unknown Status",
    }
}

/// A response body parsed as JSON, with `serde_json::from_slice`'s value or error. Text
/// that is valid UTF-8 (every JSON answer) is checked once as a whole and parsed as a `str`,
/// which spares serde_json checking each string again; for valid UTF-8 the two parse alike.
fn parse_body(body: &[u8]) -> Result<Value, serde_json::Error> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    }
}

/// The message of a failed response (behaviour.md §3): `detail`, `error` or `message` of a
/// JSON body, else `HTTP <status> <reason>` and the start of the body as received.
pub fn error_message(response: &Response) -> String {
    if let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&response.body) {
        for key in ["detail", "error", "message"] {
            if let Some(Value::String(text)) = body.get(key)
                && !text.is_empty()
            {
                return text.clone();
            }
        }
    }
    let mut message = format!(
        "HTTP {} {}",
        response.status,
        reason_phrase(response.status)
    );
    if !response.body.is_empty() {
        message.push_str(": ");
        message.push_str(&quote_body(&response.body));
    }
    message
}

/// The first bytes of a body, as text.
fn quote_body(body: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(&body[..body.len().min(ERROR_BODY_QUOTE_BYTES)])
}

/// A successful answer: its status and its JSON body, none when the body was empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Option<Value>,
}

/// The SCIM client of one command. It carries the command's retry budget.
pub struct ScimClient<'t, T: Transport> {
    transport: &'t mut T,
    /// `{url}/scim/directory/{directory id}`.
    base: String,
    credential: String,
    waited_ms: u64,
}

impl<'t, T: Transport> ScimClient<'t, T> {
    /// A client of the directory `directory_id` under the validated base `url` (a trailing
    /// `/` is dropped), attaching the host-held credential named `credential`.
    pub fn new(transport: &'t mut T, url: &str, directory_id: &str, credential: &str) -> Self {
        // behaviour.md §3 [fix]: the reference pastes the directory id into the path raw.
        let base = format!(
            "{}/scim/directory/{}",
            url.trim_end_matches('/'),
            encode_path_segment(directory_id)
        );
        ScimClient {
            transport,
            base,
            credential: credential.to_string(),
            waited_ms: 0,
        }
    }

    pub fn log(&mut self, level: LogLevel, message: &str) {
        self.transport.log(level, message);
    }

    /// The command's transport, for what it asks the host besides HTTP (the platform's
    /// mapper, `mapper::instance`).
    pub fn transport(&mut self) -> &mut T {
        self.transport
    }

    /// `{base}/{collection}`, e.g. `…/Users`.
    fn collection_url(&self, collection: &str) -> String {
        format!("{}/{collection}", self.base)
    }

    /// `{base}/{collection}/{id}`, the id as one encoded path segment; `.` and `..` are
    /// refused before anything is sent.
    fn resource_url(&self, collection: &str, id: &str) -> Result<String, Failure> {
        if is_dot_segment(id) {
            return Err(invalid_id(id));
        }
        Ok(format!(
            "{}/{collection}/{}",
            self.base,
            encode_path_segment(id)
        ))
    }

    /// `{base}/{collection}?filter=…`, the whole filter percent-encoded.
    fn filter_url(&self, collection: &str, filter: &str) -> String {
        format!(
            "{}/{collection}?filter={}",
            self.base,
            percent_encode(filter)
        )
    }

    /// A request to this directory: `Accept` JSON, a JSON body when given, the credential.
    fn request(&self, method: Method, url: String, body: Option<&Value>) -> Request {
        let mut headers = vec![("Accept".to_string(), "application/json".to_string())];
        if body.is_some() {
            headers.push(("Content-Type".to_string(), "application/json".to_string()));
        }
        Request {
            method,
            url,
            headers,
            body: body.map(crate::json::text),
            credential: Some(self.credential.clone()),
        }
    }

    /// Send with the retry policy of behaviour.md §3 [fix].
    fn send(
        &mut self,
        method: Method,
        url: String,
        body: Option<&Value>,
    ) -> Result<Response, Failure> {
        let request = self.request(method, url, body);
        let mut retries = 0;
        loop {
            let outcome = self.transport.send(&request);
            let waited_ms = self.waited_ms;
            let transport = &mut self.transport;
            let Some(wait) = retry::wait_before_retry(method, &outcome, retries, waited_ms, || {
                transport.now_millis()
            }) else {
                return outcome.map_err(|error| not_sent(method, &request.url, &error));
            };
            retries += 1;
            let what = match &outcome {
                Ok(response) => format!("answered {}", response.status),
                Err(error) => format!("failed ({error})"),
            };
            self.transport.log(
                LogLevel::Warn,
                &format!(
                    "{method} {} {what}; retry {retries} of {} in {wait} ms",
                    request.url,
                    retry::MAX_RETRIES
                ),
            );
            self.transport.sleep(wait);
            self.waited_ms += wait;
        }
    }

    /// Send and classify: 200/201/204 are success (behaviour.md §3 [fix]: 204 too).
    fn call(
        &mut self,
        method: Method,
        url: String,
        body: Option<&Value>,
    ) -> Result<Answer, Failure> {
        let response = self.send(method, url.clone(), body)?;
        classify(method, &url, &response)
    }

    /// `{base}/{collection}?startIndex={start_index}&count={count}`: one page of a list
    /// (`collection` is `Users` or `Groups`; `start_index` counts from 1).
    pub fn page_url(&self, collection: &str, start_index: u64, count: u64) -> String {
        format!(
            "{}/{collection}?startIndex={start_index}&count={count}",
            self.base
        )
    }

    /// GET every URL of `urls`, handed to the host all at once so that it may carry them
    /// together (sync.md §2: a 1,000-page directory is not read one page at a time). Each
    /// request is retried as any GET (behaviour.md §3): the ones to retry go again together,
    /// after the longest of their waits. The pages of one call share the waiting allowance of
    /// one GET (counted here, from zero), so that a long read in many calls does not spend a
    /// late page's retries on early pages' waits; the command's wall budget still bounds the
    /// whole. The answers, classified as `call` classifies them, in the order of `urls`.
    pub fn get_all(&mut self, urls: Vec<String>) -> Vec<Result<Answer, Failure>> {
        let requests: Vec<Request> = urls
            .into_iter()
            .map(|url| self.request(Method::Get, url, None))
            .collect();
        // Every request is sent in the first round, so each place is written before it is read.
        let mut outcomes: Vec<Result<Response, SendError>> =
            vec![Err(SendError::Aborted); requests.len()];
        let mut retries = vec![0_u32; requests.len()];
        let mut pending: Vec<usize> = (0..requests.len()).collect();
        let mut waited_here_ms = 0;
        while !pending.is_empty() {
            let batch = pending.iter().map(|&at| requests[at].clone()).collect();
            let mut answers = self.transport.send_all(batch).into_iter();
            let mut again = Vec::new();
            let mut wait = 0;
            for &at in &pending {
                // A host that answers fewer requests than it was given ended the command.
                let outcome = answers.next().unwrap_or(Err(SendError::Aborted));
                let transport = &mut self.transport;
                if let Some(wait_for_this) = retry::wait_before_retry(
                    Method::Get,
                    &outcome,
                    retries[at],
                    waited_here_ms,
                    || transport.now_millis(),
                ) {
                    retries[at] += 1;
                    wait = wait.max(wait_for_this);
                    again.push(at);
                }
                outcomes[at] = outcome;
            }
            if !again.is_empty() {
                self.transport.log(
                    LogLevel::Warn,
                    &format!(
                        "{} of {} GET requests to retry (the first: {}) in {wait} ms",
                        again.len(),
                        pending.len(),
                        requests[again[0]].url
                    ),
                );
                self.transport.sleep(wait);
                self.waited_ms += wait;
                waited_here_ms += wait;
            }
            pending = again;
        }
        requests
            .iter()
            .zip(outcomes)
            .map(|(request, outcome)| match outcome {
                Ok(response) => classify(Method::Get, &request.url, &response),
                Err(error) => Err(not_sent(Method::Get, &request.url, &error)),
            })
            .collect()
    }

    /// `GET {base}/{collection}/{id}`: the resource, none for an empty 200, and a failure
    /// for anything else, 404 included (the caller knows whether that means "not found").
    fn get_resource(&mut self, collection: &str, id: &str) -> Result<Option<Value>, Failure> {
        let url = self.resource_url(collection, id)?;
        let answer = self.call(Method::Get, url.clone(), None)?;
        answer
            .body
            .map(|resource| expect_object(resource, answer.status, Method::Get, &url))
            .transpose()
    }

    /// `GET {base}/{collection}?filter=…`, read by the list rules of behaviour.md §3.1: the
    /// one resource, none for an empty answer, zero results or no `Resources`, and a failure
    /// naming `noun` (`users`, `groups`) when more than one matches.
    fn find_resource(
        &mut self,
        collection: &str,
        noun: &str,
        filter: &str,
    ) -> Result<Option<Value>, Failure> {
        let url = self.filter_url(collection, filter);
        let answer = self.call(Method::Get, url.clone(), None)?;
        let Some(body) = answer.body else {
            return Ok(None);
        };
        let Value::Object(mut list) = body else {
            return Err(Failure {
                code: Some(answer.status),
                message: format!("The answer to GET {url} is not a SCIM list response"),
            });
        };
        let total = match list.get("totalResults") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let mut resources = match list.shift_remove("Resources") {
            Some(Value::Array(resources)) => resources,
            _ => Vec::new(),
        };
        let count = total.unwrap_or(0).max(resources.len() as u64);
        if count > 1 {
            return Err(Failure::without_code(format!(
                "{count} {noun} match {filter}; refusing to act on an ambiguous match"
            )));
        }
        // behaviour.md §3.1 [fix]: an empty list is "not found", never a resource.
        if total == Some(0) || resources.is_empty() {
            return Ok(None);
        }
        let resource = resources.swap_remove(0);
        expect_object(resource, answer.status, Method::Get, &url).map(Some)
    }

    /// `GET /Users?count=1`: proves the URL, directory and token work.
    pub fn probe(&mut self) -> Result<(), Failure> {
        let url = format!("{}/Users?count=1", self.base);
        self.call(Method::Get, url, None).map(|_| ())
    }

    /// `GET /Schemas/urn:ietf:params:scim:schemas:core:2.0:User`.
    pub fn user_schema(&mut self) -> Result<Value, Failure> {
        let url = format!("{}/Schemas/{SCIM_USER_SCHEMA}", self.base);
        let answer = self.call(Method::Get, url.clone(), None)?;
        match answer.body {
            Some(body) => expect_object(body, answer.status, Method::Get, &url),
            None => Err(Failure {
                code: Some(answer.status),
                message: format!("The answer to GET {url} is empty"),
            }),
        }
    }
}

/// The failure of a request that got no answer (behaviour.md §3: no errorCode).
fn not_sent(method: Method, url: &str, error: &SendError) -> Failure {
    Failure::without_code(format!("{method} {url} failed: {error}"))
}

/// An answer classified: 200/201/204 are success (behaviour.md §3 [fix]: 204 too) with the
/// JSON body, none when it is empty; any other status, or a body that is not JSON, is a
/// failure carrying the status.
fn classify(method: Method, url: &str, response: &Response) -> Result<Answer, Failure> {
    if !matches!(response.status, 200 | 201 | 204) {
        return Err(Failure {
            code: Some(response.status),
            message: error_message(response),
        });
    }
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Answer {
            status: response.status,
            body: None,
        });
    }
    match parse_body(&response.body) {
        Ok(body) => Ok(Answer {
            status: response.status,
            body: Some(body),
        }),
        Err(error) => Err(Failure {
            code: Some(response.status),
            message: format!(
                "The answer to {method} {url} is not JSON ({error}): {}",
                quote_body(&response.body)
            ),
        }),
    }
}

/// A 404 answer means "not found": none instead of the failure.
fn not_found_as_none<V>(outcome: Result<Option<V>, Failure>) -> Result<Option<V>, Failure> {
    match outcome {
        Err(Failure {
            code: Some(404), ..
        }) => Ok(None),
        other => other,
    }
}

/// The message of a looked-up resource that cannot be used (behaviour.md §3 [fix]).
fn unusable(noun: &str, field: &str) -> Failure {
    Failure::without_code(format!(
        "The server returned a {noun} whose \"{field}\" is not usable"
    ))
}

/// The `id` of a looked-up resource (a `user` or `group`): a non-empty string that can be a
/// path segment, else the failure naming it (behaviour.md §3 [fix]: a user whose id is
/// `..` must never become `DELETE …/Users/..`).
fn usable_id(resource: &Value, noun: &str) -> Result<String, Failure> {
    match resource.get("id") {
        Some(Value::String(id)) if !id.is_empty() && !is_dot_segment(id) => Ok(id.clone()),
        _ => Err(unusable(noun, "id")),
    }
}

/// The body of a write's answer; behaviour.md §3: a 204 or an empty 200/201 is success, and
/// the body sent stands in for the missing one.
fn body_or_sent(answer: Answer, sent: &Value, method: Method, url: &str) -> Result<Value, Failure> {
    match answer.body {
        None => Ok(sent.clone()),
        Some(body) => expect_object(body, answer.status, method, url),
    }
}

fn expect_object(value: Value, status: u16, method: Method, url: &str) -> Result<Value, Failure> {
    if value.is_object() {
        Ok(value)
    } else {
        Err(Failure {
            code: Some(status),
            message: format!("The answer to {method} {url} is not a JSON object"),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scim::user::Identifier;
    use crate::transport::fake::{FakeTransport, json};

    pub(crate) const BASE: &str = "https://api.atlassian.com/scim/directory/d1";

    pub(crate) fn client(transport: &mut FakeTransport) -> ScimClient<'_, FakeTransport> {
        ScimClient::new(transport, "https://api.atlassian.com", "d1", "access_token")
    }

    #[test]
    fn the_base_is_the_url_then_the_directory_as_one_encoded_path_segment() {
        let mut transport = FakeTransport::answering(vec![json(200, "{}")]);
        let mut scim = ScimClient::new(&mut transport, "https://x/", "a/b c", "access_token");
        scim.probe().unwrap();
        assert_eq!(
            transport.sent[0].url,
            "https://x/scim/directory/a%2Fb%20c/Users?count=1"
        );
    }

    #[test]
    fn quote_and_backslash_in_a_filter_value_are_escaped() {
        assert_eq!(
            eq_filter("userName", r#"o"brien\x"#),
            r#"userName eq "o\"brien\\x""#
        );
        assert_eq!(escape_filter_value("tab\there\u{1}"), "tab\\there\\u0001");
    }

    #[test]
    fn the_whole_filter_is_percent_encoded() {
        let mut transport = FakeTransport::answering(vec![json(200, r#"{"totalResults":0}"#)]);
        client(&mut transport)
            .find_user(&Identifier::UserName(r#"a"b\c d+e@x.com/é"#.into()))
            .unwrap();
        assert_eq!(
            transport.sent[0].url,
            format!(
                "{BASE}/Users?filter=userName%20eq%20%22a%5C%22b%5C%5Cc%20d%2Be%40x.com%2F%C3%A9%22"
            )
        );
    }

    #[test]
    fn ids_are_single_path_segments() {
        assert_eq!(encode_path_segment("a/b?c#d%e"), "a%2Fb%3Fc%23d%25e");
        assert_eq!(encode_path_segment(".."), "%2E%2E");
        assert_eq!(encode_path_segment("550364dd-1c1e"), "550364dd-1c1e");
    }

    #[test]
    fn requests_name_the_credential_and_carry_no_authorization() {
        let mut transport = FakeTransport::answering(vec![json(200, r#"{"id":"1"}"#)]);
        client(&mut transport).get_user("1").unwrap();
        let request = &transport.sent[0];
        assert_eq!(request.credential.as_deref(), Some("access_token"));
        assert!(
            request
                .headers
                .iter()
                .all(|(n, _)| !n.eq_ignore_ascii_case("authorization"))
        );
        assert!(
            request
                .headers
                .contains(&("Accept".into(), "application/json".into()))
        );
    }

    #[test]
    fn bodies_parse_as_serde_json_parses_bytes() {
        for body in [
            &br#"{"a": ["\u00e9", 1.5e3, null], "b": {"c": "d\"e"}}"#[..],
            b"",
            b"  ",
            b"{\"a\": 1,}",
            b"[1, 2",
            b"{\"a\": \"\xff\"}",
            b"\xef\xbb\xbf{}",
            b"{\"a\":\n\n  tru}",
        ] {
            let expected = serde_json::from_slice::<Value>(body).map_err(|e| e.to_string());
            assert_eq!(
                parse_body(body).map_err(|e| e.to_string()),
                expected,
                "{body:?}"
            );
        }
    }

    #[test]
    fn error_messages_prefer_detail_then_error_then_message() {
        let response = |status, body: &str| Response {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        };
        assert_eq!(
            error_message(&response(409, r#"{"detail":"d","error":"e"}"#)),
            "d"
        );
        assert_eq!(
            error_message(&response(
                401,
                r#"{"detail":"","error":"Unauthorized","traceId":"t"}"#
            )),
            "Unauthorized"
        );
        assert_eq!(error_message(&response(400, r#"{"message":"m"}"#)), "m");
        assert_eq!(
            error_message(&response(502, "<html>bad</html>")),
            "HTTP 502 Bad Gateway: <html>bad</html>"
        );
        assert_eq!(
            error_message(&response(500, "")),
            "HTTP 500 Internal Server Error"
        );
        assert_eq!(
            error_message(&response(404, r#"{"status":"404"}"#)),
            "HTTP 404 Not Found: {\"status\":\"404\"}"
        );
        let long = "x".repeat(600);
        assert_eq!(
            error_message(&response(503, &long)),
            format!("HTTP 503 Service Unavailable: {}", "x".repeat(500))
        );
    }

    #[test]
    fn a_body_that_is_not_json_fails_naming_the_request() {
        let mut transport = FakeTransport::answering(vec![json(200, "<html>")]);
        let failure = client(&mut transport).get_user("1").unwrap_err();
        assert_eq!(failure.code, Some(200));
        assert!(
            failure
                .message
                .starts_with(&format!("The answer to GET {BASE}/Users/1 is not JSON")),
            "{}",
            failure.message
        );
    }

    #[test]
    fn get_all_answers_in_order_and_retries_together_after_the_longest_wait() {
        use crate::transport::fake::with_header;
        let mut transport = FakeTransport::answering(vec![
            // First round: page 1 fine, page 2 throttled for 3 s, page 3 a 502, page 4 a 404.
            json(200, r#"{"n":1}"#),
            with_header(429, "Retry-After", "3"),
            json(502, ""),
            json(404, r#"{"detail":"gone"}"#),
            // Second round, pages 2 and 3 again: a 503 for 2, and page 3 answers.
            json(503, ""),
            json(200, r#"{"n":3}"#),
            // Third round, page 2 alone.
            json(200, r#"{"n":2}"#),
        ]);
        let mut scim = client(&mut transport);
        let urls: Vec<String> = (0..4)
            .map(|page| scim.page_url("Users", 1 + page * 100, 100))
            .collect();
        let answers = scim.get_all(urls);
        let bodies: Vec<Result<Option<Value>, Failure>> =
            answers.into_iter().map(|a| a.map(|a| a.body)).collect();
        assert_eq!(
            bodies,
            vec![
                Ok(Some(serde_json::json!({"n": 1}))),
                Ok(Some(serde_json::json!({"n": 2}))),
                Ok(Some(serde_json::json!({"n": 3}))),
                Err(Failure {
                    code: Some(404),
                    message: "gone".into()
                }),
            ]
        );
        // 3 s (the longer of 3 s asked and 1 s of back-off), then page 2's second back-off.
        assert_eq!(transport.slept, vec![3000, 2000]);
        let urls: Vec<&str> = transport.sent.iter().map(|r| r.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                format!("{BASE}/Users?startIndex=1&count=100"),
                format!("{BASE}/Users?startIndex=101&count=100"),
                format!("{BASE}/Users?startIndex=201&count=100"),
                format!("{BASE}/Users?startIndex=301&count=100"),
                format!("{BASE}/Users?startIndex=101&count=100"),
                format!("{BASE}/Users?startIndex=201&count=100"),
                format!("{BASE}/Users?startIndex=101&count=100"),
            ]
        );
    }

    #[test]
    fn each_get_all_has_the_waiting_allowance_of_one_get() {
        use crate::transport::fake::with_header;
        // Two reads, each with a page throttled for 20 s: 40 s in all, more than one GET's
        // 30 s, yet the second read's page is retried as any GET would be.
        let mut transport = FakeTransport::answering(vec![
            with_header(429, "Retry-After", "20"),
            json(200, r#"{"n":1}"#),
            with_header(429, "Retry-After", "20"),
            json(200, r#"{"n":2}"#),
        ]);
        let mut scim = client(&mut transport);
        let first = scim.page_url("Users", 1, 100);
        let second = scim.page_url("Users", 101, 100);
        let bodies: Vec<Option<Value>> = [first, second]
            .into_iter()
            .flat_map(|url| scim.get_all(vec![url]))
            .map(|answer| answer.expect("answered").body)
            .collect();
        assert_eq!(
            bodies,
            [
                Some(serde_json::json!({"n": 1})),
                Some(serde_json::json!({"n": 2}))
            ]
        );
        assert_eq!(transport.slept, vec![20_000, 20_000]);
    }

    #[test]
    fn get_all_gives_up_after_three_retries_and_names_the_request_that_got_no_answer() {
        let mut transport = FakeTransport::answering(vec![
            Err(SendError::Timeout),
            Err(SendError::Timeout),
            Err(SendError::Timeout),
            Err(SendError::Timeout),
        ]);
        let mut scim = client(&mut transport);
        let url = scim.page_url("Groups", 1, 100);
        let answers = scim.get_all(vec![url.clone()]);
        assert_eq!(
            answers,
            vec![Err(Failure::without_code(format!(
                "GET {url} failed: the request timed out"
            )))]
        );
        assert_eq!(transport.slept, vec![1000, 2000, 4000]);
    }

    #[test]
    fn an_id_of_dot_or_dot_dot_is_refused_and_nothing_is_sent() {
        let mut transport = FakeTransport::answering(vec![json(200, r#"{"id":"1"}"#)]);
        let mut scim = client(&mut transport);
        for id in [".", ".."] {
            let refused = invalid_id(id);
            assert_eq!(
                refused.message,
                format!(r#"Invalid id "{id}": "." and ".." cannot be used as an id"#)
            );
            assert_eq!(refused.code, None);
            assert_eq!(scim.get_user(id).unwrap_err(), refused);
            assert_eq!(
                scim.find_user(&Identifier::Id(id.into())).unwrap_err(),
                refused
            );
            assert_eq!(
                scim.replace_user(id, &serde_json::json!({})).unwrap_err(),
                refused
            );
            assert_eq!(scim.deactivate_user(id).unwrap_err(), refused);
            assert_eq!(scim.delete_user(id).unwrap_err(), refused);
        }
        assert!(transport.sent.is_empty());
    }
}
