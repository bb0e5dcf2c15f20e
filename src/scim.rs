//! The Atlassian SCIM 2.0 client over `Transport`: URLs (path segments and filters encoded),
//! the retry policy, error-message extraction and the user lookup of behaviour.md §3.
//!
//! It knows SCIM and HTTP, not XSOAR: results are JSON values or a `Failure` with the
//! errorCode and errorMessage a vendor result shows.

use serde_json::{Map, Value};

use crate::transport::{LogLevel, Method, Request, Response, Transport};

/// Retries of one request on 429/503 (and, for idempotent methods, 500/502/504 and
/// transport errors): Atlassian publishes no limit, three keeps a flaky hop from failing a
/// playbook without hammering a throttled tenant (behaviour.md §3 [fix]).
pub const MAX_RETRIES: u32 = 3;
/// Total waiting per command, so a playbook step never hangs on a throttled tenant.
pub const MAX_TOTAL_WAIT_MS: u64 = 30_000;
/// First back-off without `Retry-After`; doubles on each retry (1 s, 2 s, 4 s).
pub const FIRST_BACKOFF_MS: u64 = 1_000;
/// How much of a non-JSON error body an error message quotes.
pub const ERROR_BODY_QUOTE_BYTES: usize = 500;
/// Per-request timeout the guest asks for; the host applies its own cap too.
pub const REQUEST_TIMEOUT_MS: u32 = 30_000;

const SCIM_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// A failed exchange as a vendor result reports it.
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

/// How a user is looked up (behaviour.md §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    Id(String),
    UserName(String),
    Email(String),
}

/// The message of a profile without any identifier (behaviour.md §3.1).
pub const NO_IDENTIFIER_MESSAGE: &str = "Your user profile argument must contain at least one attribute that is mapped into one of the following attributes in the outgoing mapper: ['id', 'userName', 'emails']";

/// The lookup attribute: `id` of the raw profile, else `userName`, else `emails` of the
/// mapped one.
pub fn identifier(raw: &Map<String, Value>, mapped: &Map<String, Value>) -> Option<Identifier> {
    if let Some(id) = raw.get("id").and_then(scalar_text) {
        return Some(Identifier::Id(id));
    }
    if let Some(user_name) = mapped.get("userName").and_then(scalar_text) {
        return Some(Identifier::UserName(user_name));
    }
    mapped
        .get("emails")
        .and_then(profile_email)
        .map(Identifier::Email)
}

/// A non-empty string, or a number as its decimal text.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `primary` is the boolean `true` or the string `"true"` in any case.
fn is_primary(entry: &Value) -> bool {
    match entry.get("primary") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The e-mail of a profile's `emails`: the primary entry's value, else the first entry's;
/// an object counts as a one-entry list and a plain string is used as it is.
fn profile_email(emails: &Value) -> Option<String> {
    match emails {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Object(_) => emails.get("value").and_then(scalar_text),
        Value::Array(entries) => entries
            .iter()
            .find(|entry| is_primary(entry))
            .or_else(|| entries.first())
            .and_then(|entry| match entry {
                Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                other => other.get("value").and_then(scalar_text),
            }),
        _ => None,
    }
}

/// The primary e-mail of a user resource: the value of the first `emails` entry marked
/// primary.
pub fn primary_email(user: &Value) -> Option<String> {
    let entries = match user.get("emails") {
        Some(Value::Array(entries)) => entries.as_slice(),
        Some(entry @ Value::Object(_)) => std::slice::from_ref(entry),
        _ => return None,
    };
    entries
        .iter()
        .find(|entry| is_primary(entry))
        .and_then(|entry| entry.get("value"))
        .and_then(scalar_text)
}

/// `active` of a user resource: a boolean or `"true"`/`"false"`; anything else is unknown.
pub fn active_of(user: &Value) -> Option<bool> {
    match user.get("active") {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A string field of a user resource.
pub fn text_field(user: &Value, key: &str) -> Option<String> {
    user.get(key).and_then(scalar_text)
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
pub fn reason_phrase(status: u16) -> &'static str {
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
        let end = response.body.len().min(ERROR_BODY_QUOTE_BYTES);
        message.push_str(": ");
        message.push_str(&String::from_utf8_lossy(&response.body[..end]));
    }
    message
}

/// The wait a `Retry-After` header asks for, in milliseconds: delay-seconds or an HTTP date
/// (RFC 9110 §10.2.3). None when absent or unreadable.
pub fn retry_after_millis(header: Option<&str>, now_millis: u64) -> Option<u64> {
    let value = header?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds.saturating_mul(1000));
    }
    let at = parse_http_date(value)?;
    Some(at.saturating_sub(now_millis))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) to milliseconds since the epoch.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let (_, rest) = text.split_once(", ")?;
    let parts: Vec<&str> = rest.split_whitespace().collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u64
        + 1;
    let year: i64 = year.parse().ok()?;
    let mut hms = time.split(':').map(|p| p.parse::<u64>().ok());
    let (hour, minute, second) = (hms.next()??, hms.next()??, hms.next()??);
    // HTTP dates have four-digit years; anything else is unreadable, not a wait to honour.
    if !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
        || !(1970..=9999).contains(&year)
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = days as u64 * 86_400 + hour * 3600 + minute * 60 + second;
    Some(seconds * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u64, day: u64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = month as i64;
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
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
    base: String,
    credential: String,
    waited_ms: u64,
}

impl<'t, T: Transport> ScimClient<'t, T> {
    /// `base` is `{url}/scim/directory/{directory id}`.
    pub fn new(transport: &'t mut T, base: String, credential: String) -> Self {
        ScimClient {
            transport,
            base,
            credential,
            waited_ms: 0,
        }
    }

    pub fn log(&mut self, level: LogLevel, message: &str) {
        self.transport.log(level, message);
    }

    fn user_url(&self, id: &str) -> String {
        format!("{}/Users/{}", self.base, encode_path_segment(id))
    }

    fn users_filter_url(&self, filter: &str) -> String {
        format!("{}/Users?filter={}", self.base, percent_encode(filter))
    }

    /// Send with the retry policy of behaviour.md §3 [fix].
    fn send(
        &mut self,
        method: Method,
        url: String,
        body: Option<&Value>,
    ) -> Result<Response, Failure> {
        let mut headers = vec![("Accept".to_string(), "application/json".to_string())];
        if body.is_some() {
            headers.push(("Content-Type".to_string(), "application/json".to_string()));
        }
        let request = Request {
            method,
            url,
            headers,
            body: body.map(crate::json::text),
            credential: Some(self.credential.clone()),
        };
        let mut retries = 0;
        loop {
            let outcome = self.transport.send(&request);
            let retryable = match &outcome {
                Ok(response) => match response.status {
                    429 | 503 => true,
                    500 | 502 | 504 => method.is_idempotent(),
                    _ => false,
                },
                Err(error) => method.is_idempotent() && error.is_transient(),
            };
            // The wait before the next try; none when this outcome is the answer (not
            // retryable, out of retries, or the wait would overrun the command's budget).
            let wait = if retryable && retries < MAX_RETRIES {
                let now = self.transport.now_millis();
                let asked = outcome
                    .as_ref()
                    .ok()
                    .and_then(|response| retry_after_millis(response.header("Retry-After"), now));
                Some(asked.unwrap_or(FIRST_BACKOFF_MS << retries))
                    .filter(|wait| *wait <= MAX_TOTAL_WAIT_MS - self.waited_ms)
            } else {
                None
            };
            let Some(wait) = wait else {
                return outcome.map_err(|error| {
                    Failure::without_code(format!("{method} {} failed: {error}", request.url))
                });
            };
            retries += 1;
            let what = match &outcome {
                Ok(response) => format!("answered {}", response.status),
                Err(error) => format!("failed ({error})"),
            };
            self.transport.log(
                LogLevel::Warn,
                &format!(
                    "{method} {} {what}; retry {retries} of {MAX_RETRIES} in {wait} ms",
                    request.url
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
        if !matches!(response.status, 200 | 201 | 204) {
            return Err(Failure {
                code: Some(response.status),
                message: error_message(&response),
            });
        }
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Answer {
                status: response.status,
                body: None,
            });
        }
        match serde_json::from_slice::<Value>(&response.body) {
            Ok(body) => Ok(Answer {
                status: response.status,
                body: Some(body),
            }),
            Err(error) => Err(Failure {
                code: Some(response.status),
                message: format!(
                    "The answer to {method} {url} is not JSON ({error}): {}",
                    String::from_utf8_lossy(
                        &response.body[..response.body.len().min(ERROR_BODY_QUOTE_BYTES)]
                    )
                ),
            }),
        }
    }

    /// `GET /Users/{id}`: the user, or none on 404 (behaviour.md §3.1 [fix]).
    pub fn get_user(&mut self, id: &str) -> Result<Option<Value>, Failure> {
        let url = self.user_url(id);
        match self.call(Method::Get, url.clone(), None) {
            Ok(Answer { body: None, .. }) => Ok(None),
            Ok(Answer {
                status,
                body: Some(user),
            }) => expect_object(user, status, Method::Get, &url).map(Some),
            Err(Failure {
                code: Some(404), ..
            }) => Ok(None),
            Err(failure) => Err(failure),
        }
    }

    /// Find the user by an identifier: none when there is none, a failure when the match is
    /// ambiguous.
    pub fn find_user(&mut self, identifier: &Identifier) -> Result<Option<Value>, Failure> {
        match identifier {
            Identifier::Id(id) => self.get_user(id),
            Identifier::UserName(user_name) => {
                self.find_by_filter(&eq_filter("userName", user_name))
            }
            Identifier::Email(email) => {
                match self.find_by_filter(&eq_filter("emails.value", email)) {
                    // behaviour.md §3.1 [fix]: Atlassian filters only on userName/externalId and
                    // answers 400 to anything else; the e-mail is usually the userName.
                    Err(Failure {
                        code: Some(400), ..
                    }) => {
                        self.log(
                            LogLevel::Info,
                            "the server refused an emails filter; looking the user up by userName",
                        );
                        self.find_by_filter(&eq_filter("userName", email))
                    }
                    other => other,
                }
            }
        }
    }

    fn find_by_filter(&mut self, filter: &str) -> Result<Option<Value>, Failure> {
        let url = self.users_filter_url(filter);
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
                "{count} users match {filter}; refusing to act on an ambiguous match"
            )));
        }
        // behaviour.md §3.1 [fix]: an empty list is "not found", never a user.
        if total == Some(0) || resources.is_empty() {
            return Ok(None);
        }
        let user = resources.swap_remove(0);
        expect_object(user, answer.status, Method::Get, &url).map(Some)
    }

    /// `POST /Users`: the created user (the sent body when the answer had none).
    pub fn create_user(&mut self, body: &Value) -> Result<Value, Failure> {
        let url = format!("{}/Users", self.base);
        let answer = self.call(Method::Post, url.clone(), Some(body))?;
        self.body_or_sent(answer, body, Method::Post, &url)
    }

    /// `PUT /Users/{id}`: the replaced user (the sent body when the answer had none).
    pub fn replace_user(&mut self, id: &str, body: &Value) -> Result<Value, Failure> {
        let url = self.user_url(id);
        let answer = self.call(Method::Put, url.clone(), Some(body))?;
        self.body_or_sent(answer, body, Method::Put, &url)
    }

    fn body_or_sent(
        &self,
        answer: Answer,
        sent: &Value,
        method: Method,
        url: &str,
    ) -> Result<Value, Failure> {
        match answer.body {
            // behaviour.md §3: a 204 or empty 200/201 is success; the sent body stands in.
            None => Ok(sent.clone()),
            Some(body) => expect_object(body, answer.status, method, url),
        }
    }

    /// `PATCH /Users/{id}` setting `active` to false: the answer's user, if it sent one.
    pub fn deactivate_user(&mut self, id: &str) -> Result<Option<Value>, Failure> {
        let url = self.user_url(id);
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": false}]
        });
        let answer = self.call(Method::Patch, url.clone(), Some(&body))?;
        answer
            .body
            .map(|user| expect_object(user, answer.status, Method::Patch, &url))
            .transpose()
    }

    /// `DELETE /Users/{id}`; 404 means already gone (behaviour.md §4.4).
    pub fn delete_user(&mut self, id: &str) -> Result<Option<Value>, Failure> {
        let url = self.user_url(id);
        match self.call(Method::Delete, url.clone(), None) {
            Ok(answer) => answer
                .body
                .map(|user| expect_object(user, answer.status, Method::Delete, &url))
                .transpose(),
            Err(Failure {
                code: Some(404), ..
            }) => Ok(None),
            Err(failure) => Err(failure),
        }
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
mod tests {
    use super::*;
    use crate::transport::SendError;
    use crate::transport::fake::{FakeTransport, json, with_header};
    use serde_json::json;

    const BASE: &str = "https://api.atlassian.com/scim/directory/d1";

    fn client(transport: &mut FakeTransport) -> ScimClient<'_, FakeTransport> {
        ScimClient::new(transport, BASE.to_string(), "access_token".to_string())
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
    fn zero_results_or_no_resources_mean_not_found() {
        for body in [
            r#"{"totalResults":0,"Resources":[]}"#,
            r#"{"totalResults":0}"#,
            r#"{"schemas":[]}"#,
            "",
        ] {
            let mut transport = FakeTransport::answering(vec![json(200, body)]);
            assert_eq!(
                client(&mut transport)
                    .find_user(&Identifier::UserName("u".into()))
                    .unwrap(),
                None,
                "{body}"
            );
        }
    }

    #[test]
    fn more_than_one_match_is_refused() {
        let mut transport = FakeTransport::answering(vec![json(
            200,
            r#"{"totalResults":2,"Resources":[{"id":"1"}]}"#,
        )]);
        let failure = client(&mut transport)
            .find_user(&Identifier::UserName("o\"brien".into()))
            .unwrap_err();
        assert_eq!(
            failure,
            Failure::without_code(
                r#"2 users match userName eq "o\"brien"; refusing to act on an ambiguous match"#
            )
        );
        let mut transport = FakeTransport::answering(vec![json(
            200,
            r#"{"totalResults":1,"Resources":[{"id":"1"},{"id":"2"},{"id":"3"}]}"#,
        )]);
        let failure = client(&mut transport)
            .find_user(&Identifier::UserName("u".into()))
            .unwrap_err();
        assert!(failure.message.starts_with("3 users match"));
    }

    #[test]
    fn an_email_filter_refused_with_400_falls_back_to_user_name() {
        let mut transport = FakeTransport::answering(vec![
            json(
                400,
                r#"{"status":"400","scimType":"invalidFilter","detail":"Resource [USER] invalid filter"}"#,
            ),
            json(
                200,
                r#"{"totalResults":1,"Resources":[{"id":"7","userName":"a@b.c"}]}"#,
            ),
        ]);
        let user = client(&mut transport)
            .find_user(&Identifier::Email("a@b.c".into()))
            .unwrap()
            .unwrap();
        assert_eq!(user["id"], "7");
        assert!(
            transport.sent[0]
                .url
                .ends_with("filter=emails.value%20eq%20%22a%40b.c%22")
        );
        assert!(
            transport.sent[1]
                .url
                .ends_with("filter=userName%20eq%20%22a%40b.c%22")
        );
    }

    #[test]
    fn a_404_by_id_is_not_found_and_other_failures_keep_their_status() {
        let mut transport = FakeTransport::answering(vec![
            json(404, r#"{"detail":"no"}"#),
            json(403, r#"{"error":"Forbidden"}"#),
        ]);
        let mut scim = client(&mut transport);
        assert_eq!(scim.get_user("x").unwrap(), None);
        assert_eq!(
            scim.get_user("x").unwrap_err(),
            Failure {
                code: Some(403),
                message: "Forbidden".into()
            }
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
    fn retry_after_in_seconds_is_honoured() {
        let mut transport = FakeTransport::answering(vec![
            with_header(429, "Retry-After", "7"),
            json(200, r#"{"id":"1"}"#),
        ]);
        assert!(client(&mut transport).get_user("1").unwrap().is_some());
        assert_eq!(transport.slept, vec![7000]);
    }

    #[test]
    fn retry_after_as_an_http_date_waits_until_then() {
        let now = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(now, 784_111_777_000);
        let mut transport = FakeTransport::answering(vec![
            with_header(503, "Retry-After", "Sun, 06 Nov 1994 08:49:42 GMT"),
            json(200, r#"{"id":"1"}"#),
        ]);
        transport.now = now;
        client(&mut transport).get_user("1").unwrap();
        assert_eq!(transport.slept, vec![5000]);
        assert_eq!(
            retry_after_millis(Some("Sun, 06 Nov 1994 08:49:30 GMT"), now),
            Some(0)
        );
        assert_eq!(retry_after_millis(Some("soon"), now), None);
        // Regression: a year beyond four digits overflowed the millisecond arithmetic.
        assert_eq!(parse_http_date("Sun, 06 Nov 600000000 08:49:37 GMT"), None);
        assert_eq!(
            parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(253_402_300_799_000)
        );
    }

    #[test]
    fn without_retry_after_the_back_off_doubles_and_stops_after_three_retries() {
        let mut transport = FakeTransport::answering(vec![
            json(503, ""),
            json(503, ""),
            json(503, ""),
            json(503, r#"{"detail":"busy"}"#),
            json(200, "{}"),
        ]);
        let failure = client(&mut transport).get_user("1").unwrap_err();
        assert_eq!(
            failure,
            Failure {
                code: Some(503),
                message: "busy".into()
            }
        );
        assert_eq!(transport.slept, vec![1000, 2000, 4000]);
        assert_eq!(transport.sent.len(), 4);
    }

    #[test]
    fn waiting_stops_when_the_thirty_second_budget_would_be_exceeded() {
        let mut transport = FakeTransport::answering(vec![
            with_header(429, "Retry-After", "20"),
            with_header(429, "Retry-After", "11"),
            json(200, "{}"),
        ]);
        let failure = client(&mut transport).get_user("1").unwrap_err();
        assert_eq!(failure.code, Some(429));
        assert_eq!(transport.slept, vec![20_000]);
        // The budget is per command: a second request has 10 s left.
        let mut transport = FakeTransport::answering(vec![
            with_header(429, "Retry-After", "20"),
            json(200, r#"{"id":"1"}"#),
            with_header(429, "Retry-After", "10"),
            json(200, r#"{"id":"1"}"#),
        ]);
        let mut scim = client(&mut transport);
        scim.get_user("1").unwrap();
        scim.get_user("1").unwrap();
        assert_eq!(transport.slept, vec![20_000, 10_000]);
    }

    #[test]
    fn post_is_retried_only_on_429_and_503() {
        let mut transport = FakeTransport::answering(vec![json(500, ""), json(201, "{}")]);
        let failure = client(&mut transport)
            .create_user(&json!({"userName": "u"}))
            .unwrap_err();
        assert_eq!(failure.code, Some(500));
        assert_eq!(transport.sent.len(), 1);
        let mut transport =
            FakeTransport::answering(vec![Err(SendError::Timeout), json(201, "{}")]);
        assert!(client(&mut transport).create_user(&json!({})).is_err());
        assert_eq!(transport.sent.len(), 1);
        let mut transport =
            FakeTransport::answering(vec![json(503, ""), json(201, r#"{"id":"n"}"#)]);
        assert_eq!(
            client(&mut transport).create_user(&json!({})).unwrap()["id"],
            "n"
        );
    }

    #[test]
    fn idempotent_methods_are_retried_on_server_and_transport_errors_but_never_on_409() {
        let mut transport = FakeTransport::answering(vec![
            json(502, ""),
            Err(SendError::Transport("reset".into())),
            json(504, ""),
            json(200, r#"{"id":"1"}"#),
        ]);
        assert!(client(&mut transport).replace_user("1", &json!({})).is_ok());
        assert_eq!(transport.slept, vec![1000, 2000, 4000]);
        let mut transport =
            FakeTransport::answering(vec![json(409, r#"{"detail":"exists"}"#), json(200, "{}")]);
        assert_eq!(
            client(&mut transport)
                .replace_user("1", &json!({}))
                .unwrap_err()
                .code,
            Some(409)
        );
        assert_eq!(transport.sent.len(), 1);
    }

    #[test]
    fn a_denied_request_is_not_retried_and_has_no_error_code() {
        let mut transport = FakeTransport::answering(vec![Err(SendError::Denied(
            "origin https://evil is not allowed".into(),
        ))]);
        let failure = client(&mut transport).get_user("1").unwrap_err();
        assert_eq!(failure.code, None);
        assert_eq!(
            failure.message,
            format!(
                "GET {BASE}/Users/1 failed: the host refused the request: origin https://evil is not allowed"
            )
        );
    }

    #[test]
    fn an_empty_put_answer_stands_for_the_sent_body() {
        let mut transport = FakeTransport::answering(vec![json(204, "")]);
        let sent = json!({"userName": "u", "active": true});
        assert_eq!(
            client(&mut transport).replace_user("1", &sent).unwrap(),
            sent
        );
    }

    #[test]
    fn primary_email_needs_a_primary_entry() {
        assert_eq!(
            primary_email(&json!({"emails":[{"value":"a"},{"value":"b","primary":"TRUE"}]})),
            Some("b".into())
        );
        assert_eq!(primary_email(&json!({"emails":[{"value":"a"}]})), None);
    }

    #[test]
    fn identifiers_are_taken_in_order_id_user_name_emails() {
        let raw = json!({"id": "9"});
        let mapped = json!({"userName": "u", "emails": [{"value": "e"}]});
        let (raw, mapped) = (raw.as_object().unwrap(), mapped.as_object().unwrap());
        assert_eq!(identifier(raw, mapped), Some(Identifier::Id("9".into())));
        assert_eq!(
            identifier(&Map::new(), mapped),
            Some(Identifier::UserName("u".into()))
        );
        let emails = |v: Value| identifier(&Map::new(), json!({"emails": v}).as_object().unwrap());
        assert_eq!(
            emails(json!([{"value": "a"}, {"value": "b", "primary": true}])),
            Some(Identifier::Email("b".into()))
        );
        assert_eq!(
            emails(json!([{"value": "a"}, {"value": "b"}])),
            Some(Identifier::Email("a".into()))
        );
        assert_eq!(
            emails(json!({"value": "o"})),
            Some(Identifier::Email("o".into()))
        );
        assert_eq!(
            emails(json!("plain@x")),
            Some(Identifier::Email("plain@x".into()))
        );
        assert_eq!(emails(json!([])), None);
        assert_eq!(
            identifier(&Map::new(), json!({"userName": ""}).as_object().unwrap()),
            None
        );
    }
}
